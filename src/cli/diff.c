/*
 * diff.c — placeholder until 'engrave diff' lands (issue 5).
 *
 * Reports itself as not built (exit 4) rather than pretending to work.
 */
#include "cli.h"

#include <string.h>

int cmd_diff(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: engrave diff ...\n\n(not built yet)\n");
		return 0;
	}
	fprintf(stderr, "error: 'engrave diff' is not built yet\n");
	return 4;
}

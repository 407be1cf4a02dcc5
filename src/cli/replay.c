/*
 * replay.c — placeholder until 'engrave replay' lands (issue 5).
 *
 * Reports itself as not built (exit 4) rather than pretending to work.
 */
#include "cli.h"

#include <string.h>

int cmd_replay(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: engrave replay ...\n\n(not built yet)\n");
		return 0;
	}
	fprintf(stderr, "error: 'engrave replay' is not built yet\n");
	return 4;
}

/*
 * import.c — placeholder until the module behind 'engrave import' lands.
 *
 * Reports itself as not built (exit 4) rather than pretending to work.
 */
#include "cli.h"

#include <string.h>

int cmd_import(int argc, char **argv, struct cli_ctx *ctx)
{
	(void)ctx;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: engrave import ...\n\n(not built yet)\n");
		return 0;
	}
	fprintf(stderr, "error: 'engrave import' is not built yet\n");
	return 4;
}

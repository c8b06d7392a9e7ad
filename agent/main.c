/*
 * main.c: fundwatch-agent's command line.  Parses arguments and calls the
 * agent library; no work is done here.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fundwatch-agent [--help] [--version] COMMAND [ARGS]\n"
	    "\n"
	    "fundwatch-agent captures observations and evidence offline on a\n"
	    "supervisor's device and syncs signed bundles to the office.\n");
}

int
main(int argc, char **argv)
{
	log_init("fundwatch-agent", 1, 0);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("fundwatch-agent %s (protocol %d)\n", FW_VERSION, FW_PROTO_VERSION);
		return 0;
	}
	fprintf(stderr, "fundwatch-agent: unknown command '%s' (try --help)\n", argv[1]);
	return 2;
}

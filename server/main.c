/*
 * main.c: fundwatch-server's command line.  Parses arguments and calls the
 * server library; no work is done here.
 */
#include <stdio.h>
#include <string.h>

#include "server.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fundwatch-server [--help] [--version] COMMAND [ARGS]\n"
	    "\n"
	    "fundwatch-server receives, verifies and stores the clues that\n"
	    "supervisors' devices send, for the office.\n");
}

int
main(int argc, char **argv)
{
	log_init("fundwatch-server", 1, 0);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("fundwatch-server %s (protocol %d)\n", FW_VERSION, FW_PROTO_VERSION);
		return 0;
	}
	fprintf(stderr, "fundwatch-server: unknown command '%s' (try --help)\n", argv[1]);
	return 2;
}

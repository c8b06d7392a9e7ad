/*
 * main.c: fundwatch-server's command line.  Picks the subcommand and hands
 * over to the server library (init.c, http.c, admin.c); no work is done
 * here.
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
	    "The central office's server: receives, verifies and stores exactly once\n"
	    "the clues that supervisors' devices send, and manages appointments.\n"
	    "\n"
	    "commands:\n"
	    "  init --data DIR --profile qingyuan|gaoping|FILE [--hostname NAME]...\n"
	    "                         make a data folder (database, keys, CA, config)\n"
	    "  run [--data DIR] [-d] [-v] [-n]\n"
	    "                         the HTTPS server (-n: check the config and exit)\n"
	    "  supervisor add|list|show|renew|terminate|change\n"
	    "  device code|list|show|revoke\n"
	    "  audit verify           check the audit log's hash chain\n"
	    "  import-bundle FILE|DIR bundles exported on a device (USB)\n"
	    "  unit add|list          offices that handle cases\n"
	    "  officer add|list|disable|passwd|role|conflict\n"
	    "  route add|list|test    routing rules: clue -> unit -> officer\n"
	    "  case list|show|export|status|assign|substantiate|approve|...\n"
	    "  verify-export DIR      check a case export\n"
	    "\n"
	    "Every command takes --help; admin commands take --data DIR (default\n"
	    "$FUNDWATCH_DATA or /var/lib/fundwatch) and --json.\n");
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	log_init("fundwatch-server", 1, 0);
	if (cmd == NULL) {
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("fundwatch-server %s (protocol %d)\n", FW_VERSION, FW_PROTO_VERSION);
		return 0;
	}
	if (strcmp(cmd, "init") == 0)
		return init_main(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return run_main(argc - 1, argv + 1);
	if (strcmp(cmd, "verify-export") == 0)
		return casecmd_verify_export_main(argc - 1, argv + 1);
	if (admin_is_command(cmd))
		return admin_main(argc - 1, argv + 1);
	fprintf(stderr, "fundwatch-server: unknown command '%s' (try --help)\n", cmd);
	return 2;
}

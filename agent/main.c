/*
 * main.c: fundwatch-agent's command line.  Reads the options that come
 * before the subcommand (--config, --data, --json, -v), then hands the rest
 * to the subcommand named in cmd_table (cmd.c); no work is done here.  A
 * new subcommand is one row in cmd_table.
 */
#include <stdio.h>
#include <string.h>

#include "agent.h"

static void
usage(FILE *f)
{
	const struct cmd *c;

	fprintf(f,
	    "usage: fundwatch-agent [--config FILE] [--data DIR] [--json] [-v]\n"
	    "                       COMMAND [ARGS] (COMMAND --help for its own)\n"
	    "\n"
	    "fundwatch-agent captures observations and evidence offline on a\n"
	    "supervisor's device and syncs signed bundles to the office.\n"
	    "\n"
	    "commands:\n");
	for (c = cmd_table; c->name != NULL; c++)
		fprintf(f, "  %-14s %s\n", c->name, c->help);
	fprintf(f,
	    "\n"
	    "  --config FILE  configuration (default $FUNDWATCH_AGENT_CONFIG, "
	    "else\n"
	    "                 " AGENT_CONFIG_DEFAULT "; a missing file means "
	    "defaults)\n"
	    "  --data DIR     data folder (default $FUNDWATCH_AGENT_DATA, else "
	    "the\n"
	    "                 file's data_dir, else " AGENT_DATA_DEFAULT ")\n"
	    "  --json         machine-readable output\n"
	    "  -v             more log output (repeat for debug)\n");
}

/* The value of "--name VALUE" or "--name=VALUE" at argv[*i]; NULL if
 * argv[*i] is not that option. */
static const char *
opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t n = strlen(name);

	*missing = 0;
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

int
main(int argc, char **argv)
{
	struct agent_opts o;
	const struct cmd *c;
	const char *v;
	int i, missing;

	memset(&o, 0, sizeof o);
	log_init("fundwatch-agent", 1, 0);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("fundwatch-agent %s (protocol %d)\n", FW_VERSION,
			    FW_PROTO_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--json") == 0)
			o.json = 1;
		else if (strcmp(argv[i], "-v") == 0 ||
		    strcmp(argv[i], "--verbose") == 0)
			o.verbose++;
		else if ((v = opt_value(argc, argv, &i, "--config", &missing)) != NULL)
			o.config = v;
		else if ((v = opt_value(argc, argv, &i, "--data", &missing)) != NULL)
			o.data = v;
		else {
			fprintf(stderr, "fundwatch-agent: %s '%s' (try --help)\n",
			    missing ? "missing value for" : "unknown option", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (o.verbose > 0)
		log_setverbose(o.verbose);
	for (c = cmd_table; c->name != NULL; c++)
		if (strcmp(c->name, argv[i]) == 0)
			return c->fn(&o, argc - i, argv + i);
	fprintf(stderr, "fundwatch-agent: unknown command '%s' (try --help)\n",
	    argv[i]);
	return 2;
}

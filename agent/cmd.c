/*
 * cmd.c: the subcommands of fundwatch-agent that work on the device alone
 * (agent.h, "cmd.c"): observe, attach, list, show, status, categories,
 * conflicts, feedback, tasks, notices, export-bundle.  enroll, sync and run
 * live beside the network code (enroll.c, sync.c, daemon.c); cmd_table
 * names them all, and main.c dispatches through it.
 *
 * Each subcommand is a struct cmd_def: its options (a small table-driven
 * parser: "--name value", "--name=value", and for the options marked
 * "many" the values that follow up to the next "--option"), its usage and
 * the checks of its arguments; cmd_run does what they all share (parse,
 * usage errors, --help, opening the store) and calls its run, which calls
 * store.c and prints: plain text for a person, one JSON object with
 * --json (observe parses through cmd_observe_args, which the tests call).
 * Everything that comes from the server (feedback, tasks, notices) is
 * printed with its control characters replaced, so that a message cannot
 * drive the terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define CMD_MAX_VALUES	64	/* values of one option, positionals */
#define CMD_MAX_OPTS	24	/* options of one subcommand */
#define CMD_IO_BUF	(64u << 10)
#define CMD_PATH_MAX	4096
#define CMD_FUTURE_SLACK 300	/* --when may run ahead of the clock this much */
#define NOPTS(t)	(sizeof(t) / sizeof((t)[0]))

/* ---- argument parsing -------------------------------------------------- */

enum { ARG_FLAG, ARG_ONE, ARG_MANY };

struct argopt {
	const char *name;	/* without the leading "--" */
	int kind;
};

struct args {
	const struct argopt *table;
	size_t n;
	const char *vals[CMD_MAX_OPTS][CMD_MAX_VALUES];
	size_t nvals[CMD_MAX_OPTS];
	const char *pos[CMD_MAX_VALUES];
	size_t npos;
	struct agent_opts o;
	int help;
};

/* Options every subcommand takes. */
static const struct argopt cmd_common[] = {
	{"json", ARG_FLAG}, {"config", ARG_ONE}, {"data", ARG_ONE},
	{"verbose", ARG_FLAG}, {"help", ARG_FLAG},
};

static fw_err
args_add(struct args *a, size_t i, const char *v, const char *cmd)
{
	if (a->nvals[i] == CMD_MAX_VALUES)
		return fw_seterr(FW_ERR_LIMIT, "%s: --%s given more than %d times",
		    cmd, a->table[i].name, CMD_MAX_VALUES);
	a->vals[i][a->nvals[i]++] = v;
	return FW_OK;
}

static fw_err
args_common(struct args *a, const char *name, const char *val)
{
	if (strcmp(name, "json") == 0)
		a->o.json = 1;
	else if (strcmp(name, "verbose") == 0)
		a->o.verbose++;
	else if (strcmp(name, "help") == 0)
		a->help = 1;
	else if (strcmp(name, "config") == 0)
		a->o.config = val;
	else if (strcmp(name, "data") == 0)
		a->o.data = val;
	return FW_OK;
}

/*
 * Parse argv[1..argc) against table (and the common options).  A usage
 * error is FW_ERR_INVALID with a message naming the option.
 */
static fw_err
args_parse(struct args *a, const char *cmd, const struct argopt *table,
    size_t n, const struct agent_opts *g, int argc, char **argv)
{
	const char *arg, *eq, *val;
	char name[64];
	size_t i, len;
	int k, common, ddash = 0;
	fw_err e;

	memset(a, 0, sizeof *a);
	a->table = table;
	a->n = n;
	if (g != NULL)
		a->o = *g;
	if (n > CMD_MAX_OPTS)
		return fw_seterr(FW_ERR_INTERNAL, "%s: option table too big", cmd);
	for (k = 1; k < argc; k++) {
		arg = argv[k];
		if (ddash || strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			if (!ddash && strcmp(arg, "--") == 0) {
				ddash = 1;
				continue;
			}
			if (!ddash && strcmp(arg, "-h") == 0) {
				a->help = 1;
				continue;
			}
			if (!ddash && strcmp(arg, "-v") == 0) {
				a->o.verbose++;
				continue;
			}
			if (a->npos == CMD_MAX_VALUES)
				return fw_seterr(FW_ERR_LIMIT, "%s: more than %d "
				    "arguments", cmd, CMD_MAX_VALUES);
			a->pos[a->npos++] = arg;
			continue;
		}
		eq = strchr(arg + 2, '=');
		len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (len >= sizeof name)
			return fw_seterr(FW_ERR_INVALID, "%s: unknown option '%.40s'",
			    cmd, arg);
		memcpy(name, arg + 2, len);
		name[len] = '\0';
		common = -1;
		for (i = 0; i < n; i++)
			if (strcmp(table[i].name, name) == 0)
				break;
		if (i == n) {
			for (size_t j = 0; j < sizeof cmd_common /
			    sizeof cmd_common[0]; j++)
				if (strcmp(cmd_common[j].name, name) == 0)
					common = (int)j;
			if (common < 0)
				return fw_seterr(FW_ERR_INVALID, "%s: unknown option "
				    "'--%s' (see `fundwatch-agent %s --help`)", cmd,
				    name, cmd);
		}
		int kind = common >= 0 ? cmd_common[common].kind : table[i].kind;
		if (kind == ARG_FLAG) {
			if (eq != NULL)
				return fw_seterr(FW_ERR_INVALID, "%s: --%s takes no "
				    "value", cmd, name);
			if (common >= 0)
				args_common(a, name, NULL);
			else if ((e = args_add(a, i, "", cmd)) != FW_OK)
				return e;
			continue;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (k + 1 < argc)
			val = argv[++k];
		else
			return fw_seterr(FW_ERR_INVALID, "%s: --%s needs a value", cmd,
			    name);
		if (common >= 0) {
			args_common(a, name, val);
			continue;
		}
		if ((e = args_add(a, i, val, cmd)) != FW_OK)
			return e;
		/* "--category A B C": the values up to the next option. */
		while (kind == ARG_MANY && eq == NULL && k + 1 < argc &&
		    strncmp(argv[k + 1], "--", 2) != 0 &&
		    strcmp(argv[k + 1], "-h") != 0 && strcmp(argv[k + 1], "-v") != 0)
			if ((e = args_add(a, i, argv[++k], cmd)) != FW_OK)
				return e;
	}
	return FW_OK;
}

static size_t
args_idx(const struct args *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->table[i].name, name) == 0)
			return i;
	return SIZE_MAX;	/* a programming error: the name is in no table */
}

/* The last value of an option, or NULL. */
static const char *
arg_get(const struct args *a, const char *name)
{
	size_t i = args_idx(a, name);

	if (i == SIZE_MAX || a->nvals[i] == 0)
		return NULL;
	return a->vals[i][a->nvals[i] - 1];
}

static size_t
arg_count(const struct args *a, const char *name)
{
	size_t i = args_idx(a, name);

	return i == SIZE_MAX ? 0 : a->nvals[i];
}

static const char *
arg_nth(const struct args *a, const char *name, size_t k)
{
	size_t i = args_idx(a, name);

	return i == SIZE_MAX || k >= a->nvals[i] ? NULL : a->vals[i][k];
}

/* ---- output ------------------------------------------------------------ */

/* Print text from elsewhere with control characters (but line feed and
 * tab) shown as '?'. */
static void
put_text(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		fputc((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : c, f);
	}
}

static void
put_time(FILE *f, int64_t t)
{
	char buf[21];

	if (t <= 0) {
		fputs("never", f);
		return;
	}
	bundle_time_format(t, buf);
	fputs(buf, f);
}

static void
human_bytes(uint64_t n, char *out, size_t outsz)
{
	if (n < 1024)
		snprintf(out, outsz, "%llu B", (unsigned long long)n);
	else if (n < (1u << 20))
		snprintf(out, outsz, "%.1f KiB", (double)n / 1024);
	else if (n < (1u << 30))
		snprintf(out, outsz, "%.1f MiB", (double)n / (1 << 20));
	else
		snprintf(out, outsz, "%.2f GiB", (double)n / (1 << 30));
}

/* Print j as one line on stdout and free it. */
static int
json_out(json_t *j)
{
	char *s;

	if (j == NULL) {
		fprintf(stderr, "fundwatch-agent: out of memory\n");
		return 1;
	}
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (s == NULL) {
		fprintf(stderr, "fundwatch-agent: out of memory\n");
		return 1;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}

/* The exit status of a listing command: e's failure (arr dropped), or
 * with --json (arr not NULL) {"key": arr} on stdout; 0 when the list was
 * printed as it was read. */
static int
list_answer(const struct args *p, const char *what, fw_err e, const char *key,
    json_t *arr)
{
	json_t *j;

	if (e != FW_OK) {
		json_decref(arr);
		return cmd_fail(&p->o, what, e);
	}
	if (arr == NULL)
		return 0;
	j = json_object();
	json_object_set_new(j, key, arr);
	return json_out(j);
}

static json_t *
json_time(int64_t t)
{
	char buf[21];

	if (t <= 0)
		return json_null();
	bundle_time_format(t, buf);
	return json_string(buf);
}

int
cmd_fail(const struct agent_opts *o, const char *what, fw_err e)
{
	const char *msg = fw_errmsg();

	if (o != NULL && o->json) {
		json_t *j = json_object();

		json_object_set_new(j, "error", json_string(fw_strerror(e)));
		json_object_set_new(j, "message", json_string(msg));
		json_out(j);
	}
	if (what != NULL && strncmp(msg, what, strlen(what)) != 0)
		fprintf(stderr, "fundwatch-agent: %s: ", what);
	else
		fprintf(stderr, "fundwatch-agent: ");
	put_text(stderr, msg);
	fputc('\n', stderr);
	return 1;
}

static int
cmd_usage_error(const struct agent_opts *o, const char *usage, fw_err e)
{
	cmd_fail(o, NULL, e);
	fputs(usage, stderr);
	return 2;
}

struct agent *
cmd_open(const struct agent_opts *o)
{
	struct agent_config cfg;
	struct agent *a;
	const char *path;
	fw_err e;

	memset(&cfg, 0, sizeof cfg);
	path = config_path(o->config);
	if ((e = config_load(&cfg, path, NULL)) != FW_OK) {
		cmd_fail(o, "config", e);
		config_free(&cfg);
		return NULL;
	}
	if (o->verbose > 0)
		log_setverbose(o->verbose);
	e = agent_open(config_data_dir(&cfg, o->data), &cfg, &a);
	config_free(&cfg);
	if (e != FW_OK) {
		cmd_fail(o, "store", e);
		return NULL;
	}
	return a;
}

/*
 * What a subcommand takes and does.  cmd_run parses argv against it: a
 * usage error (exit 2) prints the message and then the usage on stderr,
 * --help prints the usage on stdout (exit 0); then it opens the store if
 * asked and hands over to run.
 */
struct cmd_def {
	const char *name;		/* as typed; starts its messages */
	const char *usage;
	const struct argopt *opts;
	size_t nopts;
	int nopos;			/* refuse positionals, even with --help */
	/* Unless --help: FW_OK or a usage error, reported with the options
	 * given after the name if own_opts, else with the global ones. */
	fw_err (*check)(const struct cmd_def *, const struct args *);
	/* For cmd_check_args: minpos..maxpos positionals and the option
	 * need, if set; else "NAME: give WANT". */
	size_t minpos, maxpos;
	const char *need, *want;
	int own_opts;
	int open;			/* open the store for run */
	/* The command: its exit status.  It closes a, NULL unless open. */
	int (*run)(const struct cmd_def *, struct args *, struct agent *a);
	const char *kind;		/* feedback, tasks, notices: the feed */
};

/* The check of a command whose arguments the fields of d describe. */
static fw_err
cmd_check_args(const struct cmd_def *d, const struct args *p)
{
	if (p->npos < d->minpos || p->npos > d->maxpos ||
	    (d->need != NULL && arg_get(p, d->need) == NULL))
		return fw_seterr(FW_ERR_INVALID, "%s: give %s", d->name, d->want);
	return FW_OK;
}

static int
cmd_run(const struct cmd_def *d, const struct agent_opts *g, int argc,
    char **argv)
{
	struct agent *a = NULL;
	struct args *p;
	fw_err e;
	int rc;

	if ((p = malloc(sizeof *p)) == NULL)
		return cmd_fail(g, d->name, fw_seterr(FW_ERR_NOMEM,
		    "out of memory"));
	e = args_parse(p, d->name, d->opts, d->nopts, g, argc, argv);
	if (e == FW_OK && d->nopos && p->npos > 0)
		e = fw_seterr(FW_ERR_INVALID, "%s: unexpected argument", d->name);
	if (e != FW_OK)
		rc = cmd_usage_error(g, d->usage, e);
	else if (p->help) {
		fputs(d->usage, stdout);
		rc = 0;
	} else if (d->check != NULL && (e = d->check(d, p)) != FW_OK)
		rc = cmd_usage_error(d->own_opts ? &p->o : g, d->usage, e);
	else if (d->open && (a = cmd_open(&p->o)) == NULL)
		rc = 1;
	else
		rc = d->run(d, p, a);
	free(p);
	return rc;
}

/* ---- observe ------------------------------------------------------------- */

static const char observe_usage[] =
    "usage: fundwatch-agent observe --subject-kind KIND --subject NAME\n"
    "           [--institution CODE] --place TEXT [--lat DEG --lon DEG]\n"
    "           [--accuracy METRES] --category CODE... --what TEXT\n"
    "           [--when TIME|now] [--severity normal|major] [--task ID]\n"
    "           [--attach FILE...] [--move] [--json]\n"
    "\n"
    "Records one observation durably and prints its id.\n"
    "  KIND      pharmacy, hospital, clinic, insurance_agency,\n"
    "            insured_person or other\n"
    "  CODE      violation categories of the enrolled taxonomy (see\n"
    "            `fundwatch-agent categories`); several, or comma-separated\n"
    "  DEG       decimal degrees, e.g. --lat 23.6817 --lon 113.0561\n"
    "  TIME      YYYY-MM-DDTHH:MM:SSZ (UTC) or now (the default)\n"
    "  --attach  evidence files, encrypted to the office key as they are\n"
    "            stored; --move deletes each original once its encrypted\n"
    "            copy is on disk\n"
    "Refused for a subject you declared a conflict of interest with\n"
    "(`fundwatch-agent conflicts`; QY art 8(5), GP art 9(3)).\n";

static const struct argopt observe_opts[] = {
	{"subject-kind", ARG_ONE}, {"subject", ARG_ONE},
	{"institution", ARG_ONE}, {"place", ARG_ONE}, {"lat", ARG_ONE},
	{"lon", ARG_ONE}, {"accuracy", ARG_ONE}, {"category", ARG_MANY},
	{"what", ARG_ONE}, {"when", ARG_ONE}, {"severity", ARG_ONE},
	{"task", ARG_ONE}, {"attach", ARG_MANY}, {"move", ARG_FLAG},
	{"kind", ARG_ONE},
};

void
cmd_observe_req_free(struct observe_req *r)
{
	bundle_obs_clear(&r->o);
	memset(r, 0, sizeof *r);
}

static fw_err
req_dup(const char *s, char **out)
{
	if ((*out = strdup(s)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "observe: out of memory");
	return FW_OK;
}

/* A text option: present if required, UTF-8, within its length. */
static fw_err
req_text(const struct args *a, const char *name, size_t max, int required,
    char **out)
{
	const char *v = arg_get(a, name);
	size_t n;

	*out = NULL;
	if (v == NULL) {
		if (required)
			return fw_seterr(FW_ERR_FIELD_MISSING, "observe: --%s is "
			    "required", name);
		return FW_OK;
	}
	n = strlen(v);
	if (n == 0 || n > max)
		return fw_seterr(FW_ERR_FIELD_LENGTH, "observe: --%s is %zu bytes, "
		    "expected 1..%zu", name, n, max);
	if (!jsonx_utf8_valid(v, n))
		return fw_seterr(FW_ERR_UTF8, "observe: --%s is not valid UTF-8",
		    name);
	return req_dup(v, out);
}

static fw_err
req_categories(const struct args *a, struct fw_obs *o)
{
	char buf[FW_MAX_CODE + 1];
	const char *v, *p, *comma;
	size_t i, len, j;
	fw_err e;

	if (arg_count(a, "category") == 0)
		return fw_seterr(FW_ERR_FIELD_MISSING, "observe: --category is "
		    "required (see `fundwatch-agent categories`)");
	if ((o->categories = calloc(FW_MAX_CATEGORIES + 1,
	    sizeof *o->categories)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "observe: out of memory");
	for (i = 0; (v = arg_nth(a, "category", i)) != NULL; i++) {
		/* Bounded by the value's length: each pass moves past a comma. */
		for (p = v; *p != '\0'; p = *comma != '\0' ? comma + 1 : comma) {
			comma = strchr(p, ',');
			if (comma == NULL)
				comma = p + strlen(p);
			len = (size_t)(comma - p);
			if (len == 0)
				continue;
			if (len > FW_MAX_CODE)
				return fw_seterr(FW_ERR_FIELD_LENGTH, "observe: "
				    "--category '%.40s' is longer than %d", p,
				    FW_MAX_CODE);
			memcpy(buf, p, len);
			buf[len] = '\0';
			for (j = 0; j < o->ncategories; j++)
				if (strcmp(o->categories[j], buf) == 0)
					return fw_seterr(FW_ERR_FIELD_VALUE, "observe: "
					    "--category '%s' given twice", buf);
			if (o->ncategories == FW_MAX_CATEGORIES)
				return fw_seterr(FW_ERR_FIELD_LENGTH, "observe: more "
				    "than %d categories", FW_MAX_CATEGORIES);
			if ((e = req_dup(buf, &o->categories[o->ncategories])) != FW_OK)
				return e;
			o->ncategories++;
		}
	}
	if (o->ncategories == 0)
		return fw_seterr(FW_ERR_FIELD_MISSING, "observe: --category is "
		    "empty");
	return FW_OK;
}

static fw_err
req_place(const struct args *a, struct fw_obs *o)
{
	const char *lat = arg_get(a, "lat"), *lon = arg_get(a, "lon");
	const char *acc = arg_get(a, "accuracy");
	char *end;
	long long v;
	fw_err e;

	if ((e = req_text(a, "place", FW_MAX_PLACE, 1, &o->place.text)) != FW_OK)
		return e;
	if ((lat == NULL) != (lon == NULL))
		return fw_seterr(FW_ERR_FIELD_MISSING, "observe: --%s needs --%s: "
		    "give both coordinates or neither", lat != NULL ? "lat" : "lon",
		    lat != NULL ? "lon" : "lat");
	if (lat != NULL) {
		if ((e = store_parse_e7("observe: --lat", lat, 900000000,
		    &o->place.lat_e7)) != FW_OK ||
		    (e = store_parse_e7("observe: --lon", lon, 1800000000,
		    &o->place.lon_e7)) != FW_OK)
			return e;
		o->place.has_geo = 1;
	}
	if (acc != NULL) {
		errno = 0;
		v = strtoll(acc, &end, 10);
		if (*acc == '\0' || *end != '\0' || errno != 0 || *acc == '+' ||
		    *acc == ' ')
			return fw_seterr(FW_ERR_FIELD_VALUE, "observe: --accuracy "
			    "'%.40s' is not a whole number of metres", acc);
		if (v < 0 || v > 10000000)
			return fw_seterr(FW_ERR_FIELD_RANGE, "observe: --accuracy %lld "
			    "is out of range, expected 0..10000000 metres", v);
		o->place.has_accuracy = 1;
		o->place.accuracy_m = (uint32_t)v;
	}
	return FW_OK;
}

static fw_err
req_enums(const struct args *a, struct fw_obs *o, time_t now)
{
	const char *v;
	int k;
	fw_err e;

	if ((v = arg_get(a, "subject-kind")) == NULL)
		return fw_seterr(FW_ERR_FIELD_MISSING, "observe: --subject-kind is "
		    "required (pharmacy, hospital, clinic, insurance_agency, "
		    "insured_person or other)");
	if ((k = bundle_subject_kind_parse(v)) < 0)
		return fw_seterr(FW_ERR_FIELD_VALUE, "observe: --subject-kind "
		    "'%.40s' is not one of pharmacy, hospital, clinic, "
		    "insurance_agency, insured_person, other", v);
	o->subject.kind = (enum fw_subject_kind)k;
	o->severity = FW_SEV_NORMAL;
	if ((v = arg_get(a, "severity")) != NULL) {
		if ((k = bundle_severity_parse(v)) < 0)
			return fw_seterr(FW_ERR_FIELD_VALUE, "observe: --severity "
			    "'%.40s' is not normal or major", v);
		o->severity = (enum fw_severity)k;
	}
	o->captured = (int64_t)now;
	if ((v = arg_get(a, "when")) != NULL && strcmp(v, "now") != 0) {
		if ((e = bundle_time_parse(v, &o->captured)) != FW_OK)
			return fw_seterr(FW_ERR_FIELD_VALUE, "observe: --when "
			    "'%.40s' is not a time YYYY-MM-DDTHH:MM:SSZ (UTC) or "
			    "'now'", v);
		if (o->captured > (int64_t)now + CMD_FUTURE_SLACK)
			return fw_seterr(FW_ERR_FIELD_VALUE, "observe: --when %s is "
			    "in the future (the device clock says otherwise)", v);
	}
	return FW_OK;
}

static fw_err
req_files(const struct args *a, const char *opt, size_t first,
    struct observe_req *r)
{
	const char *v, *kind = arg_get(a, "kind");
	int k = -1;

	if (kind != NULL && (k = bundle_evidence_kind_parse(kind)) < 0)
		return fw_seterr(FW_ERR_FIELD_VALUE, "--kind '%.40s' is not photo, "
		    "audio, video or document", kind);
	for (size_t i = first; ; i++) {
		v = opt != NULL ? arg_nth(a, opt, i) :
		    (i < a->npos ? a->pos[i] : NULL);
		if (v == NULL)
			break;
		if (r->nfiles == FW_MAX_EVIDENCE)
			return fw_seterr(FW_ERR_LIMIT, "more than %d evidence files "
			    "for one observation", FW_MAX_EVIDENCE);
		r->files[r->nfiles].path = v;
		r->files[r->nfiles].kind = k;
		r->files[r->nfiles].media_type = NULL;
		r->nfiles++;
	}
	r->move = arg_count(a, "move") > 0;
	return FW_OK;
}

/* Shared by cmd_observe and the tests: argv as the shell gives it (argv[0]
 * "observe"); the file paths point into argv. */
fw_err
cmd_observe_args(int argc, char **argv, struct observe_req *r)
{
	struct args *a;
	fw_err e;

	memset(r, 0, sizeof *r);
	if ((a = malloc(sizeof *a)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "observe: out of memory");
	if ((e = args_parse(a, "observe", observe_opts, sizeof observe_opts /
	    sizeof observe_opts[0], NULL, argc, argv)) != FW_OK)
		goto out;
	r->opts = a->o;
	if ((r->help = a->help) != 0)
		goto out;
	if (a->npos > 0) {
		e = fw_seterr(FW_ERR_INVALID, "observe: unexpected argument '%.40s' "
		    "(quote texts with spaces)", a->pos[0]);
		goto out;
	}
	if ((e = req_enums(a, &r->o, time(NULL))) != FW_OK ||
	    (e = req_text(a, "subject", FW_MAX_NAME, 1,
	    &r->o.subject.name)) != FW_OK ||
	    (e = req_text(a, "institution", FW_MAX_CODE, 0,
	    &r->o.subject.institution)) != FW_OK ||
	    (e = req_place(a, &r->o)) != FW_OK ||
	    (e = req_categories(a, &r->o)) != FW_OK ||
	    (e = req_text(a, "what", FW_MAX_WHAT, 1, &r->o.what)) != FW_OK ||
	    (e = req_text(a, "task", FW_MAX_CODE, 0, &r->o.task)) != FW_OK ||
	    (e = req_files(a, "attach", 0, r)) != FW_OK)
		goto out;
	if (arg_get(a, "kind") != NULL && r->nfiles == 0)
		e = fw_seterr(FW_ERR_INVALID, "observe: --kind without --attach");
out:
	free(a);
	if (e != FW_OK)
		bundle_obs_clear(&r->o);
	return e;
}

int
cmd_observe(const struct agent_opts *g, int argc, char **argv)
{
	struct observe_req r;
	char id[FW_ID_HEX + 1];
	struct agent *a;
	fw_err e;

	if ((e = cmd_observe_args(argc, argv, &r)) != FW_OK) {
		if (e == FW_ERR_INVALID)
			return cmd_usage_error(g, observe_usage, e);
		return cmd_fail(g, "observe", e);
	}
	r.opts.json |= g->json;
	r.opts.config = r.opts.config != NULL ? r.opts.config : g->config;
	r.opts.data = r.opts.data != NULL ? r.opts.data : g->data;
	r.opts.verbose += g->verbose;
	if (r.help) {
		fputs(observe_usage, stdout);
		return 0;
	}
	if ((a = cmd_open(&r.opts)) == NULL) {
		cmd_observe_req_free(&r);
		return 1;
	}
	e = store_observe(a, &r.o, r.files, r.nfiles, r.move, id);
	if (e == FW_OK)
		daemon_nudge(a);
	agent_close(a);
	if (e != FW_OK) {
		cmd_observe_req_free(&r);
		return cmd_fail(&r.opts, "observe", e);
	}
	if (r.opts.json) {
		json_t *j = json_object();

		json_object_set_new(j, "id", json_string(id));
		json_object_set_new(j, "evidence", json_integer((json_int_t)r.nfiles));
		cmd_observe_req_free(&r);
		return json_out(j);
	}
	printf("%s\n", id);
	cmd_observe_req_free(&r);
	return 0;
}

/* ---- attach ----------------------------------------------------------------- */

static const char attach_usage[] =
    "usage: fundwatch-agent attach OBS FILE... [--kind photo|audio|video|"
    "document]\n"
    "           [--what TEXT] [--move] [--json]\n"
    "\n"
    "Adds evidence files to observation OBS.  Each file is encrypted to the\n"
    "office key as it is read; the kind and media type are guessed from the\n"
    "extension unless --kind is given.  With --move each original is\n"
    "deleted once its encrypted copy is on disk.\n"
    "\n"
    "While OBS is not sealed yet the files join it.  Once it is sealed into\n"
    "a signed bundle (or sent, as when the office asks for more evidence)\n"
    "they go in a new observation that supplements OBS: same subject,\n"
    "place, categories and severity, the office files it with OBS's case,\n"
    "and --what says what the new files show.\n";

static const struct argopt attach_opts[] = {
	{"kind", ARG_ONE}, {"move", ARG_FLAG}, {"what", ARG_ONE},
};

static int
attach_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	char newid[FW_ID_HEX + 1] = "";
	struct observe_req r;
	fw_err e;
	int rc;

	(void)d;
	/* a is NULL: the store is opened once the files are known. */
	memset(&r, 0, sizeof r);
	if ((e = req_files(p, NULL, 1, &r)) != FW_OK)
		return cmd_fail(&p->o, "attach", e);
	if ((a = cmd_open(&p->o)) == NULL)
		return 1;
	e = store_attach(a, p->pos[0], arg_get(p, "what"), r.files, r.nfiles,
	    r.move, newid);
	if (e == FW_OK)
		daemon_nudge(a);
	agent_close(a);
	if (e != FW_OK)
		rc = cmd_fail(&p->o, "attach", e);
	else if (p->o.json) {
		json_t *j = json_object();

		json_object_set_new(j, "id", json_string(p->pos[0]));
		json_object_set_new(j, "attached", json_integer((json_int_t)r.nfiles));
		if (newid[0] != '\0')
			json_object_set_new(j, "supplement", json_string(newid));
		rc = json_out(j);
	} else if (newid[0] != '\0') {
		printf("%s is sealed: attached %zu file%s in observation %s, "
		    "which supplements it\n", p->pos[0], r.nfiles,
		    r.nfiles == 1 ? "" : "s", newid);
		rc = 0;
	} else {
		printf("attached %zu file%s to %s\n", r.nfiles,
		    r.nfiles == 1 ? "" : "s", p->pos[0]);
		rc = 0;
	}
	return rc;
}

int
cmd_attach(const struct agent_opts *g, int argc, char **argv)
{
	static const struct cmd_def d = {.name = "attach", .usage = attach_usage,
	    .opts = attach_opts, .nopts = NOPTS(attach_opts),
	    .check = cmd_check_args, .minpos = 2, .maxpos = CMD_MAX_VALUES,
	    .want = "the observation id and at least one file", .own_opts = 1,
	    .run = attach_run};

	return cmd_run(&d, g, argc, argv);
}

/* ---- list, show -------------------------------------------------------------- */

static const char list_usage[] =
    "usage: fundwatch-agent list [--limit N] [--json]\n"
    "\n"
    "Lists the observations on this device, oldest first: sequence number,\n"
    "id, capture time, state (captured, sealed, receipted, refused by the\n"
    "office, purged) and evidence.\n";

static json_t *
info_json(const struct store_obs_info *i)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_string(i->id));
	json_object_set_new(j, "seq", json_integer((json_int_t)i->seq));
	json_object_set_new(j, "captured", json_time(i->captured));
	json_object_set_new(j, "status", json_string(store_status_name(i->status)));
	json_object_set_new(j, "bundle", i->bundle[0] != '\0' ?
	    json_string(i->bundle) : json_null());
	json_object_set_new(j, "receipted", json_time(i->receipted));
	json_object_set_new(j, "purged", json_time(i->purged));
	json_object_set_new(j, "evidence", json_integer((json_int_t)i->nevidence));
	json_object_set_new(j, "evidence_bytes",
	    json_integer((json_int_t)i->evidence_bytes));
	if (i->refusal[0] != '\0')
		json_object_set_new(j, "refusal", json_string(i->refusal));
	if (i->supplements[0] != '\0')
		json_object_set_new(j, "supplements", json_string(i->supplements));
	return j;
}

static fw_err
list_one(void *ctx, const struct store_obs_info *i)
{
	json_t *arr = ctx;
	char b[32];

	if (arr != NULL) {
		json_array_append_new(arr, info_json(i));
		return FW_OK;
	}
	human_bytes(i->evidence_bytes, b, sizeof b);
	printf("%6llu  %s  ", (unsigned long long)i->seq, i->id);
	put_time(stdout, i->captured);
	printf("  %-9s  %zu file%s, %s\n", store_status_name(i->status),
	    i->nevidence, i->nevidence == 1 ? "" : "s", b);
	return FW_OK;
}

/* --limit N into *n, 0 without it. */
static fw_err
list_limit(const struct args *p, long long *n)
{
	const char *lim;
	char *end;

	*n = 0;
	if ((lim = arg_get(p, "limit")) != NULL) {
		*n = strtoll(lim, &end, 10);
		if (*lim == '\0' || *end != '\0' || *n < 1 || *n > 1000000000)
			return fw_seterr(FW_ERR_INVALID, "list: --limit '%.20s' is not "
			    "a count 1..1000000000", lim);
	}
	return FW_OK;
}

static fw_err
list_check(const struct cmd_def *d, const struct args *p)
{
	long long n;

	(void)d;
	return list_limit(p, &n);
}

static int
list_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	json_t *arr = NULL;
	long long n = 0;
	fw_err e;

	(void)d;
	(void)list_limit(p, &n);	/* list_check refused a bad one */
	if (p->o.json)
		arr = json_array();
	e = store_list(a, (size_t)n, list_one, arr);
	agent_close(a);
	return list_answer(p, "list", e, "observations", arr);
}

int
cmd_list(const struct agent_opts *g, int argc, char **argv)
{
	static const struct argopt opts[] = {{"limit", ARG_ONE}};
	static const struct cmd_def d = {.name = "list", .usage = list_usage,
	    .opts = opts, .nopts = NOPTS(opts), .nopos = 1, .check = list_check,
	    .own_opts = 1, .open = 1, .run = list_run};

	return cmd_run(&d, g, argc, argv);
}

static const char show_usage[] =
    "usage: fundwatch-agent show OBS [--json]\n"
    "\n"
    "Shows one observation (its id, or 6 or more leading digits of it).\n";

static json_t *
obs_json(const struct fw_obs *o)
{
	json_t *j = json_object(), *cats = json_array(), *ev = json_array(), *e;
	json_t *place = json_object(), *subj = json_object();

	json_object_set_new(place, "text", json_string(o->place.text));
	if (o->place.has_geo) {
		json_object_set_new(place, "lat_e7", json_integer(o->place.lat_e7));
		json_object_set_new(place, "lon_e7", json_integer(o->place.lon_e7));
	}
	if (o->place.has_accuracy)
		json_object_set_new(place, "accuracy_m",
		    json_integer(o->place.accuracy_m));
	json_object_set_new(subj, "kind",
	    json_string(bundle_subject_kind_name(o->subject.kind)));
	json_object_set_new(subj, "name", json_string(o->subject.name));
	if (o->subject.institution != NULL)
		json_object_set_new(subj, "institution",
		    json_string(o->subject.institution));
	for (size_t i = 0; i < o->ncategories; i++)
		json_array_append_new(cats, json_string(o->categories[i]));
	for (size_t i = 0; i < o->nevidence; i++) {
		const struct fw_evidence *v = &o->evidence[i];

		e = json_object();
		json_object_set_new(e, "kind",
		    json_string(bundle_evidence_kind_name(v->kind)));
		json_object_set_new(e, "media_type", json_string(v->media_type));
		json_object_set_new(e, "size", json_integer((json_int_t)v->size));
		json_object_set_new(e, "sha256", json_string(v->sha256));
		json_object_set_new(e, "blob", json_string(v->blob));
		json_object_set_new(e, "blob_size",
		    json_integer((json_int_t)v->blob_size));
		json_object_set_new(e, "captured", json_time(v->captured));
		json_array_append_new(ev, e);
	}
	json_object_set_new(j, "place", place);
	json_object_set_new(j, "subject", subj);
	json_object_set_new(j, "categories", cats);
	json_object_set_new(j, "what", json_string(o->what));
	json_object_set_new(j, "severity",
	    json_string(bundle_severity_name(o->severity)));
	if (o->task != NULL)
		json_object_set_new(j, "task", json_string(o->task));
	if (o->prev[0] != '\0')
		json_object_set_new(j, "prev", json_string(o->prev));
	json_object_set_new(j, "evidence", ev);
	return j;
}

static void
show_human(const struct store_obs_info *i, const struct fw_obs *o)
{
	char b[32];

	printf("id:        %s\nseq:       %llu\ncaptured:  ", i->id,
	    (unsigned long long)i->seq);
	put_time(stdout, i->captured);
	printf("\nstatus:    %s", store_status_name(i->status));
	if (i->bundle[0] != '\0')
		printf(" (bundle %s)", i->bundle);
	if (i->receipted > 0) {
		printf(i->status == STORE_REFUSED ? "\nrefused:   " :
		    "\nreceipted: ");
		put_time(stdout, i->receipted);
	}
	if (i->refusal[0] != '\0') {
		printf("\nreason:    ");
		put_text(stdout, i->refusal);
	}
	if (i->supplements[0] != '\0')
		printf("\nsupplements: %s", i->supplements);
	if (i->status == STORE_PURGED) {
		printf("\npurged:    ");
		put_time(stdout, i->purged);
		printf("\n(text and evidence deleted after the office's receipt)\n");
		return;
	}
	printf("\nsubject:   %s: ", bundle_subject_kind_name(o->subject.kind));
	put_text(stdout, o->subject.name);
	if (o->subject.institution != NULL)
		printf(" [%s]", o->subject.institution);
	printf("\nplace:     ");
	put_text(stdout, o->place.text);
	if (o->place.has_geo)
		printf(" (%s%d.%07d, %s%d.%07d)",
		    o->place.lat_e7 < 0 ? "-" : "", abs(o->place.lat_e7 / 10000000),
		    abs(o->place.lat_e7 % 10000000),
		    o->place.lon_e7 < 0 ? "-" : "", abs(o->place.lon_e7 / 10000000),
		    abs(o->place.lon_e7 % 10000000));
	if (o->place.has_accuracy)
		printf(" ±%um", (unsigned)o->place.accuracy_m);
	printf("\ncategory:  ");
	for (size_t k = 0; k < o->ncategories; k++)
		printf("%s%s", k > 0 ? ", " : "", o->categories[k]);
	printf("\nseverity:  %s\n", bundle_severity_name(o->severity));
	if (o->task != NULL)
		printf("task:      %s\n", o->task);
	printf("what:      ");
	put_text(stdout, o->what);
	putchar('\n');
	for (size_t k = 0; k < o->nevidence; k++) {
		human_bytes(o->evidence[k].size, b, sizeof b);
		printf("evidence:  %s %s, %s, sha256 %s\n           blob %s\n",
		    bundle_evidence_kind_name(o->evidence[k].kind),
		    o->evidence[k].media_type, b, o->evidence[k].sha256,
		    o->evidence[k].blob);
	}
}

static int
show_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	struct store_obs_info info;
	struct fw_obs o;
	fw_err e;
	int rc = 0;

	(void)d;
	e = store_show(a, p->pos[0], &info, &o);
	agent_close(a);
	if (e != FW_OK)
		rc = cmd_fail(&p->o, "show", e);
	else if (p->o.json) {
		json_t *j = info_json(&info);

		if (info.status != STORE_PURGED) {
			json_t *oj = obs_json(&o);
			json_object_update(j, oj);
			json_decref(oj);
		}
		rc = json_out(j);
	} else
		show_human(&info, &o);
	bundle_obs_clear(&o);
	return rc;
}

int
cmd_show(const struct agent_opts *g, int argc, char **argv)
{
	static const struct cmd_def d = {.name = "show", .usage = show_usage,
	    .check = cmd_check_args, .minpos = 1, .maxpos = 1,
	    .want = "one observation id", .open = 1, .run = show_run};

	return cmd_run(&d, g, argc, argv);
}

/* ---- status ---------------------------------------------------------------------- */

static const char status_usage[] =
    "usage: fundwatch-agent status [--json]\n"
    "\n"
    "Shows whether this device is enrolled (or revoked), what waits to be\n"
    "sent (observations and evidence bytes), the last sync and its result,\n"
    "and when the next is due.\n";

static void
status_human(struct agent *a, const struct store_counts *c,
    const struct store_sync_state *s)
{
	char b1[32], b2[32];

	printf("data folder:  %s\n", a->datadir);
	if (!a->enrolled)
		printf("enrolled:     no (run `fundwatch-agent enroll --server URL "
		    "--code CODE`)\n");
	else {
		printf("enrolled:     yes, device %s", a->device_id);
		if (a->profile != NULL)
			printf(", profile %s", a->profile);
		printf("\nserver:       %s\n", a->server_url != NULL ?
		    a->server_url : "(none)");
		if (a->revoked)
			printf("revoked:      YES: this device's key is destroyed; it "
			    "no longer syncs\n");
		else if (a->key == NULL)
			printf("key:          unusable: %s\n", fw_strerror(a->key_err));
	}
	human_bytes(c->pending_bytes, b1, sizeof b1);
	human_bytes(c->unreceipted_bytes, b2, sizeof b2);
	printf("pending:      %llu observation%s (%s of evidence) not sealed\n",
	    (unsigned long long)c->pending_obs, c->pending_obs == 1 ? "" : "s", b1);
	printf("unreceipted:  %llu bundle%s (%s of evidence) waiting for the "
	    "office's receipt\n", (unsigned long long)c->unreceipted_bundles,
	    c->unreceipted_bundles == 1 ? "" : "s", b2);
	printf("receipted:    %llu kept, %llu purged\n",
	    (unsigned long long)c->receipted_obs, (unsigned long long)c->purged_obs);
	if (c->refused_obs > 0)
		printf("refused:      %llu observation%s the office refused (see "
		    "`fundwatch-agent list`)\n", (unsigned long long)c->refused_obs,
		    c->refused_obs == 1 ? "" : "s");
	printf("last sync:    ");
	put_time(stdout, s->last_attempt);
	if (s->last_attempt > 0) {
		printf(" (%s", s->last_ok ? "ok" : "failed");
		if (s->last_result[0] != '\0') {
			printf(": ");
			put_text(stdout, s->last_result);
		}
		printf(")");
	}
	printf("\nlast success: ");
	put_time(stdout, s->last_success);
	printf("\nnext attempt: ");
	if (s->next_attempt > 0)
		put_time(stdout, s->next_attempt);
	else
		printf("not scheduled (is `fundwatch-agent run` running?)");
	putchar('\n');
	if (s->has_clock_offset && (s->clock_offset > 60 || s->clock_offset < -60))
		printf("clock:        this device's clock is %lld s %s the "
		    "office's\n", (long long)(s->clock_offset < 0 ?
		    -s->clock_offset : s->clock_offset),
		    s->clock_offset < 0 ? "ahead of" : "behind");
}

static json_t *
status_json(struct agent *a, const struct store_counts *c,
    const struct store_sync_state *s)
{
	const struct {
		const char *key;
		uint64_t n;
	} counts[] = {
		{"pending_observations", c->pending_obs},
		{"pending_bytes", c->pending_bytes},
		{"unreceipted_bundles", c->unreceipted_bundles},
		{"unreceipted_bytes", c->unreceipted_bytes},
		{"receipted_observations", c->receipted_obs},
		{"purged_observations", c->purged_obs},
		{"refused_observations", c->refused_obs},
	};
	json_t *j = json_object();

	json_object_set_new(j, "data_dir", json_string(a->datadir));
	json_object_set_new(j, "enrolled", json_boolean(a->enrolled));
	json_object_set_new(j, "revoked", json_boolean(a->revoked));
	json_object_set_new(j, "device", a->enrolled ?
	    json_string(a->device_id) : json_null());
	json_object_set_new(j, "server", a->server_url != NULL ?
	    json_string(a->server_url) : json_null());
	json_object_set_new(j, "profile", a->profile != NULL ?
	    json_string(a->profile) : json_null());
	json_object_set_new(j, "key_usable", json_boolean(a->key != NULL));
	for (size_t i = 0; i < NOPTS(counts); i++)
		json_object_set_new(j, counts[i].key,
		    json_integer((json_int_t)counts[i].n));
	json_object_set_new(j, "last_sync", json_time(s->last_attempt));
	json_object_set_new(j, "last_sync_ok", json_boolean(s->last_ok));
	json_object_set_new(j, "last_sync_result", json_string(s->last_result));
	json_object_set_new(j, "last_success", json_time(s->last_success));
	json_object_set_new(j, "next_attempt", json_time(s->next_attempt));
	json_object_set_new(j, "clock_offset", s->has_clock_offset ?
	    json_integer(s->clock_offset) : json_null());
	return j;
}

static int
status_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	struct store_sync_state s;
	struct store_counts c;
	fw_err e;
	int rc = 0;

	(void)d;
	if ((e = store_counts(a, &c)) != FW_OK ||
	    (e = store_sync_state_get(a, &s)) != FW_OK)
		rc = cmd_fail(&p->o, "status", e);
	else if (p->o.json)
		rc = json_out(status_json(a, &c, &s));
	else
		status_human(a, &c, &s);
	agent_close(a);
	return rc;
}

int
cmd_status(const struct agent_opts *g, int argc, char **argv)
{
	static const struct cmd_def d = {.name = "status", .usage = status_usage,
	    .nopos = 1, .open = 1, .run = status_run};

	return cmd_run(&d, g, argc, argv);
}

/* ---- categories, conflicts ---------------------------------------------------------- */

static const char categories_usage[] =
    "usage: fundwatch-agent categories [--json]\n"
    "\n"
    "Lists the violation categories of the enrolled policy profile, the\n"
    "codes `observe --category` takes, in Chinese and English.\n";

static int
categories_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	struct store_category *c;
	size_t n;
	fw_err e;
	int rc = 0;

	(void)d;
	e = store_categories(a, &c, &n);
	agent_close(a);
	if (e != FW_OK) {
		rc = cmd_fail(&p->o, "categories", e);
	} else if (p->o.json) {
		json_t *arr = json_array(), *j = json_object();

		for (size_t i = 0; i < n; i++) {
			json_t *it = json_object();

			json_object_set_new(it, "code", json_string(c[i].code));
			json_object_set_new(it, "zh", json_string(c[i].zh));
			json_object_set_new(it, "en", json_string(c[i].en));
			json_array_append_new(arr, it);
		}
		json_object_set_new(j, "categories", arr);
		rc = json_out(j);
	} else {
		for (size_t i = 0; i < n; i++) {
			printf("%-20s ", c[i].code);
			put_text(stdout, c[i].zh);
			printf("  ");
			put_text(stdout, c[i].en);
			putchar('\n');
		}
	}
	store_categories_free(c, n);
	return rc;
}

int
cmd_categories(const struct agent_opts *g, int argc, char **argv)
{
	static const struct cmd_def d = {.name = "categories",
	    .usage = categories_usage, .nopos = 1, .open = 1,
	    .run = categories_run};

	return cmd_run(&d, g, argc, argv);
}

static const char conflicts_usage[] =
    "usage: fundwatch-agent conflicts [list] [--json]\n"
    "       fundwatch-agent conflicts add SUBJECT [--reason TEXT]\n"
    "       fundwatch-agent conflicts remove SUBJECT\n"
    "\n"
    "Your declared conflicts of interest: an institution code or a name\n"
    "(compared trimmed, case-folded, with whitespace collapsed).  `observe`\n"
    "refuses a declared subject: a supervisor with a stake in it must\n"
    "recuse (QY art 8(5), GP art 9(3)).\n";

static fw_err
conflict_one(void *ctx, const char *subject, const char *reason, int64_t added)
{
	json_t *arr = ctx, *it;

	if (arr != NULL) {
		it = json_object();
		json_object_set_new(it, "subject", json_string(subject));
		json_object_set_new(it, "reason", reason != NULL ?
		    json_string(reason) : json_null());
		json_object_set_new(it, "added", json_time(added));
		json_array_append_new(arr, it);
		return FW_OK;
	}
	put_text(stdout, subject);
	if (reason != NULL && *reason != '\0') {
		printf("  (");
		put_text(stdout, reason);
		printf(")");
	}
	printf("  since ");
	put_time(stdout, added);
	putchar('\n');
	return FW_OK;
}

/* The action: "list" when none is given. */
static const char *
conflicts_verb(const struct args *p)
{
	return p->npos > 0 ? p->pos[0] : "list";
}

static fw_err
conflicts_check(const struct cmd_def *d, const struct args *p)
{
	const char *verb = conflicts_verb(p);

	(void)d;
	if (strcmp(verb, "list") == 0 && p->npos > 1)
		return fw_seterr(FW_ERR_INVALID, "conflicts list: unexpected "
		    "argument");
	if ((strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0) &&
	    p->npos != 2)
		return fw_seterr(FW_ERR_INVALID, "conflicts %s: give one SUBJECT "
		    "(quote it if it has spaces)", verb);
	if (strcmp(verb, "list") != 0 && strcmp(verb, "add") != 0 &&
	    strcmp(verb, "remove") != 0)
		return fw_seterr(FW_ERR_INVALID, "conflicts: unknown action "
		    "'%.40s' (add, list or remove)", verb);
	return FW_OK;
}

static int
conflicts_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	const char *verb = conflicts_verb(p);
	json_t *arr = NULL;
	fw_err e;
	int rc = 0;

	(void)d;
	if (strcmp(verb, "add") == 0)
		e = store_conflict_add(a, p->pos[1], arg_get(p, "reason"));
	else if (strcmp(verb, "remove") == 0)
		e = store_conflict_remove(a, p->pos[1]);
	else {
		if (p->o.json)
			arr = json_array();
		e = store_conflict_list(a, conflict_one, arr);
	}
	agent_close(a);
	if (e != FW_OK || arr != NULL)
		rc = list_answer(p, "conflicts", e, "conflicts", arr);
	else if (strcmp(verb, "list") != 0) {
		if (p->o.json) {
			json_t *j = json_object();

			json_object_set_new(j, verb[0] == 'a' ? "added" : "removed",
			    json_string(p->pos[1]));
			rc = json_out(j);
		} else {
			printf("%s: ", verb[0] == 'a' ? "declared" : "removed");
			put_text(stdout, p->pos[1]);
			putchar('\n');
		}
	}
	return rc;
}

int
cmd_conflicts(const struct agent_opts *g, int argc, char **argv)
{
	static const struct argopt opts[] = {{"reason", ARG_ONE}};
	static const struct cmd_def d = {.name = "conflicts",
	    .usage = conflicts_usage, .opts = opts, .nopts = NOPTS(opts),
	    .check = conflicts_check, .open = 1, .run = conflicts_run};

	return cmd_run(&d, g, argc, argv);
}

/* ---- feedback, tasks, notices ------------------------------------------------------ */

struct feed_print {
	json_t *arr;		/* --json */
	const char *kind;
	size_t n;
};

static const char *
body_str(const json_t *body, const char *key)
{
	return json_string_value(json_object_get(body, key));
}

static fw_err
feed_one(void *ctx, uint64_t cursor, json_t *msg, const char *done_obs)
{
	struct feed_print *fp = ctx;
	json_t *body = json_object_get(msg, "body"), *it;
	const char *created = json_string_value(json_object_get(msg, "created"));

	fp->n++;
	if (fp->arr != NULL) {
		it = json_object();
		json_object_set_new(it, "cursor", json_integer((json_int_t)cursor));
		json_object_set_new(it, "created", created != NULL ?
		    json_string(created) : json_null());
		json_object_set(it, "body", json_is_object(body) ? body :
		    json_object());
		if (strcmp(fp->kind, "task") == 0)
			json_object_set_new(it, "done_by", done_obs != NULL ?
			    json_string(done_obs) : json_null());
		json_array_append_new(fp->arr, it);
		return FW_OK;
	}
	put_text(stdout, created != NULL ? created : "?");
	if (strcmp(fp->kind, "feedback") == 0) {
		printf("  observation ");
		put_text(stdout, body_str(body, "observation"));
		const json_t *kase = json_object_get(body, "case");
		const json_t *fen = json_object_get(body, "reward_fen");

		printf("  case ");
		if (json_is_integer(kase))
			printf("%" JSON_INTEGER_FORMAT, json_integer_value(kase));
		else
			put_text(stdout, body_str(body, "case"));
		printf("  [");
		put_text(stdout, body_str(body, "status"));
		printf("]");
		if (json_is_integer(fen) && json_integer_value(fen) >= 0)
			printf("  reward %" JSON_INTEGER_FORMAT ".%02d yuan",
			    json_integer_value(fen) / 100,
			    (int)(json_integer_value(fen) % 100));
		printf("\n  ");
	} else if (strcmp(fp->kind, "task") == 0) {
		printf("  task ");
		put_text(stdout, body_str(body, "task"));
		if (body_str(body, "due") != NULL) {
			printf("  due ");
			put_text(stdout, body_str(body, "due"));
		}
		printf("  %s", done_obs != NULL ? "done by " : "open");
		put_text(stdout, done_obs);
		printf("\n  ");
		put_text(stdout, body_str(body, "title"));
		printf("\n  ");
	} else {
		printf("  notice ");
		put_text(stdout, body_str(body, "notice"));
		printf("\n  ");
		put_text(stdout, body_str(body, "title"));
		printf("\n  ");
	}
	put_text(stdout, body_str(body, "text"));
	if (strcmp(fp->kind, "feedback") == 0 && body_str(body, "status") != NULL &&
	    strcmp(body_str(body, "status"), "evidence_requested") == 0) {
		printf("\n  answer: fundwatch-agent attach ");
		put_text(stdout, body_str(body, "observation"));
		printf(" FILE... [--what TEXT]");
	}
	printf("\n\n");
	return FW_OK;
}

/* `tasks done ID --obs OBS` rather than a listing. */
static int
feed_done(const struct cmd_def *d, const struct args *p)
{
	return strcmp(d->kind, "task") == 0 && p->npos > 0 &&
	    strcmp(p->pos[0], "done") == 0;
}

static fw_err
feed_check(const struct cmd_def *d, const struct args *p)
{
	int done = feed_done(d, p);

	if (done && (p->npos != 2 || arg_get(p, "obs") == NULL))
		return fw_seterr(FW_ERR_INVALID, "tasks done: give the task id "
		    "and --obs OBS (the observation that answers it)");
	if (!done && p->npos > 0)
		return fw_seterr(FW_ERR_INVALID, "%s: unexpected argument '%.40s'",
		    d->name, p->pos[0]);
	if (!done && strcmp(d->kind, "task") == 0 && arg_get(p, "obs") != NULL)
		return fw_seterr(FW_ERR_INVALID, "tasks: --obs goes with `tasks "
		    "done ID`");
	return FW_OK;
}

static int
feed_task_done(struct args *p, struct agent *a)
{
	fw_err e;
	int rc = 0;

	e = store_task_done(a, p->pos[1], arg_get(p, "obs"));
	agent_close(a);
	if (e != FW_OK)
		rc = cmd_fail(&p->o, "tasks done", e);
	else if (p->o.json) {
		json_t *j = json_object();

		json_object_set_new(j, "task", json_string(p->pos[1]));
		json_object_set_new(j, "done_by", json_string(arg_get(p, "obs")));
		rc = json_out(j);
	} else
		printf("task %s marked answered by %s\n", p->pos[1],
		    arg_get(p, "obs"));
	return rc;
}

static int
feed_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	struct feed_print fp = {NULL, d->kind, 0};
	const char *plural = d->name;
	fw_err e;
	int rc = 0;

	if (feed_done(d, p))
		return feed_task_done(p, a);
	if (p->o.json)
		fp.arr = json_array();
	e = store_feed_list(a, d->kind, feed_one, &fp);
	agent_close(a);
	if (e != FW_OK || fp.arr != NULL)
		rc = list_answer(p, d->name, e, plural, fp.arr);
	else if (fp.n == 0)
		printf("no %s received yet (they arrive with `fundwatch-agent "
		    "sync`)\n", plural);
	return rc;
}

int
cmd_feedback(const struct agent_opts *g, int argc, char **argv)
{
	static const struct cmd_def d = {.name = "feedback",
	    .usage =
	    "usage: fundwatch-agent feedback [--json]\n\n"
	    "The office's feedback on your observations, oldest first.\n",
	    .check = feed_check, .open = 1, .run = feed_run, .kind = "feedback"};

	return cmd_run(&d, g, argc, argv);
}

int
cmd_tasks(const struct agent_opts *g, int argc, char **argv)
{
	static const struct argopt opts[] = {{"obs", ARG_ONE}};
	static const struct cmd_def d = {.name = "tasks",
	    .usage =
	    "usage: fundwatch-agent tasks [--json]\n"
	    "       fundwatch-agent tasks done ID --obs OBS\n\n"
	    "Tasks the office designated to you; `tasks done` notes locally\n"
	    "which observation answers one (also give it `observe --task ID`).\n",
	    .opts = opts, .nopts = NOPTS(opts),
	    .check = feed_check, .open = 1, .run = feed_run, .kind = "task"};

	return cmd_run(&d, g, argc, argv);
}

int
cmd_notices(const struct agent_opts *g, int argc, char **argv)
{
	static const struct cmd_def d = {.name = "notices",
	    .usage =
	    "usage: fundwatch-agent notices [--json]\n\n"
	    "Notices and training material from the office, oldest first.\n",
	    .check = feed_check, .open = 1, .run = feed_run, .kind = "notice"};

	return cmd_run(&d, g, argc, argv);
}

/* ---- export-bundle ------------------------------------------------------------------ */

static const char export_usage[] =
    "usage: fundwatch-agent export-bundle --out DIR [--json]\n"
    "\n"
    "For a USB stick when there is no network: seals what is pending, then\n"
    "writes every bundle not yet receipted as DIR/<bundle seq, 8 digits>-\n"
    "<id>.fwb and every encrypted evidence file it names as DIR/<sha256>,\n"
    "each durably.  The office reads the folder with `fundwatch-server\n"
    "import-bundle`; the next `sync` then fetches the receipts.  A revoked\n"
    "device exports the bundles it sealed before; observations it had not\n"
    "sealed cannot be signed any more.\n";

struct export_ctx {
	struct agent *a;
	const char *dir;
	uint8_t *iobuf;
	size_t bundles, blobs, skipped;
	uint64_t bytes;
	json_t *arr;
};

/* Copy blob src to dst durably, checking its hash on the way. */
static fw_err
export_copy(struct export_ctx *x, const char *src, const char *dst,
    const char *hex)
{
	char tmp[CMD_PATH_MAX], got[SHA256_HEX + 1];
	uint8_t dig[SHA256_LEN];
	struct sha256 *h = NULL;
	uint64_t copied = 0;
	ssize_t r;
	int in, out = -1;
	fw_err e;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return file_errno(errno, src);
	if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp", x->dir, hex) >=
	    (int)sizeof tmp) {
		close(in);
		return fw_seterr(FW_ERR_LIMIT, "export: path too long");
	}
	if ((e = sha256_new(&h)) != FW_OK)
		goto out;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1) {
		e = file_errno(errno, tmp);
		goto out;
	}
	/* Each pass reads at least one byte or ends the copy; a blob is at
	 * most FW_MAX_BLOB bytes, and EINTR is retried a bounded number of
	 * times. */
	for (int intr = 0; intr < 1000;) {
		r = read(in, x->iobuf, CMD_IO_BUF);
		if (r < 0 && errno == EINTR) {
			intr++;
			continue;
		}
		if (r < 0) {
			e = file_errno(errno, src);
			goto out;
		}
		if (r == 0)
			break;
		if ((uint64_t)r > FW_MAX_BLOB - copied) {
			e = fw_seterr(FW_ERR_LIMIT, "export: blob %s is larger than "
			    "a blob may be", hex);
			goto out;
		}
		copied += (uint64_t)r;
		if ((e = sha256_update(h, x->iobuf, (size_t)r)) != FW_OK ||
		    (e = file_write_all(out, x->iobuf, (size_t)r, tmp)) != FW_OK)
			goto out;
		x->bytes += (uint64_t)r;
	}
	if ((e = sha256_final(h, dig)) != FW_OK)
		goto out;
	hex_encode(dig, SHA256_LEN, got);
	if (strcmp(got, hex) != 0) {
		e = fw_seterr(FW_ERR_HASH_MISMATCH, "export: the stored blob %s "
		    "does not match its hash (the device's storage is damaged)",
		    hex);
		goto out;
	}
	if ((e = file_fsync(out, tmp)) != FW_OK)
		goto out;
	if (close(out) == -1) {
		out = -1;
		e = file_errno(errno, tmp);
		goto out;
	}
	out = -1;
	if (rename(tmp, dst) == -1) {
		e = file_errno(errno, dst);
		goto out;
	}
	e = file_fsync_dir(dst);
out:
	if (out != -1)
		close(out);
	if (e != FW_OK)
		unlink(tmp);
	close(in);
	sha256_free(h);
	return e;
}

static fw_err
export_blob(void *ctx, const char *hex, uint64_t size)
{
	struct export_ctx *x = ctx;
	char src[CMD_PATH_MAX], dst[CMD_PATH_MAX];
	struct stat st;
	fw_err e;

	if ((e = store_blob_path(x->a, hex, src, sizeof src)) != FW_OK)
		return e;
	if (snprintf(dst, sizeof dst, "%s/%s", x->dir, hex) >= (int)sizeof dst)
		return fw_seterr(FW_ERR_LIMIT, "export: path too long");
	/* Written by an earlier export: a blob is only ever renamed into
	 * place whole, so the right size means the right file. */
	if (stat(dst, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == size) {
		x->skipped++;
		return FW_OK;
	}
	if ((e = export_copy(x, src, dst, hex)) != FW_OK)
		return fw_errctx(e, "export");
	x->blobs++;
	return FW_OK;
}

static fw_err
export_bundle(void *ctx, const struct store_bundle *b)
{
	struct export_ctx *x = ctx;
	char path[CMD_PATH_MAX], name[128];
	fw_err e;

	snprintf(name, sizeof name, "%08llu-%s.fwb", (unsigned long long)b->seq,
	    b->id);
	if (snprintf(path, sizeof path, "%s/%s", x->dir, name) >=
	    (int)sizeof path)
		return fw_seterr(FW_ERR_LIMIT, "export: path too long");
	if ((e = file_write_durable(path, b->container.data, b->container.len,
	    0600)) != FW_OK)
		return fw_errctx(e, "export");
	x->bytes += b->container.len;
	if ((e = store_bundle_blobs(x->a, b->id, export_blob, x)) != FW_OK)
		return e;
	x->bundles++;
	if (x->arr != NULL) {
		json_t *it = json_object();

		json_object_set_new(it, "file", json_string(name));
		json_object_set_new(it, "bundle", json_string(b->id));
		json_object_set_new(it, "bundle_seq", json_integer((json_int_t)b->seq));
		json_object_set_new(it, "observations",
		    json_integer((json_int_t)b->nobs));
		json_array_append_new(x->arr, it);
	}
	return FW_OK;
}

/* Seal what is pending, then write every unreceipted bundle and its blobs
 * into dir. */
fw_err
cmd_export(struct agent *a, const char *dir, size_t *nbundles, size_t *nblobs,
    json_t *list)
{
	struct export_ctx x;
	struct stat st;
	size_t sealed = 0;
	fw_err e;

	*nbundles = *nblobs = 0;
	if ((e = file_mkdirs(dir, 0700)) != FW_OK)
		return fw_errctx(e, "export: --out");
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode))
		return fw_seterr(FW_ERR_INVALID, "export: --out %s is not a folder",
		    dir);
	if (a->key != NULL) {
		if ((e = store_seal_all(a, &sealed)) != FW_OK)
			return e;
	} else if (a->enrolled)
		log_warnx("export: the device key is gone (%s); only bundles "
		    "sealed before are exported", a->revoked ? "revoked" :
		    fw_strerror(a->key_err));
	memset(&x, 0, sizeof x);
	x.a = a;
	x.dir = dir;
	x.arr = list;
	if ((x.iobuf = malloc(CMD_IO_BUF)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "export: out of memory");
	e = store_bundles_unreceipted(a, export_bundle, &x);
	free(x.iobuf);
	*nbundles = x.bundles;
	*nblobs = x.blobs + x.skipped;
	return e;
}

static int
export_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	size_t nb = 0, nblobs = 0;
	json_t *arr = json_array();
	fw_err e;
	int rc = 0;

	(void)d;
	e = cmd_export(a, arg_get(p, "out"), &nb, &nblobs, arr);
	agent_close(a);
	if (e != FW_OK) {
		json_decref(arr);
		rc = cmd_fail(&p->o, "export-bundle", e);
	} else if (p->o.json) {
		json_t *j = json_object();

		json_object_set_new(j, "out", json_string(arg_get(p, "out")));
		json_object_set_new(j, "bundles", arr);
		json_object_set_new(j, "blobs", json_integer((json_int_t)nblobs));
		rc = json_out(j);
	} else {
		size_t i;
		json_t *it;

		for (i = 0; i < json_array_size(arr) &&
		    (it = json_array_get(arr, i)) != NULL; i++)
			printf("%s  %lld observation%s\n",
			    json_string_value(json_object_get(it, "file")),
			    (long long)json_integer_value(json_object_get(it,
			    "observations")), json_integer_value(json_object_get(it,
			    "observations")) == 1 ? "" : "s");
		printf("%zu bundle%s and %zu evidence file%s in %s\n", nb,
		    nb == 1 ? "" : "s", nblobs, nblobs == 1 ? "" : "s",
		    arg_get(p, "out"));
		json_decref(arr);
	}
	return rc;
}

int
cmd_export_bundle(const struct agent_opts *g, int argc, char **argv)
{
	static const struct argopt opts[] = {{"out", ARG_ONE}};
	static const struct cmd_def d = {.name = "export-bundle",
	    .usage = export_usage, .opts = opts, .nopts = NOPTS(opts),
	    .check = cmd_check_args, .need = "out", .want = "--out DIR", .open = 1,
	    .run = export_run};

	return cmd_run(&d, g, argc, argv);
}

/* ---- config ---------------------------------------------------------------------------- */

static const char config_usage[] =
    "usage: fundwatch-agent config [--json]\n"
    "       fundwatch-agent config --write-defaults FILE\n"
    "\n"
    "Shows the configuration in force (the file, or the defaults when it is\n"
    "absent) and the data folder; --write-defaults writes a commented file\n"
    "holding every setting's default.\n";

static int
config_run(const struct cmd_def *d, struct args *p, struct agent *a)
{
	struct agent_config c;
	const char *path, *out;
	fw_err e;
	int found = 0, rc = 0;

	(void)d;
	(void)a;	/* NULL: the configuration needs no store */
	if ((out = arg_get(p, "write-defaults")) != NULL) {
		if ((e = config_write_defaults(out)) != FW_OK)
			rc = cmd_fail(&p->o, "config", e);
		else if (!p->o.json)
			printf("wrote the default configuration to %s\n", out);
		return rc;
	}
	memset(&c, 0, sizeof c);
	path = config_path(p->o.config);
	if ((e = config_load(&c, path, &found)) != FW_OK) {
		rc = cmd_fail(&p->o, "config", e);
	} else if (p->o.json) {
		json_t *j = json_object();

		json_object_set_new(j, "file", json_string(path));
		json_object_set_new(j, "file_found", json_boolean(found));
		json_object_set_new(j, "data_dir",
		    json_string(config_data_dir(&c, p->o.data)));
		json_object_set_new(j, "server_url", json_string(c.server_url));
		json_object_set_new(j, "interval", json_integer(c.sync_interval));
		json_object_set_new(j, "chunk_size",
		    json_integer((json_int_t)c.chunk_size));
		json_object_set_new(j, "bandwidth",
		    json_integer((json_int_t)c.bandwidth));
		json_object_set_new(j, "bundle_max_observations",
		    json_integer(c.bundle_max_obs));
		json_object_set_new(j, "bundle_max_bytes",
		    json_integer((json_int_t)c.bundle_max_bytes));
		json_object_set_new(j, "retention", json_integer(c.retention));
		rc = json_out(j);
	} else {
		printf("file:                     %s%s\n", path,
		    found ? "" : " (absent: defaults)");
		printf("data_dir:                 %s\n",
		    config_data_dir(&c, p->o.data));
		printf("server_url:               %s\n", c.server_url[0] != '\0' ?
		    c.server_url : "(the enrollment's)");
		printf("interval:                 %lld s\n", (long long)c.sync_interval);
		printf("chunk_size:               %llu\n",
		    (unsigned long long)c.chunk_size);
		printf("bandwidth:                %llu bytes/s%s\n",
		    (unsigned long long)c.bandwidth, c.bandwidth == 0 ?
		    " (no cap)" : "");
		printf("bundle_max_observations:  %lld\n",
		    (long long)c.bundle_max_obs);
		printf("bundle_max_bytes:         %llu\n",
		    (unsigned long long)c.bundle_max_bytes);
		printf("retention:                %lld s\n", (long long)c.retention);
	}
	config_free(&c);
	return rc;
}

int
cmd_config(const struct agent_opts *g, int argc, char **argv)
{
	static const struct argopt opts[] = {{"write-defaults", ARG_ONE}};
	static const struct cmd_def d = {.name = "config", .usage = config_usage,
	    .opts = opts, .nopts = NOPTS(opts), .nopos = 1, .run = config_run};

	return cmd_run(&d, g, argc, argv);
}

/* ---- the table ------------------------------------------------------------------------ */

const struct cmd cmd_table[] = {
	{"enroll", enroll_main, "enroll this device with the office (once)"},
	{"observe", cmd_observe, "record an observation; prints its id"},
	{"attach", cmd_attach, "add evidence files to an observation"},
	{"list", cmd_list, "list the observations on this device"},
	{"show", cmd_show, "show one observation"},
	{"status", cmd_status, "what waits to be sent, last and next sync"},
	{"sync", sync_main, "one sync pass with the office now"},
	{"run", daemon_main, "the daemon: sync on a timer and on each capture"},
	{"categories", cmd_categories, "violation categories of the taxonomy"},
	{"conflicts", cmd_conflicts, "declared conflicts of interest (recusal)"},
	{"feedback", cmd_feedback, "the office's feedback on your observations"},
	{"tasks", cmd_tasks, "designated tasks; `tasks done ID --obs OBS`"},
	{"notices", cmd_notices, "notices and training material"},
	{"export-bundle", cmd_export_bundle, "write bundles and evidence for a "
	    "USB stick"},
	{"config", cmd_config, "the configuration in force; --write-defaults"},
	{NULL, NULL, NULL},
};

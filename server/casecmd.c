/*
 * casecmd.c: the casework subcommands (issue 6), registered in admin.c's
 * table and run like every admin command on the data folder directly:
 *
 *   unit add|list
 *   officer add|list|disable|passwd|role|conflict
 *   route add|list|test
 *   case list|show|export|status|assign|finding|request-evidence|escalate|
 *        extend|substantiate|approve|overdue
 *   verify-export DIR           (top level, no data folder: main.c)
 *
 * They are thin: parse the arguments, call case.c, print.  By default they
 * act as the command line's officer (officer_cli: admin and auditor);
 * `--as OFFICER` acts as that officer instead, with its roles and unit, so
 * that handling a case from the command line passes the same checks as
 * the office API.  Passwords are read from standard input (one line),
 * never from the command line.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server.h"

/* A password: one line of standard input, without its newline. */
static fw_err
casecmd_read_password(char *out, size_t outsz)
{
	size_t n;

	if (fgets(out, (int)outsz, stdin) == NULL)
		return fw_seterr(FW_ERR_INVALID, "password: expected one line on "
		    "standard input");
	n = strcspn(out, "\r\n");
	if (out[n] == '\0' && n == outsz - 1)
		return fw_seterr(FW_ERR_INVALID, "password: longer than %u bytes",
		    OFFICER_PASSWORD_MAX);
	out[n] = '\0';
	return FW_OK;
}

/* An amount in yuan ("1234", "1234.5", "1234.56") in fen. */
static fw_err
casecmd_amount(const char *s, int64_t *fen)
{
	int64_t y = 0, f = 0;
	const char *p = s;
	int digits = 0;

	for (; *p >= '0' && *p <= '9' && digits < 15; p++, digits++)
		y = y * 10 + (*p - '0');
	if (digits == 0)
		goto bad;
	if (*p == '.') {
		p++;
		for (int k = 0; k < 2; k++) {
			f *= 10;
			if (*p >= '0' && *p <= '9')
				f += *p++ - '0';
		}
	}
	if (*p != '\0')
		goto bad;
	*fen = y * 100 + f;
	return FW_OK;
bad:
	return fw_seterr(FW_ERR_INVALID, "amount '%s': expected yuan with at most "
	    "2 decimals and 15 digits", s);
}

static fw_err
casecmd_case_id(const char *s, int64_t *id)
{
	char *end;
	long long v;

	if (s[0] == 'C' || s[0] == 'c')
		s++;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1)
		return fw_seterr(FW_ERR_INVALID, "case id '%s': expected a number", s);
	*id = v;
	return FW_OK;
}

/* Whom the command acts as: --as OFFICER, else officer_cli(). */
struct casecmd_who {
	struct officer o;
	const struct officer *who;
};

static fw_err
casecmd_as(struct admin *a, const char *as, struct casecmd_who *w)
{
	fw_err e;

	memset(w, 0, sizeof *w);
	if (as == NULL) {
		w->who = officer_cli();
		return FW_OK;
	}
	if ((e = officer_get(a->s, as, &w->o)) != FW_OK)
		return e;
	w->who = &w->o;
	return FW_OK;
}

/*
 * The options of a subcommand, as a table: --NAME ARG stores ARG in *arg;
 * a flag (arg NULL) sets *flag to 1.  A repeated option keeps its last.
 */
struct casecmd_opt {
	const char *name;
	char **arg;
	int *flag;
};

#define CASECMD_MAX_OPTS 12

/*
 * Parse the options of argv from argv[first] by the table t (n entries, at
 * most CASECMD_MAX_OPTS).  GNU getopt moves the operands after the
 * options: they are argv[optind..].  Returns 0, or -1 on an unknown option
 * or a missing argument (getopt has said which).
 */
static int
casecmd_options(int argc, char **argv, int first, const struct casecmd_opt *t,
    size_t n)
{
	struct option lo[CASECMD_MAX_OPTS + 1];
	int c;

	if (n > CASECMD_MAX_OPTS)
		return -1;
	memset(lo, 0, sizeof lo);
	for (size_t i = 0; i < n; i++) {
		lo[i].name = t[i].name;
		lo[i].has_arg = t[i].arg != NULL ? required_argument : no_argument;
		lo[i].val = (int)i + 1;
	}
	optind = first;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c < 1 || (size_t)c > n)
			return -1;
		if (t[c - 1].arg != NULL)
			*t[c - 1].arg = optarg;
		else
			*t[c - 1].flag = 1;
	}
	return 0;
}

/* Copy an option's argument, if given, to a fixed field (truncated). */
static void
casecmd_copy(char *dst, size_t dstsz, const char *arg)
{
	if (arg != NULL)
		snprintf(dst, dstsz, "%s", arg);
}

#define CASECMD_NOPTS(t) (sizeof (t) / sizeof (t)[0])

/* A list the command prints: as JSON with --json, else one line per
 * element by row.  Frees list; returns 0, the exit status. */
static int
casecmd_print_list(struct admin *a, json_t *list, void (*row)(json_t *v))
{
	size_t i;
	json_t *v;

	if (a->json) {
		admin_print_json(list);
	} else {
		for (i = 0; i < json_array_size(list) &&
		    (v = json_array_get(list, i)) != NULL; i++)
			row(v);
	}
	json_decref(list);
	return 0;
}

/* ---- unit --------------------------------------------------------------- */

const char casecmd_unit_usage[] =
    "usage: fundwatch-server unit add ID --name NAME --jurisdiction CODE [--city]\n"
    "       fundwatch-server unit list [--json]\n"
    "Units are the offices that handle cases: the city office (--city, told\n"
    "of every major clue) and each county office (QY art 12).  Route rules\n"
    "match a clue's jurisdiction (its supervisor's unit field).\n";

static void
casecmd_unit_row(json_t *v)
{
	printf("%-16s %-16s %s%s  officers %" JSON_INTEGER_FORMAT
	    ", open cases %" JSON_INTEGER_FORMAT "\n",
	    json_string_value(json_object_get(v, "id")),
	    json_string_value(json_object_get(v, "jurisdiction")),
	    json_string_value(json_object_get(v, "name")),
	    json_is_true(json_object_get(v, "city")) ? " (city)" : "",
	    json_integer_value(json_object_get(v, "officers")),
	    json_integer_value(json_object_get(v, "open_cases")));
}

int
casecmd_unit(struct admin *a, int argc, char **argv)
{
	struct unit u = {0};
	char *jurisdiction = NULL;
	const struct casecmd_opt opts[] = {{"name", &u.name, NULL},
	    {"jurisdiction", &jurisdiction, NULL}, {"city", NULL, &u.city}};
	json_t *out = NULL;
	fw_err e;

	if (argc < 2)
		return admin_usage(casecmd_unit_usage);
	if (strcmp(argv[1], "list") == 0) {
		if ((e = unit_list(a->s, &out)) != FW_OK)
			return admin_fail(e);
		return casecmd_print_list(a, out, casecmd_unit_row);
	}
	if (strcmp(argv[1], "add") != 0 || argc < 3)
		return admin_usage(casecmd_unit_usage);
	snprintf(u.id, sizeof u.id, "%s", argv[2]);
	if (casecmd_options(argc, argv, 3, opts, CASECMD_NOPTS(opts)) != 0)
		return admin_usage(casecmd_unit_usage);
	casecmd_copy(u.jurisdiction, sizeof u.jurisdiction, jurisdiction);
	if (u.name == NULL || u.jurisdiction[0] == '\0' || strlen(argv[2]) > FW_MAX_CODE)
		return admin_usage(casecmd_unit_usage);
	if ((e = unit_add(a->s, officer_cli(), &u)) != FW_OK)
		return admin_fail(e);
	if (!a->json)
		printf("unit %s added\n", u.id);
	return 0;
}

/* ---- officer ------------------------------------------------------------ */

const char casecmd_officer_usage[] =
    "usage: fundwatch-server officer add ID --name NAME --unit UNIT --roles LIST\n"
    "       fundwatch-server officer list [--unit UNIT] [--json]\n"
    "       fundwatch-server officer disable ID\n"
    "       fundwatch-server officer passwd ID\n"
    "       fundwatch-server officer role ID --roles LIST\n"
    "       fundwatch-server officer conflict ID --institution KEY\n"
    "LIST: admin,liaison,unit_lead,officer,reward_officer,auditor.  add and\n"
    "passwd read the password (10..1024 bytes) as one line on standard input;\n"
    "it is stored as scrypt.  conflict declares a conflict of interest with an\n"
    "institution (KEY as `route test` prints it): the officer is never routed\n"
    "its cases.\n";

static void
casecmd_officer_row(json_t *v)
{
	json_t *roles = json_object_get(v, "roles"), *r;
	size_t j;

	printf("%-16s %-12s", json_string_value(json_object_get(v, "id")),
	    json_string_value(json_object_get(v, "unit")));
	for (j = 0; j < json_array_size(roles) && (r = json_array_get(roles, j)) != NULL;
	    j++)
		printf("%s%s", j ? "," : " ", json_string_value(r));
	printf("  open %" JSON_INTEGER_FORMAT "%s\n",
	    json_integer_value(json_object_get(v, "open_cases")),
	    json_is_true(json_object_get(v, "disabled")) ? "  DISABLED" : "");
}

int
casecmd_officer(struct admin *a, int argc, char **argv)
{
	const char *verb, *id = NULL;
	char *unit = NULL, *roles = NULL, *inst = NULL;
	struct officer o = {0};
	const struct casecmd_opt opts[] = {{"name", &o.name, NULL},
	    {"unit", &unit, NULL}, {"roles", &roles, NULL},
	    {"institution", &inst, NULL}};
	char pw[OFFICER_PASSWORD_MAX + 2];
	unsigned bits = 0;
	json_t *out = NULL;
	fw_err e = FW_OK;

	if (argc < 2)
		return admin_usage(casecmd_officer_usage);
	verb = argv[1];
	if (casecmd_options(argc, argv, 2, opts, CASECMD_NOPTS(opts)) != 0)
		return admin_usage(casecmd_officer_usage);
	if (optind < argc)
		id = argv[optind++];
	if (optind != argc)
		return admin_usage(casecmd_officer_usage);
	if (strcmp(verb, "list") == 0) {
		if ((e = officer_list(a->s, unit, &out)) != FW_OK)
			return admin_fail(e);
		return casecmd_print_list(a, out, casecmd_officer_row);
	}
	if (id == NULL)
		return admin_usage(casecmd_officer_usage);
	if (roles != NULL && (e = officer_roles_parse(roles, &bits)) != FW_OK)
		return admin_fail(e);
	if (strcmp(verb, "add") == 0) {
		if (o.name == NULL || unit == NULL || roles == NULL)
			return admin_usage(casecmd_officer_usage);
		snprintf(o.id, sizeof o.id, "%s", id);
		snprintf(o.unit, sizeof o.unit, "%s", unit);
		o.roles = bits;
		if ((e = casecmd_read_password(pw, sizeof pw)) == FW_OK)
			e = officer_add(a->s, officer_cli(), &o, pw);
	} else if (strcmp(verb, "passwd") == 0) {
		if ((e = casecmd_read_password(pw, sizeof pw)) == FW_OK)
			e = officer_passwd(a->s, officer_cli(), id, pw);
	} else if (strcmp(verb, "disable") == 0) {
		e = officer_disable(a->s, officer_cli(), id);
	} else if (strcmp(verb, "role") == 0) {
		if (roles == NULL)
			return admin_usage(casecmd_officer_usage);
		e = officer_set_roles(a->s, officer_cli(), id, bits);
	} else if (strcmp(verb, "conflict") == 0) {
		if (inst == NULL)
			return admin_usage(casecmd_officer_usage);
		e = officer_conflict_add(a->s, officer_cli(), id, inst);
	} else {
		return admin_usage(casecmd_officer_usage);
	}
	OPENSSL_cleanse(pw, sizeof pw);
	if (e != FW_OK)
		return admin_fail(e);
	if (!a->json)
		printf("officer %s: %s done\n", id, verb);
	return 0;
}

/* ---- route -------------------------------------------------------------- */

const char casecmd_route_usage[] =
    "usage: fundwatch-server route add --unit UNIT [--jurisdiction J] [--kind K]\n"
    "           [--category C] [--severity normal|major]\n"
    "       fundwatch-server route list [--json]\n"
    "       fundwatch-server route test --jurisdiction J --kind K --category C\n"
    "           [--severity S] [--institution CODE | --name NAME --place PLACE]\n"
    "A rule sends clues matching every field it gives (the others are '*') to\n"
    "a unit; the most specific matching rule wins, then the oldest.  Inside\n"
    "the unit the officer with the fewest open cases takes it, skipping any\n"
    "with a declared conflict.  `test` says where a clue would go and why.\n";

int
casecmd_route(struct admin *a, int argc, char **argv)
{
	struct route_rule r = {.jurisdiction = "*", .kind = "*", .category = "*",
	    .severity = "*"};
	char *unit = NULL, *jur = NULL, *kind = NULL, *cat = NULL, *sev = NULL;
	char *code = NULL, *name = NULL, *place = NULL;
	const struct casecmd_opt opts[] = {{"unit", &unit, NULL},
	    {"jurisdiction", &jur, NULL}, {"kind", &kind, NULL},
	    {"category", &cat, NULL}, {"severity", &sev, NULL},
	    {"institution", &code, NULL}, {"name", &name, NULL},
	    {"place", &place, NULL}};
	char inst[CASE_INST_MAX + 1];
	json_t *out = NULL;
	fw_err e;

	if (argc < 2)
		return admin_usage(casecmd_route_usage);
	if (casecmd_options(argc, argv, 2, opts, CASECMD_NOPTS(opts)) != 0)
		return admin_usage(casecmd_route_usage);
	casecmd_copy(r.unit, sizeof r.unit, unit);
	casecmd_copy(r.jurisdiction, sizeof r.jurisdiction, jur);
	casecmd_copy(r.kind, sizeof r.kind, kind);
	casecmd_copy(r.category, sizeof r.category, cat);
	casecmd_copy(r.severity, sizeof r.severity, sev);
	if (optind != argc)
		return admin_usage(casecmd_route_usage);
	if (strcmp(argv[1], "add") == 0) {
		if (r.unit[0] == '\0')
			return admin_usage(casecmd_route_usage);
		if ((e = route_add(a->s, officer_cli(), &r)) != FW_OK)
			return admin_fail(e);
		if (!a->json)
			printf("route %" PRId64 " added: %s/%s/%s/%s -> %s\n", r.id,
			    r.jurisdiction, r.kind, r.category, r.severity, r.unit);
		return 0;
	}
	if (strcmp(argv[1], "list") == 0)
		e = route_list(a->s, &out);
	else if (strcmp(argv[1], "test") == 0) {
		if (strcmp(r.severity, "*") == 0)
			snprintf(r.severity, sizeof r.severity, "normal");
		case_institution_key(code, name, place, inst);
		e = route_explain(a->s, r.jurisdiction, r.kind, r.category, r.severity,
		    inst, &out);
		if (e == FW_OK)
			json_object_set_new(out, "institution", json_string(inst));
	} else
		return admin_usage(casecmd_route_usage);
	if (e != FW_OK)
		return admin_fail(e);
	if (a->json || strcmp(argv[1], "list") == 0) {
		admin_print_json(out);
	} else {
		size_t i;
		json_t *v;
		printf("unit %s, officer %s\n", json_string_value(json_object_get(out,
		    "unit")), json_string_value(json_object_get(out, "officer")) ?
		    json_string_value(json_object_get(out, "officer")) : "(none)");
		for (i = 0; i < json_array_size(json_object_get(out, "why")) &&
		    (v = json_array_get(json_object_get(out, "why"), i)) != NULL; i++)
			printf("  %s\n", json_string_value(v));
	}
	json_decref(out);
	return 0;
}

/* ---- case --------------------------------------------------------------- */

const char casecmd_case_usage[] =
    "usage: fundwatch-server case list [--overdue] [--unit U] [--status S]\n"
    "       fundwatch-server case show ID\n"
    "       fundwatch-server case export ID --out DIR\n"
    "       fundwatch-server case status ID STATUS [--text T]\n"
    "       fundwatch-server case assign ID OFFICER\n"
    "       fundwatch-server case finding|escalate|extend ID --text T\n"
    "       fundwatch-server case request-evidence ID --text T [--observation O]\n"
    "       fundwatch-server case substantiate ID --amount YUAN [--grade G]\n"
    "           [--reward YUAN] [--text T]\n"
    "       fundwatch-server case approve ID\n"
    "       fundwatch-server case window [DAYS]   the merge window (default 30)\n"
    "every one takes [--as OFFICER] [--json]\n"
    "--overdue first escalates every newly overdue case to its unit lead.\n"
    "--reward is the sum for a grade of the profile without a percentage.\n"
    "STATUS: accepted declined investigating evidence_requested\n"
    "not_substantiated closed.  Changes post feedback to the reporters.\n";

struct casecmd_opts {
	char *as, *unit, *status, *text, *obs, *amount, *grade, *out;
	char *reward;
	int overdue;
};

static void
casecmd_case_row(json_t *v)
{
	printf("C%-6" JSON_INTEGER_FORMAT " %-12s %-18s %-12s clues %"
	    JSON_INTEGER_FORMAT " decide by %s%s%s%s\n",
	    json_integer_value(json_object_get(v, "id")),
	    json_string_value(json_object_get(v, "unit")),
	    json_string_value(json_object_get(v, "status")),
	    json_string_value(json_object_get(v, "assignee")) ?
	    json_string_value(json_object_get(v, "assignee")) : "-",
	    json_integer_value(json_object_get(v, "clues")),
	    json_string_value(json_object_get(v, "decide_by")),
	    json_is_true(json_object_get(v, "major")) ? " MAJOR" : "",
	    json_is_true(json_object_get(v, "overdue")) ? " OVERDUE" : "",
	    json_is_true(json_object_get(v, "escalated")) ? " escalated" : "");
}

static int
casecmd_case_list(struct admin *a, const struct officer *who,
    const struct casecmd_opts *op)
{
	struct case_filter f = {.status = -1, .unit = op->unit};
	json_t *out = NULL;
	int64_t n = 0;
	fw_err e;

	if (op->status != NULL && (f.status = case_status_parse(op->status)) < 0)
		return admin_fail(fw_seterr(FW_ERR_INVALID, "status '%s' unknown",
		    op->status));
	if (op->overdue) {
		f.overdue = 1;
		/* Bounded: each pass escalates up to 256 and marks them. */
		for (int i = 0; i < 1000; i++)
			if ((e = case_escalate_overdue(a->s, calendar_china_day(
			    (int64_t)time(NULL)), &n)) != FW_OK)
				return admin_fail(e);
			else if (n < 256)
				break;
	}
	if ((e = case_list(a->s, who, &f, &out)) != FW_OK)
		return admin_fail(e);
	return casecmd_print_list(a, out, casecmd_case_row);
}

int
casecmd_case(struct admin *a, int argc, char **argv)
{
	struct casecmd_opts op = {0};
	const struct casecmd_opt opts[] = {{"as", &op.as, NULL},
	    {"unit", &op.unit, NULL}, {"status", &op.status, NULL},
	    {"text", &op.text, NULL}, {"observation", &op.obs, NULL},
	    {"amount", &op.amount, NULL}, {"grade", &op.grade, NULL},
	    {"reward", &op.reward, NULL}, {"out", &op.out, NULL},
	    {"overdue", NULL, &op.overdue}};
	struct casecmd_who w;
	const char *verb, *pos[2] = {NULL, NULL};
	json_t *out = NULL;
	int64_t id = 0, fen = 0;
	int np = 0, rc = 0;
	fw_err e = FW_OK;

	if (argc < 2)
		return admin_usage(casecmd_case_usage);
	verb = argv[1];
	/* The operands (ID, STATUS) follow the options. */
	if (casecmd_options(argc, argv, 2, opts, CASECMD_NOPTS(opts)) != 0)
		return admin_usage(casecmd_case_usage);
	while (optind < argc && np < 2)
		pos[np++] = argv[optind++];
	if (optind != argc)
		return admin_usage(casecmd_case_usage);
	if ((e = casecmd_as(a, op.as, &w)) != FW_OK)
		return admin_fail(e);
	if (strcmp(verb, "list") == 0) {
		rc = casecmd_case_list(a, w.who, &op);
		officer_clear(&w.o);
		return rc;
	}
	if (strcmp(verb, "window") == 0) {
		int64_t days = 0;
		char *end = NULL;
		if (pos[0] != NULL) {
			days = strtoll(pos[0], &end, 10);
			e = *pos[0] == '\0' || *end != '\0' ? fw_seterr(FW_ERR_INVALID,
			    "window '%s': expected a number of days", pos[0]) :
			    case_set_merge_days(a->s, w.who, days);
		}
		if (e == FW_OK)
			e = case_merge_days(a->s, &days);
		officer_clear(&w.o);
		if (e != FW_OK)
			return admin_fail(e);
		printf(a->json ? "{\"merge_days\": %" PRId64 "}\n" :
		    "clues merge within %" PRId64 " days\n", days);
		return 0;
	}
	if (pos[0] == NULL || (e = casecmd_case_id(pos[0], &id)) != FW_OK) {
		officer_clear(&w.o);
		return e != FW_OK ? admin_fail(e) : admin_usage(casecmd_case_usage);
	}
	if (strcmp(verb, "show") == 0) {
		if ((e = case_show(a->s, w.who, id, &out)) == FW_OK)
			admin_print_json(out);
	} else if (strcmp(verb, "export") == 0 && op.out != NULL) {
		if ((e = case_export(a->s, w.who, id, op.out)) == FW_OK && !a->json)
			printf("case %" PRId64 " exported to %s; check it with: "
			    "fundwatch-server verify-export %s\n", id, op.out, op.out);
	} else if (strcmp(verb, "status") == 0 && pos[1] != NULL) {
		int st = case_status_parse(pos[1]);
		e = st < 0 ? fw_seterr(FW_ERR_INVALID, "status '%s' unknown", pos[1]) :
		    case_set_status(a->s, w.who, id, (enum case_status)st, op.text);
	} else if (strcmp(verb, "assign") == 0 && pos[1] != NULL) {
		e = case_assign(a->s, w.who, id, pos[1]);
	} else if (strcmp(verb, "finding") == 0) {
		e = case_finding(a->s, w.who, id, op.text);
	} else if (strcmp(verb, "escalate") == 0) {
		e = case_escalate(a->s, w.who, id, op.text);
	} else if (strcmp(verb, "extend") == 0) {
		e = case_extend(a->s, w.who, id, op.text);
	} else if (strcmp(verb, "request-evidence") == 0) {
		e = case_request_evidence(a->s, w.who, id, op.obs, op.text);
	} else if (strcmp(verb, "substantiate") == 0 && op.amount != NULL) {
		int64_t sum = -1;
		if ((e = casecmd_amount(op.amount, &fen)) == FW_OK &&
		    (op.reward == NULL || (e = casecmd_amount(op.reward,
		    &sum)) == FW_OK))
			e = case_substantiate(a->s, w.who, id, fen, op.grade, sum,
			    op.text);
	} else if (strcmp(verb, "approve") == 0) {
		e = case_approve_reward(a->s, w.who, id);
	} else {
		rc = admin_usage(casecmd_case_usage);
	}
	officer_clear(&w.o);
	json_decref(out);
	if (e != FW_OK)
		return admin_fail(e);
	if (rc == 0 && !a->json && strcmp(verb, "show") != 0 &&
	    strcmp(verb, "export") != 0)
		printf("case %" PRId64 ": %s done\n", id, verb);
	return rc;
}

/* ---- verify-export ------------------------------------------------------ */

static const char casecmd_verify_usage[] =
    "usage: fundwatch-server verify-export DIR\n"
    "Checks a case export: each manifest's SHA-256 is its bundle id and its\n"
    "device signature verifies, each receipt verifies with the receipt key,\n"
    "each blob and decrypted evidence file has the hashes the signed manifest\n"
    "gives, each audit entry its hash, and every SHA256SUMS line.  Names the\n"
    "first file that does not verify and exits 1.\n";

int
casecmd_verify_export_main(int argc, char **argv)
{
	int64_t n = 0;
	fw_err e;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s", casecmd_verify_usage);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		return admin_usage(casecmd_verify_usage);
	if ((e = case_verify_export(argv[1], &n)) != FW_OK)
		return admin_fail(e);
	printf("%s: verified, %" PRId64 " checks passed\n", argv[1], n);
	return 0;
}

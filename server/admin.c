/*
 * admin.c: the administration subcommands.  They act on the data folder
 * directly (SQLite lets them run beside a running server), apply the
 * profile's rules (rules.c), and append every change to the audit log.
 * Human output by default, --json for scripts; errors go to stderr with
 * their code and exit 1; a usage error exits 2.
 *
 *   supervisor add|list|show|renew|terminate|change
 *   device code|list|show|revoke
 *   audit verify
 *   import-bundle FILE|DIR
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "server.h"

#define ADMIN_MAX_ATTEST 32

int
admin_fail(fw_err e)
{
	fprintf(stderr, "fundwatch-server: %s (%s)\n", fw_errmsg(), fw_strerror(e));
	return 1;
}

int
admin_usage(const char *text)
{
	fprintf(stderr, "%s", text);
	return 2;
}

void
admin_print_json(json_t *o)
{
	char *t = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (t != NULL)
		printf("%s\n", t);
	free(t);
}

/*
 * Append action on target (detail d, borrowed) to the audit log and commit,
 * if e is FW_OK; on any failure, roll back.  Returns the first error.
 */
static fw_err
admin_audit_commit(struct admin *a, fw_err e, const char *action, const char *target,
    json_t *d)
{
	if (e == FW_OK)
		e = audit_append(a->s->db, a->actor, action, target, d, NULL, NULL);
	if (e == FW_OK)
		e = db_commit(a->s->db);
	else
		db_rollback(a->s->db);
	return e;
}

/* One statement (sql, fmt and the arguments as db_run) and its audit entry
 * in one transaction, as admin_audit_commit. */
static fw_err
admin_commit(struct admin *a, const char *action, const char *target, json_t *d,
    const char *sql, const char *fmt, ...)
{
	va_list ap;
	fw_err e;

	if ((e = db_begin(a->s->db)) == FW_OK) {
		va_start(ap, fmt);
		e = db_runv(a->s->db, sql, fmt, ap);
		va_end(ap);
	}
	return admin_audit_commit(a, e, action, target, d);
}

/*
 * The end of a subcommand that changed something: if e is FW_OK, print d
 * (--json) or the line fmt makes; frees d.  Returns the exit status.
 */
static int admin_finish(struct admin *a, fw_err e, json_t *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
admin_finish(struct admin *a, fw_err e, json_t *d, const char *fmt, ...)
{
	va_list ap;

	if (e == FW_OK && a->json) {
		admin_print_json(d);
	} else if (e == FW_OK) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	json_decref(d);
	return e == FW_OK ? 0 : admin_fail(e);
}

static cal_day
admin_today(void)
{
	return calendar_china_day((int64_t)time(NULL));
}

static fw_err
admin_date(const char *opt, const char *arg, cal_day *out)
{
	if (calendar_parse(arg, out) != FW_OK)
		return fw_seterr(FW_ERR_INVALID, "%s '%s': expected a date YYYY-MM-DD", opt,
		    arg);
	return FW_OK;
}

/* Next free supervisor id "S0001".. */
static fw_err
admin_next_id(struct server *s, char *out, size_t outsz)
{
	sqlite3_stmt *st;
	int64_t n = 0;
	fw_err e;

	if ((e = db_prepare(s->db, &st, "SELECT count(*) FROM supervisors", "")) != FW_OK)
		return e;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	snprintf(out, outsz, "S%04" PRId64, n + 1);
	return FW_OK;
}

static const char admin_sup_add_usage[] =
    "usage: fundwatch-server supervisor add --name NAME --birth YYYY-MM-DD\n"
    "           --method CODE [--attest CODE]... [--start YYYY-MM-DD]\n"
    "           [--exception REASON] [--phone TEXT] [--unit TEXT] [--id ID] [--json]\n"
    "Appoints a supervisor for one term of the profile.  The profile's rules\n"
    "(age bounds, methods, attested eligibility) apply; an age exception needs\n"
    "a reason.  --start defaults to today (China time).\n";

static int
admin_sup_add(struct admin *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"name", required_argument, NULL, 'n'}, {"birth", required_argument, NULL, 'b'},
		{"method", required_argument, NULL, 'm'}, {"attest", required_argument, NULL, 'a'},
		{"start", required_argument, NULL, 's'}, {"exception", required_argument, NULL, 'x'},
		{"phone", required_argument, NULL, 'p'}, {"unit", required_argument, NULL, 'u'},
		{"id", required_argument, NULL, 'i'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *attest[ADMIN_MAX_ATTEST], *name = NULL, *birth = NULL, *phone = "";
	const char *unit = "", *id = NULL;
	struct rules_appointment ap = {.birth = CAL_NONE, .start = CAL_NONE};
	char idbuf[32], why[512], sday[CAL_DATE_LEN], eday[CAL_DATE_LEN];
	json_t *att = NULL, *d = NULL;
	cal_day end;
	fw_err e = FW_OK;
	int c;

	ap.start = admin_today();
	ap.attested = attest;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'b': birth = optarg; break;
		case 'm': ap.method = optarg; break;
		case 'a':
			if (ap.nattested == ADMIN_MAX_ATTEST)
				return admin_usage("too many --attest\n");
			attest[ap.nattested++] = optarg;
			break;
		case 's': e = admin_date("--start", optarg, &ap.start); break;
		case 'x': ap.exception = optarg; break;
		case 'p': phone = optarg; break;
		case 'u': unit = optarg; break;
		case 'i': id = optarg; break;
		case 'j': a->json = 1; break;
		case 'h': printf("%s", admin_sup_add_usage); return 0;
		default: return admin_usage(admin_sup_add_usage);
		}
		if (e != FW_OK)
			return admin_fail(e);
	}
	if (name == NULL || birth == NULL || ap.method == NULL || optind != argc)
		return admin_usage(admin_sup_add_usage);
	if ((e = admin_date("--birth", birth, &ap.birth)) != FW_OK)
		return admin_fail(e);
	if (id != NULL && !profile_code_valid(id))
		return admin_fail(fw_seterr(FW_ERR_INVALID, "--id '%s': 1..32 of "
		    "[A-Za-z0-9._-]", id));
	if ((e = rules_check_appointment(a->s->profile, &ap, why, sizeof why)) != FW_OK)
		return admin_fail(e);
	end = rules_term_end(a->s->profile, ap.start);
	calendar_format(ap.start, sday);
	calendar_format(end, eday);
	if ((att = json_array()) == NULL)
		return admin_fail(fw_seterr(FW_ERR_NOMEM, "out of memory"));
	for (size_t i = 0; i < ap.nattested; i++)
		json_array_append_new(att, json_string(attest[i]));
	if ((e = db_begin(a->s->db)) != FW_OK)
		goto out;
	if (id == NULL && (e = admin_next_id(a->s, idbuf, sizeof idbuf)) == FW_OK)
		id = idbuf;
	if (e == FW_OK) {
		char *attext = json_dumps(att, JSON_COMPACT);
		e = attext ? db_run(a->s->db, "INSERT INTO supervisors (id, name, birth, phone,"
		    " unit, method, exception_reason, attestations, status, created)"
		    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)", "ssssssssi", id, name,
		    birth, phone, unit, ap.method, ap.exception, attext, (int64_t)time(NULL))
		    : fw_seterr(FW_ERR_NOMEM, "out of memory");
		free(attext);
		if (e == FW_ERR_CONFLICT)
			e = fw_seterr(FW_ERR_EXISTS, "supervisor %s already exists", id);
	}
	if (e == FW_OK)
		e = db_run(a->s->db, "INSERT INTO terms (supervisor_id, start_day, end_day)"
		    " VALUES (?, ?, ?)", "sss", id, sday, eday);
	d = json_pack("{ss ss ss ss sO sb}", "supervisor", id, "method", ap.method,
	    "start", sday, "end", eday, "attested", att, "exception",
	    ap.exception != NULL);
	if (e == FW_OK && d == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "out of memory");
	e = admin_audit_commit(a, e, "supervisor.added", id, d);
out:
	json_decref(att);
	return admin_finish(a, e, d, "supervisor %s appointed: term %s .. %s (%s)\n", id,
	    sday, eday, a->s->profile->appt.term_article ? a->s->profile->appt.term_article
	    : "profile");
}

/* Current term (the latest) of a supervisor, and its termination day. */
static fw_err
admin_current_term(struct server *s, const char *id, cal_day *start, cal_day *end,
    cal_day *stop)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if ((e = db_prepare(s->db, &st, "SELECT t.start_day, t.end_day, s.terminated_on"
	    " FROM supervisors s JOIN terms t ON t.supervisor_id = s.id WHERE s.id = ?"
	    " ORDER BY t.start_day DESC LIMIT 1", "s", id)) != FW_OK)
		return e;
	rc = sqlite3_step(st);
	*stop = CAL_NONE;
	if (rc == SQLITE_ROW) {
		const char *off = (const char *)sqlite3_column_text(st, 2);
		if (calendar_parse((const char *)sqlite3_column_text(st, 0), start) != FW_OK ||
		    calendar_parse((const char *)sqlite3_column_text(st, 1), end) != FW_OK ||
		    (off != NULL && calendar_parse(off, stop) != FW_OK))
			rc = SQLITE_CORRUPT;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return fw_seterr(FW_ERR_NOT_FOUND, "no supervisor %s", id);
	return rc == SQLITE_ROW ? FW_OK : fw_seterr(FW_ERR_INTERNAL, "supervisor %s: "
	    "stored dates unreadable", id);
}

static const char admin_sup_list_usage[] =
    "usage: fundwatch-server supervisor list [--json]\n"
    "Lists supervisors with the state of their appointment today.\n";

static int
admin_sup_list(struct admin *a, int argc, char **argv)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	cal_day today = admin_today();
	fw_err e;
	int rc;

	(void)argv;
	if (argc > 1)
		return admin_usage(admin_sup_list_usage);
	if ((e = db_prepare(a->s->db, &st, "SELECT s.id, s.name, s.unit, s.method,"
	    " max(t.start_day), max(t.end_day), s.terminated_on FROM supervisors s"
	    " JOIN terms t ON t.supervisor_id = s.id GROUP BY s.id ORDER BY s.id", "")) != FW_OK)
		return admin_fail(e);
	if (!a->json)
		printf("%-8s %-16s %-12s %-10s %-10s %s\n", "ID", "NAME", "STATE", "START",
		    "END", "UNIT");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *off = (const char *)sqlite3_column_text(st, 6);
		cal_day sd = CAL_NONE, ed = CAL_NONE, stop = CAL_NONE;
		const char *state;

		calendar_parse((const char *)sqlite3_column_text(st, 4), &sd);
		calendar_parse((const char *)sqlite3_column_text(st, 5), &ed);
		if (off != NULL)
			calendar_parse(off, &stop);
		state = rules_state_name(rules_state(a->s->profile, sd, ed, stop, today));
		if (a->json)
			json_array_append_new(arr, json_pack("{ss ss ss ss ss ss ss}", "id",
			    sqlite3_column_text(st, 0), "name", sqlite3_column_text(st, 1),
			    "unit", sqlite3_column_text(st, 2), "method",
			    sqlite3_column_text(st, 3), "state", state, "start",
			    sqlite3_column_text(st, 4), "end", sqlite3_column_text(st, 5)));
		else
			printf("%-8s %-16s %-12s %-10s %-10s %s\n", sqlite3_column_text(st, 0),
			    sqlite3_column_text(st, 1), state, sqlite3_column_text(st, 4),
			    sqlite3_column_text(st, 5), sqlite3_column_text(st, 2));
	}
	sqlite3_finalize(st);
	if (a->json)
		admin_print_json(arr);
	json_decref(arr);
	return rc == SQLITE_DONE ? 0 : admin_fail(db_error(a->s->db, "list"));
}

static const char admin_sup_show_usage[] =
    "usage: fundwatch-server supervisor show ID [--json]\n";

static int
admin_sup_show(struct admin *a, int argc, char **argv)
{
	sqlite3_stmt *st;
	json_t *o = NULL, *terms = json_array(), *devs = json_array();
	cal_day start, end, stop;
	fw_err e;
	int rc;

	if (argc != 2)
		return admin_usage(admin_sup_show_usage);
	if ((e = admin_current_term(a->s, argv[1], &start, &end, &stop)) != FW_OK)
		return admin_fail(e);
	if ((e = db_prepare(a->s->db, &st, "SELECT id, name, birth, phone, unit, method,"
	    " exception_reason, attestations, terminated_on, termination_reason"
	    " FROM supervisors WHERE id = ?", "s", argv[1])) != FW_OK)
		return admin_fail(e);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = json_pack("{ss ss ss ss ss ss s:s? s:s? s:s? ss}", "id",
		    sqlite3_column_text(st, 0), "name", sqlite3_column_text(st, 1), "birth",
		    sqlite3_column_text(st, 2), "phone", sqlite3_column_text(st, 3), "unit",
		    sqlite3_column_text(st, 4), "method", sqlite3_column_text(st, 5),
		    "exception", sqlite3_column_text(st, 6), "terminated_on",
		    sqlite3_column_text(st, 8), "termination_reason",
		    sqlite3_column_text(st, 9), "state", rules_state_name(rules_state(
		    a->s->profile, start, end, stop, admin_today())));
	sqlite3_finalize(st);
	if (o == NULL)
		return admin_fail(fw_seterr(FW_ERR_NOMEM, "out of memory"));
	if (db_prepare(a->s->db, &st, "SELECT start_day, end_day FROM terms WHERE"
	    " supervisor_id = ? ORDER BY start_day", "s", argv[1]) == FW_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(terms, json_pack("{ss ss}", "start",
			    sqlite3_column_text(st, 0), "end", sqlite3_column_text(st, 1)));
		sqlite3_finalize(st);
	}
	if (db_prepare(a->s->db, &st, "SELECT id, revoked IS NOT NULL FROM devices WHERE"
	    " supervisor_id = ? ORDER BY enrolled", "s", argv[1]) == FW_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(devs, json_pack("{ss sb}", "id",
			    sqlite3_column_text(st, 0), "revoked", sqlite3_column_int(st, 1)));
		sqlite3_finalize(st);
	}
	json_object_set_new(o, "terms", terms);
	json_object_set_new(o, "devices", devs);
	if (a->json) {
		admin_print_json(o);
	} else {
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v) {
			if (json_is_string(v))
				printf("%-19s %s\n", k, json_string_value(v));
		}
		for (size_t i = 0; i < json_array_size(terms); i++)
			printf("term %-14zu %s .. %s\n", i + 1,
			    json_string_value(json_object_get(json_array_get(terms, i), "start")),
			    json_string_value(json_object_get(json_array_get(terms, i), "end")));
		for (size_t i = 0; i < json_array_size(devs); i++)
			printf("device %-12s %s%s\n", "",
			    json_string_value(json_object_get(json_array_get(devs, i), "id")),
			    json_is_true(json_object_get(json_array_get(devs, i), "revoked"))
			    ? " (revoked)" : "");
	}
	json_decref(o);
	return 0;
}

static const char admin_sup_renew_usage[] =
    "usage: fundwatch-server supervisor renew ID [--consent] [--on YYYY-MM-DD] [--json]\n"
    "Adds a term after the current one, as the profile allows (--consent records\n"
    "the supervisor's agreement where the profile requires it).\n";

static int
admin_sup_renew(struct admin *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"consent", no_argument, NULL, 'c'}, {"on", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	cal_day on = admin_today(), start, end, stop, nend;
	char why[512], sday[CAL_DATE_LEN], eday[CAL_DATE_LEN];
	json_t *d;
	fw_err e = FW_OK;
	int c, consent = 0;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'c')
			consent = 1;
		else if (c == 'o' && (e = admin_date("--on", optarg, &on)) != FW_OK)
			return admin_fail(e);
		else if (c == 'j')
			a->json = 1;
		else if (c == 'h')
			return printf("%s", admin_sup_renew_usage), 0;
		else if (c != 'o')
			return admin_usage(admin_sup_renew_usage);
	}
	if (optind != argc - 1)
		return admin_usage(admin_sup_renew_usage);
	if ((e = admin_current_term(a->s, argv[optind], &start, &end, &stop)) != FW_OK)
		return admin_fail(e);
	if (stop != CAL_NONE)
		return admin_fail(fw_seterr(FW_ERR_POLICY, "supervisor %s was terminated; "
		    "appoint again instead", argv[optind]));
	if ((e = rules_check_renewal(a->s->profile, end, on, consent, &nend, why,
	    sizeof why)) != FW_OK)
		return admin_fail(e);
	calendar_format(end, sday);
	calendar_format(nend, eday);
	d = json_pack("{ss ss ss sb}", "supervisor", argv[optind], "start", sday, "end",
	    eday, "consent", consent);
	e = admin_commit(a, "supervisor.renewed", argv[optind], d, "INSERT INTO terms"
	    " (supervisor_id, start_day, end_day) VALUES (?, ?, ?)", "sss", argv[optind],
	    sday, eday);
	return admin_finish(a, e, d, "supervisor %s renewed: term %s .. %s\n", argv[optind],
	    sday, eday);
}

static const char admin_sup_term_usage[] =
    "usage: fundwatch-server supervisor terminate ID --reason CODE\n"
    "           [--on YYYY-MM-DD] [--effective YYYY-MM-DD] [--note TEXT]\n"
    "           [--exception REASON] [--json]\n"
    "Ends an appointment for one of the profile's termination reasons.  --on is\n"
    "the day recorded (for a resignation, the day it was asked); the profile\n"
    "decides the effective day (a resignation's notice period, say).\n";

static int
admin_sup_terminate(struct admin *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"reason", required_argument, NULL, 'r'}, {"on", required_argument, NULL, 'o'},
		{"effective", required_argument, NULL, 'e'}, {"note", required_argument, NULL, 'n'},
		{"exception", required_argument, NULL, 'x'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct rules_termination t = {.recorded = admin_today(), .wanted = CAL_NONE};
	cal_day start, stop, eff;
	char why[512], effs[CAL_DATE_LEN];
	json_t *d;
	fw_err e = FW_OK;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'r': t.reason = optarg; break;
		case 'o': e = admin_date("--on", optarg, &t.recorded); break;
		case 'e': e = admin_date("--effective", optarg, &t.wanted); break;
		case 'n': t.note = optarg; break;
		case 'x': t.exception = optarg; break;
		case 'j': a->json = 1; break;
		case 'h': printf("%s", admin_sup_term_usage); return 0;
		default: return admin_usage(admin_sup_term_usage);
		}
		if (e != FW_OK)
			return admin_fail(e);
	}
	if (t.reason == NULL || optind != argc - 1)
		return admin_usage(admin_sup_term_usage);
	if ((e = admin_current_term(a->s, argv[optind], &start, &t.term_end, &stop)) != FW_OK)
		return admin_fail(e);
	if (stop != CAL_NONE)
		return admin_fail(fw_seterr(FW_ERR_POLICY, "supervisor %s is already "
		    "terminated", argv[optind]));
	if ((e = rules_check_termination(a->s->profile, &t, &eff, why, sizeof why)) != FW_OK)
		return admin_fail(e);
	calendar_format(eff, effs);
	d = json_pack("{ss ss ss}", "supervisor", argv[optind], "reason", t.reason,
	    "effective", effs);
	e = admin_commit(a, "supervisor.terminated", argv[optind], d, "UPDATE supervisors"
	    " SET status = 'terminated', terminated_on = ?, termination_reason = ?,"
	    " termination_note = ? WHERE id = ?", "ssss", effs, t.reason, t.note,
	    argv[optind]);
	return admin_finish(a, e, d, "supervisor %s terminated (%s): no longer appointed"
	    " from %s\n", argv[optind], profile_termination(a->s->profile,
	    t.reason)->e.article, effs);
}

static const char admin_sup_change_usage[] =
    "usage: fundwatch-server supervisor change ID [--name TEXT] [--phone TEXT]\n"
    "           [--unit TEXT] [--changed YYYY-MM-DD] [--json]\n"
    "Records a change of a supervisor's information; --changed is the day it\n"
    "changed, from which the profile's reporting deadline runs (GP art 7).\n";

static int
admin_sup_change(struct admin *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"name", required_argument, NULL, 'n'}, {"phone", required_argument, NULL, 'p'},
		{"unit", required_argument, NULL, 'u'}, {"changed", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *name = NULL, *phone = NULL, *unit = NULL;
	cal_day changed = admin_today(), due, start, end, stop;
	struct calendar *cal = NULL;
	char path[PATH_MAX], dues[CAL_DATE_LEN] = "", chs[CAL_DATE_LEN];
	json_t *d;
	fw_err e = FW_OK;
	int c, late = 0;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'p': phone = optarg; break;
		case 'u': unit = optarg; break;
		case 'c': e = admin_date("--changed", optarg, &changed); break;
		case 'j': a->json = 1; break;
		case 'h': printf("%s", admin_sup_change_usage); return 0;
		default: return admin_usage(admin_sup_change_usage);
		}
		if (e != FW_OK)
			return admin_fail(e);
	}
	if (optind != argc - 1 || (name == NULL && phone == NULL && unit == NULL))
		return admin_usage(admin_sup_change_usage);
	if ((e = admin_current_term(a->s, argv[optind], &start, &end, &stop)) != FW_OK)
		return admin_fail(e);
	server_path(a->s, "holidays.txt", path, sizeof path);
	if ((e = calendar_load(path, &cal)) == FW_ERR_NOT_FOUND)
		e = calendar_new(&cal);
	if (e != FW_OK)
		return admin_fail(e);
	e = rules_info_change_due(a->s->profile, cal, changed, &due);
	calendar_free(cal);
	if (e == FW_OK) {
		calendar_format(due, dues);
		late = admin_today() > due;
	} else if (e != FW_ERR_NOT_FOUND) {
		return admin_fail(e);
	}
	calendar_format(changed, chs);
	d = json_pack("{ss ss sb sb sb s:s? sb}", "supervisor", argv[optind], "changed", chs,
	    "name", name != NULL, "phone", phone != NULL, "unit", unit != NULL,
	    "report_due", dues[0] ? dues : NULL, "late", late);
	e = admin_commit(a, "supervisor.changed", argv[optind], d, "UPDATE supervisors"
	    " SET name = coalesce(?, name), phone = coalesce(?, phone),"
	    " unit = coalesce(?, unit) WHERE id = ?", "ssss", name, phone, unit,
	    argv[optind]);
	if (e != FW_OK || a->json || !dues[0])
		return admin_finish(a, e, d, "supervisor %s changed on %s\n", argv[optind],
		    chs);
	printf("supervisor %s changed on %s; report due by %s (%s)%s\n", argv[optind], chs,
	    dues, a->s->profile->deadlines.info_change_article,
	    late ? ": reported LATE" : "");
	json_decref(d);
	return 0;
}

static const char admin_dev_code_usage[] =
    "usage: fundwatch-server device code --supervisor ID [--ttl SECONDS] [--json]\n"
    "Issues a one-time enrollment code for a device of an appointed supervisor\n"
    "(valid 24 h by default, or as fundwatch.conf's enroll_ttl says).\n";

static int
admin_dev_code(struct admin *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"supervisor", required_argument, NULL, 's'}, {"ttl", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *sup = NULL;
	int64_t ttl = a->s->cfg.enroll_ttl, expires;
	char code[15], exp[21], *end;
	json_t *d;
	fw_err e;
	int c, status;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 's')
			sup = optarg;
		else if (c == 't') {
			errno = 0;
			ttl = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || ttl < 60 || ttl > 30 * 86400)
				return admin_usage("--ttl: seconds, 60..2592000\n");
		} else if (c == 'j')
			a->json = 1;
		else if (c == 'h')
			return printf("%s", admin_dev_code_usage), 0;
		else
			return admin_usage(admin_dev_code_usage);
	}
	if (sup == NULL || optind != argc)
		return admin_usage(admin_dev_code_usage);
	if ((e = db_begin(a->s->db)) != FW_OK)
		return admin_fail(e);
	if ((e = registry_term_at(a->s, sup, (int64_t)time(NULL), NULL, NULL)) != FW_OK ||
	    (e = ingest_new_code(a->s, sup, ttl, code, &expires)) != FW_OK) {
		db_rollback(a->s->db);
		return admin_fail(e);
	}
	bundle_time_format(expires, exp);
	/* The code itself never reaches the audit log. */
	d = json_pack("{ss ss}", "supervisor", sup, "expires", exp);
	e = admin_audit_commit(a, FW_OK, "device.code", sup, d);
	if (e == FW_OK && a->json)
		json_object_set_new(d, "code", json_string(code));
	status = admin_finish(a, e, d, "enrollment code for supervisor %s: %s (valid until"
	    " %s, once)\n", sup, code, exp);
	OPENSSL_cleanse(code, sizeof code);
	return status;
}

static const char admin_dev_list_usage[] =
    "usage: fundwatch-server device list [--json]\n";

static int
admin_dev_list(struct admin *a, int argc, char **argv)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	fw_err e;
	int rc;

	(void)argv;
	if (argc > 1)
		return admin_usage(admin_dev_list_usage);
	if ((e = db_prepare(a->s->db, &st, "SELECT d.id, d.supervisor_id, d.enrolled,"
	    " d.revoked IS NOT NULL, (SELECT count(*) FROM observations o WHERE"
	    " o.device_id = d.id), (SELECT max(seq) FROM observations o WHERE"
	    " o.device_id = d.id) FROM devices d ORDER BY d.enrolled", "")) != FW_OK)
		return admin_fail(e);
	if (!a->json)
		printf("%-32s %-10s %-20s %-8s %s\n", "DEVICE", "SUPERVISOR", "ENROLLED",
		    "STATE", "OBSERVATIONS");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char t[21];
		bundle_time_format(sqlite3_column_int64(st, 2), t);
		if (a->json)
			json_array_append_new(arr, json_pack("{ss ss ss sb sI sI}", "id",
			    sqlite3_column_text(st, 0), "supervisor", sqlite3_column_text(st, 1),
			    "enrolled", t, "revoked", sqlite3_column_int(st, 3), "observations",
			    (json_int_t)sqlite3_column_int64(st, 4), "last_seq",
			    (json_int_t)sqlite3_column_int64(st, 5)));
		else
			printf("%-32s %-10s %-20s %-8s %" PRId64 "\n", sqlite3_column_text(st, 0),
			    sqlite3_column_text(st, 1), t, sqlite3_column_int(st, 3) ? "revoked"
			    : "active", (int64_t)sqlite3_column_int64(st, 4));
	}
	sqlite3_finalize(st);
	if (a->json)
		admin_print_json(arr);
	json_decref(arr);
	return rc == SQLITE_DONE ? 0 : admin_fail(db_error(a->s->db, "list"));
}

/* Runs of seqs a device's held observations skip: [{from, to}]. */
static fw_err
admin_gaps(struct server *s, const char *dev, json_t *gaps)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if ((e = db_prepare(s->db, &st, "SELECT prev_seq + 1, seq - 1 FROM (SELECT seq,"
	    " coalesce(lag(seq) OVER (ORDER BY seq), 0) AS prev_seq FROM observations"
	    " WHERE device_id = ?) WHERE seq > prev_seq + 1", "s", dev)) != FW_OK)
		return e;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(gaps, json_pack("{sI sI}", "from",
		    (json_int_t)sqlite3_column_int64(st, 0), "to",
		    (json_int_t)sqlite3_column_int64(st, 1)));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? FW_OK : db_error(s->db, "gaps");
}

static const char admin_dev_show_usage[] =
    "usage: fundwatch-server device show ID [--json]\n"
    "Shows a device, its observations and the gaps in its sequence numbers\n"
    "(observations lost or withheld on the device, or still on their way).\n";

static int
admin_dev_show(struct admin *a, int argc, char **argv)
{
	sqlite3_stmt *st;
	json_t *o = NULL, *gaps = json_array();
	fw_err e;

	if (argc != 2)
		return admin_usage(admin_dev_show_usage);
	if ((e = db_prepare(a->s->db, &st, "SELECT d.id, d.supervisor_id, d.enrolled,"
	    " d.revoked, d.revoke_reason, (SELECT count(*) FROM observations o WHERE"
	    " o.device_id = d.id), (SELECT max(seq) FROM observations o WHERE"
	    " o.device_id = d.id), (SELECT count(*) FROM bundles b WHERE b.device_id = d.id"
	    " AND b.state = 'committed') FROM devices d WHERE d.id = ?", "s", argv[1])) != FW_OK)
		return admin_fail(e);
	if (sqlite3_step(st) == SQLITE_ROW) {
		char t[21];
		bundle_time_format(sqlite3_column_int64(st, 2), t);
		o = json_pack("{ss ss ss sb s:s? sI sI sI}", "id", sqlite3_column_text(st, 0),
		    "supervisor", sqlite3_column_text(st, 1), "enrolled", t, "revoked",
		    sqlite3_column_type(st, 3) != SQLITE_NULL, "revoke_reason",
		    sqlite3_column_text(st, 4), "observations",
		    (json_int_t)sqlite3_column_int64(st, 5), "last_seq",
		    (json_int_t)sqlite3_column_int64(st, 6), "bundles",
		    (json_int_t)sqlite3_column_int64(st, 7));
	}
	sqlite3_finalize(st);
	if (o == NULL) {
		json_decref(gaps);
		return admin_fail(fw_seterr(FW_ERR_NOT_FOUND, "no device %s", argv[1]));
	}
	if ((e = admin_gaps(a->s, argv[1], gaps)) != FW_OK) {
		json_decref(o);
		json_decref(gaps);
		return admin_fail(e);
	}
	json_object_set_new(o, "gaps", gaps);
	if (a->json) {
		admin_print_json(o);
	} else {
		printf("device       %s\nsupervisor   %s\nenrolled     %s\nstate        %s\n"
		    "observations %" JSON_INTEGER_FORMAT " (last seq %" JSON_INTEGER_FORMAT ")"
		    " in %" JSON_INTEGER_FORMAT " bundles\n",
		    json_string_value(json_object_get(o, "id")),
		    json_string_value(json_object_get(o, "supervisor")),
		    json_string_value(json_object_get(o, "enrolled")),
		    json_is_true(json_object_get(o, "revoked")) ? "revoked" : "active",
		    json_integer_value(json_object_get(o, "observations")),
		    json_integer_value(json_object_get(o, "last_seq")),
		    json_integer_value(json_object_get(o, "bundles")));
		for (size_t i = 0; i < json_array_size(gaps); i++)
			printf("gap          seq %" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT
			    " not received\n",
			    json_integer_value(json_object_get(json_array_get(gaps, i), "from")),
			    json_integer_value(json_object_get(json_array_get(gaps, i), "to")));
	}
	json_decref(o);
	return 0;
}

static const char admin_dev_revoke_usage[] =
    "usage: fundwatch-server device revoke ID --reason TEXT [--json]\n"
    "Revokes a device: its requests are refused from now on, and a revocation\n"
    "message waits in its feed.\n";

static int
admin_dev_revoke(struct admin *a, int argc, char **argv)
{
	static const struct option lo[] = {
		{"reason", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *reason = NULL;
	json_t *d;
	fw_err e;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'r')
			reason = optarg;
		else if (c == 'j')
			a->json = 1;
		else if (c == 'h')
			return printf("%s", admin_dev_revoke_usage), 0;
		else
			return admin_usage(admin_dev_revoke_usage);
	}
	if (reason == NULL || optind != argc - 1)
		return admin_usage(admin_dev_revoke_usage);
	d = json_pack("{ss ss}", "device", argv[optind], "reason", reason);
	if ((e = db_begin(a->s->db)) == FW_OK &&
	    (e = db_run(a->s->db, "UPDATE devices SET revoked = ?, revoke_reason = ?"
	    " WHERE id = ? AND revoked IS NULL", "iss", (int64_t)time(NULL), reason,
	    argv[optind])) == FW_OK && sqlite3_changes(a->s->db) == 0)
		e = fw_seterr(FW_ERR_NOT_FOUND, "no unrevoked device %s", argv[optind]);
	if (e == FW_OK) {
		json_t *body = json_pack("{ss}", "reason", reason);
		e = body ? ingest_feed_post(a->s, argv[optind], "revocation", body)
		    : fw_seterr(FW_ERR_NOMEM, "out of memory");
		json_decref(body);
	}
	e = admin_audit_commit(a, e, "device.revoked", argv[optind], d);
	return admin_finish(a, e, d, "device %s revoked\n", argv[optind]);
}

static const char admin_audit_usage[] =
    "usage: fundwatch-server audit verify [--json]\n"
    "Recomputes the audit log's hash chain and names the first entry that\n"
    "does not match.\n";

static int
admin_audit(struct admin *a, int argc, char **argv)
{
	int64_t n = 0;
	fw_err e;

	if (argc != 2 || strcmp(argv[1], "verify") != 0)
		return admin_usage(admin_audit_usage);
	e = audit_verify(a->s->db, &n);
	if (a->json) {
		json_t *o = json_pack("{sb sI s:s?}", "ok", e == FW_OK, "entries",
		    (json_int_t)n, "error", e == FW_OK ? NULL : fw_errmsg());
		admin_print_json(o);
		json_decref(o);
	} else if (e == FW_OK) {
		printf("audit log verified: %" PRId64 " entries, chain intact\n", n);
	}
	return e == FW_OK ? 0 : admin_fail(e);
}

/* Find the file of a blob beside an exported bundle. */
static int
admin_blob_file(const char *dir, const char *hex)
{
	static const char *const forms[] = {"", "blobs/"};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		int fd;
		if (snprintf(path, sizeof path, "%s/%s%s", dir, forms[i], hex) >=
		    (int)sizeof path)
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1)
			return fd;
	}
	fw_seterr(FW_ERR_NOT_FOUND, "blob %s: not found in %s or %s/blobs", hex, dir, dir);
	return -1;
}

/* Upload one missing blob from its file, from the offset the server holds. */
static fw_err
admin_import_blob(struct server *s, const char *dir, const char *device, json_t *miss,
    uint8_t *chunk)
{
	const char *hex = json_string_value(json_object_get(miss, "blob"));
	uint64_t off = (uint64_t)json_integer_value(json_object_get(miss, "offset"));
	uint64_t size = (uint64_t)json_integer_value(json_object_get(miss, "size"));
	json_t *ans = NULL;
	fw_err e = FW_OK;
	int fd;

	if (hex == NULL || (fd = admin_blob_file(dir, hex)) == -1)
		return hex ? FW_ERR_NOT_FOUND : fw_seterr(FW_ERR_INTERNAL, "bad missing list");
	/* Bounded: each pass moves off forward by at least one byte. */
	while (e == FW_OK && off < size) {
		ssize_t r = pread(fd, chunk, s->cfg.max_chunk, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			e = r == 0 ? fw_seterr(FW_ERR_TRUNCATED, "blob %s: file ends at %" PRIu64
			    " of %" PRIu64 " bytes", hex, off, size) : file_errno(errno, hex);
			break;
		}
		json_decref(ans);
		ans = NULL;
		if ((e = ingest_upload(s, device, hex, off, chunk, (size_t)r, &ans)) == FW_OK)
			off = (uint64_t)json_integer_value(json_object_get(ans, "offset"));
	}
	json_decref(ans);
	close(fd);
	return e;
}

/* Offer, upload what is missing, commit: the same path as HTTPS. */
static fw_err
admin_import_one(struct admin *a, const char *path, json_t *results)
{
	char dir[PATH_MAX], *slash;
	struct fw_bundle *b = NULL;
	uint8_t *p = NULL, *chunk = NULL;
	json_t *ans = NULL, *miss;
	size_t n;
	fw_err e;

	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	if ((e = file_read_all(path, FW_MAX_BUNDLE, &p, &n)) != FW_OK)
		return e;
	if ((e = ingest_offer(a->s, NULL, p, n, &ans)) != FW_OK ||
	    (e = bundle_open(p, n, &b)) != FW_OK)
		goto out;
	miss = json_object_get(ans, "missing");
	if (json_array_size(miss) > 0 && (chunk = malloc(a->s->cfg.max_chunk)) == NULL) {
		e = fw_seterr(FW_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; e == FW_OK && i < json_array_size(miss); i++)
		e = admin_import_blob(a->s, dir, b->m->device, json_array_get(miss, i), chunk);
	if (e != FW_OK)
		goto out;
	json_decref(ans);
	ans = NULL;
	if ((e = ingest_commit(a->s, NULL, b->id, &ans)) != FW_OK)
		goto out;
	json_array_append_new(results, json_pack("{ss sO}", "file", path, "receipt",
	    json_object_get(ans, "receipt")));
	if (!a->json)
		printf("%s: bundle %s committed, %zu observations, audit entry %"
		    JSON_INTEGER_FORMAT "\n", path, b->id, b->m->nobs, json_integer_value(
		    json_object_get(json_object_get(ans, "receipt"), "audit_seq")));
out:
	json_decref(ans);
	bundle_free(b);
	free(chunk);
	free(p);
	return e;
}

static int
admin_name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static const char admin_import_usage[] =
    "usage: fundwatch-server import-bundle FILE|DIR [--json]\n"
    "Imports bundles exported by a device (export-bundle): each .fwb file with\n"
    "its blobs beside it (or in blobs/), through the same checks and dedup as\n"
    "a sync over HTTPS.  A DIR is imported in file-name order.\n";

static int
admin_import(struct admin *a, int argc, char **argv)
{
	json_t *results = json_array();
	char *names[4096], path[PATH_MAX];
	size_t nn = 0;
	DIR *d;
	fw_err e = FW_OK;
	int failed = 0;

	if (argc != 2 || argv[1][0] == '-')
		return admin_usage(admin_import_usage);
	if ((d = opendir(argv[1])) == NULL) {
		if (errno != ENOTDIR) {
			json_decref(results);
			return admin_fail(file_errno(errno, argv[1]));
		}
		if ((e = admin_import_one(a, argv[1], results)) != FW_OK)
			failed = admin_fail(e);
	} else {
		struct dirent *de;
		while ((de = readdir(d)) != NULL && nn < sizeof names / sizeof names[0]) {
			size_t l = strlen(de->d_name);
			if (l > 4 && strcmp(de->d_name + l - 4, ".fwb") == 0)
				names[nn++] = strdup(de->d_name);
		}
		closedir(d);
		qsort(names, nn, sizeof names[0], admin_name_cmp);
		for (size_t i = 0; i < nn; i++) {
			int len = snprintf(path, sizeof path, "%s/%s", argv[1],
			    names[i] ? names[i] : "");
			if (names[i] != NULL && len < (int)sizeof path && (e = admin_import_one(a, path, results)) != FW_OK)
				failed = admin_fail(fw_errctx(e, "%s", path));
			free(names[i]);
		}
		if (nn == 0)
			failed = admin_fail(fw_seterr(FW_ERR_NOT_FOUND, "%s: no .fwb files",
			    argv[1]));
	}
	if (a->json)
		admin_print_json(results);
	json_decref(results);
	return failed;
}

struct admin_cmd {
	const char *group, *name;
	int (*fn)(struct admin *, int, char **);
	const char *usage;
};

static const struct admin_cmd admin_cmds[] = {
	{"supervisor", "add", admin_sup_add, admin_sup_add_usage},
	{"supervisor", "list", admin_sup_list, admin_sup_list_usage},
	{"supervisor", "show", admin_sup_show, admin_sup_show_usage},
	{"supervisor", "renew", admin_sup_renew, admin_sup_renew_usage},
	{"supervisor", "terminate", admin_sup_terminate, admin_sup_term_usage},
	{"supervisor", "change", admin_sup_change, admin_sup_change_usage},
	{"device", "code", admin_dev_code, admin_dev_code_usage},
	{"device", "list", admin_dev_list, admin_dev_list_usage},
	{"device", "show", admin_dev_show, admin_dev_show_usage},
	{"device", "revoke", admin_dev_revoke, admin_dev_revoke_usage},
	{"audit", NULL, admin_audit, admin_audit_usage},
	{"import-bundle", NULL, admin_import, admin_import_usage},
	{"unit", NULL, casecmd_unit, casecmd_unit_usage},
	{"officer", NULL, casecmd_officer, casecmd_officer_usage},
	{"route", NULL, casecmd_route, casecmd_route_usage},
	{"case", NULL, casecmd_case, casecmd_case_usage},
};

/* Is group an admin command group? */
int
admin_is_command(const char *group)
{
	for (size_t i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++)
		if (strcmp(admin_cmds[i].group, group) == 0)
			return 1;
	return 0;
}

static int
admin_group_usage(const char *group)
{
	fprintf(stderr, "usage: fundwatch-server %s COMMAND [--data DIR] [--json]\n"
	    "commands:", group);
	for (size_t i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++)
		if (strcmp(admin_cmds[i].group, group) == 0 && admin_cmds[i].name)
			fprintf(stderr, " %s", admin_cmds[i].name);
	fprintf(stderr, "\n");
	return 2;
}

/*
 * argv[0] is the group ("supervisor"); for grouped commands argv[1] is the
 * verb.  The options --data DIR and --json may come anywhere.  The command
 * gets its own argv: the verb (or the group) and its arguments.
 */
int
admin_main(int argc, char **argv)
{
	struct admin a = {0};
	const char *data = NULL, *group = argv[0];
	char *args[258];
	int nargs = 1, rc;
	fw_err e;

	args[0] = argv[0];
	for (int i = 1; i < argc && nargs < 256; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[++i];
		else if (strncmp(argv[i], "--data=", 7) == 0)
			data = argv[i] + 7;
		else if (strcmp(argv[i], "--json") == 0)
			a.json = 1;
		else
			args[nargs++] = argv[i];
	}
	args[nargs] = NULL;
	a.actor = getenv("FUNDWATCH_ACTOR") ? getenv("FUNDWATCH_ACTOR") : "admin";
	for (size_t i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++) {
		const struct admin_cmd *c = &admin_cmds[i];
		char **v = args;
		int vc = nargs;

		if (strcmp(c->group, group) != 0)
			continue;
		if (c->name != NULL) {
			if (nargs < 2 || strcmp(args[1], c->name) != 0)
				continue;
			v = args + 1;	/* the verb is the command's argv[0] */
			vc = nargs - 1;
		}
		for (int j = 1; j < vc; j++)
			if (strcmp(v[j], "--help") == 0 || strcmp(v[j], "-h") == 0) {
				printf("%s", c->usage);
				return 0;
			}
		if ((e = server_open(server_datadir(data), &a.s)) != FW_OK)
			return admin_fail(e);
		optind = 1;
		rc = c->fn(&a, vc, v);
		server_close(a.s);
		return rc;
	}
	return admin_group_usage(group);
}

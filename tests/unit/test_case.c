/*
 * test_case.c: casework (server/case.c) on a temporary database with the
 * real qingyuan profile: clue merging in and out of the window, across
 * categories and name variants; routing and recusal; deadlines across
 * weekends and the holiday list; extension; overdue escalation; reward
 * boundaries; the role x action x own/other unit matrix of case_acl and of
 * the functions that apply it; feedback to the reporting device; the
 * status table; passwords.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../server/server.h"

#define DAY	86400
/* 2024-09-27 12:00 China time (a Friday), as Unix time. */
#define T0	((int64_t)1727409600)

static struct server *s;
static char dir[] = "/tmp/test_case.XXXXXX";
static int nobs;

static const char holidays[] =
    "# National Day 2024\n"
    "2024-10-01..2024-10-07\n"
    "workday 2024-09-29\n"
    "workday 2024-10-12\n";

static fw_err
add_officer(const char *id, const char *unit, unsigned roles)
{
	struct officer o = {.roles = roles, .name = (char *)"test officer"};

	snprintf(o.id, sizeof o.id, "%s", id);
	snprintf(o.unit, sizeof o.unit, "%s", unit);
	return officer_add(s, officer_cli(), &o, "correct horse battery");
}

static int
setup(void **state)
{
	char path[PATH_MAX];
	struct unit u = {.name = (char *)"unit"};
	struct route_rule r = {.jurisdiction = "qingcheng", .kind = "*",
	    .category = "*", .severity = "*", .unit = "A"};

	(void)state;
	if (mkdtemp(dir) == NULL || (s = calloc(1, sizeof *s)) == NULL ||
	    (s->datadir = strdup(dir)) == NULL)
		return -1;
	server_path(s, "holidays.txt", path, sizeof path);
	if (file_write_durable(path, holidays, sizeof holidays - 1, 0644) != FW_OK)
		return -1;
	server_path(s, "fundwatch.db", path, sizeof path);
	if (db_open(path, 1, &s->db) != FW_OK ||
	    profile_load("server/profiles/qingyuan.conf", &s->profile) != FW_OK ||
	    ed25519_generate(&s->receipt_key) != FW_OK) {
		fprintf(stderr, "setup: %s\n", fw_errmsg());
		return -1;
	}
	/* Units A (county, jurisdiction qingcheng), B (county), CITY. */
	snprintf(u.id, sizeof u.id, "A");
	snprintf(u.jurisdiction, sizeof u.jurisdiction, "qingcheng");
	if (unit_add(s, officer_cli(), &u) != FW_OK)
		return -1;
	snprintf(u.id, sizeof u.id, "B");
	snprintf(u.jurisdiction, sizeof u.jurisdiction, "yingde");
	if (unit_add(s, officer_cli(), &u) != FW_OK)
		return -1;
	snprintf(u.id, sizeof u.id, "CITY");
	snprintf(u.jurisdiction, sizeof u.jurisdiction, "qingyuan");
	u.city = 1;
	if (unit_add(s, officer_cli(), &u) != FW_OK || route_add(s, officer_cli(),
	    &r) != FW_OK)
		return -1;
	if (add_officer("a-lead", "A", ROLE_UNIT_LEAD) != FW_OK ||
	    add_officer("a-off1", "A", ROLE_OFFICER) != FW_OK ||
	    add_officer("a-off2", "A", ROLE_OFFICER) != FW_OK ||
	    add_officer("a-rew", "A", ROLE_REWARD_OFFICER) != FW_OK ||
	    add_officer("city-lead", "CITY", ROLE_UNIT_LEAD) != FW_OK ||
	    add_officer("b-off", "B", ROLE_OFFICER) != FW_OK) {
		fprintf(stderr, "setup: %s\n", fw_errmsg());
		return -1;
	}
	if (db_run(s->db, "INSERT INTO supervisors (id, name, birth, unit, method,"
	    " status, created) VALUES ('S1', '王五', '1980-01-01', 'qingcheng', 'm',"
	    " 'active', 0)", "") != FW_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	sqlite3_close(s->db);
	profile_free(s->profile);
	ed25519_free(s->receipt_key);
	free(s->datadir);
	free(s);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The device of the next clue, and the observation it supplements. */
static const char *clue_device = "dev1";
static const char *clue_supplements = "";

/* One clue received at server time `at`: the observation row as
 * ingest_store writes it, then case_add_clues.  Returns its case id. */
static int64_t
clue(int64_t at, const char *inst, const char *name, const char *place,
    const char *cat, const char *cat2, int major, char obs_out[FW_ID_HEX + 1])
{
	char *cats[2] = {(char *)cat, (char *)cat2};
	struct fw_obs o = {0};
	struct fw_manifest m = {0};
	struct fw_bundle b = {0};
	struct buf canon;
	char hash[SHA256_HEX + 1];
	sqlite3_stmt *st;
	int64_t id = -1;

	nobs++;
	snprintf(o.id, sizeof o.id, "%032x", nobs);
	o.seq = (uint64_t)nobs;
	memset(o.prev, '0', SHA256_HEX);
	o.captured = at - 60;
	o.place.text = (char *)place;
	o.subject.kind = FW_SUBJ_PHARMACY;
	o.subject.name = (char *)name;
	o.subject.institution = (char *)inst;
	o.categories = cats;
	o.ncategories = cat2 ? 2 : 1;
	o.what = (char *)"what was seen";
	o.severity = major ? FW_SEV_MAJOR : FW_SEV_NORMAL;
	snprintf(o.supplements, sizeof o.supplements, "%s", clue_supplements);
	m.version = 1;
	snprintf(m.device, sizeof m.device, "%s", clue_device);
	m.obs = &o;
	m.nobs = 1;
	b.m = &m;
	snprintf(b.id, sizeof b.id, "%064d", nobs);
	buf_init(&canon, 1u << 20);
	assert_int_equal(bundle_obs_canonical(&o, &canon), FW_OK);
	assert_int_equal(sha256_hex(canon.data, canon.len, hash), FW_OK);
	assert_int_equal(db_begin(s->db), FW_OK);
	assert_int_equal(db_run(s->db, "INSERT INTO observations (id, device_id, seq,"
	    " hash, prev, canonical, bundle_id, supervisor_id, captured, received)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, 'S1', ?, ?)", "ssissbsii", o.id,
	    clue_device, (int64_t)o.seq, hash, o.prev, canon.data, canon.len, b.id, o.captured, at),
	    FW_OK);
	assert_int_equal(case_add_clues(s, &b, "S1", at), FW_OK);
	assert_int_equal(db_commit(s->db), FW_OK);
	buf_free(&canon);
	assert_int_equal(db_prepare(s->db, &st, "SELECT case_id FROM clues WHERE"
	    " observation_id = ?", "s", o.id), FW_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (obs_out != NULL)
		snprintf(obs_out, FW_ID_HEX + 1, "%s", o.id);
	return id;
}

static const struct officer *
who(const char *id, struct officer *o)
{
	assert_int_equal(officer_get(s, id, o), FW_OK);
	return o;
}

static int64_t
count(const char *sql, int64_t id)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	assert_int_equal(db_prepare(s->db, &st, sql, "i", id), FW_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_institution_key(void **state)
{
	char k1[CASE_INST_MAX + 1], k2[CASE_INST_MAX + 1];

	(void)state;
	case_institution_key("p4418", "x", "y", k1);
	assert_string_equal(k1, "code:P4418");
	case_institution_key(NULL, "康民大药房（城北店）", "清城区 松岗路 12 号", k1);
	case_institution_key(NULL, "康民 大药房(城北店)", "清城区松岗路１２号。", k2);
	assert_string_equal(k1, k2);
	case_institution_key(NULL, "Kang Min Pharmacy", "Road 12", k1);
	case_institution_key(NULL, "kangmin  PHARMACY.", "road-12", k2);
	assert_string_equal(k1, k2);
	case_institution_key(NULL, "康民大药房", "松岗路 14 号", k2);
	case_institution_key(NULL, "康民大药房", "松岗路 12 号", k1);
	assert_string_not_equal(k1, k2);
}

static void
test_merge_window(void **state)
{
	int64_t c1, c2, c3, c4, c5;
	char o1[FW_ID_HEX + 1];

	(void)state;
	c1 = clue(T0, "P100", "x", "y", "QY-5-1-01", NULL, 0, o1);
	assert_true(c1 > 0);
	/* Same code, same category, 29 days later: merged. */
	c2 = clue(T0 + 29 * DAY, "P100", "other name", "elsewhere", "QY-5-1-01", NULL,
	    0, NULL);
	assert_int_equal(c2, c1);
	/* Out of the 30-day window: a new case. */
	c3 = clue(T0 + 31 * DAY, "P100", "x", "y", "QY-5-1-01", NULL, 0, NULL);
	assert_true(c3 > 0 && c3 != c1);
	/* Different category: a new case. */
	c4 = clue(T0 + DAY, "P100", "x", "y", "QY-5-1-02", NULL, 0, NULL);
	assert_true(c4 != c1 && c4 != c3);
	/* Shares one of two categories: merged into the first. */
	c5 = clue(T0 + 2 * DAY, "P100", "x", "y", "QY-5-1-03", "QY-5-1-01", 0, NULL);
	assert_int_equal(c5, c1);
	/* A window of 10 days, set by an admin only. */
	{
		struct officer lead;
		int64_t days = 0;
		assert_int_equal(case_set_merge_days(s, who("a-lead", &lead), 10),
		    FW_ERR_FORBIDDEN);
		officer_clear(&lead);
		assert_int_equal(case_set_merge_days(s, officer_cli(), -1),
		    FW_ERR_FIELD_RANGE);
		assert_int_equal(case_set_merge_days(s, officer_cli(), 10), FW_OK);
		assert_int_equal(case_merge_days(s, &days), FW_OK);
		assert_int_equal(days, 10);
		c2 = clue(T0 + 40 * DAY, "P101", "x", "y", "QY-5-1-01", NULL, 0, NULL);
		c3 = clue(T0 + 49 * DAY, "P101", "x", "y", "QY-5-1-01", NULL, 0, NULL);
		c4 = clue(T0 + 51 * DAY, "P101", "x", "y", "QY-5-1-01", NULL, 0, NULL);
		assert_int_equal(c3, c2);
		assert_true(c4 != c2);
		assert_int_equal(case_set_merge_days(s, officer_cli(), CASE_MERGE_DAYS),
		    FW_OK);
	}
	/* The first reporter is the first received. */
	{
		struct case_info c;
		assert_int_equal(case_get(s, c1, &c), FW_OK);
		assert_string_equal(c.first_obs, o1);
		assert_int_equal(c.nclues, 3);
		assert_int_equal(c.ncategories, 2);
		case_info_clear(&c);
	}
}

/* A supplement joins the case of the clue it names, if the same device
 * reported that clue, whatever its institution or the merge window; a
 * case waiting for evidence goes back to investigating. */
static void
test_supplements(void **state)
{
	int64_t c1, c2, c3, c4;
	char o1[FW_ID_HEX + 1];

	(void)state;
	c1 = clue(T0, "P200", "x", "y", "QY-5-1-01", NULL, 0, o1);
	assert_int_equal(db_run(s->db, "UPDATE cases SET status ="
	    " 'evidence_requested' WHERE id = ?", "i", c1), FW_OK);
	clue_supplements = o1;
	c2 = clue(T0 + 40 * DAY, "P999", "x", "y", "QY-5-1-02", NULL, 0, NULL);
	assert_int_equal(c2, c1);
	assert_int_equal(count("SELECT COUNT(*) FROM cases WHERE id = ? AND"
	    " status = 'investigating'", c1), 1);
	assert_int_equal(count("SELECT COUNT(*) FROM notifications WHERE"
	    " case_id = ? AND kind = 'evidence_supplied'", c1), 1);
	assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE subject ="
	    " 'case:' || ? AND action = 'case.evidence_supplied'", c1), 1);
	/* A second one while investigating: joined, the status stays. */
	c3 = clue(T0 + 41 * DAY, "P999", "x", "y", "QY-5-1-02", NULL, 0, NULL);
	assert_int_equal(c3, c1);
	assert_int_equal(count("SELECT COUNT(*) FROM audit WHERE subject ="
	    " 'case:' || ? AND action = 'case.status'", c1), 1);
	/* Another device cannot attach to someone else's clue. */
	clue_device = "dev2";
	c4 = clue(T0 + 42 * DAY, "P998", "x", "y", "QY-5-1-02", NULL, 0, NULL);
	assert_true(c4 > 0 && c4 != c1);
	clue_device = "dev1";
	/* An unknown original: a clue like any other (merged by the rules). */
	clue_supplements = "ffffffffffffffffffffffffffffffff";
	c4 = clue(T0 + 43 * DAY, "P998", "x", "y", "QY-5-1-02", NULL, 0, NULL);
	assert_true(c4 > 0 && c4 != c1);
	clue_supplements = "";
	assert_int_equal(count("SELECT COUNT(*) FROM clues WHERE case_id = ?", c1),
	    3);
}

static void
test_merge_names(void **state)
{
	int64_t a, b, c;

	(void)state;
	a = clue(T0, NULL, "仁心诊所（东门）", "清城区 东门路 3 号", "QY-5-1-04", NULL,
	    0, NULL);
	b = clue(T0 + DAY, NULL, "仁心 诊所(东门)", "清城区东门路３号。", "QY-5-1-04",
	    NULL, 0, NULL);
	c = clue(T0 + DAY, NULL, "仁心诊所", "清城区东门路3号", "QY-5-1-04", NULL, 0,
	    NULL);
	assert_true(a > 0);
	assert_int_equal(a, b);
	assert_true(c != a);		/* another name: another institution */
}

static void
test_routing_recusal(void **state)
{
	struct case_info c;
	json_t *ex = NULL;
	char key[CASE_INST_MAX + 1];
	int64_t id1, id2;

	(void)state;
	case_institution_key("P777", NULL, NULL, key);
	assert_int_equal(officer_conflict_add(s, officer_cli(), "a-off1", key), FW_OK);
	assert_int_equal(route_explain(s, "qingcheng", "pharmacy", "QY-5-1-05",
	    "normal", key, &ex), FW_OK);
	assert_string_equal(json_string_value(json_object_get(ex, "unit")), "A");
	assert_int_equal(json_array_size(json_object_get(ex, "skipped")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(ex,
	    "skipped"), 0)), "a-off1");
	json_decref(ex);
	/* Two new cases of that institution both go to a-off2. */
	id1 = clue(T0 + 100 * DAY, "P777", "n", "p", "QY-5-1-05", NULL, 0, NULL);
	id2 = clue(T0 + 100 * DAY, "P777", "n", "p", "QY-5-1-06", NULL, 0, NULL);
	assert_int_equal(case_get(s, id1, &c), FW_OK);
	assert_string_equal(c.unit, "A");
	assert_string_equal(c.assignee, "a-off2");
	case_info_clear(&c);
	assert_int_equal(case_get(s, id2, &c), FW_OK);
	assert_string_equal(c.assignee, "a-off2");
	case_info_clear(&c);
	/* Another institution: the officer with the fewest open cases. */
	assert_int_equal(route_explain(s, "qingcheng", "pharmacy", "QY-5-1-05",
	    "normal", "code:P778", &ex), FW_OK);
	assert_string_equal(json_string_value(json_object_get(ex, "officer")),
	    count("SELECT count(*) FROM cases WHERE assignee = 'a-off1' AND ? = 0", 0) <=
	    count("SELECT count(*) FROM cases WHERE assignee = 'a-off2' AND ? = 0", 0) ?
	    "a-off1" : "a-off2");
	json_decref(ex);
	/* No rule for another jurisdiction: the city office. */
	assert_int_equal(route_explain(s, "nowhere", "pharmacy", "QY-5-1-05",
	    "normal", "code:P779", &ex), FW_OK);
	assert_string_equal(json_string_value(json_object_get(ex, "unit")), "CITY");
	json_decref(ex);
	/* Assigning the recused officer by hand is refused too. */
	{
		struct officer lead;
		assert_int_equal(case_assign(s, who("a-lead", &lead), id1, "a-off1"),
		    FW_ERR_POLICY);
		assert_int_equal(case_assign(s, &lead, id1, "b-off"), FW_ERR_INVALID);
		officer_clear(&lead);
		/* An admin moves a case to another unit by assigning it. */
		assert_int_equal(case_assign(s, officer_cli(), id2, "b-off"), FW_OK);
		assert_int_equal(case_get(s, id2, &c), FW_OK);
		assert_string_equal(c.unit, "B");
		assert_string_equal(c.assignee, "b-off");
		case_info_clear(&c);
	}
}

static void
test_major_notifies(void **state)
{
	int64_t id;

	(void)state;
	id = clue(T0, "P900", "n", "p", "QY-5-1-07", NULL, 1, NULL);
	assert_int_equal(count("SELECT count(*) FROM notifications WHERE case_id = ?"
	    " AND officer_id = 'a-lead' AND kind = 'major'", id), 1);
	assert_int_equal(count("SELECT count(*) FROM notifications WHERE case_id = ?"
	    " AND officer_id = 'city-lead' AND kind = 'major'", id), 1);
	assert_int_equal(count("SELECT count(*) FROM audit WHERE subject = 'case:' || ?"
	    " AND action = 'case.major_notified'", id), 1);
}

static void
test_deadlines(void **state)
{
	struct case_info c;
	struct officer lead, off;
	struct calendar *cal;
	char path[PATH_MAX], day[CAL_DATE_LEN];
	cal_day want;
	int64_t id, n = 0;

	(void)state;
	/* Received Friday 2024-09-27: 15 working days, counting the worked
	 * Sunday 09-29 and Saturday 10-12 and skipping 10-01..10-07. */
	id = clue(T0, "P300", "n", "p", "QY-5-1-08", NULL, 0, NULL);
	assert_int_equal(case_get(s, id, &c), FW_OK);
	assert_string_equal(calendar_format(c.decide_by, day), "2024-10-23");
	assert_int_equal(c.finish_by, CAL_NONE);
	case_info_clear(&c);
	/* Overdue now (2024 is past): escalated once to the unit lead. */
	assert_int_equal(case_escalate_overdue(s, calendar_china_day(T0 + 60 * DAY),
	    &n), FW_OK);
	assert_true(n >= 1);
	assert_int_equal(count("SELECT escalated FROM cases WHERE id = ?", id), 1);
	assert_int_equal(count("SELECT count(*) FROM notifications WHERE case_id = ?"
	    " AND kind = 'overdue' AND officer_id = 'a-lead'", id), 1);
	assert_int_equal(case_escalate_overdue(s, calendar_china_day(T0 + 61 * DAY),
	    &n), FW_OK);
	assert_int_equal(count("SELECT count(*) FROM notifications WHERE case_id = ?"
	    " AND kind = 'overdue'", id), 1);
	{
		json_t *l = NULL;
		struct case_filter f = {.status = -1, .overdue = 1};
		size_t i;
		json_t *v;
		int seen = 0;
		assert_int_equal(case_list(s, who("a-lead", &lead), &f, &l), FW_OK);
		json_array_foreach(l, i, v)
			seen |= json_integer_value(json_object_get(v, "id")) == id;
		assert_true(seen);
		json_decref(l);
		officer_clear(&lead);
	}
	/* Accepting sets the finish deadline; one extension of 30 working
	 * days with a reason; a second is refused. */
	assert_int_equal(case_set_status(s, who("a-off1", &off), id, CASE_ACCEPTED,
	    NULL), FW_OK);
	assert_int_equal(case_get(s, id, &c), FW_OK);
	assert_true(c.finish_by != CAL_NONE);
	server_path(s, "holidays.txt", path, sizeof path);
	assert_int_equal(calendar_load(path, &cal), FW_OK);
	assert_int_equal(calendar_add_working_days(cal, c.finish_by, 30, &want), FW_OK);
	case_info_clear(&c);
	assert_int_equal(case_extend(s, &off, id, "needs a site visit"),
	    FW_ERR_FORBIDDEN);
	assert_int_equal(case_extend(s, who("a-lead", &lead), id, ""), FW_ERR_INVALID);
	assert_int_equal(case_extend(s, &lead, id, "needs a site visit"), FW_OK);
	assert_int_equal(case_get(s, id, &c), FW_OK);
	assert_int_equal(c.finish_by, want);
	assert_int_equal(c.extensions, 1);
	case_info_clear(&c);
	assert_int_equal(case_extend(s, &lead, id, "again"), FW_ERR_POLICY);
	calendar_free(cal);
	officer_clear(&lead);
	officer_clear(&off);
}

static void
test_rewards(void **state)
{
	static const struct {
		int64_t verified;
		const char *grade;
		int64_t reward;
	} cases[] = {
		{0, "1", 20000},		/* no amount: the fixed sum */
		{100, "3", 20000},		/* 1 yuan: the minimum, 200 yuan */
		{100, "1", 40000},		/* grade 1's floor, 400 yuan */
		{5000000, "1", 150000},		/* 3 % of 50,000 yuan */
		{INT64_C(100000000000000), "1", 20000000}, /* the cap */
	};
	struct officer off, rew, lead;

	(void)state;
	who("a-off1", &off);
	who("a-rew", &rew);
	who("a-lead", &lead);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char inst[16];
		struct case_info c;
		int64_t id;

		snprintf(inst, sizeof inst, "R%zu", i);
		id = clue(T0, inst, "n", "p", "QY-5-1-01", NULL, 0, NULL);
		assert_int_equal(case_set_status(s, &off, id, CASE_ACCEPTED, NULL), FW_OK);
		assert_int_equal(case_approve_reward(s, &rew, id), FW_ERR_CONFLICT);
		assert_int_equal(case_substantiate(s, &off, id, cases[i].verified,
		    cases[i].grade, -1, NULL), FW_OK);
		assert_int_equal(case_get(s, id, &c), FW_OK);
		assert_int_equal(c.reward_fen, cases[i].reward);
		assert_int_equal(c.reward_state, CASE_REWARD_PROPOSED);
		case_info_clear(&c);
		assert_int_equal(case_approve_reward(s, &lead, id), FW_ERR_FORBIDDEN);
		assert_int_equal(case_approve_reward(s, &rew, id), FW_OK);
		assert_int_equal(case_approve_reward(s, &rew, id), FW_ERR_CONFLICT);
		/* The reward reaches the first reporter's device, signed. */
		assert_int_equal(count("SELECT count(*) FROM feed WHERE kind = 'feedback'"
		    " AND json_extract(message, '$.body.case') = ? AND"
		    " json_extract(message, '$.body.status') = 'reward_approved'", id), 1);
		assert_int_equal(count("SELECT json_extract(message, '$.body.reward_fen')"
		    " FROM feed WHERE json_extract(message, '$.body.case') = ? AND"
		    " json_extract(message, '$.body.status') = 'reward_approved'", id),
		    cases[i].reward);
	}
	/* Refused: a negative amount, an unknown grade. */
	assert_int_equal(case_substantiate(s, &off, 1, -1, "1", -1, NULL),
	    FW_ERR_FIELD_RANGE);
	assert_int_equal(case_substantiate(s, &off, 1, 100, "9", -1, NULL), FW_ERR_POLICY);
	officer_clear(&off);
	officer_clear(&rew);
	officer_clear(&lead);
}

/* Gaoping's grade without a percentage: the officer enters the sum, held
 * to the national bounds; no other grade takes one. */
static void
test_reward_sum(void **state)
{
	struct profile *qy = s->profile, *gp = NULL;
	struct officer off;
	struct case_info c;
	int64_t id, q;

	(void)state;
	assert_int_equal(profile_load("server/profiles/gaoping.conf", &gp), FW_OK);
	who("a-off1", &off);
	q = clue(T0, "G0", "n", "p", "QY-5-1-01", NULL, 0, NULL);
	assert_int_equal(case_set_status(s, &off, q, CASE_ACCEPTED, NULL), FW_OK);
	s->profile = gp;
	id = clue(T0, "G1", "n", "p", "QY-5-1-01", NULL, 0, NULL);
	assert_int_equal(case_set_status(s, &off, id, CASE_ACCEPTED, NULL), FW_OK);
	assert_int_equal(case_substantiate(s, &off, id, 5000000, "default", -1,
	    NULL), FW_ERR_POLICY);
	assert_non_null(strstr(fw_errmsg(), "no percentage"));
	assert_int_equal(case_substantiate(s, &off, id, 5000000, "default", 19999,
	    NULL), FW_ERR_POLICY);
	assert_int_equal(case_substantiate(s, &off, id, 5000000, "default",
	    20000001, NULL), FW_ERR_POLICY);
	assert_int_equal(case_substantiate(s, &off, id, 0, "default", 150000,
	    NULL), FW_ERR_INVALID);		/* no amount: the fixed sum */
	assert_int_equal(case_get(s, id, &c), FW_OK);
	assert_int_equal(c.status, CASE_ACCEPTED);	/* nothing changed */
	case_info_clear(&c);
	assert_int_equal(case_substantiate(s, &off, id, 5000000, "default", 150000,
	    "sum set by the office"), FW_OK);
	assert_int_equal(case_get(s, id, &c), FW_OK);
	assert_int_equal(c.reward_fen, 150000);
	assert_int_equal(c.reward_state, CASE_REWARD_PROPOSED);
	case_info_clear(&c);
	/* A grade with a percentage computes the reward itself. */
	s->profile = qy;
	assert_int_equal(case_substantiate(s, &off, q, 5000000, "1", 150000, NULL),
	    FW_ERR_INVALID);
	profile_free(gp);
	officer_clear(&off);
}

static void
test_acl_table(void **state)
{
	/* Expected, written out independently of case.c's table: for each
	 * action, the roles allowed on their own unit's case and on any. */
	static const struct {
		enum case_action act;
		unsigned own, any;
	} want[] = {
		{CASE_ACT_READ, ROLE_OFFICER | ROLE_UNIT_LEAD | ROLE_REWARD_OFFICER |
		    ROLE_LIAISON | ROLE_ADMIN | ROLE_AUDITOR, ROLE_ADMIN | ROLE_AUDITOR},
		{CASE_ACT_HANDLE, ROLE_OFFICER | ROLE_UNIT_LEAD, 0},
		{CASE_ACT_ASSIGN, ROLE_UNIT_LEAD | ROLE_ADMIN, ROLE_ADMIN},
		{CASE_ACT_EXTEND, ROLE_UNIT_LEAD, 0},
		{CASE_ACT_REWARD, ROLE_REWARD_OFFICER, 0},
		{CASE_ACT_EXPORT, ROLE_UNIT_LEAD | ROLE_ADMIN | ROLE_AUDITOR,
		    ROLE_ADMIN | ROLE_AUDITOR},
	};
	int checked = 0;

	(void)state;
	for (size_t a = 0; a < sizeof want / sizeof want[0]; a++)
		for (unsigned r = 1; r <= ROLE_AUDITOR; r <<= 1)
			for (int other = 0; other < 2; other++) {
				struct officer o = {.id = "x", .unit = "A", .roles = r};
				int allowed = other ? (want[a].any & r) != 0 :
				    (want[a].own & r) != 0;
				fw_err e = case_acl(&o, want[a].act, other ? "B" : "A");
				assert_int_equal(e, allowed ? FW_OK : FW_ERR_FORBIDDEN);
				o.disabled = 1;
				assert_int_equal(case_acl(&o, want[a].act, "A"),
				    FW_ERR_FORBIDDEN);
				checked++;
			}
	assert_int_equal(checked, 6 * 6 * 2);
	assert_int_equal(case_acl(NULL, CASE_ACT_READ, "A"), FW_ERR_FORBIDDEN);
}

/* The functions apply the table: each role of unit A on a case of A and
 * on a case of B. */
static void
test_acl_functions(void **state)
{
	static const char *const roles[] = {"admin", "liaison", "unit_lead",
	    "officer", "reward_officer", "auditor"};
	int64_t ca, cb;

	(void)state;
	ca = clue(T0 + 200 * DAY, "M1", "n", "p", "QY-5-1-01", NULL, 0, NULL);
	cb = clue(T0 + 200 * DAY, "M2", "n", "p", "QY-5-1-01", NULL, 0, NULL);
	assert_int_equal(db_run(s->db, "UPDATE cases SET unit = 'B' WHERE id = ?", "i",
	    cb), FW_OK);
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		char id[32];
		unsigned bits;
		struct officer o;

		snprintf(id, sizeof id, "m-%s", roles[i]);
		for (int k = 0; id[k] != '\0'; k++)
			if (id[k] == '_')
				id[k] = '-';
		assert_int_equal(officer_roles_parse(roles[i], &bits), FW_OK);
		assert_int_equal(add_officer(id, "A", bits), FW_OK);
		who(id, &o);
		for (int other = 0; other < 2; other++) {
			int64_t c = other ? cb : ca;
			const char *u = other ? "B" : "A";
			json_t *j = NULL;
			char out[PATH_MAX];
			fw_err e;

			e = case_show(s, &o, c, &j);
			json_decref(j);
			assert_int_equal(e == FW_ERR_FORBIDDEN, case_acl(&o, CASE_ACT_READ,
			    u) != FW_OK);
			e = case_finding(s, &o, c, "noted");
			assert_int_equal(e == FW_ERR_FORBIDDEN, case_acl(&o,
			    CASE_ACT_HANDLE, u) != FW_OK);
			e = case_assign(s, &o, c, other ? "b-off" : "a-off2");
			assert_int_equal(e == FW_ERR_FORBIDDEN, case_acl(&o,
			    CASE_ACT_ASSIGN, u) != FW_OK);
			e = case_extend(s, &o, c, "why");
			assert_int_equal(e == FW_ERR_FORBIDDEN, case_acl(&o,
			    CASE_ACT_EXTEND, u) != FW_OK);
			e = case_approve_reward(s, &o, c);
			assert_int_equal(e == FW_ERR_FORBIDDEN, case_acl(&o,
			    CASE_ACT_REWARD, u) != FW_OK);
			snprintf(out, sizeof out, "%s/export-%s-%d", dir, id, other);
			e = case_export(s, &o, c, out);
			assert_int_equal(e == FW_ERR_FORBIDDEN, case_acl(&o,
			    CASE_ACT_EXPORT, u) != FW_OK);
		}
		/* The reporter's real name only for liaison and reward officer. */
		{
			json_t *j = NULL;
			if (case_show(s, &o, ca, &j) == FW_OK) {
				json_t *cl = json_array_get(json_object_get(j, "clue_list"), 0);
				assert_int_equal(json_object_get(cl, "reporter_name") != NULL,
				    (bits & (ROLE_LIAISON | ROLE_REWARD_OFFICER)) != 0);
				assert_non_null(json_object_get(cl, "reporter"));
			}
			json_decref(j);
		}
		officer_clear(&o);
	}
	/* An officer lists its own unit only, never B's. */
	{
		struct officer o;
		struct case_filter f = {.status = -1, .unit = "B"};
		json_t *l = NULL;
		assert_int_equal(case_list(s, who("a-off1", &o), &f, &l),
		    FW_ERR_FORBIDDEN);
		f.unit = NULL;
		assert_int_equal(case_list(s, &o, &f, &l), FW_OK);
		for (size_t i = 0; i < json_array_size(l); i++)
			assert_string_equal(json_string_value(json_object_get(
			    json_array_get(l, i), "unit")), "A");
		json_decref(l);
		officer_clear(&o);
	}
}

static void
test_status_table(void **state)
{
	struct officer off;
	int64_t id;

	(void)state;
	assert_true(case_transition_ok(CASE_RECEIVED, CASE_ACCEPTED));
	assert_true(case_transition_ok(CASE_RECEIVED, CASE_DECLINED));
	assert_false(case_transition_ok(CASE_RECEIVED, CASE_SUBSTANTIATED));
	assert_false(case_transition_ok(CASE_CLOSED, CASE_RECEIVED));
	assert_false(case_transition_ok(CASE_SUBSTANTIATED, CASE_INVESTIGATING));
	for (int i = 0; i < CASE_STATUS_COUNT_; i++)
		assert_int_equal(case_status_parse(case_status_name(
		    (enum case_status)i)), i);
	assert_int_equal(case_status_parse("nope"), -1);
	id = clue(T0 + 300 * DAY, "ST1", "n", "p", "QY-5-1-01", NULL, 0, NULL);
	who("a-off1", &off);
	assert_int_equal(case_set_status(s, &off, id, CASE_INVESTIGATING, NULL),
	    FW_ERR_CONFLICT);
	assert_int_equal(case_set_status(s, &off, id, CASE_DECLINED, NULL),
	    FW_ERR_INVALID);	/* a reason is required */
	assert_int_equal(case_set_status(s, &off, id, CASE_ACCEPTED, NULL), FW_OK);
	assert_int_equal(case_request_evidence(s, &off, id, NULL, "a clearer photo"),
	    FW_OK);
	assert_int_equal(case_set_status(s, &off, id, CASE_INVESTIGATING, NULL), FW_OK);
	assert_int_equal(case_set_status(s, &off, id, CASE_NOT_SUBSTANTIATED,
	    "no violation found"), FW_OK);
	assert_int_equal(case_set_status(s, &off, id, CASE_CLOSED, NULL), FW_OK);
	/* Every change but closing told the reporter, in order. */
	assert_int_equal(count("SELECT count(*) FROM feed WHERE"
	    " json_extract(message, '$.body.case') = ?", id), 5);
	assert_int_equal(count("SELECT count(*) FROM audit WHERE subject = 'case:' || ?"
	    " AND action = 'case.status'", id), 5);
	/* No clue text or finding in the audit log. */
	assert_int_equal(count("SELECT count(*) FROM audit WHERE detail LIKE"
	    " '%photo%' OR detail LIKE '%violation%' OR detail LIKE '%王五%' OR ? = 1",
	    0), 0);
	officer_clear(&off);
}

static void
test_passwords(void **state)
{
	struct officer o;

	(void)state;
	assert_int_equal(officer_check_password(s, "a-off1", "correct horse battery",
	    &o), FW_OK);
	assert_string_equal(o.unit, "A");
	officer_clear(&o);
	assert_int_equal(officer_check_password(s, "a-off1", "wrong horse battery",
	    &o), FW_ERR_AUTH);
	assert_int_equal(officer_check_password(s, "nobody", "correct horse battery",
	    &o), FW_ERR_AUTH);
	assert_int_equal(officer_passwd(s, officer_cli(), "a-off2", "short"),
	    FW_ERR_INVALID);
	assert_int_equal(officer_passwd(s, officer_cli(), "b-off", "a new password!"),
	    FW_OK);
	assert_int_equal(officer_check_password(s, "b-off", "a new password!", &o),
	    FW_OK);
	officer_clear(&o);
	assert_int_equal(officer_disable(s, officer_cli(), "b-off"), FW_OK);
	assert_int_equal(officer_check_password(s, "b-off", "a new password!", &o),
	    FW_ERR_AUTH);
	assert_int_equal(officer_add(s, who("a-lead", &o), &o, "whatever12345"),
	    FW_ERR_FORBIDDEN);
	officer_clear(&o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_institution_key),
		cmocka_unit_test(test_merge_window),
		cmocka_unit_test(test_supplements),
		cmocka_unit_test(test_merge_names),
		cmocka_unit_test(test_reward_sum),
		cmocka_unit_test(test_routing_recusal),
		cmocka_unit_test(test_major_notifies),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_rewards),
		cmocka_unit_test(test_acl_table),
		cmocka_unit_test(test_acl_functions),
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_passwords),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

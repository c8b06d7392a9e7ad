/*
 * test_profile.c: the policy profiles (server/profile.c).
 *
 * Loads the two real profiles from server/profiles/ (tests run from the
 * repository's root) and checks their counts, values and citations against
 * the regulations; then breaks a small valid profile one line at a time
 * and checks that each break is FW_ERR_CONFIG naming the right line.
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

#define QY_PATH	"server/profiles/qingyuan.conf"
#define GP_PATH	"server/profiles/gaoping.conf"

static struct profile *
load(const char *path)
{
	struct profile *p = NULL;
	fw_err e = profile_load(path, &p);

	if (e != FW_OK)
		fail_msg("%s: %s", fw_strerror(e), fw_errmsg());
	return p;
}

static size_t
count_prefix(const struct profile *p, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < p->ncategories; i++)
		if (strncmp(p->categories[i].e.code, prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

/* Every entry of a list is labelled and cites an article of its text. */
static void
check_entries(const void *list, size_t n, size_t size, const char *cite)
{
	const char *base = list;

	for (size_t i = 0; i < n; i++) {
		const struct profile_entry *e = (const void *)(base + i * size);

		assert_true(profile_code_valid(e->code));
		assert_true(strlen(e->zh) > 0);
		assert_true(strlen(e->en) > 0);
		if (strstr(e->article, cite) == NULL)
			fail_msg("%s: article '%s' does not cite %s", e->code,
			    e->article, cite);
		assert_true(e->line > 0);
	}
}

static void
check_all_entries(const struct profile *p, const char *cite)
{
	check_entries(p->categories, p->ncategories, sizeof *p->categories, cite);
	check_entries(p->eligibility, p->neligibility, sizeof *p->eligibility,
	    cite);
	check_entries(p->methods, p->nmethods, sizeof *p->methods, cite);
	check_entries(p->terminations, p->nterminations, sizeof *p->terminations,
	    cite);
	check_entries(p->grades, p->ngrades, sizeof *p->grades, "2");
}

static void
test_qingyuan_appointment(void **state)
{
	struct profile *p = load(QY_PATH);

	(void)state;
	assert_string_equal(p->name, "qingyuan");
	assert_string_equal(p->city, "清远市");
	assert_string_equal(p->path, QY_PATH);
	assert_int_equal(p->appt.term_years, 2);
	assert_string_equal(p->appt.term_article, "QY art 3(3)");
	assert_true(p->appt.renewal);
	assert_true(p->appt.renewal_consent);
	assert_false(p->appt.lapse);
	assert_string_equal(p->appt.lapse_article, "QY art 11(6)");
	assert_int_equal(p->appt.age_min, 18);
	assert_int_equal(p->appt.age_max, 60);
	assert_string_equal(p->appt.age_article, "QY art 2(2)");
	assert_true(p->appt.age_exception);
	assert_int_equal(p->appt.exception_age_min, 18);
	assert_int_equal(p->appt.exception_age_max, 65);
	assert_non_null(strstr(p->appt.exception_article, "QY art 2(2)"));
	profile_free(p);
}

static void
test_qingyuan_lists(void **state)
{
	struct profile *p = load(QY_PATH);
	const struct profile_eligibility *el;
	const struct profile_termination *t;
	const struct profile_category *c;
	char code[16];

	(void)state;
	/* QY art 5: 16 + 4 + 5 items and the catch-all of 5(4). */
	assert_int_equal(p->ncategories, 26);
	assert_int_equal(count_prefix(p, "QY-5-1-"), 16);
	assert_int_equal(count_prefix(p, "QY-5-2-"), 4);
	assert_int_equal(count_prefix(p, "QY-5-3-"), 5);
	for (int i = 1; i <= 16; i++) {
		snprintf(code, sizeof code, "QY-5-1-%02d", i);
		assert_non_null(c = profile_category(p, code));
		assert_int_equal(c->applies, PROFILE_SUBJ_INSTITUTION);
	}
	c = profile_category(p, "QY-5-2-04");
	assert_int_equal(c->applies, PROFILE_SUBJ_INSURED);
	assert_string_equal(c->e.article, "QY art 5(2) item 4");
	c = profile_category(p, "QY-5-3-01");
	assert_int_equal(c->applies, PROFILE_SUBJ_AGENCY);
	c = profile_category(p, "QY-5-4");
	assert_int_equal(c->applies, PROFILE_SUBJ_INSTITUTION |
	    PROFILE_SUBJ_INSURED | PROFILE_SUBJ_AGENCY | PROFILE_SUBJ_OTHER);
	assert_string_equal(profile_category(p, "QY-5-1-04")->e.zh,
	    "分解住院、挂床住院");
	assert_null(profile_category(p, "QY-5-1-17"));
	assert_null(profile_category(p, NULL));

	/* QY art 2: the conditions the office attests. */
	assert_int_equal(p->neligibility, 9);
	el = profile_eligibility(p, "insured_in_city");
	assert_true(el->required);
	assert_string_equal(el->e.article, "QY art 2(2)");
	assert_string_equal(profile_eligibility(p,
	    "no_conflict_of_interest")->e.article, "QY art 2(7)");
	assert_string_equal(profile_eligibility(p, "no_bad_credit")->e.article,
	    "QY art 2(8)");
	assert_false(profile_eligibility(p, "priority_group")->required);

	/* QY art 3(2): two methods. */
	assert_int_equal(p->nmethods, 2);
	assert_non_null(profile_method(p, "unit_recommendation"));
	assert_non_null(profile_method(p, "self_nomination"));
	assert_null(profile_method(p, "public_selection"));

	/* QY art 11: seven grounds. */
	assert_int_equal(p->nterminations, 7);
	for (int i = 1; i <= 7; i++) {
		snprintf(code, sizeof code, "QY-11-%d", i);
		assert_non_null(t = profile_termination(p, code));
		snprintf(code, sizeof code, "QY art 11(%d)", i);
		assert_string_equal(t->e.article, code);
	}
	t = profile_termination(p, "QY-11-5");
	assert_int_equal(t->kind, PROFILE_TERM_RESIGNATION);
	assert_int_equal(t->notice_months, 0);
	assert_int_equal(profile_termination(p, "QY-11-6")->kind,
	    PROFILE_TERM_EXPIRY);
	assert_int_equal(profile_termination(p, "QY-11-7")->kind,
	    PROFILE_TERM_OTHER);
	assert_int_equal(profile_termination(p, "QY-11-1")->kind,
	    PROFILE_TERM_CAUSE);
	check_all_entries(p, "QY art");
	profile_free(p);
}

static void
test_qingyuan_deadlines_reward(void **state)
{
	struct profile *p = load(QY_PATH);
	const struct profile_grade *g;

	(void)state;
	assert_int_equal(p->deadlines.info_change, 0);
	assert_int_equal(p->deadlines.decide, 15);
	assert_int_equal(p->deadlines.notify, 5);
	assert_int_equal(p->deadlines.finish, 30);
	assert_int_equal(p->deadlines.extension, 30);
	assert_int_equal(p->deadlines.extensions, 1);
	assert_non_null(strstr(p->deadlines.handling_article, "第5号"));
	assert_int_equal(p->reward.min_fen, 20000);
	assert_int_equal(p->reward.max_fen, 20000000);
	assert_int_equal(p->ngrades, 3);
	g = profile_grade(p, "1");
	assert_int_equal(g->percent_bp, 300);
	assert_int_equal(g->floor_fen, 40000);
	g = profile_grade(p, "2");
	assert_int_equal(g->percent_bp, 200);
	assert_int_equal(g->floor_fen, 30000);
	g = profile_grade(p, "3");
	assert_int_equal(g->percent_bp, 100);
	assert_int_equal(g->floor_fen, 20000);
	assert_null(profile_grade(p, "4"));
	profile_free(p);
}

static void
test_gaoping(void **state)
{
	struct profile *p = load(GP_PATH);
	const struct profile_termination *t;
	char code[16];

	(void)state;
	assert_string_equal(p->name, "gaoping");
	assert_int_equal(p->appt.term_years, 3);
	assert_string_equal(p->appt.term_article, "GP art 7");
	assert_true(p->appt.renewal);
	assert_false(p->appt.renewal_consent);
	assert_true(p->appt.lapse);
	assert_int_equal(p->appt.age_min, 25);
	assert_int_equal(p->appt.age_max, 70);
	assert_string_equal(p->appt.age_article, "GP art 4(1)");
	assert_true(p->appt.age_exception);
	assert_int_equal(p->appt.exception_age_min, 18);
	assert_int_equal(p->appt.exception_age_max, PROFILE_NONE);
	assert_int_equal(p->deadlines.info_change, 20);
	assert_string_equal(p->deadlines.info_change_article, "GP art 7");
	assert_int_equal(p->reward.min_fen, 20000);
	assert_int_equal(p->reward.max_fen, 20000000);
	assert_int_equal(p->ngrades, 1);
	assert_int_equal(profile_grade(p, "default")->percent_bp, PROFILE_NONE);

	/* GP art 5: four methods. */
	assert_int_equal(p->nmethods, 4);
	assert_string_equal(profile_method(p, "public_selection")->e.article,
	    "GP art 5(1)");
	assert_string_equal(profile_method(p, "special_invitation")->e.article,
	    "GP art 5(2)");
	assert_string_equal(profile_method(p, "recommendation")->e.article,
	    "GP art 5(3)");
	assert_string_equal(profile_method(p, "self_nomination")->e.article,
	    "GP art 5(4)");

	/* GP art 14: nine grounds; (4) with a month's notice. */
	assert_int_equal(p->nterminations, 9);
	for (int i = 1; i <= 9; i++) {
		snprintf(code, sizeof code, "GP-14-%d", i);
		assert_non_null(t = profile_termination(p, code));
		snprintf(code, sizeof code, "GP art 14(%d)", i);
		assert_string_equal(t->e.article, code);
	}
	t = profile_termination(p, "GP-14-4");
	assert_int_equal(t->kind, PROFILE_TERM_RESIGNATION);
	assert_int_equal(t->notice_months, 1);
	assert_int_equal(profile_termination(p, "GP-14-5")->kind,
	    PROFILE_TERM_EXPIRY);
	assert_int_equal(profile_termination(p, "GP-14-9")->kind,
	    PROFILE_TERM_OTHER);

	/* GP art 4: five conditions, no conflict-of-interest one. */
	assert_int_equal(p->neligibility, 5);
	assert_string_equal(profile_eligibility(p, "chinese_citizen")->e.article,
	    "GP art 4(1)");
	assert_null(profile_eligibility(p, "no_conflict_of_interest"));

	/* GP art 8(2)-(3): 16 + 4 institution and insured items, 6
	 * department items, the catch-all. */
	assert_int_equal(p->ncategories, 27);
	assert_int_equal(count_prefix(p, "GP-8-2-1-"), 16);
	assert_int_equal(count_prefix(p, "GP-8-2-2-"), 4);
	assert_int_equal(count_prefix(p, "GP-8-3-"), 6);
	assert_non_null(profile_category(p, "GP-8-other"));
	check_all_entries(p, "GP art");
	profile_free(p);
}

/* Each GP category's equivalent is a QY category for the same subjects. */
static void
test_equivalents(void **state)
{
	struct profile *qy = load(QY_PATH), *gp = load(GP_PATH);
	const struct profile_category *c, *q;
	size_t with = 0;

	(void)state;
	for (size_t i = 0; i < gp->ncategories; i++) {
		c = &gp->categories[i];
		if (c->equivalent == NULL)
			continue;
		with++;
		if ((q = profile_category(qy, c->equivalent)) == NULL)
			fail_msg("%s: equivalent %s is not a QY code", c->e.code,
			    c->equivalent);
		assert_int_equal(c->applies, q->applies);
	}
	assert_int_equal(with, 26);
	for (size_t i = 0; i < qy->ncategories; i++)
		assert_null(qy->categories[i].equivalent);
	profile_free(qy);
	profile_free(gp);
}

static void
test_taxonomy_json(void **state)
{
	struct profile *p = load(QY_PATH);
	json_t *a = NULL, *o;
	struct buf b;

	(void)state;
	assert_int_equal(profile_taxonomy_json(p, &a), FW_OK);
	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), p->ncategories);
	o = json_array_get(a, 0);
	assert_int_equal(json_object_size(o), 3);
	assert_string_equal(json_string_value(json_object_get(o, "code")),
	    "QY-5-1-01");
	assert_non_null(json_string_value(json_object_get(o, "zh")));
	assert_non_null(json_string_value(json_object_get(o, "en")));
	o = json_array_get(a, 25);
	assert_string_equal(json_string_value(json_object_get(o, "code")),
	    "QY-5-4");
	/* It must go through the protocol's canonical dump. */
	buf_init(&b, 1u << 20);
	assert_int_equal(jsonx_dump_canonical(a, &b), FW_OK);
	assert_non_null(strstr((char *)b.data, "\"code\":\"QY-5-1-04\""));
	buf_free(&b);
	json_decref(a);
	profile_free(p);
}

static void
test_subjects_and_codes(void **state)
{
	(void)state;
	assert_int_equal(profile_subject_bit("pharmacy"), PROFILE_SUBJ_INSTITUTION);
	assert_int_equal(profile_subject_bit("hospital"), PROFILE_SUBJ_INSTITUTION);
	assert_int_equal(profile_subject_bit("clinic"), PROFILE_SUBJ_INSTITUTION);
	assert_int_equal(profile_subject_bit("insured_person"),
	    PROFILE_SUBJ_INSURED);
	assert_int_equal(profile_subject_bit("insurance_agency"),
	    PROFILE_SUBJ_AGENCY);
	assert_int_equal(profile_subject_bit("other"), PROFILE_SUBJ_OTHER);
	assert_int_equal(profile_subject_bit("shop"), 0);
	assert_int_equal(profile_subject_bit(NULL), 0);

	assert_true(profile_code_valid("a"));
	assert_true(profile_code_valid("QY-5-1-01"));
	assert_true(profile_code_valid("a.b_c-D9"));
	assert_true(profile_code_valid("12345678901234567890123456789012"));
	assert_false(profile_code_valid("123456789012345678901234567890123"));
	assert_false(profile_code_valid(""));
	assert_false(profile_code_valid("a b"));
	assert_false(profile_code_valid("a/b"));
	assert_false(profile_code_valid("类"));
}

static void
test_resolve(void **state)
{
	char out[PATH_MAX], dir[] = "/tmp/fwprofXXXXXX", path[PATH_MAX + 32];
	FILE *f;

	(void)state;
	unsetenv("FW_PROFILE_DIR");
	/* Beside or above the test binary, build-x/tests/test_profile. */
	assert_int_equal(profile_resolve("qingyuan", out, sizeof out), FW_OK);
	assert_non_null(strstr(out, "server/profiles/qingyuan.conf"));
	assert_int_equal(access(out, R_OK), 0);
	assert_int_equal(profile_resolve("gaoping", out, sizeof out), FW_OK);
	assert_int_equal(profile_resolve("nosuch", out, sizeof out),
	    FW_ERR_NOT_FOUND);
	assert_non_null(strstr(fw_errmsg(), "FW_PROFILE_DIR"));
	/* Paths are taken as they are. */
	assert_int_equal(profile_resolve("my/county.conf", out, sizeof out),
	    FW_OK);
	assert_string_equal(out, "my/county.conf");
	assert_int_equal(profile_resolve("county.conf", out, sizeof out), FW_OK);
	assert_string_equal(out, "county.conf");
	assert_int_equal(profile_resolve("bad name", out, sizeof out),
	    FW_ERR_INVALID);
	assert_int_equal(profile_resolve("x/y.conf", out, 4), FW_ERR_INVALID);
	/* $FW_PROFILE_DIR, when set, is the one place looked. */
	assert_non_null(mkdtemp(dir));
	setenv("FW_PROFILE_DIR", dir, 1);
	assert_int_equal(profile_resolve("qingyuan", out, sizeof out),
	    FW_ERR_NOT_FOUND);
	assert_non_null(strstr(fw_errmsg(), dir));
	snprintf(path, sizeof path, "%s/county.conf", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(profile_resolve("county", out, sizeof out), FW_OK);
	assert_string_equal(out, path);
	unlink(path);
	rmdir(dir);
	unsetenv("FW_PROFILE_DIR");
}

/* ---- broken profiles --------------------------------------------------- */

/* A small valid profile; line numbers in the comments. */
static const char *const base[] = {
	"[profile]",			/* 1 */
	"format = 1",
	"name = test",
	"city = 测试市",
	"title = 测试",			/* 5 */
	"[appointment]",
	"term_years = 2",
	"term_article = T art 1",
	"renewal = yes",
	"renewal_consent = no",		/* 10 */
	"renewal_article = T art 1",
	"lapse_at_term_end = yes",
	"lapse_article = T art 1",
	"age_min = 18",
	"age_max = 60",			/* 15 */
	"age_article = T art 2",
	"age_exception = yes",
	"exception_age_min = 18",
	"exception_age_max = 65",
	"exception_article = T art 2",	/* 20 */
	"[deadlines]",
	"info_change_days = 20",
	"info_change_article = T art 3",
	"decide_days = 15",
	"notify_days = 5",		/* 25 */
	"finish_days = 30",
	"extension_days = 30",
	"extensions = 1",
	"handling_article = T art 4",
	"[reward]",			/* 30 */
	"min_yuan = 200",
	"max_yuan = 200000",
	"article = T art 5",
	"[grade 1]",
	"zh = 一档",			/* 35 */
	"en = Grade 1",
	"article = T art 5",
	"percent = 2.5",
	"floor_yuan = 300",
	"[eligibility insured]",	/* 40 */
	"zh = 参保",
	"en = Insured",
	"article = T art 6",
	"required = yes",
	"[method self]",		/* 45 */
	"zh = 自荐",
	"en = Self",
	"article = T art 7",
	"[termination T-1]",
	"zh = 辞职",			/* 50 */
	"en = Resignation",
	"article = T art 8",
	"kind = resignation",
	"notice_months = 1",
	"[category T-01]",		/* 55 */
	"zh = 虚构医药服务项目",
	"en = Fictitious services",
	"article = T art 9",
	"applies = institution, other",
};
#define NBASE	(sizeof base / sizeof base[0])

enum edit { REPLACE, INSERT, DELETE, APPEND };

struct bad {
	enum edit how;
	int line;		/* 1-based line of base to edit */
	const char *text;	/* new line(s) */
	int errline;		/* line the message names, 0 = none */
	const char *want;	/* substring of the message */
};

static char tmpdir[] = "/tmp/fwproftestXXXXXX";

/* Write base with one edit to a file; returns its path (static). */
static const char *
write_edit(const struct bad *b)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/p.conf", tmpdir);
	assert_non_null(f = fopen(path, "w"));
	for (size_t i = 0; i < NBASE; i++) {
		int ln = (int)i + 1;

		if (b != NULL && b->line == ln && b->how == INSERT)
			fprintf(f, "%s\n", b->text);
		if (b != NULL && b->line == ln && b->how == REPLACE) {
			fprintf(f, "%s\n", b->text);
			continue;
		}
		if (b != NULL && b->line == ln && b->how == DELETE)
			continue;
		fprintf(f, "%s\n", base[i]);
	}
	if (b != NULL && b->how == APPEND)
		fprintf(f, "%s\n", b->text);
	fclose(f);
	return path;
}

static int
setup_tmp(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	char path[PATH_MAX];

	(void)state;
	snprintf(path, sizeof path, "%s/p.conf", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

static void
test_base_loads(void **state)
{
	struct profile *p = load(write_edit(NULL));

	(void)state;
	assert_string_equal(p->name, "test");
	assert_int_equal(profile_grade(p, "1")->percent_bp, 250);
	assert_int_equal(profile_category(p, "T-01")->applies,
	    PROFILE_SUBJ_INSTITUTION | PROFILE_SUBJ_OTHER);
	profile_free(p);
}

static void
test_bad_profiles(void **state)
{
	static const char long_zh[] = "zh = "
	    "这是一个非常长的标签这是一个非常长的标签这是一个非常长的标签"
	    "这是一个非常长的标签这是一个非常长的标签这是一个非常长的标签"
	    "这是一个非常长的标签";
	static const struct bad cases[] = {
		{INSERT, 8, "term_months = 24", 8, "unknown key 'term_months' "
		    "in [appointment], expected one of term_years"},
		{REPLACE, 7, "term_years = two", 7, "'two' is not a number"},
		{REPLACE, 7, "term_years = 11", 7, "out of range, expected "
		    "years, 1..10"},
		{REPLACE, 7, "term_years = -1", 7, "not a number"},
		{REPLACE, 7, "term_years = 99999999999999999999", 7,
		    "out of range"},
		{APPEND, 0, "[category T-01]", 60, "duplicate category code "
		    "'T-01', first on line 55"},
		{REPLACE, 55, "[category T 01]", 55, "is not a code"},
		{REPLACE, 55, "[category T/01]", 55, "is not a code"},
		{REPLACE, 55, "[category 123456789012345678901234567890123]", 55,
		    "is not a code"},
		{REPLACE, 14, "age_min = 61", 15, "age_min 61 is greater than "
		    "age_max 60"},
		{REPLACE, 15, "age_max = 17", 15, "age_min 18 is greater"},
		{REPLACE, 18, "exception_age_min = 19", 18, "exception_age_min "
		    "19 is greater than age_min 18"},
		{REPLACE, 19, "exception_age_max = 59", 19, "exception_age_max "
		    "59 is less than age_max 60"},
		{REPLACE, 17, "age_exception = no", 18, "exception_age_min is "
		    "set but age_exception is no"},
		{DELETE, 20, NULL, 6, "lacks 'exception_article', required "
		    "when age_exception is yes"},
		{REPLACE, 38, "percent = 101", 38, "101% is out of range"},
		{REPLACE, 38, "percent = 100.01", 38, "out of range"},
		{REPLACE, 38, "percent = 1.234", 38, "not a percentage"},
		{REPLACE, 38, "percent = 3%", 38, "not a percentage"},
		{REPLACE, 38, "percent = 2.", 38, "not a percentage"},
		{REPLACE, 38, "percent = .5", 38, "not a percentage"},
		{REPLACE, 39, "floor_yuan = 300000", 34, "[grade 1] floor_yuan "
		    "300000 is above [reward] max_yuan 200000"},
		{REPLACE, 31, "min_yuan = 300000", 32, "min_yuan 300000 is "
		    "greater than max_yuan 200000"},
		{REPLACE, 32, "max_yuan = 2.5", 32, "not a number"},
		{DELETE, 57, NULL, 55, "[category T-01] lacks 'en'"},
		{DELETE, 7, NULL, 6, "[appointment] lacks 'term_years'"},
		{INSERT, 9, "term_years = 3", 9, "'term_years' is set twice in "
		    "[appointment], first on line 7"},
		{REPLACE, 30, "[rewards]", 30, "unknown section [rewards]"},
		{INSERT, 1, "name = x", 1, "before any section"},
		{REPLACE, 9, "renewal = maybe", 9, "not a boolean"},
		{REPLACE, 59, "applies = shop", 59, "'shop' is unknown"},
		{REPLACE, 59, "applies = institution, institution", 59,
		    "listed twice"},
		{REPLACE, 59, "applies = ,", 59, "is unknown"},
		{REPLACE, 53, "kind = cause", 54, "notice_months is set but kind "
		    "is not resignation"},
		{REPLACE, 53, "kind = fired", 53, "'fired' is not a kind"},
		{REPLACE, 2, "format = 2", 2, "format 2 is not supported"},
		{REPLACE, 3, "name = not a code", 3, "is not a code"},
		{REPLACE, 41, "zh =", 41, "0 bytes"},
		{REPLACE, 41, long_zh, 41, "line longer than"},
		{REPLACE, 41, "zh = \xff\xfe", 41, "invalid UTF-8"},
		{REPLACE, 41, "zh = a\x01" "b", 41, "control character"},
		{REPLACE, 22, "this line has no equals sign", 22,
		    "expected 'key = value'"},
		{REPLACE, 21, "[deadlines", 21, "must end with ']'"},
		{REPLACE, 21, "[deadlines] x", 21, "must end with ']'"},
		{APPEND, 0, "[appointment]", 60, "[appointment] appears twice, "
		    "first on line 6"},
		{REPLACE, 30, "[reward 1]", 30, "[reward] takes no code"},
		{REPLACE, 45, "[method]", 45, "[method] needs a code"},
		{REPLACE, 24, "decide_days = 0", 24, "out of range"},
	};
	struct profile *p;
	char want[64];
	const char *path;
	fw_err e;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p = NULL;
		path = write_edit(&cases[i]);
		e = profile_load(path, &p);
		if (e != FW_ERR_CONFIG)
			fail_msg("case %zu (%s): got %s: %s", i, cases[i].want,
			    fw_strerror(e), fw_errmsg());
		assert_null(p);
		snprintf(want, sizeof want, "%s:%d: ", path, cases[i].errline);
		if (strncmp(fw_errmsg(), want, strlen(want)) != 0 ||
		    strstr(fw_errmsg(), cases[i].want) == NULL)
			fail_msg("case %zu: message '%s', expected '%s...%s'", i,
			    fw_errmsg(), want, cases[i].want);
	}
}

/* Whole sections or lists missing: the file, no line. */
static void
test_missing_sections(void **state)
{
	static const struct {
		int from, to;		/* lines to drop, inclusive */
		const char *want;
	} cases[] = {
		{30, 33, "no [reward] section, expected one"},
		{1, 5, "no [profile] section"},
		{21, 29, "no [deadlines] section"},
		{55, 59, "no [category CODE] section, expected at least one"},
		{49, 54, "no [termination CODE] section"},
		{45, 48, "no [method CODE] section"},
		{40, 44, "no [eligibility CODE] section"},
		{34, 39, "no [grade CODE] section"},
	};
	char path[PATH_MAX], want[PATH_MAX + 8];
	struct profile *p = NULL;
	FILE *f;

	(void)state;
	snprintf(path, sizeof path, "%s/p.conf", tmpdir);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		assert_non_null(f = fopen(path, "w"));
		for (int i = 1; i <= (int)NBASE; i++)
			if (i < cases[c].from || i > cases[c].to)
				fprintf(f, "%s\n", base[i - 1]);
		fclose(f);
		assert_int_equal(profile_load(path, &p), FW_ERR_CONFIG);
		snprintf(want, sizeof want, "%s: %s", path, cases[c].want);
		if (strncmp(fw_errmsg(), want, strlen(want)) != 0)
			fail_msg("message '%s', expected '%s...'", fw_errmsg(), want);
	}
	assert_int_equal(profile_load("/nonexistent/p.conf", &p),
	    FW_ERR_NOT_FOUND);
	assert_int_equal(profile_load_mem("mem", "", 0, &p), FW_ERR_CONFIG);
	assert_non_null(strstr(fw_errmsg(), "no [profile] section"));
}

/* Comments, a byte order mark, CRLF line ends and indentation are fine;
 * an inline ';' without a blank before it stays in the value. */
static void
test_syntax_accepted(void **state)
{
	struct buf b;
	struct profile *p = NULL;

	(void)state;
	buf_init(&b, 1u << 20);
	assert_int_equal(buf_addstr(&b, "\xef\xbb\xbf; a comment\r\n"), FW_OK);
	for (size_t i = 0; i < NBASE; i++) {
		if (strcmp(base[i], "article = T art 9") == 0)
			assert_int_equal(buf_addstr(&b, "  article = T art 9;x ; "
			    "comment\r\n"), FW_OK);
		else
			assert_int_equal(buf_printf(&b, "  %s  # note\r\n",
			    base[i]), FW_OK);
	}
	assert_int_equal(profile_load_mem("mem", b.data, b.len, &p), FW_OK);
	assert_string_equal(p->categories[0].e.article, "T art 9;x");
	assert_string_equal(p->city, "测试市");
	profile_free(p);
	/* A NUL byte is refused. */
	assert_int_equal(profile_load_mem("mem", "[profile]\n\0\n", 12, &p),
	    FW_ERR_CONFIG);
	assert_non_null(strstr(fw_errmsg(), "mem:2: NUL byte"));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qingyuan_appointment),
		cmocka_unit_test(test_qingyuan_lists),
		cmocka_unit_test(test_qingyuan_deadlines_reward),
		cmocka_unit_test(test_gaoping),
		cmocka_unit_test(test_equivalents),
		cmocka_unit_test(test_taxonomy_json),
		cmocka_unit_test(test_subjects_and_codes),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_base_loads),
		cmocka_unit_test(test_bad_profiles),
		cmocka_unit_test(test_missing_sections),
		cmocka_unit_test(test_syntax_accepted),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}

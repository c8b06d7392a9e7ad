/*
 * test_rules.c: appointment rules over the two real profiles
 * (server/rules.c): every age bound on both sides, with and without an
 * exception; term arithmetic across leap years; lapse per profile;
 * renewal; every termination reason of both profiles; the GP art 14(4)
 * notice; the GP art 7 information-change deadline; rewards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../server/server.h"

static struct profile *qy, *gp;

static int
setup(void **state)
{
	(void)state;
	if (profile_load("server/profiles/qingyuan.conf", &qy) != FW_OK ||
	    profile_load("server/profiles/gaoping.conf", &gp) != FW_OK) {
		fprintf(stderr, "%s\n", fw_errmsg());
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	profile_free(qy);
	profile_free(gp);
	return 0;
}

static cal_day
D(const char *s)
{
	cal_day d = 0;

	if (calendar_parse(s, &d) != FW_OK)
		fail_msg("bad date in test: %s", s);
	return d;
}

static const char *const qy_attested[] = {"law_abiding", "insured_in_city",
    "full_civil_capacity", "knows_regulations", "volunteer", "fit_for_duty",
    "no_conflict_of_interest", "no_bad_credit"};
static const char *const gp_attested[] = {"chinese_citizen", "law_abiding",
    "knows_regulations", "fit_for_duty", "expertise"};

/* Check an appointment on 2025-06-15 of someone born on birth. */
static fw_err
appoint(const struct profile *p, const char *birth, const char *exception,
    char *why, size_t whylen)
{
	struct rules_appointment a;

	memset(&a, 0, sizeof a);
	a.birth = D(birth);
	a.start = D("2025-06-15");
	a.exception = exception;
	if (p == qy) {
		a.method = "self_nomination";
		a.attested = qy_attested;
		a.nattested = sizeof qy_attested / sizeof qy_attested[0];
	} else {
		a.method = "public_selection";
		a.attested = gp_attested;
		a.nattested = sizeof gp_attested / sizeof gp_attested[0];
	}
	return rules_check_appointment(p, &a, why, whylen);
}

static void
expect_ok(const struct profile *p, const char *birth, const char *exception)
{
	char why[256] = "";

	if (appoint(p, birth, exception, why, sizeof why) != FW_OK)
		fail_msg("%s born %s (%s): refused: %s", p->name, birth,
		    exception != NULL ? exception : "no exception", why);
}

static void
expect_refused(const struct profile *p, const char *birth,
    const char *exception, const char *want)
{
	char why[256] = "";
	fw_err e = appoint(p, birth, exception, why, sizeof why);

	if (e != FW_ERR_POLICY)
		fail_msg("%s born %s: got %s, expected policy", p->name, birth,
		    fw_strerror(e));
	if (strstr(why, want) == NULL)
		fail_msg("%s born %s: '%s' lacks '%s'", p->name, birth, why, want);
	assert_string_equal(fw_errmsg(), why);
}

static void
test_age(void **state)
{
	(void)state;
	assert_int_equal(rules_age(D("2000-06-15"), D("2018-06-14")), 17);
	assert_int_equal(rules_age(D("2000-06-15"), D("2018-06-15")), 18);
	assert_int_equal(rules_age(D("2000-06-15"), D("2000-06-15")), 0);
	assert_int_equal(rules_age(D("2000-06-15"), D("2000-06-14")), -1);
	assert_int_equal(rules_age(D("2000-12-31"), D("2001-12-30")), 0);
	assert_int_equal(rules_age(D("2000-12-31"), D("2001-12-31")), 1);
	/* 29 Feb: the birthday is 1 Mar in a common year. */
	assert_int_equal(rules_age(D("2000-02-29"), D("2018-02-28")), 17);
	assert_int_equal(rules_age(D("2000-02-29"), D("2018-03-01")), 18);
	assert_int_equal(rules_age(D("2000-02-29"), D("2024-02-28")), 23);
	assert_int_equal(rules_age(D("2000-02-29"), D("2024-02-29")), 24);
	assert_int_equal(rules_age(D("1900-03-01"), D("9999-12-31")), 8099);
}

/* QY art 2(2): 18-60, a special case up to 65; appointment 2025-06-15. */
static void
test_qy_age_bounds(void **state)
{
	(void)state;
	/* 18th birthday. */
	expect_refused(qy, "2007-06-16", NULL, "QY art 2(2): age 17 at "
	    "appointment is under 18");
	expect_refused(qy, "2007-06-16", "needed", "age 17");
	expect_ok(qy, "2007-06-15", NULL);
	expect_ok(qy, "2007-06-14", NULL);
	/* 60th birthday: 60 is within "60周岁以下". */
	expect_ok(qy, "1965-06-16", NULL);		/* 59 */
	expect_ok(qy, "1965-06-15", NULL);		/* 60 */
	expect_ok(qy, "1965-06-14", NULL);		/* 60 */
	/* 61st birthday: over 60. */
	expect_ok(qy, "1964-06-16", NULL);		/* 60, last day */
	expect_refused(qy, "1964-06-15", NULL, "QY art 2(2): age 61 at "
	    "appointment is over 60; record an exception (up to 65) with a "
	    "reason");
	expect_refused(qy, "1964-06-15", "   ", "age 61");
	expect_ok(qy, "1964-06-15", "retired auditor, needed for hospitals");
	/* 65th and 66th birthdays. */
	expect_ok(qy, "1960-06-16", "special case");	/* 64 */
	expect_ok(qy, "1960-06-15", "special case");	/* 65 */
	expect_ok(qy, "1959-06-16", "special case");	/* 65, last day */
	expect_refused(qy, "1959-06-15", "special case", "QY art 2(2): "
	    "特殊情况可以放宽到65周岁: age 66 at appointment is over 65, the "
	    "most an exception allows");
	expect_refused(qy, "1959-06-15", NULL, "over 60, and over 65 even "
	    "with an exception");
	/* Leap-day birth. */
	expect_ok(qy, "2007-02-28", NULL);
	expect_ok(qy, "2004-02-29", NULL);
}

/* GP art 4(1): 25-70 as a rule; exceptions with a reason, no outer bound
 * but 18. */
static void
test_gp_age_bounds(void **state)
{
	(void)state;
	expect_refused(gp, "2000-06-16", NULL, "GP art 4(1): age 24 at "
	    "appointment is under 25; record an exception (down to 18) with a "
	    "reason");
	expect_ok(gp, "2000-06-16", "expert in hospital accounting");
	expect_ok(gp, "2000-06-15", NULL);		/* 25 */
	expect_ok(gp, "2000-06-14", NULL);
	expect_ok(gp, "1955-06-16", NULL);		/* 69 */
	expect_ok(gp, "1955-06-15", NULL);		/* 70 */
	expect_ok(gp, "1954-06-16", NULL);		/* 70, last day */
	expect_refused(gp, "1954-06-15", NULL, "GP art 4(1): age 71 at "
	    "appointment is over 70; record an exception with a reason");
	expect_ok(gp, "1954-06-15", "emeritus professor of medicine");
	expect_ok(gp, "1925-06-15", "no upper bound with a reason");	/* 100 */
	/* 18 is the floor even with an exception. */
	expect_ok(gp, "2007-06-15", "student volunteer");	/* 18 */
	expect_refused(gp, "2007-06-16", "student volunteer", "age 17 at "
	    "appointment is under 18, the least an exception allows");
	expect_refused(gp, "2007-06-16", NULL, "under 25, and under 18 even "
	    "with an exception");
}

static void
test_method_and_eligibility(void **state)
{
	const char *const some[] = {"insured_in_city", "priority_group"};
	const char *const unknown[] = {"insured_in_city", "no_such_check"};
	struct rules_appointment a;
	char why[512];

	(void)state;
	memset(&a, 0, sizeof a);
	a.birth = D("1980-01-01");
	a.start = D("2025-06-15");
	a.attested = qy_attested;
	a.nattested = sizeof qy_attested / sizeof qy_attested[0];
	a.method = "public_selection";		/* a GP method */
	assert_int_equal(rules_check_appointment(qy, &a, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "QY art 3(2)"));
	assert_non_null(strstr(why, "unit_recommendation, self_nomination"));
	a.method = NULL;
	assert_int_equal(rules_check_appointment(qy, &a, NULL, 0), FW_ERR_POLICY);
	a.method = "unit_recommendation";
	assert_int_equal(rules_check_appointment(qy, &a, why, sizeof why), FW_OK);
	assert_int_equal(rules_check_appointment(gp, &a, why, sizeof why),
	    FW_ERR_POLICY);
	/* A required condition not attested, with its article. */
	a.attested = some;
	a.nattested = 2;
	assert_int_equal(rules_check_appointment(qy, &a, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "QY art 2(1): 'law_abiding'"));
	a.attested = qy_attested;
	a.nattested = sizeof qy_attested / sizeof qy_attested[0] - 1;
	assert_int_equal(rules_check_appointment(qy, &a, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "QY art 2(8): 'no_bad_credit'"));
	a.nattested = 0;
	assert_int_equal(rules_check_appointment(qy, &a, why, sizeof why),
	    FW_ERR_POLICY);
	/* An unknown attestation. */
	a.attested = unknown;
	a.nattested = 2;
	assert_int_equal(rules_check_appointment(qy, &a, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "'no_such_check' is not an eligibility"));
	/* Every GP method. */
	a.attested = gp_attested;
	a.nattested = sizeof gp_attested / sizeof gp_attested[0];
	for (size_t i = 0; i < gp->nmethods; i++) {
		a.method = gp->methods[i].e.code;
		assert_int_equal(rules_check_appointment(gp, &a, why, sizeof why),
		    FW_OK);
	}
	/* GP's conditions are not QY's. */
	assert_int_equal(rules_check_appointment(qy, &a, why, sizeof why),
	    FW_ERR_POLICY);
	/* Born after the appointment. */
	a.birth = D("2026-01-01");
	assert_int_equal(rules_check_appointment(gp, &a, why, sizeof why),
	    FW_ERR_INVALID);
}

static void
expect_end(const struct profile *p, const char *start, const char *end)
{
	char got[CAL_DATE_LEN];

	calendar_format(rules_term_end(p, D(start)), got);
	if (strcmp(got, end) != 0)
		fail_msg("%s term from %s: ends %s, expected %s", p->name, start,
		    got, end);
}

static void
test_terms(void **state)
{
	(void)state;
	expect_end(qy, "2025-06-15", "2027-06-15");
	expect_end(gp, "2025-06-15", "2028-06-15");
	/* 29 Feb start: 28 Feb in a common year, 29 Feb in a leap one. */
	expect_end(qy, "2024-02-29", "2026-02-28");
	expect_end(gp, "2024-02-29", "2027-02-28");
	expect_end(qy, "2026-02-28", "2028-02-28");	/* the renewal */
	expect_end(gp, "2025-02-28", "2028-02-28");
	expect_end(gp, "2021-03-01", "2024-03-01");
	expect_end(qy, "2022-12-31", "2024-12-31");
	expect_end(qy, "2098-02-28", "2100-02-28");
	{
		/* A leap-day appointment with a 4-year QY run. */
		cal_day e1 = rules_term_end(qy, D("2024-02-29")), e2;

		assert_int_equal(rules_check_renewal(qy, e1, e1, 1, &e2, NULL, 0),
		    FW_OK);
		assert_int_equal(e2, D("2028-02-28"));
	}
}

static void
test_renewal(void **state)
{
	cal_day end = D("2027-06-15"), ne = 0;
	char why[256];

	(void)state;
	/* QY art 3(3): consent needed. */
	assert_int_equal(rules_check_renewal(qy, end, D("2027-06-01"), 0, &ne,
	    why, sizeof why), FW_ERR_POLICY);
	assert_non_null(strstr(why, "QY art 3(3): a renewal needs the "
	    "supervisor's consent"));
	assert_int_equal(rules_check_renewal(qy, end, D("2027-06-01"), 1, &ne,
	    why, sizeof why), FW_OK);
	assert_int_equal(ne, D("2029-06-15"));
	/* QY: no lapse, so a renewal after the end is still a renewal. */
	assert_int_equal(rules_check_renewal(qy, end, D("2027-09-01"), 1, &ne,
	    why, sizeof why), FW_OK);
	assert_int_equal(ne, D("2029-06-15"));
	/* GP art 7: no consent asked; lapses the day after the end. */
	end = D("2028-06-15");
	assert_int_equal(rules_check_renewal(gp, end, end, 0, &ne, why,
	    sizeof why), FW_OK);
	assert_int_equal(ne, D("2031-06-15"));
	assert_int_equal(rules_check_renewal(gp, end, end + 1, 1, NULL, why,
	    sizeof why), FW_ERR_POLICY);
	assert_non_null(strstr(why, "GP art 7: the term ended on 2028-06-15 "
	    "and lapsed"));
}

static void
test_state(void **state)
{
	cal_day s = D("2024-02-29"), qe = rules_term_end(qy, s),
	    ge = rules_term_end(gp, s);

	(void)state;
	assert_int_equal(rules_state(qy, s, qe, CAL_NONE, s - 1),
	    RULES_NOT_STARTED);
	assert_int_equal(rules_state(qy, s, qe, CAL_NONE, s), RULES_ACTIVE);
	assert_int_equal(rules_state(qy, s, qe, CAL_NONE, qe), RULES_ACTIVE);
	/* QY: after the end, still appointed until the office acts. */
	assert_int_equal(rules_state(qy, s, qe, CAL_NONE, qe + 1),
	    RULES_OVERDUE);
	assert_true(rules_appointed(RULES_OVERDUE));
	assert_int_equal(rules_state(qy, s, qe, qe + 40, qe + 39),
	    RULES_OVERDUE);
	assert_int_equal(rules_state(qy, s, qe, qe + 40, qe + 40),
	    RULES_TERMINATED);
	/* GP art 7: lapses by itself. */
	assert_int_equal(ge, D("2027-02-28"));
	assert_int_equal(rules_state(gp, s, ge, CAL_NONE, ge), RULES_ACTIVE);
	assert_int_equal(rules_state(gp, s, ge, CAL_NONE, ge + 1), RULES_LAPSED);
	assert_false(rules_appointed(RULES_LAPSED));
	assert_int_equal(rules_state(gp, s, ge, D("2025-01-01"),
	    D("2024-12-31")), RULES_ACTIVE);
	assert_int_equal(rules_state(gp, s, ge, D("2025-01-01"),
	    D("2025-01-01")), RULES_TERMINATED);
	assert_false(rules_appointed(RULES_TERMINATED));
	assert_false(rules_appointed(RULES_NOT_STARTED));
	assert_true(rules_appointed(RULES_ACTIVE));
	assert_string_equal(rules_state_name(RULES_OVERDUE), "overdue");
	assert_string_equal(rules_state_name(RULES_LAPSED), "lapsed");
	assert_string_equal(rules_state_name((enum rules_state)99), "unknown");
}

/* Every reason of a profile, with what its kind needs. */
static void
every_reason(const struct profile *p)
{
	struct rules_termination t;
	cal_day eff;
	char why[256];

	for (size_t i = 0; i < p->nterminations; i++) {
		const struct profile_termination *r = &p->terminations[i];

		memset(&t, 0, sizeof t);
		t.reason = r->e.code;
		t.term_end = D("2026-06-30");
		t.recorded = D("2026-03-10");
		t.wanted = CAL_NONE;
		if (r->kind == PROFILE_TERM_EXPIRY)
			t.recorded = t.term_end;
		if (r->kind == PROFILE_TERM_OTHER)
			t.note = "office reorganised";
		if (rules_check_termination(p, &t, &eff, why, sizeof why) != FW_OK)
			fail_msg("%s %s: %s", p->name, r->e.code, why);
		switch (r->kind) {
		case PROFILE_TERM_CAUSE:
		case PROFILE_TERM_OTHER:
			assert_int_equal(eff, t.recorded);
			break;
		case PROFILE_TERM_RESIGNATION:
			assert_int_equal(eff, calendar_add_months(t.recorded,
			    r->notice_months));
			break;
		case PROFILE_TERM_EXPIRY:
			assert_int_equal(eff, t.term_end + 1);
			break;
		}
	}
}

static void
test_termination_reasons(void **state)
{
	struct rules_termination t;
	cal_day eff;
	char why[512];

	(void)state;
	every_reason(qy);
	every_reason(gp);
	memset(&t, 0, sizeof t);
	t.recorded = D("2026-03-10");
	t.wanted = CAL_NONE;
	t.term_end = D("2026-06-30");
	t.reason = "QY-11-8";
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "'QY-11-8' is not a termination reason"));
	assert_non_null(strstr(why, "QY-11-1, QY-11-2"));
	t.reason = "GP-14-1";
	assert_int_equal(rules_check_termination(qy, &t, &eff, NULL, 0),
	    FW_ERR_POLICY);
	t.reason = NULL;
	assert_int_equal(rules_check_termination(gp, &t, &eff, NULL, 0),
	    FW_ERR_POLICY);
	/* "Other" needs a note. */
	t.reason = "QY-11-7";
	t.note = " ";
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "QY art 11(7): 'QY-11-7'"));
	/* No backdating. */
	t.reason = "QY-11-3";
	t.wanted = D("2026-03-09");
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_ERR_POLICY);
	t.wanted = D("2026-04-01");
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_OK);
	assert_int_equal(eff, D("2026-04-01"));
	/* Expiry: not before the last day; recorded late, from that day. */
	t.reason = "QY-11-6";
	t.wanted = CAL_NONE;
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "QY art 11(6): the term runs until "
	    "2026-06-30"));
	t.recorded = D("2026-08-03");
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_OK);
	assert_int_equal(eff, D("2026-08-03"));
	t.term_end = CAL_NONE;
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_ERR_INVALID);
	/* QY art 11(5): no notice period. */
	t.reason = "QY-11-5";
	t.recorded = D("2026-03-10");
	assert_int_equal(rules_check_termination(qy, &t, &eff, why, sizeof why),
	    FW_OK);
	assert_int_equal(eff, D("2026-03-10"));
}

/* GP art 14(4): one month's notice as a rule. */
static void
test_resignation_notice(void **state)
{
	struct rules_termination t;
	cal_day eff = 0;
	char why[512];

	(void)state;
	memset(&t, 0, sizeof t);
	t.reason = "GP-14-4";
	t.term_end = D("2027-06-30");
	t.recorded = D("2025-01-10");
	t.wanted = CAL_NONE;
	assert_int_equal(rules_check_termination(gp, &t, &eff, why, sizeof why),
	    FW_OK);
	assert_int_equal(eff, D("2025-02-10"));
	/* Month ends: 31 Jan + 1 month = 28 Feb, or 29 in a leap year. */
	t.recorded = D("2025-01-31");
	assert_int_equal(rules_check_termination(gp, &t, &eff, NULL, 0), FW_OK);
	assert_int_equal(eff, D("2025-02-28"));
	t.recorded = D("2024-01-31");
	assert_int_equal(rules_check_termination(gp, &t, &eff, NULL, 0), FW_OK);
	assert_int_equal(eff, D("2024-02-29"));
	t.recorded = D("2025-12-15");
	assert_int_equal(rules_check_termination(gp, &t, &eff, NULL, 0), FW_OK);
	assert_int_equal(eff, D("2026-01-15"));
	/* Earlier only with the office's agreement and a reason. */
	t.recorded = D("2025-01-10");
	t.wanted = D("2025-01-20");
	assert_int_equal(rules_check_termination(gp, &t, &eff, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "GP art 14(4): a resignation asked for on "
	    "2025-01-10 takes effect on 2025-02-10 at the earliest (1 month's "
	    "notice); record the office's agreement"));
	t.exception = "moving abroad; office agreed";
	assert_int_equal(rules_check_termination(gp, &t, &eff, why, sizeof why),
	    FW_OK);
	assert_int_equal(eff, D("2025-01-20"));
	/* Later than the notice: as asked. */
	t.exception = NULL;
	t.wanted = D("2025-03-01");
	assert_int_equal(rules_check_termination(gp, &t, &eff, why, sizeof why),
	    FW_OK);
	assert_int_equal(eff, D("2025-03-01"));
	t.wanted = D("2025-02-10");
	assert_int_equal(rules_check_termination(gp, &t, &eff, why, sizeof why),
	    FW_OK);
	assert_int_equal(eff, D("2025-02-10"));
}

/* GP art 7: a change of information is reported within 20 working days. */
static void
test_info_change(void **state)
{
	static const char holidays[] = "2025-10-01..2025-10-08\n"
	    "workday 2025-09-28\nworkday 2025-10-11\n";
	struct calendar *cal = NULL;
	cal_day due = 0;

	(void)state;
	assert_int_equal(calendar_new(&cal), FW_OK);
	assert_int_equal(rules_info_change_due(gp, cal, D("2025-06-13"), &due),
	    FW_OK);
	assert_int_equal(due, D("2025-07-11"));
	assert_int_equal(rules_info_change_due(qy, cal, D("2025-06-13"), &due),
	    FW_ERR_NOT_FOUND);
	calendar_free(cal);
	/* Across National Day 2025: Sep 26 (Fri) + 20 working days. */
	assert_int_equal(calendar_load_mem("h", holidays, sizeof holidays - 1,
	    &cal), FW_OK);
	assert_int_equal(rules_info_change_due(gp, cal, D("2025-09-26"), &due),
	    FW_OK);
	/* 28 (Sun, worked), 29, 30, then 9, 10, 11 (Sat, worked), 13..17,
	 * 20..24, 27..30: the 20th is 30 Oct. */
	assert_int_equal(due, D("2025-10-30"));
	calendar_free(cal);
}

static void
test_reward(void **state)
{
	int64_t r = 0;
	char why[256];

	(void)state;
	/* QY grade 1: 3 %, at least 400. */
	assert_int_equal(rules_reward(qy, "1", 10000000, &r, why, sizeof why),
	    FW_OK);		/* 100,000 yuan */
	assert_int_equal(r, 300000);
	assert_int_equal(rules_reward(qy, "1", 1000000, &r, NULL, 0), FW_OK);
	assert_int_equal(r, 40000);	/* 300 -> floor 400 */
	/* Grade 2: 2 %, rounded down to the fen, floor 300. */
	assert_int_equal(rules_reward(qy, "2", 2000055, &r, NULL, 0), FW_OK);
	assert_int_equal(r, 40001);	/* 20000.55 * 2 % = 400.011 */
	assert_int_equal(rules_reward(qy, "2", 1234567, &r, NULL, 0), FW_OK);
	assert_int_equal(r, 30000);
	/* Grade 3: 1 %, floor 200. */
	assert_int_equal(rules_reward(qy, "3", 0, &r, NULL, 0), FW_OK);
	assert_int_equal(r, 20000);
	assert_int_equal(rules_reward(qy, "3", 5000000, &r, NULL, 0), FW_OK);
	assert_int_equal(r, 50000);
	/* The cap. */
	assert_int_equal(rules_reward(qy, "1", INT64_C(100000000000), &r, NULL,
	    0), FW_OK);
	assert_int_equal(r, 20000000);
	assert_int_equal(rules_reward(qy, "1", INT64_C(100000000000000), &r,
	    NULL, 0), FW_OK);
	assert_int_equal(r, 20000000);
	assert_int_equal(rules_reward(qy, "1", INT64_C(100000000000001), &r,
	    NULL, 0), FW_ERR_INVALID);
	assert_int_equal(rules_reward(qy, "1", -1, &r, NULL, 0), FW_ERR_INVALID);
	assert_int_equal(rules_reward(qy, "4", 100, &r, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "expected one of 1, 2, 3"));
	/* GP: no percentage yet; the officer enters the sum. */
	assert_int_equal(rules_reward(gp, "default", 100, &r, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "enter the reward by hand, 200..200000 "
	    "yuan"));
	assert_int_equal(rules_check_reward(gp, 19999, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "a reward of 199.99 yuan is outside "
	    "200..200000 yuan"));
	assert_int_equal(rules_check_reward(gp, 20000, NULL, 0), FW_OK);
	assert_int_equal(rules_check_reward(gp, 20000000, NULL, 0), FW_OK);
	assert_int_equal(rules_check_reward(gp, 20000001, NULL, 0),
	    FW_ERR_POLICY);
	assert_int_equal(rules_check_reward(qy, -5, why, sizeof why),
	    FW_ERR_POLICY);
	assert_non_null(strstr(why, "-0.05 yuan"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_qy_age_bounds),
		cmocka_unit_test(test_gp_age_bounds),
		cmocka_unit_test(test_method_and_eligibility),
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_renewal),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_termination_reasons),
		cmocka_unit_test(test_resignation_notice),
		cmocka_unit_test(test_info_change),
		cmocka_unit_test(test_reward),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * rules.c: the appointment rules of a policy profile, as pure functions.
 *
 * registry work (`supervisor add|renew|terminate`), enrollment and ingest
 * ask these functions whether an appointment may be made, when a term
 * ends, whether a supervisor is appointed on a day, when a termination
 * takes effect and what a reward comes to.  No database, no clock: the
 * caller passes the days (cal_day, calendar.c).  A refusal is
 * FW_ERR_POLICY and its message opens with the article the profile cites,
 * so that the office sees why ("QY art 2(2): age 61 at appointment is over
 * 60; ...").
 *
 * Where the texts leave a choice, this file makes it, as follows.
 *  - Ages are completed years (周岁), one more on each birthday; a 29 Feb
 *    birthday is on 1 Mar in a common year.  Bounds include the number
 *    (民法典 art 1259: 以上、以下 include it), so QY's 18-60 admits
 *    someone aged 60 years and 364 days.
 *  - A term starting on S runs through S + term_years (民法典 art
 *    201-202: the first day is not counted and the period ends on the
 *    corresponding day, or on the month's last day if there is none).  A
 *    renewal starts on the old last day; the day belongs to both terms.
 *  - After the last day, a profile with lapse_at_term_end (GP art 7: 到期
 *    未续任则自然解聘) no longer has the supervisor appointed; one without
 *    (QY: non-renewal is a ground the office records, art 11(6)) keeps
 *    the supervisor appointed ("overdue") until it renews or terminates.
 *  - A termination's effective day is the first day no longer appointed.
 *    It is never before the day it is recorded.  A resignation takes
 *    effect notice_months after it was asked for (GP art 14(4): 原则上
 *    one month, so an earlier day needs an exception with a reason).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

#define RULES_MSG_MAX	FW_ERRMSG_MAX
#define RULES_FEN_MAX	INT64_C(100000000000000)	/* 10^12 yuan */

/* Refuse with a policy error: message set for the thread and copied to
 * why. */
static fw_err rules_refuse(fw_err e, char *why, size_t whylen,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static fw_err
rules_refuse(fw_err e, char *why, size_t whylen, const char *fmt, ...)
{
	char msg[RULES_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", msg);
	return fw_seterr(e, "%s", msg);
}

/* True if s holds no visible character. */
static int
rules_blank(const char *s)
{
	if (s == NULL)
		return 1;
	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return 0;
	return 1;
}

/* "a, b, c": the codes of a list, for messages. */
static void
rules_codes(const void *list, size_t n, size_t size, char *out, size_t len)
{
	const char *base = list;
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		const struct profile_entry *e = (const void *)(base + i * size);

		used += (size_t)snprintf(out + used, len - used, "%s%s",
		    i > 0 ? ", " : "", e->code);
	}
}

int
rules_age(cal_day birth, cal_day day)
{
	int by, bm, bd, y, m, d, age;

	if (day < birth)
		return -1;
	calendar_ymd(birth, &by, &bm, &bd);
	calendar_ymd(day, &y, &m, &d);
	age = y - by;
	/* Before this year's birthday.  For a 29 Feb birthday in a common
	 * year every day up to 28 Feb is before it, so it falls on 1 Mar. */
	if (m < bm || (m == bm && d < bd))
		age--;
	return age;
}

/* ---- appointment ------------------------------------------------------- */

static fw_err
rules_check_method(const struct profile *p, const char *method, char *why,
    size_t whylen)
{
	char codes[256];

	if (method != NULL && profile_method(p, method) != NULL)
		return FW_OK;
	rules_codes(p->methods, p->nmethods, sizeof *p->methods, codes,
	    sizeof codes);
	return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: appointment method "
	    "'%.40s' is not one the profile allows, expected one of %s",
	    p->methods[0].e.article, method != NULL ? method : "(none)", codes);
}

static int
rules_attested(const struct rules_appointment *a, const char *code)
{
	for (size_t i = 0; i < a->nattested; i++)
		if (a->attested[i] != NULL && strcmp(a->attested[i], code) == 0)
			return 1;
	return 0;
}

static fw_err
rules_check_eligibility(const struct profile *p,
    const struct rules_appointment *a, char *why, size_t whylen)
{
	const struct profile_eligibility *el;
	char codes[384];

	for (size_t i = 0; i < a->nattested; i++) {
		if (a->attested[i] != NULL &&
		    profile_eligibility(p, a->attested[i]) != NULL)
			continue;
		rules_codes(p->eligibility, p->neligibility,
		    sizeof *p->eligibility, codes, sizeof codes);
		return rules_refuse(FW_ERR_POLICY, why, whylen, "profile %s: "
		    "'%.40s' is not an eligibility condition of the profile, "
		    "expected one of %s", p->name, a->attested[i] != NULL ?
		    a->attested[i] : "(null)", codes);
	}
	for (size_t i = 0; i < p->neligibility; i++) {
		el = &p->eligibility[i];
		if (el->required && !rules_attested(a, el->e.code))
			return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: '%s' "
			    "(%s) is not attested; the office attests it before "
			    "appointing", el->e.article, el->e.code, el->e.en);
	}
	return FW_OK;
}

/* Age outside [age_min, age_max] and no exception recorded. */
static fw_err
rules_refuse_age(const struct profile *p, int age, char *why, size_t whylen)
{
	const struct profile_appointment *ap = &p->appt;
	int over = age > ap->age_max, bound = over ? ap->age_max : ap->age_min;
	int ebound = over ? ap->exception_age_max : ap->exception_age_min;
	const char *rel = over ? "over" : "under";

	if (!ap->age_exception || ebound == bound)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: age %d at "
		    "appointment is %s %d", ap->age_article, age, rel, bound);
	if ((over && ebound != PROFILE_NONE && age > ebound) ||
	    (!over && age < ebound))
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: age %d at "
		    "appointment is %s %d, and %s %d even with an exception (%s)",
		    ap->age_article, age, rel, bound, rel, ebound,
		    ap->exception_article);
	if (ebound == PROFILE_NONE)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: age %d at "
		    "appointment is %s %d; record an exception with a reason "
		    "(%s)", ap->age_article, age, rel, bound,
		    ap->exception_article);
	return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: age %d at "
	    "appointment is %s %d; record an exception (%s %d) with a reason "
	    "(%s)", ap->age_article, age, rel, bound, over ? "up to" : "down to",
	    ebound, ap->exception_article);
}

static fw_err
rules_check_age(const struct profile *p, const struct rules_appointment *a,
    char *why, size_t whylen)
{
	const struct profile_appointment *ap = &p->appt;
	char b[CAL_DATE_LEN], s[CAL_DATE_LEN];
	int age = rules_age(a->birth, a->start);

	if (age < 0)
		return rules_refuse(FW_ERR_INVALID, why, whylen, "birth date %s is "
		    "after the appointment date %s", calendar_format(a->birth, b),
		    calendar_format(a->start, s));
	if (age >= ap->age_min && age <= ap->age_max)
		return FW_OK;
	if (!ap->age_exception || rules_blank(a->exception))
		return rules_refuse_age(p, age, why, whylen);
	if (ap->exception_age_max != PROFILE_NONE && age > ap->exception_age_max)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: age %d at "
		    "appointment is over %d, the most an exception allows",
		    ap->exception_article, age, ap->exception_age_max);
	if (age < ap->exception_age_min)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: age %d at "
		    "appointment is under %d, the least an exception allows",
		    ap->exception_article, age, ap->exception_age_min);
	return FW_OK;
}

fw_err
rules_check_appointment(const struct profile *p,
    const struct rules_appointment *a, char *why, size_t whylen)
{
	fw_err e;

	if ((e = rules_check_method(p, a->method, why, whylen)) != FW_OK ||
	    (e = rules_check_eligibility(p, a, why, whylen)) != FW_OK)
		return e;
	return rules_check_age(p, a, why, whylen);
}

/* ---- terms ------------------------------------------------------------- */

cal_day
rules_term_end(const struct profile *p, cal_day start)
{
	return calendar_add_years(start, p->appt.term_years);
}

fw_err
rules_check_renewal(const struct profile *p, cal_day end, cal_day day,
    int consent, cal_day *new_end, char *why, size_t whylen)
{
	const struct profile_appointment *ap = &p->appt;
	char d[CAL_DATE_LEN];

	if (!ap->renewal)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: terms are not "
		    "renewed; appoint anew", ap->renewal_article);
	if (ap->renewal_consent && !consent)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: a renewal needs "
		    "the supervisor's consent; record it", ap->renewal_article);
	if (ap->lapse && day > end)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: the term ended "
		    "on %s and lapsed; appoint anew", ap->lapse_article,
		    calendar_format(end, d));
	if (new_end != NULL)
		*new_end = rules_term_end(p, end);
	return FW_OK;
}

enum rules_state
rules_state(const struct profile *p, cal_day start, cal_day end,
    cal_day terminated, cal_day day)
{
	if (terminated != CAL_NONE && day >= terminated)
		return RULES_TERMINATED;
	if (day < start)
		return RULES_NOT_STARTED;
	if (day <= end)
		return RULES_ACTIVE;
	return p->appt.lapse ? RULES_LAPSED : RULES_OVERDUE;
}

int
rules_appointed(enum rules_state st)
{
	return st == RULES_ACTIVE || st == RULES_OVERDUE;
}

const char *
rules_state_name(enum rules_state st)
{
	switch (st) {
	case RULES_NOT_STARTED:
		return "not_started";
	case RULES_ACTIVE:
		return "active";
	case RULES_OVERDUE:
		return "overdue";
	case RULES_LAPSED:
		return "lapsed";
	case RULES_TERMINATED:
		return "terminated";
	}
	return "unknown";
}

/* ---- termination ------------------------------------------------------- */

static fw_err
rules_resignation(const struct profile_termination *r,
    const struct rules_termination *t, cal_day *effective, char *why,
    size_t whylen)
{
	char a[CAL_DATE_LEN], b[CAL_DATE_LEN];
	cal_day earliest = calendar_add_months(t->recorded, r->notice_months);

	if (t->wanted == CAL_NONE || t->wanted >= earliest) {
		*effective = t->wanted == CAL_NONE ? earliest : t->wanted;
		return FW_OK;
	}
	if (rules_blank(t->exception))
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: a resignation "
		    "asked for on %s takes effect on %s at the earliest (%d "
		    "month%s notice); record the office's agreement to an earlier "
		    "day as an exception with a reason", r->e.article,
		    calendar_format(t->recorded, a), calendar_format(earliest, b),
		    r->notice_months, r->notice_months == 1 ? "'s" : "s'");
	*effective = t->wanted;
	return FW_OK;
}

static fw_err
rules_expiry(const struct profile_termination *r,
    const struct rules_termination *t, cal_day *effective, char *why,
    size_t whylen)
{
	char a[CAL_DATE_LEN], b[CAL_DATE_LEN];
	cal_day e;

	if (t->term_end == CAL_NONE)
		return rules_refuse(FW_ERR_INVALID, why, whylen, "%s: the term's "
		    "last day is needed to end it as expired", r->e.article);
	if (t->recorded < t->term_end)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: the term runs "
		    "until %s; it cannot end as expired on %s", r->e.article,
		    calendar_format(t->term_end, a),
		    calendar_format(t->recorded, b));
	/* Recorded on the last day: from the day after.  Recorded later
	 * (an overdue term): from that day, never backwards. */
	e = t->term_end + 1 > t->recorded ? t->term_end + 1 : t->recorded;
	if (t->wanted != CAL_NONE && t->wanted > e)
		e = t->wanted;
	*effective = e;
	return FW_OK;
}

fw_err
rules_check_termination(const struct profile *p,
    const struct rules_termination *t, cal_day *effective, char *why,
    size_t whylen)
{
	const struct profile_termination *r = profile_termination(p, t->reason);
	char codes[384], a[CAL_DATE_LEN], b[CAL_DATE_LEN];

	if (r == NULL) {
		rules_codes(p->terminations, p->nterminations,
		    sizeof *p->terminations, codes, sizeof codes);
		return rules_refuse(FW_ERR_POLICY, why, whylen, "profile %s: '%.40s' "
		    "is not a termination reason of the profile, expected one of %s",
		    p->name, t->reason != NULL ? t->reason : "(none)", codes);
	}
	if (t->wanted != CAL_NONE && t->wanted < t->recorded)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: a termination "
		    "recorded on %s cannot take effect earlier, on %s", r->e.article,
		    calendar_format(t->recorded, a), calendar_format(t->wanted, b));
	switch (r->kind) {
	case PROFILE_TERM_RESIGNATION:
		return rules_resignation(r, t, effective, why, whylen);
	case PROFILE_TERM_EXPIRY:
		return rules_expiry(r, t, effective, why, whylen);
	case PROFILE_TERM_OTHER:
		if (rules_blank(t->note))
			return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: '%s' "
			    "(%s) needs a note saying why", r->e.article, r->e.code,
			    r->e.en);
		break;
	case PROFILE_TERM_CAUSE:
		break;
	}
	*effective = t->wanted != CAL_NONE ? t->wanted : t->recorded;
	return FW_OK;
}

/* ---- deadlines and rewards --------------------------------------------- */

fw_err
rules_info_change_due(const struct profile *p, const struct calendar *cal,
    cal_day changed, cal_day *due)
{
	if (p->deadlines.info_change == 0)
		return fw_seterr(FW_ERR_NOT_FOUND, "profile %s sets no deadline for "
		    "reporting a change of information (%s)", p->name,
		    p->deadlines.info_change_article);
	return calendar_add_working_days(cal, changed, p->deadlines.info_change,
	    due);
}

/* "1234.50" */
static const char *
rules_yuan(int64_t fen, char *out, size_t len)
{
	uint64_t u = fen < 0 ? -(uint64_t)fen : (uint64_t)fen;

	snprintf(out, len, "%s%llu.%02llu", fen < 0 ? "-" : "",
	    (unsigned long long)(u / 100), (unsigned long long)(u % 100));
	return out;
}

fw_err
rules_reward(const struct profile *p, const char *grade, int64_t verified_fen,
    int64_t *reward_fen, char *why, size_t whylen)
{
	const struct profile_grade *g = profile_grade(p, grade);
	char codes[256];
	int64_t r;

	if (g == NULL) {
		rules_codes(p->grades, p->ngrades, sizeof *p->grades, codes,
		    sizeof codes);
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: '%.40s' is not "
		    "a reward grade of the profile, expected one of %s",
		    p->reward.article, grade != NULL ? grade : "(none)", codes);
	}
	if (verified_fen < 0 || verified_fen > RULES_FEN_MAX)
		return rules_refuse(FW_ERR_INVALID, why, whylen, "verified amount "
		    "%lld fen: expected 0..%lld", (long long)verified_fen,
		    (long long)RULES_FEN_MAX);
	if (g->percent_bp == PROFILE_NONE)
		return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: grade '%s' has "
		    "no percentage yet; enter the reward by hand, %lld..%lld yuan",
		    g->e.article, g->e.code, (long long)(p->reward.min_fen / 100),
		    (long long)(p->reward.max_fen / 100));
	r = verified_fen * g->percent_bp / 10000;
	if (r < g->floor_fen)
		r = g->floor_fen;
	if (r < p->reward.min_fen)
		r = p->reward.min_fen;
	if (r > p->reward.max_fen)
		r = p->reward.max_fen;
	*reward_fen = r;
	return FW_OK;
}

fw_err
rules_check_reward(const struct profile *p, int64_t reward_fen, char *why,
    size_t whylen)
{
	char y[32];

	if (reward_fen >= p->reward.min_fen && reward_fen <= p->reward.max_fen)
		return FW_OK;
	return rules_refuse(FW_ERR_POLICY, why, whylen, "%s: a reward of %s yuan "
	    "is outside %lld..%lld yuan", p->reward.article,
	    rules_yuan(reward_fen, y, sizeof y),
	    (long long)(p->reward.min_fen / 100),
	    (long long)(p->reward.max_fen / 100));
}

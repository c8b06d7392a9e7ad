/*
 * profile.c: policy profiles, the two regulations as data.
 *
 * A profile (server/profiles/qingyuan.conf, gaoping.conf, or a county's
 * copy, QY art 12) says what software can enforce of one regulation: the
 * term, age bounds, attestations and methods of appointment, reasons for
 * termination, deadlines, the violation taxonomy and the reward schedule.
 * The format is inih's, with repeated named sections for lists
 * ("[category QY-5-1-01]"); it is documented at the top of qingyuan.conf.
 *
 * inih splits the lines; this file feeds it through common/conf.c's line
 * reader (struct conf_lines) so that every message can name the line,
 * lines that are not UTF-8 or too long for inih's buffer are refused
 * rather than split, inline comments are cut before inih sees them, and
 * section headers, which inih does not report when a section has no keys,
 * are seen and checked here (pf_header).
 * Each section kind is a table of keys (name, type, bounds, where the
 * value goes); a section is checked as a whole when the next one starts,
 * and the profile as a whole at the end of the file.  The first error
 * stops the load and nothing is kept.
 *
 * The built-in profiles are found at run time (profile_resolve), not
 * compiled in: the files stay the one copy an office reads and edits, and
 * the Makefile needs no generated sources.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "server.h"

#define PF_MSG_MAX	384	/* a load's message is cut to this */
#define PF_MAX_KEYS	16
#define PF_LABEL_MAX	64

enum pf_type {
	PF_FORMAT,	/* the format version: must be 1; stored nowhere */
	PF_TEXT,	/* char *: UTF-8 text, 1..PROFILE_TEXT_MAX bytes */
	PF_CODE,	/* char *: a code */
	PF_INT,		/* int within [min, max] */
	PF_INT_NONE,	/* the same, or "none" -> PROFILE_NONE */
	PF_BOOL,	/* int */
	PF_YUAN,	/* int64_t fen from whole yuan within [min, max] */
	PF_PERCENT,	/* int64_t 1/100 % from "3", "2.5" or "none" */
	PF_APPLIES,	/* unsigned: enum profile_subject bits */
	PF_KIND,	/* enum profile_term_kind */
};

struct pf_key {
	const char *name;
	enum pf_type type;
	int required;
	size_t offset;		/* into the section's record */
	int64_t min, max;	/* PF_INT, PF_INT_NONE, PF_YUAN */
	const char *expect;	/* what a good value looks like */
};

struct pf_ctx;

/* A kind of section: singletons store into struct profile itself, named
 * (list) sections into an element of the array at list_off. */
struct pf_kind {
	const char *name;
	int named;
	const struct pf_key *keys;
	size_t nkeys;
	size_t size;			/* named: element size */
	size_t list_off, count_off;	/* named: array and count in profile */
	fw_err (*check)(struct pf_ctx *, void *rec);
};

/* State of one load, shared by the reader and the handler. */
struct pf_ctx {
	struct conf_lines in;		/* the file, and the first error */
	struct profile *p;
	const struct pf_kind *kind;	/* section being read, NULL before any */
	size_t index;			/* named: its index in the array */
	int secline;			/* line of its header */
	char label[PF_LABEL_MAX];	/* "[category QY-5-1-01]" */
	int keyline[PF_MAX_KEYS];	/* line each key was set on, 0 if not */
	int seen[16];			/* singleton kinds: header line, 0 if not */
};

/* ---- the tables -------------------------------------------------------- */

#define PO(f)	offsetof(struct profile, f)
#define EO(f)	offsetof(struct profile_entry, f)

#define TEXT_EXPECT	"UTF-8 text of 1..190 bytes"
#define PF_ENTRY_KEYS							\
	{"zh", PF_TEXT, 1, EO(zh), 0, 0, "a Chinese label, " TEXT_EXPECT}, \
	{"en", PF_TEXT, 1, EO(en), 0, 0, "an English label, " TEXT_EXPECT}, \
	{"article", PF_TEXT, 1, EO(article), 0, 0,			\
	    "the article it comes from, " TEXT_EXPECT}

static const struct pf_key pf_profile_keys[] = {
	{"format", PF_FORMAT, 1, 0, 1, 1, "1"},
	{"name", PF_CODE, 1, PO(name), 0, 0, "a code such as qingyuan"},
	{"city", PF_TEXT, 1, PO(city), 0, 0, TEXT_EXPECT},
	{"title", PF_TEXT, 1, PO(title), 0, 0, TEXT_EXPECT},
};

static const struct pf_key pf_appointment_keys[] = {
	{"term_years", PF_INT, 1, PO(appt.term_years), 1, 10, "years, 1..10"},
	{"term_article", PF_TEXT, 1, PO(appt.term_article), 0, 0, TEXT_EXPECT},
	{"renewal", PF_BOOL, 1, PO(appt.renewal), 0, 0, "yes or no"},
	{"renewal_consent", PF_BOOL, 1, PO(appt.renewal_consent), 0, 0,
	    "yes or no"},
	{"renewal_article", PF_TEXT, 1, PO(appt.renewal_article), 0, 0,
	    TEXT_EXPECT},
	{"lapse_at_term_end", PF_BOOL, 1, PO(appt.lapse), 0, 0, "yes or no"},
	{"lapse_article", PF_TEXT, 1, PO(appt.lapse_article), 0, 0, TEXT_EXPECT},
	{"age_min", PF_INT, 1, PO(appt.age_min), 0, 150, "years, 0..150"},
	{"age_max", PF_INT, 1, PO(appt.age_max), 0, 150, "years, 0..150"},
	{"age_article", PF_TEXT, 1, PO(appt.age_article), 0, 0, TEXT_EXPECT},
	{"age_exception", PF_BOOL, 1, PO(appt.age_exception), 0, 0, "yes or no"},
	{"exception_age_min", PF_INT_NONE, 0, PO(appt.exception_age_min), 0,
	    150, "years, 0..150, or none"},
	{"exception_age_max", PF_INT_NONE, 0, PO(appt.exception_age_max), 0,
	    150, "years, 0..150, or none"},
	{"exception_article", PF_TEXT, 0, PO(appt.exception_article), 0, 0,
	    TEXT_EXPECT},
};

static const struct pf_key pf_deadlines_keys[] = {
	{"info_change_days", PF_INT, 1, PO(deadlines.info_change), 0, 365,
	    "working days, 0..365 (0: none)"},
	{"info_change_article", PF_TEXT, 1, PO(deadlines.info_change_article),
	    0, 0, TEXT_EXPECT},
	{"decide_days", PF_INT, 1, PO(deadlines.decide), 1, 365,
	    "working days, 1..365"},
	{"notify_days", PF_INT, 1, PO(deadlines.notify), 1, 365,
	    "working days, 1..365"},
	{"finish_days", PF_INT, 1, PO(deadlines.finish), 1, 365,
	    "working days, 1..365"},
	{"extension_days", PF_INT, 1, PO(deadlines.extension), 0, 365,
	    "working days, 0..365"},
	{"extensions", PF_INT, 1, PO(deadlines.extensions), 0, 10, "0..10"},
	{"handling_article", PF_TEXT, 1, PO(deadlines.handling_article), 0, 0,
	    TEXT_EXPECT},
};

static const struct pf_key pf_reward_keys[] = {
	{"min_yuan", PF_YUAN, 1, PO(reward.min_fen), 0, PROFILE_YUAN_MAX,
	    "whole yuan, 0..100000000"},
	{"max_yuan", PF_YUAN, 1, PO(reward.max_fen), 1, PROFILE_YUAN_MAX,
	    "whole yuan, 1..100000000"},
	{"article", PF_TEXT, 1, PO(reward.article), 0, 0, TEXT_EXPECT},
};

static const struct pf_key pf_grade_keys[] = {
	PF_ENTRY_KEYS,
	{"percent", PF_PERCENT, 1, offsetof(struct profile_grade, percent_bp),
	    0, 0, "a percentage 0..100 with at most two decimals, or none"},
	{"floor_yuan", PF_YUAN, 1, offsetof(struct profile_grade, floor_fen),
	    0, PROFILE_YUAN_MAX, "whole yuan, 0..100000000"},
};

static const struct pf_key pf_eligibility_keys[] = {
	PF_ENTRY_KEYS,
	{"required", PF_BOOL, 1, offsetof(struct profile_eligibility, required),
	    0, 0, "yes or no"},
};

static const struct pf_key pf_method_keys[] = {
	PF_ENTRY_KEYS,
};

static const struct pf_key pf_termination_keys[] = {
	PF_ENTRY_KEYS,
	{"kind", PF_KIND, 1, offsetof(struct profile_termination, kind), 0, 0,
	    "cause, resignation, expiry or other"},
	{"notice_months", PF_INT, 0,
	    offsetof(struct profile_termination, notice_months), 0, 12,
	    "months, 0..12"},
};

static const struct pf_key pf_category_keys[] = {
	PF_ENTRY_KEYS,
	{"applies", PF_APPLIES, 1, offsetof(struct profile_category, applies),
	    0, 0, "a comma-separated list of institution, insured_person, "
	    "agency, other"},
	{"equivalent", PF_CODE, 0, offsetof(struct profile_category,
	    equivalent), 0, 0, "a code"},
};

static fw_err pf_check_appointment(struct pf_ctx *, void *);
static fw_err pf_check_reward(struct pf_ctx *, void *);
static fw_err pf_check_termination(struct pf_ctx *, void *);

#define NKEYS(a)	(sizeof(a) / sizeof((a)[0]))
#define PF_LIST(t, f)	sizeof(t), PO(f), PO(n##f)

static const struct pf_kind pf_kinds[] = {
	{"profile", 0, pf_profile_keys, NKEYS(pf_profile_keys), 0, 0, 0, NULL},
	{"appointment", 0, pf_appointment_keys, NKEYS(pf_appointment_keys), 0,
	    0, 0, pf_check_appointment},
	{"deadlines", 0, pf_deadlines_keys, NKEYS(pf_deadlines_keys), 0, 0, 0,
	    NULL},
	{"reward", 0, pf_reward_keys, NKEYS(pf_reward_keys), 0, 0, 0,
	    pf_check_reward},
	{"grade", 1, pf_grade_keys, NKEYS(pf_grade_keys),
	    PF_LIST(struct profile_grade, grades), NULL},
	{"eligibility", 1, pf_eligibility_keys, NKEYS(pf_eligibility_keys),
	    PF_LIST(struct profile_eligibility, eligibility), NULL},
	{"method", 1, pf_method_keys, NKEYS(pf_method_keys),
	    PF_LIST(struct profile_method, methods), NULL},
	{"termination", 1, pf_termination_keys, NKEYS(pf_termination_keys),
	    PF_LIST(struct profile_termination, terminations),
	    pf_check_termination},
	{"category", 1, pf_category_keys, NKEYS(pf_category_keys),
	    PF_LIST(struct profile_category, categories), NULL},
};
#define PF_NKINDS	NKEYS(pf_kinds)

/* pf_ctx keeps a line per key and per singleton kind. */
_Static_assert(NKEYS(pf_appointment_keys) <= PF_MAX_KEYS, "too many keys");
_Static_assert(NKEYS(pf_deadlines_keys) <= PF_MAX_KEYS, "too many keys");
_Static_assert(NKEYS(pf_category_keys) <= PF_MAX_KEYS, "too many keys");
_Static_assert(NKEYS(pf_termination_keys) <= PF_MAX_KEYS, "too many keys");
_Static_assert(PF_NKINDS <= 16, "too many section kinds");

static const char pf_sections_expect[] = "[profile], [appointment], "
    "[deadlines], [reward], [grade CODE], [eligibility CODE], [method CODE], "
    "[termination CODE] or [category CODE]";

/* ---- small helpers ----------------------------------------------------- */

int
profile_code_valid(const char *s)
{
	size_t i;

	for (i = 0; i <= FW_MAX_CODE && s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == '-'))
			return 0;
	}
	return i >= 1 && i <= FW_MAX_CODE;
}

static int
pf_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* The record of the current section. */
static void *
pf_record(struct pf_ctx *c)
{
	char *list;

	if (!c->kind->named)
		return c->p;
	list = *(char **)(void *)((char *)c->p + c->kind->list_off);
	return list + c->index * c->kind->size;
}

static const struct pf_key *
pf_find_key(const struct pf_kind *k, const char *name, size_t *idx)
{
	for (size_t i = 0; i < k->nkeys; i++)
		if (strcmp(k->keys[i].name, name) == 0) {
			*idx = i;
			return &k->keys[i];
		}
	return NULL;
}

/* "zh, en, article, applies" */
static void
pf_key_names(const struct pf_kind *k, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < k->nkeys && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s",
		    i > 0 ? ", " : "", k->keys[i].name);
}

/* ---- values ------------------------------------------------------------ */

/* A non-negative decimal integer, the whole string: -1 if not one, -2 if
 * over limit. */
static int64_t
pf_uint(const char *v, int64_t limit)
{
	int64_t x = 0;
	size_t i;

	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++) {
		if (x > (limit - (v[i] - '0')) / 10)
			return -2;
		x = x * 10 + (v[i] - '0');
	}
	return i == 0 || v[i] != '\0' ? -1 : x;
}

/* A number within k's bounds; the digits may go up to limit. */
static fw_err
pf_number(const struct pf_key *k, const char *v, const char *label,
    int64_t limit, int64_t *out)
{
	int64_t x = pf_uint(v, limit);

	if (x == -1)
		return fw_seterr(FW_ERR_CONFIG, "%s: '%s' is not a number, "
		    "expected %s", label, v, k->expect);
	if (x < k->min || x > k->max)
		return fw_seterr(FW_ERR_CONFIG, "%s: %s is out of range, "
		    "expected %s", label, v, k->expect);
	*out = x;
	return FW_OK;
}

static fw_err
pf_int(const struct pf_key *k, const char *v, const char *label, int64_t *out)
{
	if (k->type == PF_INT_NONE && strcmp(v, "none") == 0) {
		*out = PROFILE_NONE;
		return FW_OK;
	}
	return pf_number(k, v, label, INT32_MAX, out);
}

/* "3", "2.5", "0.25" -> 300, 250, 25 (1/100 %); "none". */
static fw_err
pf_percent(const struct pf_key *k, const char *v, const char *label,
    int64_t *out)
{
	const char *s = v;
	int64_t w = 0, f = 0;
	int nw = 0, nf = 0;

	if (strcmp(v, "none") == 0) {
		*out = PROFILE_NONE;
		return FW_OK;
	}
	/* At most 6 digits, a dot and 2 decimals: anything longer is not
	 * a percentage. */
	for (; *s >= '0' && *s <= '9' && nw < 6; s++, nw++)
		w = w * 10 + (*s - '0');
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9' && nf < 2; s++, nf++)
			f = f * 10 + (*s - '0');
	if (nw == 0 || *s != '\0' || (s[-1] == '.'))
		return fw_seterr(FW_ERR_CONFIG, "%s: '%.40s' is not a percentage, "
		    "expected %s", label, v, k->expect);
	if (nf == 1)
		f *= 10;
	if (w * 100 + f > 10000)
		return fw_seterr(FW_ERR_CONFIG, "%s: %s%% is out of range, "
		    "expected 0..100", label, v);
	*out = w * 100 + f;
	return FW_OK;
}

static fw_err
pf_bool(const char *v, const char *label, int *out)
{
	int b = conf_bool(v);

	if (b < 0)
		return fw_seterr(FW_ERR_CONFIG, "%s: '%s' is not a boolean, "
		    "expected yes or no", label, v);
	*out = b;
	return FW_OK;
}

static fw_err
pf_text(const char *v, const char *label, char **out)
{
	size_t n = strlen(v);

	if (n == 0 || n > PROFILE_TEXT_MAX)
		return fw_seterr(FW_ERR_CONFIG, "%s: %zu bytes, expected %s",
		    label, n, TEXT_EXPECT);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return fw_seterr(FW_ERR_CONFIG, "%s: control character, "
			    "expected %s", label, TEXT_EXPECT);
	if ((*out = strdup(v)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "profile: out of memory");
	return FW_OK;
}

static fw_err
pf_code(const char *v, const char *label, char **out)
{
	if (!profile_code_valid(v))
		return fw_seterr(FW_ERR_CONFIG, "%s: '%.40s' is not a code, expected "
		    "1..%d characters of A-Z a-z 0-9 . _ -", label, v, FW_MAX_CODE);
	if ((*out = strdup(v)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "profile: out of memory");
	return FW_OK;
}

/* "institution, insured_person" -> bits; each name once. */
static fw_err
pf_applies(const char *v, const char *label, unsigned *out)
{
	static const struct {
		const char *name;
		unsigned bit;
	} subj[] = {
		{"institution", PROFILE_SUBJ_INSTITUTION},
		{"insured_person", PROFILE_SUBJ_INSURED},
		{"agency", PROFILE_SUBJ_AGENCY},
		{"other", PROFILE_SUBJ_OTHER},
	};
	const char *p = v, *comma;
	size_t len, i;
	unsigned bits = 0;

	/* One round per comma-separated word of a value held in one line. */
	while (*p != '\0') {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		for (; len > 0 && pf_blank(*p); len--)
			p++;
		for (; len > 0 && pf_blank(p[len - 1]); len--)
			continue;
		for (i = 0; i < NKEYS(subj); i++)
			if (strlen(subj[i].name) == len &&
			    memcmp(subj[i].name, p, len) == 0)
				break;
		if (i == NKEYS(subj) || (bits & subj[i].bit) != 0)
			return fw_seterr(FW_ERR_CONFIG, "%s: '%.*s' is %s, expected "
			    "each of institution, insured_person, agency, other at "
			    "most once, separated by commas", label, (int)len, p,
			    i == NKEYS(subj) ? "unknown" : "listed twice");
		bits |= subj[i].bit;
		p = comma != NULL ? comma + 1 : p + len;
	}
	if (bits == 0)
		return fw_seterr(FW_ERR_CONFIG, "%s: empty, expected at least one "
		    "of institution, insured_person, agency, other", label);
	*out = bits;
	return FW_OK;
}

static fw_err
pf_kindval(const char *v, const char *label, enum profile_term_kind *out)
{
	static const char *names[] = {"cause", "resignation", "expiry", "other"};
	static const enum profile_term_kind kinds[] = {PROFILE_TERM_CAUSE, PROFILE_TERM_RESIGNATION,
	    PROFILE_TERM_EXPIRY, PROFILE_TERM_OTHER};

	for (size_t i = 0; i < NKEYS(names); i++)
		if (strcmp(v, names[i]) == 0) {
			*out = kinds[i];
			return FW_OK;
		}
	return fw_seterr(FW_ERR_CONFIG, "%s: '%.40s' is not a kind, expected "
	    "cause, resignation, expiry or other", label, v);
}

/* Parse v for key k and store it into rec. */
static fw_err
pf_store(const struct pf_key *k, const char *v, const char *label, void *rec)
{
	char *field = (char *)rec + k->offset;
	int64_t x = 0;
	fw_err e;

	switch (k->type) {
	case PF_FORMAT:
		if (strcmp(v, "1") != 0)
			return fw_seterr(FW_ERR_CONFIG, "%s: format %.20s is not "
			    "supported, expected 1", label, v);
		return FW_OK;
	case PF_TEXT:
		return pf_text(v, label, (char **)(void *)field);
	case PF_CODE:
		return pf_code(v, label, (char **)(void *)field);
	case PF_INT:
	case PF_INT_NONE:
		if ((e = pf_int(k, v, label, &x)) == FW_OK)
			*(int *)(void *)field = (int)x;
		return e;
	case PF_BOOL:
		return pf_bool(v, label, (int *)(void *)field);
	case PF_YUAN:
		if ((e = pf_number(k, v, label, PROFILE_YUAN_MAX, &x)) == FW_OK)
			*(int64_t *)(void *)field = x * 100;
		return e;
	case PF_PERCENT:
		return pf_percent(k, v, label, (int64_t *)(void *)field);
	case PF_APPLIES:
		return pf_applies(v, label, (unsigned *)(void *)field);
	case PF_KIND:
		return pf_kindval(v, label,
		    (enum profile_term_kind *)(void *)field);
	}
	return fw_seterr(FW_ERR_INTERNAL, "%s: unknown type", label);
}

/* ---- sections ---------------------------------------------------------- */

/* Line the key name was set on in the current section, 0 if not. */
static int
pf_line(const struct pf_ctx *c, const char *name)
{
	size_t idx;

	if (pf_find_key(c->kind, name, &idx) == NULL)
		return 0;
	return c->keyline[idx];
}

static int
pf_max(int a, int b)
{
	return a > b ? a : b;
}

static const char *const pf_exception_keys[] = {"exception_age_min",
    "exception_age_max", "exception_article"};

static fw_err
pf_check_appointment(struct pf_ctx *c, void *rec)
{
	struct profile_appointment *a = &((struct profile *)rec)->appt;
	const char *key;
	size_t idx = 0;
	int line;

	if (a->age_min > a->age_max)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: age_min %d is greater than "
		    "age_max %d, expected age_min <= age_max", c->in.name,
		    pf_max(pf_line(c, "age_min"), pf_line(c, "age_max")),
		    a->age_min, a->age_max);
	for (size_t i = 0; i < NKEYS(pf_exception_keys); i++) {
		key = pf_exception_keys[i];
		line = pf_line(c, key);
		if (!a->age_exception && line != 0)
			return fw_seterr(FW_ERR_CONFIG, "%s:%d: %s is set but "
			    "age_exception is no, expected no exception_* key",
			    c->in.name, line, key);
		if (a->age_exception && line == 0) {
			pf_find_key(c->kind, key, &idx);
			return fw_seterr(FW_ERR_CONFIG, "%s:%d: [appointment] lacks "
			    "'%s', required when age_exception is yes; expected %s",
			    c->in.name, c->secline, key, c->kind->keys[idx].expect);
		}
	}
	if (!a->age_exception) {
		a->exception_age_min = a->age_min;
		a->exception_age_max = a->age_max;
		return FW_OK;
	}
	if (a->exception_age_min == PROFILE_NONE)
		a->exception_age_min = 0;
	if (a->exception_age_min > a->age_min)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: exception_age_min %d is "
		    "greater than age_min %d, expected an exception to widen the "
		    "bounds", c->in.name, pf_line(c, "exception_age_min"),
		    a->exception_age_min, a->age_min);
	if (a->exception_age_max != PROFILE_NONE &&
	    a->exception_age_max < a->age_max)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: exception_age_max %d is "
		    "less than age_max %d, expected an exception to widen the "
		    "bounds", c->in.name, pf_line(c, "exception_age_max"),
		    a->exception_age_max, a->age_max);
	return FW_OK;
}

static fw_err
pf_check_reward(struct pf_ctx *c, void *rec)
{
	struct profile_reward *r = &((struct profile *)rec)->reward;

	if (r->min_fen > r->max_fen)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: min_yuan %lld is greater "
		    "than max_yuan %lld, expected min_yuan <= max_yuan", c->in.name,
		    pf_max(pf_line(c, "min_yuan"), pf_line(c, "max_yuan")),
		    (long long)(r->min_fen / 100), (long long)(r->max_fen / 100));
	return FW_OK;
}

static fw_err
pf_check_termination(struct pf_ctx *c, void *rec)
{
	struct profile_termination *t = rec;

	if (t->notice_months > 0 && t->kind != PROFILE_TERM_RESIGNATION)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: %s: notice_months is set but "
		    "kind is not resignation, expected notice only for a "
		    "resignation", c->in.name, pf_line(c, "notice_months"), c->label);
	return FW_OK;
}

/* End of the current section: every required key present, then the
 * kind's own checks. */
static fw_err
pf_close(struct pf_ctx *c)
{
	const struct pf_kind *k = c->kind;

	if (k == NULL)
		return FW_OK;
	for (size_t i = 0; i < k->nkeys; i++)
		if (k->keys[i].required && c->keyline[i] == 0)
			return fw_seterr(FW_ERR_CONFIG, "%s:%d: %s lacks '%s', "
			    "expected %s = %s", c->in.name, c->secline, c->label,
			    k->keys[i].name, k->keys[i].name, k->keys[i].expect);
	if (k->check != NULL)
		return k->check(c, pf_record(c));
	return FW_OK;
}

/* Append a zeroed element to the list of kind k; its index in *idx. */
static fw_err
pf_append(struct pf_ctx *c, const struct pf_kind *k, size_t *idx)
{
	char **list = (char **)(void *)((char *)c->p + k->list_off);
	size_t *n = (size_t *)(void *)((char *)c->p + k->count_off);
	char *nl;

	if (*n >= PROFILE_LIST_MAX)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: more than %d [%s] sections",
		    c->in.name, c->in.line, PROFILE_LIST_MAX, k->name);
	if ((nl = realloc(*list, (*n + 1) * k->size)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "%s: out of memory", c->in.name);
	memset(nl + *n * k->size, 0, k->size);
	*list = nl;
	*idx = (*n)++;
	return FW_OK;
}

/* Open a named section with code, refusing a code used twice. */
static fw_err
pf_open_named(struct pf_ctx *c, const struct pf_kind *k, const char *code)
{
	char *list = *(char **)(void *)((char *)c->p + k->list_off);
	size_t n = *(size_t *)(void *)((char *)c->p + k->count_off);
	struct profile_entry *e;
	size_t idx = 0, clen = strlen(code);
	fw_err err;

	if (!profile_code_valid(code))
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: '%.40s' in [%s ...] is not a "
		    "code, expected 1..%d characters of A-Z a-z 0-9 . _ -",
		    c->in.name, c->in.line, code, k->name, FW_MAX_CODE);
	for (size_t i = 0; i < n; i++) {
		e = (struct profile_entry *)(void *)(list + i * k->size);
		if (strcmp(e->code, code) == 0)
			return fw_seterr(FW_ERR_CONFIG, "%s:%d: duplicate %s code "
			    "'%s', first on line %d; expected each code once",
			    c->in.name, c->in.line, k->name, code, e->line);
	}
	if ((err = pf_append(c, k, &idx)) != FW_OK)
		return err;
	list = *(char **)(void *)((char *)c->p + k->list_off);
	e = (struct profile_entry *)(void *)(list + idx * k->size);
	/* A valid code fits; the element was zeroed, so it ends in NUL. */
	memcpy(e->code, code, clen > FW_MAX_CODE ? FW_MAX_CODE : clen);
	e->line = c->in.line;
	c->index = idx;
	return FW_OK;
}

/* Open the section named by a header: kind (klen bytes) and code. */
static fw_err
pf_open(struct pf_ctx *c, const char *kname, size_t klen, const char *code)
{
	const struct pf_kind *k = NULL;
	size_t ki;
	fw_err e;

	for (ki = 0; ki < PF_NKINDS; ki++)
		if (strlen(pf_kinds[ki].name) == klen &&
		    memcmp(pf_kinds[ki].name, kname, klen) == 0) {
			k = &pf_kinds[ki];
			break;
		}
	if (k == NULL)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: unknown section [%.*s], "
		    "expected %s", c->in.name, c->in.line, (int)(klen > 40 ? 40 : klen),
		    kname, pf_sections_expect);
	if (k->named && *code == '\0')
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: [%s] needs a code, expected "
		    "[%s CODE]", c->in.name, c->in.line, k->name, k->name);
	if (!k->named && *code != '\0')
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: [%s] takes no code, expected "
		    "[%s]", c->in.name, c->in.line, k->name, k->name);
	if (!k->named && c->seen[ki] != 0)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: [%s] appears twice, first on "
		    "line %d; expected it once", c->in.name, c->in.line, k->name,
		    c->seen[ki]);
	if (k->named && (e = pf_open_named(c, k, code)) != FW_OK)
		return e;
	if (!k->named)
		c->seen[ki] = c->in.line;
	c->kind = k;
	c->secline = c->in.line;
	memset(c->keyline, 0, sizeof c->keyline);
	snprintf(c->label, sizeof c->label, "[%s%s%s]", k->name,
	    k->named ? " " : "", code);
	return FW_OK;
}

/* A "[kind]" or "[kind CODE]" line of len bytes: close the section before
 * and open this one. */
static fw_err
pf_header(void *arg, const char *s, size_t len)
{
	struct pf_ctx *c = arg;
	char code[FW_MAX_CODE + 8];
	const char *close = memchr(s, ']', len), *kname = s + 1, *p;
	size_t klen, clen;
	fw_err e;

	if (close == NULL || close != s + len - 1)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: a section header must end "
		    "with ']' and nothing after it, expected %s", c->in.name, c->in.line,
		    pf_sections_expect);
	if ((e = pf_close(c)) != FW_OK)
		return e;
	for (klen = 0; kname + klen < close && !pf_blank(kname[klen]); klen++)
		continue;
	for (p = kname + klen; p < close && pf_blank(*p); p++)
		continue;
	clen = (size_t)(close - p);
	if (clen >= sizeof code)
		clen = sizeof code - 1;	/* too long: refused as a code */
	memcpy(code, p, clen);
	code[clen] = '\0';
	return pf_open(c, kname, klen, code);
}

/* One "key = value" line, from inih. */
static fw_err
pf_keyval(struct pf_ctx *c, const char *name, const char *value)
{
	char label[PF_LABEL_MAX + 64], names[256];
	const struct pf_key *k;
	size_t idx;

	if (c->kind == NULL)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: '%.40s' before any section, "
		    "expected [profile] first", c->in.name, c->in.line, name);
	if ((k = pf_find_key(c->kind, name, &idx)) == NULL) {
		pf_key_names(c->kind, names, sizeof names);
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: unknown key '%.40s' in %s, "
		    "expected one of %s", c->in.name, c->in.line, name, c->label, names);
	}
	if (c->keyline[idx] != 0)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: '%s' is set twice in %s, "
		    "first on line %d", c->in.name, c->in.line, name, c->label,
		    c->keyline[idx]);
	c->keyline[idx] = c->in.line;
	snprintf(label, sizeof label, "%s:%d: '%s' in %s", c->in.name, c->in.line,
	    name, c->label);
	return pf_store(k, value, label, pf_record(c));
}

static int
pf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct pf_ctx *c = user;
	fw_err e;

	(void)section;	/* kept by pf_header, which sees every header */
	if (c->in.errline != 0)
		return 0;
	if ((e = pf_keyval(c, name, value)) != FW_OK) {
		conf_lines_fail(&c->in, e, "%s", fw_errmsg());
		return 0;
	}
	return 1;
}

/* ---- the profile as a whole -------------------------------------------- */

static fw_err
pf_check_lists(struct pf_ctx *c)
{
	struct profile *p = c->p;

	for (size_t ki = 0; ki < PF_NKINDS; ki++) {
		const struct pf_kind *k = &pf_kinds[ki];

		if (!k->named && c->seen[ki] == 0)
			return fw_seterr(FW_ERR_CONFIG, "%s: no [%s] section, "
			    "expected one", c->in.name, k->name);
		if (k->named &&
		    *(size_t *)(void *)((char *)p + k->count_off) == 0)
			return fw_seterr(FW_ERR_CONFIG, "%s: no [%s CODE] section, "
			    "expected at least one", c->in.name, k->name);
	}
	for (size_t i = 0; i < p->ngrades; i++)
		if (p->grades[i].floor_fen > p->reward.max_fen)
			return fw_seterr(FW_ERR_CONFIG, "%s:%d: [grade %s] floor_yuan "
			    "%lld is above [reward] max_yuan %lld, expected a floor "
			    "within the bounds", c->in.name, p->grades[i].e.line,
			    p->grades[i].e.code,
			    (long long)(p->grades[i].floor_fen / 100),
			    (long long)(p->reward.max_fen / 100));
	return FW_OK;
}

/* Run inih over the data, then check the profile as a whole. */
static fw_err
pf_parse(struct pf_ctx *c, const char *name, const char *data, size_t len)
{
	fw_err e;

	conf_lines_init(&c->in, name, data, len);
	c->in.inline_comments = 1;
	c->in.utf8 = 1;
	c->in.toolong = " (comments aside), expected a shorter label";
	c->in.msgmax = PF_MSG_MAX;
	c->in.section = pf_header;
	c->in.arg = c;
	if ((e = conf_lines_parse(&c->in, pf_handler, c, "key = value")) != FW_OK)
		return e;
	if ((e = pf_close(c)) != FW_OK)
		return e;
	return pf_check_lists(c);
}

fw_err
profile_load_mem(const char *name, const void *data, size_t len,
    struct profile **out)
{
	struct pf_ctx *c;
	fw_err e;

	if (len > PROFILE_FILE_MAX)
		return fw_seterr(FW_ERR_CONFIG, "%s: %zu bytes, more than the %u a "
		    "profile may hold", name, len, PROFILE_FILE_MAX);
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->p = calloc(1, sizeof *c->p)) == NULL ||
	    (c->p->path = strdup(name)) == NULL) {
		if (c != NULL)
			profile_free(c->p);
		free(c);
		return fw_seterr(FW_ERR_NOMEM, "%s: out of memory", name);
	}
	if ((e = pf_parse(c, name, data, len)) != FW_OK)
		profile_free(c->p);
	else
		*out = c->p;
	free(c);
	return e;
}

fw_err
profile_load(const char *path, struct profile **out)
{
	uint8_t *data;
	size_t len;
	fw_err e;

	if ((e = conf_read_file(path, PROFILE_FILE_MAX, "profile", &data,
	    &len)) != FW_OK)
		return e;
	e = profile_load_mem(path, data, len, out);
	free(data);
	return e;
}

static void
pf_free_entry(struct profile_entry *e)
{
	free(e->zh);
	free(e->en);
	free(e->article);
}

void
profile_free(struct profile *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->ncategories; i++) {
		pf_free_entry(&p->categories[i].e);
		free(p->categories[i].equivalent);
	}
	for (size_t i = 0; i < p->neligibility; i++)
		pf_free_entry(&p->eligibility[i].e);
	for (size_t i = 0; i < p->nmethods; i++)
		pf_free_entry(&p->methods[i].e);
	for (size_t i = 0; i < p->nterminations; i++)
		pf_free_entry(&p->terminations[i].e);
	for (size_t i = 0; i < p->ngrades; i++)
		pf_free_entry(&p->grades[i].e);
	free(p->categories);
	free(p->eligibility);
	free(p->methods);
	free(p->terminations);
	free(p->grades);
	free(p->appt.term_article);
	free(p->appt.renewal_article);
	free(p->appt.lapse_article);
	free(p->appt.age_article);
	free(p->appt.exception_article);
	free(p->deadlines.info_change_article);
	free(p->deadlines.handling_article);
	free(p->reward.article);
	free(p->path);
	free(p->name);
	free(p->city);
	free(p->title);
	free(p);
}

/* ---- lookups ----------------------------------------------------------- */

/* The element of a list whose code is code, or NULL. */
static const void *
pf_lookup(const void *list, size_t n, size_t size, const char *code)
{
	const char *base = list;

	if (code == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct profile_entry *e =
		    (const void *)(base + i * size);

		if (strcmp(e->code, code) == 0)
			return e;
	}
	return NULL;
}

const struct profile_category *
profile_category(const struct profile *p, const char *code)
{
	return pf_lookup(p->categories, p->ncategories, sizeof *p->categories,
	    code);
}

const struct profile_eligibility *
profile_eligibility(const struct profile *p, const char *code)
{
	return pf_lookup(p->eligibility, p->neligibility, sizeof *p->eligibility,
	    code);
}

const struct profile_method *
profile_method(const struct profile *p, const char *code)
{
	return pf_lookup(p->methods, p->nmethods, sizeof *p->methods, code);
}

const struct profile_termination *
profile_termination(const struct profile *p, const char *code)
{
	return pf_lookup(p->terminations, p->nterminations,
	    sizeof *p->terminations, code);
}

const struct profile_grade *
profile_grade(const struct profile *p, const char *code)
{
	return pf_lookup(p->grades, p->ngrades, sizeof *p->grades, code);
}

unsigned
profile_subject_bit(const char *kind)
{
	static const struct {
		const char *kind;
		unsigned bit;
	} map[] = {
		{"pharmacy", PROFILE_SUBJ_INSTITUTION},
		{"hospital", PROFILE_SUBJ_INSTITUTION},
		{"clinic", PROFILE_SUBJ_INSTITUTION},
		{"insured_person", PROFILE_SUBJ_INSURED},
		{"insurance_agency", PROFILE_SUBJ_AGENCY},
		{"other", PROFILE_SUBJ_OTHER},
	};

	for (size_t i = 0; kind != NULL && i < NKEYS(map); i++)
		if (strcmp(kind, map[i].kind) == 0)
			return map[i].bit;
	return 0;
}

fw_err
profile_taxonomy_json(const struct profile *p, json_t **out)
{
	json_t *a, *o;

	if ((a = json_array()) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "taxonomy: out of memory");
	for (size_t i = 0; i < p->ncategories; i++) {
		const struct profile_entry *e = &p->categories[i].e;

		o = json_pack("{ss ss ss}", "code", e->code, "zh", e->zh, "en",
		    e->en);
		if (o == NULL || json_array_append_new(a, o) != 0) {
			json_decref(a);
			return fw_seterr(FW_ERR_NOMEM, "taxonomy: out of memory");
		}
	}
	*out = a;
	return FW_OK;
}

/* ---- built-in profiles ------------------------------------------------- */

/* dir/name.conf into out if it is readable. */
static int
pf_try(const char *dir, const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s.conf", dir, name);

	return n > 0 && (size_t)n < outlen && access(out, R_OK) == 0;
}

/* Look beside and above the running binary: build/fundwatch-server and
 * build/tests/test_x both find the source tree's server/profiles, an
 * installed bin/fundwatch-server finds share/fundwatch/profiles. */
static int
pf_try_exe(const char *name, char *out, size_t outlen, char *looked,
    size_t lookedlen)
{
	static const char *rel[] = {"server/profiles", "../server/profiles",
	    "../../server/profiles", "../share/fundwatch/profiles"};
	char exe[PATH_MAX], dir[PATH_MAX + 64], *slash;
	ssize_t n;
	size_t used = strlen(looked);

	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) <= 0)
		return 0;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return 0;
	*slash = '\0';
	for (size_t i = 0; i < NKEYS(rel); i++) {
		snprintf(dir, sizeof dir, "%s/%s", exe, rel[i]);
		if (pf_try(dir, name, out, outlen))
			return 1;
		if (used < lookedlen)
			used += (size_t)snprintf(looked + used, lookedlen - used,
			    "%s%s", used > 0 ? ", " : "", dir);
	}
	return 0;
}

fw_err
profile_resolve(const char *arg, char *out, size_t outlen)
{
	char looked[FW_ERRMSG_MAX / 2] = "";
	const char *env = getenv("FW_PROFILE_DIR");
	size_t n = strlen(arg);

	if (strchr(arg, '/') != NULL || (n > 5 && strcmp(arg + n - 5,
	    ".conf") == 0)) {
		if (n >= outlen)
			return fw_seterr(FW_ERR_INVALID, "profile path too long");
		memcpy(out, arg, n + 1);
		return FW_OK;
	}
	if (!profile_code_valid(arg))
		return fw_seterr(FW_ERR_INVALID, "profile '%.40s': expected "
		    "qingyuan, gaoping or the path of a profile file", arg);
	if (env != NULL && env[0] != '\0') {
		if (pf_try(env, arg, out, outlen))
			return FW_OK;
		return fw_seterr(FW_ERR_NOT_FOUND, "profile '%s': no %s.conf in "
		    "$FW_PROFILE_DIR (%.200s)", arg, arg, env);
	}
	if (pf_try_exe(arg, out, outlen, looked, sizeof looked))
		return FW_OK;
	return fw_seterr(FW_ERR_NOT_FOUND, "profile '%s': no %s.conf in %s; "
	    "set FW_PROFILE_DIR or give the file's path", arg, arg,
	    looked[0] != '\0' ? looked : "(cannot read /proc/self/exe)");
}

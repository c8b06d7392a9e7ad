/*
 * calendar.c: dates and the office's working-day calendar.
 *
 * Deadlines in both regulations and in the national handling rules are
 * counted in working days (工作日): Monday to Friday, less the public
 * holidays, plus the weekend days the State Council schedule makes working
 * days (调休).  The schedule changes every year, so the office keeps it in
 * a plain file (holidays.txt in the data folder); this file reads it and
 * counts.  Dates are day numbers (cal_day, days since 1970-01-01) turned
 * to and from y-m-d with Howard Hinnant's exact civil-calendar algorithms:
 * no struct tm, no time zone, no mktime.  The one place a clock time meets
 * a date is calendar_china_day, UTC+8 fixed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "server.h"

/* One listed day: a holiday, or a weekend day that is worked. */
struct cal_entry {
	cal_day day;
	int working;
	int line;
};

struct calendar {
	struct cal_entry *e;	/* sorted by day, no day twice */
	size_t n;
};

int
calendar_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
cal_month_days(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31};

	return m == 2 && calendar_is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of y-m-d, for any valid date (Hinnant). */
static cal_day
cal_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

fw_err
calendar_day(int y, int m, int d, cal_day *out)
{
	if (y < CAL_YEAR_MIN || y > CAL_YEAR_MAX)
		return fw_seterr(FW_ERR_INVALID, "year %d is outside %d..%d", y,
		    CAL_YEAR_MIN, CAL_YEAR_MAX);
	if (m < 1 || m > 12)
		return fw_seterr(FW_ERR_INVALID, "month %d is not 1..12", m);
	if (d < 1 || d > cal_month_days(y, m))
		return fw_seterr(FW_ERR_INVALID, "%04d-%02d has no day %d", y, m, d);
	*out = cal_from_civil(y, m, d);
	return FW_OK;
}

void
calendar_ymd(cal_day day, int *y, int *m, int *d)
{
	int64_t z = day + 719468, era, doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* n decimal digits at s into *v; 0 if any is not a digit. */
static int
cal_digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

/* "YYYY-MM-DD" in exactly 10 bytes at s. */
static fw_err
cal_parse_n(const char *s, size_t len, cal_day *out)
{
	int y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-' || !cal_digits(s, 4, &y) ||
	    !cal_digits(s + 5, 2, &m) || !cal_digits(s + 8, 2, &d))
		return fw_seterr(FW_ERR_INVALID, "'%.*s' is not a date, expected "
		    "YYYY-MM-DD", (int)(len > 40 ? 40 : len), s);
	return calendar_day(y, m, d, out);
}

fw_err
calendar_parse(const char *s, cal_day *out)
{
	return cal_parse_n(s, strnlen(s, 11), out);
}

char *
calendar_format(cal_day day, char out[CAL_DATE_LEN])
{
	int y, m, d;

	calendar_ymd(day, &y, &m, &d);
	if (y < 0 || y > 9999) {
		snprintf(out, CAL_DATE_LEN, "0000-00-00");	/* out of range */
		return out;
	}
	snprintf(out, CAL_DATE_LEN, "%04d-%02d-%02d", y, m, d);
	return out;
}

int
calendar_weekday(cal_day day)
{
	/* 1970-01-01 was a Thursday. */
	int64_t r = (day % 7 + 7) % 7;

	return (int)((r + 3) % 7) + 1;
}

cal_day
calendar_china_day(int64_t t)
{
	int64_t s = t + 8 * 3600;

	/* Floor division: times before 1970 land on the day before. */
	return s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
}

cal_day
calendar_add_months(cal_day day, int64_t months)
{
	int y, m, d, dm;
	int64_t mi, ny, nm;

	calendar_ymd(day, &y, &m, &d);
	mi = (int64_t)y * 12 + (m - 1) + months;
	ny = mi >= 0 ? mi / 12 : -((-mi + 11) / 12);
	nm = mi - ny * 12 + 1;
	dm = cal_month_days((int)ny, (int)nm);
	return cal_from_civil(ny, (int)nm, d > dm ? dm : d);
}

cal_day
calendar_add_years(cal_day day, int64_t years)
{
	return calendar_add_months(day, years * 12);
}

/* ---- the holiday list -------------------------------------------------- */

fw_err
calendar_new(struct calendar **out)
{
	if ((*out = calloc(1, sizeof **out)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "calendar: out of memory");
	return FW_OK;
}

void
calendar_free(struct calendar *cal)
{
	if (cal == NULL)
		return;
	free(cal->e);
	free(cal);
}

/* The entry for day, or NULL. */
static const struct cal_entry *
cal_find(const struct calendar *cal, cal_day day)
{
	size_t lo = 0, hi = cal->n, mid;

	/* Binary search: at most 64 rounds. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cal->e[mid].day == day)
			return &cal->e[mid];
		if (cal->e[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Index of the first entry with day > d. */
static size_t
cal_upper(const struct calendar *cal, cal_day d)
{
	size_t lo = 0, hi = cal->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cal->e[mid].day <= d)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
cal_weekend(cal_day day)
{
	return calendar_weekday(day) >= 6;
}

int
calendar_is_working_day(const struct calendar *cal, cal_day day)
{
	const struct cal_entry *e = cal != NULL ? cal_find(cal, day) : NULL;

	if (e != NULL)
		return e->working;
	return !cal_weekend(day);
}

fw_err
calendar_add_working_days(const struct calendar *cal, cal_day start,
    int64_t n, cal_day *out)
{
	cal_day d = start;
	int64_t left = n, steps;

	if (n < 0 || n > CALENDAR_MAX_ADD)
		return fw_seterr(FW_ERR_INVALID, "%lld working days: expected "
		    "0..%d", (long long)n, CALENDAR_MAX_ADD);
	/* Any 7 days in a row hold 5 weekdays, and each listed holiday takes
	 * at most one away: 2n + 7 + 2h days always hold n working days. */
	steps = 2 * n + 7 + 2 * (int64_t)(cal != NULL ? cal->n : 0);
	for (; left > 0 && steps > 0; steps--) {
		d++;
		if (calendar_is_working_day(cal, d))
			left--;
	}
	if (left > 0)
		return fw_seterr(FW_ERR_INTERNAL, "calendar: no working day found");
	*out = d;
	return FW_OK;
}

/* Weekdays (Monday..Friday) in (from, to], from <= to: five in each
 * whole week, then the days left over one by one (fewer than 7). */
static int64_t
cal_weekdays(cal_day from, cal_day to)
{
	int64_t span = to - from, weeks = span / 7, rest = span % 7, n;
	cal_day d = from + weeks * 7;

	n = weeks * 5;
	for (int64_t i = 0; i < rest; i++)
		if (!cal_weekend(d + 1 + i))
			n++;
	return n;
}

int64_t
calendar_working_days_between(const struct calendar *cal, cal_day from,
    cal_day to)
{
	int64_t n;
	size_t i, end;

	if (to < from)
		return -calendar_working_days_between(cal, to, from);
	n = cal_weekdays(from, to);
	if (cal == NULL)
		return n;
	end = cal_upper(cal, to);
	/* The listed days in (from, to]: each turns a weekday off or a
	 * weekend day on. */
	for (i = cal_upper(cal, from); i < end; i++) {
		if (cal->e[i].working && cal_weekend(cal->e[i].day))
			n++;
		else if (!cal->e[i].working && !cal_weekend(cal->e[i].day))
			n--;
	}
	return n;
}

/* State of one calendar_load_mem. */
struct cal_ctx {
	struct conf_lines in;	/* the file; in.line is the current line */
	struct cal_entry *e;
	size_t n, alloc;
};

static fw_err
cal_push(struct cal_ctx *c, cal_day day, int working)
{
	struct cal_entry *ne;
	size_t na;

	if (c->n >= CALENDAR_MAX_ENTRIES)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: more than %d days listed",
		    c->in.name, c->in.line, CALENDAR_MAX_ENTRIES);
	if (c->n == c->alloc) {
		na = c->alloc == 0 ? 64 : c->alloc * 2;
		if ((ne = realloc(c->e, na * sizeof *ne)) == NULL)
			return fw_seterr(FW_ERR_NOMEM, "%s: out of memory",
			    c->in.name);
		c->e = ne;
		c->alloc = na;
	}
	c->e[c->n].day = day;
	c->e[c->n].working = working;
	c->e[c->n].line = c->in.line;
	c->n++;
	return FW_OK;
}

/* A date at s (len bytes), or an error naming the line. */
static fw_err
cal_line_date(struct cal_ctx *c, const char *s, size_t len, cal_day *out)
{
	char msg[FW_ERRMSG_MAX];

	if (cal_parse_n(s, len, out) != FW_OK) {
		/* Copied: fw_seterr writes where fw_errmsg points. */
		snprintf(msg, sizeof msg, "%s", fw_errmsg());
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: %s", c->in.name,
		    c->in.line, msg);
	}
	return FW_OK;
}

/* Where ".." starts in s[0..len), or NULL. */
static const char *
cal_dots(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '.' && s[i + 1] == '.')
			return s + i;
	return NULL;
}

/* "A..B": every day from A to B, both included. */
static fw_err
cal_range(struct cal_ctx *c, const char *s, size_t len)
{
	const char *dots = cal_dots(s, len);
	cal_day a, b;
	fw_err e;

	if ((e = cal_line_date(c, s, (size_t)(dots - s), &a)) != FW_OK ||
	    (e = cal_line_date(c, dots + 2, len - (size_t)(dots - s) - 2,
	    &b)) != FW_OK)
		return e;
	if (b < a || b - a >= CALENDAR_MAX_RANGE)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: range '%.*s' runs backwards "
		    "or spans more than %d days, expected FROM..TO with FROM <= TO",
		    c->in.name, c->in.line, (int)len, s, CALENDAR_MAX_RANGE);
	for (cal_day d = a; d <= b; d++)
		if ((e = cal_push(c, d, 0)) != FW_OK)
			return e;
	return FW_OK;
}

/* One line without comment and surrounding blanks. */
static fw_err
cal_line(struct cal_ctx *c, const char *s, size_t len)
{
	cal_day d;
	fw_err e;
	int working = 0;

	if (len > 8 && memcmp(s, "workday", 7) == 0 &&
	    (s[7] == ' ' || s[7] == '\t'))
		working = 1;
	if (working || (len > 8 && memcmp(s, "holiday", 7) == 0 &&
	    (s[7] == ' ' || s[7] == '\t'))) {
		s += 8;
		len -= 8;
		for (; len > 0 && (*s == ' ' || *s == '\t'); len--)
			s++;
	}
	if (!working && cal_dots(s, len) != NULL)
		return cal_range(c, s, len);
	if (len != 10)
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: '%.*s' is not an entry, "
		    "expected YYYY-MM-DD, FROM..TO, 'holiday DATE' or "
		    "'workday DATE'", c->in.name, c->in.line,
		    (int)(len > 60 ? 60 : len), s);
	if ((e = cal_line_date(c, s, len, &d)) != FW_OK)
		return e;
	if (working && !cal_weekend(d))
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: workday %.10s is a weekday; "
		    "a make-up working day (调休) falls on a Saturday or Sunday",
		    c->in.name, c->in.line, s);
	return cal_push(c, d, working);
}

static int
cal_cmp(const void *a, const void *b)
{
	const struct cal_entry *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return x->line - y->line;
}

/* Sort, then refuse a day listed twice, naming both lines. */
static fw_err
cal_finish(struct cal_ctx *c)
{
	char buf[CAL_DATE_LEN];

	if (c->n > 0)
		qsort(c->e, c->n, sizeof *c->e, cal_cmp);
	for (size_t i = 1; i < c->n; i++)
		if (c->e[i].day == c->e[i - 1].day)
			return fw_seterr(FW_ERR_CONFIG, "%s:%d: %s is listed twice, "
			    "first on line %d", c->in.name, c->e[i].line,
			    calendar_format(c->e[i].day, buf), c->e[i - 1].line);
	return FW_OK;
}

static int
cal_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Hand each line, trimmed, to cal_line. */
static fw_err
cal_lines(struct cal_ctx *c)
{
	const char *p, *hash;
	size_t len;
	fw_err e;

	/* One pass per line of a buffer of at most CALENDAR_FILE_MAX bytes. */
	while (conf_lines_next(&c->in, &p, &len)) {
		if (memchr(p, '\0', len) != NULL)
			return fw_seterr(FW_ERR_CONFIG, "%s:%d: NUL byte in the line",
			    c->in.name, c->in.line);
		if ((hash = memchr(p, '#', len)) != NULL)
			len = (size_t)(hash - p);
		for (; len > 0 && cal_blank(*p); len--)
			p++;
		for (; len > 0 && cal_blank(p[len - 1]); len--)
			continue;
		if (len > 0 && (e = cal_line(c, p, len)) != FW_OK)
			return e;
	}
	return FW_OK;
}

fw_err
calendar_load_mem(const char *name, const void *data, size_t len,
    struct calendar **out)
{
	struct cal_ctx c;
	struct calendar *cal;
	fw_err e;

	if (len > CALENDAR_FILE_MAX)
		return fw_seterr(FW_ERR_CONFIG, "%s: %zu bytes, more than the %u a "
		    "holiday list may hold", name, len, CALENDAR_FILE_MAX);
	memset(&c, 0, sizeof c);
	conf_lines_init(&c.in, name, data, len);
	if ((e = cal_lines(&c)) == FW_OK)
		e = cal_finish(&c);
	cal = e == FW_OK ? calloc(1, sizeof *cal) : NULL;
	if (cal == NULL) {
		free(c.e);
		return e != FW_OK ? e : fw_seterr(FW_ERR_NOMEM, "%s: out of memory",
		    name);
	}
	cal->e = c.e;
	cal->n = c.n;
	*out = cal;
	return FW_OK;
}

fw_err
calendar_load(const char *path, struct calendar **out)
{
	uint8_t *data;
	size_t len;
	fw_err e;

	if ((e = conf_read_file(path, CALENDAR_FILE_MAX, "holiday list",
	    &data, &len)) != FW_OK)
		return e;
	e = calendar_load_mem(path, data, len, out);
	free(data);
	return e;
}

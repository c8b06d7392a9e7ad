/*
 * conf.c: table-driven configuration over inih (conf.h).
 *
 * inih splits lines into sections and "name = value" pairs; the table says
 * what each pair means.  inih is fed by our own line reader over the file
 * held in memory, which gives us what inih does not: the line number of
 * each pair (Debian's inih is built without INI_HANDLER_LINENO), a refusal
 * of over-long lines (inih would silently split them), of NUL bytes and of
 * unknown empty sections, and no continuation lines (the reader strips
 * indentation, so an indented "name = value" is never taken as the
 * continuation of the line before).  The reader (conf_lines_*) is public:
 * server/profile.c and server/calendar.c read their files with it.
 *
 * A file is read twice: the first pass checks every line, the second
 * applies the values, so that a bad file leaves the settings untouched.
 */
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "conf.h"
#include "file.h"
#include "jsonx.h"

#define CONF_MSG_MAX	FW_ERRMSG_MAX

/* A parsed value, ready to store. */
struct conf_val {
	int64_t i;	/* CONF_INT, CONF_DURATION */
	uint64_t u;	/* CONF_SIZE */
	int b;		/* CONF_BOOL */
	const char *s;	/* CONF_STR, borrowed */
};

/* State of one conf_load_mem pass, shared by the reader and the handler. */
struct conf_ctx {
	const struct conf_entry *table;
	size_t n;
	void *obj;
	struct conf_lines in;	/* the data, and the first error of a pass */
	int apply;		/* second pass: store the values */
	int *seen;		/* line where each entry was set, 0 if not */
};

static int
conf_isblank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static const struct conf_entry *
conf_find(const struct conf_entry *table, size_t n, const char *section,
    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].section, section) == 0 &&
		    strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

static int
conf_has_section(const struct conf_entry *table, size_t n, const char *s,
    size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(table[i].section) == len &&
		    memcmp(table[i].section, s, len) == 0)
			return 1;
	return 0;
}

/* "setting 'port' in [server]" */
static void
conf_label(const struct conf_entry *e, char *out, size_t len)
{
	if (e->section[0] == '\0')
		snprintf(out, len, "setting '%s'", e->name);
	else
		snprintf(out, len, "setting '%s' in [%s]", e->name, e->section);
}

static fw_err
conf_unknown(const char *section, const char *name)
{
	if (section[0] == '\0')
		return fw_seterr(FW_ERR_CONFIG,
		    "unknown setting '%s' before any [section]", name);
	return fw_seterr(FW_ERR_CONFIG, "unknown setting '%s' in section [%s]",
	    name, section);
}

/* The inclusive bounds of e (conf.h: both 0 = the type's range). */
static void
conf_bounds(const struct conf_entry *e, int64_t *lo, int64_t *hi)
{
	*lo = e->min;
	*hi = e->max;
	if (e->min == 0 && e->max == 0) {
		*lo = e->type == CONF_INT ? INT64_MIN : 0;
		*hi = INT64_MAX;
	}
	if (e->type != CONF_INT && *lo < 0)
		*lo = 0;
}

/* Decimal digits at *s into *v; *s is left after them.  0 if there are
 * none, -1 on overflow. */
static int
conf_digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	int over = 0;

	*v = 0;
	/* One pass per digit of a string held in one config line; all the
	 * digits are taken even past an overflow, so that the caller tells
	 * "too large" from "not a number". */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (*v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			over = 1;
		else
			*v = *v * 10 + (uint64_t)(*p - '0');
	}
	if (p == *s)
		return 0;
	*s = p;
	return over ? -1 : 1;
}

static fw_err
conf_parse_int(const struct conf_entry *e, const char *v, const char *label,
    struct conf_val *out)
{
	const char *p = v;
	int64_t lo, hi, x;
	uint64_t mag;
	int neg, r;

	conf_bounds(e, &lo, &hi);
	neg = *p == '-';
	p += neg;
	r = conf_digits(&p, &mag);
	if (r == 0 || *p != '\0')
		return fw_seterr(FW_ERR_CONFIG, "%s: '%s' is not an integer, "
		    "expected %lld..%lld", label, v, (long long)lo, (long long)hi);
	if (r < 0 || mag > (uint64_t)INT64_MAX + neg)
		return fw_seterr(FW_ERR_CONFIG, "%s: '%s' is out of range, "
		    "expected %lld..%lld", label, v, (long long)lo, (long long)hi);
	if (neg)
		x = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		x = (int64_t)mag;
	if (x < lo || x > hi)
		return fw_seterr(FW_ERR_CONFIG, "%s: %lld is out of range, "
		    "expected %lld..%lld", label, (long long)x, (long long)lo,
		    (long long)hi);
	out->i = x;
	return FW_OK;
}

/* Digits and an optional one-letter unit from units (multipliers in
 * mult); -1 bad syntax, -2 overflow past limit. */
static int
conf_parse_unit(const char *v, const char *units, const uint64_t *mult,
    uint64_t limit, uint64_t *out)
{
	const char *p = v, *u;
	uint64_t x, m = 1;
	int r;

	if ((r = conf_digits(&p, &x)) == 0)
		return -1;
	if (*p != '\0') {
		if ((u = strchr(units, *p)) == NULL || p[1] != '\0')
			return -1;
		m = mult[u - units];
	}
	if (r < 0 || x > limit / m)
		return -2;
	*out = x * m;
	return 0;
}

/* A number with a unit: CONF_SIZE or CONF_DURATION. */
struct conf_scale {
	const char *units;	/* the suffixes, one letter each */
	const uint64_t *mult;	/* what each suffix multiplies by */
	uint64_t limit;		/* largest value before the bounds */
	const char *noun;	/* "size" */
	const char *base;	/* "bytes" */
	const char *suffixes;	/* "K, M or G" */
};

static fw_err
conf_parse_scaled(const struct conf_entry *e, const char *v,
    const char *label, const struct conf_scale *sc, uint64_t *out)
{
	int64_t lo, hi;
	uint64_t x = 0;
	int r;

	conf_bounds(e, &lo, &hi);
	r = conf_parse_unit(v, sc->units, sc->mult, sc->limit, &x);
	if (r == -1)
		return fw_seterr(FW_ERR_CONFIG, "%s: '%s' is not a %s, expected "
		    "%s with an optional %s suffix, %lld..%lld %s", label, v,
		    sc->noun, sc->base, sc->suffixes, (long long)lo, (long long)hi,
		    sc->base);
	if (r == -2 || x < (uint64_t)lo || x > (uint64_t)hi)
		return fw_seterr(FW_ERR_CONFIG, "%s: '%s' is out of range, "
		    "expected %lld..%lld %s", label, v, (long long)lo,
		    (long long)hi, sc->base);
	*out = x;
	return FW_OK;
}

static fw_err
conf_parse_size(const struct conf_entry *e, const char *v, const char *label,
    struct conf_val *out)
{
	static const uint64_t mult[] = {1u << 10, 1u << 10, 1u << 20, 1u << 20,
	    1u << 30, 1u << 30};
	static const struct conf_scale sc = {"KkMmGg", mult, UINT64_MAX, "size",
	    "bytes", "K, M or G"};

	return conf_parse_scaled(e, v, label, &sc, &out->u);
}

static fw_err
conf_parse_duration(const struct conf_entry *e, const char *v,
    const char *label, struct conf_val *out)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400};
	static const struct conf_scale sc = {"smhd", mult, INT64_MAX,
	    "duration", "seconds", "s, m, h or d"};
	uint64_t x = 0;
	fw_err err;

	if ((err = conf_parse_scaled(e, v, label, &sc, &x)) == FW_OK)
		out->i = (int64_t)x;
	return err;
}

int
conf_bool(const char *v)
{
	static const char *yes[] = {"yes", "true", "on", "1"};
	static const char *no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

static fw_err
conf_parse_bool(const char *v, const char *label, struct conf_val *out)
{
	if ((out->b = conf_bool(v)) < 0)
		return fw_seterr(FW_ERR_CONFIG, "%s: '%s' is not a boolean, "
		    "expected yes/no, true/false, on/off or 1/0", label, v);
	return FW_OK;
}

/* Check value for e; nothing is stored. */
static fw_err
conf_parse(const struct conf_entry *e, const char *v, struct conf_val *out)
{
	char label[CONF_MSG_MAX];

	conf_label(e, label, sizeof label);
	memset(out, 0, sizeof *out);
	switch (e->type) {
	case CONF_STR:
		out->s = v;
		return FW_OK;
	case CONF_INT:
		return conf_parse_int(e, v, label, out);
	case CONF_BOOL:
		return conf_parse_bool(v, label, out);
	case CONF_SIZE:
		return conf_parse_size(e, v, label, out);
	case CONF_DURATION:
		return conf_parse_duration(e, v, label, out);
	}
	return fw_seterr(FW_ERR_INTERNAL, "%s: unknown type %d", label, (int)e->type);
}

/* Store a checked value into obj; an old string is freed if free_old. */
static fw_err
conf_store(const struct conf_entry *e, void *obj, const struct conf_val *v,
    int free_old)
{
	char *field = (char *)obj + e->offset, *s;

	switch (e->type) {
	case CONF_STR:
		if ((s = strdup(v->s)) == NULL)
			return fw_seterr(FW_ERR_NOMEM, "config: out of memory");
		if (free_old)
			free(*(char **)(void *)field);
		*(char **)(void *)field = s;
		break;
	case CONF_INT:
	case CONF_DURATION:
		*(int64_t *)(void *)field = v->i;
		break;
	case CONF_BOOL:
		*(int *)(void *)field = v->b;
		break;
	case CONF_SIZE:
		*(uint64_t *)(void *)field = v->u;
		break;
	}
	return FW_OK;
}

/* Split "section.name" at its last dot into sec (of seclen bytes). */
static const char *
conf_split(const char *name, char *sec, size_t seclen)
{
	const char *dot = strrchr(name, '.');
	size_t n;

	sec[0] = '\0';
	if (dot == NULL)
		return name;
	n = (size_t)(dot - name);
	if (n >= seclen)
		n = seclen - 1;	/* too long to match any section */
	memcpy(sec, name, n);
	sec[n] = '\0';
	return dot + 1;
}

fw_err
conf_set(const struct conf_entry *table, size_t n, void *obj,
    const char *section, const char *name, const char *value)
{
	const struct conf_entry *e;
	struct conf_val v;
	char sec[CONF_MSG_MAX];
	fw_err err;

	if (section == NULL) {
		name = conf_split(name, sec, sizeof sec);
		section = sec;
	}
	if ((e = conf_find(table, n, section, name)) == NULL)
		return conf_unknown(section, name);
	if ((err = conf_parse(e, value, &v)) != FW_OK)
		return err;
	return conf_store(e, obj, &v, 1);
}

fw_err
conf_defaults(const struct conf_entry *table, size_t n, void *obj)
{
	struct conf_val v;
	fw_err e;

	for (size_t i = 0; i < n; i++) {
		memset(&v, 0, sizeof v);
		if (table[i].def == NULL && table[i].type == CONF_STR) {
			*(char **)(void *)((char *)obj + table[i].offset) = NULL;
			continue;
		}
		/* A bad default is the table's bug; say so before anything
		 * reads a file. */
		if (table[i].def != NULL &&
		    conf_parse(&table[i], table[i].def, &v) != FW_OK)
			return fw_errctx(FW_ERR_CONFIG, "default");
		if ((e = conf_store(&table[i], obj, &v, 0)) != FW_OK)
			return e;
	}
	return FW_OK;
}

void
conf_free(const struct conf_entry *table, size_t n, void *obj)
{
	char **field;

	for (size_t i = 0; i < n; i++) {
		if (table[i].type != CONF_STR)
			continue;
		field = (char **)(void *)((char *)obj + table[i].offset);
		free(*field);
		*field = NULL;
	}
}

/* Remember the first error of a pass, at the current line. */
static void
conf_fail(struct conf_ctx *c, fw_err e, const char *msg)
{
	conf_lines_fail(&c->in, e, "%s:%d: %s", c->in.name, c->in.line, msg);
}

/* Check (first pass) or apply (second pass) one "name = value" line. */
static fw_err
conf_line(struct conf_ctx *c, const char *section, const char *name,
    const char *value)
{
	const struct conf_entry *e;
	struct conf_val v;
	char label[CONF_MSG_MAX];
	int *seen;
	fw_err err;

	if ((e = conf_find(c->table, c->n, section, name)) == NULL)
		return conf_unknown(section, name);
	seen = &c->seen[e - c->table];
	/* Two values for one setting in one file is a mistake (two server
	 * URLs), not an override. */
	if (!c->apply && *seen != 0) {
		conf_label(e, label, sizeof label);
		return fw_seterr(FW_ERR_CONFIG, "%s is set twice, first on line %d",
		    label, *seen);
	}
	if ((err = conf_parse(e, value, &v)) != FW_OK)
		return err;
	if (c->apply)
		return conf_store(e, c->obj, &v, 1);
	*seen = c->in.line;
	return FW_OK;
}

static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_ctx *c = user;
	fw_err err;

	if (c->in.errline != 0)
		return 0;
	if ((err = conf_line(c, section, name, value)) != FW_OK) {
		conf_fail(c, err, fw_errmsg());
		return 0;
	}
	return 1;
}

/*
 * A "[section]" line: inih does not tell the handler about a section
 * without keys, so an unknown one would pass unseen, and it ignores text
 * after the ']'.  A line without ']' is left to inih to refuse.
 */
static fw_err
conf_check_section(void *arg, const char *s, size_t len)
{
	struct conf_ctx *c = arg;
	const char *close = memchr(s, ']', len), *rest;
	size_t namelen;

	if (close == NULL)
		return FW_OK;
	namelen = (size_t)(close - s - 1);
	if (!conf_has_section(c->table, c->n, s + 1, namelen))
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: unknown section [%.*s]",
		    c->in.name, c->in.line, (int)namelen, s + 1);
	for (rest = close + 1; rest < s + len && conf_isblank(*rest); rest++)
		continue;
	if (rest < s + len && *rest != ';' && *rest != '#')
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: unexpected text after "
		    "[%.*s]", c->in.name, c->in.line, (int)namelen, s + 1);
	return FW_OK;
}

/* One pass over the data; the error message left as "name:line: ...". */
static fw_err
conf_pass(struct conf_ctx *c, const char *name, const char *data, size_t len)
{
	conf_lines_init(&c->in, name, data, len);
	c->in.section = conf_check_section;
	c->in.arg = c;
	return conf_lines_parse(&c->in, conf_handler, c, "name = value");
}

fw_err
conf_load_mem(const struct conf_entry *table, size_t n, const char *name,
    const void *data, size_t len, void *obj)
{
	struct conf_ctx c;
	fw_err e;

	if (len > CONF_FILE_MAX)
		return fw_seterr(FW_ERR_CONFIG, "%s: %zu bytes, more than the %u "
		    "a config file may hold", name, len, CONF_FILE_MAX);
	memset(&c, 0, sizeof c);
	c.table = table;
	c.n = n;
	c.obj = obj;
	if ((c.seen = calloc(n + 1, sizeof *c.seen)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "%s: out of memory", name);
	e = conf_pass(&c, name, data, len);
	if (e == FW_OK) {
		c.apply = 1;
		e = conf_pass(&c, name, data, len);
	}
	free(c.seen);
	return e;
}

fw_err
conf_read_file(const char *path, size_t max, const char *what,
    uint8_t **data, size_t *len)
{
	fw_err e = file_read_all(path, max, data, len);

	if (e == FW_ERR_LIMIT)
		return fw_seterr(FW_ERR_CONFIG, "%s: larger than the %zu bytes a "
		    "%s may hold", path, max, what);
	return e;
}

fw_err
conf_load(const struct conf_entry *table, size_t n, const char *path,
    void *obj)
{
	uint8_t *data;
	size_t len;
	fw_err e;

	if ((e = conf_read_file(path, CONF_FILE_MAX, "config file", &data,
	    &len)) != FW_OK)
		return e;
	e = conf_load_mem(table, n, path, data, len, obj);
	free(data);
	return e;
}

/* "# text" for each line of text. */
static fw_err
conf_comment(struct buf *b, const char *text)
{
	const char *nl;
	fw_err e;

	/* One pass per line of a string from the caller's table. */
	while (text != NULL && *text != '\0') {
		nl = strchr(text, '\n');
		e = buf_printf(b, "# %.*s\n", (int)(nl != NULL ? nl - text :
		    (ptrdiff_t)strlen(text)), text);
		if (e != FW_OK)
			return e;
		text = nl != NULL ? nl + 1 : NULL;
	}
	return FW_OK;
}

/* The entries of one section, each as its help and "name = default". */
static fw_err
conf_write_section(struct buf *b, const struct conf_entry *table, size_t n,
    const char *section)
{
	fw_err e = FW_OK;

	if (section[0] != '\0')
		e = buf_printf(b, "[%s]\n", section);
	for (size_t i = 0; i < n && e == FW_OK; i++) {
		if (strcmp(table[i].section, section) != 0)
			continue;
		if ((e = conf_comment(b, table[i].help)) != FW_OK)
			break;
		/* No default: shown, commented out, so that the file
		 * still loads to the defaults. */
		if (table[i].def == NULL)
			e = buf_printf(b, "# %s =\n", table[i].name);
		else
			e = buf_printf(b, "%s = %s\n", table[i].name, table[i].def);
	}
	if (e == FW_OK)
		e = buf_addstr(b, "\n");
	return e;
}

/* True if table[i] is the first entry of its section. */
static int
conf_first_of_section(const struct conf_entry *table, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(table[j].section, table[i].section) == 0)
			return 0;
	return 1;
}

fw_err
conf_write_defaults(const struct conf_entry *table, size_t n,
    const char *path, const char *header)
{
	struct buf b;
	fw_err e;

	buf_init(&b, CONF_FILE_MAX);
	e = conf_comment(&b, header);
	if (e == FW_OK && header != NULL)
		e = buf_addstr(&b, "\n");
	/* Names before any [section] must come first in the file. */
	if (e == FW_OK && conf_has_section(table, n, "", 0))
		e = conf_write_section(&b, table, n, "");
	for (size_t i = 0; i < n && e == FW_OK; i++)
		if (table[i].section[0] != '\0' && conf_first_of_section(table, i))
			e = conf_write_section(&b, table, n, table[i].section);
	if (e == FW_OK)
		e = file_write_durable(path, b.data != NULL ?
		    (const void *)b.data : "", b.len, 0640);
	buf_free(&b);
	return e;
}

/* ---- the line reader (conf.h) ------------------------------------------ */

void
conf_lines_init(struct conf_lines *l, const char *name, const void *data,
    size_t len)
{
	memset(l, 0, sizeof *l);
	l->name = name;
	l->p = data;
	l->end = l->p + len;
}

int
conf_lines_next(struct conf_lines *l, const char **s, size_t *len)
{
	const char *nl;

	if (l->p >= l->end)
		return 0;
	*s = l->p;
	nl = memchr(*s, '\n', (size_t)(l->end - *s));
	*len = (size_t)((nl != NULL ? nl : l->end) - *s);
	l->p = nl != NULL ? nl + 1 : l->end;
	l->line++;
	/* A UTF-8 byte order mark; inih would skip it, but only after our
	 * section check. */
	if (l->line == 1 && *len >= 3 && memcmp(*s, "\xef\xbb\xbf", 3) == 0) {
		*s += 3;
		*len -= 3;
	}
	return 1;
}

void
conf_lines_fail(struct conf_lines *l, fw_err e, const char *fmt, ...)
{
	size_t max = sizeof l->msg;
	va_list ap;

	if (l->errline != 0)
		return;
	if (l->msgmax != 0 && l->msgmax < max)
		max = l->msgmax;
	l->errline = l->line > 0 ? l->line : 1;
	l->err = e;
	va_start(ap, fmt);
	vsnprintf(l->msg, max, fmt, ap);
	va_end(ap);
}

/* Where an inline comment starts: ';' or '#' after a blank; len if none. */
static size_t
conf_cut_comment(const char *s, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if ((s[i] == ';' || s[i] == '#') && conf_isblank(s[i - 1]))
			return i;
	return len;
}

/* Take off indentation, trailing blanks and comments. */
static void
conf_lines_trim(const struct conf_lines *l, const char **sp, size_t *lenp)
{
	const char *s = *sp;
	size_t len = *lenp;

	for (; len > 0 && conf_isblank(s[0]); len--)
		s++;
	/* A comment may be as long as it likes: inih only needs to see
	 * that it is one. */
	if (len > 0 && (s[0] == '#' || s[0] == ';'))
		len = 1;
	else if (l->inline_comments)
		len = conf_cut_comment(s, len);
	for (; len > 0 && conf_isblank(s[len - 1]); len--)
		continue;
	*sp = s;
	*lenp = len;
}

char *
conf_lines_reader(char *str, int num, void *stream)
{
	struct conf_lines *l = stream;
	const char *s;
	size_t len;
	fw_err e;

	if (l->errline != 0 || !conf_lines_next(l, &s, &len))
		return NULL;
	if (l->utf8 && (memchr(s, '\0', len) != NULL ||
	    !jsonx_utf8_valid(s, len))) {
		conf_lines_fail(l, FW_ERR_CONFIG, "%s:%d: %s, expected UTF-8 text",
		    l->name, l->line, memchr(s, '\0', len) != NULL ? "NUL byte" :
		    "invalid UTF-8");
		return NULL;
	}
	conf_lines_trim(l, &s, &len);
	if (memchr(s, '\0', len) != NULL) {
		conf_lines_fail(l, FW_ERR_CONFIG, "%s:%d: NUL byte in the line",
		    l->name, l->line);
		return NULL;
	}
	/* The line must fit inih's buffer of num bytes with "\n\0". */
	if (num < 3 || len > (size_t)num - 2) {
		conf_lines_fail(l, FW_ERR_CONFIG, "%s:%d: line longer than %d "
		    "bytes%s", l->name, l->line, num - 2,
		    l->toolong != NULL ? l->toolong : "");
		return NULL;
	}
	if (len > 0 && s[0] == '[' && l->section != NULL &&
	    (e = l->section(l->arg, s, len)) != FW_OK) {
		conf_lines_fail(l, e, "%s", fw_errmsg());
		return NULL;
	}
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

fw_err
conf_lines_parse(struct conf_lines *l, int (*handler)(void *user,
    const char *section, const char *name, const char *value), void *user,
    const char *pair)
{
	int ret;

	ret = ini_parse_stream(conf_lines_reader, l, handler, user);
	if (ret == -2)
		return fw_seterr(FW_ERR_NOMEM, "%s: out of memory", l->name);
	/* inih reports the first line it disliked, which may come before
	 * the line where the reader stopped. */
	if (ret > 0 && (l->errline == 0 || ret < l->errline))
		return fw_seterr(FW_ERR_CONFIG, "%s:%d: expected '%s', "
		    "'[section]' or a comment", l->name, ret, pair);
	if (l->errline != 0)
		return fw_seterr(l->err, "%s", l->msg);
	if (ret != 0)
		return fw_seterr(FW_ERR_INTERNAL, "%s: inih returned %d", l->name,
		    ret);
	return FW_OK;
}

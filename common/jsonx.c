/*
 * jsonx.c: strict JSON over jansson for the protocol's parsers.
 *
 * jansson does the lexing and the UTF-8 check; this file maps its failures
 * onto fw_err, checks fields one by one for the bundle codec and the
 * server's request bodies, and writes the canonical form that observation
 * hashes and signatures are computed over.  Every message it leaves in
 * fw_errmsg is printable UTF-8, because messages travel back to clients
 * inside JSON error bodies and bytes from hostile input must not break them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jsonx.h"

/* Canonical values are at most a few levels deep (a manifest is 4); the
 * bound keeps the check's recursion small whatever the caller builds. */
#define JSONX_MAX_DEPTH	64
/* Keys echoed in messages are cut to this many bytes. */
#define JSONX_KEY_ECHO	64

static const char *
where_or(const char *where)
{
	return where != NULL && where[0] != '\0' ? where : "JSON";
}

/*
 * Length of the well-formed UTF-8 sequence at s (n > 0 bytes available),
 * 0 if it is not one: overlongs, surrogates (ED A0..BF) and code points past
 * U+10FFFF are refused, as RFC 3629 says.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0)
		len = 2;
	else if (c < 0xf0) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

int
jsonx_utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_seq(s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/*
 * Copy at most dstsz - 1 bytes of src[0..n) to dst for a message: whole
 * UTF-8 sequences only, '?' for a byte that starts none and for control
 * characters.  dst is always NUL-terminated.
 */
static void
clean_copy(char *dst, size_t dstsz, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, k;

	if (dstsz == 0)
		return;
	while (i < n && o + 1 < dstsz) {
		k = utf8_seq(s + i, n - i);
		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + k >= dstsz)
			break;
		memcpy(dst + o, s + i, k);
		o += k;
		i += k;
	}
	dst[o] = '\0';
}

static fw_err
load_code(enum json_error_code c)
{
	switch (c) {
	case json_error_duplicate_key:
		return FW_ERR_FIELD_DUPLICATE;
	case json_error_invalid_utf8:
		return FW_ERR_UTF8;
	case json_error_numeric_overflow:
		return FW_ERR_FIELD_RANGE;
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return FW_ERR_FIELD_VALUE;
	case json_error_stack_overflow:
		return FW_ERR_LIMIT;
	case json_error_out_of_memory:
		return FW_ERR_NOMEM;
	default:
		return FW_ERR_JSON;
	}
}

/* Characters of numbers and of true/false/null (and of garbage, which
 * jansson refuses anyway: counting it only makes the bound safer). */
static int
bare_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '-' || c == '+' || c == '.';
}

/*
 * Count the tokens jansson would make a value or key of (strings,
 * containers, runs of bare characters) without parsing: an upper bound of
 * its allocations whether or not the document turns out to be valid, since
 * it allocates as it reads.
 */
static fw_err
scan_bounds(const unsigned char *s, size_t n, size_t max_items,
    size_t max_containers)
{
	size_t i, items = 0, containers = 0;
	int in_str = 0, esc = 0, in_bare = 0;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (esc)
				esc = 0;
			else if (s[i] == '\\')
				esc = 1;
			else if (s[i] == '"')
				in_str = 0;
			continue;
		}
		if (bare_char(s[i])) {
			items += !in_bare;
			in_bare = 1;
			continue;
		}
		in_bare = 0;
		if (s[i] == '"') {
			in_str = 1;
			items++;
		} else if (s[i] == '{' || s[i] == '[') {
			containers++;
			items++;
		}
		if (items > max_items || containers > max_containers)
			return fw_seterr(FW_ERR_LIMIT,
			    "JSON: more than %zu values or %zu objects and arrays "
			    "by byte %zu", max_items, max_containers, i);
	}
	if (items > max_items)
		return fw_seterr(FW_ERR_LIMIT, "JSON: more than %zu values",
		    max_items);
	return FW_OK;
}

fw_err
jsonx_load(const void *p, size_t n, json_t **out)
{
	return jsonx_load_bounded(p, n, SIZE_MAX, SIZE_MAX, out);
}

fw_err
jsonx_load_bounded(const void *p, size_t n, size_t max_items,
    size_t max_containers, json_t **out)
{
	json_error_t je;
	json_t *v;
	char text[JSON_ERROR_TEXT_LENGTH];
	fw_err e;

	*out = NULL;
	if (n == 0)
		return fw_seterr(FW_ERR_EMPTY, "JSON: empty input");
	if (p == NULL)
		return fw_seterr(FW_ERR_INVALID, "JSON: no input buffer");
	if ((max_items < SIZE_MAX || max_containers < SIZE_MAX) &&
	    (e = scan_bounds(p, n, max_items, max_containers)) != FW_OK)
		return e;
	memset(&je, 0, sizeof je);
	if ((v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je)) != NULL) {
		*out = v;
		return FW_OK;
	}
	/* jansson's text quotes the input near the error: clean it. */
	clean_copy(text, sizeof text, je.text,
	    strnlen(je.text, sizeof je.text - 1));
	return fw_seterr(load_code(json_error_code(&je)), "JSON at byte %d: %s",
	    je.position, text);
}

const char *
jsonx_type_name(const json_t *v)
{
	if (v == NULL)
		return "missing";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/*
 * Strings the canonical form can carry: well-formed UTF-8 whose control
 * characters all have a two-character escape, the only ones on which
 * jansson and Python's json module write the same bytes.
 */
static fw_err
canon_check_str(const char *s, size_t n)
{
	unsigned char c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 && c != '\b' && c != '\t' && c != '\n' &&
		    c != '\f' && c != '\r')
			return fw_seterr(FW_ERR_FIELD_VALUE,
			    "JSON: control character 0x%02x at byte %zu of a string "
			    "has no canonical form", c, i);
	}
	if (!jsonx_utf8_valid(s, n))
		return fw_seterr(FW_ERR_UTF8, "JSON: string is not valid UTF-8");
	return FW_OK;
}

static fw_err
canon_check(const json_t *v, int depth)
{
	json_t *obj = (json_t *)v;	/* jansson's iterators are not const */
	void *it;
	size_t i;
	fw_err e;

	if (depth > JSONX_MAX_DEPTH)
		return fw_seterr(FW_ERR_LIMIT, "JSON: nested deeper than %d",
		    JSONX_MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_REAL:
		return fw_seterr(FW_ERR_FIELD_TYPE,
		    "JSON: real numbers have no canonical form");
	case JSON_STRING:
		return canon_check_str(json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		for (i = 0; i < json_array_size(v); i++)
			if ((e = canon_check(json_array_get(v, i), depth + 1)) != FW_OK)
				return e;
		return FW_OK;
	case JSON_OBJECT:
		for (it = json_object_iter(obj); it != NULL;
		    it = json_object_iter_next(obj, it)) {
			if ((e = canon_check_str(json_object_iter_key(it),
			    json_object_iter_key_len(it))) != FW_OK ||
			    (e = canon_check(json_object_iter_value(it),
			    depth + 1)) != FW_OK)
				return e;
		}
		return FW_OK;
	default:
		return FW_OK;
	}
}

struct dumpctx {
	struct buf *out;
	fw_err e;
};

/*
 * Once a write has failed every later one fails too: jansson ignores the
 * result of writing a sorted key, so a short write followed by a write
 * that fits would otherwise leave corrupt output behind a success.
 */
static int
dump_cb(const char *p, size_t n, void *arg)
{
	struct dumpctx *c = arg;

	if (c->e != FW_OK)
		return -1;
	if ((c->e = buf_add(c->out, p, n)) != FW_OK)
		return -1;
	return 0;
}

fw_err
jsonx_dump_canonical(const json_t *v, struct buf *out)
{
	struct dumpctx c = {out, FW_OK};
	size_t start = out->len;
	fw_err e;
	int rc;

	if (v == NULL)
		return fw_seterr(FW_ERR_INVALID, "JSON: nothing to dump");
	if ((e = canon_check(v, 0)) != FW_OK)
		return e;
	rc = json_dump_callback(v, dump_cb, &c,
	    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (rc == 0 && c.e == FW_OK)
		return FW_OK;
	if (out->data != NULL) {
		out->len = start;
		out->data[start] = '\0';
	}
	if (c.e != FW_OK)
		return fw_errctx(c.e, "JSON dump");
	return fw_seterr(FW_ERR_NOMEM, "JSON dump: jansson failed");
}

static int
key_allowed(const char *key, const char *const *allowed)
{
	size_t i;

	/* allowed is one of our static lists; the bound is generous. */
	for (i = 0; i < 256 && allowed[i] != NULL; i++)
		if (strcmp(key, allowed[i]) == 0)
			return 1;
	return 0;
}

fw_err
jsonx_check_keys(const json_t *obj, const char *const *allowed,
    const char *where)
{
	json_t *o = (json_t *)obj;
	char echo[JSONX_KEY_ECHO];
	const char *key;
	void *it;

	if (!json_is_object(obj))
		return fw_seterr(FW_ERR_FIELD_TYPE, "%s: is %s, expected an object",
		    where_or(where), jsonx_type_name(obj));
	for (it = json_object_iter(o); it != NULL;
	    it = json_object_iter_next(o, it)) {
		key = json_object_iter_key(it);
		if (key_allowed(key, allowed))
			continue;
		clean_copy(echo, sizeof echo, key, json_object_iter_key_len(it));
		return fw_seterr(FW_ERR_FIELD_UNKNOWN, "%s: unknown field '%s'",
		    where_or(where), echo);
	}
	return FW_OK;
}

/* "1..16384", "exactly 32", "at least 1" for messages. */
static void
bounds_text(char *dst, size_t dstsz, size_t lo, size_t hi, const char *unit)
{
	if (lo == hi)
		snprintf(dst, dstsz, "exactly %zu %s", lo, unit);
	else if (hi == SIZE_MAX)
		snprintf(dst, dstsz, "at least %zu %s", lo, unit);
	else
		snprintf(dst, dstsz, "%zu..%zu %s", lo, hi, unit);
}

fw_err
jsonx_check_str(const json_t *v, const char *name, int text,
    size_t minlen, size_t maxlen, const char **out, const char *where)
{
	char want[64];
	const char *s;
	unsigned char c;
	size_t n, i;

	if (!json_is_string(v))
		return fw_seterr(FW_ERR_FIELD_TYPE,
		    "%s: field '%s' is %s, expected a string", where_or(where),
		    name, jsonx_type_name(v));
	s = json_string_value(v);
	n = json_string_length(v);
	if (n < minlen || n > maxlen) {
		bounds_text(want, sizeof want, minlen, maxlen, "bytes");
		return fw_seterr(FW_ERR_FIELD_LENGTH,
		    "%s: field '%s' is %zu bytes, expected %s", where_or(where),
		    name, n, want);
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (text && (c == '\n' || c == '\t'))
			continue;
		if (c < 0x20 || c == 0x7f)
			return fw_seterr(FW_ERR_FIELD_VALUE,
			    "%s: field '%s' has control character 0x%02x at byte "
			    "%zu, expected %s", where_or(where), name, c, i,
			    text ? "text (only \\n and \\t allowed)" :
			    "no control characters");
	}
	/* jansson checked what it parsed; values built in code may not be. */
	if (!jsonx_utf8_valid(s, n))
		return fw_seterr(FW_ERR_UTF8, "%s: field '%s' is not valid UTF-8",
		    where_or(where), name);
	*out = s;
	return FW_OK;
}

/* The member key of obj, or the error for a missing one (FW_OK and *v =
 * NULL when it is absent and optional). */
static fw_err
member(const json_t *obj, const char *key, int opt, const json_t **v,
    const char *where)
{
	*v = NULL;
	if (!json_is_object(obj))
		return fw_seterr(FW_ERR_FIELD_TYPE, "%s: is %s, expected an object",
		    where_or(where), jsonx_type_name(obj));
	*v = json_object_get(obj, key);
	if (*v == NULL && !opt)
		return fw_seterr(FW_ERR_FIELD_MISSING, "%s: field '%s' missing",
		    where_or(where), key);
	return FW_OK;
}

fw_err
jsonx_get_str(const json_t *obj, const char *key, int opt, int text,
    size_t minlen, size_t maxlen, const char **out, const char *where)
{
	const json_t *v;
	fw_err e;

	*out = NULL;
	if ((e = member(obj, key, opt, &v, where)) != FW_OK || v == NULL)
		return e;
	return jsonx_check_str(v, key, text, minlen, maxlen, out, where);
}

fw_err
jsonx_get_int(const json_t *obj, const char *key, int opt,
    int64_t min, int64_t max, int64_t *out, int *present, const char *where)
{
	const json_t *v;
	json_int_t x;
	fw_err e;

	if (present != NULL)
		*present = 0;
	if ((e = member(obj, key, opt, &v, where)) != FW_OK || v == NULL)
		return e;
	if (!json_is_integer(v))
		return fw_seterr(FW_ERR_FIELD_TYPE,
		    "%s: field '%s' is %s, expected an integer", where_or(where),
		    key, jsonx_type_name(v));
	x = json_integer_value(v);
	if (x < min || x > max)
		return fw_seterr(FW_ERR_FIELD_RANGE,
		    "%s: field '%s' is %lld, expected %" PRId64 "..%" PRId64,
		    where_or(where), key, (long long)x, min, max);
	*out = (int64_t)x;
	if (present != NULL)
		*present = 1;
	return FW_OK;
}

fw_err
jsonx_get_array(const json_t *obj, const char *key, int opt,
    size_t minn, size_t maxn, const json_t **out, const char *where)
{
	const json_t *v;
	char want[64];
	size_t n;
	fw_err e;

	*out = NULL;
	if ((e = member(obj, key, opt, &v, where)) != FW_OK || v == NULL)
		return e;
	if (!json_is_array(v))
		return fw_seterr(FW_ERR_FIELD_TYPE,
		    "%s: field '%s' is %s, expected an array", where_or(where),
		    key, jsonx_type_name(v));
	n = json_array_size(v);
	if (n < minn || n > maxn) {
		bounds_text(want, sizeof want, minn, maxn, "elements");
		return fw_seterr(FW_ERR_FIELD_LENGTH,
		    "%s: field '%s' has %zu elements, expected %s",
		    where_or(where), key, n, want);
	}
	*out = v;
	return FW_OK;
}

fw_err
jsonx_get_object(const json_t *obj, const char *key, int opt,
    const json_t **out, const char *where)
{
	const json_t *v;
	fw_err e;

	*out = NULL;
	if ((e = member(obj, key, opt, &v, where)) != FW_OK || v == NULL)
		return e;
	if (!json_is_object(v))
		return fw_seterr(FW_ERR_FIELD_TYPE,
		    "%s: field '%s' is %s, expected an object", where_or(where),
		    key, jsonx_type_name(v));
	*out = v;
	return FW_OK;
}

fw_err
jsonx_error_body(fw_err e, const char *msg, struct buf *out)
{
	char clean[2 * FW_ERRMSG_MAX];
	json_t *o;
	fw_err r = FW_ERR_NOMEM;

	if (msg == NULL)
		msg = fw_errdesc(e);
	/* Messages may quote input and may have been cut mid-character. */
	clean_copy(clean, sizeof clean, msg, strlen(msg));
	if ((o = json_object()) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "JSON: out of memory");
	if (json_object_set_new(o, "error", json_string(fw_strerror(e))) == 0 &&
	    json_object_set_new(o, "message", json_string(clean)) == 0)
		r = jsonx_dump_canonical(o, out);
	else
		fw_seterr(r, "JSON: out of memory");
	json_decref(o);
	return r;
}

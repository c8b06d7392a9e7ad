/*
 * test_jsonx.c: the strict JSON layer (common/jsonx.c).
 *
 * Load errors must map onto the specific fw_err the protocol names, the
 * canonical dump must be byte-for-byte what Python's json.dumps(sort_keys,
 * compact separators, ensure_ascii=False) writes, and the getters must hold
 * their bounds exactly at the edges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fw.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* Load n bytes and return the error, freeing any result. */
static fw_err
load(const char *p, size_t n)
{
	json_t *v = NULL;
	fw_err e = jsonx_load(p, n, &v);

	if (e == FW_OK)
		assert_non_null(v);
	else
		assert_null(v);
	json_decref(v);
	return e;
}

/* A message goes into JSON error bodies: printable UTF-8 only. */
static void
assert_clean_msg(void)
{
	const char *m = fw_errmsg();
	size_t i;

	assert_true(jsonx_utf8_valid(m, strlen(m)));
	for (i = 0; m[i] != '\0'; i++)
		assert_true((unsigned char)m[i] >= 0x20 && m[i] != 0x7f);
}

static json_t *
parse(const char *s)
{
	json_error_t je;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &je);

	if (v == NULL)
		fail_msg("test JSON does not load: %s", je.text);
	return v;
}

/* Canonical dump of the JSON text s, compared with want. */
static void
assert_canon(const char *s, const char *want)
{
	struct buf b;
	json_t *v = parse(s);

	buf_init(&b, 1 << 20);
	assert_int_equal(jsonx_dump_canonical(v, &b), FW_OK);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
	json_decref(v);
}

static void
test_load_ok(void **state)
{
	(void)state;
	assert_int_equal(load(LIT("{\"a\":[1,\"x\",true,null]}")), FW_OK);
	assert_int_equal(load(LIT("  {}  \n")), FW_OK);
	assert_int_equal(load(LIT("[]")), FW_OK);
	assert_int_equal(load(LIT("{\"a\":-9223372036854775808}")), FW_OK);
	assert_int_equal(load(LIT("{\"a\":9223372036854775807}")), FW_OK);
}

static void
test_load_empty(void **state)
{
	(void)state;
	assert_int_equal(load("", 0), FW_ERR_EMPTY);
	assert_int_equal(load(LIT("   ")), FW_ERR_JSON);
}

static void
test_load_duplicate(void **state)
{
	(void)state;
	assert_int_equal(load(LIT("{\"a\":1,\"a\":2}")), FW_ERR_FIELD_DUPLICATE);
	assert_non_null(strstr(fw_errmsg(), "byte"));
	assert_int_equal(load(LIT("{\"o\":{\"b\":1,\"c\":2,\"b\":1}}")),
	    FW_ERR_FIELD_DUPLICATE);
	/* The same key in two different objects is not a duplicate. */
	assert_int_equal(load(LIT("[{\"a\":1},{\"a\":1}]")), FW_OK);
}

static void
test_load_bad_utf8(void **state)
{
	static const char *const bad[] = {
		"{\"a\":\"\xff\"}",			/* never valid */
		"{\"a\":\"\xc0\xaf\"}",			/* overlong '/' */
		"{\"a\":\"\xc1\xbf\"}",			/* overlong */
		"{\"a\":\"\xe0\x80\xaf\"}",		/* 3-byte overlong */
		"{\"a\":\"\xf0\x80\x80\xaf\"}",		/* 4-byte overlong */
		"{\"a\":\"\xed\xa0\x80\"}",		/* surrogate U+D800 */
		"{\"a\":\"\xed\xbf\xbf\"}",		/* surrogate U+DFFF */
		"{\"a\":\"\xf4\x90\x80\x80\"}",		/* past U+10FFFF */
		"{\"a\":\"\xe2\x82\"}",			/* cut sequence */
		"{\"a\":\"\x80\"}",			/* lone continuation */
		"{\"\xfe\":1}",				/* in a key */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (load(bad[i], strlen(bad[i])) != FW_ERR_UTF8)
			fail_msg("case %zu: %s", i, fw_errmsg());
		assert_clean_msg();
	}
	/* An escaped lone surrogate is valid UTF-8 but not JSON text. */
	assert_int_equal(load(LIT("{\"a\":\"\\ud800\"}")), FW_ERR_JSON);
	assert_clean_msg();
	/* A pair is fine. */
	assert_int_equal(load(LIT("{\"a\":\"\\ud83d\\ude00\"}")), FW_OK);
}

static void
test_load_overflow(void **state)
{
	(void)state;
	assert_int_equal(load(LIT("{\"a\":9223372036854775808}")),
	    FW_ERR_FIELD_RANGE);
	assert_int_equal(load(LIT("{\"a\":-9223372036854775809}")),
	    FW_ERR_FIELD_RANGE);
	assert_int_equal(load(LIT("{\"a\":99999999999999999999999}")),
	    FW_ERR_FIELD_RANGE);
	assert_int_equal(load(LIT("{\"a\":1e400}")), FW_ERR_FIELD_RANGE);
}

static void
test_load_garbage(void **state)
{
	(void)state;
	assert_int_equal(load(LIT("{} x")), FW_ERR_JSON);
	assert_int_equal(load(LIT("{}{}")), FW_ERR_JSON);
	assert_int_equal(load(LIT("{}\0")), FW_ERR_JSON);
	assert_int_equal(load(LIT("{")), FW_ERR_JSON);
	assert_int_equal(load(LIT("{\"a\":}")), FW_ERR_JSON);
	assert_int_equal(load(LIT("{\"a\":01}")), FW_ERR_JSON);
	assert_int_equal(load(LIT("{'a':1}")), FW_ERR_JSON);
	assert_int_equal(load(LIT("nope")), FW_ERR_JSON);
	assert_int_equal(load(LIT("1")), FW_ERR_JSON);	/* not a container */
	assert_int_equal(load(LIT("\"s\"")), FW_ERR_JSON);
	assert_int_equal(load(LIT("\xef\xbb\xbf{}")), FW_ERR_JSON); /* BOM */
	assert_clean_msg();
	/* A raw control character inside a string is not JSON. */
	assert_int_equal(load(LIT("{\"a\":\"x\ty\"}")), FW_ERR_JSON);
	assert_clean_msg();
}

static void
test_load_nul(void **state)
{
	(void)state;
	assert_int_equal(load(LIT("{\"a\":\"x\\u0000y\"}")), FW_ERR_FIELD_VALUE);
	assert_int_equal(load(LIT("{\"a\\u0000\":1}")), FW_ERR_FIELD_VALUE);
	assert_clean_msg();
}

static void
test_load_deep(void **state)
{
	char *s = malloc(2 * 3000 + 1);
	size_t i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 3000; i++) {
		s[i] = '[';
		s[3000 + i] = ']';
	}
	s[6000] = '\0';
	assert_int_equal(load(s, 6000), FW_ERR_LIMIT);
	free(s);
}

static fw_err
load_b(const char *s, size_t items, size_t containers)
{
	json_t *v = NULL;
	fw_err e = jsonx_load_bounded(s, strlen(s), items, containers, &v);

	json_decref(v);
	return e;
}

static void
test_load_bounded(void **state)
{
	char *big;
	size_t i;

	(void)state;
	assert_int_equal(load_b("[1,2,3]", 4, 1), FW_OK);
	assert_int_equal(load_b("[1,2,3]", 3, 1), FW_ERR_LIMIT);
	assert_int_equal(load_b("[[],[]]", 3, 3), FW_OK);
	assert_int_equal(load_b("[[],[]]", 9, 2), FW_ERR_LIMIT);
	/* Keys count; brackets and quotes inside strings do not. */
	assert_int_equal(load_b("{\"a\":1,\"b\":true}", 5, 1), FW_OK);
	assert_int_equal(load_b("{\"a\":1,\"b\":true}", 4, 1), FW_ERR_LIMIT);
	assert_int_equal(load_b("[\"a\\\"[{b\",\"c\\\\\",-1.5e+3]", 4, 1),
	    FW_OK);
	assert_int_equal(load_b("[\"a\\\"[{b\",\"c\\\\\",-1.5e+3]", 3, 1),
	    FW_ERR_LIMIT);
	/* Refused before jansson allocates: 4 MiB of "{}". */
	big = malloc(4u << 20);
	assert_non_null(big);
	big[0] = '[';
	for (i = 1; i + 3 < (4u << 20); i += 3)
		memcpy(big + i, "{},", 3);
	big[i - 1] = ']';
	big[i] = '\0';
	assert_int_equal(load_b(big, 1000, 1000), FW_ERR_LIMIT);
	free(big);
	/* Errors of the document itself still come first when in bounds. */
	assert_int_equal(load_b("", 1, 1), FW_ERR_EMPTY);
	assert_int_equal(load_b("{\"a\":1,\"a\":2}", 9, 9),
	    FW_ERR_FIELD_DUPLICATE);
}

static void
test_canon_sorted_compact(void **state)
{
	(void)state;
	assert_canon("{ \"b\" : 1, \"a\" : [ true, false, null, \"x\" ],\n"
	    " \"c\" : { \"z\" : \"\", \"y\" : -5, \"aa\": {}, \"a\": [] } }",
	    "{\"a\":[true,false,null,\"x\"],\"b\":1,"
	    "\"c\":{\"a\":[],\"aa\":{},\"y\":-5,\"z\":\"\"}}");
	/* Byte order of UTF-8 keys is code point order, as Python sorts. */
	assert_canon("{\"\xc3\xa9\":1,\"z\":2,\"\xe4\xb8\xad\":3,\"Z\":4}",
	    "{\"Z\":4,\"z\":2,\"\xc3\xa9\":1,\"\xe4\xb8\xad\":3}");
	assert_canon("{\"a\":-0}", "{\"a\":0}");
	assert_canon("{\"n\":-9223372036854775808}",
	    "{\"n\":-9223372036854775808}");
	assert_canon("7", "7");
	assert_canon("\"s\"", "\"s\"");
}

static void
test_canon_strings(void **state)
{
	(void)state;
	/* Raw UTF-8, '/' and DEL unescaped, \u escapes decoded. */
	assert_canon("[\"\\u00e9\\u4e2d\\ud83d\\ude00 a/b \\/ \x7f\"]",
	    "[\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 a/b / \x7f\"]");
	/* Quote, backslash and the two-character control escapes. */
	assert_canon("[\"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f\"]",
	    "[\"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f\"]");
	/* U+2028 stays raw, as Python writes it with ensure_ascii=False. */
	assert_canon("[\"\\u2028\"]", "[\"\xe2\x80\xa8\"]");
}

static void
test_canon_refused(void **state)
{
	struct buf b;
	json_t *v;
	size_t i;
	static const char *const reals[] = {
		"1.0", "[1, 2.5]", "{\"a\":{\"b\":[0e0]}}", "{\"a\":-1e-3}",
	};

	(void)state;
	buf_init(&b, 1 << 10);
	assert_int_equal(buf_addstr(&b, "keep"), FW_OK);
	for (i = 0; i < sizeof reals / sizeof reals[0]; i++) {
		v = parse(reals[i]);
		assert_int_equal(jsonx_dump_canonical(v, &b), FW_ERR_FIELD_TYPE);
		json_decref(v);
	}
	/* Controls that jansson would write as \u00XX (upper case hex). */
	v = json_pack("{s:s}", "a", "x\x01y");
	assert_int_equal(jsonx_dump_canonical(v, &b), FW_ERR_FIELD_VALUE);
	json_decref(v);
	v = json_pack("{s:i}", "k\x1f", 1);
	assert_int_equal(jsonx_dump_canonical(v, &b), FW_ERR_FIELD_VALUE);
	json_decref(v);
	v = json_stringn("a\0b", 3);
	assert_int_equal(jsonx_dump_canonical(v, &b), FW_ERR_FIELD_VALUE);
	json_decref(v);
	/* Nothing was appended by the failures. */
	assert_int_equal(b.len, 4);
	assert_string_equal((char *)b.data, "keep");
	buf_free(&b);
}

static void
test_canon_limits(void **state)
{
	struct buf b;
	json_t *v, *inner;
	int i;

	(void)state;
	/* Past the buffer's cap: LIMIT, and the buffer as it was. */
	buf_init(&b, 10);
	assert_int_equal(buf_addstr(&b, "ab"), FW_OK);
	v = parse("{\"bbbbbbbb\":1,\"a\":2}");
	assert_int_equal(jsonx_dump_canonical(v, &b), FW_ERR_LIMIT);
	assert_int_equal(b.len, 2);
	assert_string_equal((char *)b.data, "ab");
	json_decref(v);
	buf_free(&b);

	/* Deeper than the canonical form allows. */
	buf_init(&b, 1 << 16);
	v = json_array();
	for (i = 0; i < 100; i++) {
		inner = json_array();
		assert_int_equal(json_array_append_new(inner, v), 0);
		v = inner;
	}
	assert_int_equal(jsonx_dump_canonical(v, &b), FW_ERR_LIMIT);
	assert_int_equal(b.len, 0);
	json_decref(v);
	buf_free(&b);
}

static void
test_getters_str(void **state)
{
	json_t *o = parse("{\"s\":\"abcd\",\"t\":\"a\\nb\\tc\",\"r\":\"a\\rb\","
	    "\"d\":\"a\\u007fb\",\"n\":5,\"u\":null,\"e\":\"\",\"m\":\"\xc3\xa9\"}");
	const char *s;

	(void)state;
	assert_int_equal(jsonx_get_str(o, "s", 0, 0, 4, 4, &s, "w"), FW_OK);
	assert_string_equal(s, "abcd");
	assert_int_equal(jsonx_get_str(o, "s", 0, 0, 1, 3, &s, "w"),
	    FW_ERR_FIELD_LENGTH);
	assert_string_equal(fw_errmsg(),
	    "w: field 's' is 4 bytes, expected 1..3 bytes");
	assert_int_equal(jsonx_get_str(o, "s", 0, 0, 5, 9, &s, "w"),
	    FW_ERR_FIELD_LENGTH);
	assert_int_equal(jsonx_get_str(o, "e", 0, 0, 0, 9, &s, "w"), FW_OK);
	assert_int_equal(jsonx_get_str(o, "e", 0, 0, 1, 9, &s, "w"),
	    FW_ERR_FIELD_LENGTH);
	/* Lengths count bytes, not characters. */
	assert_int_equal(jsonx_get_str(o, "m", 0, 0, 2, 2, &s, "w"), FW_OK);
	assert_int_equal(jsonx_get_str(o, "m", 0, 0, 1, 1, &s, "w"),
	    FW_ERR_FIELD_LENGTH);
	/* Text allows \n and \t only; other strings no control at all. */
	assert_int_equal(jsonx_get_str(o, "t", 0, 1, 1, 9, &s, "w"), FW_OK);
	assert_int_equal(jsonx_get_str(o, "t", 0, 0, 1, 9, &s, "w"),
	    FW_ERR_FIELD_VALUE);
	assert_int_equal(jsonx_get_str(o, "r", 0, 1, 1, 9, &s, "w"),
	    FW_ERR_FIELD_VALUE);
	assert_int_equal(jsonx_get_str(o, "d", 0, 1, 1, 9, &s, "w"),
	    FW_ERR_FIELD_VALUE);
	/* Type and presence. */
	assert_int_equal(jsonx_get_str(o, "n", 0, 0, 0, 9, &s, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_int_equal(jsonx_get_str(o, "u", 1, 0, 0, 9, &s, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_int_equal(jsonx_get_str(o, "x", 0, 0, 0, 9, &s, "w"),
	    FW_ERR_FIELD_MISSING);
	assert_string_equal(fw_errmsg(), "w: field 'x' missing");
	s = "stale";
	assert_int_equal(jsonx_get_str(o, "x", 1, 0, 0, 9, &s, "w"), FW_OK);
	assert_null(s);
	json_decref(o);
	/* Not an object at all. */
	o = parse("[1]");
	assert_int_equal(jsonx_get_str(o, "x", 1, 0, 0, 9, &s, NULL),
	    FW_ERR_FIELD_TYPE);
	assert_string_equal(fw_errmsg(), "JSON: is an array, expected an object");
	json_decref(o);
}

static void
test_getters_check_str(void **state)
{
	json_t *a = parse("[\"ab\",3]");
	const char *s;

	(void)state;
	assert_int_equal(jsonx_check_str(json_array_get(a, 0), "v[0]", 0, 2, 2,
	    &s, "w"), FW_OK);
	assert_string_equal(s, "ab");
	assert_int_equal(jsonx_check_str(json_array_get(a, 1), "v[1]", 0, 0, 9,
	    &s, "w"), FW_ERR_FIELD_TYPE);
	assert_string_equal(fw_errmsg(),
	    "w: field 'v[1]' is an integer, expected a string");
	assert_int_equal(jsonx_check_str(NULL, "v[2]", 0, 0, 9, &s, "w"),
	    FW_ERR_FIELD_TYPE);
	json_decref(a);
}

static void
test_getters_int(void **state)
{
	json_t *o = parse("{\"i\":5,\"r\":5.0,\"s\":\"5\",\"b\":true,"
	    "\"big\":9223372036854775807,\"neg\":-9223372036854775808}");
	int64_t v = -1;
	int present = -1;

	(void)state;
	assert_int_equal(jsonx_get_int(o, "i", 0, 5, 5, &v, &present, "w"),
	    FW_OK);
	assert_int_equal(v, 5);
	assert_int_equal(present, 1);
	assert_int_equal(jsonx_get_int(o, "i", 0, 6, 9, &v, NULL, "w"),
	    FW_ERR_FIELD_RANGE);
	assert_string_equal(fw_errmsg(), "w: field 'i' is 5, expected 6..9");
	assert_int_equal(jsonx_get_int(o, "i", 0, 0, 4, &v, NULL, "w"),
	    FW_ERR_FIELD_RANGE);
	assert_int_equal(jsonx_get_int(o, "big", 0, INT64_MIN, INT64_MAX, &v,
	    NULL, "w"), FW_OK);
	assert_true(v == INT64_MAX);
	assert_int_equal(jsonx_get_int(o, "big", 0, 0, INT64_MAX - 1, &v,
	    NULL, "w"), FW_ERR_FIELD_RANGE);
	assert_int_equal(jsonx_get_int(o, "neg", 0, INT64_MIN, 0, &v, NULL,
	    "w"), FW_OK);
	assert_true(v == INT64_MIN);
	assert_int_equal(jsonx_get_int(o, "r", 0, 0, 9, &v, NULL, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_string_equal(fw_errmsg(),
	    "w: field 'r' is a real number, expected an integer");
	assert_int_equal(jsonx_get_int(o, "s", 0, 0, 9, &v, NULL, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_int_equal(jsonx_get_int(o, "b", 0, 0, 9, &v, NULL, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_int_equal(jsonx_get_int(o, "x", 0, 0, 9, &v, &present, "w"),
	    FW_ERR_FIELD_MISSING);
	v = 77;
	assert_int_equal(jsonx_get_int(o, "x", 1, 0, 9, &v, &present, "w"),
	    FW_OK);
	assert_int_equal(present, 0);
	assert_int_equal(v, 77);
	json_decref(o);
}

static void
test_getters_array_object(void **state)
{
	json_t *o = parse("{\"a\":[1,2,3],\"e\":[],\"o\":{},\"s\":\"x\"}");
	const json_t *v;

	(void)state;
	assert_int_equal(jsonx_get_array(o, "a", 0, 3, 3, &v, "w"), FW_OK);
	assert_int_equal(json_array_size(v), 3);
	assert_int_equal(jsonx_get_array(o, "a", 0, 0, 2, &v, "w"),
	    FW_ERR_FIELD_LENGTH);
	assert_null(v);
	assert_int_equal(jsonx_get_array(o, "a", 0, 4, 9, &v, "w"),
	    FW_ERR_FIELD_LENGTH);
	assert_int_equal(jsonx_get_array(o, "e", 0, 0, 0, &v, "w"), FW_OK);
	assert_int_equal(jsonx_get_array(o, "e", 0, 1, 9, &v, "w"),
	    FW_ERR_FIELD_LENGTH);
	assert_int_equal(jsonx_get_array(o, "o", 0, 0, 9, &v, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_int_equal(jsonx_get_array(o, "x", 0, 0, 9, &v, "w"),
	    FW_ERR_FIELD_MISSING);
	assert_int_equal(jsonx_get_array(o, "x", 1, 0, 9, &v, "w"), FW_OK);
	assert_null(v);
	assert_int_equal(jsonx_get_object(o, "o", 0, &v, "w"), FW_OK);
	assert_non_null(v);
	assert_int_equal(jsonx_get_object(o, "a", 0, &v, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_int_equal(jsonx_get_object(o, "s", 0, &v, "w"),
	    FW_ERR_FIELD_TYPE);
	assert_int_equal(jsonx_get_object(o, "x", 0, &v, "w"),
	    FW_ERR_FIELD_MISSING);
	json_decref(o);
}

static void
test_check_keys(void **state)
{
	static const char *const allowed[] = {"a", "b", NULL};
	json_t *ok = parse("{\"a\":1,\"b\":2}");
	json_t *bad = parse("{\"a\":1,\"c\\n\\u00e9\":2}");
	json_t *arr = parse("[]");

	(void)state;
	assert_int_equal(jsonx_check_keys(ok, allowed, "w"), FW_OK);
	assert_int_equal(jsonx_check_keys(bad, allowed, "w"),
	    FW_ERR_FIELD_UNKNOWN);
	/* The echoed key is cleaned: no raw newline in a message. */
	assert_string_equal(fw_errmsg(), "w: unknown field 'c?\xc3\xa9'");
	assert_int_equal(jsonx_check_keys(arr, allowed, "w"), FW_ERR_FIELD_TYPE);
	json_decref(ok);
	json_decref(bad);
	json_decref(arr);
}

static void
test_error_body(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(jsonx_error_body(FW_ERR_FIELD_RANGE,
	    "observation 3: field 'seq' is 0, expected \"1..\"", &b), FW_OK);
	assert_string_equal((char *)b.data,
	    "{\"error\":\"field_range\",\"message\":"
	    "\"observation 3: field 'seq' is 0, expected \\\"1..\\\"\"}");
	buf_reset(&b);
	/* Invalid UTF-8 and controls from hostile input are replaced. */
	assert_int_equal(jsonx_error_body(FW_ERR_UTF8, "a\xff\nb\xc3", &b),
	    FW_OK);
	assert_string_equal((char *)b.data,
	    "{\"error\":\"bad_utf8\",\"message\":\"a??b?\"}");
	buf_reset(&b);
	assert_int_equal(jsonx_error_body(FW_ERR_SIGNATURE, NULL, &b), FW_OK);
	assert_string_equal((char *)b.data,
	    "{\"error\":\"bad_signature\",\"message\":"
	    "\"signature does not verify\"}");
	buf_free(&b);
}

static void
test_utf8_valid(void **state)
{
	(void)state;
	assert_true(jsonx_utf8_valid("", 0));
	assert_true(jsonx_utf8_valid(LIT("abc\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80")));
	assert_true(jsonx_utf8_valid(LIT("\xf4\x8f\xbf\xbf")));	/* U+10FFFF */
	assert_true(jsonx_utf8_valid(LIT("\xee\x80\x80")));		/* U+E000 */
	assert_false(jsonx_utf8_valid(LIT("\xf4\x90\x80\x80")));
	assert_false(jsonx_utf8_valid(LIT("\xed\xa0\x80")));
	assert_false(jsonx_utf8_valid(LIT("\xc0\x80")));
	assert_false(jsonx_utf8_valid(LIT("\xe0\x9f\xbf")));
	assert_false(jsonx_utf8_valid(LIT("\xf0\x8f\xbf\xbf")));
	assert_false(jsonx_utf8_valid(LIT("\xc3")));
	assert_false(jsonx_utf8_valid(LIT("\xf5\x80\x80\x80")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_ok),
		cmocka_unit_test(test_load_empty),
		cmocka_unit_test(test_load_duplicate),
		cmocka_unit_test(test_load_bad_utf8),
		cmocka_unit_test(test_load_overflow),
		cmocka_unit_test(test_load_garbage),
		cmocka_unit_test(test_load_nul),
		cmocka_unit_test(test_load_deep),
		cmocka_unit_test(test_load_bounded),
		cmocka_unit_test(test_canon_sorted_compact),
		cmocka_unit_test(test_canon_strings),
		cmocka_unit_test(test_canon_refused),
		cmocka_unit_test(test_canon_limits),
		cmocka_unit_test(test_getters_str),
		cmocka_unit_test(test_getters_check_str),
		cmocka_unit_test(test_getters_int),
		cmocka_unit_test(test_getters_array_object),
		cmocka_unit_test(test_check_keys),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_utf8_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

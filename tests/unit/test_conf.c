/*
 * test_conf.c: the config table: defaults, each type's good and bad
 * values and bounds, unknown and duplicated settings, line numbers in
 * messages, files that leave the settings untouched when refused, and
 * conf_write_defaults read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "file.h"
#include "tmpdir.h"

struct sample {
	char *name;
	int64_t offset;
	char *url;
	int64_t port;
	int verbose;
	uint64_t max_blob;
	int64_t retry;
	char *path;
	uint64_t any_size;
	int64_t any_wait;
};

#define F(x) offsetof(struct sample, x)
static const struct conf_entry table[] = {
	{"", "name", CONF_STR, "fundwatch", 0, 0, F(name), "display name"},
	{"", "offset", CONF_INT, "-5", 0, 0, F(offset), "an unbounded integer"},
	{"server", "url", CONF_STR, "https://localhost:8443", 0, 0, F(url),
	    "where the server listens\nwith a second line of help"},
	{"server", "port", CONF_INT, "8443", 1, 65535, F(port), "TCP port"},
	{"server", "verbose", CONF_BOOL, "no", 0, 0, F(verbose), "log more"},
	{"store", "max_blob", CONF_SIZE, "4G", 1024, INT64_C(1) << 40, F(max_blob),
	    "largest blob"},
	{"store", "retry", CONF_DURATION, "5m", 1, 7 * 86400, F(retry),
	    "wait between retries"},
	{"store", "path", CONF_STR, NULL, 0, 0, F(path), NULL},
	{"limits", "any_size", CONF_SIZE, "0", 0, 0, F(any_size), "unbounded size"},
	{"limits", "any_wait", CONF_DURATION, "0", 0, 0, F(any_wait), "unbounded"},
};
#define NT (sizeof table / sizeof table[0])

struct fixture {
	char dir[TMPDIR_LEN];
	char file[128];
	struct sample s;
};

static int
setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "conf");

	if (f == NULL)
		return -1;
	snprintf(f->file, sizeof f->file, "%s/fw.conf", f->dir);
	if (conf_defaults(table, NT, &f->s) != FW_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	conf_free(table, NT, &f->s);
	tmpdir_fixture_free(f);
	return 0;
}

static fw_err
load_text(struct fixture *f, const char *text)
{
	unlink(f->file);
	assert_int_equal(file_write_durable(f->file, text, strlen(text), 0600), FW_OK);
	return conf_load(table, NT, f->file, &f->s);
}

/* The message of the last error, with the fixture's path cut to "F". */
static const char *
msg_of(const struct fixture *f)
{
	static char out[FW_ERRMSG_MAX];
	const char *m = fw_errmsg();
	size_t n = strlen(f->file);

	if (strncmp(m, f->file, n) == 0)
		snprintf(out, sizeof out, "F%s", m + n);
	else
		snprintf(out, sizeof out, "%s", m);
	return out;
}

static void
assert_defaults(const struct sample *s)
{
	assert_string_equal(s->name, "fundwatch");
	assert_int_equal(s->offset, -5);
	assert_string_equal(s->url, "https://localhost:8443");
	assert_int_equal(s->port, 8443);
	assert_int_equal(s->verbose, 0);
	assert_int_equal(s->max_blob, UINT64_C(4) << 30);
	assert_int_equal(s->retry, 300);
	assert_int_equal(s->any_size, 0);
	assert_int_equal(s->any_wait, 0);
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;

	assert_defaults(&f->s);
	assert_null(f->s.path);
}

static void
test_load_every_type(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f,
	    "; a comment\n"
	    "# another\n"
	    "name = field office\n"
	    "offset = -9223372036854775808\n"
	    "\n"
	    "[server]\n"
	    "url = https://fund.example:443/api\n"
	    "port = 443\n"
	    "verbose = YES\n"
	    "[store]\n"
	    "max_blob = 512M\n"
	    "retry = 2h\n"
	    "path = /var/lib/fundwatch\n"), FW_OK);
	assert_string_equal(f->s.name, "field office");
	assert_int_equal(f->s.offset, INT64_MIN);
	assert_string_equal(f->s.url, "https://fund.example:443/api");
	assert_int_equal(f->s.port, 443);
	assert_int_equal(f->s.verbose, 1);
	assert_int_equal(f->s.max_blob, UINT64_C(512) << 20);
	assert_int_equal(f->s.retry, 7200);
	assert_string_equal(f->s.path, "/var/lib/fundwatch");
}

static void
test_syntax_variants(void **state)
{
	struct fixture *f = *state;

	/* Indented lines are settings, never continuations of the line
	 * before; CRLF, a BOM, inline ';' comments and ':' are fine. */
	assert_int_equal(load_text(f,
	    "\xef\xbb\xbf[server]\r\n"
	    "    url = http://a\r\n"
	    "\tport = 99 ; inline comment\r\n"
	    "  verbose: on\r\n"
	    "[store] ; the store\n"
	    "   # an indented comment\n"
	    "path =\n"), FW_OK);
	assert_string_equal(f->s.url, "http://a");
	assert_int_equal(f->s.port, 99);
	assert_int_equal(f->s.verbose, 1);
	assert_string_equal(f->s.path, "");
	/* A section may be opened twice; its names still may not repeat. */
	assert_int_equal(load_text(f, "[server]\nport=1\n[store]\n[server]\n"
	    "url=x\n"), FW_OK);
	assert_int_equal(f->s.port, 1);
	assert_int_equal(load_text(f, ""), FW_OK);
}

struct bad {
	const char *section, *name, *value, *msg;
};

static void
test_bad_values(void **state)
{
	static const struct bad bad[] = {
		{"server", "port", "0", "setting 'port' in [server]: 0 is out of range, expected 1..65535"},
		{"server", "port", "65536", "out of range, expected 1..65535"},
		{"server", "port", "12a", "'12a' is not an integer, expected 1..65535"},
		{"server", "port", "", "'' is not an integer"},
		{"server", "port", "-", "not an integer"},
		{"server", "port", "+5", "not an integer"},
		{"server", "port", "5 ", "not an integer"},
		{"server", "port", "0x10", "not an integer"},
		{"server", "port", "99999999999999999999", "is out of range"},
		{"", "offset", "9223372036854775808", "'9223372036854775808' is out of range"},
		{"", "offset", "-9223372036854775809", "is out of range"},
		{"", "offset", "--1", "not an integer"},
		{"server", "verbose", "maybe", "'maybe' is not a boolean, expected yes/no, true/false, on/off or 1/0"},
		{"server", "verbose", "", "not a boolean"},
		{"server", "verbose", "2", "not a boolean"},
		{"store", "max_blob", "-1", "'-1' is not a size"},
		{"store", "max_blob", "1T", "not a size"},
		{"store", "max_blob", "1KB", "not a size"},
		{"store", "max_blob", "1.5G", "not a size"},
		{"store", "max_blob", "K", "not a size"},
		{"store", "max_blob", "1023", "'1023' is out of range, expected 1024..1099511627776 bytes"},
		{"store", "max_blob", "1025G", "out of range"},
		{"store", "max_blob", "18446744073709551616", "out of range"},
		{"store", "max_blob", "17179869184G", "out of range"},
		{"limits", "any_size", "9223372036854775808", "expected 0..9223372036854775807 bytes"},
		{"store", "retry", "0", "'0' is out of range, expected 1..604800 seconds"},
		{"store", "retry", "8d", "out of range"},
		{"store", "retry", "5x", "'5x' is not a duration, expected seconds with an optional s, m, h or d suffix"},
		{"store", "retry", "-1", "not a duration"},
		{"store", "retry", "1.5h", "not a duration"},
		{"store", "retry", "5mm", "not a duration"},
		{"store", "retry", "5M", "not a duration"},
		{"limits", "any_wait", "106751991167301d", "out of range"},
	};
	struct fixture *f = *state;
	fw_err e;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e = conf_set(table, NT, &f->s, bad[i].section, bad[i].name, bad[i].value);
		if (e != FW_ERR_CONFIG || strstr(fw_errmsg(), bad[i].msg) == NULL)
			fail_msg("%s.%s = '%s': %s: %s", bad[i].section, bad[i].name,
			    bad[i].value, fw_strerror(e), fw_errmsg());
	}
	/* Nothing was changed by the refusals. */
	assert_defaults(&f->s);
}

struct good {
	const char *name, *value;
	int64_t want;
};

static void
test_good_values(void **state)
{
	static const struct good good[] = {
		{"server.port", "1", 1}, {"server.port", "65535", 65535},
		{"server.port", "00080", 80},
		{"offset", "9223372036854775807", INT64_MAX}, {"offset", "-0", 0},
		{"server.verbose", "yes", 1}, {"server.verbose", "no", 0},
		{"server.verbose", "true", 1}, {"server.verbose", "False", 0},
		{"server.verbose", "on", 1}, {"server.verbose", "OFF", 0},
		{"server.verbose", "1", 1}, {"server.verbose", "0", 0},
		{"store.max_blob", "1024", 1024}, {"store.max_blob", "1k", 1024},
		{"store.max_blob", "1K", 1024}, {"store.max_blob", "3M", 3 << 20},
		{"store.max_blob", "1024G", INT64_C(1) << 40},
		{"limits.any_size", "9223372036854775807", INT64_MAX},
		{"store.retry", "1", 1}, {"store.retry", "30s", 30},
		{"store.retry", "5m", 300}, {"store.retry", "2h", 7200},
		{"store.retry", "7d", 604800},
		{"limits.any_wait", "106751991167300d", INT64_C(106751991167300) * 86400},
	};
	struct fixture *f = *state;
	int64_t got;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		fw_err e = conf_set(table, NT, &f->s, NULL, good[i].name, good[i].value);

		if (e != FW_OK)
			fail_msg("%s = '%s': %s", good[i].name, good[i].value, fw_errmsg());
		if (strcmp(good[i].name, "server.port") == 0)
			got = f->s.port;
		else if (strcmp(good[i].name, "offset") == 0)
			got = f->s.offset;
		else if (strcmp(good[i].name, "server.verbose") == 0)
			got = f->s.verbose;
		else if (strcmp(good[i].name, "store.max_blob") == 0)
			got = (int64_t)f->s.max_blob;
		else if (strcmp(good[i].name, "limits.any_size") == 0)
			got = (int64_t)f->s.any_size;
		else if (strcmp(good[i].name, "limits.any_wait") == 0)
			got = f->s.any_wait;
		else
			got = f->s.retry;
		if (got != good[i].want)
			fail_msg("%s = '%s' gave %lld", good[i].name, good[i].value,
			    (long long)got);
	}
	/* Strings are replaced (the old one freed: ASan checks). */
	assert_int_equal(conf_set(table, NT, &f->s, "server", "url", "a"), FW_OK);
	assert_int_equal(conf_set(table, NT, &f->s, NULL, "server.url", "b"), FW_OK);
	assert_string_equal(f->s.url, "b");
}

static void
test_unknown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "[server]\nport = 1\ncolour = red\n"),
	    FW_ERR_CONFIG);
	assert_string_equal(msg_of(f),
	    "F:3: unknown setting 'colour' in section [server]");
	assert_int_equal(load_text(f, "colour = red\n"), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f),
	    "F:1: unknown setting 'colour' before any [section]");
	assert_int_equal(load_text(f, "# c\n[nosuch]\n"), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f), "F:2: unknown section [nosuch]");
	assert_int_equal(load_text(f, "[server] port = 1\n"), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f), "F:1: unexpected text after [server]");
	/* A name in the wrong section is unknown there. */
	assert_int_equal(load_text(f, "[store]\nport = 1\n"), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f),
	    "F:2: unknown setting 'port' in section [store]");
	assert_int_equal(conf_set(table, NT, &f->s, NULL, "nosuch.port", "1"),
	    FW_ERR_CONFIG);
	assert_string_equal(fw_errmsg(), "unknown setting 'port' in section [nosuch]");
	assert_int_equal(conf_set(table, NT, &f->s, NULL, "port", "1"),
	    FW_ERR_CONFIG);
	assert_int_equal(f->s.port, 8443);
}

static void
test_duplicate(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "[server]\nurl = https://a\n\n"
	    "url = https://b\n"), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f),
	    "F:4: setting 'url' in [server] is set twice, first on line 2");
	assert_int_equal(load_text(f, "[server]\nport = 1\n[store]\n[server]\n"
	    "port = 1\n"), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f),
	    "F:5: setting 'port' in [server] is set twice, first on line 2");
	/* Across loads (a second file over the first) it is an override. */
	assert_int_equal(load_text(f, "[server]\nport = 7\n"), FW_OK);
	assert_int_equal(load_text(f, "[server]\nport = 8\n"), FW_OK);
	assert_int_equal(f->s.port, 8);
}

static void
test_line_numbers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "# 1\n\n; 3\nname = x\n[server]\n"
	    "\n  port = 70000\n"), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f), "F:7: setting 'port' in [server]: 70000 is "
	    "out of range, expected 1..65535");
	assert_int_equal(load_text(f, "[server]\nport = 1\njust words\n"),
	    FW_ERR_CONFIG);
	assert_string_equal(msg_of(f), "F:3: expected 'name = value', '[section]' "
	    "or a comment");
	assert_int_equal(load_text(f, "[server\nport = 1\n"), FW_ERR_CONFIG);
	assert_non_null(strstr(msg_of(f), "F:1: expected"));
	/* A syntax error before a bad value: the first line wins. */
	assert_int_equal(load_text(f, "[server]\nwords\nport = x\n"), FW_ERR_CONFIG);
	assert_non_null(strstr(msg_of(f), "F:2: expected"));
	assert_int_equal(load_text(f, "[server]\nport = x\nwords\n"), FW_ERR_CONFIG);
	assert_non_null(strstr(msg_of(f), "F:2: setting 'port'"));
}

static void
test_refused_file_changes_nothing(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "name = changed\n[server]\nport = 1\n"
	    "url = changed\n[store]\nretry = forever\n"), FW_ERR_CONFIG);
	assert_defaults(&f->s);
	assert_null(f->s.path);
}

static void
test_long_lines(void **state)
{
	struct fixture *f = *state;
	char text[2048], val[512];

	/* A value that fits and one that does not: never split. */
	memset(val, 'v', 190);
	val[190] = '\0';
	snprintf(text, sizeof text, "[server]\nurl = %s\n", val);
	assert_int_equal(load_text(f, text), FW_OK);
	assert_string_equal(f->s.url, val);
	memset(val, 'v', 300);
	val[300] = '\0';
	snprintf(text, sizeof text, "[server]\nurl = %s\nport = 1\n", val);
	assert_int_equal(load_text(f, text), FW_ERR_CONFIG);
	assert_string_equal(msg_of(f), "F:2: line longer than 198 bytes");
	assert_int_equal(f->s.port, 8443);
	/* A comment may be as long as it likes. */
	snprintf(text, sizeof text, "# %s\n;%s\n[server]\nport = 2\n", val, val);
	assert_int_equal(load_text(f, text), FW_OK);
	assert_int_equal(f->s.port, 2);
}

static void
test_mem(void **state)
{
	struct fixture *f = *state;
	static const char nul[] = "[server]\nport = 1\0\nport = 2\n";
	static const char unterminated[] = "[server]\nport = 3";

	assert_int_equal(conf_load_mem(table, NT, "mem", nul, sizeof nul - 1, &f->s),
	    FW_ERR_CONFIG);
	assert_string_equal(fw_errmsg(), "mem:2: NUL byte in the line");
	/* No newline at the end, and no NUL after the data. */
	assert_int_equal(conf_load_mem(table, NT, "mem", unterminated,
	    sizeof unterminated - 1, &f->s), FW_OK);
	assert_int_equal(f->s.port, 3);
	assert_int_equal(conf_load_mem(table, NT, "mem", "", 0, &f->s), FW_OK);
}

static void
test_missing_and_large(void **state)
{
	struct fixture *f = *state;
	char *big;

	assert_int_equal(conf_load(table, NT, "/nonexistent/fw.conf", &f->s),
	    FW_ERR_NOT_FOUND);
	assert_non_null(big = malloc(CONF_FILE_MAX + 1));
	memset(big, '\n', CONF_FILE_MAX + 1);
	assert_int_equal(file_write_durable(f->file, big, CONF_FILE_MAX + 1, 0600),
	    FW_OK);
	assert_int_equal(conf_load(table, NT, f->file, &f->s), FW_ERR_CONFIG);
	assert_non_null(strstr(fw_errmsg(), "larger than"));
	free(big);
}

static void
test_write_defaults(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	uint8_t *data;
	size_t len;

	assert_int_equal(conf_write_defaults(table, NT, f->file,
	    "fundwatch test config\nsecond header line"), FW_OK);
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(file_read_all(f->file, 1 << 16, &data, &len), FW_OK);
	assert_non_null(strstr((char *)data, "# fundwatch test config\n"
	    "# second header line\n\n# display name\nname = fundwatch\n"));
	assert_non_null(strstr((char *)data, "[server]\n# where the server listens\n"
	    "# with a second line of help\nurl = https://localhost:8443\n"));
	assert_non_null(strstr((char *)data, "# TCP port\nport = 8443\n"));
	assert_non_null(strstr((char *)data, "# path =\n"));
	free(data);
	/* Move every setting away from its default, then read it back. */
	assert_int_equal(load_text(f, "name = n\noffset = 3\n[server]\nurl = u\n"
	    "port = 1\nverbose = yes\n[store]\nmax_blob = 2K\nretry = 9\n"
	    "path = p\n[limits]\nany_size = 5\nany_wait = 6\n"), FW_OK);
	assert_int_equal(conf_write_defaults(table, NT, f->file, NULL), FW_OK);
	assert_int_equal(conf_load(table, NT, f->file, &f->s), FW_OK);
	assert_defaults(&f->s);
	assert_string_equal(f->s.path, "p");	/* no default: left alone */
}

static void
test_bad_default(void **state)
{
	static const struct conf_entry broken[] = {
		{"s", "n", CONF_INT, "100", 1, 10, 0, NULL},
	};
	int64_t v;

	(void)state;
	assert_int_equal(conf_defaults(broken, 1, &v), FW_ERR_CONFIG);
	assert_non_null(strstr(fw_errmsg(), "default: setting 'n' in [s]"));
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_load_every_type),
		T(test_syntax_variants),
		T(test_bad_values),
		T(test_good_values),
		T(test_unknown),
		T(test_duplicate),
		T(test_line_numbers),
		T(test_refused_file_changes_nothing),
		T(test_long_lines),
		T(test_mem),
		T(test_missing_and_large),
		T(test_write_defaults),
		cmocka_unit_test(test_bad_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_calendar.c: dates and the working-day calendar (server/calendar.c):
 * day numbers against a naive count, parsing, month arithmetic, the
 * China-local date at the 16:00Z boundary, working days over weekends,
 * the 2024-2025 State Council holiday schedule with its make-up working
 * days, year ends, and the holiday-list file's errors.
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

/* The schedules of 国办发明电〔2023〕7号 (2024) and 〔2024〕12号 (2025),
 * to Spring Festival 2025. */
static const char schedule[] =
    "# 2024\n"
    "2024-01-01                 # 元旦\n"
    "2024-02-10..2024-02-17     # 春节\n"
    "workday 2024-02-04\n"
    "workday 2024-02-18\n"
    "2024-04-04..2024-04-06     # 清明节\n"
    "workday 2024-04-07\n"
    "2024-05-01..2024-05-05     # 劳动节\n"
    "workday 2024-04-28\n"
    "workday 2024-05-11\n"
    "holiday 2024-06-10         # 端午节\n"
    "2024-09-15..2024-09-17     # 中秋节\n"
    "workday 2024-09-14\n"
    "2024-10-01..2024-10-07     # 国庆节\n"
    "workday 2024-09-29\n"
    "workday 2024-10-12\n"
    "# 2025\n"
    "2025-01-01\n"
    "2025-01-28..2025-02-04     # 春节\n"
    "workday 2025-01-26\n"
    "workday 2025-02-08\n";

static struct calendar *cal;

static int
setup(void **state)
{
	(void)state;
	if (calendar_load_mem("schedule", schedule, sizeof schedule - 1,
	    &cal) != FW_OK) {
		fprintf(stderr, "%s\n", fw_errmsg());
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	calendar_free(cal);
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

static void
expect_add(const struct calendar *c, const char *start, int64_t n,
    const char *want)
{
	char got[CAL_DATE_LEN];
	cal_day d = 0;

	assert_int_equal(calendar_add_working_days(c, D(start), n, &d), FW_OK);
	calendar_format(d, got);
	if (strcmp(got, want) != 0)
		fail_msg("%s + %lld working days = %s, expected %s", start,
		    (long long)n, got, want);
}

/* Every day of 1900..2200 against a naive day-by-day count. */
static void
test_day_numbers(void **state)
{
	int y = 1900, m = 1, d = 1, yy, mm, dd;
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31};
	cal_day first = 0, day;

	(void)state;
	assert_int_equal(calendar_day(1970, 1, 1, &day), FW_OK);
	assert_int_equal(day, 0);
	assert_int_equal(calendar_day(1900, 1, 1, &first), FW_OK);
	assert_int_equal(first, -25567);
	for (day = first; y <= 2200; day++) {
		cal_day got = 0;

		calendar_ymd(day, &yy, &mm, &dd);
		if (yy != y || mm != m || dd != d)
			fail_msg("day %lld: %d-%d-%d, expected %d-%d-%d",
			    (long long)day, yy, mm, dd, y, m, d);
		assert_int_equal(calendar_day(y, m, d, &got), FW_OK);
		assert_int_equal(got, day);
		if (++d > (m == 2 && calendar_is_leap(y) ? 29 : mdays[m - 1])) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	assert_int_equal(calendar_weekday(0), 4);		/* Thursday */
	assert_int_equal(calendar_weekday(D("2000-01-01")), 6);
	assert_int_equal(calendar_weekday(D("2024-02-10")), 6);
	assert_int_equal(calendar_weekday(D("2024-02-12")), 1);
	assert_int_equal(calendar_weekday(D("1969-12-28")), 7);
	assert_int_equal(calendar_weekday(D("1900-01-01")), 1);
	assert_true(calendar_is_leap(2000));
	assert_true(calendar_is_leap(2024));
	assert_false(calendar_is_leap(1900));
	assert_false(calendar_is_leap(2100));
	assert_false(calendar_is_leap(2025));
}

static void
test_parse_format(void **state)
{
	static const char *bad[] = {"2024-2-10", "2024-02-30", "2023-02-29",
	    "24-02-10", "2024-02-10x", "", "1899-12-31", "2024/02/10",
	    "2024-13-01", "2024-00-10", "2024-01-00", "+024-01-01",
	    "2024-01-1 ", "10000-01-01"};
	char out[CAL_DATE_LEN];
	cal_day d = 0;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (calendar_parse(bad[i], &d) != FW_ERR_INVALID)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(calendar_parse("2024-02-29", &d), FW_OK);
	assert_string_equal(calendar_format(d, out), "2024-02-29");
	assert_int_equal(calendar_parse("1900-01-01", &d), FW_OK);
	assert_int_equal(calendar_parse("9999-12-31", &d), FW_OK);
	assert_string_equal(calendar_format(d, out), "9999-12-31");
	assert_int_equal(calendar_day(2024, 2, 30, &d), FW_ERR_INVALID);
	assert_int_equal(calendar_day(2024, 0, 1, &d), FW_ERR_INVALID);
}

static void
test_months(void **state)
{
	char out[CAL_DATE_LEN];

	(void)state;
	assert_string_equal(calendar_format(calendar_add_months(D("2024-01-31"),
	    1), out), "2024-02-29");
	assert_string_equal(calendar_format(calendar_add_months(D("2023-01-31"),
	    1), out), "2023-02-28");
	assert_string_equal(calendar_format(calendar_add_months(D("2024-03-31"),
	    -1), out), "2024-02-29");
	assert_string_equal(calendar_format(calendar_add_months(D("2024-12-15"),
	    1), out), "2025-01-15");
	assert_string_equal(calendar_format(calendar_add_months(D("2025-01-15"),
	    -1), out), "2024-12-15");
	assert_string_equal(calendar_format(calendar_add_months(D("2024-05-31"),
	    -27), out), "2022-02-28");
	assert_string_equal(calendar_format(calendar_add_years(D("2024-02-29"),
	    1), out), "2025-02-28");
	assert_string_equal(calendar_format(calendar_add_years(D("2024-02-29"),
	    4), out), "2028-02-29");
	assert_string_equal(calendar_format(calendar_add_years(D("2096-02-29"),
	    4), out), "2100-02-28");
	assert_string_equal(calendar_format(calendar_add_years(D("2000-02-29"),
	    -100), out), "1900-02-28");
}

/* Asia/Shanghai is UTC+8: the day turns at 16:00:00Z. */
static void
test_china_day(void **state)
{
	int64_t t = D("2024-02-09") * 86400 + 15 * 3600 + 59 * 60 + 59;

	(void)state;
	assert_int_equal(calendar_china_day(t), D("2024-02-09"));
	assert_int_equal(calendar_china_day(t + 1), D("2024-02-10"));
	t = D("2024-12-31") * 86400 + 16 * 3600;
	assert_int_equal(calendar_china_day(t - 1), D("2024-12-31"));
	assert_int_equal(calendar_china_day(t), D("2025-01-01"));
	assert_int_equal(calendar_china_day(1706889599), D("2024-02-02"));
	assert_int_equal(calendar_china_day(1706889600), D("2024-02-03"));
	assert_int_equal(calendar_china_day(0), 0);
	assert_int_equal(calendar_china_day(-8 * 3600), 0);
	assert_int_equal(calendar_china_day(-8 * 3600 - 1), -1);
	assert_int_equal(calendar_china_day(-86400 * 2 - 8 * 3600), -2);
	assert_int_equal(calendar_china_day(-86400 * 2 - 8 * 3600 - 1), -3);
	/* 2038 and beyond: no 32-bit time_t anywhere. */
	assert_int_equal(calendar_china_day(INT64_C(2147483648)),
	    D("2038-01-19"));
}

static void
test_weekends(void **state)
{
	struct calendar *w = NULL;

	(void)state;
	assert_int_equal(calendar_new(&w), FW_OK);
	expect_add(w, "2025-06-13", 1, "2025-06-16");	/* Fri -> Mon */
	expect_add(w, "2025-06-14", 0, "2025-06-14");
	expect_add(w, "2025-06-14", 1, "2025-06-16");	/* Sat -> Mon */
	expect_add(w, "2025-06-15", 1, "2025-06-16");
	expect_add(w, "2025-06-16", 5, "2025-06-23");
	expect_add(w, "2025-06-13", 20, "2025-07-11");
	expect_add(NULL, "2025-06-13", 20, "2025-07-11");
	assert_false(calendar_is_working_day(w, D("2025-06-14")));
	assert_true(calendar_is_working_day(w, D("2025-06-16")));
	assert_int_equal(calendar_working_days_between(w, D("2025-06-13"),
	    D("2025-06-20")), 5);
	assert_int_equal(calendar_working_days_between(w, D("2025-06-20"),
	    D("2025-06-13")), -5);
	assert_int_equal(calendar_working_days_between(w, D("2025-06-13"),
	    D("2025-06-13")), 0);
	assert_int_equal(calendar_working_days_between(w, D("2025-06-13"),
	    D("2025-06-15")), 0);
	calendar_free(w);
	calendar_free(NULL);
}

static void
test_schedule(void **state)
{
	(void)state;
	/* Spring Festival 2024: 10-17 Feb off, Sundays 4 and 18 worked. */
	assert_true(calendar_is_working_day(cal, D("2024-02-04")));
	assert_true(calendar_is_working_day(cal, D("2024-02-09")));
	assert_false(calendar_is_working_day(cal, D("2024-02-10")));
	assert_false(calendar_is_working_day(cal, D("2024-02-12")));
	assert_false(calendar_is_working_day(cal, D("2024-02-16")));
	assert_false(calendar_is_working_day(cal, D("2024-02-17")));
	assert_true(calendar_is_working_day(cal, D("2024-02-18")));
	assert_true(calendar_is_working_day(cal, D("2024-02-19")));
	assert_false(calendar_is_working_day(cal, D("2024-02-24")));
	/* 20 working days from a day inside the festival: 18 Feb (Sun) is
	 * the first, 14 Mar the 20th. */
	expect_add(cal, "2024-02-12", 20, "2024-03-14");
	expect_add(cal, "2024-02-12", 1, "2024-02-18");
	expect_add(cal, "2024-02-08", 1, "2024-02-09");
	expect_add(cal, "2024-02-08", 2, "2024-02-18");
	expect_add(cal, "2024-02-03", 1, "2024-02-04");
	/* Labour Day 2024: 28 Apr (Sun) and 11 May (Sat) worked. */
	expect_add(cal, "2024-04-26", 1, "2024-04-28");
	expect_add(cal, "2024-04-28", 2, "2024-04-30");
	expect_add(cal, "2024-04-28", 3, "2024-05-06");
	expect_add(cal, "2024-05-10", 1, "2024-05-11");
	/* National Day 2024. */
	expect_add(cal, "2024-09-27", 1, "2024-09-29");
	expect_add(cal, "2024-09-29", 2, "2024-10-08");
	expect_add(cal, "2024-10-11", 1, "2024-10-12");
	expect_add(cal, "2024-10-12", 1, "2024-10-14");
	/* Across the year end: 1 Jan 2025 is a holiday. */
	expect_add(cal, "2024-12-31", 1, "2025-01-02");
	expect_add(cal, "2024-12-27", 3, "2025-01-02");
	expect_add(cal, "2024-12-20", 10, "2025-01-06");
	assert_int_equal(calendar_working_days_between(cal, D("2024-12-27"),
	    D("2025-01-03")), 4);
	/* Spring Festival 2025: 28 Jan - 4 Feb, 26 Jan and 8 Feb worked. */
	expect_add(cal, "2025-01-24", 1, "2025-01-26");
	expect_add(cal, "2025-01-24", 2, "2025-01-27");
	expect_add(cal, "2025-01-24", 3, "2025-02-05");
	expect_add(cal, "2025-02-07", 1, "2025-02-08");
	expect_add(cal, "2025-01-27", 20, "2025-03-03");
}

/* calendar_working_days_between agrees with a day-by-day count and with
 * calendar_add_working_days. */
static void
test_between(void **state)
{
	cal_day a0 = D("2023-12-20"), b0 = D("2025-02-20");

	(void)state;
	for (cal_day a = a0; a < b0; a += 3) {
		int64_t n = 0;

		for (cal_day b = a; b < b0; b += 11) {
			int64_t got = calendar_working_days_between(cal, a, b);

			if (got != n)
				fail_msg("between %lld and %lld: %lld, expected "
				    "%lld", (long long)a, (long long)b,
				    (long long)got, (long long)n);
			assert_int_equal(calendar_working_days_between(cal, b, a),
			    -n);
			for (cal_day d = b + 1; d <= b + 11; d++)
				n += calendar_is_working_day(cal, d);
		}
	}
	for (int64_t n = 0; n <= 300; n += 7) {
		cal_day end = 0, start = D("2024-01-26");

		assert_int_equal(calendar_add_working_days(cal, start, n, &end),
		    FW_OK);
		assert_int_equal(calendar_working_days_between(cal, start, end),
		    n);
		if (n > 0)
			assert_true(calendar_is_working_day(cal, end));
	}
}

static void
test_add_limits(void **state)
{
	static const char year_off[] = "2030-01-01..2030-12-31\n";
	struct calendar *c = NULL;
	cal_day d = 0;

	(void)state;
	assert_int_equal(calendar_add_working_days(cal, D("2024-01-01"), -1, &d),
	    FW_ERR_INVALID);
	assert_int_equal(calendar_add_working_days(cal, D("2024-01-01"),
	    CALENDAR_MAX_ADD + 1, &d), FW_ERR_INVALID);
	assert_int_equal(calendar_add_working_days(cal, D("2024-01-01"),
	    CALENDAR_MAX_ADD, &d), FW_OK);
	assert_true(d > D("2060-01-01"));
	/* A whole year off: the count goes on into the next. */
	assert_int_equal(calendar_load_mem("y", year_off, sizeof year_off - 1,
	    &c), FW_OK);
	expect_add(c, "2029-12-31", 1, "2031-01-01");
	expect_add(c, "2029-12-28", 2, "2031-01-01");
	assert_int_equal(calendar_working_days_between(c, D("2029-12-31"),
	    D("2031-01-01")), 1);
	calendar_free(c);
}

static void
test_file_syntax(void **state)
{
	static const char text[] = "\xef\xbb\xbf# holidays\r\n"
	    "\r\n"
	    "   2026-01-01   \r\n"
	    "holiday\t2026-01-02 # 调休\r\n"
	    "workday 2026-01-04\r\n"
	    "holiday 2026-02-15..2026-02-16";
	char dir[] = "/tmp/fwcalXXXXXX", path[PATH_MAX];
	struct calendar *c = NULL;
	FILE *f;

	(void)state;
	assert_int_equal(calendar_load_mem("t", text, sizeof text - 1, &c), FW_OK);
	assert_false(calendar_is_working_day(c, D("2026-01-01")));
	assert_false(calendar_is_working_day(c, D("2026-01-02")));
	assert_true(calendar_is_working_day(c, D("2026-01-04")));
	assert_false(calendar_is_working_day(c, D("2026-02-16")));
	assert_true(calendar_is_working_day(c, D("2026-02-17")));
	calendar_free(c);
	/* From a file. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/holidays.txt", dir);
	assert_int_equal(calendar_load(path, &c), FW_ERR_NOT_FOUND);
	assert_non_null(f = fopen(path, "w"));
	fputs(schedule, f);
	fclose(f);
	assert_int_equal(calendar_load(path, &c), FW_OK);
	expect_add(c, "2024-02-12", 20, "2024-03-14");
	calendar_free(c);
	/* Empty is fine: weekends only. */
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(calendar_load(path, &c), FW_OK);
	expect_add(c, "2024-02-12", 20, "2024-03-11");
	calendar_free(c);
	unlink(path);
	rmdir(dir);
}

static void
test_file_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{"2024-01-01\n2024-01-01\n", "f:2: 2024-01-01 is listed twice, "
		    "first on line 1"},
		{"2024-02-10..2024-02-17\n# x\n2024-02-12\n", "f:3: 2024-02-12 "
		    "is listed twice, first on line 1"},
		{"workday 2024-02-04\n2024-02-04\n", "f:2: 2024-02-04 is listed "
		    "twice"},
		{"\nworkday 2024-02-05\n", "f:2: workday 2024-02-05 is a weekday"},
		{"2024-02-30\n", "f:1: 2024-02 has no day 30"},
		{"2024-2-3\n", "f:1: '2024-2-3' is not an entry"},
		{"24-02-2024\n", "f:1: '24-02-2024' is not a date"},
		{"next monday\n", "f:1: 'next monday' is not an entry"},
		{"2024-02-17..2024-02-10\n", "f:1: range '2024-02-17..2024-02-10' "
		    "runs backwards"},
		{"2024-01-01..2025-01-01\n", "f:1: range"},
		{"2024-01-01..\n", "f:1: '' is not a date"},
		{"workday 2024-02-03..2024-02-04\n", "f:1: '2024-02-03..2024-02-04' "
		    "is not an entry"},
		{"holiday\n", "f:1: 'holiday' is not an entry"},
		{"2024-01-01\n2024-01-02\0\n", "f:2: NUL byte"},
	};
	struct calendar *c = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = strlen(cases[i].text);

		if (i == sizeof cases / sizeof cases[0] - 1)
			len = 23;	/* through the NUL and its newline */
		c = NULL;
		if (calendar_load_mem("f", cases[i].text, len, &c) !=
		    FW_ERR_CONFIG)
			fail_msg("case %zu accepted", i);
		assert_null(c);
		if (strncmp(fw_errmsg(), cases[i].want,
		    strlen(cases[i].want)) != 0)
			fail_msg("case %zu: '%s', expected '%s'", i, fw_errmsg(),
			    cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_day_numbers),
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_months),
		cmocka_unit_test(test_china_day),
		cmocka_unit_test(test_weekends),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_between),
		cmocka_unit_test(test_add_limits),
		cmocka_unit_test(test_file_syntax),
		cmocka_unit_test(test_file_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

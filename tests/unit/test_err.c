/*
 * test_err.c: the error table (distinct wire names, HTTP statuses, name
 * round trip) and the per-thread detail messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"

static void
test_names_distinct(void **state)
{
	(void)state;
	for (int i = 0; i < FW_ERR_COUNT_; i++) {
		const char *a = fw_strerror((fw_err)i);

		assert_non_null(a);
		assert_true(strlen(a) > 0);
		assert_true(strlen(fw_errdesc((fw_err)i)) > 0);
		for (int j = i + 1; j < FW_ERR_COUNT_; j++)
			if (strcmp(a, fw_strerror((fw_err)j)) == 0)
				fail_msg("codes %d and %d share the name %s", i, j, a);
	}
}

static void
test_statuses(void **state)
{
	(void)state;
	assert_int_equal(fw_err_http_status(FW_OK), 200);
	for (int i = 1; i < FW_ERR_COUNT_; i++) {
		int s = fw_err_http_status((fw_err)i);

		if (s < 400 || s > 599)
			fail_msg("%s has status %d", fw_strerror((fw_err)i), s);
	}
	assert_int_equal(fw_err_http_status(FW_ERR_SIGNATURE), 401);
	assert_int_equal(fw_err_http_status(FW_ERR_INFLATE_LIMIT), 413);
	assert_int_equal(fw_err_http_status(FW_ERR_NOSPACE), 507);
}

static void
test_name_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < FW_ERR_COUNT_; i++)
		assert_int_equal(fw_err_from_name(fw_strerror((fw_err)i)), i);
	assert_int_equal(fw_err_from_name("no_such_error"), FW_ERR_INTERNAL);
	assert_int_equal(fw_err_from_name(""), FW_ERR_INTERNAL);
	assert_int_equal(fw_err_from_name(NULL), FW_ERR_INTERNAL);
	assert_string_equal(fw_strerror(FW_ERR_COUNT_), "unknown");
	assert_string_equal(fw_strerror((fw_err)-1), "unknown");
	assert_int_equal(fw_err_http_status(FW_ERR_COUNT_), 500);
	assert_string_equal(fw_strerror(FW_ERR_SIGNATURE), "bad_signature");
}

static void
test_seterr(void **state)
{
	(void)state;
	fw_errclear();
	assert_string_equal(fw_errmsg(), fw_errdesc(FW_OK));
	assert_int_equal(fw_seterr(FW_ERR_FIELD_RANGE, "'seq' is %d, expected >= %d",
	    0, 1), FW_ERR_FIELD_RANGE);
	assert_string_equal(fw_errmsg(), "'seq' is 0, expected >= 1");
	fw_errclear();
	assert_string_equal(fw_errmsg(), "success");
}

static void
test_errctx(void **state)
{
	(void)state;
	fw_seterr(FW_ERR_JSON, "line %d: bad token", 3);
	assert_int_equal(fw_errctx(FW_ERR_JSON, "manifest %s", "m1"), FW_ERR_JSON);
	assert_string_equal(fw_errmsg(), "manifest m1: line 3: bad token");
	/* A different code: the old message belongs to another error, so
	 * the description of the new code is what gets the prefix. */
	fw_errctx(FW_ERR_KEY, "device.key");
	assert_string_equal(fw_errmsg(), "device.key: malformed or wrong-type key");
	fw_errclear();
	fw_errctx(FW_ERR_IO, "x");
	assert_string_equal(fw_errmsg(), "x: input/output error");
}

static void
test_truncation(void **state)
{
	char big[3 * FW_ERRMSG_MAX];

	(void)state;
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	fw_seterr(FW_ERR_INVALID, "%s", big);
	assert_int_equal(strlen(fw_errmsg()), FW_ERRMSG_MAX - 1);
	fw_errctx(FW_ERR_INVALID, "prefix");
	assert_int_equal(strlen(fw_errmsg()), FW_ERRMSG_MAX - 1);
	assert_memory_equal(fw_errmsg(), "prefix: aaa", 11);
	fw_errctx(FW_ERR_INVALID, "%s", big);
	assert_int_equal(strlen(fw_errmsg()), FW_ERRMSG_MAX - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_distinct),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_name_round_trip),
		cmocka_unit_test(test_seterr),
		cmocka_unit_test(test_errctx),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

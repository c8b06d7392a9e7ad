/*
 * test_buf.c: capped buffers: the cap holds and a refused append changes
 * nothing; printf, reserve/commit and take.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

static void
test_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_add(&b, "0123456", 7), FW_OK);
	assert_int_equal(buf_add(&b, "abcd", 4), FW_ERR_LIMIT);
	assert_int_equal(b.len, 7);
	assert_string_equal((char *)b.data, "0123456");
	assert_int_equal(buf_add(&b, "abc", 3), FW_OK);
	assert_int_equal(b.len, 10);
	assert_string_equal((char *)b.data, "0123456abc");
	assert_int_equal(buf_add(&b, "x", 1), FW_ERR_LIMIT);
	assert_int_equal(buf_add(&b, "", 0), FW_OK);
	assert_int_equal(buf_add(&b, "x", SIZE_MAX), FW_ERR_LIMIT);
	assert_string_equal((char *)b.data, "0123456abc");
	/* Growth never allocates past the cap (plus the NUL). */
	assert_true(b.alloc <= b.cap + 1);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 10);
}

static void
test_zero_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(buf_add(&b, "", 0), FW_OK);
	assert_int_equal(buf_add(&b, "a", 1), FW_ERR_LIMIT);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void
test_growth(void **state)
{
	struct buf b;
	uint8_t chunk[1000];

	(void)state;
	memset(chunk, 'z', sizeof chunk);
	buf_init(&b, 100000);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_add(&b, chunk, sizeof chunk), FW_OK);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[b.len], 0);
	assert_true(b.alloc <= b.cap + 1);
	assert_int_equal(buf_add(&b, chunk, 1), FW_ERR_LIMIT);
	buf_free(&b);
}

static void
test_printf(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "ab"), FW_OK);
	assert_int_equal(buf_addstr(&b, "!"), FW_OK);
	assert_string_equal((char *)b.data, "42-ab!");
	assert_int_equal(buf_printf(&b, "%s", "0123456789abc"), FW_ERR_LIMIT);
	assert_string_equal((char *)b.data, "42-ab!");
	assert_int_equal(b.len, 6);
	assert_int_equal(buf_printf(&b, "%s", "0123456789"), FW_OK);
	assert_int_equal(b.len, 16);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal((char *)b.data, "");
	assert_int_equal(buf_printf(&b, "%s", ""), FW_OK);
	buf_free(&b);
}

static void
test_reserve_commit(void **state)
{
	struct buf b;
	uint8_t *p;

	(void)state;
	buf_init(&b, 8);
	assert_non_null(p = buf_reserve(&b, 5));
	memcpy(p, "hello", 5);
	buf_commit(&b, 3);	/* only part of the room is used */
	assert_int_equal(b.len, 3);
	assert_string_equal((char *)b.data, "hel");
	assert_null(buf_reserve(&b, 6));
	assert_non_null(strstr(fw_errmsg(), "cap of 8"));
	assert_non_null(p = buf_reserve(&b, 5));
	memcpy(p, "lo!!!", 5);
	buf_commit(&b, 5);
	assert_string_equal((char *)b.data, "hello!!!");
	buf_free(&b);
}

static void
test_take(void **state)
{
	struct buf b;
	uint8_t *p;
	size_t len = 99;

	(void)state;
	buf_init(&b, 64);
	assert_null(buf_take(&b, &len));
	assert_int_equal(len, 0);
	assert_int_equal(buf_addstr(&b, "kept"), FW_OK);
	p = buf_take(&b, &len);
	assert_int_equal(len, 4);
	assert_string_equal((char *)p, "kept");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 64);
	/* The buffer is usable again and owns new memory. */
	assert_int_equal(buf_addstr(&b, "again"), FW_OK);
	assert_string_equal((char *)b.data, "again");
	assert_string_equal((char *)p, "kept");
	free(p);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_zero_cap),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_take),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

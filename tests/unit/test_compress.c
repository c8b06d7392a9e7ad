/*
 * test_compress.c: deflate/inflate round trips, and inflate's answers to
 * hostile input: corrupt, truncated at every length, trailing bytes, a
 * 1 GiB bomb (refused at the cap without allocating past it) and a ratio
 * past the limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>
#include <cmocka.h>

#include "compress.h"
#include "fw.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define MIB	(1u << 20)
#define BIG	(64u * MIB)	/* a cap that never matters */

/* Deterministic bytes that do not compress (xorshift64). */
static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 32);
	}
}

/* Text-like bytes that compress, so that a stream has several blocks. */
static void
fill_text(uint8_t *p, size_t n)
{
	static const char *words[] = {"pharmacy ", "visit ", "clue ", "fund ",
	    "receipt ", "evidence ", "hospital ", "supervisor "};
	uint64_t x = 7;
	size_t i = 0;

	while (i < n) {
		const char *w;

		x = x * 6364136223846793005u + 1442695040888963407u;
		w = words[(x >> 33) % 8];
		for (size_t j = 0; w[j] != '\0' && i < n; j++)
			p[i++] = (uint8_t)w[j];
	}
}

static void
round_trip(const uint8_t *in, size_t n, unsigned ratio)
{
	struct buf z, out;

	buf_init(&z, BIG);
	buf_init(&out, BIG);
	assert_int_equal(compress_deflate(in, n, &z), FW_OK);
	assert_true(z.len > 0);
	assert_int_equal(compress_inflate(z.data, z.len, n, ratio, &out), FW_OK);
	assert_int_equal(out.len, n);
	if (n > 0)
		assert_memory_equal(out.data, in, n);
	/* One byte less of cap is refused. */
	if (n > 0) {
		buf_reset(&out);
		assert_int_equal(compress_inflate(z.data, z.len, n - 1, ratio, &out),
		    FW_ERR_INFLATE_LIMIT);
		assert_int_equal(out.len, 0);
	}
	buf_free(&z);
	buf_free(&out);
}

static void
test_round_trips(void **state)
{
	uint8_t *p;

	(void)state;
	round_trip((const uint8_t *)"", 0, FW_MAX_INFLATE_RATIO);
	round_trip((const uint8_t *)"x", 1, FW_MAX_INFLATE_RATIO);
	assert_non_null(p = malloc(MIB));
	fill_random(p, MIB, 42);
	round_trip(p, MIB, FW_MAX_INFLATE_RATIO);
	fill_text(p, MIB);
	round_trip(p, MIB, FW_MAX_INFLATE_RATIO);
	/* Zeros compress about 1000:1, so they need a higher limit. */
	memset(p, 0, MIB);
	round_trip(p, MIB, 2000);
	round_trip(p, MIB, 0);
	free(p);
}

static void
test_zlib_format(void **state)
{
	struct buf z;

	(void)state;
	buf_init(&z, 100);
	assert_int_equal(compress_deflate("abc", 3, &z), FW_OK);
	/* zlib header: deflate, 32 KiB window, level 9 (FLEVEL 3). */
	assert_int_equal(z.data[0], 0x78);
	assert_int_equal(z.data[1], 0xda);
	buf_free(&z);
}

static void
test_appends(void **state)
{
	struct buf z, out;

	(void)state;
	buf_init(&z, 100);
	buf_init(&out, 100);
	assert_int_equal(buf_addstr(&z, "head"), FW_OK);
	assert_int_equal(compress_deflate("body", 4, &z), FW_OK);
	assert_int_equal(buf_addstr(&out, "pre:"), FW_OK);
	assert_int_equal(compress_inflate(z.data + 4, z.len - 4, 10, 100, &out),
	    FW_OK);
	assert_string_equal((char *)out.data, "pre:body");
	/* A failure puts the buffer back as it was. */
	assert_int_equal(compress_inflate(z.data, z.len, 10, 100, &out),
	    FW_ERR_INFLATE);
	assert_string_equal((char *)out.data, "pre:body");
	assert_int_equal(out.len, 8);
	buf_free(&z);
	buf_free(&out);
}

static void
test_deflate_cap(void **state)
{
	struct buf z;
	uint8_t *p;

	(void)state;
	assert_non_null(p = malloc(100000));
	fill_random(p, 100000, 1);
	buf_init(&z, 50000);
	assert_int_equal(buf_addstr(&z, "keep"), FW_OK);
	assert_int_equal(compress_deflate(p, 100000, &z), FW_ERR_LIMIT);
	assert_non_null(strstr(fw_errmsg(), "cap of 50000"));
	assert_int_equal(z.len, 4);
	assert_string_equal((char *)z.data, "keep");
	buf_free(&z);
	free(p);
}

static void
test_empty(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 100);
	assert_int_equal(compress_inflate("", 0, 100, 100, &out), FW_ERR_EMPTY);
	assert_int_equal(compress_inflate(NULL, 0, 100, 100, &out), FW_ERR_EMPTY);
	buf_free(&out);
}

/* A compressed text of about 8 KiB and its length. */
static uint8_t *
make_stream(size_t *zlen, uint8_t **plain, size_t plainlen)
{
	struct buf z;

	*plain = malloc(plainlen);
	assert_non_null(*plain);
	fill_text(*plain, plainlen);
	buf_init(&z, BIG);
	assert_int_equal(compress_deflate(*plain, plainlen, &z), FW_OK);
	return buf_take(&z, zlen);
}

static void
test_corrupt(void **state)
{
	struct buf out;
	uint8_t *z, *plain;
	size_t zlen;
	fw_err e;
	int refused = 0;

	(void)state;
	z = make_stream(&zlen, &plain, 8192);
	buf_init(&out, BIG);
	/* The header, the checksum, and a byte in the middle. */
	z[0] ^= 0x01;
	assert_int_equal(compress_inflate(z, zlen, BIG, 100, &out), FW_ERR_INFLATE);
	assert_non_null(strstr(fw_errmsg(), "incorrect header check"));
	z[0] ^= 0x01;
	z[zlen - 1] ^= 0x80;
	assert_int_equal(compress_inflate(z, zlen, BIG, 100, &out), FW_ERR_INFLATE);
	assert_non_null(strstr(fw_errmsg(), "incorrect data check"));
	z[zlen - 1] ^= 0x80;
	z[zlen / 2] ^= 0xff;
	assert_int_equal(compress_inflate(z, zlen, BIG, 100, &out), FW_ERR_INFLATE);
	z[zlen / 2] ^= 0xff;
	assert_int_equal(compress_inflate(z, zlen, BIG, 100, &out), FW_OK);
	/* Every single-byte change: never a crash, and almost always
	 * refused (padding bits of the last block are not checked). */
	for (size_t i = 0; i < zlen; i++) {
		z[i] ^= 0x55;
		buf_reset(&out);
		e = compress_inflate(z, zlen, BIG, 100, &out);
		if (e == FW_OK)
			assert_memory_equal(out.data, plain, 8192);
		else
			refused++;
		z[i] ^= 0x55;
	}
	assert_true(refused >= (int)zlen - 2);
	buf_free(&out);
	free(z);
	free(plain);
}

static void
test_truncated(void **state)
{
	struct buf out;
	uint8_t *z, *plain;
	size_t zlen;
	fw_err e;

	(void)state;
	z = make_stream(&zlen, &plain, 8192);
	buf_init(&out, BIG);
	for (size_t n = 1; n < zlen; n++) {
		buf_reset(&out);
		e = compress_inflate(z, n, BIG, 100, &out);
		if (e != FW_ERR_TRUNCATED && e != FW_ERR_INFLATE)
			fail_msg("truncated at %zu of %zu: %s", n, zlen, fw_strerror(e));
		assert_int_equal(out.len, 0);
	}
	e = compress_inflate(z, zlen - 1, BIG, 100, &out);
	assert_int_equal(e, FW_ERR_TRUNCATED);
	assert_non_null(strstr(fw_errmsg(), "before the end of the stream"));
	buf_free(&out);
	free(z);
	free(plain);
}

static void
test_trailing(void **state)
{
	struct buf z, out;
	size_t one;

	(void)state;
	buf_init(&z, 1000);
	buf_init(&out, 1000);
	assert_int_equal(compress_deflate("payload", 7, &z), FW_OK);
	one = z.len;
	assert_int_equal(buf_add(&z, "x", 1), FW_OK);
	assert_int_equal(compress_inflate(z.data, z.len, 100, 100, &out),
	    FW_ERR_INVALID);
	assert_non_null(strstr(fw_errmsg(), "1 bytes after the end"));
	assert_int_equal(out.len, 0);
	/* A second whole stream after the first. */
	z.len = one;
	assert_int_equal(compress_deflate("again", 5, &z), FW_OK);
	assert_int_equal(compress_inflate(z.data, z.len, 100, 100, &out),
	    FW_ERR_INVALID);
	buf_free(&z);
	buf_free(&out);
}

static void
test_other_formats(void **state)
{
	/* gzip and raw deflate of "hi": not the zlib format. */
	static const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x03, 0xcb, 0xc8, 0x04, 0x00, 0xac, 0x2a, 0x93, 0xd8,
	    0x02, 0x00, 0x00, 0x00};
	static const uint8_t raw[] = {0xcb, 0xc8, 0x04, 0x00};
	struct buf out;

	(void)state;
	buf_init(&out, 100);
	assert_int_equal(compress_inflate(gz, sizeof gz, 100, 100, &out),
	    FW_ERR_INFLATE);
	assert_int_equal(compress_inflate(raw, sizeof raw, 100, 100, &out),
	    FW_ERR_INFLATE);
	buf_free(&out);
}

static void
test_dictionary(void **state)
{
	uint8_t z[256];
	z_stream zs;
	struct buf out;

	(void)state;
	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit(&zs, 9), Z_OK);
	assert_int_equal(deflateSetDictionary(&zs, (const Bytef *)"dict", 4), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)"dictdict";
	zs.avail_in = 8;
	zs.next_out = z;
	zs.avail_out = sizeof z;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	buf_init(&out, 100);
	assert_int_equal(compress_inflate(z, zs.total_out, 100, 100, &out),
	    FW_ERR_INFLATE);
	assert_non_null(strstr(fw_errmsg(), "dictionary"));
	deflateEnd(&zs);
	buf_free(&out);
}

/* The zlib stream of `total` zero bytes, made by streaming deflate over one
 * small zero buffer: about 1 MiB for 1 GiB. */
static uint8_t *
make_bomb(uint64_t total, size_t *len)
{
	static const uint8_t zeros[64 << 10];
	struct buf z;
	uint8_t out[64 << 10];
	z_stream zs;
	uint64_t left = total;
	int flush, ret;

	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit(&zs, 9), Z_OK);
	buf_init(&z, 16 * MIB);
	do {
		size_t chunk = left < sizeof zeros ? (size_t)left : sizeof zeros;

		zs.next_in = (Bytef *)(uintptr_t)zeros;
		zs.avail_in = (uInt)chunk;
		left -= chunk;
		flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			zs.next_out = out;
			zs.avail_out = sizeof out;
			ret = deflate(&zs, flush);
			assert_true(ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR);
			assert_int_equal(buf_add(&z, out, sizeof out - zs.avail_out), FW_OK);
		} while (zs.avail_out == 0);
	} while (left > 0);
	assert_int_equal(ret, Z_STREAM_END);
	deflateEnd(&zs);
	return buf_take(&z, len);
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* Runs first, so that the peak RSS before it is not an earlier test's. */
static void
test_bomb(void **state)
{
	struct buf out;
	uint8_t *z;
	size_t zlen, cap = 8 * MIB;
	long before, after;

	(void)state;
	z = make_bomb(UINT64_C(1) << 30, &zlen);
	assert_true(zlen < 2 * MIB);
	buf_init(&out, SIZE_MAX / 2);	/* only the inflate cap holds it */
	before = maxrss_kib();
	assert_int_equal(compress_inflate(z, zlen, cap, UINT32_MAX, &out),
	    FW_ERR_INFLATE_LIMIT);
	after = maxrss_kib();
	assert_string_equal(fw_errmsg(), "inflate: output passed the cap of 8388608 bytes");
	assert_int_equal(out.len, 0);
	assert_true(out.alloc <= cap + 1);
#ifdef UNDER_ASAN
	printf("note: RSS bound not checked under AddressSanitizer (its shadow "
	    "memory and quarantine inflate RSS); %ld KiB growth\n", after - before);
#else
	printf("bomb: %zu bytes for 1 GiB; peak RSS grew %ld KiB\n", zlen,
	    after - before);
	if (getenv("FW_EMULATED") != NULL && *getenv("FW_EMULATED") != '\0')
		printf("note: RSS bound not checked under %s (it counts its own "
		    "memory in the process's RSS)\n", getenv("FW_EMULATED"));
	else if (after - before >= (long)(cap + 4 * MIB) / 1024)
		fail_msg("peak RSS grew by %ld KiB inflating a bomb with a cap of "
		    "%zu bytes", after - before, cap);
#endif
	/* With the protocol's ratio limit it stops far earlier. */
	assert_int_equal(compress_inflate(z, zlen, cap, FW_MAX_INFLATE_RATIO, &out),
	    FW_ERR_INFLATE_LIMIT);
	assert_non_null(strstr(fw_errmsg(), "ratio limit of 100"));
	buf_free(&out);
	free(z);
}

static void
test_ratio(void **state)
{
	struct buf z, out;
	uint8_t *p;

	(void)state;
	assert_non_null(p = calloc(1, MIB));
	buf_init(&z, BIG);
	buf_init(&out, BIG);
	assert_int_equal(compress_deflate(p, MIB, &z), FW_OK);
	assert_int_equal(compress_inflate(z.data, z.len, 8 * MIB, 100, &out),
	    FW_ERR_INFLATE_LIMIT);
	assert_non_null(strstr(fw_errmsg(), "passes the ratio limit of 100"));
	assert_int_equal(out.len, 0);
	/* The first FW_INFLATE_RATIO_FREE bytes are free of the ratio. */
	buf_reset(&z);
	assert_int_equal(compress_deflate(p, FW_INFLATE_RATIO_FREE, &z), FW_OK);
	assert_true(z.len * 100 < FW_INFLATE_RATIO_FREE);
	assert_int_equal(compress_inflate(z.data, z.len, 8 * MIB, 100, &out), FW_OK);
	assert_int_equal(out.len, FW_INFLATE_RATIO_FREE);
	buf_free(&z);
	buf_free(&out);
	free(p);
}

static void
test_buffer_cap(void **state)
{
	struct buf z, out;
	uint8_t p[1000];

	(void)state;
	memset(p, 'a', sizeof p);
	buf_init(&z, 1000);
	buf_init(&out, 500);
	assert_int_equal(compress_deflate(p, sizeof p, &z), FW_OK);
	/* The output buffer's own cap is smaller than the inflate cap. */
	assert_int_equal(compress_inflate(z.data, z.len, 1000, 0, &out),
	    FW_ERR_INFLATE_LIMIT);
	assert_int_equal(out.len, 0);
	assert_int_equal(out.cap, 500);
	buf_free(&z);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_zlib_format),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_deflate_cap),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_other_formats),
		cmocka_unit_test(test_dictionary),
		cmocka_unit_test(test_ratio),
		cmocka_unit_test(test_buffer_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

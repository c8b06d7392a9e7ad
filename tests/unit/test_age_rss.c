/*
 * test_age_rss.c: age streaming in constant memory (DESIGN.md invariant
 * 4).  256 MiB, generated on the fly, is encrypted, the ciphertext fed
 * straight into a decryptor, and the SHA-256 of what comes out compared
 * with that of what went in; the process's peak RSS must stay under
 * 16 MiB.  Its own binary, so that no other test's memory counts.  Under
 * AddressSanitizer RSS means nothing (shadow memory, quarantine): the
 * stream still runs, only the RSS assertion is skipped, saying so.
 * FW_AGE_RSS_MIB=n streams n MiB instead (make valgrind: a smaller stream,
 * since valgrind runs it some 40 times slower and RSS is not judged there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "fw.h"

#define STREAM_BYTES	(256ull << 20)
#define RSS_LIMIT_KIB	(16 * 1024)
#define PIECE		100003	/* odd, so pieces straddle chunks */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

struct pipe {
	struct age_dec *dec;
	struct sha256 *out;
	uint64_t outlen;
};

static fw_err
to_dec(void *ctx, const uint8_t *p, size_t n)
{
	struct pipe *pp = ctx;

	return age_dec_update(pp->dec, p, n);
}

static fw_err
to_sha(void *ctx, const uint8_t *p, size_t n)
{
	struct pipe *pp = ctx;

	pp->outlen += n;
	return sha256_update(pp->out, p, n);
}

/* Next piece of the test stream (xorshift64; its state carries on). */
static void
gen(uint8_t *p, size_t n, uint64_t *x)
{
	for (size_t i = 0; i < n; i++) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		p[i] = (uint8_t)*x;
	}
}

/* The stream's size: STREAM_BYTES, or FW_AGE_RSS_MIB MiB (1..4096). */
static uint64_t
stream_bytes(void)
{
	const char *v = getenv("FW_AGE_RSS_MIB");
	unsigned long mib;
	char *end;

	if (v == NULL || *v == '\0')
		return STREAM_BYTES;
	mib = strtoul(v, &end, 10);
	assert_true(*end == '\0' && mib >= 1 && mib <= 4096);
	return (uint64_t)mib << 20;
}

static long
peak_rss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;	/* KiB on Linux */
}

static void
test_stream_256mib(void **state)
{
	static uint8_t piece[PIECE];
	uint8_t id[1][AGE_KEY_LEN], rcpt[AGE_KEY_LEN];
	uint8_t din[SHA256_LEN], dout[SHA256_LEN];
	struct sha256 *in;
	struct pipe pp = {0};
	struct age_enc *e;
	uint64_t x = 0x9e3779b97f4a7c15ull, done = 0, total = stream_bytes();
	long rss;

	(void)state;
	assert_int_equal(age_keygen(id[0]), FW_OK);
	assert_int_equal(age_recipient_of(id[0], rcpt), FW_OK);
	assert_int_equal(sha256_new(&in), FW_OK);
	assert_int_equal(sha256_new(&pp.out), FW_OK);
	assert_int_equal(age_dec_new(&pp.dec, (const uint8_t (*)[AGE_KEY_LEN])id,
	    1, to_sha, &pp), FW_OK);
	assert_int_equal(age_enc_new(&e, rcpt, to_dec, &pp), FW_OK);
	while (done < total) {
		size_t n = total - done < PIECE ? (size_t)(total - done) : PIECE;
		gen(piece, n, &x);
		assert_int_equal(sha256_update(in, piece, n), FW_OK);
		assert_int_equal(age_enc_update(e, piece, n), FW_OK);
		done += n;
	}
	assert_int_equal(age_enc_final(e), FW_OK);
	assert_int_equal(age_dec_final(pp.dec), FW_OK);
	assert_int_equal(sha256_final(in, din), FW_OK);
	assert_int_equal(sha256_final(pp.out, dout), FW_OK);
	assert_true(pp.outlen == total);
	assert_memory_equal(din, dout, SHA256_LEN);
	age_enc_free(e);
	age_dec_free(pp.dec);
	sha256_free(in);
	sha256_free(pp.out);

	rss = peak_rss_kib();
	printf("age stream: %llu MiB through encrypt+decrypt, peak RSS %ld KiB "
	    "(limit %d KiB)\n", (unsigned long long)(total >> 20), rss, RSS_LIMIT_KIB);
	if (UNDER_ASAN) {
		printf("skip: RSS limit not checked under AddressSanitizer "
		    "(shadow memory inflates RSS)\n");
		return;
	}
	if (getenv("FW_EMULATED") != NULL && *getenv("FW_EMULATED") != '\0') {
		printf("skip: RSS limit not checked under an emulator (%s counts its "
		    "own translation cache in the process's RSS)\n", getenv("FW_EMULATED"));
		return;
	}
	assert_true(rss < RSS_LIMIT_KIB);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_256mib),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_age.c: libFuzzer harness for the age decryptor (common/age.c).
 *
 * The input is an age file decrypted with one fixed identity: the C2SP
 * CCTV suite's test identity, so that the vectors tests/fuzz/run.sh adds
 * and the seeds in tests/fuzz/corpus/age/ (made for the same key) reach
 * the payload.  Each input is fed twice, at once and in small pieces whose
 * sizes come from the input itself; both runs must end the same way and
 * release the same bytes, or the harness aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_identity[] =
    "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";

struct outcome {
	struct sha256 *sha;
	uint64_t len;
	uint8_t digest[SHA256_LEN];
	fw_err err;
};

static fw_err
sink(void *ctx, const uint8_t *p, size_t n)
{
	struct outcome *o = ctx;

	o->len += n;
	return sha256_update(o->sha, p, n);
}

/* Piece sizes 1..256 drawn from the input's bytes, cycled. */
static size_t
piece(const uint8_t *data, size_t size, size_t k)
{
	return size == 0 ? 1 : (size_t)data[k % size] + 1;
}

static void
run(const uint8_t (*id)[AGE_KEY_LEN], const uint8_t *data, size_t size,
    int split, struct outcome *o)
{
	struct age_dec *d;
	size_t off = 0, k = 0;

	memset(o, 0, sizeof *o);
	if (sha256_new(&o->sha) != FW_OK ||
	    age_dec_new(&d, id, 1, sink, o) != FW_OK)
		abort();
	o->err = FW_OK;
	while (o->err == FW_OK && off < size) {
		size_t n = split ? piece(data, size, k++) : size - off;
		if (n > size - off)
			n = size - off;
		o->err = age_dec_update(d, data + off, n);
		off += n;
	}
	if (o->err == FW_OK)
		o->err = age_dec_final(d);
	age_dec_free(d);
	if (sha256_final(o->sha, o->digest) != FW_OK)
		abort();
	sha256_free(o->sha);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t id[1][AGE_KEY_LEN];
	static int ready;
	struct outcome whole, split;

	if (!ready) {
		if (age_identity_parse(fuzz_identity, id[0]) != FW_OK)
			abort();
		ready = 1;
	}
	run((const uint8_t (*)[AGE_KEY_LEN])id, data, size, 0, &whole);
	run((const uint8_t (*)[AGE_KEY_LEN])id, data, size, 1, &split);
	if (whole.err != split.err || whole.len != split.len ||
	    memcmp(whole.digest, split.digest, SHA256_LEN) != 0)
		abort();
	/* Only whole verified chunks come out, unless the file is good. */
	if (whole.err != FW_OK && whole.len % AGE_CHUNK != 0)
		abort();
	return 0;
}

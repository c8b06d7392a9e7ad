/*
 * test_age.c: unit tests of common/age.c: round trips at the chunk edges,
 * key strings, error classes of damaged files (truncated, bit-flipped,
 * foreign), the fd wrappers, and interoperation with the stock `age` and
 * `age-keygen` programs when they are installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include "fw.h"

extern char **environ;

#define MEM_CAP		(64u << 20)
#define CT_CHUNK	(AGE_CHUNK + 16)

/* The spec's example key pair (age.md, "The X25519 recipient type"). */
static const char spec_identity[] =
    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
static const char spec_recipient[] =
    "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";

static const size_t odd_pieces[] = {1, 2, 3, 5, 7, 11, 13, 4093, 65521, 65537,
    17, 131071, 29};
#define NODD (sizeof odd_pieces / sizeof odd_pieces[0])

/* Deterministic test bytes (xorshift64*): reproducible, not a secret. */
static void
fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = (uint8_t)((x * 2685821657736338717ull) >> 56);
	}
}

static fw_err
sink_buf(void *ctx, const uint8_t *p, size_t n)
{
	return buf_add(ctx, p, n);
}

/* Feed n bytes to update() in the cycled piece sizes (NULL: at once). */
static fw_err
feed(fw_err (*update)(void *, const void *, size_t), void *obj,
    const uint8_t *p, size_t n, const size_t *pieces, size_t np)
{
	size_t off = 0, k = 0;
	fw_err e = FW_OK;

	while (e == FW_OK && off < n) {
		size_t m = pieces == NULL ? n : pieces[k++ % np];
		if (m > n - off)
			m = n - off;
		e = update(obj, p + off, m);
		off += m;
	}
	return e;
}

static fw_err
enc_update(void *obj, const void *p, size_t n)
{
	return age_enc_update(obj, p, n);
}

static fw_err
dec_update(void *obj, const void *p, size_t n)
{
	return age_dec_update(obj, p, n);
}

/* Encrypt pt to rcpt into out (initialised here). */
static void
encrypt_mem(const uint8_t rcpt[AGE_KEY_LEN], const uint8_t *pt, size_t n,
    const size_t *pieces, size_t np, struct buf *out)
{
	struct age_enc *e;

	buf_init(out, MEM_CAP);
	assert_int_equal(age_enc_new(&e, rcpt, sink_buf, out), FW_OK);
	assert_int_equal(feed(enc_update, e, pt, n, pieces, np), FW_OK);
	assert_int_equal(age_enc_final(e), FW_OK);
	assert_int_equal(age_enc_update(e, "x", 1), FW_ERR_INVALID);
	assert_int_equal(age_enc_final(e), FW_ERR_INVALID);
	age_enc_free(e);
}

/* Decrypt into out (initialised here); returns the outcome. */
static fw_err
decrypt_mem(const uint8_t (*ids)[AGE_KEY_LEN], size_t nids, const uint8_t *ct,
    size_t n, const size_t *pieces, size_t np, struct buf *out)
{
	struct age_dec *d;
	fw_err e;

	buf_init(out, MEM_CAP);
	assert_int_equal(age_dec_new(&d, ids, nids, sink_buf, out), FW_OK);
	e = feed(dec_update, d, ct, n, pieces, np);
	if (e == FW_OK)
		e = age_dec_final(d);
	else	/* an error sticks */
		assert_int_equal(age_dec_final(d), e);
	age_dec_free(d);
	return e;
}

struct keys {
	uint8_t id[1][AGE_KEY_LEN];
	uint8_t rcpt[AGE_KEY_LEN];
};

static void
new_keys(struct keys *k)
{
	memset(k, 0, sizeof *k);
	assert_int_equal(age_keygen(k->id[0]), FW_OK);
	assert_int_equal(age_recipient_of(k->id[0], k->rcpt), FW_OK);
}

/* Length of the header (through the MAC line's LF) of an age file. */
static size_t
header_len(const uint8_t *ct, size_t n)
{
	const uint8_t *mac = memmem(ct, n, "\n--- ", 5);
	const uint8_t *lf;

	assert_non_null(mac);
	lf = memchr(mac + 1, '\n', n - (size_t)(mac + 1 - ct));
	assert_non_null(lf);
	return (size_t)(lf - ct) + 1;
}

static void
roundtrip(size_t n, const size_t *pieces, size_t np)
{
	struct keys k;
	struct buf ct, pt;
	uint8_t *msg = malloc(n + 1);

	assert_non_null(msg);
	fill(msg, n, n);
	new_keys(&k);
	encrypt_mem(k.rcpt, msg, n, pieces, np, &ct);
	/* header + nonce + one tag per chunk (at least one chunk) */
	assert_int_equal(ct.len, header_len(ct.data, ct.len) + 16 + n +
	    16 * (n == 0 ? 1 : (n + AGE_CHUNK - 1) / AGE_CHUNK));
	assert_int_equal(decrypt_mem((const uint8_t (*)[AGE_KEY_LEN])k.id, 1,
	    ct.data, ct.len, pieces, np, &pt), FW_OK);
	assert_int_equal(pt.len, n);
	assert_true(n == 0 || memcmp(pt.data, msg, n) == 0);
	buf_free(&ct);
	buf_free(&pt);
	free(msg);
}

static void
test_roundtrip_sizes(void **state)
{
	static const size_t sizes[] = {0, 1, 65535, 65536, 65537, 3 * 65536,
	    3 * 65536 + 1, 2 * 65536 - 1};

	(void)state;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		roundtrip(sizes[i], NULL, 0);
		roundtrip(sizes[i], odd_pieces, NODD);
	}
}

/* Random piece sizes on both sides, from a seeded generator. */
static void
test_roundtrip_random_pieces(void **state)
{
	size_t pieces[64];
	uint8_t r[64 * 4];

	(void)state;
	for (uint64_t seed = 1; seed <= 8; seed++) {
		fill(r, sizeof r, seed);
		for (size_t i = 0; i < 64; i++)
			pieces[i] = 1 + ((size_t)r[4 * i] << 16 | (size_t)r[4 * i + 1] << 8 |
			    r[4 * i + 2]) % (seed % 2 ? 300 : 140000);
		roundtrip(200000 + seed * 7919, pieces, 64);
	}
}

static void
test_multiple_identities(void **state)
{
	uint8_t ids[3][AGE_KEY_LEN];
	uint8_t rcpt[AGE_KEY_LEN];
	struct buf ct, pt;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(age_keygen(ids[i]), FW_OK);
	assert_int_equal(age_recipient_of(ids[2], rcpt), FW_OK);
	encrypt_mem(rcpt, (const uint8_t *)"hello", 5, NULL, 0, &ct);
	assert_int_equal(decrypt_mem((const uint8_t (*)[AGE_KEY_LEN])ids, 3,
	    ct.data, ct.len, NULL, 0, &pt), FW_OK);
	assert_int_equal(pt.len, 5);
	buf_free(&pt);
	assert_int_equal(decrypt_mem((const uint8_t (*)[AGE_KEY_LEN])ids, 2,
	    ct.data, ct.len, NULL, 0, &pt), FW_ERR_AGE_NO_MATCH);
	assert_int_equal(pt.len, 0);
	buf_free(&pt);
	buf_free(&ct);
}

static void
test_dec_new_args(void **state)
{
	uint8_t ids[AGE_MAX_IDENTITIES + 1][AGE_KEY_LEN];
	struct age_dec *d;
	struct buf out;

	(void)state;
	memset(ids, 7, sizeof ids);
	buf_init(&out, 16);
	assert_int_equal(age_dec_new(&d, (const uint8_t (*)[AGE_KEY_LEN])ids,
	    0, sink_buf, &out), FW_ERR_INVALID);
	assert_null(d);
	assert_int_equal(age_dec_new(&d, (const uint8_t (*)[AGE_KEY_LEN])ids,
	    AGE_MAX_IDENTITIES + 1, sink_buf, &out), FW_ERR_INVALID);
	assert_int_equal(age_dec_new(&d, (const uint8_t (*)[AGE_KEY_LEN])ids,
	    AGE_MAX_IDENTITIES, sink_buf, &out), FW_OK);
	age_dec_free(d);
	age_dec_free(NULL);
	age_enc_free(NULL);
}

/* A low-order recipient (here the all-zero point) would give a known
 * shared secret: refused before anything is written. */
static void
test_enc_low_order_recipient(void **state)
{
	uint8_t zero[AGE_KEY_LEN] = {0};
	struct age_enc *e;
	struct buf out;

	(void)state;
	buf_init(&out, 1024);
	assert_int_equal(age_enc_new(&e, zero, sink_buf, &out), FW_ERR_KEY);
	assert_null(e);
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

/*
 * Keys.
 */

static void
test_key_spec_example(void **state)
{
	uint8_t id[AGE_KEY_LEN], rcpt[AGE_KEY_LEN], want[AGE_KEY_LEN];
	char s[80];

	(void)state;
	assert_int_equal(age_identity_parse(spec_identity, id), FW_OK);
	memset(want, 0x42, sizeof want);
	assert_memory_equal(id, want, sizeof id);
	assert_int_equal(age_recipient_of(id, rcpt), FW_OK);
	assert_int_equal(age_recipient_format(rcpt, s, 63), FW_OK);
	assert_string_equal(s, spec_recipient);
	assert_int_equal(age_recipient_parse(spec_recipient, want), FW_OK);
	assert_memory_equal(rcpt, want, sizeof rcpt);
	assert_int_equal(age_identity_format(id, s, 75), FW_OK);
	assert_string_equal(s, spec_identity);
	/* Too small an output buffer is the caller's error. */
	assert_int_equal(age_identity_format(id, s, 74), FW_ERR_INVALID);
	assert_int_equal(age_recipient_format(rcpt, s, 62), FW_ERR_INVALID);
}

static void
test_key_roundtrip(void **state)
{
	uint8_t id[AGE_KEY_LEN], id2[AGE_KEY_LEN], r[AGE_KEY_LEN], r2[AGE_KEY_LEN];
	char s[128];

	(void)state;
	for (int i = 0; i < 200; i++) {
		assert_int_equal(age_keygen(id), FW_OK);
		assert_int_equal(age_identity_format(id, s, sizeof s), FW_OK);
		assert_int_equal(strlen(s), 74);
		assert_int_equal(age_identity_parse(s, id2), FW_OK);
		assert_memory_equal(id, id2, sizeof id);
		assert_int_equal(age_recipient_of(id, r), FW_OK);
		assert_int_equal(age_recipient_format(r, s, sizeof s), FW_OK);
		assert_int_equal(strlen(s), 62);
		assert_int_equal(age_recipient_parse(s, r2), FW_OK);
		assert_memory_equal(r, r2, sizeof r);
	}
}

static void
test_key_refusals(void **state)
{
	static const char *const bad_ids[] = {
		"",
		"AGE-SECRET-KEY-1",
		/* bad checksum: last character changed */
		"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEY",
		/* mixed case */
		"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEx",
		/* all lower case: the identity HRP is upper case */
		"age-secret-key-1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpq4egaex",
		/* a recipient where an identity is expected */
		"age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",
		/* post-quantum identity: wrong HRP */
		"AGE-SECRET-KEY-PQ-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ0HGUHW",
		/* 31 bytes, valid checksum */
		"AGE-SECRET-KEY-1QQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSNZS23V9CCRYDPK8QARCNQTXUK",
		/* a character outside the alphabet ('B') */
		"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEB",
		/* trailing newline */
		"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n",
	};
	static const char *const bad_rcpts[] = {
		"",
		"age1",
		"age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwk",
		"age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwJ",
		"AGE1ZVKYG2LQZRAA2LNJVQEJ32NKUU0UES2S82HZRYE869XEEXVN73EQUNUJWJ",
		"age1pq1gfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpyysjzgfpqmw4v5t",
		"age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc535lh4",
		"age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0jqtdny4t",
		"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX",
		" age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",
	};
	uint8_t k[AGE_KEY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
		memset(k, 0x55, sizeof k);
		assert_int_equal(age_identity_parse(bad_ids[i], k), FW_ERR_KEY);
		/* the message never repeats the key material */
		assert_null(strstr(fw_errmsg(), "GFPYY"));
	}
	for (size_t i = 0; i < sizeof bad_rcpts / sizeof bad_rcpts[0]; i++)
		assert_int_equal(age_recipient_parse(bad_rcpts[i], k), FW_ERR_KEY);
	assert_int_equal(age_identity_parse(NULL, k), FW_ERR_KEY);
}

/*
 * Damaged and foreign files.
 */

/* A 3.5-chunk file to k, and its plaintext. */
struct sample {
	struct keys k;
	uint8_t *pt;
	size_t ptlen;
	struct buf ct;
	size_t hlen;
};

static void
sample_make(struct sample *s, size_t n)
{
	new_keys(&s->k);
	s->ptlen = n;
	s->pt = malloc(n);
	assert_non_null(s->pt);
	fill(s->pt, n, 99);
	encrypt_mem(s->k.rcpt, s->pt, n, NULL, 0, &s->ct);
	s->hlen = header_len(s->ct.data, s->ct.len);
}

static void
sample_free(struct sample *s)
{
	free(s->pt);
	buf_free(&s->ct);
}

static fw_err
sample_decrypt(struct sample *s, const uint8_t *ct, size_t n, struct buf *out)
{
	return decrypt_mem((const uint8_t (*)[AGE_KEY_LEN])s->k.id, 1, ct, n,
	    odd_pieces, NODD, out);
}

/* Cut at `cut`: header and nonce cuts are header failures, payload cuts
 * payload failures, and what came out is exactly the whole chunks before
 * the cut, verified. */
static void
check_cut(struct sample *s, size_t cut)
{
	struct buf out;
	size_t payload = s->hlen + 16;
	fw_err e = sample_decrypt(s, s->ct.data, cut, &out);

	if (cut == s->ct.len) {
		assert_int_equal(e, FW_OK);
		assert_int_equal(out.len, s->ptlen);
	} else if (cut < payload) {
		if (e != FW_ERR_AGE_HEADER)
			fail_msg("cut at %zu: %s (%s), expected age_header", cut,
			    fw_strerror(e), fw_errmsg());
		assert_int_equal(out.len, 0);
	} else {
		if (e != FW_ERR_AGE_PAYLOAD)
			fail_msg("cut at %zu: %s (%s), expected age_payload", cut,
			    fw_strerror(e), fw_errmsg());
		assert_int_equal(out.len, (cut - payload) / CT_CHUNK * AGE_CHUNK);
	}
	assert_true(out.len == 0 || memcmp(out.data, s->pt, out.len) == 0);
	buf_free(&out);
}

static void
test_truncation(void **state)
{
	struct sample s;
	uint8_t r[256];

	(void)state;
	sample_make(&s, 3 * AGE_CHUNK + AGE_CHUNK / 2);
	for (size_t cut = 0; cut <= s.hlen + 16 + 40; cut++)
		check_cut(&s, cut);
	for (size_t c = 1; c <= 4; c++) {
		size_t b = s.hlen + 16 + c * CT_CHUNK;
		for (size_t cut = b - 18; cut <= b + 18 && cut <= s.ct.len; cut++)
			check_cut(&s, cut);
	}
	fill(r, sizeof r, 5);
	for (size_t i = 0; i + 3 < sizeof r; i += 4) {
		size_t v = (size_t)r[i] << 16 | (size_t)r[i + 1] << 8 | r[i + 2];
		check_cut(&s, v % (s.ct.len + 1));
	}
	sample_free(&s);
}

/* Decrypt a copy of the sample changed by `edit` and expect `want`. */
static void
check_edit(struct sample *s, void (*edit)(uint8_t *, size_t, size_t, size_t),
    size_t arg, fw_err want, const char *what)
{
	uint8_t *c = malloc(s->ct.len);
	struct buf out;
	fw_err e;

	assert_non_null(c);
	memcpy(c, s->ct.data, s->ct.len);
	edit(c, s->ct.len, s->hlen, arg);
	e = sample_decrypt(s, c, s->ct.len, &out);
	if (e != want)
		fail_msg("%s (%zu): got %s (%s), expected %s", what, arg,
		    fw_strerror(e), fw_errmsg(), fw_strerror(want));
	assert_true(out.len % AGE_CHUNK == 0);
	assert_true(out.len == 0 || memcmp(out.data, s->pt, out.len) == 0);
	buf_free(&out);
	free(c);
}

/* Flip bit `bit` of the 32 bytes that the 43 base64 characters at p carry,
 * and write them back canonically. */
static void
flip_b64_32(uint8_t *p, size_t bit)
{
	uint8_t v[32];
	char enc[48];
	size_t got;

	assert_int_equal(base64_decode((const char *)p, 43, 0, v, sizeof v, &got),
	    FW_OK);
	v[bit / 8 % 32] ^= (uint8_t)(1u << (bit % 8));
	base64_encode_raw(v, sizeof v, enc);
	memcpy(p, enc, 43);
}

static void
edit_mac(uint8_t *c, size_t n, size_t hlen, size_t bit)
{
	(void)n;
	flip_b64_32(c + hlen - 44, bit);
}

/* Line 3 of our header is the X25519 body, line 2 ends with the share. */
static uint8_t *
line_start(uint8_t *c, int line)
{
	uint8_t *p = c;

	for (int i = 1; i < line; i++)
		p = (uint8_t *)strchr((char *)p, '\n') + 1;
	return p;
}

static void
edit_body(uint8_t *c, size_t n, size_t hlen, size_t bit)
{
	(void)n;
	(void)hlen;
	flip_b64_32(line_start(c, 3), bit);
}

static void
edit_share(uint8_t *c, size_t n, size_t hlen, size_t bit)
{
	(void)n;
	(void)hlen;
	flip_b64_32(line_start(c, 2) + 10, bit);
}

static void
edit_byte(uint8_t *c, size_t n, size_t hlen, size_t off)
{
	(void)hlen;
	c[off % n] ^= 0x10;
}

static void
edit_payload(uint8_t *c, size_t n, size_t hlen, size_t off)
{
	c[hlen + off % (n - hlen)] ^= 0x01;
}

static void
edit_body_char(uint8_t *c, size_t n, size_t hlen, size_t i)
{
	(void)n;
	(void)hlen;
	line_start(c, 3)[i % 43] = '!';
}

/* The last body character carries 2 padding bits: setting one makes a
 * second spelling of the same bytes, which age refuses. */
static void
edit_body_noncanonical(uint8_t *c, size_t n, size_t hlen, size_t i)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t *p = line_start(c, 3) + 42;
	const char *q = strchr(b64, *p);

	(void)n;
	(void)hlen;
	(void)i;
	*p = (uint8_t)b64[(q - b64) ^ 1];
}

static void
test_bit_flips(void **state)
{
	struct sample s;

	(void)state;
	sample_make(&s, 2 * AGE_CHUNK + 1000);
	for (size_t bit = 0; bit < 256; bit += 37) {
		check_edit(&s, edit_mac, bit, FW_ERR_AGE_HMAC, "header MAC flip");
		check_edit(&s, edit_body, bit, FW_ERR_AGE_NO_MATCH, "body flip");
		check_edit(&s, edit_share, bit, FW_ERR_AGE_NO_MATCH, "share flip");
	}
	for (size_t i = 0; i < 43; i += 6)
		check_edit(&s, edit_body_char, i, FW_ERR_AGE_HEADER, "body char");
	check_edit(&s, edit_body_noncanonical, 0, FW_ERR_AGE_HEADER,
	    "non-canonical body");
	/* Version line, stanza type, MAC mark: the header no longer parses. */
	check_edit(&s, edit_byte, 0, FW_ERR_AGE_HEADER, "version line");
	check_edit(&s, edit_byte, 20, FW_ERR_AGE_HEADER, "version line");
	check_edit(&s, edit_byte, s.hlen - 46, FW_ERR_AGE_HEADER, "MAC mark");
	/* "X25519" -> "X255!9": an unknown type, so nothing for us. */
	check_edit(&s, edit_byte, 22 + 3 + 4, FW_ERR_AGE_NO_MATCH, "stanza type");
	/* Nonce, then each chunk, then the last tag. */
	for (size_t off = 0; off < s.ct.len - s.hlen; off += 9973)
		check_edit(&s, edit_payload, off, FW_ERR_AGE_PAYLOAD, "payload");
	check_edit(&s, edit_payload, s.ct.len - s.hlen - 1, FW_ERR_AGE_PAYLOAD,
	    "last tag");
	sample_free(&s);
}

static fw_err
decrypt_str(const char *s, size_t n, struct buf *out)
{
	uint8_t id[1][AGE_KEY_LEN];

	assert_int_equal(age_keygen(id[0]), FW_OK);
	return decrypt_mem((const uint8_t (*)[AGE_KEY_LEN])id, 1,
	    (const uint8_t *)s, n, odd_pieces, NODD, out);
}

static void
expect_str(const char *s, fw_err want)
{
	struct buf out;
	fw_err e = decrypt_str(s, strlen(s), &out);

	if (e != want)
		fail_msg("\"%.40s...\": got %s (%s), expected %s", s,
		    fw_strerror(e), fw_errmsg(), fw_strerror(want));
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

#define V1	"age-encryption.org/v1\n"
#define MAC	"--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"

static void
test_foreign_headers(void **state)
{
	(void)state;
	expect_str("", FW_ERR_AGE_HEADER);
	expect_str("hello\n", FW_ERR_AGE_HEADER);
	expect_str("age-encryption.org/v2\n", FW_ERR_AGE_HEADER);
	expect_str(V1, FW_ERR_AGE_HEADER);
	expect_str(V1 MAC, FW_ERR_AGE_HEADER);	/* no stanza */
	expect_str("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n",
	    FW_ERR_AGE_UNSUPPORTED);
	expect_str(V1 "-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" MAC,
	    FW_ERR_AGE_UNSUPPORTED);
	expect_str(V1 "-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	    "-> grease\n\n" MAC, FW_ERR_AGE_HEADER);
	expect_str(V1 "-> grease x y\n\n" MAC, FW_ERR_AGE_NO_MATCH);
	expect_str(V1 "-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" MAC,
	    FW_ERR_AGE_HEADER);	/* all-zero share: low order */
	expect_str(V1 "-> X25519 AAAA\n"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n" MAC,
	    FW_ERR_AGE_HEADER);	/* short share */
	expect_str(V1 "-> X25519\n\n" MAC, FW_ERR_AGE_HEADER);
	expect_str(V1 "-> grease\n\n" MAC "no nonce", FW_ERR_AGE_NO_MATCH);
}

/* A header made of many long stanza lines passes the cap. */
static void
test_header_cap(void **state)
{
	struct buf b, out;
	char line[1100];
	fw_err e;

	(void)state;
	memset(line, 'a', sizeof line);
	memcpy(line, "-> x ", 5);
	line[sizeof line - 2] = '\n';
	line[sizeof line - 1] = '\n';	/* empty body */
	buf_init(&b, 1u << 20);
	assert_int_equal(buf_addstr(&b, V1), FW_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_add(&b, line, sizeof line), FW_OK);
	e = decrypt_str((const char *)b.data, b.len, &out);
	assert_int_equal(e, FW_ERR_AGE_HEADER);
	assert_non_null(strstr(fw_errmsg(), "longer than"));
	buf_free(&out);
	buf_free(&b);
}

static fw_err
sink_full(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return fw_seterr(FW_ERR_NOSPACE, "test: disk full");
}

/* A writer's error stops the stream and comes back from the call. */
static void
test_writer_error(void **state)
{
	struct sample s;
	struct age_dec *d;
	struct age_enc *e;
	uint8_t rcpt[AGE_KEY_LEN];

	(void)state;
	sample_make(&s, AGE_CHUNK + 1);
	assert_int_equal(age_dec_new(&d, (const uint8_t (*)[AGE_KEY_LEN])s.k.id,
	    1, sink_full, NULL), FW_OK);
	assert_int_equal(age_dec_update(d, s.ct.data, s.ct.len), FW_ERR_NOSPACE);
	assert_int_equal(age_dec_final(d), FW_ERR_NOSPACE);
	age_dec_free(d);
	memcpy(rcpt, s.k.rcpt, sizeof rcpt);
	assert_int_equal(age_enc_new(&e, rcpt, sink_full, NULL), FW_ERR_NOSPACE);
	assert_null(e);
	sample_free(&s);
}

/* Bytes after the final chunk; a final chunk placed first. */
static void
test_trailing_data(void **state)
{
	struct sample s;
	struct buf out;
	uint8_t *c;

	(void)state;
	sample_make(&s, 1000);
	c = malloc(s.ct.len + 1);
	assert_non_null(c);
	memcpy(c, s.ct.data, s.ct.len);
	c[s.ct.len] = 0;
	assert_int_equal(sample_decrypt(&s, c, s.ct.len + 1, &out),
	    FW_ERR_AGE_PAYLOAD);
	buf_free(&out);
	free(c);
	sample_free(&s);

	/* A full final chunk followed by garbage: released (it verified),
	 * then refused for the garbage. */
	sample_make(&s, AGE_CHUNK);
	c = malloc(s.ct.len + 5);
	assert_non_null(c);
	memcpy(c, s.ct.data, s.ct.len);
	memcpy(c + s.ct.len, "junk!", 5);
	assert_int_equal(sample_decrypt(&s, c, s.ct.len + 5, &out),
	    FW_ERR_AGE_PAYLOAD);
	assert_non_null(strstr(fw_errmsg(), "trailing"));
	assert_int_equal(out.len, AGE_CHUNK);
	assert_memory_equal(out.data, s.pt, AGE_CHUNK);
	buf_free(&out);
	free(c);
	sample_free(&s);
}

/*
 * File descriptors and the stock age tools.
 */

struct tmp {
	char dir[64];
	char path[8][128];
	int n;
};

static const char *
tmp_path(struct tmp *t, const char *name)
{
	char p[sizeof t->path[0]];

	assert_true(t->n < 8);
	snprintf(p, sizeof p, "%s/%s", t->dir, name);
	memcpy(t->path[t->n], p, sizeof p);
	return t->path[t->n++];
}

static void
tmp_new(struct tmp *t)
{
	memset(t, 0, sizeof *t);
	snprintf(t->dir, sizeof t->dir, "/tmp/fw-test-age-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->n = 0;
}

static void
tmp_free(struct tmp *t)
{
	for (int i = 0; i < t->n; i++)
		unlink(t->path[i]);
	rmdir(t->dir);
}

static void
write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void
read_file(const char *path, struct buf *b)
{
	uint8_t *p;
	size_t n;

	buf_init(b, MEM_CAP);
	assert_int_equal(file_read_all(path, MEM_CAP, &p, &n), FW_OK);
	assert_int_equal(buf_add(b, p, n), FW_OK);
	free(p);
}

static void
test_fd_roundtrip(void **state)
{
	struct tmp t;
	struct keys k;
	const char *pt, *ct, *out;
	uint8_t *msg;
	size_t n = 3 * AGE_CHUNK + 12345;
	struct buf got;
	int in, o;

	(void)state;
	tmp_new(&t);
	pt = tmp_path(&t, "plain");
	ct = tmp_path(&t, "plain.age");
	out = tmp_path(&t, "plain.out");
	msg = malloc(n);
	assert_non_null(msg);
	fill(msg, n, 3);
	write_file(pt, msg, n, 0600);
	new_keys(&k);
	in = open(pt, O_RDONLY);
	o = open(ct, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(age_encrypt_fd(in, o, k.rcpt), FW_OK);
	close(in);
	close(o);
	in = open(ct, O_RDONLY);
	o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(age_decrypt_fd(in, o, k.id[0]), FW_OK);
	close(in);
	close(o);
	read_file(out, &got);
	assert_int_equal(got.len, n);
	assert_memory_equal(got.data, msg, n);
	buf_free(&got);
	/* A closed descriptor is an I/O error, not a crash. */
	assert_int_equal(age_decrypt_fd(-1, 1, k.id[0]), FW_ERR_IO);
	free(msg);
	tmp_free(&t);
}

static fw_err
load_text(struct tmp *t, const char *name, const char *text, mode_t mode,
    uint8_t id[AGE_KEY_LEN])
{
	const char *p = tmp_path(t, name);

	write_file(p, text, strlen(text), 0600);
	assert_int_equal(chmod(p, mode), 0);
	return age_identity_load(p, id);
}

/* Identity files: comments and one identity, mode 0600. */
static void
test_identity_load(void **state)
{
	static const char good[] = "# created: 2024-01-01T00:00:00Z\n"
	    "# public key: age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj\n"
	    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n";
	static const char two[] =
	    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n"
	    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\n";
	static const char crlf[] =
	    "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX\r\n";
	uint8_t id[AGE_KEY_LEN], want[AGE_KEY_LEN];
	char big[5000];
	struct tmp t;

	(void)state;
	tmp_new(&t);
	memset(want, 0x42, sizeof want);
	assert_int_equal(load_text(&t, "good", good, 0600, id), FW_OK);
	assert_memory_equal(id, want, sizeof id);
	assert_int_equal(load_text(&t, "noeol", spec_identity, 0400, id), FW_OK);
	assert_int_equal(load_text(&t, "open", good, 0644, id), FW_ERR_KEY_PERMS);
	assert_int_equal(load_text(&t, "two", two, 0600, id), FW_ERR_KEY);
	assert_int_equal(load_text(&t, "crlf", crlf, 0600, id), FW_ERR_KEY);
	assert_int_equal(load_text(&t, "none", "# nothing\n\n", 0600, id),
	    FW_ERR_KEY);
	assert_int_equal(load_text(&t, "other", "hello\n", 0600, id), FW_ERR_KEY);
	memset(big, '#', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(load_text(&t, "big", big, 0600, id), FW_ERR_KEY);
	assert_int_equal(age_identity_load(t.dir, id), FW_ERR_KEY);
	assert_int_equal(age_identity_load("/nonexistent/key", id),
	    FW_ERR_NOT_FOUND);
	tmp_free(&t);
}

/* The program's full path if it is on PATH, else NULL. */
static const char *
find_tool(const char *name, char *out, size_t outsz)
{
	const char *path = getenv("PATH");
	char dirs[4096], *save = NULL;

	snprintf(dirs, sizeof dirs, "%s", path != NULL ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d != NULL;
	    d = strtok_r(NULL, ":", &save)) {
		snprintf(out, outsz, "%s/%s", d, name);
		if (access(out, X_OK) == 0)
			return out;
	}
	return NULL;
}

/* Run argv (no shell), stderr to /dev/null if quiet; its exit status. */
static int
run_quiet(char *const argv[], int quiet)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, rc;

	posix_spawn_file_actions_init(&fa);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int
run(char *const argv[])
{
	return run_quiet(argv, 0);
}

static int
have_age(char agebin[256], char keygen[256])
{
	if (find_tool("age", agebin, 256) == NULL ||
	    find_tool("age-keygen", keygen, 256) == NULL) {
		printf("skip: age or age-keygen not installed, interop not tested\n");
		return 0;
	}
	return 1;
}

/* Ours encrypts, `age -d` decrypts; `age -e` encrypts, ours decrypts. */
static void
test_interop_age(void **state)
{
	char agebin[256], keygen[256], ids[80], rcpts[80], line[128];
	struct tmp t;
	struct keys k;
	const char *key, *pt, *ct, *out, *ct2;
	size_t n = 2 * AGE_CHUNK + 777;
	uint8_t *msg;
	struct buf got;
	int in, o;

	(void)state;
	if (!have_age(agebin, keygen))
		return;
	tmp_new(&t);
	key = tmp_path(&t, "key.txt");
	pt = tmp_path(&t, "plain");
	ct = tmp_path(&t, "ours.age");
	out = tmp_path(&t, "ours.out");
	ct2 = tmp_path(&t, "theirs.age");
	msg = malloc(n);
	assert_non_null(msg);
	fill(msg, n, 11);
	write_file(pt, msg, n, 0600);
	new_keys(&k);
	assert_int_equal(age_identity_format(k.id[0], ids, sizeof ids), FW_OK);
	assert_int_equal(age_recipient_format(k.rcpt, rcpts, sizeof rcpts), FW_OK);
	snprintf(line, sizeof line, "%s\n", ids);
	write_file(key, line, strlen(line), 0600);

	in = open(pt, O_RDONLY);
	o = open(ct, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(age_encrypt_fd(in, o, k.rcpt), FW_OK);
	close(in);
	close(o);
	{
		char *argv[] = {agebin, (char *)"-d", (char *)"-i", (char *)key,
		    (char *)"-o", (char *)out, (char *)ct, NULL};
		assert_int_equal(run(argv), 0);
	}
	read_file(out, &got);
	assert_int_equal(got.len, n);
	assert_memory_equal(got.data, msg, n);
	buf_free(&got);

	{
		char *argv[] = {agebin, (char *)"-e", (char *)"-r", rcpts,
		    (char *)"-o", (char *)ct2, (char *)pt, NULL};
		assert_int_equal(run(argv), 0);
	}
	unlink(out);
	in = open(ct2, O_RDONLY);
	o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(age_decrypt_fd(in, o, k.id[0]), FW_OK);
	close(in);
	close(o);
	read_file(out, &got);
	assert_int_equal(got.len, n);
	assert_memory_equal(got.data, msg, n);
	buf_free(&got);
	free(msg);
	tmp_free(&t);
}

/* age-keygen's key file: we parse its identity and derive its recipient. */
static void
test_interop_keygen(void **state)
{
	char agebin[256], keygen[256], rcpts[80];
	struct tmp t;
	struct buf f;
	const char *key;
	char *s, *save = NULL, *idline = NULL, *publine = NULL;
	uint8_t id[AGE_KEY_LEN], rcpt[AGE_KEY_LEN];

	(void)state;
	if (!have_age(agebin, keygen))
		return;
	tmp_new(&t);
	key = tmp_path(&t, "key.txt");
	{
		char *argv[] = {keygen, (char *)"-o", (char *)key, NULL};
		assert_int_equal(run_quiet(argv, 1), 0);	/* it prints the key */
	}
	read_file(key, &f);
	for (s = strtok_r((char *)f.data, "\n", &save); s != NULL;
	    s = strtok_r(NULL, "\n", &save)) {
		if (strncmp(s, "AGE-SECRET-KEY-1", 16) == 0)
			idline = s;
		else if (strncmp(s, "# public key: ", 14) == 0)
			publine = s + 14;
	}
	assert_non_null(idline);
	assert_non_null(publine);
	assert_int_equal(age_identity_parse(idline, id), FW_OK);
	assert_int_equal(age_recipient_of(id, rcpt), FW_OK);
	assert_int_equal(age_recipient_format(rcpt, rcpts, sizeof rcpts), FW_OK);
	assert_string_equal(rcpts, publine);
	/* The whole file, as the server loads the office key. */
	assert_int_equal(age_identity_load(key, rcpt), FW_OK);
	assert_memory_equal(rcpt, id, sizeof id);
	OPENSSL_cleanse(f.data, f.len);
	buf_free(&f);
	tmp_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_roundtrip_random_pieces),
		cmocka_unit_test(test_multiple_identities),
		cmocka_unit_test(test_dec_new_args),
		cmocka_unit_test(test_enc_low_order_recipient),
		cmocka_unit_test(test_key_spec_example),
		cmocka_unit_test(test_key_roundtrip),
		cmocka_unit_test(test_key_refusals),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_foreign_headers),
		cmocka_unit_test(test_header_cap),
		cmocka_unit_test(test_writer_error),
		cmocka_unit_test(test_trailing_data),
		cmocka_unit_test(test_fd_roundtrip),
		cmocka_unit_test(test_identity_load),
		cmocka_unit_test(test_interop_age),
		cmocka_unit_test(test_interop_keygen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

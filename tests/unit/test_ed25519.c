/*
 * test_ed25519.c: Ed25519 keys and signatures: sign/verify and forgeries,
 * RFC 8032 vectors, key files (round trip, permissions, no overwrite,
 * wrong key types, garbage, encrypted keys) and device ids checked against
 * a SHA-256 computed here with OpenSSL directly.
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

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ed25519.h"
#include "file.h"
#include "hex.h"
#include "tmpdir.h"

struct fixture {
	char dir[TMPDIR_LEN];
};

static int
setup(void **state)
{
	*state = tmpdir_fixture_new(sizeof (struct fixture), "ed25519");
	return *state != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	tmpdir_fixture_free(*state);
	return 0;
}

static void
unhex(const char *s, uint8_t *out, size_t n)
{
	assert_int_equal(hex_decode(s, strlen(s), out, n), FW_OK);
}

static void
test_sign_verify(void **state)
{
	struct ed25519_key *a, *b;
	uint8_t sig[ED25519_SIG_LEN], sig2[ED25519_SIG_LEN];
	const char *msg = "observation 1: pharmacy, 10:42, receipt photo";
	size_t n = strlen(msg);

	(void)state;
	assert_int_equal(ed25519_generate(&a), FW_OK);
	assert_int_equal(ed25519_generate(&b), FW_OK);
	assert_int_equal(ed25519_sign(a, msg, n, sig), FW_OK);
	assert_int_equal(ed25519_verify(a, msg, n, sig), FW_OK);
	/* Deterministic. */
	assert_int_equal(ed25519_sign(a, msg, n, sig2), FW_OK);
	assert_memory_equal(sig, sig2, sizeof sig);
	assert_int_equal(ed25519_verify(b, msg, n, sig), FW_ERR_SIGNATURE);
	assert_int_equal(ed25519_verify(a, msg, n - 1, sig), FW_ERR_SIGNATURE);
	assert_int_equal(ed25519_verify(a, NULL, 0, sig), FW_ERR_SIGNATURE);
	/* The empty message. */
	assert_int_equal(ed25519_sign(a, NULL, 0, sig), FW_OK);
	assert_int_equal(ed25519_verify(a, "", 0, sig), FW_OK);
	ed25519_free(a);
	ed25519_free(b);
	ed25519_free(NULL);
}

static void
test_bit_flips(void **state)
{
	struct ed25519_key *k;
	uint8_t sig[ED25519_SIG_LEN];
	char msg[] = "bundle manifest bytes";
	size_t n = strlen(msg);

	(void)state;
	assert_int_equal(ed25519_generate(&k), FW_OK);
	assert_int_equal(ed25519_sign(k, msg, n, sig), FW_OK);
	for (size_t i = 0; i < ED25519_SIG_LEN * 8; i += 7) {
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(ed25519_verify(k, msg, n, sig), FW_ERR_SIGNATURE);
		sig[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	for (size_t i = 0; i < n * 8; i++) {
		msg[i / 8] ^= (char)(1u << (i % 8));
		assert_int_equal(ed25519_verify(k, msg, n, sig), FW_ERR_SIGNATURE);
		msg[i / 8] ^= (char)(1u << (i % 8));
	}
	assert_int_equal(ed25519_verify(k, msg, n, sig), FW_OK);
	ed25519_free(k);
}

/* S + L (the group order) verifies with a lax verifier; RFC 8032 says
 * reject it, and OpenSSL does. */
static void
test_non_canonical_s(void **state)
{
	static const uint8_t L[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12,
	    0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
	struct ed25519_key *k;
	uint8_t sig[ED25519_SIG_LEN];
	unsigned carry = 0;

	(void)state;
	assert_int_equal(ed25519_generate(&k), FW_OK);
	assert_int_equal(ed25519_sign(k, "m", 1, sig), FW_OK);
	for (int i = 0; i < 32; i++) {
		unsigned v = sig[32 + i] + L[i] + carry;

		sig[32 + i] = (uint8_t)v;
		carry = v >> 8;
	}
	assert_int_equal(ed25519_verify(k, "m", 1, sig), FW_ERR_SIGNATURE);
	ed25519_free(k);
}

struct vector {
	const char *seed, *pub, *msg, *sig;
};

/* RFC 8032 section 7.1, TEST 1, 2 and 3. */
static const struct vector rfc8032[] = {
	{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	 "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	 "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
	 "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

/* The signature OpenSSL makes from the raw seed, without our module. */
static void
evp_sign(const uint8_t seed[32], const uint8_t *msg, size_t n, uint8_t sig[64])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = 64;

	assert_non_null(pk);
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &len, n ? msg : (const uint8_t *)"", n), 1);
	assert_int_equal(len, 64);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
}

static void
test_rfc8032(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rfc8032 / sizeof rfc8032[0]; i++) {
		const struct vector *v = &rfc8032[i];
		uint8_t seed[32], pub[32], want[64], got[64], evp[64], msg[8];
		uint8_t mypub[32];
		size_t n = strlen(v->msg) / 2;
		struct ed25519_key *k, *pk;

		unhex(v->seed, seed, 32);
		unhex(v->pub, pub, 32);
		unhex(v->sig, want, 64);
		if (n > 0)
			unhex(v->msg, msg, n);
		assert_int_equal(ed25519_from_seed(seed, &k), FW_OK);
		assert_int_equal(ed25519_public(k, mypub), FW_OK);
		assert_memory_equal(mypub, pub, 32);
		assert_int_equal(ed25519_sign(k, msg, n, got), FW_OK);
		assert_memory_equal(got, want, 64);
		evp_sign(seed, msg, n, evp);
		assert_memory_equal(evp, want, 64);
		assert_int_equal(ed25519_from_public(pub, &pk), FW_OK);
		assert_int_equal(ed25519_verify(pk, msg, n, want), FW_OK);
		ed25519_free(k);
		ed25519_free(pk);
	}
}

static void
test_public_only(void **state)
{
	struct ed25519_key *k, *pk;
	uint8_t pub[32], pub2[32], sig[64];

	(void)state;
	assert_int_equal(ed25519_generate(&k), FW_OK);
	assert_int_equal(ed25519_public(k, pub), FW_OK);
	assert_int_equal(ed25519_from_public(pub, &pk), FW_OK);
	assert_int_equal(ed25519_public(pk, pub2), FW_OK);
	assert_memory_equal(pub, pub2, 32);
	assert_int_equal(ed25519_sign(pk, "x", 1, sig), FW_ERR_KEY);
	assert_int_equal(ed25519_sign(k, "x", 1, sig), FW_OK);
	assert_int_equal(ed25519_verify(pk, "x", 1, sig), FW_OK);
	ed25519_free(k);
	ed25519_free(pk);
}

static void
test_device_id(void **state)
{
	struct ed25519_key *k;
	uint8_t pub[32], md[32];
	unsigned int mdlen = 0;
	char id[ED25519_DEVICE_ID_LEN + 1], id2[ED25519_DEVICE_ID_LEN + 1];
	char want[ED25519_DEVICE_ID_LEN + 1];

	(void)state;
	assert_int_equal(ed25519_generate(&k), FW_OK);
	memset(id, 'X', sizeof id);
	assert_int_equal(ed25519_device_id(k, id), FW_OK);
	assert_int_equal(strlen(id), ED25519_DEVICE_ID_LEN);
	for (size_t i = 0; i < ED25519_DEVICE_ID_LEN; i++)
		assert_non_null(strchr("0123456789abcdef", id[i]));
	assert_int_equal(ed25519_public(k, pub), FW_OK);
	assert_int_equal(EVP_Digest(pub, 32, md, &mdlen, EVP_sha256(), NULL), 1);
	for (size_t i = 0; i < 16; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(id, want);
	assert_int_equal(ed25519_device_id_raw(pub, id2), FW_OK);
	assert_string_equal(id2, want);
	ed25519_free(k);
	/* RFC 8032 TEST 1's public key; the id computed with
	 * `xxd -r -p | sha256sum` and cut to 32 characters. */
	unhex(rfc8032[0].pub, pub, 32);
	assert_int_equal(ed25519_device_id_raw(pub, id), FW_OK);
	assert_string_equal(id, "21fe31dfa154a261626bf854046fd227");
}

static void
test_save_load(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *k, *l;
	char p[PATH_MAX];
	uint8_t s1[64], s2[64], p1[32], p2[32];
	struct stat st;

	tmpdir_path(f->dir, "device.key", p, sizeof p);
	assert_int_equal(ed25519_generate(&k), FW_OK);
	assert_int_equal(ed25519_save_private(k, p), FW_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(ed25519_load_private(p, &l), FW_OK);
	assert_int_equal(ed25519_public(k, p1), FW_OK);
	assert_int_equal(ed25519_public(l, p2), FW_OK);
	assert_memory_equal(p1, p2, 32);
	assert_int_equal(ed25519_sign(k, "m", 1, s1), FW_OK);
	assert_int_equal(ed25519_sign(l, "m", 1, s2), FW_OK);
	assert_memory_equal(s1, s2, 64);
	ed25519_free(l);
	/* Owner-only modes stricter than 0600 are fine. */
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(ed25519_load_private(p, &l), FW_OK);
	ed25519_free(l);
	ed25519_free(k);
}

static void
test_pkcs8_pem(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *k;
	char p[PATH_MAX];
	uint8_t *data;
	size_t len;

	tmpdir_path(f->dir, "device.key", p, sizeof p);
	assert_int_equal(ed25519_generate(&k), FW_OK);
	assert_int_equal(ed25519_save_private(k, p), FW_OK);
	assert_int_equal(file_read_all(p, 4096, &data, &len), FW_OK);
	assert_non_null(strstr((char *)data, "-----BEGIN PRIVATE KEY-----\n"));
	assert_null(strstr((char *)data, "ENCRYPTED"));
	free(data);
	ed25519_free(k);
}

static void
test_key_perms(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *k, *l = (struct ed25519_key *)1;
	char p[PATH_MAX];
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0602, 0610};

	tmpdir_path(f->dir, "device.key", p, sizeof p);
	assert_int_equal(ed25519_generate(&k), FW_OK);
	assert_int_equal(ed25519_save_private(k, p), FW_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(chmod(p, bad[i]), 0);
		assert_int_equal(ed25519_load_private(p, &l), FW_ERR_KEY_PERMS);
		assert_null(l);
	}
	assert_non_null(strstr(fw_errmsg(), "0610"));
	ed25519_free(k);
}

static void
test_save_no_overwrite(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *a, *b, *l;
	char p[PATH_MAX];
	uint8_t pa[32], pl[32];

	tmpdir_path(f->dir, "device.key", p, sizeof p);
	assert_int_equal(ed25519_generate(&a), FW_OK);
	assert_int_equal(ed25519_generate(&b), FW_OK);
	assert_int_equal(ed25519_save_private(a, p), FW_OK);
	assert_int_equal(ed25519_save_private(b, p), FW_ERR_EXISTS);
	assert_int_equal(ed25519_load_private(p, &l), FW_OK);
	assert_int_equal(ed25519_public(a, pa), FW_OK);
	assert_int_equal(ed25519_public(l, pl), FW_OK);
	assert_memory_equal(pa, pl, 32);
	ed25519_free(a);
	ed25519_free(b);
	ed25519_free(l);
}

/* Write another algorithm's key, private (0600) and public. */
static void
write_other_key(const char *type, const char *priv, const char *pub)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, type);
	FILE *fp;

	assert_non_null(pk);
	assert_non_null(fp = fopen(priv, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	assert_int_equal(chmod(priv, 0600), 0);
	assert_non_null(fp = fopen(pub, "w"));
	assert_int_equal(PEM_write_PUBKEY(fp, pk), 1);
	fclose(fp);
	EVP_PKEY_free(pk);
}

static void
test_wrong_type(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *k;
	char priv[PATH_MAX], pub[PATH_MAX];

	tmpdir_path(f->dir, "x25519.key", priv, sizeof priv);
	tmpdir_path(f->dir, "x25519.pub", pub, sizeof pub);
	write_other_key("X25519", priv, pub);
	assert_int_equal(ed25519_load_private(priv, &k), FW_ERR_KEY);
	assert_non_null(strstr(fw_errmsg(), "X25519 key, expected ED25519"));
	assert_int_equal(ed25519_load_public(pub, &k), FW_ERR_KEY);
	tmpdir_path(f->dir, "ed448.key", priv, sizeof priv);
	tmpdir_path(f->dir, "ed448.pub", pub, sizeof pub);
	write_other_key("ED448", priv, pub);
	assert_int_equal(ed25519_load_private(priv, &k), FW_ERR_KEY);
	assert_int_equal(ed25519_load_public(pub, &k), FW_ERR_KEY);
}

static void
test_encrypted_refused(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *k;
	char p[PATH_MAX];
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *fp;

	/* A prompt for the passphrase would hang here. */
	tmpdir_path(f->dir, "enc.key", p, sizeof p);
	assert_non_null(pk);
	assert_non_null(fp = fopen(p, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, pk, EVP_aes_256_cbc(),
	    (const unsigned char *)"passphrase", 10, NULL, NULL), 1);
	fclose(fp);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(ed25519_load_private(p, &k), FW_ERR_KEY);
	EVP_PKEY_free(pk);
}

static void
write_key_file(const char *path, const void *data, size_t len)
{
	unlink(path);
	assert_int_equal(file_write_durable(path, data, len, 0600), FW_OK);
}

static void
test_garbage(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *k;
	char p[PATH_MAX];
	static const char bad_b64[] = "-----BEGIN PRIVATE KEY-----\n"
	    "!!!!not base64!!!!\n-----END PRIVATE KEY-----\n";
	static const char short_der[] = "-----BEGIN PRIVATE KEY-----\n"
	    "MC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
	char *big;

	tmpdir_path(f->dir, "bad.key", p, sizeof p);
	write_key_file(p, "hello, world\n", 13);
	assert_int_equal(ed25519_load_private(p, &k), FW_ERR_KEY);
	assert_non_null(strstr(fw_errmsg(), "not an unencrypted PEM"));
	write_key_file(p, "", 0);
	assert_int_equal(ed25519_load_private(p, &k), FW_ERR_KEY);
	write_key_file(p, bad_b64, strlen(bad_b64));
	assert_int_equal(ed25519_load_private(p, &k), FW_ERR_KEY);
	write_key_file(p, short_der, strlen(short_der));
	assert_int_equal(ed25519_load_private(p, &k), FW_ERR_KEY);
	assert_int_equal(ed25519_load_public(p, &k), FW_ERR_KEY);
	/* Too big to be a key: refused before it is read. */
	assert_non_null(big = calloc(1, 1 << 20));
	memset(big, 'A', 1 << 20);
	write_key_file(p, big, 1 << 20);
	assert_int_equal(ed25519_load_private(p, &k), FW_ERR_KEY);
	assert_non_null(strstr(fw_errmsg(), "too large"));
	free(big);
	tmpdir_path(f->dir, "absent.key", p, sizeof p);
	assert_int_equal(ed25519_load_private(p, &k), FW_ERR_NOT_FOUND);
	/* A folder is not a key file. */
	assert_int_equal(ed25519_load_public(f->dir, &k), FW_ERR_KEY);
	/* Nor is an endless device. */
	assert_int_equal(ed25519_load_public("/dev/zero", &k), FW_ERR_KEY);
}

static void
test_public_file(void **state)
{
	struct fixture *f = *state;
	struct ed25519_key *k, *pk, *k2;
	char p[PATH_MAX], priv[PATH_MAX];
	uint8_t a[32], b[32], sig[64];
	struct stat st;

	tmpdir_path(f->dir, "device.pub", p, sizeof p);
	tmpdir_path(f->dir, "device.key", priv, sizeof priv);
	assert_int_equal(ed25519_generate(&k), FW_OK);
	assert_int_equal(ed25519_save_public(k, p), FW_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(ed25519_load_public(p, &pk), FW_OK);
	assert_int_equal(ed25519_public(k, a), FW_OK);
	assert_int_equal(ed25519_public(pk, b), FW_OK);
	assert_memory_equal(a, b, 32);
	assert_int_equal(ed25519_sign(pk, "x", 1, sig), FW_ERR_KEY);
	/* A public key cannot be saved as a private one... */
	assert_int_equal(ed25519_save_private(pk, priv), FW_ERR_KEY);
	assert_int_equal(access(priv, F_OK), -1);
	/* ...and a public key file is not a private key file. */
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(ed25519_load_private(p, &k2), FW_ERR_KEY);
	assert_null(k2);
	ed25519_free(pk);
	ed25519_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_non_canonical_s),
		cmocka_unit_test(test_rfc8032),
		cmocka_unit_test(test_public_only),
		cmocka_unit_test(test_device_id),
		cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pkcs8_pem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_perms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_no_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_encrypted_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

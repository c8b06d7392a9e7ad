/*
 * age.c: age v1 encryption and decryption for X25519 recipients, binary
 * files, streaming in constant memory (https://age-encryption.org/v1).
 *
 * Evidence is encrypted on the device to the office's X25519 key in this
 * format so that the stock `age` tool can decrypt it.  The decryptor reads
 * hostile input: the header is parsed line by line as bytes arrive, capped
 * at AGE_HEADER_MAX; the payload passes through one 64 KiB chunk buffer and
 * a chunk's plaintext is handed on only once its tag verified.  Error
 * classes follow the C2SP CCTV conformance suite (see age.h).
 *
 * Cryptography is OpenSSL 3 EVP only; Bech32 (BIP-173) is written here as
 * no library carries it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "age.h"
#include "buf.h"
#include "file.h"
#include "hex.h"

#define AGE_FILE_KEY_LEN	16
#define AGE_TAG_LEN		16
#define AGE_NONCE_LEN		16	/* payload nonce, after the header */
#define AGE_AEAD_NONCE_LEN	12
#define AGE_CT_CHUNK		(AGE_CHUNK + AGE_TAG_LEN)
#define AGE_COLS		64	/* columns of a full stanza body line */
#define AGE_MAC_B64		43	/* base64 characters of the 32-byte MAC */
#define AGE_VERSION_MAX		128	/* longest version line we look at */
#define AGE_EINTR_MAX		1000	/* retries of a read or write */
#define AGE_IO_BUF		(64u << 10)
#define AGE_KEYFILE_MAX		4096	/* largest identity file we read */

static const char age_v1_line[] = "age-encryption.org/v1";
static const char age_version_prefix[] = "age-encryption.org/";
static const char age_armor_line[] = "-----BEGIN AGE ENCRYPTED FILE-----";
static const char age_x25519_info[] = "age-encryption.org/v1/X25519";
static const char age_id_hrp[] = "AGE-SECRET-KEY-";
static const char age_rcpt_hrp[] = "age";

/*
 * Primitives.
 */

/* HKDF-SHA-256 to 32 bytes.  An empty salt is left out: RFC 5869 then uses
 * HashLen zero bytes, which HMAC treats exactly as an empty key. */
static fw_err
age_hkdf(const uint8_t *ikm, size_t ikmlen, const uint8_t *salt,
    size_t saltlen, const char *info, uint8_t out[32])
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5], *p = params;
	int ok;

	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return fw_seterr(FW_ERR_CRYPTO, "age: HKDF not available");
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return fw_seterr(FW_ERR_NOMEM, "age: cannot allocate an HKDF context");
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)ikm, ikmlen);
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, saltlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (void *)info, strlen(info));
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, 32, params);
	EVP_KDF_CTX_free(kctx);
	if (ok != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: HKDF-SHA-256 failed");
	return FW_OK;
}

static fw_err
age_hmac(const uint8_t key[32], const uint8_t *p, size_t n, uint8_t out[32])
{
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int ok;

	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return fw_seterr(FW_ERR_CRYPTO, "age: HMAC not available");
	mctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (mctx == NULL)
		return fw_seterr(FW_ERR_NOMEM, "age: cannot allocate an HMAC context");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(mctx, key, 32, params) == 1 &&
	    EVP_MAC_update(mctx, p, n) == 1 &&
	    EVP_MAC_final(mctx, out, &outl, 32) == 1 && outl == 32;
	EVP_MAC_CTX_free(mctx);
	if (!ok)
		return fw_seterr(FW_ERR_CRYPTO, "age: HMAC-SHA-256 failed");
	return FW_OK;
}

/* The header MAC: HMAC-SHA-256 keyed with HKDF(file key, "", "header"). */
static fw_err
age_header_mac(const uint8_t fk[AGE_FILE_KEY_LEN], const uint8_t *hdr,
    size_t n, uint8_t mac[32])
{
	uint8_t key[32];
	fw_err e;

	if ((e = age_hkdf(fk, AGE_FILE_KEY_LEN, NULL, 0, "header", key)) == FW_OK)
		e = age_hmac(key, hdr, n, mac);
	OPENSSL_cleanse(key, sizeof key);
	return e;
}

static EVP_PKEY *
age_x25519_key(const uint8_t priv[AGE_KEY_LEN])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv,
	    AGE_KEY_LEN);
}

/*
 * X25519(priv, peer).  FW_ERR_KEY if the result is all zero (peer is a
 * low-order point): OpenSSL refuses to derive it, and we check again in
 * case a build does not.
 */
static fw_err
age_x25519(EVP_PKEY *priv, const uint8_t peer[AGE_KEY_LEN],
    uint8_t out[AGE_KEY_LEN])
{
	static const uint8_t zero[AGE_KEY_LEN];
	EVP_PKEY *pub;
	EVP_PKEY_CTX *pctx = NULL;
	size_t outl = AGE_KEY_LEN;
	int setup, ok = 0;

	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
	    AGE_KEY_LEN);
	if (pub == NULL || (pctx = EVP_PKEY_CTX_new(priv, NULL)) == NULL) {
		EVP_PKEY_free(pub);
		return fw_seterr(FW_ERR_CRYPTO, "age: cannot set up X25519");
	}
	setup = EVP_PKEY_derive_init(pctx) == 1 &&
	    EVP_PKEY_derive_set_peer_ex(pctx, pub, 0) == 1;
	if (setup)
		ok = EVP_PKEY_derive(pctx, out, &outl) == 1 && outl == AGE_KEY_LEN;
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pub);
	if (!setup)
		return fw_seterr(FW_ERR_CRYPTO, "age: cannot set up X25519");
	if (!ok || CRYPTO_memcmp(out, zero, AGE_KEY_LEN) == 0) {
		OPENSSL_cleanse(out, AGE_KEY_LEN);
		return fw_seterr(FW_ERR_KEY,
		    "age: X25519 gives the all-zero secret (low-order point)");
	}
	return FW_OK;
}

/* ChaCha20-Poly1305 nonce of chunk `counter`: 11-byte big-endian counter,
 * then 1 for the final chunk. */
static void
age_chunk_nonce(uint64_t counter, int last, uint8_t nonce[AGE_AEAD_NONCE_LEN])
{
	memset(nonce, 0, AGE_AEAD_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[10 - i] = (uint8_t)(counter >> (8 * i));
	nonce[11] = last ? 1 : 0;
}

/* Seal n bytes of `in` to n + 16 bytes at `out` (which may equal in). */
static fw_err
age_seal(EVP_CIPHER_CTX *c, const EVP_CIPHER *ciph, const uint8_t key[32],
    const uint8_t nonce[AGE_AEAD_NONCE_LEN], const uint8_t *in, size_t n,
    uint8_t *out)
{
	int outl = 0, fl = 0;

	if (n > AGE_CHUNK || EVP_EncryptInit_ex2(c, ciph, key, nonce, NULL) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: ChaCha20-Poly1305 setup failed");
	if (n > 0 && EVP_EncryptUpdate(c, out, &outl, in, (int)n) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: ChaCha20-Poly1305 failed");
	if (EVP_EncryptFinal_ex(c, out + outl, &fl) != 1 ||
	    (size_t)outl + (size_t)fl != n ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, AGE_TAG_LEN, out + n) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: ChaCha20-Poly1305 failed");
	return FW_OK;
}

/*
 * Open n bytes (ciphertext and tag) of `in` into `out` (n - 16 bytes, never
 * the same buffer: a caller may retry with another nonce).  *ok is 1 only if
 * the tag verified; out is then the plaintext, else garbage to ignore.
 */
static fw_err
age_open(EVP_CIPHER_CTX *c, const EVP_CIPHER *ciph, const uint8_t key[32],
    const uint8_t nonce[AGE_AEAD_NONCE_LEN], const uint8_t *in, size_t n,
    uint8_t *out, int *ok)
{
	size_t ctlen;
	int outl = 0, fl = 0;

	*ok = 0;
	if (n < AGE_TAG_LEN || n > AGE_CT_CHUNK)
		return FW_OK;
	ctlen = n - AGE_TAG_LEN;
	if (EVP_DecryptInit_ex2(c, ciph, key, nonce, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, AGE_TAG_LEN,
	    (void *)(in + ctlen)) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: ChaCha20-Poly1305 setup failed");
	if (ctlen > 0 && EVP_DecryptUpdate(c, out, &outl, in, (int)ctlen) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: ChaCha20-Poly1305 failed");
	*ok = EVP_DecryptFinal_ex(c, out + outl, &fl) == 1 &&
	    (size_t)outl + (size_t)fl == ctlen;
	return FW_OK;
}

/* The AEAD of the object, fetched once. */
struct age_aead {
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
};

static fw_err
age_aead_init(struct age_aead *a)
{
	a->cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	a->ctx = EVP_CIPHER_CTX_new();
	if (a->cipher == NULL || a->ctx == NULL)
		return fw_seterr(FW_ERR_CRYPTO, "age: ChaCha20-Poly1305 not available");
	return FW_OK;
}

static void
age_aead_free(struct age_aead *a)
{
	EVP_CIPHER_CTX_free(a->ctx);	/* cleanses the key schedule */
	EVP_CIPHER_free(a->cipher);
	a->ctx = NULL;
	a->cipher = NULL;
}

/*
 * Bech32 (BIP-173), without its 90-character limit as age specifies.  The
 * checksum is always over the lower-case HRP; a string is all upper or all
 * lower case.
 */
static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

#define BECH32_CHECKSUM	6
#define BECH32_MAX	200	/* longest string we parse */

static uint32_t
bech32_step(uint32_t chk, unsigned v)
{
	static const uint32_t gen[5] = {
		0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3
	};
	uint32_t top = chk >> 25;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (int i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

static char
bech32_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static uint32_t
bech32_hrp_sum(const char *hrp, size_t n)
{
	uint32_t chk = 1;
	size_t i;

	for (i = 0; i < n; i++)
		chk = bech32_step(chk, (unsigned char)bech32_lower(hrp[i]) >> 5);
	chk = bech32_step(chk, 0);
	for (i = 0; i < n; i++)
		chk = bech32_step(chk, (unsigned char)bech32_lower(hrp[i]) & 31);
	return chk;
}

/* 8-bit bytes to 5-bit groups, zero-padded; returns the group count. */
static size_t
bech32_to5(const uint8_t *in, size_t n, uint8_t *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = (acc >> bits) & 31;
		}
	}
	if (bits > 0)
		out[o++] = (acc << (5 - bits)) & 31;
	return o;
}

/* hrp is written as given; upper selects the case of the data part. */
static fw_err
bech32_encode(const char *hrp, const uint8_t *data, size_t n, int upper,
    char *out, size_t outsz)
{
	uint8_t v[BECH32_MAX];
	size_t hl = strlen(hrp), nv, o = 0;
	uint32_t chk;

	if (n > (BECH32_MAX - BECH32_CHECKSUM) * 5 / 8)
		return fw_seterr(FW_ERR_INVALID, "bech32: %zu bytes is too long", n);
	nv = bech32_to5(data, n, v);
	if (outsz < hl + 1 + nv + BECH32_CHECKSUM + 1)
		return fw_seterr(FW_ERR_INVALID,
		    "bech32: output buffer is %zu bytes, need %zu", outsz,
		    hl + 1 + nv + BECH32_CHECKSUM + 1);
	chk = bech32_hrp_sum(hrp, hl);
	for (size_t i = 0; i < nv; i++)
		chk = bech32_step(chk, v[i]);
	for (int i = 0; i < BECH32_CHECKSUM; i++)
		chk = bech32_step(chk, 0);
	chk ^= 1;
	for (int i = 0; i < BECH32_CHECKSUM; i++)
		v[nv + i] = (chk >> (5 * (BECH32_CHECKSUM - 1 - i))) & 31;
	memcpy(out, hrp, hl);
	o = hl;
	out[o++] = '1';
	for (size_t i = 0; i < nv + BECH32_CHECKSUM; i++) {
		char c = bech32_charset[v[i]];
		out[o++] = upper && c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	out[o] = '\0';
	return FW_OK;
}

/* Printable ASCII, and one case only. */
static fw_err
bech32_check_case(const char *what, const char *s, size_t len)
{
	int lo = 0, up = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126)
			return fw_seterr(FW_ERR_KEY,
			    "%s: character %zu is not printable ASCII", what, i);
		lo |= c >= 'a' && c <= 'z';
		up |= c >= 'A' && c <= 'Z';
	}
	if (lo && up)
		return fw_seterr(FW_ERR_KEY, "%s: mixed upper and lower case", what);
	return FW_OK;
}

/* 5-bit groups back to exactly n bytes; the padding must be < 5 zero bits. */
static fw_err
bech32_to8(const char *what, const uint8_t *v, size_t nv, uint8_t *out,
    size_t n)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (nv != (n * 8 + 4) / 5)
		return fw_seterr(FW_ERR_KEY, "%s: key is %zu bytes, expected %zu",
		    what, nv * 5 / 8, n);
	for (size_t i = 0; i < nv; i++) {
		acc = (acc << 5) | v[i];
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		return fw_seterr(FW_ERR_KEY, "%s: non-zero padding bits", what);
	return FW_OK;
}

/*
 * Decode s, which must have exactly the HRP `hrp` (case included) and carry
 * n bytes.  Messages never quote the data part: it may be a secret.
 */
static fw_err
bech32_decode(const char *what, const char *s, const char *hrp, uint8_t *out,
    size_t n)
{
	uint8_t v[BECH32_MAX];
	const char *sep;
	size_t len, hl, nv = 0;
	uint32_t chk;
	fw_err e;

	if (s == NULL || (len = strnlen(s, BECH32_MAX + 1)) > BECH32_MAX)
		return fw_seterr(FW_ERR_KEY, "%s: missing or longer than %d characters",
		    what, BECH32_MAX);
	if ((e = bech32_check_case(what, s, len)) != FW_OK)
		return e;
	if ((sep = strrchr(s, '1')) == NULL || sep == s)
		return fw_seterr(FW_ERR_KEY, "%s: no Bech32 separator '1'", what);
	hl = (size_t)(sep - s);
	if (hl != strlen(hrp) || memcmp(s, hrp, hl) != 0)
		return fw_seterr(FW_ERR_KEY, "%s: prefix is not \"%s1\"", what, hrp);
	if (len - hl - 1 < BECH32_CHECKSUM)
		return fw_seterr(FW_ERR_KEY, "%s: too short for a checksum", what);
	chk = bech32_hrp_sum(s, hl);
	for (size_t i = hl + 1; i < len && e == FW_OK; i++) {
		const char *p = strchr(bech32_charset, bech32_lower(s[i]));
		if (p == NULL)
			e = fw_seterr(FW_ERR_KEY,
			    "%s: character %zu is not in the Bech32 alphabet", what, i);
		else {
			v[nv] = (uint8_t)(p - bech32_charset);
			chk = bech32_step(chk, v[nv++]);
		}
	}
	if (e == FW_OK && chk != 1)
		e = fw_seterr(FW_ERR_KEY, "%s: bad Bech32 checksum", what);
	if (e == FW_OK)
		e = bech32_to8(what, v, nv - BECH32_CHECKSUM, out, n);
	OPENSSL_cleanse(v, sizeof v);	/* an identity's groups are secret */
	return e;
}

/*
 * Keys.
 */

fw_err
age_keygen(uint8_t identity[AGE_KEY_LEN])
{
	if (RAND_bytes(identity, AGE_KEY_LEN) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: no randomness for a key");
	return FW_OK;
}

fw_err
age_identity_parse(const char *s, uint8_t identity[AGE_KEY_LEN])
{
	fw_err e = bech32_decode("age identity", s, age_id_hrp, identity,
	    AGE_KEY_LEN);

	if (e != FW_OK)
		OPENSSL_cleanse(identity, AGE_KEY_LEN);
	return e;
}

fw_err
age_identity_format(const uint8_t identity[AGE_KEY_LEN], char *out,
    size_t outsz)
{
	return bech32_encode(age_id_hrp, identity, AGE_KEY_LEN, 1, out, outsz);
}

fw_err
age_recipient_parse(const char *s, uint8_t recipient[AGE_KEY_LEN])
{
	return bech32_decode("age recipient", s, age_rcpt_hrp, recipient,
	    AGE_KEY_LEN);
}

fw_err
age_recipient_format(const uint8_t recipient[AGE_KEY_LEN], char *out,
    size_t outsz)
{
	return bech32_encode(age_rcpt_hrp, recipient, AGE_KEY_LEN, 0, out, outsz);
}

static fw_err
age_pkey_public(EVP_PKEY *k, uint8_t pub[AGE_KEY_LEN])
{
	size_t n = AGE_KEY_LEN;

	if (EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 || n != AGE_KEY_LEN)
		return fw_seterr(FW_ERR_CRYPTO, "age: cannot compute an X25519 public key");
	return FW_OK;
}

fw_err
age_recipient_of(const uint8_t identity[AGE_KEY_LEN],
    uint8_t recipient[AGE_KEY_LEN])
{
	EVP_PKEY *k = age_x25519_key(identity);
	fw_err e;

	if (k == NULL)
		return fw_seterr(FW_ERR_CRYPTO, "age: cannot load an X25519 identity");
	e = age_pkey_public(k, recipient);
	EVP_PKEY_free(k);
	return e;
}

/* Wrap the file key for one recipient: the share and the 32-byte body. */
static fw_err
age_wrap(const uint8_t fk[AGE_FILE_KEY_LEN], const uint8_t rcpt[AGE_KEY_LEN],
    struct age_aead *a, uint8_t share[AGE_KEY_LEN], uint8_t body[32])
{
	static const uint8_t zero_nonce[AGE_AEAD_NONCE_LEN];
	uint8_t eph[AGE_KEY_LEN], shared[AGE_KEY_LEN], salt[2 * AGE_KEY_LEN];
	uint8_t wrap[32];
	EVP_PKEY *k;
	fw_err e;

	if ((e = age_keygen(eph)) != FW_OK)
		return e;
	k = age_x25519_key(eph);
	OPENSSL_cleanse(eph, sizeof eph);
	if (k == NULL)
		return fw_seterr(FW_ERR_CRYPTO, "age: cannot load an X25519 key");
	if ((e = age_pkey_public(k, share)) == FW_OK &&
	    (e = age_x25519(k, rcpt, shared)) == FW_ERR_KEY)
		fw_seterr(e, "age: recipient is a low-order point");
	EVP_PKEY_free(k);
	if (e != FW_OK)
		return e;
	memcpy(salt, share, AGE_KEY_LEN);
	memcpy(salt + AGE_KEY_LEN, rcpt, AGE_KEY_LEN);
	e = age_hkdf(shared, sizeof shared, salt, sizeof salt, age_x25519_info,
	    wrap);
	if (e == FW_OK)
		e = age_seal(a->ctx, a->cipher, wrap, zero_nonce, fk,
		    AGE_FILE_KEY_LEN, body);
	OPENSSL_cleanse(shared, sizeof shared);
	OPENSSL_cleanse(wrap, sizeof wrap);
	return e;
}

/*
 * Encryption.
 */

struct age_enc {
	age_write_fn w;
	void *ctx;
	int done;		/* final written, or failed */
	fw_err err;
	struct age_aead aead;
	uint8_t key[32];	/* payload key */
	uint64_t counter;
	size_t len;		/* plaintext bytes in buf */
	uint8_t buf[AGE_CT_CHUNK];
};

/* Header text of one X25519 stanza, its MAC and the payload nonce. */
static fw_err
age_enc_header(struct age_enc *e, const uint8_t rcpt[AGE_KEY_LEN])
{
	uint8_t fk[AGE_FILE_KEY_LEN], share[AGE_KEY_LEN], body[32], mac[32];
	uint8_t nonce[AGE_NONCE_LEN];
	char hdr[256], b64s[48], b64b[48], b64m[48];
	int n;
	fw_err err;

	if (RAND_bytes(fk, sizeof fk) != 1 || RAND_bytes(nonce, sizeof nonce) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "age: no randomness for a file key");
	if ((err = age_wrap(fk, rcpt, &e->aead, share, body)) != FW_OK)
		goto out;
	base64_encode_raw(share, sizeof share, b64s);
	base64_encode_raw(body, sizeof body, b64b);
	n = snprintf(hdr, sizeof hdr, "%s\n-> X25519 %s\n%s\n---", age_v1_line,
	    b64s, b64b);
	if (n < 0 || (size_t)n + 2 + AGE_MAC_B64 >= sizeof hdr) {
		err = fw_seterr(FW_ERR_INTERNAL, "age: header buffer too small");
		goto out;
	}
	if ((err = age_header_mac(fk, (uint8_t *)hdr, (size_t)n, mac)) != FW_OK)
		goto out;
	base64_encode_raw(mac, sizeof mac, b64m);
	n += snprintf(hdr + n, sizeof hdr - (size_t)n, " %s\n", b64m);
	if ((err = age_hkdf(fk, sizeof fk, nonce, sizeof nonce, "payload",
	    e->key)) != FW_OK)
		goto out;
	if ((err = e->w(e->ctx, (uint8_t *)hdr, (size_t)n)) == FW_OK)
		err = e->w(e->ctx, nonce, sizeof nonce);
out:
	OPENSSL_cleanse(fk, sizeof fk);
	return err;
}

fw_err
age_enc_new(struct age_enc **out, const uint8_t recipient[AGE_KEY_LEN],
    age_write_fn w, void *ctx)
{
	struct age_enc *e;
	fw_err err;

	*out = NULL;
	if (recipient == NULL || w == NULL)
		return fw_seterr(FW_ERR_INVALID, "age: no recipient or no writer");
	if ((e = calloc(1, sizeof *e)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "age: cannot allocate an encryptor");
	e->w = w;
	e->ctx = ctx;
	if ((err = age_aead_init(&e->aead)) != FW_OK ||
	    (err = age_enc_header(e, recipient)) != FW_OK) {
		age_enc_free(e);
		return err;
	}
	*out = e;
	return FW_OK;
}

static fw_err
age_enc_chunk(struct age_enc *e, int last)
{
	uint8_t nonce[AGE_AEAD_NONCE_LEN];
	fw_err err;

	if (e->counter == UINT64_MAX)
		return fw_seterr(FW_ERR_LIMIT, "age: too many chunks");
	age_chunk_nonce(e->counter, last, nonce);
	err = age_seal(e->aead.ctx, e->aead.cipher, e->key, nonce, e->buf, e->len,
	    e->buf);
	if (err == FW_OK)
		err = e->w(e->ctx, e->buf, e->len + AGE_TAG_LEN);
	e->counter++;
	e->len = 0;
	return err;
}

static fw_err
age_enc_fail(struct age_enc *e, fw_err err)
{
	e->done = 1;
	e->err = err;
	return err;
}

/* A full chunk is held until more input shows it is not the last one. */
fw_err
age_enc_update(struct age_enc *e, const void *p, size_t n)
{
	const uint8_t *in = p;
	fw_err err;

	if (e == NULL || e->done)
		return e != NULL && e->err != FW_OK ? e->err :
		    fw_seterr(FW_ERR_INVALID, "age: encryptor already finished");
	while (n > 0) {
		size_t take;

		if (e->len == AGE_CHUNK && (err = age_enc_chunk(e, 0)) != FW_OK)
			return age_enc_fail(e, err);
		take = AGE_CHUNK - e->len < n ? AGE_CHUNK - e->len : n;
		memcpy(e->buf + e->len, in, take);
		e->len += take;
		in += take;
		n -= take;
	}
	return FW_OK;
}

fw_err
age_enc_final(struct age_enc *e)
{
	fw_err err;

	if (e == NULL || e->done)
		return e != NULL && e->err != FW_OK ? e->err :
		    fw_seterr(FW_ERR_INVALID, "age: encryptor already finished");
	err = age_enc_chunk(e, 1);
	e->done = 1;
	e->err = err;
	OPENSSL_cleanse(e->key, sizeof e->key);
	return err;
}

void
age_enc_free(struct age_enc *e)
{
	if (e == NULL)
		return;
	age_aead_free(&e->aead);
	OPENSSL_cleanse(e, sizeof *e);
	free(e);
}

/*
 * Decryption.
 */

enum age_dec_state {
	DEC_HEADER,
	DEC_NONCE,
	DEC_PAYLOAD,
	DEC_DONE,
	DEC_FAILED
};

enum age_hdr_expect {
	HDR_VERSION,	/* the version line */
	HDR_STANZA,	/* "-> " (a stanza) or "---" (the MAC) */
	HDR_BODY	/* a base64 body line of a stanza */
};

struct age_dec {
	age_write_fn w;
	void *ctx;
	enum age_dec_state state;
	fw_err err;
	struct age_aead aead;

	EVP_PKEY *ids[AGE_MAX_IDENTITIES];
	uint8_t pubs[AGE_MAX_IDENTITIES][AGE_KEY_LEN];
	size_t nids;

	/* Header: bytes so far (for the MAC), and the parser's place. */
	struct buf hdr;
	size_t line_start;
	unsigned line_no;	/* 1-based, of the line being read */
	enum age_hdr_expect expect;
	unsigned nstanzas;
	int seen_x25519, seen_unsupported, seen_scrypt;
	int cur_x25519;		/* the stanza being read is X25519 */
	uint8_t share[AGE_KEY_LEN];
	uint8_t body[32];
	size_t body_len;	/* decoded body bytes so far (may pass 32) */
	int have_key;
	uint8_t fk[AGE_FILE_KEY_LEN];

	/* Payload. */
	uint8_t nonce[AGE_NONCE_LEN];
	size_t nonce_len;
	uint8_t key[32];
	uint64_t counter;
	size_t ct_len;
	uint8_t ct[AGE_CT_CHUNK];
	uint8_t pt[AGE_CHUNK];
};

fw_err
age_dec_new(struct age_dec **out, const uint8_t (*identities)[AGE_KEY_LEN],
    size_t n, age_write_fn w, void *ctx)
{
	struct age_dec *d;
	fw_err err = FW_OK;

	*out = NULL;
	if (identities == NULL || n == 0 || n > AGE_MAX_IDENTITIES || w == NULL)
		return fw_seterr(FW_ERR_INVALID,
		    "age: %zu identities, expected 1 to %d, and a writer", n,
		    AGE_MAX_IDENTITIES);
	if ((d = calloc(1, sizeof *d)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "age: cannot allocate a decryptor");
	d->w = w;
	d->ctx = ctx;
	d->line_no = 1;
	buf_init(&d->hdr, AGE_HEADER_MAX);
	for (size_t i = 0; i < n && err == FW_OK; i++) {
		if ((d->ids[i] = age_x25519_key(identities[i])) == NULL)
			err = fw_seterr(FW_ERR_CRYPTO, "age: cannot load identity %zu", i);
		else
			err = age_pkey_public(d->ids[i], d->pubs[i]);
		d->nids = i + 1;
	}
	if (err == FW_OK)
		err = age_aead_init(&d->aead);
	if (err != FW_OK) {
		age_dec_free(d);
		return err;
	}
	*out = d;
	return FW_OK;
}

void
age_dec_free(struct age_dec *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->nids; i++)
		EVP_PKEY_free(d->ids[i]);	/* cleanses the private key */
	age_aead_free(&d->aead);
	buf_free(&d->hdr);
	OPENSSL_cleanse(d, sizeof *d);
	free(d);
}

static fw_err
dec_fail(struct age_dec *d, fw_err err)
{
	d->state = DEC_FAILED;
	d->err = err;
	OPENSSL_cleanse(d->fk, sizeof d->fk);
	OPENSSL_cleanse(d->key, sizeof d->key);
	return err;
}

/* Decoded length of n unpadded base64 characters (n % 4 != 1). */
static size_t
b64_declen(size_t n)
{
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* Try every identity on the X25519 stanza just read. */
static fw_err
dec_unwrap(struct age_dec *d)
{
	static const uint8_t zero_nonce[AGE_AEAD_NONCE_LEN];
	uint8_t shared[AGE_KEY_LEN], salt[2 * AGE_KEY_LEN], wrap[32];
	uint8_t fk[AGE_FILE_KEY_LEN];
	fw_err e = FW_OK;
	int ok = 0;

	memcpy(salt, d->share, AGE_KEY_LEN);
	for (size_t i = 0; i < d->nids && !ok && e == FW_OK; i++) {
		if ((e = age_x25519(d->ids[i], d->share, shared)) == FW_ERR_KEY) {
			e = fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: X25519 "
			    "share is a low-order point (all-zero shared secret)",
			    d->nstanzas);
			break;
		}
		memcpy(salt + AGE_KEY_LEN, d->pubs[i], AGE_KEY_LEN);
		if (e == FW_OK)
			e = age_hkdf(shared, sizeof shared, salt, sizeof salt,
			    age_x25519_info, wrap);
		if (e == FW_OK)
			e = age_open(d->aead.ctx, d->aead.cipher, wrap, zero_nonce,
			    d->body, sizeof d->body, fk, &ok);
	}
	if (ok && e == FW_OK) {
		memcpy(d->fk, fk, sizeof fk);
		d->have_key = 1;
	}
	OPENSSL_cleanse(shared, sizeof shared);
	OPENSSL_cleanse(wrap, sizeof wrap);
	OPENSSL_cleanse(fk, sizeof fk);
	return e;
}

/* A stanza's body ended with a short line. */
static fw_err
dec_stanza_done(struct age_dec *d)
{
	d->expect = HDR_STANZA;
	if (!d->cur_x25519)
		return FW_OK;
	d->cur_x25519 = 0;
	/* Length first, before any decryption: partitioning oracles. */
	if (d->body_len != sizeof d->body)
		return fw_seterr(FW_ERR_AGE_HEADER,
		    "age: stanza %u: X25519 body is %zu bytes, expected 32",
		    d->nstanzas, d->body_len);
	if (d->have_key)
		return FW_OK;
	return dec_unwrap(d);
}

static fw_err
dec_body_line(struct age_dec *d, const char *line, size_t len)
{
	uint8_t tmp[AGE_COLS / 4 * 3];
	size_t got = 0;

	if (len > AGE_COLS)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: body line "
		    "is %zu columns, expected at most %d", d->nstanzas, len, AGE_COLS);
	if (base64_decode(line, len, 0, tmp, sizeof tmp, &got) != FW_OK)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: body line "
		    "(header line %u) is not canonical unpadded base64",
		    d->nstanzas, d->line_no);
	if (d->cur_x25519 && d->body_len + got <= sizeof d->body)
		memcpy(d->body + d->body_len, tmp, got);
	d->body_len += got;
	if (len == AGE_COLS)
		return FW_OK;	/* a full line: the body goes on */
	return dec_stanza_done(d);
}

/* The X25519 stanza's arguments: exactly the type and a 32-byte share. */
static fw_err
dec_x25519_args(struct age_dec *d, unsigned argc, const char *share,
    size_t sharelen)
{
	size_t got = 0;

	d->seen_x25519 = 1;
	d->cur_x25519 = 1;
	if (argc != 2)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: X25519 "
		    "stanza has %u arguments, expected 2", d->nstanzas, argc);
	if (sharelen % 4 != 1 && b64_declen(sharelen) != AGE_KEY_LEN)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: X25519 "
		    "share is %zu bytes, expected 32", d->nstanzas,
		    b64_declen(sharelen));
	if (base64_decode(share, sharelen, 0, d->share, sizeof d->share,
	    &got) != FW_OK || got != AGE_KEY_LEN)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: X25519 "
		    "share is not canonical base64 of 32 bytes", d->nstanzas);
	return FW_OK;
}

/* Native age recipient types we recognise but do not implement. */
static int
age_type_unsupported(const char *t, size_t n)
{
	static const char *const types[] = {
		"scrypt", "mlkem768x25519", "p256tag", "mlkem768p256tag"
	};

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strlen(types[i]) == n && memcmp(types[i], t, n) == 0)
			return 1;
	return 0;
}

/* "-> arg arg ...": arguments are 1*VCHAR separated by single spaces. */
static fw_err
dec_stanza_line(struct age_dec *d, const char *line, size_t len)
{
	const char *arg0 = NULL, *arg1 = NULL;
	size_t len0 = 0, len1 = 0, i = 3, start;
	unsigned argc = 0;

	d->nstanzas++;
	d->expect = HDR_BODY;
	d->body_len = 0;
	while (i <= len) {
		start = i;
		while (i < len && line[i] != ' ') {
			unsigned char c = (unsigned char)line[i];
			if (c < 0x21 || c > 0x7e)
				return fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: "
				    "byte 0x%02x in argument %u is not printable ASCII",
				    d->nstanzas, c, argc + 1);
			i++;
		}
		if (i == start)
			return fw_seterr(FW_ERR_AGE_HEADER, argc == 0 && len == 3 ?
			    "age: stanza %u has no arguments" :
			    "age: stanza %u: empty argument (a doubled or trailing space)",
			    d->nstanzas);
		if (argc == 0) {
			arg0 = line + start;
			len0 = i - start;
		} else if (argc == 1) {
			arg1 = line + start;
			len1 = i - start;
		}
		argc++;
		i++;	/* past the space, or past the end */
	}
	if (len0 == 6 && memcmp(arg0, "X25519", 6) == 0)
		return dec_x25519_args(d, argc, arg1, len1);
	if (len0 == 6 && memcmp(arg0, "scrypt", 6) == 0)
		d->seen_scrypt = 1;
	if (age_type_unsupported(arg0, len0))
		d->seen_unsupported = 1;
	return FW_OK;
}

/* The header is complete: decide the class, then check the MAC. */
static fw_err
dec_header_done(struct age_dec *d, const uint8_t mac[32], size_t maclen)
{
	uint8_t want[32];
	fw_err e;

	if (d->seen_scrypt && d->nstanzas > 1)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: an scrypt stanza must "
		    "be the only stanza, header has %u", d->nstanzas);
	if (!d->have_key && d->seen_x25519)
		return fw_seterr(FW_ERR_AGE_NO_MATCH, "age: none of our %zu "
		    "identities unwraps an X25519 stanza", d->nids);
	if (!d->have_key && d->seen_unsupported)
		return fw_seterr(FW_ERR_AGE_UNSUPPORTED, "age: no X25519 stanza; "
		    "the file is for scrypt, post-quantum or tagged recipients, "
		    "which we do not support");
	if (!d->have_key)
		return fw_seterr(FW_ERR_AGE_NO_MATCH,
		    "age: no stanza is for an X25519 identity");
	if ((e = age_header_mac(d->fk, d->hdr.data, maclen, want)) != FW_OK)
		return e;
	if (CRYPTO_memcmp(want, mac, sizeof want) != 0)
		return fw_seterr(FW_ERR_AGE_HMAC,
		    "age: header MAC does not verify: the header was altered");
	d->state = DEC_NONCE;
	buf_free(&d->hdr);
	return FW_OK;
}

/* "--- " and 43 base64 characters. */
static fw_err
dec_mac_line(struct age_dec *d, const char *line, size_t len)
{
	uint8_t mac[32];
	size_t got = 0;

	if (d->nstanzas == 0)
		return fw_seterr(FW_ERR_AGE_HEADER,
		    "age: header has no recipient stanza before its MAC");
	if (len != 4 + AGE_MAC_B64 || line[3] != ' ')
		return fw_seterr(FW_ERR_AGE_HEADER, "age: MAC line (header line "
		    "%u) is %zu bytes, expected \"--- \" and 43 base64 characters",
		    d->line_no, len);
	if (base64_decode(line + 4, AGE_MAC_B64, 0, mac, sizeof mac, &got) !=
	    FW_OK || got != sizeof mac)
		return fw_seterr(FW_ERR_AGE_HEADER,
		    "age: header MAC is not canonical base64");
	/* The MAC covers the header up to and including "---". */
	return dec_header_done(d, mac, d->line_start + 3);
}

static fw_err
dec_version_line(struct age_dec *d, const char *line, size_t len)
{
	size_t vp = sizeof age_version_prefix - 1;
	size_t al = sizeof age_armor_line - 1;

	if (len == sizeof age_v1_line - 1 && memcmp(line, age_v1_line, len) == 0) {
		d->expect = HDR_STANZA;
		return FW_OK;
	}
	if (len >= vp && memcmp(line, age_version_prefix, vp) == 0)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: unsupported version "
		    "line, expected \"%s\"", age_v1_line);
	if (len >= al && memcmp(line, age_armor_line, al) == 0)
		return fw_seterr(FW_ERR_AGE_UNSUPPORTED,
		    "age: ASCII-armored files are not supported");
	return fw_seterr(FW_ERR_AGE_HEADER, "age: not an age file: first line "
	    "is not \"%s\"", age_v1_line);
}

/* One complete header line, without its LF. */
static fw_err
dec_line(struct age_dec *d, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		return fw_seterr(FW_ERR_AGE_HEADER, "age: header line %u ends "
		    "with CR LF, expected LF", d->line_no);
	switch (d->expect) {
	case HDR_VERSION:
		return dec_version_line(d, line, len);
	case HDR_BODY:
		return dec_body_line(d, line, len);
	case HDR_STANZA:
		break;
	}
	if (len >= 3 && memcmp(line, "-> ", 3) == 0)
		return dec_stanza_line(d, line, len);
	if (len == 2 && memcmp(line, "->", 2) == 0)
		return fw_seterr(FW_ERR_AGE_HEADER,
		    "age: stanza %u has no arguments", d->nstanzas + 1);
	if (len >= 3 && memcmp(line, "---", 3) == 0)
		return dec_mac_line(d, line, len);
	return fw_seterr(FW_ERR_AGE_HEADER, "age: header line %u starts with "
	    "neither \"-> \" (a stanza) nor \"--- \" (the MAC)", d->line_no);
}

/* Longest line the parser can accept in its present state. */
static size_t
dec_line_max(const struct age_dec *d)
{
	switch (d->expect) {
	case HDR_VERSION:
		return AGE_VERSION_MAX;
	case HDR_BODY:
		return AGE_COLS;
	case HDR_STANZA:
		break;
	}
	return AGE_HEADER_MAX;
}

/* Fail early on a line that can no longer be valid, rather than wait for
 * the header cap: binary junk is refused within its first 128 bytes. */
static fw_err
dec_line_too_long(const struct age_dec *d)
{
	if (d->expect == HDR_VERSION)
		return fw_seterr(FW_ERR_AGE_HEADER, "age: not an age file: no "
		    "version line in the first %d bytes", AGE_VERSION_MAX);
	return fw_seterr(FW_ERR_AGE_HEADER, "age: stanza %u: body line is "
	    "longer than %d columns", d->nstanzas, AGE_COLS);
}

/* Take header bytes from p; *used tells how many were header. */
static fw_err
dec_header_feed(struct age_dec *d, const uint8_t *p, size_t n, size_t *used)
{
	fw_err e;

	*used = 0;
	while (*used < n && d->state == DEC_HEADER) {
		const uint8_t *s = p + *used;
		const uint8_t *lf = memchr(s, '\n', n - *used);
		size_t take = lf != NULL ? (size_t)(lf - s) + 1 : n - *used;
		size_t linelen = d->hdr.len - d->line_start + take - (lf != NULL);

		if (take > AGE_HEADER_MAX - d->hdr.len)
			return fw_seterr(FW_ERR_AGE_HEADER,
			    "age: header is longer than %u bytes", AGE_HEADER_MAX);
		if (linelen > dec_line_max(d))
			return dec_line_too_long(d);
		if ((e = buf_add(&d->hdr, s, take)) != FW_OK)
			return e;
		*used += take;
		if (lf == NULL)
			break;
		e = dec_line(d, (const char *)d->hdr.data + d->line_start,
		    d->hdr.len - d->line_start - 1);
		if (e != FW_OK)
			return e;
		d->line_start = d->hdr.len;
		d->line_no++;
	}
	return FW_OK;
}

static fw_err
dec_nonce_feed(struct age_dec *d, const uint8_t *p, size_t n, size_t *used)
{
	size_t take = AGE_NONCE_LEN - d->nonce_len;
	fw_err e;

	if (take > n)
		take = n;
	memcpy(d->nonce + d->nonce_len, p, take);
	d->nonce_len += take;
	*used = take;
	if (d->nonce_len < AGE_NONCE_LEN)
		return FW_OK;
	e = age_hkdf(d->fk, sizeof d->fk, d->nonce, sizeof d->nonce, "payload",
	    d->key);
	OPENSSL_cleanse(d->fk, sizeof d->fk);
	if (e == FW_OK)
		d->state = DEC_PAYLOAD;
	return e;
}

/* Open the buffered chunk with the given final flag; release it if good. */
static fw_err
dec_open_chunk(struct age_dec *d, int last, int *ok)
{
	uint8_t nonce[AGE_AEAD_NONCE_LEN];
	fw_err e;

	age_chunk_nonce(d->counter, last, nonce);
	e = age_open(d->aead.ctx, d->aead.cipher, d->key, nonce, d->ct,
	    d->ct_len, d->pt, ok);
	if (e != FW_OK || !*ok)
		return e;
	if (d->ct_len > AGE_TAG_LEN &&
	    (e = d->w(d->ctx, d->pt, d->ct_len - AGE_TAG_LEN)) != FW_OK)
		return e;
	if (d->counter == UINT64_MAX)
		return fw_seterr(FW_ERR_AGE_PAYLOAD, "age: too many chunks");
	d->counter++;
	d->ct_len = 0;
	return FW_OK;
}

/*
 * A full chunk with more input behind it.  It should be a non-final chunk;
 * if it opens only as a final one, it is released (verified) and what
 * follows is trailing data, as age itself does.
 */
static fw_err
dec_full_chunk(struct age_dec *d)
{
	uint64_t c = d->counter;
	int ok;
	fw_err e;

	if ((e = dec_open_chunk(d, 0, &ok)) != FW_OK || ok)
		return e;
	if ((e = dec_open_chunk(d, 1, &ok)) != FW_OK)
		return e;
	if (ok)
		return fw_seterr(FW_ERR_AGE_PAYLOAD, "age: trailing data after "
		    "the final chunk %llu", (unsigned long long)c);
	return fw_seterr(FW_ERR_AGE_PAYLOAD, "age: payload chunk %llu does "
	    "not authenticate", (unsigned long long)c);
}

static fw_err
dec_payload_feed(struct age_dec *d, const uint8_t *p, size_t n)
{
	fw_err e;

	while (n > 0) {
		size_t take;

		if (d->ct_len == AGE_CT_CHUNK && (e = dec_full_chunk(d)) != FW_OK)
			return e;
		take = AGE_CT_CHUNK - d->ct_len < n ? AGE_CT_CHUNK - d->ct_len : n;
		memcpy(d->ct + d->ct_len, p, take);
		d->ct_len += take;
		p += take;
		n -= take;
	}
	return FW_OK;
}

fw_err
age_dec_update(struct age_dec *d, const void *p, size_t n)
{
	const uint8_t *in = p;
	size_t used;
	fw_err e = FW_OK;

	if (d == NULL || d->state == DEC_FAILED)
		return d != NULL ? d->err :
		    fw_seterr(FW_ERR_INVALID, "age: no decryptor");
	if (d->state == DEC_DONE)
		return fw_seterr(FW_ERR_INVALID, "age: decryptor already finished");
	if (d->state == DEC_HEADER && n > 0) {
		if ((e = dec_header_feed(d, in, n, &used)) != FW_OK)
			return dec_fail(d, e);
		in += used;
		n -= used;
	}
	if (d->state == DEC_NONCE && n > 0) {
		if ((e = dec_nonce_feed(d, in, n, &used)) != FW_OK)
			return dec_fail(d, e);
		in += used;
		n -= used;
	}
	if (d->state == DEC_PAYLOAD && n > 0 &&
	    (e = dec_payload_feed(d, in, n)) != FW_OK)
		return dec_fail(d, e);
	return FW_OK;
}

/* End of input in the payload: the buffered chunk must be the final one. */
static fw_err
dec_payload_end(struct age_dec *d)
{
	uint64_t c = d->counter;
	int ok;
	fw_err e;

	if (d->ct_len == 0)
		return fw_seterr(FW_ERR_AGE_PAYLOAD, c == 0 ?
		    "age: payload has no chunk after its nonce" :
		    "age: file ends without a final chunk");
	if (d->ct_len < AGE_TAG_LEN)
		return fw_seterr(FW_ERR_AGE_PAYLOAD, "age: chunk %llu is %zu bytes, "
		    "shorter than its 16-byte tag", (unsigned long long)c, d->ct_len);
	if (d->ct_len == AGE_TAG_LEN && c > 0)
		return fw_seterr(FW_ERR_AGE_PAYLOAD, "age: final chunk %llu is "
		    "empty, allowed only for an empty file", (unsigned long long)c);
	if (d->ct_len == AGE_CT_CHUNK) {
		/* A full last chunk: if it opens as non-final, the end is missing. */
		if ((e = dec_open_chunk(d, 0, &ok)) != FW_OK)
			return e;
		if (ok)
			return fw_seterr(FW_ERR_AGE_PAYLOAD, "age: file ends after "
			    "chunk %llu without a final chunk", (unsigned long long)c);
	}
	if ((e = dec_open_chunk(d, 1, &ok)) != FW_OK)
		return e;
	if (!ok)
		return fw_seterr(FW_ERR_AGE_PAYLOAD, "age: final chunk %llu does "
		    "not authenticate (corrupt or truncated)", (unsigned long long)c);
	return FW_OK;
}

fw_err
age_dec_final(struct age_dec *d)
{
	fw_err e;

	if (d == NULL || d->state == DEC_FAILED)
		return d != NULL ? d->err :
		    fw_seterr(FW_ERR_INVALID, "age: no decryptor");
	switch (d->state) {
	case DEC_HEADER:
		e = d->hdr.len == 0 && d->line_no == 1 ?
		    fw_seterr(FW_ERR_AGE_HEADER, "age: empty input, expected an "
		    "age header") :
		    fw_seterr(FW_ERR_AGE_HEADER, "age: input ends inside the "
		    "header, at line %u", d->line_no);
		break;
	case DEC_NONCE:
		e = fw_seterr(FW_ERR_AGE_HEADER, "age: input ends after the header "
		    "with %zu of the 16 payload nonce bytes", d->nonce_len);
		break;
	case DEC_PAYLOAD:
		e = dec_payload_end(d);
		break;
	default:
		return fw_seterr(FW_ERR_INVALID, "age: decryptor already finished");
	}
	if (e != FW_OK)
		return dec_fail(d, e);
	d->state = DEC_DONE;
	OPENSSL_cleanse(d->key, sizeof d->key);
	return FW_OK;
}

/*
 * File descriptors.
 */

static fw_err
age_fd_write(void *ctx, const uint8_t *p, size_t n)
{
	int fd = *(const int *)ctx;
	size_t off = 0;
	unsigned intr = 0;

	while (off < n) {
		ssize_t r = write(fd, p + off, n - off);

		if (r < 0 && errno == EINTR && intr++ < AGE_EINTR_MAX)
			continue;
		if (r < 0)
			return fw_seterr(errno == ENOSPC ? FW_ERR_NOSPACE : FW_ERR_IO,
			    "age: write: %s", strerror(errno));
		if (r == 0)
			return fw_seterr(FW_ERR_IO, "age: write wrote nothing");
		off += (size_t)r;
	}
	return FW_OK;
}

/* One read, retried on EINTR; *got == 0 at end of file. */
static fw_err
age_fd_read(int fd, uint8_t *p, size_t n, size_t *got)
{
	for (unsigned intr = 0; intr <= AGE_EINTR_MAX; intr++) {
		ssize_t r = read(fd, p, n);

		if (r >= 0) {
			*got = (size_t)r;
			return FW_OK;
		}
		if (errno != EINTR)
			return fw_seterr(FW_ERR_IO, "age: read: %s", strerror(errno));
	}
	return fw_seterr(FW_ERR_IO, "age: read: interrupted too often");
}

/* Parse the identity file's text: one identity line among comments. */
static fw_err
age_identity_text(const char *path, char *text, size_t len,
    uint8_t identity[AGE_KEY_LEN])
{
	unsigned line = 0, found = 0;
	char *s = text, *end = text + len;
	fw_err e = FW_OK;

	while (s < end && e == FW_OK) {
		char *lf = memchr(s, '\n', (size_t)(end - s));
		char *eol = lf != NULL ? lf : end;

		*eol = '\0';
		line++;
		if (s[0] != '#' && s[0] != '\0') {
			if (strncmp(s, "AGE-SECRET-KEY-1", 16) != 0)
				e = fw_seterr(FW_ERR_KEY, "%s: line %u is neither a "
				    "comment nor an age identity", path, line);
			else if (found++ > 0)
				e = fw_seterr(FW_ERR_KEY, "%s: more than one identity, "
				    "expected one", path);
			else if ((e = age_identity_parse(s, identity)) != FW_OK)
				e = fw_errctx(e, "%s: line %u", path, line);
		}
		s = eol + 1;
	}
	if (e == FW_OK && found == 0)
		e = fw_seterr(FW_ERR_KEY, "%s: no AGE-SECRET-KEY-1 line", path);
	if (e != FW_OK)
		OPENSSL_cleanse(identity, AGE_KEY_LEN);
	return e;
}

fw_err
age_identity_load(const char *path, uint8_t identity[AGE_KEY_LEN])
{
	char text[AGE_KEYFILE_MAX + 1];
	struct stat st;
	size_t len = 0, got = 1;
	fw_err e = FW_OK;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) == -1)
		return fw_seterr(errno == ENOENT ? FW_ERR_NOT_FOUND : FW_ERR_IO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1)
		e = fw_seterr(FW_ERR_IO, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		e = fw_seterr(FW_ERR_KEY, "%s: not a regular file", path);
	else if ((st.st_mode & 077) != 0)
		e = fw_seterr(FW_ERR_KEY_PERMS, "%s: mode %04o lets group or "
		    "others read the age identity, expected 0600", path,
		    (unsigned)(st.st_mode & 07777));
	/* Each pass reads at least one byte or ends; at most 4 KiB + 1. */
	while (e == FW_OK && got > 0 && len <= AGE_KEYFILE_MAX)
		if ((e = age_fd_read(fd, (uint8_t *)text + len,
		    sizeof text - len, &got)) == FW_OK)
			len += got;
	close(fd);
	if (e == FW_OK && len > AGE_KEYFILE_MAX)
		e = fw_seterr(FW_ERR_KEY, "%s: over %d bytes, too large for an "
		    "age identity file", path, AGE_KEYFILE_MAX);
	if (e == FW_OK)
		e = age_identity_text(path, text, len, identity);
	OPENSSL_cleanse(text, sizeof text);
	return e;
}

typedef fw_err (*age_feed_fn)(void *obj, const void *p, size_t n);

/* Feed all of fd to update(obj, ...).  No loop bound but the file's end:
 * each pass reads at least one byte or ends. */
static fw_err
age_fd_pump(int fd, age_feed_fn update, void *obj)
{
	uint8_t *buf;
	size_t got = 0;
	fw_err e;

	if ((buf = malloc(AGE_IO_BUF)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "age: cannot allocate a read buffer");
	do {
		if ((e = age_fd_read(fd, buf, AGE_IO_BUF, &got)) == FW_OK && got > 0)
			e = update(obj, buf, got);
	} while (e == FW_OK && got > 0);
	OPENSSL_cleanse(buf, AGE_IO_BUF);
	free(buf);
	return e;
}

static fw_err
age_enc_feed(void *obj, const void *p, size_t n)
{
	return age_enc_update(obj, p, n);
}

static fw_err
age_dec_feed(void *obj, const void *p, size_t n)
{
	return age_dec_update(obj, p, n);
}

fw_err
age_encrypt_fd(int in, int out, const uint8_t recipient[AGE_KEY_LEN])
{
	struct age_enc *e;
	fw_err err;

	if ((err = age_enc_new(&e, recipient, age_fd_write, &out)) != FW_OK)
		return err;
	if ((err = age_fd_pump(in, age_enc_feed, e)) == FW_OK)
		err = age_enc_final(e);
	age_enc_free(e);
	return err;
}

fw_err
age_decrypt_fd(int in, int out, const uint8_t identity[AGE_KEY_LEN])
{
	const uint8_t (*ids)[AGE_KEY_LEN] = (const uint8_t (*)[AGE_KEY_LEN])identity;
	struct age_dec *d;
	fw_err err;

	if ((err = age_dec_new(&d, ids, 1, age_fd_write, &out)) != FW_OK)
		return err;
	if ((err = age_fd_pump(in, age_dec_feed, d)) == FW_OK)
		err = age_dec_final(d);
	age_dec_free(d);
	return err;
}

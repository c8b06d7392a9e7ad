/*
 * ed25519.c: Ed25519 keys, signatures and key files over OpenSSL 3's EVP
 * interface (ed25519.h).
 *
 * A device's private key is the one secret the agent holds, so this file
 * is careful with it: the key file's mode is checked on the descriptor
 * that is read (not on the path, which could be swapped in between), the
 * file's bytes and the PEM written are wiped after use, OpenSSL is never
 * allowed to prompt for a passphrase, and no message formats key bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "ed25519.h"
#include "file.h"
#include "hex.h"
#include "sha256.h"

/* A PEM Ed25519 key is about 120 bytes; anything much larger is not one. */
#define ED25519_FILE_MAX	(16u << 10)

struct ed25519_key {
	EVP_PKEY *pkey;
	int has_private;
};

/* Report an OpenSSL failure and empty its error queue, which is per
 * thread and would otherwise pile up. */
static fw_err
ed_ossl(fw_err e, const char *what)
{
	unsigned long err = ERR_peek_last_error();
	const char *reason = err != 0 ? ERR_reason_error_string(err) : NULL;

	fw_seterr(e, "%s%s%s", what, reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
	ERR_clear_error();
	return e;
}

/* Wrap pkey (taken) after checking that it is an Ed25519 key. */
static fw_err
ed_wrap(EVP_PKEY *pkey, int has_private, const char *what,
    struct ed25519_key **out)
{
	struct ed25519_key *k;
	const char *type;
	int id = EVP_PKEY_get_id(pkey);

	if (id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		type = OBJ_nid2sn(id);
		return fw_seterr(FW_ERR_KEY, "%s: %s key, expected ED25519", what,
		    type != NULL ? type : "unknown");
	}
	if ((k = OPENSSL_zalloc(sizeof *k)) == NULL) {
		EVP_PKEY_free(pkey);
		return fw_seterr(FW_ERR_NOMEM, "%s: out of memory", what);
	}
	k->pkey = pkey;
	k->has_private = has_private;
	*out = k;
	return FW_OK;
}

fw_err
ed25519_generate(struct ed25519_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		return ed_ossl(FW_ERR_CRYPTO, "ed25519: key generation failed");
	return ed_wrap(pkey, 1, "ed25519", out);
}

fw_err
ed25519_from_seed(const uint8_t seed[ED25519_SEED_LEN], struct ed25519_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
	    ED25519_SEED_LEN);
	if (pkey == NULL)
		return ed_ossl(FW_ERR_KEY, "ed25519: cannot make a key from the seed");
	return ed_wrap(pkey, 1, "ed25519", out);
}

fw_err
ed25519_from_public(const uint8_t pub[ED25519_PUB_LEN], struct ed25519_key **out)
{
	EVP_PKEY *pkey;

	*out = NULL;
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    ED25519_PUB_LEN);
	if (pkey == NULL)
		return ed_ossl(FW_ERR_KEY, "ed25519: not a valid public key");
	return ed_wrap(pkey, 0, "ed25519", out);
}

/*
 * Read the open key file fd into p (at most cap bytes).  Checks the file
 * is a regular file and, for a private key, that nobody but the owner may
 * read it: on the descriptor, so the file checked is the file read.
 */
static fw_err
ed_read_fd(int fd, const char *path, int private, uint8_t *p, size_t cap,
    size_t *len)
{
	struct stat st;
	ssize_t r;

	if (fstat(fd, &st) == -1)
		return file_errno(errno, path);
	if (!S_ISREG(st.st_mode))
		return fw_seterr(FW_ERR_KEY, "%s: not a regular file", path);
	if (private && (st.st_mode & 077) != 0)
		return fw_seterr(FW_ERR_KEY_PERMS,
		    "%s: mode %04o lets group or others read the private key, expected 0600",
		    path, (unsigned)(st.st_mode & 07777));
	if ((uint64_t)st.st_size > cap)
		return fw_seterr(FW_ERR_KEY, "%s: %lld bytes, too large for a key file",
		    path, (long long)st.st_size);
	/* Each pass reads at least one byte or ends: at most cap passes
	 * besides EINTR retries. */
	*len = 0;
	while (*len < cap) {
		r = read(fd, p + *len, cap - *len);
		if (r == 0)
			return FW_OK;
		if (r > 0)
			*len += (size_t)r;
		else if (errno != EINTR)
			return file_errno(errno, path);
	}
	return fw_seterr(FW_ERR_KEY, "%s: too large for a key file", path);
}

/* Never let OpenSSL ask a terminal for a passphrase: encrypted key files
 * are refused. */
static int
ed_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Parse the PEM in p as a private (or public) key. */
static EVP_PKEY *
ed_parse_pem(const uint8_t *p, size_t len, int private)
{
	EVP_PKEY *pkey;
	BIO *bio;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		return NULL;
	if (private)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, ed_no_passphrase, NULL);
	else
		pkey = PEM_read_bio_PUBKEY(bio, NULL, ed_no_passphrase, NULL);
	BIO_free(bio);
	return pkey;
}

static fw_err
ed_load(const char *path, int private, struct ed25519_key **out)
{
	uint8_t pem[ED25519_FILE_MAX];
	size_t len = 0;
	EVP_PKEY *pkey = NULL;
	fw_err e;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) == -1)
		return file_errno(errno, path);
	e = ed_read_fd(fd, path, private, pem, sizeof pem, &len);
	close(fd);
	if (e == FW_OK && (pkey = ed_parse_pem(pem, len, private)) == NULL) {
		ERR_clear_error();
		e = fw_seterr(FW_ERR_KEY, "%s: not an unencrypted PEM %s key", path,
		    private ? "PKCS#8 private" : "SPKI public");
	}
	OPENSSL_cleanse(pem, sizeof pem);
	if (e != FW_OK)
		return e;
	return ed_wrap(pkey, private, path, out);
}

fw_err
ed25519_load_private(const char *path, struct ed25519_key **out)
{
	return ed_load(path, 1, out);
}

fw_err
ed25519_load_public(const char *path, struct ed25519_key **out)
{
	return ed_load(path, 0, out);
}

/*
 * Write k's PEM to path.  The PEM is built in a secure memory BIO, whose
 * buffer OpenSSL wipes when it grows or is freed; it is wiped here too,
 * before the free, so that no copy of the key stays in freed memory.
 */
static fw_err
ed_save(const struct ed25519_key *k, const char *path, int private)
{
	BIO *bio;
	char *pem = NULL;
	long len;
	fw_err e;
	int ok;

	if (private && !k->has_private)
		return fw_seterr(FW_ERR_KEY, "%s: key has no private part", path);
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return ed_ossl(FW_ERR_NOMEM, "ed25519: cannot make a memory BIO");
	if (private)
		ok = PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, k->pkey);
	len = BIO_get_mem_data(bio, &pem);
	if (ok != 1 || len <= 0 || pem == NULL)
		e = ed_ossl(FW_ERR_CRYPTO, "ed25519: cannot encode the key");
	else if (private)
		e = file_create_durable(path, pem, (size_t)len, 0600);
	else
		e = file_write_durable(path, pem, (size_t)len, 0644);
	if (pem != NULL && len > 0)
		OPENSSL_cleanse(pem, (size_t)len);
	BIO_free(bio);
	return e;
}

fw_err
ed25519_save_private(const struct ed25519_key *k, const char *path)
{
	return ed_save(k, path, 1);
}

fw_err
ed25519_save_public(const struct ed25519_key *k, const char *path)
{
	return ed_save(k, path, 0);
}

fw_err
ed25519_public(const struct ed25519_key *k, uint8_t pub[ED25519_PUB_LEN])
{
	size_t len = ED25519_PUB_LEN;

	if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &len) != 1 ||
	    len != ED25519_PUB_LEN)
		return ed_ossl(FW_ERR_CRYPTO, "ed25519: cannot read the public key");
	return FW_OK;
}

fw_err
ed25519_device_id_raw(const uint8_t pub[ED25519_PUB_LEN], char *out)
{
	uint8_t md[SHA256_LEN];
	fw_err e;

	if ((e = sha256(pub, ED25519_PUB_LEN, md)) != FW_OK)
		return e;
	hex_encode(md, ED25519_DEVICE_ID_LEN / 2, out);
	return FW_OK;
}

fw_err
ed25519_device_id(const struct ed25519_key *k, char *out)
{
	uint8_t pub[ED25519_PUB_LEN];
	fw_err e;

	if ((e = ed25519_public(k, pub)) != FW_OK)
		return e;
	return ed25519_device_id_raw(pub, out);
}

fw_err
ed25519_sign(const struct ed25519_key *k, const void *msg, size_t n,
    uint8_t sig[ED25519_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	size_t siglen = ED25519_SIG_LEN;
	fw_err e = FW_OK;

	if (!k->has_private)
		return fw_seterr(FW_ERR_KEY, "ed25519: cannot sign with a public key");
	if (n == 0)
		msg = "";	/* OpenSSL wants a pointer even for no bytes */
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return ed_ossl(FW_ERR_NOMEM, "ed25519: out of memory");
	/* Ed25519 hashes internally: the digest must be NULL. */
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, n) != 1 ||
	    siglen != ED25519_SIG_LEN)
		e = ed_ossl(FW_ERR_CRYPTO, "ed25519: signing failed");
	EVP_MD_CTX_free(ctx);
	return e;
}

fw_err
ed25519_verify(const struct ed25519_key *k, const void *msg, size_t n,
    const uint8_t sig[ED25519_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	fw_err e = FW_OK;

	if (n == 0)
		msg = "";
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return ed_ossl(FW_ERR_NOMEM, "ed25519: out of memory");
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1)
		e = ed_ossl(FW_ERR_CRYPTO, "ed25519: cannot start verification");
	/* Anything but 1 is a signature that does not verify: OpenSSL also
	 * fails (rather than answering 0) on a non-canonical S. */
	else if (EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, msg, n) != 1) {
		ERR_clear_error();
		e = fw_seterr(FW_ERR_SIGNATURE, "ed25519: signature does not verify");
	}
	EVP_MD_CTX_free(ctx);
	return e;
}

void
ed25519_free(struct ed25519_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);	/* wipes the private key */
	OPENSSL_free(k);
}

/*
 * tls.c: the office's private CA, the server's certificate, and the TLS
 * context http.c serves with (server.h, section tls.c).
 *
 * `init` makes a CA of its own (devices pin it at enrollment and use no
 * other trust anchor, PROTOCOL.md section 1) and a server certificate it
 * signs for the office's host names and the loopback addresses.  Keys are
 * ECDSA P-256: every TLS client in the field (curl, python's ssl, the
 * agent's libcurl) speaks it.  Everything goes through OpenSSL 3's own
 * APIs; key files are written by common/file.h's durable create (mode
 * 0600, never over an existing file) from a secure-memory BIO, so that no
 * copy of a private key outlives the call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "server.h"

#define TLS_PEM_MAX	(64u << 10)	/* a certificate or key file we read */
#define TLS_BACKDATE	(24 * 3600)	/* notBefore: a day back, for clock drift */
#define TLS_SERIAL_LEN	16
#define TLS_CN_MAX	64		/* X.520 ub-common-name */
/* TLS 1.2 suites: forward secrecy and AEAD only (Mozilla "intermediate"
 * less DHE).  TLS 1.3 keeps OpenSSL's default suites, all of them fine. */
#define TLS_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
			"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
			"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_GROUPS	"X25519:P-256:P-384"

/* The OpenSSL error queue as one detail message: "what: reason". */
static fw_err
tls_err(const char *what)
{
	unsigned long code = ERR_peek_last_error();
	char reason[256];

	if (code == 0) {
		ERR_clear_error();
		return fw_seterr(FW_ERR_CRYPTO, "%s: failed", what);
	}
	ERR_error_string_n(code, reason, sizeof reason);
	ERR_clear_error();
	return fw_seterr(FW_ERR_CRYPTO, "%s: %s", what, reason);
}

static int
tls_is_ip(const char *name)
{
	unsigned char a[16];

	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

fw_err
tls_check_name(const char *name)
{
	size_t len = strlen(name), label = 0;
	const char *p = name;

	if (tls_is_ip(name))
		return FW_OK;
	if (len == 0)
		return fw_seterr(FW_ERR_INVALID, "host name is empty");
	if (len > TLS_NAME_MAX)
		return fw_seterr(FW_ERR_INVALID, "host name '%.40s...' is %zu bytes, "
		    "expected at most %d", name, len, TLS_NAME_MAX);
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	/* One pass over the name's bytes. */
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return fw_seterr(FW_ERR_INVALID, "host name '%s' has "
				    "an empty label", name);
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return fw_seterr(FW_ERR_INVALID, "host name '%s': character "
			    "0x%02x not allowed, expected letters, digits, '-' and '.'",
			    name, (unsigned char)*p);
		if ((*p == '-' && label == 0) || (*p == '-' && (p[1] == '.' ||
		    p[1] == '\0')))
			return fw_seterr(FW_ERR_INVALID, "host name '%s': a label "
			    "starts or ends with '-'", name);
		if (++label > 63)
			return fw_seterr(FW_ERR_INVALID, "host name '%s': a label is "
			    "longer than 63 bytes", name);
	}
	if (label == 0)
		return fw_seterr(FW_ERR_INVALID, "host name '%s' ends with an "
		    "empty label", name);
	return FW_OK;
}

/* Read a PEM file into a memory BIO (at most TLS_PEM_MAX bytes). */
static fw_err
tls_read_bio(const char *path, BIO **out)
{
	uint8_t *data;
	size_t len;
	fw_err e;

	*out = NULL;
	if ((e = file_read_all(path, TLS_PEM_MAX, &data, &len)) != FW_OK)
		return e;
	/* BIO_new_mem_buf is read-only over our buffer; copy into a
	 * secure-memory BIO so that key bytes are wiped when it is freed. */
	if ((*out = BIO_new(BIO_s_secmem())) == NULL ||
	    BIO_write(*out, data, (int)len) != (int)len) {
		OPENSSL_cleanse(data, len);
		free(data);
		BIO_free(*out);
		*out = NULL;
		return tls_err(path);
	}
	OPENSSL_cleanse(data, len);
	free(data);
	return FW_OK;
}

static fw_err
tls_load_cert(const char *path, X509 **out)
{
	BIO *b;
	fw_err e;

	if ((e = tls_read_bio(path, &b)) != FW_OK)
		return e;
	*out = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*out == NULL)
		return fw_seterr(FW_ERR_CONFIG, "%s: not a PEM certificate", path);
	return FW_OK;
}

/* Refuse a private key file the group or others can read (as ssh and
 * ed25519_load_private do). */
static fw_err
tls_check_perms(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return file_errno(errno, path);
	if ((st.st_mode & 077) != 0)
		return fw_seterr(FW_ERR_KEY_PERMS, "%s: mode %04o, expected 0600 "
		    "(readable by group or others)", path,
		    (unsigned)(st.st_mode & 07777));
	return FW_OK;
}

static fw_err
tls_load_key(const char *path, EVP_PKEY **out)
{
	BIO *b;
	fw_err e;

	if ((e = tls_check_perms(path)) != FW_OK)
		return e;
	if ((e = tls_read_bio(path, &b)) != FW_OK)
		return e;
	*out = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*out == NULL) {
		ERR_clear_error();
		return fw_seterr(FW_ERR_KEY, "%s: not a PEM private key", path);
	}
	return FW_OK;
}

/* Refuse early, before any work, if a target exists. */
static fw_err
tls_absent(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return fw_seterr(FW_ERR_EXISTS, "%s: already exists, not overwritten",
		    path);
	if (errno != ENOENT)
		return file_errno(errno, path);
	return FW_OK;
}

/*
 * Write key (0600) and cert (0644) as PEM, durably, refusing existing
 * files; the key is written first and removed again if the certificate
 * cannot be.
 */
static fw_err
tls_write_pair(EVP_PKEY *key, X509 *cert, const char *certfile,
    const char *keyfile)
{
	BIO *kb = NULL, *cb = NULL;
	char *p;
	long n;
	fw_err e;

	if ((kb = BIO_new(BIO_s_secmem())) == NULL ||
	    (cb = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, cert)) {
		e = tls_err("PEM encoding");
		goto out;
	}
	n = BIO_get_mem_data(kb, &p);
	if ((e = file_create_durable(keyfile, p, (size_t)n, 0600)) != FW_OK)
		goto out;
	n = BIO_get_mem_data(cb, &p);
	if ((e = file_create_durable(certfile, p, (size_t)n, 0644)) != FW_OK) {
		unlink(keyfile);
		goto out;
	}
out:
	BIO_free(kb);	/* secure memory: wiped */
	BIO_free(cb);
	return e;
}

static fw_err
tls_keygen(EVP_PKEY **out)
{
	if ((*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		return tls_err("P-256 key generation");
	return FW_OK;
}

/* A new certificate: version 3, random positive serial, validity from a
 * day ago for days, subject CN=cn, O=fundwatch, and the public key. */
static fw_err
tls_cert_new(EVP_PKEY *key, const char *cn, int days, X509 **out)
{
	unsigned char serial[TLS_SERIAL_LEN];
	X509_NAME *name;
	BIGNUM *bn = NULL;
	X509 *x;

	*out = NULL;
	if ((x = X509_new()) == NULL)
		return tls_err("X509_new");
	if (RAND_bytes(serial, sizeof serial) != 1)
		goto fail;
	serial[0] &= 0x7f;	/* positive */
	serial[0] |= 0x40;	/* and the full 16 bytes long */
	if ((bn = BN_bin2bn(serial, sizeof serial, NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -TLS_BACKDATE) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL ||
	    !X509_set_pubkey(x, key))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	    (const unsigned char *)"fundwatch", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		goto fail;
	BN_free(bn);
	*out = x;
	return FW_OK;
fail:
	BN_free(bn);
	X509_free(x);
	return tls_err("certificate fields");
}

/* Add an extension written in OpenSSL's config syntax; issuer gives the
 * authority key identifier. */
static fw_err
tls_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return tls_err(OBJ_nid2sn(nid));
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok)
		return tls_err(OBJ_nid2sn(nid));
	return FW_OK;
}

fw_err
tls_make_ca(const char *certfile, const char *keyfile, const char *cn)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	fw_err e;

	if ((e = tls_absent(certfile)) != FW_OK ||
	    (e = tls_absent(keyfile)) != FW_OK)
		return e;
	if ((e = tls_keygen(&key)) != FW_OK)
		return e;
	if ((e = tls_cert_new(key, cn, TLS_CA_DAYS, &x)) != FW_OK)
		goto out;
	if (!X509_set_issuer_name(x, X509_get_subject_name(x))) {
		e = tls_err("issuer name");
		goto out;
	}
	/* The subject key identifier first: the authority key identifier of
	 * a self-signed certificate is computed from it. */
	if ((e = tls_add_ext(x, x, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0")) != FW_OK ||
	    (e = tls_add_ext(x, x, NID_key_usage,
	    "critical,keyCertSign,cRLSign")) != FW_OK ||
	    (e = tls_add_ext(x, x, NID_subject_key_identifier, "hash")) != FW_OK ||
	    (e = tls_add_ext(x, x, NID_authority_key_identifier,
	    "keyid:always")) != FW_OK)
		goto out;
	if (X509_sign(x, key, EVP_sha256()) <= 0) {
		e = tls_err("signing the CA certificate");
		goto out;
	}
	e = tls_write_pair(key, x, certfile, keyfile);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return e;
}

/* subjectAltName: the given names, then localhost and both loopbacks,
 * each once. */
static fw_err
tls_add_san(X509 *x, const char *const *names, size_t n)
{
	static const char *const fixed[] = {"localhost", "127.0.0.1", "::1"};
	const char *all[TLS_MAX_NAMES + 3];
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn;
	size_t m = 0, i, j;
	fw_err e = FW_OK;

	for (i = 0; i < n + 3; i++) {
		const char *name = i < n ? names[i] : fixed[i - n];

		for (j = 0; j < m; j++)
			if (strcasecmp(all[j], name) == 0)
				break;
		if (j == m)
			all[m++] = name;
	}
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL)
		return tls_err("subjectAltName");
	for (i = 0; i < m && e == FW_OK; i++) {
		if ((gn = GENERAL_NAME_new()) == NULL) {
			e = tls_err("subjectAltName");
			break;
		}
		if (tls_is_ip(all[i])) {
			ASN1_OCTET_STRING *ip = a2i_IPADDRESS(all[i]);

			if (ip == NULL)
				e = tls_err(all[i]);
			else
				GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		} else {
			ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

			if (dns == NULL || !ASN1_STRING_set(dns, all[i], -1)) {
				ASN1_IA5STRING_free(dns);
				e = tls_err(all[i]);
			} else
				GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
		}
		if (e != FW_OK || !sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			if (e == FW_OK)
				e = tls_err("subjectAltName");
		}
	}
	if (e == FW_OK && !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT))
		e = tls_err("subjectAltName");
	GENERAL_NAMES_free(gens);
	return e;
}

fw_err
tls_make_cert(const char *cacert, const char *cakey,
    const char *const *names, size_t n, const char *certfile,
    const char *keyfile)
{
	EVP_PKEY *cak = NULL, *key = NULL;
	X509 *ca = NULL, *x = NULL;
	fw_err e;

	if (n > TLS_MAX_NAMES)
		return fw_seterr(FW_ERR_INVALID, "%zu host names, expected at most %d",
		    n, TLS_MAX_NAMES);
	for (size_t i = 0; i < n; i++)
		if ((e = tls_check_name(names[i])) != FW_OK)
			return e;
	if ((e = tls_absent(certfile)) != FW_OK ||
	    (e = tls_absent(keyfile)) != FW_OK)
		return e;
	if ((e = tls_load_cert(cacert, &ca)) != FW_OK ||
	    (e = tls_load_key(cakey, &cak)) != FW_OK)
		goto out;
	if (X509_check_private_key(ca, cak) != 1) {
		ERR_clear_error();
		e = fw_seterr(FW_ERR_KEY, "%s does not hold the key of %s", cakey,
		    cacert);
		goto out;
	}
	if ((e = tls_keygen(&key)) != FW_OK ||
	    (e = tls_cert_new(key, n > 0 && strlen(names[0]) <= TLS_CN_MAX ?
	    names[0] : "localhost", TLS_CERT_DAYS, &x)) != FW_OK)
		goto out;
	if (!X509_set_issuer_name(x, X509_get_subject_name(ca))) {
		e = tls_err("issuer name");
		goto out;
	}
	if ((e = tls_add_ext(x, ca, NID_basic_constraints,
	    "critical,CA:FALSE")) != FW_OK ||
	    (e = tls_add_ext(x, ca, NID_key_usage,
	    "critical,digitalSignature")) != FW_OK ||
	    (e = tls_add_ext(x, ca, NID_ext_key_usage, "serverAuth")) != FW_OK ||
	    (e = tls_add_ext(x, ca, NID_subject_key_identifier, "hash")) != FW_OK ||
	    (e = tls_add_ext(x, ca, NID_authority_key_identifier,
	    "keyid:always")) != FW_OK ||
	    (e = tls_add_san(x, names, n)) != FW_OK)
		goto out;
	if (X509_sign(x, cak, EVP_sha256()) <= 0) {
		e = tls_err("signing the server certificate");
		goto out;
	}
	e = tls_write_pair(key, x, certfile, keyfile);
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cak);
	return e;
}

fw_err
tls_fingerprint(const char *certfile, char out[TLS_FINGERPRINT_LEN + 1])
{
	static const char hexd[] = "0123456789ABCDEF";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	X509 *x;
	fw_err e;

	if ((e = tls_load_cert(certfile, &x)) != FW_OK)
		return e;
	if (!X509_digest(x, EVP_sha256(), md, &len) || len != 32) {
		X509_free(x);
		return tls_err("certificate digest");
	}
	X509_free(x);
	for (unsigned int i = 0; i < len; i++) {
		out[3 * i] = hexd[md[i] >> 4];
		out[3 * i + 1] = hexd[md[i] & 15];
		out[3 * i + 2] = i + 1 < len ? ':' : '\0';
	}
	return FW_OK;
}

fw_err
tls_server_ctx(const char *certfile, const char *keyfile, SSL_CTX **out)
{
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx;
	fw_err e;

	*out = NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return tls_err("SSL_CTX_new");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) ||
	    !SSL_CTX_set1_groups_list(ctx, TLS_GROUPS)) {
		e = tls_err("TLS settings");
		goto fail;
	}
	/*
	 * No compression (CRIME), no renegotiation (a client-driven CPU
	 * sink), our cipher order.  Unexpected EOF: clients may close
	 * without close_notify; HTTP framing (Content-Length) detects a
	 * truncated request, so it is treated as a close.  Idle connections
	 * give their read and write buffers back (memory stays bounded by
	 * the number of busy connections).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, certfile) != 1) {
		e = tls_err(certfile);
		goto fail;
	}
	if ((e = tls_load_key(keyfile, &key)) != FW_OK)
		goto fail;
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		e = fw_seterr(FW_ERR_KEY, "%s does not hold the key of %s", keyfile,
		    certfile);
		goto fail;
	}
	EVP_PKEY_free(key);
	*out = ctx;
	return FW_OK;
fail:
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return e;
}

/*
 * test_tls.c: server/tls.c, the private CA and the server certificate that
 * `init` makes, and the server's TLS context.  The chain is checked with
 * OpenSSL's own verifier (an X509_STORE holding only our CA), and a real
 * handshake runs in-process over a socketpair with a client that trusts
 * only that CA and checks the address 127.0.0.1, as a device does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../server/server.h"

#define HS_ROUNDS 200	/* handshake pump passes; a handshake needs < 10 */

struct tdir {
	char dir[64];
	char ca[128], cakey[128], cert[128], key[128];
	char ca2[128], ca2key[128];
};

static const char *names[] = {"fw.example.org", "10.1.2.3", "*.office.example"};

static int
setup(void **state)
{
	struct tdir *t = calloc(1, sizeof *t);
	const char *tmp = getenv("TMPDIR");

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof t->dir, "%s/fwtls.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->ca, sizeof t->ca, "%s/ca.pem", t->dir);
	snprintf(t->cakey, sizeof t->cakey, "%s/ca.key", t->dir);
	snprintf(t->cert, sizeof t->cert, "%s/server.pem", t->dir);
	snprintf(t->key, sizeof t->key, "%s/server.key", t->dir);
	snprintf(t->ca2, sizeof t->ca2, "%s/other-ca.pem", t->dir);
	snprintf(t->ca2key, sizeof t->ca2key, "%s/other-ca.key", t->dir);
	if (tls_make_ca(t->ca, t->cakey, "fundwatch test CA") != FW_OK ||
	    tls_make_cert(t->ca, t->cakey, names, 3, t->cert, t->key) != FW_OK ||
	    tls_make_ca(t->ca2, t->ca2key, "another CA") != FW_OK) {
		fprintf(stderr, "setup: %s\n", fw_errmsg());
		return -1;
	}
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tdir *t = *state;
	const char *files[] = {t->ca, t->cakey, t->cert, t->key, t->ca2, t->ca2key};

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(files[i]);
	rmdir(t->dir);
	free(t);
	return 0;
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static int
verify_with(const char *cafile, const char *certfile)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *ca = load_cert(cafile), *x = load_cert(certfile);
	int ok;

	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, x, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(x);
	ERR_clear_error();
	return ok;
}

static void
test_chain_verifies(void **state)
{
	struct tdir *t = *state;
	X509 *ca = load_cert(t->ca);

	assert_int_equal(verify_with(t->ca, t->cert), 1);
	assert_int_equal(verify_with(t->ca2, t->cert), 0);
	/* The CA is a CA, signs certificates, and is self-signed. */
	assert_int_equal(X509_check_ca(ca), 1);
	assert_true((X509_get_key_usage(ca) & KU_KEY_CERT_SIGN) != 0);
	assert_int_equal(X509_check_issued(ca, ca), X509_V_OK);
	assert_int_equal(X509_get_version(ca), X509_VERSION_3);
	X509_free(ca);
}

static void
test_names(void **state)
{
	struct tdir *t = *state;
	X509 *x = load_cert(t->cert);

	assert_int_equal(X509_check_host(x, "fw.example.org", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "a.office.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "evil.example.org", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.4", 0), 0);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true((X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0);
	X509_free(x);
}

static void
test_modes(void **state)
{
	struct tdir *t = *state;
	struct stat st;

	assert_int_equal(stat(t->cakey, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(t->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(t->ca, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void
file_bytes(const char *path, char *out, size_t outsz)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, outsz - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void
test_no_overwrite(void **state)
{
	struct tdir *t = *state;
	char before[8192], after[8192], path[160];

	file_bytes(t->cakey, before, sizeof before);
	assert_int_equal(tls_make_ca(t->ca, t->cakey, "again"), FW_ERR_EXISTS);
	assert_int_equal(tls_make_cert(t->ca, t->cakey, NULL, 0, t->cert, t->key),
	    FW_ERR_EXISTS);
	file_bytes(t->cakey, after, sizeof after);
	assert_string_equal(before, after);
	/* Only one of the pair existing is refused too, and the other one is
	 * not created. */
	snprintf(path, sizeof path, "%s/lone.key", t->dir);
	assert_int_equal(tls_make_ca(t->ca, path, "again"), FW_ERR_EXISTS);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_check_name(void **state)
{
	(void)state;
	assert_int_equal(tls_check_name("fw.example.org"), FW_OK);
	assert_int_equal(tls_check_name("*.example.org"), FW_OK);
	assert_int_equal(tls_check_name("a-b.c"), FW_OK);
	assert_int_equal(tls_check_name("192.168.1.10"), FW_OK);
	assert_int_equal(tls_check_name("fe80::1"), FW_OK);
	assert_int_equal(tls_check_name(""), FW_ERR_INVALID);
	assert_int_equal(tls_check_name("bad_name"), FW_ERR_INVALID);
	assert_int_equal(tls_check_name("a..b"), FW_ERR_INVALID);
	assert_int_equal(tls_check_name("-a.b"), FW_ERR_INVALID);
	assert_int_equal(tls_check_name("a-.b"), FW_ERR_INVALID);
	assert_int_equal(tls_check_name("a.b."), FW_ERR_INVALID);
	assert_int_equal(tls_check_name("a,DNS:evil"), FW_ERR_INVALID);
	assert_int_equal(tls_check_name("x.*.org"), FW_ERR_INVALID);
	{
		char label[80];

		memset(label, 'a', 64);
		label[64] = '\0';
		assert_int_equal(tls_check_name(label), FW_ERR_INVALID);
		label[63] = '\0';
		assert_int_equal(tls_check_name(label), FW_OK);
	}
}

static void
test_fingerprint(void **state)
{
	struct tdir *t = *state;
	char fp[TLS_FINGERPRINT_LEN + 1], want[TLS_FINGERPRINT_LEN + 1];
	unsigned char md[32];
	unsigned int len;
	X509 *x = load_cert(t->ca);

	assert_int_equal(tls_fingerprint(t->ca, fp), FW_OK);
	assert_int_equal(strlen(fp), TLS_FINGERPRINT_LEN);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &len), 1);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(want + 3 * i, sizeof want - 3 * i, i < 31 ? "%02X:" : "%02X",
		    md[i]);
	assert_string_equal(fp, want);
	X509_free(x);
}

static void
test_ctx_refuses(void **state)
{
	struct tdir *t = *state;
	SSL_CTX *ctx = NULL;
	char loose[160];
	char buf[8192];
	int fd;

	/* A key readable by others. */
	snprintf(loose, sizeof loose, "%s/loose.key", t->dir);
	file_bytes(t->key, buf, sizeof buf);
	fd = open(loose, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	fchmod(fd, 0644);
	close(fd);
	assert_int_equal(tls_server_ctx(t->cert, loose, &ctx), FW_ERR_KEY_PERMS);
	assert_null(ctx);
	unlink(loose);
	/* The CA's key with the server's certificate. */
	assert_int_equal(tls_server_ctx(t->cert, t->cakey, &ctx), FW_ERR_KEY);
	assert_null(ctx);
	assert_int_not_equal(tls_server_ctx(t->cert, loose, &ctx), FW_OK);
}

/* Run a handshake between ssl_c and ssl_s over a nonblocking socketpair:
 * 1 if both sides complete, 0 if either fails. */
static int
handshake(SSL *c, SSL *s)
{
	int sv[2], done_c = 0, done_s = 0, r, ok = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	SSL_set_fd(c, sv[0]);
	SSL_set_fd(s, sv[1]);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < HS_ROUNDS && !(done_c && done_s); i++) {
		if (!done_c) {
			r = SSL_do_handshake(c);
			if (r == 1)
				done_c = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(c, r) != SSL_ERROR_WANT_WRITE)
				goto out;
		}
		if (!done_s) {
			r = SSL_do_handshake(s);
			if (r == 1)
				done_s = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(s, r) != SSL_ERROR_WANT_WRITE)
				goto out;
		}
	}
	ok = done_c && done_s;
out:
	ERR_clear_error();
	close(sv[0]);
	close(sv[1]);
	return ok;
}

/* A handshake with a client trusting cafile, checking ip, speaking at
 * most maxver (0: any); *version gets the negotiated version.  With
 * control, the server's minimum version is lowered: it shows that the
 * refusal of old versions is the server's doing, not the client's. */
static int
try_client_ex(struct tdir *t, const char *cafile, const char *ip, int maxver,
    int *version, int control)
{
	SSL_CTX *sctx = NULL, *cctx;
	SSL *s, *c;
	int ok;

	assert_int_equal(tls_server_ctx(t->cert, t->key, &sctx), FW_OK);
	if (control) {
		SSL_CTX_set_security_level(sctx, 0);
		SSL_CTX_set_min_proto_version(sctx, TLS1_VERSION);
		SSL_CTX_set_cipher_list(sctx, "ALL:@SECLEVEL=0");
	}
	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cctx);
	/* Only our CA: no default paths. */
	assert_int_equal(SSL_CTX_load_verify_locations(cctx, cafile, NULL), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	if (maxver != 0) {
		/* Give old versions every chance on the client side, so
		 * that only the server's minimum refuses them. */
		SSL_CTX_set_security_level(cctx, 0);
		SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(cctx, maxver);
		SSL_CTX_set_cipher_list(cctx, "ALL:@SECLEVEL=0");
	}
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c), ip), 1);
	ok = handshake(c, s);
	if (version != NULL)
		*version = ok ? SSL_version(c) : 0;
	if (ok)
		assert_int_equal(SSL_get_verify_result(c), X509_V_OK);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return ok;
}

static int
try_client(struct tdir *t, const char *cafile, const char *ip, int maxver,
    int *version)
{
	return try_client_ex(t, cafile, ip, maxver, version, 0);
}

static void
test_handshake(void **state)
{
	struct tdir *t = *state;
	int v = 0;

	assert_int_equal(try_client(t, t->ca, "127.0.0.1", 0, &v), 1);
	assert_int_equal(v, TLS1_3_VERSION);
	assert_int_equal(try_client(t, t->ca, "::1", TLS1_2_VERSION, &v), 1);
	assert_int_equal(v, TLS1_2_VERSION);
}

static void
test_handshake_refused(void **state)
{
	struct tdir *t = *state;

	/* Another CA, an address the certificate does not name, TLS 1.1. */
	assert_int_equal(try_client(t, t->ca2, "127.0.0.1", 0, NULL), 0);
	assert_int_equal(try_client(t, t->ca, "10.9.9.9", 0, NULL), 0);
	assert_int_equal(try_client(t, t->ca, "127.0.0.1", TLS1_1_VERSION, NULL), 0);
	assert_int_equal(try_client(t, t->ca, "127.0.0.1", TLS1_VERSION, NULL), 0);
	/* Control: the same TLS 1.1 client gets through a server whose
	 * minimum is lowered, so the refusal above is the server's. */
	assert_int_equal(try_client_ex(t, t->ca, "127.0.0.1", TLS1_1_VERSION, NULL,
	    1), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_verifies),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_no_overwrite),
		cmocka_unit_test(test_check_name),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_ctx_refuses),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_handshake_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

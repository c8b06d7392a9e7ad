/*
 * test_agent_sync.c: the agent's sync logic that needs no network: the
 * backoff schedule (bounds, cap, jitter range), receipt verification
 * (refuses another key, another bundle, another device, a missing, extra
 * or repeated observation, an altered receipt), downlink message
 * verification, and the request signing string and enrollment proof
 * string byte for byte against the spec, built independently here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/agent.h"

#define BUNDLE_ID "5d0c6d1f1b0a6e3e3f8f0d8b8b1d8e4a1c2b3a4d5e6f708192a3b4c5d6e7f809"
#define DEVICE_ID "0123456789abcdef0123456789abcdef"
#define OBS1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OBS2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define OBS3 "cccccccccccccccccccccccccccccccc"

/* ---- backoff ---------------------------------------------------------- */

static int64_t
expected_ceiling(unsigned f)
{
	int64_t d = SYNC_BACKOFF_MIN_MS;

	for (unsigned i = 1; i < f && d < SYNC_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d > SYNC_BACKOFF_MAX_MS ? SYNC_BACKOFF_MAX_MS : d;
}

static void
test_backoff_bounds(void **state)
{
	static const uint32_t rnds[] = {0, 1, 2, 499, 500, 501, 12345, 0x7fffffffu,
	    0x80000000u, 0xfffffffeu, 0xffffffffu};
	int64_t prev_lo = 0;

	(void)state;
	assert_int_equal(SYNC_BACKOFF_MIN_MS, 1000);
	assert_int_equal(SYNC_BACKOFF_MAX_MS, 900000);
	for (unsigned f = 1; f <= 70; f++) {
		int64_t d = expected_ceiling(f), lo = d / 2;
		for (size_t i = 0; i < sizeof rnds / sizeof rnds[0]; i++) {
			int64_t v = sync_backoff_ms(f, rnds[i]);
			assert_true(v >= lo);
			assert_true(v <= d);
			assert_true(v <= SYNC_BACKOFF_MAX_MS);
			assert_true(v >= SYNC_BACKOFF_MIN_MS / 2);
		}
		/* The lower bound never shrinks as failures grow. */
		assert_true(lo >= prev_lo);
		prev_lo = lo;
		assert_int_equal(sync_backoff_ms(f, 0), lo);
	}
	/* The schedule: 1 s, 2 s, 4 s ... doubling until the 15 min cap. */
	assert_int_equal(expected_ceiling(1), 1000);
	assert_int_equal(expected_ceiling(2), 2000);
	assert_int_equal(expected_ceiling(5), 16000);
	assert_int_equal(expected_ceiling(10), 512000);
	assert_int_equal(expected_ceiling(11), 900000);
	assert_int_equal(sync_backoff_ms(11, 0), 450000);
	assert_int_equal(sync_backoff_ms(1000, 0xffffffffu) <= 900000, 1);
	/* failures 0 is read as the first. */
	assert_true(sync_backoff_ms(0, 7) >= 500 && sync_backoff_ms(0, 7) <= 1000);
}

static void
test_backoff_jitter(void **state)
{
	int64_t lo = INT64_MAX, hi = 0;
	int distinct = 0;
	int64_t seen[64] = {0};
	uint32_t x = 2463534242u;

	(void)state;
	/* xorshift: spread rnd over its range; the delays must spread over
	 * [d/2, d] too, not stick to one value. */
	for (int i = 0; i < 4000; i++) {
		int64_t v;
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		v = sync_backoff_ms(4, x);
		assert_true(v >= 4000 && v <= 8000);
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		if (distinct < 64) {
			int k;
			for (k = 0; k < distinct && seen[k] != v; k++)
				;
			if (k == distinct)
				seen[distinct++] = v;
		}
	}
	assert_true(lo < 4200);
	assert_true(hi > 7800);
	assert_int_equal(distinct, 64);
}

/* ---- receipts ---------------------------------------------------------- */

struct keys {
	struct ed25519_key *server, *other;
};

static int
keys_setup(void **state)
{
	struct keys *k = calloc(1, sizeof *k);

	if (k == NULL || ed25519_generate(&k->server) != FW_OK ||
	    ed25519_generate(&k->other) != FW_OK)
		return -1;
	*state = k;
	return 0;
}

static int
keys_teardown(void **state)
{
	struct keys *k = *state;

	ed25519_free(k->server);
	ed25519_free(k->other);
	free(k);
	return 0;
}

/* A receipt answer as the server makes it, signed by signer: the last nref
 * of the n ids are refused (with error code `code`, NULL for none). */
static void
make_receipt_r(const struct ed25519_key *signer, const char *bundle, const char *device,
    const char *const *obs, size_t n, size_t nref, const char *code, struct buf *out,
    int alter)
{
	json_t *list = json_array(), *refused = json_array(), *r, *ans;
	uint8_t sig[ED25519_SIG_LEN];
	char sig64[128];
	struct buf canon;

	for (size_t i = 0; i < n - nref; i++)
		json_array_append_new(list, json_string(obs[i]));
	for (size_t i = n - nref; i < n; i++)
		json_array_append_new(refused, code ? json_pack("{ss ss ss}", "observation",
		    obs[i], "error", code, "message", "refused") : json_pack("{ss}",
		    "observation", obs[i]));
	r = json_pack("{sI ss ss so so ss sI ss}", "version", (json_int_t)1, "bundle", bundle,
	    "device", device, "observations", list, "refused", refused,
	    "received", "2026-11-25T08:00:00Z",
	    "audit_seq", (json_int_t)42, "audit_hash",
	    "1111111111111111111111111111111111111111111111111111111111111111");
	assert_non_null(r);
	buf_init(&canon, 1u << 20);
	assert_int_equal(jsonx_dump_canonical(r, &canon), FW_OK);
	assert_int_equal(ed25519_sign(signer, canon.data, canon.len, sig), FW_OK);
	buf_free(&canon);
	base64_encode(sig, sizeof sig, sig64);
	if (alter)	/* after signing: the server's answer was changed */
		json_object_set_new(r, "audit_seq", json_integer(43));
	ans = json_pack("{ss so ss}", "state", "committed", "receipt", r, "signature", sig64);
	assert_non_null(ans);
	buf_init(out, 1u << 20);
	assert_int_equal(jsonx_dump_canonical(ans, out), FW_OK);
	json_decref(ans);
}

static void
make_receipt(const struct ed25519_key *signer, const char *bundle, const char *device,
    const char *const *obs, size_t n, struct buf *out, int alter)
{
	make_receipt_r(signer, bundle, device, obs, n, 0, NULL, out, alter);
}

static fw_err
verify(const struct keys *k, const char *const *obs, size_t n, const struct buf *ans)
{
	return sync_verify_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, n, ans->data,
	    ans->len);
}

static void
test_receipt_good(void **state)
{
	const struct keys *k = *state;
	const char *obs[] = {OBS1, OBS2, OBS3};
	const char *shuffled[] = {OBS3, OBS1, OBS2};
	struct buf ans;

	make_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 3, &ans, 0);
	assert_int_equal(verify(k, obs, 3, &ans), FW_OK);
	/* The order of the bundle's ids does not matter, only the set. */
	assert_int_equal(verify(k, shuffled, 3, &ans), FW_OK);
	buf_free(&ans);
}

/* Observations the office's rules refuse are named apart; together with
 * those stored they are the bundle. */
static void
test_receipt_refused(void **state)
{
	const struct keys *k = *state;
	const char *obs[] = {OBS1, OBS2, OBS3};
	const char *twice[] = {OBS1, OBS2, OBS2};
	struct buf ans;

	make_receipt_r(k->server, BUNDLE_ID, DEVICE_ID, obs, 3, 1, "not_appointed", &ans, 0);
	assert_int_equal(verify(k, obs, 3, &ans), FW_OK);
	buf_free(&ans);
	make_receipt_r(k->server, BUNDLE_ID, DEVICE_ID, obs, 3, 3, "policy", &ans, 0);
	assert_int_equal(verify(k, obs, 3, &ans), FW_OK);
	buf_free(&ans);
	/* A refusal without its error code. */
	make_receipt_r(k->server, BUNDLE_ID, DEVICE_ID, obs, 3, 1, NULL, &ans, 0);
	assert_int_equal(verify(k, obs, 3, &ans), FW_ERR_FIELD_TYPE);
	buf_free(&ans);
	/* One id both stored and refused: the third is then missing. */
	make_receipt_r(k->server, BUNDLE_ID, DEVICE_ID, twice, 3, 1, "policy", &ans, 0);
	assert_int_equal(verify(k, obs, 3, &ans), FW_ERR_FIELD_VALUE);
	buf_free(&ans);
}

static void
test_receipt_other_key(void **state)
{
	const struct keys *k = *state;
	const char *obs[] = {OBS1, OBS2};
	struct buf ans;

	make_receipt(k->other, BUNDLE_ID, DEVICE_ID, obs, 2, &ans, 0);
	assert_int_equal(verify(k, obs, 2, &ans), FW_ERR_SIGNATURE);
	assert_non_null(strstr(fw_errmsg(), "receipt key"));
	buf_free(&ans);
}

static void
test_receipt_other_bundle(void **state)
{
	const struct keys *k = *state;
	const char *obs[] = {OBS1, OBS2};
	struct buf ans;

	make_receipt(k->server,
	    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", DEVICE_ID,
	    obs, 2, &ans, 0);
	assert_int_equal(verify(k, obs, 2, &ans), FW_ERR_FIELD_VALUE);
	assert_non_null(strstr(fw_errmsg(), "bundle"));
	buf_free(&ans);
	make_receipt(k->server, BUNDLE_ID, "fedcba9876543210fedcba9876543210", obs, 2, &ans,
	    0);
	assert_int_equal(verify(k, obs, 2, &ans), FW_ERR_FIELD_VALUE);
	assert_non_null(strstr(fw_errmsg(), "device"));
	buf_free(&ans);
}

static void
test_receipt_missing_obs(void **state)
{
	const struct keys *k = *state;
	const char *obs[] = {OBS1, OBS2, OBS3};
	const char *twice[] = {OBS1, OBS1, OBS2};
	const char *other[] = {OBS1, OBS2, "dddddddddddddddddddddddddddddddd"};
	struct buf ans;

	/* Names two of the bundle's three. */
	make_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 2, &ans, 0);
	assert_int_not_equal(verify(k, obs, 3, &ans), FW_OK);
	buf_free(&ans);
	/* Names three, one of them twice. */
	make_receipt(k->server, BUNDLE_ID, DEVICE_ID, twice, 3, &ans, 0);
	assert_int_equal(verify(k, obs, 3, &ans), FW_ERR_FIELD_VALUE);
	buf_free(&ans);
	/* Names three, one not in the bundle: the third is missing. */
	make_receipt(k->server, BUNDLE_ID, DEVICE_ID, other, 3, &ans, 0);
	assert_int_equal(verify(k, obs, 3, &ans), FW_ERR_FIELD_VALUE);
	assert_non_null(strstr(fw_errmsg(), "not in the bundle"));
	buf_free(&ans);
	/* Names more than the bundle holds. */
	make_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 3, &ans, 0);
	assert_int_not_equal(verify(k, obs, 2, &ans), FW_OK);
	buf_free(&ans);
}

static void
test_receipt_altered(void **state)
{
	const struct keys *k = *state;
	const char *obs[] = {OBS1};
	struct buf ans;
	char *p;

	make_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 1, &ans, 1);
	assert_int_equal(verify(k, obs, 1, &ans), FW_ERR_SIGNATURE);
	buf_free(&ans);
	/* A flipped byte of the received time. */
	make_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 1, &ans, 0);
	p = strstr((char *)ans.data, "08:00:00Z");
	assert_non_null(p);
	p[1] = '9';
	assert_int_equal(verify(k, obs, 1, &ans), FW_ERR_SIGNATURE);
	buf_free(&ans);
	/* Not committed, not JSON, no signature. */
	{
		static const char pending[] = "{\"state\":\"pending\",\"receipt\":{},"
		    "\"signature\":\"\"}";
		static const char nosig[] = "{\"state\":\"committed\",\"receipt\":{}}";
		assert_int_equal(sync_verify_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 1,
		    (const uint8_t *)pending, strlen(pending)), FW_ERR_FIELD_VALUE);
		assert_int_equal(sync_verify_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 1,
		    (const uint8_t *)"nope", 4), FW_ERR_JSON);
		assert_int_equal(sync_verify_receipt(k->server, BUNDLE_ID, DEVICE_ID, obs, 1,
		    (const uint8_t *)nosig, strlen(nosig)), FW_ERR_FIELD_MISSING);
	}
}

/* ---- feed messages ------------------------------------------------------ */

static json_t *
make_message(const struct ed25519_key *signer, const char *device, const char *kind,
    json_int_t cursor)
{
	json_t *m = json_pack("{sI ss ss ss s{ss}}", "cursor", cursor, "device", device,
	    "kind", kind, "created", "2026-11-25T08:00:00Z", "body", "reason", "lost");
	uint8_t sig[ED25519_SIG_LEN];
	char sig64[128];
	struct buf canon;

	assert_non_null(m);
	buf_init(&canon, 1u << 20);
	assert_int_equal(jsonx_dump_canonical(m, &canon), FW_OK);
	assert_int_equal(ed25519_sign(signer, canon.data, canon.len, sig), FW_OK);
	buf_free(&canon);
	base64_encode(sig, sizeof sig, sig64);
	json_object_set_new(m, "signature", json_string(sig64));
	return m;
}

static void
test_feed_message(void **state)
{
	const struct keys *k = *state;
	const char *kind = NULL;
	uint64_t cursor = 0;
	json_t *m;

	m = make_message(k->server, DEVICE_ID, "revocation", 7);
	assert_int_equal(sync_verify_message(k->server, DEVICE_ID, m, &cursor, &kind), FW_OK);
	assert_int_equal(cursor, 7);
	assert_string_equal(kind, "revocation");
	/* Another key. */
	assert_int_equal(sync_verify_message(k->other, DEVICE_ID, m, &cursor, &kind),
	    FW_ERR_SIGNATURE);
	/* Altered body. */
	json_object_set_new(json_object_get(m, "body"), "reason", json_string("found"));
	assert_int_equal(sync_verify_message(k->server, DEVICE_ID, m, &cursor, &kind),
	    FW_ERR_SIGNATURE);
	json_decref(m);
	/* Signed, but for another device. */
	m = make_message(k->server, "fedcba9876543210fedcba9876543210", "notice", 3);
	assert_int_equal(sync_verify_message(k->server, DEVICE_ID, m, &cursor, &kind),
	    FW_ERR_FIELD_VALUE);
	/* No signature. */
	json_object_del(m, "signature");
	assert_int_equal(sync_verify_message(k->server, DEVICE_ID, m, &cursor, &kind),
	    FW_ERR_FIELD_MISSING);
	json_decref(m);
	/* A signed message with cursor 0 is still refused. */
	m = make_message(k->server, DEVICE_ID, "notice", 0);
	assert_int_equal(sync_verify_message(k->server, DEVICE_ID, m, &cursor, &kind),
	    FW_ERR_FIELD_RANGE);
	json_decref(m);
}

/* ---- signing string ---------------------------------------------------- */

static void
test_signing_string(void **state)
{
	/* Built by hand from PROTOCOL.md section 4; the hashes are the
	 * well-known SHA-256 of "hello" and of the empty string. */
	static const char want_put[] =
	    "fundwatch-request-v1\n"
	    "PUT\n"
	    "/v1/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	    "?offset=1048576\n"
	    "1764057600\n"
	    "00112233445566778899aabbccddeeff\n"
	    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n";
	static const char want_get[] =
	    "fundwatch-request-v1\n"
	    "GET\n"
	    "/v1/feed?after=0&limit=100\n"
	    "1764057600\n"
	    "ffeeddccbbaa99887766554433221100\n"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n";
	const char *target = "/v1/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15"
	    "b0f00a08?offset=1048576";
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(net_signing_string("PUT", target, "1764057600",
	    "00112233445566778899aabbccddeeff", "hello", 5, &b), FW_OK);
	assert_int_equal(b.len, strlen(want_put));
	assert_memory_equal(b.data, want_put, b.len);
	buf_reset(&b);
	assert_int_equal(net_signing_string("GET", "/v1/feed?after=0&limit=100",
	    "1764057600", "ffeeddccbbaa99887766554433221100", NULL, 0, &b), FW_OK);
	assert_int_equal(b.len, strlen(want_get));
	assert_memory_equal(b.data, want_get, b.len);
	buf_free(&b);
}

static void
test_sign_headers(void **state)
{
	const struct keys *k = *state;
	static const char want[] =
	    "fundwatch-request-v1\n"
	    "POST\n"
	    "/v1/sync/commit\n"
	    "1764057600\n"
	    "0123456789abcdef0123456789abcdef\n"
	    "%s\n";
	const char *body = "{\"bundle\":\"" BUNDLE_ID "\"}";
	char hash[SHA256_HEX + 1], msg[512];
	uint8_t sig[ED25519_SIG_LEN];
	struct net_auth au;
	size_t n = 0;

	assert_int_equal(net_sign(k->server, "POST", "/v1/sync/commit", 1764057600,
	    "0123456789abcdef0123456789abcdef", body, strlen(body), &au), FW_OK);
	assert_string_equal(au.time, "1764057600");
	assert_string_equal(au.nonce, "0123456789abcdef0123456789abcdef");
	assert_int_equal(base64_decode(au.signature, strlen(au.signature), 1, sig, sizeof sig,
	    &n), FW_OK);
	assert_int_equal(n, ED25519_SIG_LEN);
	assert_int_equal(sha256_hex(body, strlen(body), hash), FW_OK);
	snprintf(msg, sizeof msg, want, hash);
	assert_int_equal(ed25519_verify(k->server, msg, strlen(msg), sig), FW_OK);
	/* One byte off in the body and the signature no longer holds. */
	assert_int_equal(ed25519_verify(k->other, msg, strlen(msg), sig), FW_ERR_SIGNATURE);
	msg[strlen(msg) - 2] ^= 1;
	assert_int_equal(ed25519_verify(k->server, msg, strlen(msg), sig), FW_ERR_SIGNATURE);
	/* A nonce that is not 32 lowercase hex is refused. */
	assert_int_equal(net_sign(k->server, "GET", "/v1/feed", 1, "ABC", NULL, 0, &au),
	    FW_ERR_INVALID);
}

static void
test_enroll_proof(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(enroll_proof_string("7K3M-Q9TX-2HVD",
	    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=", &b), FW_OK);
	assert_string_equal((const char *)b.data, "fundwatch-enroll-v1\n7K3M-Q9TX-2HVD\n"
	    "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n");
	buf_free(&b);
}

/* ---- classification and URLs ---------------------------------------------- */

static void
test_retry_classes(void **state)
{
	struct net_answer a;

	(void)state;
	net_answer_init(&a);
	a.transport = 1;
	a.err = FW_ERR_IO;
	assert_true(net_retryable(&a));		/* network failure */
	a.tls = 1;
	a.err = FW_ERR_CRYPTO;
	assert_false(net_retryable(&a));	/* certificate: never */
	a.transport = a.tls = 0;
	for (long st = 500; st <= 599; st += 3) {
		a.status = st;
		a.err = FW_ERR_INTERNAL;
		assert_true(net_retryable(&a));
	}
	a.status = 429;
	a.err = FW_ERR_RATE;
	assert_true(net_retryable(&a));
	a.status = 401;
	a.err = FW_ERR_CLOCK_SKEW;
	assert_false(net_retryable(&a));	/* corrected, not retried unchanged */
	a.status = 409;
	a.err = FW_ERR_CONFLICT;
	assert_false(net_retryable(&a));
	a.status = 403;
	a.err = FW_ERR_REVOKED;
	assert_false(net_retryable(&a));
	a.status = 400;
	a.err = FW_ERR_FIELD_VALUE;
	assert_false(net_retryable(&a));
	a.interrupted = 1;
	a.status = 0;
	a.transport = 1;
	a.err = FW_ERR_UNAVAILABLE;
	assert_false(net_retryable(&a));
	net_answer_clear(&a);
}

static void
test_net_url(void **state)
{
	struct net_opts o = {0};
	struct net *n = NULL;

	(void)state;
	o.ca_path = "/nonexistent/ca.pem";
	o.url = "http://127.0.0.1:8443";
	assert_int_equal(net_new(&o, &n), FW_ERR_CONFIG);
	assert_null(n);
	o.url = "https://";
	assert_int_equal(net_new(&o, &n), FW_ERR_CONFIG);
	o.url = "https://127.0.0.1:1/?x=1";
	assert_int_equal(net_new(&o, &n), FW_ERR_CONFIG);
	o.url = "https://127.0.0.1:8443/";
	assert_int_equal(net_new(&o, &n), FW_OK);
	net_free(n);
	o.ca_path = NULL;
	assert_int_equal(net_new(&o, &n), FW_ERR_CONFIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_jitter),
		cmocka_unit_test_setup_teardown(test_receipt_good, keys_setup, keys_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_refused, keys_setup, keys_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_other_key, keys_setup,
		    keys_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_other_bundle, keys_setup,
		    keys_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_missing_obs, keys_setup,
		    keys_teardown),
		cmocka_unit_test_setup_teardown(test_receipt_altered, keys_setup,
		    keys_teardown),
		cmocka_unit_test_setup_teardown(test_feed_message, keys_setup, keys_teardown),
		cmocka_unit_test(test_signing_string),
		cmocka_unit_test_setup_teardown(test_sign_headers, keys_setup, keys_teardown),
		cmocka_unit_test(test_enroll_proof),
		cmocka_unit_test(test_retry_classes),
		cmocka_unit_test(test_net_url),
	};

	log_init("test_agent_sync", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * enroll.c: `fundwatch-agent enroll` (proto/PROTOCOL.md section 3).
 *
 * Makes the device's Ed25519 key, proves to the office that it holds it
 * (a signature over the proof string with the one-time code), and hands
 * what the office answers (device id, supervisor, office recipient,
 * receipt key, taxonomy, chunk size, clock) to store.c, which records it
 * durably with the pinned CA.  The request goes through net.c, unsigned,
 * over TLS verified against the CA given with --ca (or the one already
 * pinned): never against the system's trust store.
 *
 * The new key is written (0600) to device.key.new before the request, so
 * that a key the office accepted is never only in memory; it replaces
 * device.key (the old one overwritten and unlinked by store.c) only once
 * the office said yes.  An enrolled device refuses to enroll again unless
 * --force: its pending observations then go out signed by the new key.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent.h"

#define ENROLL_CA_MAX	(1u << 20)

fw_err
enroll_proof_string(const char *code, const char *pubkey_b64, struct buf *out)
{
	return buf_printf(out, "fundwatch-enroll-v1\n%s\n%s\n", code, pubkey_b64);
}

/* Read a CA file and check that it holds at least one PEM certificate. */
static fw_err
enroll_read_ca(const char *path, uint8_t **pem, size_t *len)
{
	BIO *bio;
	X509 *x;
	fw_err e;

	if ((e = file_read_all(path, ENROLL_CA_MAX, pem, len)) != FW_OK)
		return fw_errctx(e, "--ca %s", path);
	if ((bio = BIO_new_mem_buf(*pem, (int)*len)) == NULL) {
		free(*pem);
		*pem = NULL;
		return fw_seterr(FW_ERR_NOMEM, "--ca: out of memory");
	}
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x == NULL) {
		free(*pem);
		*pem = NULL;
		return fw_seterr(FW_ERR_CONFIG, "--ca %s: no PEM certificate in it (expected "
		    "the office's CA, tls/ca.pem of the server's data folder)", path);
	}
	X509_free(x);
	return FW_OK;
}

/* The request body: {"code","proof","public_key"} in canonical form. */
static fw_err
enroll_body(const struct ed25519_key *k, const char *code, struct buf *out)
{
	uint8_t pub[ED25519_PUB_LEN], sig[ED25519_SIG_LEN];
	char pub64[64], sig64[128];
	struct buf proof;
	json_t *o;
	fw_err e;

	if ((e = ed25519_public(k, pub)) != FW_OK)
		return e;
	base64_encode(pub, sizeof pub, pub64);
	buf_init(&proof, 256);
	if ((e = enroll_proof_string(code, pub64, &proof)) == FW_OK)
		e = ed25519_sign(k, proof.data, proof.len, sig);
	buf_free(&proof);
	if (e != FW_OK)
		return e;
	base64_encode(sig, sizeof sig, sig64);
	if ((o = json_pack("{ss ss ss}", "code", code, "public_key", pub64, "proof",
	    sig64)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "enroll: out of memory");
	e = jsonx_dump_canonical(o, out);
	json_decref(o);
	return e;
}

/* Check the answer of POST /v1/enroll and fill se (pointing into ans). */
static fw_err
enroll_answer(const json_t *ans, const char *device, struct store_enrollment *se,
    uint8_t rk[ED25519_PUB_LEN], struct buf *tax, size_t *ncat)
{
	const char *s, *rk64, *recip, *t;
	const json_t *taxonomy;
	uint8_t recipient[AGE_KEY_LEN];
	struct ed25519_key *k = NULL;
	int64_t chunk = 0, st = 0;
	int present = 0;
	size_t n;
	fw_err e;

	if ((e = jsonx_get_str(ans, "device", 0, 0, ED25519_DEVICE_ID_LEN,
	    ED25519_DEVICE_ID_LEN, &s, "enroll answer")) != FW_OK)
		return e;
	if (strcmp(s, device) != 0)
		return fw_seterr(FW_ERR_FIELD_VALUE, "enroll answer: device %s, but this "
		    "key's id is %s", s, device);
	se->device_id = s;
	if ((e = jsonx_get_str(ans, "supervisor", 0, 0, 1, 63, &se->supervisor,
	    "enroll answer")) != FW_OK ||
	    (e = jsonx_get_str(ans, "office_recipient", 0, 0, 10, 90, &recip,
	    "enroll answer")) != FW_OK ||
	    (e = jsonx_get_str(ans, "receipt_key", 0, 0, 44, 44, &rk64,
	    "enroll answer")) != FW_OK ||
	    (e = jsonx_get_str(ans, "profile", 0, 0, 1, 64, &se->profile,
	    "enroll answer")) != FW_OK ||
	    (e = jsonx_get_array(ans, "taxonomy", 0, 1, 4096, &taxonomy,
	    "enroll answer")) != FW_OK ||
	    (e = jsonx_get_int(ans, "chunk_size", 1, 1, FW_MAX_CHUNK, &chunk, &present,
	    "enroll answer")) != FW_OK ||
	    (e = jsonx_get_str(ans, "server_time", 1, 0, 20, 20, &t,
	    "enroll answer")) != FW_OK)
		return e;
	if ((e = age_recipient_parse(recip, recipient)) != FW_OK)
		return fw_errctx(e, "enroll answer: office_recipient");
	if (base64_decode(rk64, strlen(rk64), 1, rk, ED25519_PUB_LEN, &n) != FW_OK ||
	    n != ED25519_PUB_LEN || ed25519_from_public(rk, &k) != FW_OK)
		return fw_seterr(FW_ERR_KEY, "enroll answer: receipt_key is not a 32-byte "
		    "Ed25519 public key in base64");
	ed25519_free(k);
	if (t != NULL && (e = bundle_time_parse(t, &st)) != FW_OK)
		return fw_errctx(e, "enroll answer: server_time");
	for (size_t i = 0; i < json_array_size(taxonomy); i++) {
		const json_t *c = json_array_get(taxonomy, i);
		const char *code;
		if (!json_is_object(c) || jsonx_get_str(c, "code", 0, 0, 1, FW_MAX_CODE,
		    &code, "enroll answer: taxonomy") != FW_OK)
			return fw_seterr(FW_ERR_FIELD_VALUE, "enroll answer: taxonomy[%zu] "
			    "has no valid 'code'", i);
	}
	if ((e = jsonx_dump_canonical(taxonomy, tax)) != FW_OK)
		return fw_errctx(e, "enroll answer: taxonomy");
	*ncat = json_array_size(taxonomy);
	se->office_recipient = recip;
	se->receipt_key = rk;
	se->taxonomy_json = (const char *)tax->data;
	se->taxonomy_len = tax->len;
	se->chunk_size = present ? (uint64_t)chunk : 0;
	se->server_time = st;
	return FW_OK;
}

/* Move device.key.new over device.key, the old key destroyed first. */
static fw_err
enroll_install_key(struct agent *a, const char *tmp)
{
	struct stat st;
	fw_err e;

	if (a->key != NULL || stat(a->key_path, &st) == 0)
		if ((e = store_key_destroy(a)) != FW_OK)
			return fw_errctx(e, "destroying the old key");
	if (rename(tmp, a->key_path) == -1)
		return file_errno(errno, a->key_path);
	return file_fsync_dir(a->key_path);
}

static const char enroll_usage[] =
    "usage: fundwatch-agent enroll --server URL --code CODE [--ca FILE] [--force]\n"
    "                              [--json] [--config FILE] [--data DIR]\n"
    "Makes this device's key and enrolls it with the office, using the one-time\n"
    "code an officer issued (fundwatch-server device code).  --ca is the office's\n"
    "CA certificate (the server's tls/ca.pem), pinned from now on; it may be left\n"
    "out if one is pinned already.  An enrolled device refuses unless --force,\n"
    "which makes a new key (the old one is destroyed).\n";

struct enroll_args {
	const char *server, *code, *ca;
	int force;
};

static int
enroll_parse(struct agent_opts *o, struct enroll_args *ea, int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", required_argument, NULL, 's'}, {"code", required_argument, NULL, 'C'},
		{"ca", required_argument, NULL, 'a'}, {"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'}, {"config", required_argument, NULL, 'c'},
		{"data", required_argument, NULL, 'D'}, {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
		switch (c) {
		case 's': ea->server = optarg; break;
		case 'C': ea->code = optarg; break;
		case 'a': ea->ca = optarg; break;
		case 'f': ea->force = 1; break;
		case 'j': o->json = 1; break;
		case 'c': o->config = optarg; break;
		case 'D': o->data = optarg; break;
		case 'v': o->verbose++; break;
		case 'h': printf("%s", enroll_usage); return 0;
		default: fprintf(stderr, "%s", enroll_usage); return 2;
		}
	}
	if (optind != argc || ea->code == NULL) {
		fprintf(stderr, "%s", enroll_usage);
		return 2;
	}
	return -1;
}

/* The enrollment proper; the key is at tmp once it returns FW_OK. */
static fw_err
enroll_run(struct agent *a, const struct enroll_args *ea, const char *url,
    const char *ca_path, const uint8_t *ca_pem, size_t ca_len, const char *tmp,
    int json)
{
	struct ed25519_key *k = NULL;
	struct net *n = NULL;
	struct net_opts no = {0};
	struct net_answer ans;
	struct store_enrollment se = {0};
	uint8_t rk[ED25519_PUB_LEN];
	char dev[ED25519_DEVICE_ID_LEN + 1];
	struct buf body, tax;
	size_t ncat = 0;
	fw_err e;

	net_answer_init(&ans);
	buf_init(&body, 64u << 10);
	buf_init(&tax, NET_ANSWER_MAX);
	if (strlen(ea->code) < 1 || strlen(ea->code) > 32) {
		e = fw_seterr(FW_ERR_INVALID, "--code: expected XXXX-XXXX-XXXX");
		goto out;
	}
	for (const char *p = ea->code; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			e = fw_seterr(FW_ERR_INVALID, "--code: expected XXXX-XXXX-XXXX");
			goto out;
		}
	if ((e = ed25519_generate(&k)) != FW_OK ||
	    (e = ed25519_device_id(k, dev)) != FW_OK ||
	    (e = enroll_body(k, ea->code, &body)) != FW_OK)
		goto out;
	if (unlink(tmp) == -1 && errno != ENOENT) {
		e = file_errno(errno, tmp);
		goto out;
	}
	if ((e = ed25519_save_private(k, tmp)) != FW_OK)
		goto out;
	no.url = url;
	no.ca_path = ca_path;
	if ((e = net_new(&no, &n)) != FW_OK)
		goto out;
	if ((e = net_request(n, "POST", "/v1/enroll", "application/json", body.data,
	    body.len, &ans)) != FW_OK) {
		if (e == FW_ERR_ENROLL_CODE)
			fw_seterr(e, "the office refused the code: unknown, already used or "
			    "expired; ask for a new one");
		goto out;
	}
	if (ans.json == NULL) {
		e = fw_seterr(FW_ERR_JSON, "enroll: the answer is not a JSON object");
		goto out;
	}
	if ((e = enroll_answer(ans.json, dev, &se, rk, &tax, &ncat)) != FW_OK)
		goto out;
	se.server_url = url;
	se.ca_pem = ca_pem;
	se.ca_len = ca_len;
	if ((e = enroll_install_key(a, tmp)) != FW_OK ||
	    (e = store_enroll_save(a, &se)) != FW_OK)
		goto out;
	if (json) {
		json_t *o = json_pack("{ss ss ss ss sI}", "device", dev, "supervisor",
		    se.supervisor, "profile", se.profile, "server", url, "categories",
		    (json_int_t)ncat);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		printf("enrolled: device %s for supervisor %s (profile %s, %zu categories)\n",
		    dev, se.supervisor, se.profile, ncat);
	}
out:
	buf_free(&body);
	buf_free(&tax);
	net_answer_clear(&ans);
	net_free(n);
	ed25519_free(k);
	return e;
}

int
enroll_main(const struct agent_opts *opts, int argc, char **argv)
{
	struct agent_opts o = *opts;
	struct enroll_args ea = {0};
	struct agent *a;
	struct stat st;
	uint8_t *ca_pem = NULL;
	size_t ca_len = 0;
	char tmp[4096];
	const char *url, *ca_path;
	fw_err e;
	int rc;

	if ((rc = enroll_parse(&o, &ea, argc, argv)) >= 0)
		return rc;
	if (o.verbose > 0)
		log_setverbose(o.verbose);
	if ((a = cmd_open(&o)) == NULL)
		return 1;
	if (a->enrolled && !ea.force) {
		e = fw_seterr(FW_ERR_EXISTS, "this device is already enrolled as device %s "
		    "(supervisor %s)%s; `enroll --force` makes a new key and enrolls again",
		    a->device_id, a->supervisor ? a->supervisor : "?",
		    a->revoked ? " and was revoked" : "");
		goto fail;
	}
	url = ea.server ? ea.server : a->server_url;
	if (url == NULL || url[0] == '\0') {
		e = fw_seterr(FW_ERR_INVALID, "--server URL is required (https://HOST:PORT)");
		goto fail;
	}
	if (strncmp(url, "https://", 8) != 0) {
		e = fw_seterr(FW_ERR_INVALID, "--server %s: expected https://HOST[:PORT]", url);
		goto fail;
	}
	if (ea.ca != NULL) {
		if ((e = enroll_read_ca(ea.ca, &ca_pem, &ca_len)) != FW_OK)
			goto fail;
		ca_path = ea.ca;
	} else if (stat(a->ca_path, &st) == 0) {
		ca_path = a->ca_path;
	} else {
		e = fw_seterr(FW_ERR_CONFIG, "no CA certificate to trust: give --ca FILE "
		    "(the office's CA, tls/ca.pem of the server's data folder)");
		goto fail;
	}
	snprintf(tmp, sizeof tmp, "%s.new", a->key_path);
	if ((e = enroll_run(a, &ea, url, ca_path, ca_pem, ca_len, tmp, o.json)) != FW_OK) {
		unlink(tmp);
		goto fail;
	}
	free(ca_pem);
	daemon_nudge(a);
	agent_close(a);
	return 0;
fail:
	free(ca_pem);
	rc = cmd_fail(&o, "enroll", e);
	agent_close(a);
	return rc;
}

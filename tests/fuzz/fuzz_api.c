/*
 * fuzz_api.c: libFuzzer harness for the server's request handler
 * (api_handle), the whole path behind the HTTPS front: routing, request
 * authentication, every handler's body (enroll, offer, upload, commit,
 * feed) and the store under them, over a data folder made once by `init`
 * in a temporary folder (under /dev/shm when there is one: no disk sync
 * per input).
 *
 * Input framing (so that a fuzzer can reach each part):
 *   byte 0          flags: 1 = sign the request as the enrolled device
 *                   (FW-* headers made here, body hash and all, unless the
 *                   input gives them), 2 = reuse one fixed nonce (replay),
 *                   4 = an FW-Time an hour old, 8 = the body is a
 *                   manifest: seal it into a bundle (FWB1, the device's
 *                   signature, zlib) so that mutations reach ingest,
 *                   16 = carry the bearer token of officer fz.off (roles
 *                   officer, unit_lead, reward_officer of the city unit)
 *                   so that mutations reach the officer API's handlers
 *   METHOD "\n" TARGET "\n"
 *   header lines "Name: value\n" (FW-Device, FW-Time, FW-Nonce,
 *   FW-Signature, Content-Type, Authorization), then an empty line
 *   the body: every byte left
 * Whatever the input, the answer must be a status 200..599 and a body that
 * is a JSON object, with "error" naming a protocol code when the status is
 * not 200, and never "internal".  abort() marks a broken invariant.  Seeds:
 * tests/fuzz/corpus/api/ (FUZZ_API_VERBOSE=1 prints each answer).  The
 * set-up also ingests one clue, so that case 1 exists for the officer
 * API; case exports (files under the data folder) are not fuzzed.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../server/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];
static char datadir[PATH_MAX];
static struct server *srv;
static struct ed25519_key *devkey;
static char devid[ED25519_DEVICE_ID_LEN + 1];
static uint64_t nonce_ctr;
/* The officer's token, made at set-up and put back before each input that
 * uses it (a fuzzed login may push it out). */
static char office_token[SHA256_HEX + 1];
static char office_bearer[8 + SHA256_HEX + 1];

#define FUZZ_OFFICER	"fz.off"
#define FUZZ_PASSWORD	"fuzz-office-password"

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

static void
cleanup(void)
{
	server_close(srv);
	srv = NULL;
	ed25519_free(devkey);
	devkey = NULL;
	if (dir[0] != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_api: setup: %s: %s\n", what, fw_errmsg());
	exit(1);
}

/* Run a subcommand's main with stdout sent to /dev/null. */
static int
quiet(int (*fn)(int, char **), int argc, char **argv)
{
	int saved, rc, null;

	fflush(stdout);
	saved = dup(1);
	if ((null = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(null, 1);
		close(null);
	}
	rc = fn(argc, argv);
	fflush(stdout);
	if (saved >= 0) {
		dup2(saved, 1);
		close(saved);
	}
	return rc;
}

static void
answer_ok(const struct api_resp *rs)
{
	json_t *o, *err;
	json_error_t je;

	if (rs->status < 200 || rs->status > 599 || rs->content_type == NULL)
		abort();
	o = json_loadb((const char *)rs->body.data, rs->body.len, 0, &je);
	if (o == NULL || !json_is_object(o))
		abort();
	err = json_object_get(o, "error");
	if (rs->status != 200 && (!json_is_string(err) || json_string_length(err) == 0 ||
	    strcmp(json_string_value(err), "internal") == 0))
		abort();
	json_decref(o);
}

static void
sign(struct api_req *rq, int flags, char *time_s, size_t tlen, char *nonce,
    char *sig64)
{
	uint8_t sig[ED25519_SIG_LEN], rnd[16];
	char bodyhash[SHA256_HEX + 1];
	struct buf msg;

	snprintf(time_s, tlen, "%lld", (long long)time(NULL) - (flags & 4 ? 3600 : 0));
	if (flags & 2)
		memset(rnd, 0x5a, sizeof rnd);
	else {
		memset(rnd, 0, sizeof rnd);
		nonce_ctr++;
		memcpy(rnd, &nonce_ctr, sizeof nonce_ctr);
		rnd[15] = (uint8_t)getpid();
	}
	hex_encode(rnd, sizeof rnd, nonce);
	if (rq->fw_device == NULL)
		rq->fw_device = devid;
	if (rq->fw_time == NULL)
		rq->fw_time = time_s;
	if (rq->fw_nonce == NULL)
		rq->fw_nonce = nonce;
	if (sha256_hex(rq->body, rq->bodylen, bodyhash) != FW_OK)
		abort();
	buf_init(&msg, 16384);
	if (buf_printf(&msg, "fundwatch-request-v1\n%s\n%s\n%s\n%s\n%s\n", rq->method,
	    rq->target, rq->fw_time, rq->fw_nonce, bodyhash) != FW_OK ||
	    ed25519_sign(devkey, msg.data, msg.len, sig) != FW_OK)
		abort();
	buf_free(&msg);
	base64_encode(sig, sizeof sig, sig64);
	if (rq->fw_signature == NULL)
		rq->fw_signature = sig64;
}

/* Seal (flag 8), sign (1), authorize (16) and handle one request; rs->body
 * is the caller's to free. */
static void
handle(int flags, struct api_req *rq, struct api_resp *rs)
{
	char time_s[32], nonce[FW_NONCE_HEX + 1], sig64[128], hash[SHA256_HEX + 1];
	struct buf bundle;

	buf_init(&bundle, FW_MAX_BUNDLE + 4096);
	buf_init(&rs->body, HTTP_MAX_RESPONSE);
	if (flags & 8) {
		uint8_t sig[ED25519_SIG_LEN];
		if (ed25519_sign(devkey, rq->body, rq->bodylen, sig) != FW_OK)
			abort();
		if (buf_add(&bundle, "FWB1", 4) != FW_OK || buf_add(&bundle, sig,
		    sizeof sig) != FW_OK || compress_deflate(rq->body, rq->bodylen,
		    &bundle) != FW_OK) {
			buf_free(&bundle);
			rs->status = 0;	/* too big to be a bundle */
			return;
		}
		rq->body = bundle.data;
		rq->bodylen = bundle.len;
	}
	if (flags & 1)
		sign(rq, flags, time_s, sizeof time_s, nonce, sig64);
	if ((flags & 16) && office_token[0] != '\0') {
		if (sha256_hex(office_token, strlen(office_token), hash) != FW_OK ||
		    db_run(srv->db, "INSERT OR REPLACE INTO office_tokens (hash,"
		    " officer_id, created, expires) VALUES (?, ?, ?, ?)", "ssii", hash,
		    FUZZ_OFFICER, (int64_t)time(NULL), (int64_t)time(NULL) + 3600) !=
		    FW_OK)
			abort();
		if (rq->authorization == NULL)
			rq->authorization = office_bearer;
	}
	api_handle(srv, rq, rs);
	buf_free(&bundle);
}

/* One request made here at set-up, which must answer 200; its answer's
 * JSON in *out if out is set. */
static void
setup_req(int flags, const char *method, const char *target, const char *ctype,
    const void *body, size_t n, json_t **out)
{
	struct api_req rq = {.method = method, .target = target, .content_type = ctype,
	    .body = body, .bodylen = n, .peer = "fuzz"};
	struct api_resp rs = {0};

	handle(flags, &rq, &rs);
	if (rs.status != 200) {
		fprintf(stderr, "fuzz_api: setup: %s %s: %d %.*s\n", method, target,
		    rs.status, (int)rs.body.len, (const char *)rs.body.data);
		exit(1);
	}
	if (out != NULL && jsonx_load(rs.body.data, rs.body.len, out) != FW_OK)
		die("an answer that is not JSON");
	buf_free(&rs.body);
}

/* The office: a city unit, officer fz.off logged in through the API, and
 * one clue ingested through the device API (case 1). */
static void
office(void)
{
	struct unit u = {.id = "CITY", .name = (char *)"City office",
	    .jurisdiction = "CITY", .city = 1};
	struct officer o = {.id = FUZZ_OFFICER, .name = (char *)"Fuzz Officer",
	    .unit = "CITY", .roles = ROLE_OFFICER | ROLE_UNIT_LEAD |
	    ROLE_REWARD_OFFICER};
	static const char login[] = "{\"officer\":\"" FUZZ_OFFICER "\","
	    "\"password\":\"" FUZZ_PASSWORD "\"}";
	char manifest[2048], commit[128], bid[SHA256_HEX + 1];
	json_t *ans = NULL;
	int n;

	if (unit_add(srv, officer_cli(), &u) != FW_OK ||
	    officer_add(srv, officer_cli(), &o, FUZZ_PASSWORD) != FW_OK)
		die("officer");
	setup_req(0, "POST", "/v1/office/login", "application/json", login,
	    sizeof login - 1, &ans);
	snprintf(office_token, sizeof office_token, "%s",
	    json_string_value(json_object_get(ans, "token")));
	snprintf(office_bearer, sizeof office_bearer, "Bearer %s", office_token);
	json_decref(ans);
	n = snprintf(manifest, sizeof manifest, "{\"bundle_seq\":1,\"created\":"
	    "\"2025-11-24T16:00:00Z\",\"device\":\"%s\",\"observations\":[{"
	    "\"captured\":\"2025-11-24T16:00:00Z\",\"categories\":[\"QY-5-1-01\"],"
	    "\"evidence\":[],\"id\":\"0000000000000000000000000000000f\","
	    "\"place\":{\"text\":\"Songgang road 12\"},\"prev\":\"%064d\","
	    "\"seq\":1,\"severity\":\"major\",\"subject\":{\"institution\":"
	    "\"P44180200123\",\"kind\":\"pharmacy\",\"name\":\"Kangmin\"},"
	    "\"what\":\"card swiped for goods\"}],\"version\":1}", devid, 0);
	if (sha256_hex(manifest, (size_t)n, bid) != FW_OK)
		die("bundle id");
	setup_req(9, "POST", "/v1/sync/offer", "application/vnd.fundwatch.bundle",
	    manifest, (size_t)n, NULL);
	n = snprintf(commit, sizeof commit, "{\"bundle\":\"%s\"}", bid);
	setup_req(1, "POST", "/v1/sync/commit", "application/json", commit,
	    (size_t)n, NULL);
}

/* Enroll the harness's device through api_handle itself. */
static void
enroll(void)
{
	uint8_t pub[ED25519_PUB_LEN], sig[ED25519_SIG_LEN];
	uint8_t seed[ED25519_SEED_LEN];
	char code[15], pk64[64], sig64[128], proof[256], body[512];
	struct api_req rq = {.method = "POST", .target = "/v1/enroll",
	    .content_type = "application/json", .peer = "fuzz"};
	struct api_resp rs = {0};
	int64_t exp;

	if (ingest_new_code(srv, "S1", 3600, code, &exp) != FW_OK)
		die("device code");
	/* A fixed key: seeds can name the device (see corpus/api/). */
	memset(seed, 0x42, sizeof seed);
	if (ed25519_from_seed(seed, &devkey) != FW_OK || ed25519_public(devkey, pub) != FW_OK ||
	    ed25519_device_id(devkey, devid) != FW_OK)
		die("device key");
	base64_encode(pub, sizeof pub, pk64);
	snprintf(proof, sizeof proof, "fundwatch-enroll-v1\n%s\n%s\n", code, pk64);
	if (ed25519_sign(devkey, proof, strlen(proof), sig) != FW_OK)
		die("proof");
	base64_encode(sig, sizeof sig, sig64);
	snprintf(body, sizeof body, "{\"code\":\"%s\",\"public_key\":\"%s\",\"proof\":\"%s\"}",
	    code, pk64, sig64);
	rq.body = (const uint8_t *)body;
	rq.bodylen = strlen(body);
	buf_init(&rs.body, HTTP_MAX_RESPONSE);
	api_handle(srv, &rq, &rs);
	if (rs.status != 200) {
		fprintf(stderr, "fuzz_api: enroll: %d %.*s\n", rs.status, (int)rs.body.len,
		    (const char *)rs.body.data);
		exit(1);
	}
	buf_free(&rs.body);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char *initv[] = {"init", "--data", datadir, "--profile", "qingyuan", NULL};
	char *addv[] = {"supervisor", "add", "--name", "Fuzz Supervisor", "--birth",
	    "1980-05-01", "--method", "self_nomination", "--id", "S1", "--start",
	    "2025-01-01", "--attest", "law_abiding", "--attest", "insured_in_city",
	    "--attest", "full_civil_capacity", "--attest", "knows_regulations",
	    "--attest", "volunteer", "--attest", "fit_for_duty", "--attest",
	    "no_conflict_of_interest", "--attest", "no_bad_credit", "--data", datadir,
	    NULL};
	char cwd[PATH_MAX], prof[PATH_MAX + 32];

	(void)argc; (void)argv;
	if (getenv("FW_PROFILE_DIR") == NULL && getcwd(cwd, sizeof cwd) != NULL) {
		snprintf(prof, sizeof prof, "%s/server/profiles", cwd);
		setenv("FW_PROFILE_DIR", prof, 1);
	}
	snprintf(dir, sizeof dir, "%s/fw-fuzz-api.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		perror("fuzz_api: mkdtemp");
		exit(1);
	}
	atexit(cleanup);
	snprintf(datadir, sizeof datadir, "%s/d", dir);
	if (quiet(init_main, 5, initv) != 0)
		die("init");
	optind = 0;
	if (quiet(admin_main, (int)(sizeof addv / sizeof addv[0]) - 1, addv) != 0)
		die("supervisor add");
	if (server_open(datadir, &srv) != FW_OK)
		die("server_open");
	enroll();
	office();
	return 0;
}

/* The next line of [*p, end) as a NUL-terminated copy in out (outsz). */
static int
next_line(const uint8_t **p, const uint8_t *end, char *out, size_t outsz)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n;

	if (nl == NULL)
		return 0;
	n = (size_t)(nl - *p);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = nl + 1;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char method[16], target[1024], hdr[8][512], line[512];
	const uint8_t *p = data + 1, *end = data + size;
	struct api_req rq = {.peer = "fuzz"};
	struct api_resp rs = {0};
	int flags, nh = 0;

	if (size < 1 || size > (8u << 20))
		return 0;
	flags = data[0];
	if (!next_line(&p, end, method, sizeof method) ||
	    !next_line(&p, end, target, sizeof target))
		return 0;
	/* An export writes a folder per call: not for a fuzzer's loop. */
	if (strstr(target, "/export") != NULL)
		return 0;
	rq.method = method;
	rq.target = target;
	while (nh < 8 && next_line(&p, end, line, sizeof line) && line[0] != '\0') {
		char *colon = strchr(line, ':');
		const char *v;
		if (colon == NULL)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' '; v++)
			;
		snprintf(hdr[nh], sizeof hdr[nh], "%s", v);
		if (strcasecmp(line, "FW-Device") == 0)
			rq.fw_device = hdr[nh++];
		else if (strcasecmp(line, "FW-Time") == 0)
			rq.fw_time = hdr[nh++];
		else if (strcasecmp(line, "FW-Nonce") == 0)
			rq.fw_nonce = hdr[nh++];
		else if (strcasecmp(line, "FW-Signature") == 0)
			rq.fw_signature = hdr[nh++];
		else if (strcasecmp(line, "Content-Type") == 0)
			rq.content_type = hdr[nh++];
		else if (strcasecmp(line, "Authorization") == 0)
			rq.authorization = hdr[nh++];
	}
	rq.body = p;
	rq.bodylen = (size_t)(end - p);
	handle(flags, &rq, &rs);
	if (rs.status == 0) {		/* the body could not be sealed */
		buf_free(&rs.body);
		return 0;
	}
	if (getenv("FUZZ_API_VERBOSE") != NULL)	/* to see what a seed reaches */
		fprintf(stderr, "%s %s -> %d %.*s\n", rq.method, rq.target, rs.status,
		    (int)(rs.body.len < 300 ? rs.body.len : 300), (const char *)rs.body.data);
	if (rs.stream) {		/* evidence: the file itself, not JSON */
		if (rs.status != 200)
			abort();
		close(rs.stream_fd);
	} else
		answer_ok(&rs);
	buf_free(&rs.body);
	return 0;
}

/*
 * load.c: the benchmark's load client and timer (tests/bench/run.sh).
 *
 * It speaks protocol v1 exactly as a device does (proto/PROTOCOL.md): each
 * simulated device makes an Ed25519 key, enrolls with a one-time code from
 * `fundwatch-server device code` (section 3), keeps its own hash chain and
 * bundle_seq, seals real bundles with common/bundle.c, encrypts each
 * evidence file to the office recipient with common/age.c, and signs every
 * request (section 4).  One thread drives many devices through one libcurl
 * multi handle, so the client is not the bottleneck; the CPU it used
 * (getrusage) is printed with the figures.
 *
 *   load ingest --url U --ca CA [--codes FILE] [--clients N] [--seconds S]
 *        [--bundles M] [--obs K] [--photo BYTES] [--prng] [--chunk BYTES]
 *        [--nginx]
 *     N devices (one code each from FILE, one line a code), each syncing
 *     bundles of K observations with one evidence blob of BYTES (0: none)
 *     back to back (offer, upload missing chunks, commit) for S seconds or
 *     M bundles in all.  --prng: the blob is BYTES of a fast generator,
 *     not an age file, hashed in a first pass and made again chunk by
 *     chunk, so that 64 x 100 MiB uploads need no client memory or disk
 *     (the server does not read evidence).  --nginx: the same requests
 *     and bodies to a server that just takes the bytes (as PUT, which
 *     nginx's dav module writes into files); no enrollment.
 *   load exec -n N -- CMD A... -- CMD B...
 *     Runs A and B alternately N times each (stdout to /dev/null) and
 *     times each run (wall clock).
 *
 * Both print one JSON object on stdout.  Every loop is bounded by a count
 * or a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "fw.h"

#define LOAD_MAX_CLIENTS 1024
#define LOAD_MAX_SAMPLES (1u << 20)
#define LOAD_ANSWER_CAP (1u << 20)

struct opts {
	const char *url, *ca, *codes;
	int clients;
	double seconds;
	long bundles;
	int obs;
	uint64_t photo;
	int prng;
	uint64_t chunk;
	int nginx;
};

enum step { ST_IDLE, ST_OFFER, ST_UPLOAD, ST_COMMIT, ST_DONE };

struct client {
	int idx;
	CURL *easy;
	struct curl_slist *hdr;
	struct buf answer;
	struct ed25519_key *key;
	char device[ED25519_DEVICE_ID_LEN + 1];
	uint8_t recipient[AGE_KEY_LEN];
	char category[FW_MAX_CODE + 1];
	uint64_t chunk;
	uint64_t seq, bundle_seq;
	char prev[SHA256_HEX + 1];
	/* The bundle in flight. */
	enum step step;
	struct buf bundle;
	char bundle_id[SHA256_HEX + 1];
	struct buf blob;		/* whole blob (age), or one chunk (prng) */
	char blob_hex[SHA256_HEX + 1];
	uint64_t blob_size, off;
	uint64_t prng_seed;
	struct buf body;		/* the request body being sent */
	char target[256];
	double t0;
};

static struct opts O = { .clients = 1, .seconds = 5, .obs = 1, .photo = 200 << 10 };
static double samples_ms[LOAD_MAX_SAMPLES];
static size_t nsamples;
static long nerrors, nbundles, nstarted;
static uint64_t bytes_up;
static char first_error[512];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what, fw_err e)
{
	fprintf(stderr, "load: %s: %s: %s\n", what, fw_strerror(e), fw_errmsg());
	exit(1);
}

static void
note_error(const char *a, const char *b)
{
	nerrors++;
	if (first_error[0] == '\0')
		snprintf(first_error, sizeof first_error, "%s: %s", a, b);
}

/* xorshift64*: the --prng blob's bytes at a given offset, reproducibly. */
static void
prng_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	uint64_t x;
	size_t i;

	for (i = 0; i < n; i += 8) {
		uint64_t w = (off + i) / 8;
		uint8_t tmp[8];

		x = seed ^ (w * UINT64_C(0x9E3779B97F4A7C15));
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		x *= UINT64_C(0x2545F4914F6CDD1D);
		memcpy(tmp, &x, 8);
		memcpy(p + i, tmp, n - i < 8 ? n - i : 8);
	}
}

static size_t
on_answer(char *p, size_t sz, size_t n, void *ctx)
{
	struct client *c = ctx;

	if (buf_add(&c->answer, p, sz * n) != FW_OK)
		return 0;
	return sz * n;
}

/* Set up c->easy for one signed request of c->body. */
static void
request(struct client *c, const char *method, const char *target, const char *ctype)
{
	char hash[SHA256_HEX + 1], nonce[FW_NONCE_HEX + 1], tbuf[32], line[256];
	char sigb64[128];
	uint8_t rnd[16], sig[ED25519_SIG_LEN];
	struct buf msg;
	fw_err e;

	/* nginx stores PUT bodies into files (dav_methods PUT); the same
	 * bodies, paths and signatures, only the method differs. */
	if (O.nginx)
		method = "PUT";
	snprintf(c->target, sizeof c->target, "%s", target);
	curl_slist_free_all(c->hdr);
	c->hdr = NULL;
	snprintf(line, sizeof line, "Content-Type: %s", ctype);
	c->hdr = curl_slist_append(c->hdr, line);
	c->hdr = curl_slist_append(c->hdr, "Expect:");
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		die("getrandom", FW_ERR_IO);
	hex_encode(rnd, sizeof rnd, nonce);
	snprintf(tbuf, sizeof tbuf, "%lld", (long long)time(NULL));
	if ((e = sha256_hex(c->body.len ? c->body.data : (const uint8_t *)"", c->body.len,
	    hash)) != FW_OK)
		die("sha256", e);
	buf_init(&msg, 4096);
	if ((e = buf_printf(&msg, "fundwatch-request-v1\n%s\n%s\n%s\n%s\n%s\n", method,
	    target, tbuf, nonce, hash)) != FW_OK ||
	    (e = ed25519_sign(c->key, msg.data, msg.len, sig)) != FW_OK)
		die("sign", e);
	buf_free(&msg);
	base64_encode(sig, sizeof sig, sigb64);
	snprintf(line, sizeof line, "FW-Device: %s", c->device);
	c->hdr = curl_slist_append(c->hdr, line);
	snprintf(line, sizeof line, "FW-Time: %s", tbuf);
	c->hdr = curl_slist_append(c->hdr, line);
	snprintf(line, sizeof line, "FW-Nonce: %s", nonce);
	c->hdr = curl_slist_append(c->hdr, line);
	snprintf(line, sizeof line, "FW-Signature: %s", sigb64);
	c->hdr = curl_slist_append(c->hdr, line);

	snprintf(line, sizeof line, "%s%s", O.url, target);
	curl_easy_setopt(c->easy, CURLOPT_URL, line);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body.len ? (char *)c->body.data : "");
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
	buf_reset(&c->answer);
	bytes_up += c->body.len;
}

static fw_err
blob_sink(void *ctx, const uint8_t *p, size_t n)
{
	return buf_add(ctx, p, n);
}

/* The next bundle of c: K observations, the first with the blob. */
static void
make_bundle(struct client *c)
{
	struct fw_manifest m;
	struct fw_obs *obs;
	struct fw_evidence ev;
	char *cats[1] = { c->category };
	int64_t t = (int64_t)time(NULL);
	uint8_t rnd[16];
	fw_err e;
	int i;

	memset(&ev, 0, sizeof ev);
	c->blob_size = 0;
	if (O.photo > 0) {
		struct age_enc *enc;
		uint8_t *plain;
		uint8_t sum[SHA256_LEN];

		ev.kind = FW_EV_PHOTO;
		ev.media_type = "image/jpeg";
		ev.captured = t;
		ev.size = O.photo;
		if (O.prng) {
			struct sha256 *h;
			uint8_t *tmp = malloc(1u << 20);
			uint64_t o;

			if (getrandom(&c->prng_seed, sizeof c->prng_seed, 0) != 8 || tmp == NULL)
				die("prng", FW_ERR_NOMEM);
			if ((e = sha256_new(&h)) != FW_OK)
				die("sha256", e);
			for (o = 0; o < O.photo; o += 1u << 20) {
				size_t n = O.photo - o < (1u << 20) ? (size_t)(O.photo - o) : 1u << 20;

				prng_fill(c->prng_seed, o, tmp, n);
				sha256_update(h, tmp, n);
			}
			sha256_final(h, sum);
			sha256_free(h);
			free(tmp);
			hex_encode(sum, sizeof sum, ev.sha256);
			memcpy(ev.blob, ev.sha256, sizeof ev.blob);
			ev.blob_size = O.photo;
		} else {
			if ((plain = malloc(O.photo)) == NULL)
				die("malloc", FW_ERR_NOMEM);
			if (getrandom(plain, O.photo < 256 ? O.photo : 256, 0) < 0)
				die("getrandom", FW_ERR_IO);
			if (O.photo > 256)
				memset(plain + 256, (int)c->seq, O.photo - 256);
			sha256_hex(plain, O.photo, ev.sha256);
			buf_reset(&c->blob);
			if ((e = age_enc_new(&enc, c->recipient, blob_sink, &c->blob)) != FW_OK ||
			    (e = age_enc_update(enc, plain, O.photo)) != FW_OK ||
			    (e = age_enc_final(enc)) != FW_OK)
				die("age", e);
			age_enc_free(enc);
			free(plain);
			sha256_hex(c->blob.data, c->blob.len, ev.blob);
			ev.blob_size = c->blob.len;
		}
		memcpy(c->blob_hex, ev.blob, sizeof c->blob_hex);
		c->blob_size = ev.blob_size;
	}
	if ((obs = calloc((size_t)O.obs, sizeof *obs)) == NULL)
		die("calloc", FW_ERR_NOMEM);
	for (i = 0; i < O.obs; i++) {
		struct fw_obs *o = &obs[i];

		getrandom(rnd, sizeof rnd, 0);
		hex_encode(rnd, sizeof rnd, o->id);
		o->seq = ++c->seq;
		memcpy(o->prev, c->prev, sizeof o->prev);
		o->captured = t;
		o->place.text = "清城区 松岗路 12 号";
		o->place.has_geo = 1;
		o->place.lat_e7 = 236817000;
		o->place.lon_e7 = 1130342000;
		o->subject.kind = FW_SUBJ_PHARMACY;
		o->subject.name = "康民大药房";
		o->subject.institution = "P44180200123";
		o->categories = cats;
		o->ncategories = 1;
		o->what = "刷卡购买日用品，药房以药品名目结算 (benchmark load)";
		o->severity = FW_SEV_NORMAL;
		if (i == 0 && O.photo > 0) {
			o->evidence = &ev;
			o->nevidence = 1;
		}
		if ((e = bundle_obs_hash(o, c->prev)) != FW_OK)
			die("obs hash", e);
	}
	memset(&m, 0, sizeof m);
	m.version = FW_PROTO_VERSION;
	memcpy(m.device, c->device, sizeof m.device);
	m.bundle_seq = ++c->bundle_seq;
	m.created = t;
	m.obs = obs;
	m.nobs = (size_t)O.obs;
	buf_reset(&c->bundle);
	if ((e = bundle_seal(&m, c->key, &c->bundle, c->bundle_id)) != FW_OK)
		die("seal", e);
	free(obs);
}

static void
start_upload(struct client *c)
{
	uint64_t n = c->blob_size - c->off;
	char target[200];

	if (n > c->chunk)
		n = c->chunk;
	buf_reset(&c->body);
	if (O.prng) {
		uint8_t *p = buf_reserve(&c->body, (size_t)n);

		if (p == NULL)
			die("chunk", FW_ERR_NOMEM);
		prng_fill(c->prng_seed, c->off, p, (size_t)n);
		buf_commit(&c->body, (size_t)n);
	} else if (buf_add(&c->body, c->blob.data + c->off, (size_t)n) != FW_OK)
		die("chunk", FW_ERR_NOMEM);
	snprintf(target, sizeof target, "/v1/blobs/%s?offset=%" PRIu64, c->blob_hex, c->off);
	c->step = ST_UPLOAD;
	request(c, "PUT", target, "application/octet-stream");
}

static void
start_commit(struct client *c)
{
	buf_reset(&c->body);
	buf_printf(&c->body, "{\"bundle\":\"%s\"}", c->bundle_id);
	c->step = ST_COMMIT;
	request(c, "POST", "/v1/sync/commit", "application/json");
}

/* Begin the next bundle, or stop; returns 0 when c is done. */
static int
start_bundle(struct client *c, double deadline)
{
	if ((O.bundles > 0 && nstarted >= O.bundles) || (O.bundles == 0 && now() >= deadline)) {
		c->step = ST_DONE;
		return 0;
	}
	nstarted++;
	make_bundle(c);
	buf_reset(&c->body);
	buf_add(&c->body, c->bundle.data, c->bundle.len);
	c->t0 = now();
	c->step = ST_OFFER;
	request(c, "POST", "/v1/sync/offer", "application/vnd.fundwatch.bundle");
	return 1;
}

/* A request of c finished with HTTP status code; say what comes next
 * (1: c->easy is set up again, 0: c is done). */
static int
advance(struct client *c, long code, double deadline)
{
	json_t *ans = NULL, *miss;

	if (code < 200 || code > 299) {
		c->answer.data[c->answer.len < 300 ? c->answer.len : 300] = '\0';
		note_error(c->target, c->answer.len ? (char *)c->answer.data : "no answer");
		return start_bundle(c, deadline);
	}
	switch (c->step) {
	case ST_OFFER:
		if (O.nginx) {
			c->off = 0;
			if (c->blob_size > 0) {
				start_upload(c);
				return 1;
			}
			start_commit(c);
			return 1;
		}
		ans = json_loadb((char *)c->answer.data, c->answer.len, 0, NULL);
		miss = json_object_get(ans, "missing");
		if (json_array_size(miss) > 0) {
			c->off = (uint64_t)json_integer_value(json_object_get(json_array_get(miss, 0),
			    "offset"));
			json_decref(ans);
			start_upload(c);
			return 1;
		}
		json_decref(ans);
		start_commit(c);
		return 1;
	case ST_UPLOAD:
		if (O.nginx)
			c->off += c->body.len;
		else {
			ans = json_loadb((char *)c->answer.data, c->answer.len, 0, NULL);
			c->off = (uint64_t)json_integer_value(json_object_get(ans, "offset"));
			json_decref(ans);
		}
		if (c->off < c->blob_size) {
			start_upload(c);
			return 1;
		}
		start_commit(c);
		return 1;
	case ST_COMMIT:
		nbundles++;
		if (nsamples < LOAD_MAX_SAMPLES)
			samples_ms[nsamples++] = (now() - c->t0) * 1000.0;
		return start_bundle(c, deadline);
	default:
		return 0;
	}
}

static void
setup_easy(struct client *c)
{
	c->easy = curl_easy_init();
	curl_easy_setopt(c->easy, CURLOPT_CAINFO, O.ca);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	buf_init(&c->answer, LOAD_ANSWER_CAP);
	buf_init(&c->body, FW_MAX_CHUNK + (1u << 20));
	buf_init(&c->bundle, FW_MAX_BUNDLE);
	buf_init(&c->blob, (size_t)O.photo + (1u << 20));
}

/* POST /v1/enroll with one code (blocking, before the timed part). */
static void
enroll(struct client *c, const char *code)
{
	uint8_t pub[ED25519_PUB_LEN], sig[ED25519_SIG_LEN];
	char pubb64[64], sigb64[128], url[512];
	struct buf proof;
	json_t *ans, *tax;
	long status = 0;
	fw_err e;

	ed25519_public(c->key, pub);
	base64_encode(pub, sizeof pub, pubb64);
	buf_init(&proof, 4096);
	buf_printf(&proof, "fundwatch-enroll-v1\n%s\n%s\n", code, pubb64);
	if ((e = ed25519_sign(c->key, proof.data, proof.len, sig)) != FW_OK)
		die("sign", e);
	base64_encode(sig, sizeof sig, sigb64);
	buf_reset(&c->body);
	buf_printf(&c->body, "{\"code\":\"%s\",\"proof\":\"%s\",\"public_key\":\"%s\"}", code,
	    sigb64, pubb64);
	buf_free(&proof);
	snprintf(url, sizeof url, "%s/v1/enroll", O.url);
	curl_slist_free_all(c->hdr);
	c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c->easy, CURLOPT_URL, url);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, (char *)c->body.data);
	curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body.len);
	buf_reset(&c->answer);
	if (curl_easy_perform(c->easy) != CURLE_OK)
		die("enroll: transfer", FW_ERR_IO);
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	ans = json_loadb((char *)c->answer.data, c->answer.len, 0, NULL);
	if (status != 200 || ans == NULL) {
		fprintf(stderr, "load: enroll %s: HTTP %ld: %.*s\n", code, status,
		    (int)c->answer.len, (char *)c->answer.data);
		exit(1);
	}
	if ((e = age_recipient_parse(json_string_value(json_object_get(ans, "office_recipient")),
	    c->recipient)) != FW_OK)
		die("enroll: office_recipient", e);
	tax = json_array_get(json_object_get(ans, "taxonomy"), 0);
	snprintf(c->category, sizeof c->category, "%s",
	    json_string_value(json_object_get(tax, "code")));
	c->chunk = (uint64_t)json_integer_value(json_object_get(ans, "chunk_size"));
	json_decref(ans);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static double
cpu_seconds(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int
main_ingest(void)
{
	struct client *cl;
	CURLM *multi;
	FILE *f = NULL;
	char code[64];
	double t_start, deadline, hard, cpu0, wall;
	int i, running = 0, active = 0;
	fw_err e;

	if (O.url == NULL || O.ca == NULL || O.clients < 1 || O.clients > LOAD_MAX_CLIENTS ||
	    O.obs < 1 || O.obs > FW_MAX_OBSERVATIONS)
		return fprintf(stderr, "load ingest: bad arguments\n"), 2;
	if (!O.nginx && (O.codes == NULL || (f = fopen(O.codes, "r")) == NULL))
		return fprintf(stderr, "load ingest: --codes FILE needed\n"), 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((cl = calloc((size_t)O.clients, sizeof *cl)) == NULL)
		die("calloc", FW_ERR_NOMEM);
	for (i = 0; i < O.clients; i++) {
		struct client *c = &cl[i];

		c->idx = i;
		setup_easy(c);
		if ((e = ed25519_generate(&c->key)) != FW_OK ||
		    (e = ed25519_device_id(c->key, c->device)) != FW_OK)
			die("key", e);
		memset(c->prev, '0', SHA256_HEX);
		c->chunk = FW_DEFAULT_CHUNK;
		if (O.nginx) {
			uint8_t id[AGE_KEY_LEN];

			age_keygen(id);
			age_recipient_of(id, c->recipient);
			snprintf(c->category, sizeof c->category, "QY-5-1-01");
		} else {
			if (fgets(code, sizeof code, f) == NULL)
				return fprintf(stderr, "load: fewer codes than clients\n"), 1;
			code[strcspn(code, "\r\n")] = '\0';
			enroll(c, code);
		}
		if (O.chunk)
			c->chunk = O.chunk;
	}
	if (f != NULL)
		fclose(f);
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)O.clients + 4);
	cpu0 = cpu_seconds(RUSAGE_SELF);
	bytes_up = 0;
	t_start = now();
	deadline = t_start + O.seconds;
	hard = deadline + 120 + (O.bundles > 0 ? 600 : 0);
	for (i = 0; i < O.clients; i++)
		if (start_bundle(&cl[i], deadline)) {
			curl_multi_add_handle(multi, cl[i].easy);
			active++;
		}
	while (active > 0 && now() < hard) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct client *c;
			long status = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			curl_multi_remove_handle(multi, c->easy);
			if (msg->data.result != CURLE_OK) {
				note_error(c->target, curl_easy_strerror(msg->data.result));
				status = 0;
				c->step = ST_COMMIT;	/* give the bundle up */
				if (start_bundle(c, deadline))
					curl_multi_add_handle(multi, c->easy);
				else
					active--;
				continue;
			}
			curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
			if (advance(c, status, deadline))
				curl_multi_add_handle(multi, c->easy);
			else
				active--;
		}
		if (active > 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	wall = now() - t_start;
	qsort(samples_ms, nsamples, sizeof *samples_ms, cmp_double);
	printf("{\"clients\":%d,\"bundles\":%ld,\"errors\":%ld,\"seconds\":%.3f,"
	    "\"rate\":%.2f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"bytes_up\":%" PRIu64 ","
	    "\"client_cpu_s\":%.3f,\"client_cpu_pct\":%.1f,\"first_error\":",
	    O.clients, nbundles, nerrors, wall, nbundles / wall, pct(samples_ms, nsamples, 0.5),
	    pct(samples_ms, nsamples, 0.99), bytes_up, cpu_seconds(RUSAGE_SELF) - cpu0,
	    100.0 * (cpu_seconds(RUSAGE_SELF) - cpu0) / wall);
	{
		json_t *s = json_string(first_error);
		char *d = json_dumps(s, JSON_ENCODE_ANY);

		printf("%s}\n", d);
		free(d);
		json_decref(s);
	}
	if (nerrors)
		fprintf(stderr, "load: %ld errors, first: %s\n", nerrors, first_error);
	for (i = 0; i < O.clients; i++) {
		curl_multi_remove_handle(multi, cl[i].easy);
		curl_easy_cleanup(cl[i].easy);
		curl_slist_free_all(cl[i].hdr);
		buf_free(&cl[i].answer);
		buf_free(&cl[i].body);
		buf_free(&cl[i].bundle);
		buf_free(&cl[i].blob);
		ed25519_free(cl[i].key);
	}
	free(cl);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	return 0;
}

/* One run of argv, stdout to /dev/null; wall seconds, -1 on failure. */
static double
run_once(char **argv)
{
	double t0 = now();
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return now() - t0;
}

static void
print_stats(const char *name, double *v, size_t n, int fails)
{
	double sum = 0;
	size_t i;

	qsort(v, n, sizeof *v, cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("\"%s\":{\"runs\":%zu,\"failed\":%d,\"median_ms\":%.2f,\"p99_ms\":%.2f,"
	    "\"mean_ms\":%.2f}", name, n, fails, pct(v, n, 0.5) * 1000, pct(v, n, 0.99) * 1000,
	    n ? sum / (double)n * 1000 : 0);
}

static int
main_exec(int n, char **a, char **b)
{
	double *va, *vb;
	size_t na = 0, nb = 0;
	int i, fa = 0, fb = 0;

	if (n < 1 || n > 100000 || (va = calloc((size_t)n, sizeof *va)) == NULL ||
	    (vb = calloc((size_t)n, sizeof *vb)) == NULL)
		return 2;
	for (i = 0; i < n; i++) {
		double t;

		if ((t = run_once(a)) < 0)
			fa++;
		else
			va[na++] = t;
		if (b != NULL) {
			if ((t = run_once(b)) < 0)
				fb++;
			else
				vb[nb++] = t;
		}
	}
	printf("{");
	print_stats("a", va, na, fa);
	if (b != NULL) {
		printf(",");
		print_stats("b", vb, nb, fb);
	}
	printf(",\"children_cpu_s\":%.3f}\n", cpu_seconds(RUSAGE_CHILDREN));
	free(va);
	free(vb);
	return fa + fb > 0;
}

static uint64_t
size_arg(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	if (*end == 'K' || *end == 'k')
		v <<= 10;
	else if (*end == 'M' || *end == 'm')
		v <<= 20;
	return v;
}

int
main(int argc, char **argv)
{
	int i;

	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "exec") == 0) {
		int n = 10;
		char **a = NULL, **b = NULL;

		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
				n = atoi(argv[++i]);
			else if (strcmp(argv[i], "--") == 0) {
				if (a == NULL)
					a = &argv[i + 1];
				else {
					b = &argv[i + 1];
					argv[i] = NULL;	/* ends a */
				}
			}
		}
		if (a == NULL || a[0] == NULL)
			goto usage;
		return main_exec(n, a, b);
	}
	if (strcmp(argv[1], "ingest") != 0)
		goto usage;
	for (i = 2; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(k, "--nginx") == 0) {
			O.nginx = 1;
			continue;
		}
		if (strcmp(k, "--prng") == 0) {
			O.prng = 1;
			continue;
		}
		if (v == NULL)
			goto usage;
		i++;
		if (strcmp(k, "--url") == 0)
			O.url = v;
		else if (strcmp(k, "--ca") == 0)
			O.ca = v;
		else if (strcmp(k, "--codes") == 0)
			O.codes = v;
		else if (strcmp(k, "--clients") == 0)
			O.clients = atoi(v);
		else if (strcmp(k, "--seconds") == 0)
			O.seconds = atof(v);
		else if (strcmp(k, "--bundles") == 0)
			O.bundles = atol(v);
		else if (strcmp(k, "--obs") == 0)
			O.obs = atoi(v);
		else if (strcmp(k, "--photo") == 0)
			O.photo = size_arg(v);
		else if (strcmp(k, "--chunk") == 0)
			O.chunk = size_arg(v);
		else
			goto usage;
	}
	return main_ingest();
usage:
	fprintf(stderr, "usage: load ingest --url U --ca CA --codes FILE [--clients N] "
	    "[--seconds S] [--bundles M] [--obs K] [--photo BYTES] [--prng] [--chunk B] "
	    "[--nginx]\n       load exec -n N -- CMD... [-- CMD...]\n");
	return 2;
}

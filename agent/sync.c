/*
 * sync.c: one sync pass of the agent (proto/PROTOCOL.md sections 8-10).
 *
 * A pass seals the pending observations into bundles (store.c), then for
 * each unreceipted bundle in bundle_seq order: offer it, upload only the
 * blobs the server lacks, from the offset it holds, one chunk at a time
 * streamed from the blob file (neither a blob nor a chunk is ever held
 * whole in memory), commit, and
 * verify the server-signed receipt before store.c may mark anything
 * receipted.  Then it reads the downlink feed after the stored cursor,
 * keeps each message whose signature verifies, and acts on a verified
 * revocation (the key is destroyed, syncing stops).  Last, store.c purges
 * what the retention time allows.
 *
 * Every request goes through net.c (one curl multi loop, see there).
 * Failures are classed as protocol section 10 says: network failures,
 * 5xx, 429 and the retry codes are retried with exponential backoff and
 * jitter within a small budget per pass (Retry-After honoured), and the
 * pass ends with a retryable error for the daemon's timer when the budget
 * is spent; clock_skew corrects the request clock from the server's time
 * and retries at once; anything else is reported, never retried
 * unchanged.  An upload cut by the network resumes from the offset the
 * server acknowledges (an empty PUT past its end asks for it): finished
 * chunks are never sent again.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "agent.h"

#define SYNC_COMMIT_ROUNDS	3	/* commit -> incomplete -> upload again */
#define SYNC_OFFSET_RESTARTS	16	/* bad_offset answers per blob */
#define SYNC_BAR_INTERVAL_MS	250

struct sync_run {
	struct agent *a;
	struct net *net;
	const struct sync_ctl *ctl;
	struct sync_report *r;
	int64_t waited_ms;		/* retry waits of this pass so far */
	int clock_noted;
	int last_retryable;		/* the last failed request may be retried */
	/* progress bar */
	int bar;
	uint64_t total, done, inflight;
	struct timespec t0, last_draw;
};

static int64_t
sync_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000L;
}

int64_t
sync_backoff_ms(unsigned failures, uint32_t rnd)
{
	int64_t d = SYNC_BACKOFF_MIN_MS, half;

	if (failures == 0)
		failures = 1;
	/* Bounded: at most 31 doublings before the cap stops it. */
	for (unsigned i = 1; i < failures && i < 32 && d < SYNC_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > SYNC_BACKOFF_MAX_MS)
		d = SYNC_BACKOFF_MAX_MS;
	half = d / 2;
	return half + (int64_t)(rnd % (uint32_t)(d - half + 1));
}

static uint32_t
sync_random(void)
{
	uint32_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
		v = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	return v;
}

/* ---- verification ------------------------------------------------------ */

static fw_err
sync_sig_decode(const json_t *v, const char *what, uint8_t sig[ED25519_SIG_LEN])
{
	const char *s = json_string_value(v);
	size_t n = 0;

	if (s == NULL)
		return fw_seterr(v ? FW_ERR_FIELD_TYPE : FW_ERR_FIELD_MISSING, "%s: field "
		    "'signature' is %s, expected a base64 string", what, jsonx_type_name(v));
	if (base64_decode(s, strlen(s), 1, sig, ED25519_SIG_LEN, &n) != FW_OK ||
	    n != ED25519_SIG_LEN)
		return fw_seterr(FW_ERR_FIELD_VALUE, "%s: 'signature' is not 64 bytes of "
		    "base64", what);
	return FW_OK;
}

/* FW_OK if rk signed the canonical bytes of v. */
static fw_err
sync_sig_check(const struct ed25519_key *rk, const json_t *v,
    const uint8_t sig[ED25519_SIG_LEN], const char *what)
{
	struct buf canon;
	fw_err e;

	buf_init(&canon, FW_MAX_MANIFEST);
	if ((e = jsonx_dump_canonical(v, &canon)) == FW_OK)
		e = ed25519_verify(rk, canon.data, canon.len, sig);
	buf_free(&canon);
	if (e == FW_ERR_SIGNATURE)
		return fw_seterr(e, "%s: the signature does not verify with the receipt key "
		    "from enrollment", what);
	return e;
}

fw_err
sync_verify_receipt(const struct ed25519_key *rk, const char *bundle_id,
    const char *device_id, const char *const *obs, size_t nobs,
    const uint8_t *answer, size_t len)
{
	static const char *const keys[] = {"version", "bundle", "device", "observations",
	    "refused", "received", "audit_seq", "audit_hash", NULL};
	const json_t *rec, *list, *refused;
	const char *state, *s;
	uint8_t sig[ED25519_SIG_LEN];
	unsigned char *seen = NULL;
	int64_t v;
	json_t *o;
	fw_err e;

	if (rk == NULL)
		return fw_seterr(FW_ERR_KEY, "receipt: no receipt key (not enrolled)");
	if ((e = jsonx_load(answer, len, &o)) != FW_OK)
		return fw_errctx(e, "receipt");
	if (!json_is_object(o)) {
		e = fw_seterr(FW_ERR_JSON, "receipt: the answer is not a JSON object");
		goto out;
	}
	if ((e = jsonx_get_str(o, "state", 0, 0, 1, 32, &state, "receipt")) != FW_OK)
		goto out;
	if (strcmp(state, "committed") != 0) {
		e = fw_seterr(FW_ERR_FIELD_VALUE, "receipt: state is '%s', expected "
		    "'committed'", state);
		goto out;
	}
	if ((e = jsonx_get_object(o, "receipt", 0, &rec, "receipt")) != FW_OK ||
	    (e = sync_sig_decode(json_object_get(o, "signature"), "receipt", sig)) != FW_OK)
		goto out;
	/* The signature first: nothing in an unsigned receipt is believed. */
	if ((e = sync_sig_check(rk, rec, sig, "receipt")) != FW_OK)
		goto out;
	if ((e = jsonx_check_keys(rec, keys, "receipt")) != FW_OK ||
	    (e = jsonx_get_int(rec, "version", 0, 1, INT64_MAX, &v, NULL, "receipt")) != FW_OK)
		goto out;
	if (v != FW_PROTO_VERSION) {
		e = fw_seterr(FW_ERR_VERSION, "receipt: version %" PRId64 ", expected %d", v,
		    FW_PROTO_VERSION);
		goto out;
	}
	if ((e = jsonx_get_str(rec, "bundle", 0, 0, SHA256_HEX, SHA256_HEX, &s,
	    "receipt")) != FW_OK)
		goto out;
	if (strcmp(s, bundle_id) != 0) {
		e = fw_seterr(FW_ERR_FIELD_VALUE, "receipt: names bundle %s, expected %s", s,
		    bundle_id);
		goto out;
	}
	if ((e = jsonx_get_str(rec, "device", 0, 0, ED25519_DEVICE_ID_LEN,
	    ED25519_DEVICE_ID_LEN, &s, "receipt")) != FW_OK)
		goto out;
	if (strcmp(s, device_id) != 0) {
		e = fw_seterr(FW_ERR_FIELD_VALUE, "receipt: names device %s, expected %s", s,
		    device_id);
		goto out;
	}
	if ((e = jsonx_get_str(rec, "received", 0, 0, 20, 20, &s, "receipt")) != FW_OK ||
	    (e = bundle_time_parse(s, &v)) != FW_OK ||
	    (e = jsonx_get_int(rec, "audit_seq", 0, 1, (int64_t)FW_MAX_SEQ, &v, NULL,
	    "receipt")) != FW_OK ||
	    (e = jsonx_get_str(rec, "audit_hash", 0, 0, SHA256_HEX, SHA256_HEX, &s,
	    "receipt")) != FW_OK ||
	    (e = jsonx_get_array(rec, "observations", 0, 0, FW_MAX_OBSERVATIONS, &list,
	    "receipt")) != FW_OK ||
	    (e = jsonx_get_array(rec, "refused", 0, 0, FW_MAX_OBSERVATIONS, &refused,
	    "receipt")) != FW_OK)
		goto out;
	/* Stored and refused together are the bundle's observations. */
	if (json_array_size(list) + json_array_size(refused) != nobs) {
		e = fw_seterr(FW_ERR_FIELD_LENGTH, "receipt: names %zu observations and "
		    "%zu refused, the bundle holds %zu", json_array_size(list),
		    json_array_size(refused), nobs);
		goto out;
	}
	if ((seen = calloc(nobs ? nobs : 1, 1)) == NULL) {
		e = fw_seterr(FW_ERR_NOMEM, "receipt: out of memory");
		goto out;
	}
	/* Exactly the bundle's observations, each once (n <= 256: a square
	 * walk is cheap). */
	for (size_t i = 0; i < nobs; i++) {
		size_t nl = json_array_size(list);
		const json_t *r = i < nl ? NULL : json_array_get(refused, i - nl);
		const char *id = r == NULL ? json_string_value(json_array_get(list, i))
		    : json_string_value(json_object_get(r, "observation"));
		size_t k;
		if (id == NULL || (r != NULL &&
		    json_string_value(json_object_get(r, "error")) == NULL)) {
			e = fw_seterr(FW_ERR_FIELD_TYPE, "receipt: %s[%zu] is not %s",
			    r ? "refused" : "observations", r ? i - nl : i,
			    r ? "{\"observation\", \"error\"}" : "a string");
			goto out;
		}
		for (k = 0; k < nobs && strcmp(obs[k], id) != 0; k++)
			;
		if (k == nobs || seen[k]) {
			e = fw_seterr(FW_ERR_FIELD_VALUE, "receipt: observation %.40s %s", id,
			    k == nobs ? "is not in the bundle" : "is named twice");
			goto out;
		}
		seen[k] = 1;
	}
	for (size_t k = 0; k < nobs; k++)
		if (!seen[k]) {
			e = fw_seterr(FW_ERR_FIELD_VALUE, "receipt: observation %s of the "
			    "bundle is missing", obs[k]);
			goto out;
		}
out:
	free(seen);
	json_decref(o);
	return e;
}

fw_err
sync_verify_message(const struct ed25519_key *rk, const char *device_id,
    const json_t *msg, uint64_t *cursor, const char **kind)
{
	uint8_t sig[ED25519_SIG_LEN];
	const json_t *body;
	const char *dev, *k, *created;
	int64_t c, t;
	json_t *copy;
	fw_err e;

	if (rk == NULL)
		return fw_seterr(FW_ERR_KEY, "feed: no receipt key (not enrolled)");
	if (!json_is_object(msg))
		return fw_seterr(FW_ERR_FIELD_TYPE, "feed: a message is %s, expected an "
		    "object", jsonx_type_name(msg));
	if ((e = sync_sig_decode(json_object_get(msg, "signature"), "feed message", sig))
	    != FW_OK)
		return e;
	if ((copy = json_copy((json_t *)msg)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "feed: out of memory");
	json_object_del(copy, "signature");
	e = sync_sig_check(rk, copy, sig, "feed message");
	json_decref(copy);
	if (e != FW_OK)
		return e;
	if ((e = jsonx_get_int(msg, "cursor", 0, 1, (int64_t)FW_MAX_SEQ, &c, NULL,
	    "feed message")) != FW_OK ||
	    (e = jsonx_get_str(msg, "device", 0, 0, 1, 64, &dev, "feed message")) != FW_OK ||
	    (e = jsonx_get_str(msg, "kind", 0, 0, 1, FW_MAX_CODE, &k, "feed message")) != FW_OK ||
	    (e = jsonx_get_str(msg, "created", 0, 0, 20, 20, &created, "feed message")) != FW_OK ||
	    (e = bundle_time_parse(created, &t)) != FW_OK ||
	    (e = jsonx_get_object(msg, "body", 0, &body, "feed message")) != FW_OK)
		return e;
	if (strcmp(dev, device_id) != 0)
		return fw_seterr(FW_ERR_FIELD_VALUE, "feed message %" PRId64 ": addressed "
		    "to device %s, not to this one (%s)", c, dev, device_id);
	*cursor = (uint64_t)c;
	*kind = k;
	return FW_OK;
}

/* ---- progress ----------------------------------------------------------- */

static void
sync_human(uint64_t n, char *out, size_t outsz)
{
	if (n >= (1u << 20))
		snprintf(out, outsz, "%.1f MiB", (double)n / (1 << 20));
	else if (n >= 1024)
		snprintf(out, outsz, "%.1f KiB", (double)n / 1024);
	else
		snprintf(out, outsz, "%" PRIu64 " B", n);
}

static void
sync_bar_draw(struct sync_run *s, int force)
{
	char done[32], total[32], rate[32], left[32] = "--:--";
	uint64_t d = s->done + s->inflight;
	int64_t ms;
	double bps;
	int pct;

	if (!s->bar)
		return;
	if (!force && sync_ms_since(&s->last_draw) < SYNC_BAR_INTERVAL_MS)
		return;
	clock_gettime(CLOCK_MONOTONIC, &s->last_draw);
	ms = sync_ms_since(&s->t0);
	if (d > s->total)
		s->total = d;
	bps = ms > 0 ? (double)d * 1000.0 / (double)ms : 0;
	sync_human(d, done, sizeof done);
	sync_human(s->total, total, sizeof total);
	sync_human((uint64_t)bps, rate, sizeof rate);
	if (bps > 1 && s->total >= d) {
		uint64_t sec = (uint64_t)((double)(s->total - d) / bps);
		if (sec < 100 * 3600)
			snprintf(left, sizeof left, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			    sec / 3600, sec / 60 % 60, sec % 60);
	}
	pct = s->total ? (int)(d * 100 / s->total) : 100;
	fprintf(stderr, "\rsending %3d%% %s / %s  %s/s  %s left\033[K", pct, done, total,
	    rate, left);
	fflush(stderr);
}

static void
sync_bar_end(struct sync_run *s)
{
	if (!s->bar)
		return;
	sync_bar_draw(s, 1);
	fputc('\n', stderr);
	s->bar = 0;
}

static void
sync_progress_cb(void *ctx, uint64_t sent)
{
	struct sync_run *s = ctx;

	s->inflight = sent;
	sync_bar_draw(s, 0);
}

/* ---- requests with retries ---------------------------------------------- */

static void
sync_note_clock(struct sync_run *s, int64_t server_time, int force)
{
	if (server_time <= 0 || (s->clock_noted && !force))
		return;
	s->clock_noted = 1;
	if (store_clock_note(s->a, server_time) != FW_OK)
		log_debug("clock note: %s", fw_errmsg());
}

/*
 * One request; a clock_skew answer corrects the request clock from the
 * server's time and retries once at once, a replay once with a new
 * nonce.  Counts the bytes sent.
 */
static fw_err
sync_once(struct sync_run *s, const char *method, const char *target,
    const char *ctype, const void *body, size_t len, int fd, uint64_t off,
    struct net_answer *ans)
{
	int skew = 0, replay = 0;
	fw_err e = FW_OK;

	for (int i = 0; i < 3; i++) {
		s->inflight = 0;
		e = fd >= 0 ? net_request_fd(s->net, method, target, ctype, fd, off, len, ans)
		    : net_request(s->net, method, target, ctype, body, len, ans);
		s->r->bytes_sent += ans->sent;
		s->inflight = 0;
		if (ans->retry_after >= 0)
			s->r->retry_after = ans->retry_after;
		sync_note_clock(s, ans->server_time, 0);
		if (e == FW_ERR_CLOCK_SKEW && !skew) {
			const json_t *st = ans->json ? json_object_get(ans->json,
			    "server_time") : NULL;
			int64_t server = json_is_integer(st) ? (int64_t)json_integer_value(st)
			    : ans->server_time;
			int64_t skew_s;
			if (server <= 0)
				return e;
			skew_s = server - (int64_t)time(NULL);
			if (s->bar)
				fputs("\r\033[K", stderr);
			if (skew_s <= -2 || skew_s >= 2)
				log_info("device clock is %" PRId64 " s %s the server's; "
				    "correcting request times", skew_s < 0 ? -skew_s : skew_s,
				    skew_s < 0 ? "ahead of" : "behind");
			else
				log_debug("request clock offset %" PRId64 " s was stale; dropped",
				    net_clock_offset(s->net));
			net_set_clock_offset(s->net, skew_s);
			sync_note_clock(s, server, 1);
			skew = 1;
			continue;
		}
		if (e == FW_ERR_REPLAY && !replay) {
			replay = 1;
			continue;
		}
		return e;
	}
	return e;
}

/*
 * After a failed attempt number `tries`: wait the backoff (or the
 * server's Retry-After, if longer) and return FW_OK to retry, or the
 * error if it is not retryable, the tries are spent or the wait would
 * pass this pass's budget.
 */
static fw_err
sync_wait(struct sync_run *s, unsigned tries, const struct net_answer *ans, fw_err e)
{
	int64_t ms;

	if (!net_retryable(ans) || tries >= SYNC_TRIES)
		return e;
	ms = sync_backoff_ms(tries, sync_random());
	if (ans->retry_after >= 0) {
		int64_t ra = ans->retry_after > SYNC_RETRY_AFTER_MAX ? SYNC_RETRY_AFTER_MAX
		    : ans->retry_after;
		if (ra * 1000 > ms)
			ms = ra * 1000;
	}
	if (s->waited_ms + ms > SYNC_PASS_WAIT_MS)
		return e;
	if (s->bar)
		fputs("\r\033[K", stderr);	/* the log line replaces the bar's */
	log_info("%s; retrying in %.1f s", ans->msg, (double)ms / 1000);
	s->waited_ms += ms;
	if (net_sleep(s->net, ms) != FW_OK)
		return fw_seterr(FW_ERR_UNAVAILABLE, "interrupted");
	return FW_OK;
}

static fw_err
sync_call(struct sync_run *s, const char *method, const char *target,
    const char *ctype, const void *body, size_t len, struct net_answer *ans)
{
	fw_err e;

	/* Bounded by SYNC_TRIES (sync_wait refuses past it). */
	for (unsigned tries = 1;; tries++) {
		if ((e = sync_once(s, method, target, ctype, body, len, -1, 0, ans)) == FW_OK)
			return FW_OK;
		if (sync_wait(s, tries, ans, e) != FW_OK) {
			s->last_retryable = net_retryable(ans);
			fw_seterr(e, "%s", ans->msg);
			return e;
		}
	}
}

/* ---- one bundle ------------------------------------------------------- */

/* The server's "offset" in an answer, checked against size. */
static fw_err
sync_answer_offset(const struct net_answer *ans, uint64_t size, const char *hex,
    uint64_t *off)
{
	const json_t *v = ans->json ? json_object_get(ans->json, "offset") : NULL;

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > size)
		return fw_seterr(FW_ERR_FIELD_VALUE, "blob %s: the server's offset is %s, "
		    "expected 0..%" PRIu64, hex, jsonx_type_name(v), size);
	*off = (uint64_t)json_integer_value(v);
	return FW_OK;
}

/* Ask the server how much of a blob it holds: an empty PUT at its end
 * answers bad_offset with the offset held, or 200 if it is whole. */
static fw_err
sync_probe(struct sync_run *s, const char *hex, uint64_t size, uint64_t *off)
{
	struct net_answer ans;
	char target[128];
	fw_err e;

	net_answer_init(&ans);
	snprintf(target, sizeof target, "/v1/blobs/%s?offset=%" PRIu64, hex, size);
	e = sync_call(s, "PUT", target, "application/octet-stream", NULL, 0, &ans);
	if (e == FW_OK || e == FW_ERR_OFFSET)
		e = sync_answer_offset(&ans, size, hex, off);
	net_answer_clear(&ans);
	return e;
}

/* Upload blob hex (size bytes) from off in chunks of at most chunk. */
static fw_err
sync_upload(struct sync_run *s, const char *hex, uint64_t size, uint64_t off,
    size_t chunk)
{
	struct net_answer ans;
	char path[4096], target[128];
	struct stat st;
	unsigned tries = 0, restarts = 0, zeroes = 0;
	uint64_t maxiter;
	fw_err e = FW_OK;
	int fd;

	if ((e = store_blob_path(s->a, hex, path, sizeof path)) != FW_OK)
		return e;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return file_errno(errno, path);
	if (fstat(fd, &st) == -1)
		e = file_errno(errno, path);
	else if ((uint64_t)st.st_size != size)
		e = fw_seterr(FW_ERR_TRUNCATED, "blob %s: the file holds %jd bytes, the "
		    "bundle says %" PRIu64, hex, (intmax_t)st.st_size, size);
	if (e != FW_OK) {
		close(fd);
		return e;
	}
	net_answer_init(&ans);
	maxiter = size / chunk + 2 + SYNC_OFFSET_RESTARTS + SYNC_TRIES;
	for (uint64_t it = 0; off < size && it < maxiter; it++) {
		size_t len = size - off < chunk ? (size_t)(size - off) : chunk;
		uint64_t h = 0;

		snprintf(target, sizeof target, "/v1/blobs/%s?offset=%" PRIu64, hex, off);
		e = sync_once(s, "PUT", target, "application/octet-stream", NULL, len, fd, off,
		    &ans);
		if (e == FW_OK) {
			if ((e = sync_answer_offset(&ans, size, hex, &h)) != FW_OK)
				break;
			if (h <= off) {
				e = fw_seterr(FW_ERR_INTERNAL, "blob %s: the server holds %"
				    PRIu64 " bytes after a chunk at %" PRIu64, hex, h, off);
				break;
			}
			s->r->blob_bytes += len;
			s->done += h - off;
			off = h;
			tries = 0;
			sync_bar_draw(s, 0);
			continue;
		}
		if (e == FW_ERR_OFFSET && restarts++ < SYNC_OFFSET_RESTARTS) {
			if ((e = sync_answer_offset(&ans, size, hex, &h)) != FW_OK)
				break;
			log_debug("blob %s: server holds %" PRIu64 " bytes; continuing there",
			    hex, h);
			if (h > off)
				s->done += h - off;
			off = h;
			continue;
		}
		if (e == FW_ERR_HASH_MISMATCH && zeroes++ == 0) {
			log_warnx("blob %s: %s; sending it again from 0", hex, ans.msg);
			off = 0;
			continue;
		}
		if (sync_wait(s, ++tries, &ans, e) != FW_OK) {
			s->last_retryable = net_retryable(&ans);
			fw_seterr(e, "%s", ans.msg);
			break;
		}
		/* The answer was lost, not necessarily the chunk: ask. */
		if ((e = sync_probe(s, hex, size, &h)) != FW_OK)
			break;
		if (h > off)
			s->done += h - off;
		off = h;
	}
	if (e == FW_OK && off < size)
		e = fw_seterr(FW_ERR_INCOMPLETE, "blob %s: stopped at %" PRIu64 " of %" PRIu64
		    " bytes after too many attempts", hex, off, size);
	if (e == FW_OK)
		s->r->blobs++;
	net_answer_clear(&ans);
	close(fd);
	return e;
}

/* Is hex a blob of the bundle?  Its blob_size. */
static int
sync_bundle_has_blob(const struct fw_bundle *b, const char *hex, uint64_t *size)
{
	for (size_t i = 0; i < b->m->nobs; i++)
		for (size_t j = 0; j < b->m->obs[i].nevidence; j++)
			if (strcmp(b->m->obs[i].evidence[j].blob, hex) == 0) {
				*size = b->m->obs[i].evidence[j].blob_size;
				return 1;
			}
	return 0;
}

/* Upload every blob of a "missing" list. */
static fw_err
sync_missing(struct sync_run *s, const struct fw_bundle *b, const json_t *miss,
    size_t chunk)
{
	fw_err e;

	if (!json_is_array(miss))
		return fw_seterr(FW_ERR_FIELD_TYPE, "offer: 'missing' is %s, expected an "
		    "array", jsonx_type_name(miss));
	for (size_t i = 0; i < json_array_size(miss); i++) {
		const json_t *m = json_array_get(miss, i);
		const char *hex = json_string_value(json_object_get(m, "blob"));
		const json_t *jo = json_object_get(m, "offset");
		uint64_t size;

		if (hex == NULL || !hex_is_lower(hex, SHA256_HEX) ||
		    !sync_bundle_has_blob(b, hex, &size))
			return fw_seterr(FW_ERR_FIELD_VALUE, "offer: missing[%zu] names a blob "
			    "that bundle %s does not hold", i, b->id);
		if (!json_is_integer(jo) || json_integer_value(jo) < 0 ||
		    (uint64_t)json_integer_value(jo) > size)
			return fw_seterr(FW_ERR_FIELD_VALUE, "offer: missing[%zu].offset is "
			    "not within 0..%" PRIu64, i, size);
		if ((e = sync_upload(s, hex, size, (uint64_t)json_integer_value(jo),
		    chunk)) != FW_OK)
			return e;
	}
	return FW_OK;
}

/* Verify a receipt answer and record it. */
static fw_err
sync_receipt(struct sync_run *s, const struct fw_bundle *b, const struct net_answer *ans)
{
	const char *ids[FW_MAX_OBSERVATIONS];
	size_t refused;
	fw_err e;

	for (size_t i = 0; i < b->m->nobs && i < FW_MAX_OBSERVATIONS; i++)
		ids[i] = b->m->obs[i].id;
	if ((e = sync_verify_receipt(s->a->receipt_key, b->id, s->a->device_id, ids,
	    b->m->nobs, ans->body.data, ans->body.len)) != FW_OK) {
		log_debug("bundle %s: receipt refused: %s", b->id, fw_errmsg());
		return fw_errctx(e, "bundle %s", b->id);
	}
	if ((e = store_receipt(s->a, b->id, ans->body.data, ans->body.len,
	    &refused)) != FW_OK)
		return e;
	s->r->refused += refused;
	s->r->bundles++;
	s->r->observations += b->m->nobs;
	log_debug("bundle %s: receipt verified, %zu observations", b->id, b->m->nobs);
	return FW_OK;
}

/* Bytes a bundle still needs sent, from the offer's missing list; the
 * rest of its blob bytes are already done for the progress bar. */
static void
sync_bar_account(struct sync_run *s, const struct fw_bundle *b, const json_t *miss)
{
	uint64_t all = 0, need = 0;

	for (size_t i = 0; i < b->m->nobs; i++)
		for (size_t j = 0; j < b->m->obs[i].nevidence; j++)
			all += b->m->obs[i].evidence[j].blob_size;
	for (size_t i = 0; i < json_array_size(miss); i++) {
		const json_t *m = json_array_get(miss, i);
		json_int_t sz = json_integer_value(json_object_get(m, "size"));
		json_int_t of = json_integer_value(json_object_get(m, "offset"));
		if (sz > of && of >= 0)
			need += (uint64_t)(sz - of);
	}
	/* Shared blobs make `all` count some bytes twice: never below 0. */
	if (all > need && s->total >= all - need)
		s->total -= all - need;
}

static fw_err
sync_bundle(struct sync_run *s, const struct store_bundle *sb)
{
	struct fw_bundle *b = NULL;
	struct net_answer ans;
	const json_t *st, *cs;
	char body[128];
	size_t chunk;
	fw_err e;

	net_answer_init(&ans);
	if ((e = bundle_open(sb->container.data, sb->container.len, &b)) != FW_OK) {
		e = fw_errctx(e, "stored bundle %s", sb->id);
		goto out;
	}
	if (strcmp(b->id, sb->id) != 0) {
		e = fw_seterr(FW_ERR_HASH_MISMATCH, "stored bundle %s has id %s", sb->id, b->id);
		goto out;
	}
	/* Sealed by the key of an earlier enrollment: the server takes it
	 * from that device only (protocol 6), so it goes by export-bundle. */
	if (strcmp(b->m->device, s->a->device_id) != 0) {
		log_debug("bundle %s: sealed as device %s, not %s: skipped", b->id,
		    b->m->device, s->a->device_id);
		s->r->skipped++;
		goto out;
	}
	if ((e = sync_call(s, "POST", "/v1/sync/offer", "application/vnd.fundwatch.bundle",
	    sb->container.data, sb->container.len, &ans)) != FW_OK)
		goto out;
	st = json_object_get(ans.json, "state");
	if (json_is_string(st) && strcmp(json_string_value(st), "committed") == 0) {
		sync_bar_account(s, b, NULL);
		e = sync_receipt(s, b, &ans);
		goto out;
	}
	cs = json_object_get(ans.json, "chunk_size");
	chunk = s->a->cfg.chunk_size ? (size_t)s->a->cfg.chunk_size : FW_DEFAULT_CHUNK;
	if (json_is_integer(cs) && json_integer_value(cs) > 0 &&
	    (uint64_t)json_integer_value(cs) < chunk)
		chunk = (size_t)json_integer_value(cs);
	if (chunk > FW_MAX_CHUNK)
		chunk = FW_MAX_CHUNK;
	sync_bar_account(s, b, json_object_get(ans.json, "missing"));
	if ((e = sync_missing(s, b, json_object_get(ans.json, "missing"), chunk)) != FW_OK)
		goto out;
	snprintf(body, sizeof body, "{\"bundle\":\"%s\"}", b->id);
	for (int round = 0; round < SYNC_COMMIT_ROUNDS; round++) {
		e = sync_call(s, "POST", "/v1/sync/commit", "application/json", body,
		    strlen(body), &ans);
		if (e == FW_OK) {
			e = sync_receipt(s, b, &ans);
			goto out;
		}
		if (e != FW_ERR_INCOMPLETE)
			goto out;
		log_debug("bundle %s: %s", b->id, ans.msg);
		if ((e = sync_missing(s, b, json_object_get(ans.json, "missing"), chunk))
		    != FW_OK)
			goto out;
	}
	e = fw_seterr(FW_ERR_INCOMPLETE, "bundle %s: still incomplete after %d commits",
	    b->id, SYNC_COMMIT_ROUNDS);
out:
	net_answer_clear(&ans);
	bundle_free(b);
	return e;
}

/* ---- feed --------------------------------------------------------------- */

static fw_err
sync_revocation(struct sync_run *s, const json_t *msg)
{
	const char *reason = json_string_value(json_object_get(json_object_get(msg, "body"),
	    "reason"));
	fw_err e;

	if ((e = store_revoked(s->a, reason ? reason : "")) != FW_OK)
		return e;
	net_set_key(s->net, NULL, NULL);
	s->r->revoked = 1;
	log_debug("this device was revoked by the office (%s): its private key is "
	    "destroyed and syncing has stopped; pending evidence stays encrypted and can "
	    "go out with export-bundle", reason ? reason : "no reason given");
	return fw_seterr(FW_ERR_REVOKED, "this device was revoked by the office (%s): "
	    "its private key is destroyed and syncing has stopped", reason ? reason
	    : "no reason given");
}

static fw_err
sync_feed(struct sync_run *s)
{
	struct net_answer ans;
	struct buf canon;
	uint64_t cur = 0;
	char target[96];
	fw_err e;

	if ((e = store_feed_cursor(s->a, &cur)) != FW_OK)
		return e;
	net_answer_init(&ans);
	buf_init(&canon, NET_ANSWER_MAX);
	for (int page = 0; page < SYNC_FEED_PAGES; page++) {
		const json_t *msgs;
		snprintf(target, sizeof target, "/v1/feed?after=%" PRIu64 "&limit=%d", cur,
		    SYNC_FEED_LIMIT);
		if ((e = sync_call(s, "GET", target, NULL, NULL, 0, &ans)) != FW_OK)
			break;
		msgs = json_object_get(ans.json, "messages");
		if (!json_is_array(msgs)) {
			e = fw_seterr(FW_ERR_FIELD_TYPE, "feed: 'messages' is %s, expected an "
			    "array", jsonx_type_name(msgs));
			break;
		}
		for (size_t i = 0; e == FW_OK && i < json_array_size(msgs); i++) {
			const json_t *m = json_array_get(msgs, i);
			const char *kind = NULL;
			uint64_t c = 0;

			if (sync_verify_message(s->a->receipt_key, s->a->device_id, m, &c,
			    &kind) != FW_OK) {
				log_warnx("feed: message dropped: %s", fw_errmsg());
				s->r->feed_dropped++;
				continue;
			}
			if (c <= cur)
				continue;
			buf_reset(&canon);
			if ((e = jsonx_dump_canonical(m, &canon)) != FW_OK ||
			    (e = store_feed_add(s->a, c, kind, canon.data, canon.len)) != FW_OK)
				break;
			cur = c;
			s->r->feed++;
			if (strcmp(kind, "revocation") == 0)
				e = sync_revocation(s, m);
		}
		if (e != FW_OK || !json_is_true(json_object_get(ans.json, "more")))
			break;
		/* Past dropped messages too, so that the next page moves on. */
		{
			const json_t *nx = json_object_get(ans.json, "next");
			if (json_is_integer(nx) && json_integer_value(nx) > 0 &&
			    (uint64_t)json_integer_value(nx) > cur)
				cur = (uint64_t)json_integer_value(nx);
			else if (json_array_size(msgs) == 0)
				break;
		}
	}
	buf_free(&canon);
	net_answer_clear(&ans);
	return e;
}

/* ---- the pass ------------------------------------------------------------ */

static fw_err
sync_lock(struct agent *a, int *fdp)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/sync.lock", a->datadir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return file_errno(errno, path);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int err = errno;
		close(fd);
		if (err == EWOULDBLOCK)
			return fw_seterr(FW_ERR_EXISTS, "another sync is running on %s (the "
			    "daemon?)", a->datadir);
		return file_errno(err, path);
	}
	*fdp = fd;
	return FW_OK;
}

/* Is e the end of the pass, or only of this bundle? */
static int
sync_fatal(const struct sync_report *r, fw_err e, int retryable)
{
	if (retryable || r->revoked)
		return 1;
	switch (e) {
	case FW_ERR_CRYPTO:
	case FW_ERR_CONFIG:
	case FW_ERR_UNAVAILABLE:
	case FW_ERR_AUTH:
	case FW_ERR_SIGNATURE:
	case FW_ERR_UNKNOWN_DEVICE:
	case FW_ERR_REVOKED:
	case FW_ERR_CLOCK_SKEW:
	case FW_ERR_REPLAY:
	case FW_ERR_NOMEM:
	case FW_ERR_NOSPACE:
	case FW_ERR_IO:
		return 1;
	default:
		return 0;
	}
}

static void
sync_record(struct sync_report *r, fw_err e, int retryable)
{
	if (r->err != FW_OK)
		return;
	r->err = e;
	r->retryable = retryable;
	snprintf(r->msg, sizeof r->msg, "%s", fw_errmsg());
}

static void
sync_state_save(struct agent *a, const struct sync_report *r, int64_t start)
{
	struct store_sync_state st;
	char sent[32];

	if (store_sync_state_get(a, &st) != FW_OK)
		memset(&st, 0, sizeof st);
	st.last_attempt = start;
	st.last_ok = r->err == FW_OK;
	if (st.last_ok) {
		st.last_success = (int64_t)time(NULL);
		sync_human(r->bytes_sent, sent, sizeof sent);
		snprintf(st.last_result, sizeof st.last_result, "%zu bundles (%zu "
		    "observations) receipted, %zu blobs, %s sent, %zu messages", r->bundles,
		    r->observations, r->blobs, sent, r->feed);
	} else {
		snprintf(st.last_result, sizeof st.last_result, "%s: %.200s", fw_strerror(r->err),
		    r->msg);
	}
	if (store_sync_state_put(a, &st) != FW_OK)
		log_warnx("sync state not saved: %s", fw_errmsg());
}

static fw_err
sync_net_open(struct agent *a, const struct sync_ctl *c, struct net **out)
{
	struct store_sync_state st;
	struct net_opts o = {0};

	if (store_sync_state_get(a, &st) != FW_OK)
		memset(&st, 0, sizeof st);
	o.url = a->server_url;
	o.ca_path = a->ca_path;
	o.key = a->key;
	o.device_id = a->device_id;
	o.clock_offset = st.has_clock_offset ? st.clock_offset : 0;
	o.max_send_speed = a->cfg.bandwidth;
	o.stop = c->stop;
	o.fds = c->fds;
	o.nfds = c->nfds;
	o.on_fd = c->on_fd;
	o.fd_ctx = c->fd_ctx;
	return net_new(&o, out);
}

/* Seal what is pending, bundle by bundle. */
static fw_err
sync_seal(struct sync_run *s)
{
	char id[SHA256_HEX + 1];
	int sealed = 0;
	fw_err e;

	for (size_t i = 0; i < SYNC_MAX_BUNDLES; i++) {
		if ((e = store_seal(s->a, (size_t)s->a->cfg.bundle_max_obs,
		    s->a->cfg.bundle_max_bytes, id, &sealed)) != FW_OK)
			return e;
		if (!sealed)
			return FW_OK;
		s->r->sealed++;
		log_debug("sealed bundle %s", id);
	}
	return FW_OK;
}

/* Offer, upload and commit every unreceipted bundle in order. */
static void
sync_bundles(struct sync_run *s)
{
	struct store_bundle sb;
	uint64_t after = 0;
	fw_err e;

	for (size_t i = 0; i < SYNC_MAX_BUNDLES; i++) {
		int retryable;
		if ((e = store_bundle_next(s->a, after, &sb)) == FW_ERR_NOT_FOUND)
			return;
		if (e != FW_OK) {
			sync_record(s->r, e, 0);
			return;
		}
		after = sb.seq;
		s->last_retryable = 0;
		e = sync_bundle(s, &sb);
		buf_free(&sb.container);
		if (e == FW_OK)
			continue;
		retryable = s->last_retryable;
		if (s->ctl->stop != NULL && *s->ctl->stop)
			retryable = 0;
		if (e == FW_ERR_REVOKED)
			s->r->refused_revoked = 1;
		if (s->r->err != FW_OK)	/* the first is the pass's own error */
			log_warnx("bundle %s: %s", sb.id, fw_errmsg());
		sync_record(s->r, e, retryable);
		if (sync_fatal(s->r, e, retryable))
			return;
	}
}

fw_err
sync_pass(struct agent *a, const struct sync_ctl *c, struct sync_report *r)
{
	struct sync_run s;
	struct store_counts counts;
	int64_t start = (int64_t)time(NULL);
	int lockfd = -1;
	fw_err e;

	memset(r, 0, sizeof *r);
	r->retry_after = -1;
	memset(&s, 0, sizeof s);
	s.a = a;
	s.ctl = c;
	s.r = r;
	if (!a->enrolled)
		e = fw_seterr(FW_ERR_UNKNOWN_DEVICE, "this device is not enrolled: run "
		    "`fundwatch-agent enroll --server URL --code CODE --ca FILE` first");
	else if (a->revoked)
		e = fw_seterr(FW_ERR_REVOKED, "this device was revoked by the office: "
		    "syncing has stopped; pending evidence can go out with export-bundle");
	else if (a->key == NULL)
		e = fw_seterr(a->key_err ? a->key_err : FW_ERR_KEY, "the device key %s "
		    "cannot be used (%s): nothing can be signed", a->key_path,
		    fw_errdesc(a->key_err ? a->key_err : FW_ERR_KEY));
	else
		e = sync_lock(a, &lockfd);
	if (e != FW_OK) {
		sync_record(r, e, 0);
		return e;
	}
	if ((e = sync_seal(&s)) != FW_OK) {
		fw_errctx(e, "sealing");
		sync_record(r, e, 0);
	}
	if ((e = sync_net_open(a, c, &s.net)) != FW_OK) {
		sync_record(r, e, 0);
		goto out;
	}
	if (c->progress && store_counts(a, &counts) == FW_OK && counts.unreceipted_bytes > 0) {
		s.bar = 1;
		s.total = counts.unreceipted_bytes;
		clock_gettime(CLOCK_MONOTONIC, &s.t0);
		s.last_draw = s.t0;
		s.last_draw.tv_sec -= 1;
		net_set_progress(s.net, sync_progress_cb, &s);
	}
	sync_bundles(&s);
	sync_bar_end(&s);
	/* The feed also after a bundle's own refusal, and when the server
	 * refuses us as revoked: the signed revocation is there.  Not when
	 * the link or the certificate failed. */
	if (r->err == FW_OK || !sync_fatal(r, r->err, r->retryable) || r->refused_revoked) {
		s.last_retryable = 0;
		if ((e = sync_feed(&s)) != FW_OK) {
			int retryable = s.last_retryable;
			if (r->refused_revoked && e == FW_ERR_REVOKED && !r->revoked) {
				e = fw_seterr(FW_ERR_REVOKED, "the server refuses this device "
				    "as revoked but sent no signed revocation; the key is kept "
				    "and syncing stops until the office says more");
				r->err = FW_OK;
			}
			if (r->revoked)
				r->err = FW_OK;	/* the revocation is the news */
			sync_record(r, e, retryable && !r->revoked);
		}
	}
	if (!r->revoked) {
		size_t n = 0;
		if ((e = store_purge(a, (int64_t)time(NULL), &n)) != FW_OK) {
			fw_errctx(e, "purge");
			sync_record(r, e, 0);
		}
		r->purged = n;
	}
out:
	if (s.bar)
		sync_bar_end(&s);
	sync_state_save(a, r, start);
	net_free(s.net);
	if (lockfd != -1)
		close(lockfd);
	if (r->err != FW_OK)
		fw_seterr(r->err, "%s", r->msg);
	return r->err;
}

/* ---- `sync` ------------------------------------------------------------- */

static volatile sig_atomic_t sync_stop;

static void
sync_on_signal(int sig)
{
	(void)sig;
	sync_stop = 1;
}

static const char sync_usage[] =
    "usage: fundwatch-agent sync [--json] [--quiet] [--config FILE] [--data DIR] [-v]\n"
    "One sync pass now: seal pending observations into bundles, send them\n"
    "(offer, missing evidence in resumable chunks, commit), verify the signed\n"
    "receipts, fetch feedback, tasks and notices.  A progress bar is drawn on\n"
    "a terminal.  Exit status 0 if everything went, 1 otherwise.\n";

static void
sync_print(const struct sync_report *r, int json)
{
	char sent[32];

	if (json) {
		json_t *o = json_pack("{sb sI sI sI sI sI sI sI sI sI sI sI sb sb}", "ok",
		    r->err == FW_OK, "sealed", (json_int_t)r->sealed, "refused",
		    (json_int_t)r->refused, "skipped",
		    (json_int_t)r->skipped, "bundles",
		    (json_int_t)r->bundles, "observations", (json_int_t)r->observations,
		    "blobs", (json_int_t)r->blobs, "bytes_sent", (json_int_t)r->bytes_sent,
		    "blob_bytes", (json_int_t)r->blob_bytes, "feed", (json_int_t)r->feed,
		    "feed_dropped", (json_int_t)r->feed_dropped, "purged",
		    (json_int_t)r->purged, "revoked", r->revoked, "retryable", r->retryable);
		if (o != NULL && r->err != FW_OK) {
			json_object_set_new(o, "error", json_string(fw_strerror(r->err)));
			json_object_set_new(o, "message", json_string(r->msg));
			if (r->retry_after >= 0)
				json_object_set_new(o, "retry_after",
				    json_integer(r->retry_after));
		}
		if (o != NULL) {
			char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
			if (s != NULL)
				printf("%s\n", s);
			free(s);
		}
		json_decref(o);
		return;
	}
	if (r->err != FW_OK)
		fprintf(stderr, "fundwatch-agent: sync: %s\n", r->msg);
	if (r->revoked)
		fprintf(stderr, "fundwatch-agent: this device was revoked by the office; its "
		    "key is destroyed and it no longer syncs.  Pending evidence stays "
		    "encrypted and can go out with export-bundle.\n");
	if (r->skipped > 0)
		fprintf(stderr, "fundwatch-agent: %zu bundles sealed under an earlier "
		    "enrollment's key cannot go over the network from this one; take them "
		    "with export-bundle\n", r->skipped);
	if (isatty(STDOUT_FILENO) || log_getverbose() > 0) {
		sync_human(r->bytes_sent, sent, sizeof sent);
		printf("%zu bundles sealed, %zu receipted (%zu observations), %zu blobs, %s "
		    "sent, %zu messages, %zu purged\n", r->sealed, r->bundles, r->observations,
		    r->blobs, sent, r->feed, r->purged);
	}
}

int
sync_main(const struct agent_opts *opts, int argc, char **argv)
{
	static const struct option lo[] = {
		{"json", no_argument, NULL, 'j'}, {"quiet", no_argument, NULL, 'q'},
		{"config", required_argument, NULL, 'c'}, {"data", required_argument, NULL, 'D'},
		{"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct agent_opts o = *opts;
	struct sigaction sa;
	struct sync_report r;
	struct sync_ctl ctl = {0};
	struct agent *a;
	int c, quiet = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "hqv", lo, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = 1; break;
		case 'q': quiet = 1; break;
		case 'c': o.config = optarg; break;
		case 'D': o.data = optarg; break;
		case 'v': o.verbose++; break;
		case 'h': printf("%s", sync_usage); return 0;
		default: fprintf(stderr, "%s", sync_usage); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", sync_usage);
		return 2;
	}
	if (o.verbose > 0)
		log_setverbose(o.verbose);
	if ((a = cmd_open(&o)) == NULL)
		return 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sync_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	ctl.stop = &sync_stop;
	ctl.progress = !o.json && !quiet && isatty(STDERR_FILENO);
	sync_pass(a, &ctl, &r);
	if (sync_stop && r.err != FW_OK) {
		r.err = FW_ERR_UNAVAILABLE;
		snprintf(r.msg, sizeof r.msg, "interrupted; the next sync resumes where this "
		    "one stopped");
	}
	sync_print(&r, o.json);
	agent_close(a);
	return r.err == FW_OK ? 0 : 1;
}

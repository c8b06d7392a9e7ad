/*
 * api.c: one request in, one answer out (proto/PROTOCOL.md).
 *
 * The HTTPS front (http.c) hands over a struct api_req holding plain bytes
 * and gets back a status and a JSON body; nothing here knows about sockets
 * or TLS, and nothing in http.c knows about the store.  Routing, request
 * authentication (section 4) and the JSON error bodies (section 10) live
 * here; the work itself is ingest.c's.  api_handle is also there in three
 * steps (api_begin, api_verify, api_end), so that the front can check a
 * request's signature on another thread.  The officer API under /v1/office/
 * has its own routes and authentication (bearer tokens): office.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define API_MAX_JSON (64u << 10)	/* enroll and commit bodies */
#define API_NONCE_KEEP (2 * FW_AUTH_WINDOW)

/* Fill rs with e's JSON error body, merging the fields of extra. */
void
api_error(struct api_resp *rs, fw_err e, json_t *extra)
{
	json_t *o = json_pack("{ss ss}", "error", fw_strerror(e), "message", fw_errmsg());

	rs->status = fw_err_http_status(e);
	rs->content_type = "application/json";
	buf_reset(&rs->body);
	if (o != NULL && extra != NULL)
		json_object_update_missing(o, extra);
	if (o == NULL || jsonx_dump_canonical(o, &rs->body) != FW_OK) {
		buf_reset(&rs->body);
		buf_printf(&rs->body, "{\"error\":\"%s\",\"message\":\"\"}", fw_strerror(e));
	}
	json_decref(o);
}

void
api_answer(struct api_resp *rs, fw_err e, json_t *ans)
{
	if (e != FW_OK) {
		api_error(rs, e, ans);
		return;
	}
	rs->status = 200;
	rs->content_type = "application/json";
	buf_reset(&rs->body);
	if ((e = jsonx_dump_canonical(ans, &rs->body)) != FW_OK)
		api_error(rs, e, NULL);
}

/* Strict decimal in [0, max]. */
static int
api_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 1;
}

/* Value of name=... in a query string (no decoding: our values are
 * digits); 0 if absent. */
static int
api_query(const char *query, const char *name, const char **val, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *p = query; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);
		if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			*val = p + nl + 1;
			*len = seg - nl - 1;
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* Forget nonces older than the window, now and then. */
static void
api_prune_nonces(struct server *s, int64_t now)
{
	static int64_t last;

	if (now - last < 60)
		return;
	last = now;
	db_lazy(s->db, 1);	/* memory only: nothing to sync */
	if (db_run(s->db, "DELETE FROM mem.nonces WHERE seen < ?", "i",
	    now - API_NONCE_KEEP) != FW_OK)
		log_warnx("nonces: %s", fw_errmsg());
	db_lazy(s->db, 0);
}

/*
 * Request authentication (protocol 4), in three steps so that the
 * signature check, pure computation, may run on another thread (http.c):
 * api_auth_begin checks the headers, looks up the device's key and the
 * clock (on FW_ERR_CLOCK_SKEW *extra holds the server's time);
 * api_verify hashes the body into job->bodyhash and checks the
 * signature; api_auth_end takes its verdict and spends the nonce.  A
 * revoked device may still read its feed (feed_ok): that is where the
 * signed revocation waits, which alone lets it destroy its key.
 */
static fw_err
api_auth_begin(struct server *s, const struct api_req *rq, int feed_ok,
    json_t **extra, struct api_job *job)
{
	uint64_t ts;
	int64_t now = (int64_t)time(NULL);
	size_t siglen;
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if (rq->fw_device == NULL || rq->fw_time == NULL || rq->fw_nonce == NULL ||
	    rq->fw_signature == NULL)
		return fw_seterr(FW_ERR_AUTH, "headers FW-Device, FW-Time, FW-Nonce and "
		    "FW-Signature are required");
	if (!hex_is_lower(rq->fw_device, ED25519_DEVICE_ID_LEN))
		return fw_seterr(FW_ERR_AUTH, "FW-Device must be 32 lowercase hex");
	if (!hex_is_lower(rq->fw_nonce, FW_NONCE_HEX))
		return fw_seterr(FW_ERR_AUTH, "FW-Nonce must be 32 lowercase hex");
	if (!api_uint(rq->fw_time, strlen(rq->fw_time), (uint64_t)INT64_MAX / 2, &ts))
		return fw_seterr(FW_ERR_AUTH, "FW-Time must be decimal Unix seconds");
	if (base64_decode(rq->fw_signature, strlen(rq->fw_signature), 1, job->sig,
	    sizeof job->sig, &siglen) != FW_OK || siglen != sizeof job->sig)
		return fw_seterr(FW_ERR_AUTH, "FW-Signature must be 64 bytes of base64");
	if ((e = db_prepare(s->db, &st, "SELECT pubkey, revoked IS NOT NULL FROM devices"
	    " WHERE id = ?", "s", rq->fw_device)) != FW_OK)
		return e;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == ED25519_PUB_LEN)
		memcpy(job->pub, sqlite3_column_blob(st, 0), sizeof job->pub);
	e = rc == SQLITE_DONE ? fw_seterr(FW_ERR_UNKNOWN_DEVICE, "device %s is not "
	    "enrolled", rq->fw_device) : rc != SQLITE_ROW ? db_error(s->db, "auth")
	    : sqlite3_column_int(st, 1) && !feed_ok ? fw_seterr(FW_ERR_REVOKED, "device %s is revoked",
	    rq->fw_device) : FW_OK;
	sqlite3_finalize(st);
	if (e != FW_OK)
		return e;
	if ((int64_t)ts < now - FW_AUTH_WINDOW || (int64_t)ts > now + FW_AUTH_WINDOW) {
		*extra = json_pack("{sI}", "server_time", (json_int_t)now);
		return fw_seterr(FW_ERR_CLOCK_SKEW, "FW-Time %" PRIu64 " is %" PRId64 " s "
		    "from the server's time %" PRId64 "; the window is %d s", ts,
		    (int64_t)ts - now, now, FW_AUTH_WINDOW);
	}
	job->verify = 1;
	return FW_OK;
}

void
api_verify(const struct api_req *rq, struct api_job *job)
{
	struct ed25519_key *k = NULL;
	struct buf msg;
	fw_err e;

	if ((e = sha256_hex(rq->body, rq->bodylen, job->bodyhash)) == FW_OK) {
		buf_init(&msg, 8192);
		if ((e = buf_printf(&msg, "fundwatch-request-v1\n%s\n%s\n%s\n%s\n%s\n",
		    rq->method, rq->target, rq->fw_time, rq->fw_nonce,
		    job->bodyhash)) == FW_OK &&
		    (e = ed25519_from_public(job->pub, &k)) == FW_OK)
			e = ed25519_verify(k, msg.data, msg.len, job->sig);
		buf_free(&msg);
		ed25519_free(k);
	}
	if (e == FW_ERR_SIGNATURE)
		fw_seterr(e, "request signature does not verify with device %s's key",
		    rq->fw_device);
	job->e = e;
	snprintf(job->msg, sizeof job->msg, "%s", e != FW_OK ? fw_errmsg() : "");
}

static fw_err
api_auth_end(struct server *s, const struct api_req *rq, const struct api_job *job)
{
	int64_t now = (int64_t)time(NULL);
	fw_err e;

	if (job->e != FW_OK)
		return fw_seterr(job->e, "%s", job->msg);
	api_prune_nonces(s, now);
	db_lazy(s->db, 1);	/* memory only: nothing to sync */
	e = db_run(s->db, "INSERT INTO mem.nonces (device_id, nonce, seen) VALUES (?, ?, ?)",
	    "ssi", rq->fw_device, rq->fw_nonce, now);
	db_lazy(s->db, 0);
	if (e == FW_ERR_CONFLICT)
		return fw_seterr(FW_ERR_REPLAY, "nonce %s was already used by this device",
		    rq->fw_nonce);
	return e;
}

static fw_err
api_commit(struct server *s, const struct api_req *rq, json_t **ans)
{
	static const char *const keys[] = {"bundle", NULL};
	const char *id;
	json_t *o;
	fw_err e;

	if (rq->bodylen > API_MAX_JSON)
		return fw_seterr(FW_ERR_LIMIT, "commit body over %u bytes", API_MAX_JSON);
	if ((e = jsonx_load_bounded(rq->body, rq->bodylen, 8, 1, &o)) != FW_OK)
		return e;
	if ((e = jsonx_check_keys(o, keys, "commit")) == FW_OK &&
	    (e = jsonx_get_str(o, "bundle", 0, 0, SHA256_HEX, SHA256_HEX, &id,
	    "commit")) == FW_OK) {
		if (!hex_is_lower(id, SHA256_HEX))
			e = fw_seterr(FW_ERR_FIELD_VALUE, "commit: 'bundle' must be 64 "
			    "lowercase hex");
		else
			e = ingest_commit(s, rq->fw_device, id, ans);
	}
	json_decref(o);
	return e;
}

/* bodyhash: the body's SHA-256, which api_auth computed. */
static fw_err
api_upload(struct server *s, const struct api_req *rq, const char *path,
    const char *query, const char *bodyhash, json_t **ans)
{
	const char *blob = path + strlen("/v1/blobs/"), *v;
	uint64_t offset;
	size_t vl;

	if (!api_query(query, "offset", &v, &vl) || !api_uint(v, vl, FW_MAX_BLOB, &offset))
		return fw_seterr(FW_ERR_INVALID, "upload: query 'offset' must be a decimal "
		    "byte offset");
	return ingest_upload_hashed(s, rq->fw_device, blob, offset, rq->body, rq->bodylen,
	    bodyhash, ans);
}

static fw_err
api_feed(struct server *s, const struct api_req *rq, const char *query, json_t **ans)
{
	uint64_t after = 0, limit = 100;
	const char *v;
	size_t vl;

	if (api_query(query, "after", &v, &vl) && !api_uint(v, vl, FW_MAX_SEQ, &after))
		return fw_seterr(FW_ERR_INVALID, "feed: 'after' must be a cursor");
	if (api_query(query, "limit", &v, &vl) &&
	    (!api_uint(v, vl, 100, &limit) || limit == 0))
		return fw_seterr(FW_ERR_INVALID, "feed: 'limit' must be 1..100");
	return ingest_feed(s, rq->fw_device, (int64_t)after, (int64_t)limit, ans);
}

enum api_route { R_NONE, R_ENROLL, R_OFFER, R_BLOB, R_COMMIT, R_FEED, R_OFFICE };

static enum api_route
api_route(const char *path, const char **method)
{
	if (strcmp(path, "/v1/enroll") == 0)
		return *method = "POST", R_ENROLL;
	if (strcmp(path, "/v1/sync/offer") == 0)
		return *method = "POST", R_OFFER;
	if (strcmp(path, "/v1/sync/commit") == 0)
		return *method = "POST", R_COMMIT;
	if (strcmp(path, "/v1/feed") == 0)
		return *method = "GET", R_FEED;
	if (strncmp(path, "/v1/blobs/", 10) == 0 && strchr(path + 10, '/') == NULL)
		return *method = "PUT", R_BLOB;
	if (strncmp(path, "/v1/office/", 11) == 0)
		return *method = NULL, R_OFFICE;	/* office.c routes on */
	return R_NONE;
}

/* Answer rq's route once it is authenticated (or enrolled). */
static void
api_route_answer(struct server *s, const struct api_req *rq, const struct api_job *job,
    fw_err e, json_t *ans, struct api_resp *rs)
{
	if (e == FW_OK && job->route == R_OFFER)
		e = ingest_offer(s, rq->fw_device, rq->body, rq->bodylen, &ans);
	else if (e == FW_OK && job->route == R_COMMIT)
		e = api_commit(s, rq, &ans);
	else if (e == FW_OK && job->route == R_BLOB)
		e = api_upload(s, rq, job->path, job->query, job->bodyhash, &ans);
	else if (e == FW_OK && job->route == R_FEED)
		e = api_feed(s, rq, job->query, &ans);
	if (e != FW_OK)
		log_debug("%s %s %s: %s: %s", rq->peer ? rq->peer : "-", rq->method,
		    job->path, fw_strerror(e), fw_errmsg());
	api_answer(rs, e, ans);
	json_decref(ans);
}

int
api_begin(struct server *s, const struct api_req *rq, struct api_job *job,
    struct api_resp *rs)
{
	const char *q, *want = NULL;
	json_t *ans = NULL;
	size_t plen;
	fw_err e;

	fw_errclear();
	memset(job, 0, sizeof *job);
	q = strchr(rq->target, '?');
	plen = q ? (size_t)(q - rq->target) : strlen(rq->target);
	if (plen >= sizeof job->path) {
		api_error(rs, fw_seterr(FW_ERR_NOT_FOUND, "path too long"), NULL);
		return 0;
	}
	memcpy(job->path, rq->target, plen);
	job->path[plen] = '\0';
	job->query = q ? q + 1 : "";
	if ((job->route = api_route(job->path, &want)) == R_NONE) {
		api_error(rs, fw_seterr(FW_ERR_NOT_FOUND, "no such path: %s", job->path),
		    NULL);
		return 0;
	}
	if (job->route == R_OFFICE) {
		office_handle(s, rq, job->path, job->query, rs);
		return 0;
	}
	if (strcmp(rq->method, want) != 0) {
		api_error(rs, fw_seterr(FW_ERR_METHOD, "%s wants %s, not %s", job->path,
		    want, rq->method), NULL);
		return 0;
	}
	if (job->route == R_ENROLL) {
		e = rq->bodylen > API_MAX_JSON ? fw_seterr(FW_ERR_LIMIT, "enroll body over "
		    "%u bytes", API_MAX_JSON) : ingest_enroll(s, rq->body, rq->bodylen, &ans);
	} else if ((e = api_auth_begin(s, rq, job->route == R_FEED, &ans, job)) == FW_OK)
		return 1;
	job->route = R_NONE;	/* answered: e, or the enrollment */
	api_route_answer(s, rq, job, e, ans, rs);
	return 0;
}

void
api_end(struct server *s, const struct api_req *rq, const struct api_job *job,
    struct api_resp *rs)
{
	fw_errclear();
	api_route_answer(s, rq, job, api_auth_end(s, rq, job), NULL, rs);
}

void
api_handle(struct server *s, const struct api_req *rq, struct api_resp *rs)
{
	struct api_job job;

	if (api_begin(s, rq, &job, rs)) {
		api_verify(rq, &job);
		api_end(s, rq, &job, rs);
	}
}

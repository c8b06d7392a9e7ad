/*
 * office.c: the officer API, JSON under /v1/office/ (proto/OFFICE.md).
 *
 * api.c hands over every request whose path starts "/v1/office/"; this
 * file routes it, authenticates it and answers.  Authentication is a
 * bearer token from POST login (server.h, section office.c): the token
 * leaves the server once, in the login answer, and only its SHA-256 is
 * kept.  The casework itself, with its role and unit checks and its audit
 * entries, is case.c's: every endpoint here is a thin translation of a
 * request into one case.c call and of its answer into JSON.  Evidence is
 * not read here: the answer carries the blob's descriptor and http.c
 * streams it, decrypting on the way (struct api_resp).
 *
 * Nothing secret is logged: errors are logged by code, never by message
 * (a message may quote the body), and the audit log gets officer ids,
 * case ids and peer addresses only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "server.h"

#define OFFICE_TOKEN_HEX	(2 * OFFICE_TOKEN_BYTES)
#define OFFICE_MAX_ITEMS	32	/* JSON values in a request body */
#define OFFICE_PEER_MAX		64	/* bytes of a peer address */

/* An authenticated request: who, and the hash of the token used. */
struct office_ctx {
	struct server *s;
	const struct api_req *rq;
	struct officer who;
	char token_hash[SHA256_HEX + 1];
	int64_t expires;
	char peer[OFFICE_PEER_MAX];
};

/* ---- small helpers ------------------------------------------------------ */

/* The address of "1.2.3.4:5678" or "[::1]:5678", without the port: failed
 * logins are counted per address, whatever port the client came from. */
static void
office_peer_addr(const char *peer, char *out, size_t outsz)
{
	const char *end;
	size_t n;

	if (peer == NULL || *peer == '\0') {
		snprintf(out, outsz, "-");
		return;
	}
	if (peer[0] == '[' && (end = strchr(peer, ']')) != NULL) {
		peer++;
		n = (size_t)(end - peer);
	} else if ((end = strrchr(peer, ':')) != NULL)
		n = (size_t)(end - peer);
	else
		n = strlen(peer);
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, peer, n);
	out[n] = '\0';
}

/* Strict decimal id in 1..FW_MAX_SEQ of the n bytes at p. */
static int
office_id(const char *p, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 16)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	if (v < 1 || v > (int64_t)FW_MAX_SEQ)
		return 0;
	*out = v;
	return 1;
}

/* Value of name=... in a query string: no percent-decoding, since every
 * value this API takes is a code or a number; a '%' is refused. */
static fw_err
office_query(const char *query, const char *name, const char **val,
    size_t *len, int *found)
{
	size_t nl = strlen(name), bound = strlen(query) + 1;

	*found = 0;
	for (const char *p = query; p != NULL && *p != '\0' && bound > 0;
	    bound--) {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);

		if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			if (*found)
				return fw_seterr(FW_ERR_INVALID, "query: '%s' given "
				    "twice", name);
			*val = p + nl + 1;
			*len = seg - nl - 1;
			*found = 1;
			if (memchr(*val, '%', *len) != NULL || *len > FW_MAX_CODE)
				return fw_seterr(FW_ERR_INVALID, "query: '%s' must be "
				    "a code or a number (1..%d characters, no %%)", name,
				    FW_MAX_CODE);
		}
		p = amp ? amp + 1 : NULL;
	}
	return FW_OK;
}

/* The request body as a JSON object of at most OFFICE_MAX_ITEMS values
 * and only the keys in allowed; an empty body is {}.  quiet: the message
 * does not quote the body (login: it holds a password). */
static fw_err
office_body(const struct api_req *rq, const char *const *allowed,
    const char *where, int quiet, json_t **out)
{
	fw_err e;

	*out = NULL;
	if (rq->bodylen > OFFICE_MAX_JSON)
		return fw_seterr(FW_ERR_LIMIT, "%s: body over %u bytes", where,
		    OFFICE_MAX_JSON);
	if (rq->bodylen == 0) {
		if ((*out = json_object()) == NULL)
			return fw_seterr(FW_ERR_NOMEM, "%s: no memory", where);
		return FW_OK;
	}
	e = jsonx_load_bounded(rq->body, rq->bodylen, OFFICE_MAX_ITEMS, 1, out);
	if (e == FW_OK && !json_is_object(*out))
		e = fw_seterr(FW_ERR_JSON, "%s: body must be a JSON object", where);
	if (e != FW_OK && quiet)
		e = fw_seterr(e, "%s: body must be one JSON object", where);
	if (e == FW_OK && (e = jsonx_check_keys(*out, allowed, where)) != FW_OK &&
	    quiet)
		e = fw_seterr(e, "%s: body takes only the fields officer and "
		    "password", where);
	if (e != FW_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return e;
}

/* {"id","name","unit","roles":[names]} of an officer. */
static json_t *
office_officer_json(const struct officer *o)
{
	json_t *roles = json_array(), *j;

	for (unsigned bit = 1; roles != NULL && bit <= ROLE_ALL; bit <<= 1) {
		const char *name = (o->roles & bit) ?
		    officer_role_name((enum officer_role)bit) : NULL;

		if (name != NULL)
			json_array_append_new(roles, json_string(name));
	}
	j = json_pack("{ss ss ss so}", "id", o->id, "name",
	    o->name != NULL ? o->name : "", "unit", o->unit, "roles", roles);
	return j;
}

/* The case's state after a change, as case_list shows it (no read is
 * audited for it): {"case": {...}}.  Whoever may change a case may read
 * it. */
static fw_err
office_case_answer(struct office_ctx *x, int64_t id, json_t **ans)
{
	struct case_filter f;
	json_t *a = NULL, *c;
	fw_err e;

	memset(&f, 0, sizeof f);
	f.status = -1;
	f.after_id = id - 1;
	f.limit = 1;
	if ((e = case_list(x->s, &x->who, &f, &a)) != FW_OK)
		return e;
	c = json_array_get(a, 0);
	if (c == NULL || json_integer_value(json_object_get(c, "id")) != id)
		e = fw_seterr(FW_ERR_NOT_FOUND, "case %" PRId64 " is gone", id);
	else if ((*ans = json_pack("{sO}", "case", c)) == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "case %" PRId64 ": no memory for the "
		    "answer", id);
	json_decref(a);
	return e;
}

/* {"<key>": a}, taking a. */
static fw_err
office_wrap(const char *key, fw_err e, json_t **ans)
{
	json_t *o;

	if (e != FW_OK)
		return e;
	if ((o = json_pack("{so}", key, *ans)) == NULL) {
		*ans = NULL;
		return fw_seterr(FW_ERR_NOMEM, "%s: no memory for the answer", key);
	}
	*ans = o;
	return FW_OK;
}

/* ---- tokens and login ---------------------------------------------------- */

static fw_err
office_hash_token(const char *token, char out[SHA256_HEX + 1])
{
	return sha256_hex(token, strlen(token), out);
}

/* Failed logins under key within the window. */
static fw_err
office_failures(struct server *s, const char *key, int64_t now, int64_t *n)
{
	sqlite3_stmt *st;
	fw_err e;

	if ((e = db_prepare(s->db, &st, "SELECT count(*) FROM office_login_failures"
	    " WHERE key = ? AND at > ?", "si", key, now - OFFICE_FAIL_WINDOW)) != FW_OK)
		return e;
	e = sqlite3_step(st) == SQLITE_ROW ? FW_OK : db_error(s->db, "login failures");
	*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return e;
}

/* Record a failed login (peer, and the officer if one of that id exists)
 * and audit it, in one transaction. */
static fw_err
office_login_failed(struct server *s, const char *peer, const char *officer,
    int64_t now)
{
	char key[OFFICE_PEER_MAX + OFFICER_ID_MAX + 16];
	json_t *d;
	fw_err e;

	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	snprintf(key, sizeof key, "peer:%s", peer);
	e = db_run(s->db, "INSERT INTO office_login_failures (key, at) VALUES (?, ?)",
	    "si", key, now);
	if (e == FW_OK && officer != NULL) {
		snprintf(key, sizeof key, "officer:%s", officer);
		e = db_run(s->db, "INSERT INTO office_login_failures (key, at)"
		    " VALUES (?, ?)", "si", key, now);
	}
	if (e == FW_OK && (e = db_run(s->db, "DELETE FROM office_login_failures"
	    " WHERE at <= ?", "i", now - OFFICE_FAIL_WINDOW)) == FW_OK) {
		if ((d = json_pack("{ss}", "peer", peer)) == NULL)
			e = fw_seterr(FW_ERR_NOMEM, "login: no memory for the audit");
		else
			e = audit_append(s->db, officer != NULL ? officer : "unknown",
			    "office.login_failed", officer != NULL ? officer : "-", d,
			    NULL, NULL);
		json_decref(d);
	}
	if (e != FW_OK) {
		db_rollback(s->db);
		return e;
	}
	return db_commit(s->db);
}

/* A new token for officer: stored hashed, the oldest beyond
 * OFFICE_TOKENS_MAX and every expired one dropped, the login audited. */
static fw_err
office_token_new(struct server *s, const char *officer, const char *peer,
    int64_t now, char token[OFFICE_TOKEN_HEX + 1])
{
	uint8_t rnd[OFFICE_TOKEN_BYTES];
	char hash[SHA256_HEX + 1];
	json_t *d;
	fw_err e;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "login: no randomness for a token");
	hex_encode(rnd, sizeof rnd, token);
	token[OFFICE_TOKEN_HEX] = '\0';
	OPENSSL_cleanse(rnd, sizeof rnd);
	if ((e = office_hash_token(token, hash)) != FW_OK)
		return e;
	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	if ((e = db_run(s->db, "DELETE FROM office_tokens WHERE expires <= ?", "i",
	    now)) == FW_OK &&
	    (e = db_run(s->db, "DELETE FROM office_tokens WHERE officer_id = ? AND"
	    " hash NOT IN (SELECT hash FROM office_tokens WHERE officer_id = ?"
	    " ORDER BY created DESC, hash LIMIT ?)", "ssi", officer, officer,
	    (int64_t)OFFICE_TOKENS_MAX - 1)) == FW_OK &&
	    (e = db_run(s->db, "INSERT INTO office_tokens (hash, officer_id, created,"
	    " expires) VALUES (?, ?, ?, ?)", "ssii", hash, officer, now,
	    now + OFFICE_TOKEN_TTL)) == FW_OK) {
		char key[OFFICER_ID_MAX + 16];

		snprintf(key, sizeof key, "officer:%s", officer);
		e = db_run(s->db, "DELETE FROM office_login_failures WHERE key = ?",
		    "s", key);
	}
	if (e == FW_OK) {
		if ((d = json_pack("{ss sI}", "peer", peer, "expires",
		    (json_int_t)now + OFFICE_TOKEN_TTL)) == NULL)
			e = fw_seterr(FW_ERR_NOMEM, "login: no memory for the audit");
		else
			e = audit_append(s->db, officer, "office.login", officer, d,
			    NULL, NULL);
		json_decref(d);
	}
	if (e != FW_OK) {
		db_rollback(s->db);
		OPENSSL_cleanse(token, OFFICE_TOKEN_HEX);
		return e;
	}
	return db_commit(s->db);
}

static fw_err
office_login(struct server *s, const struct api_req *rq, json_t **ans)
{
	static const char *const keys[] = {"officer", "password", NULL};
	char peer[OFFICE_PEER_MAX], key[OFFICE_PEER_MAX + OFFICER_ID_MAX + 16];
	char token[OFFICE_TOKEN_HEX + 1], when[21];
	const char *id = NULL, *pw = NULL;
	struct officer o;
	int64_t now = (int64_t)time(NULL), nfail = 0;
	int exists = 0;
	json_t *body, *who;
	fw_err e;

	memset(&o, 0, sizeof o);
	if ((e = office_body(rq, keys, "login", 1, &body)) != FW_OK)
		return e;
	if ((e = jsonx_get_str(body, "officer", 0, 0, 1, OFFICER_PASSWORD_MAX, &id,
	    "login")) != FW_OK ||
	    (e = jsonx_get_str(body, "password", 0, 0, 1, OFFICER_PASSWORD_MAX, &pw,
	    "login")) != FW_OK) {
		json_decref(body);
		return fw_seterr(e, "login: body must be {\"officer\": id, "
		    "\"password\": text}, strings without control characters");
	}
	office_peer_addr(rq->peer, peer, sizeof peer);
	/* Only an officer who exists is counted and audited by id: what was
	 * typed as an id may be a password. */
	if (strlen(id) <= OFFICER_ID_MAX && profile_code_valid(id)) {
		if ((e = officer_get(s, id, &o)) == FW_OK)
			exists = 1;
		else if (e != FW_ERR_NOT_FOUND)
			goto out;
		officer_clear(&o);
		memset(&o, 0, sizeof o);
	}
	snprintf(key, sizeof key, "peer:%s", peer);
	if ((e = office_failures(s, key, now, &nfail)) != FW_OK)
		goto out;
	if (nfail >= OFFICE_FAIL_PEER) {
		e = fw_seterr(FW_ERR_RATE, "login: %" PRId64 " failed logins from %s "
		    "in the last %d s; wait before trying again", nfail, peer,
		    OFFICE_FAIL_WINDOW);
		goto out;
	}
	if (exists) {
		snprintf(key, sizeof key, "officer:%s", id);
		if ((e = office_failures(s, key, now, &nfail)) != FW_OK)
			goto out;
		if (nfail >= OFFICE_FAIL_OFFICER) {
			e = fw_seterr(FW_ERR_RATE, "login: %" PRId64 " failed logins "
			    "for this officer in the last %d s; wait before trying "
			    "again", nfail, OFFICE_FAIL_WINDOW);
			goto out;
		}
	}
	if ((e = officer_check_password(s, id, pw, &o)) != FW_OK) {
		if (e == FW_ERR_AUTH) {
			if ((e = office_login_failed(s, peer, exists ? id : NULL,
			    now)) == FW_OK)
				e = fw_seterr(FW_ERR_AUTH, "login: unknown officer, "
				    "wrong password or officer disabled");
		}
		goto out;
	}
	if ((e = office_token_new(s, o.id, peer, now, token)) != FW_OK)
		goto out;
	bundle_time_format(now + OFFICE_TOKEN_TTL, when);
	who = office_officer_json(&o);
	*ans = json_pack("{ss ss sI so}", "token", token, "expires", when,
	    "ttl", (json_int_t)OFFICE_TOKEN_TTL, "officer", who);
	OPENSSL_cleanse(token, sizeof token);
	if (*ans == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "login: no memory for the answer");
out:
	officer_clear(&o);
	json_decref(body);
	return e;
}

/*
 * "Authorization: Bearer <64 hex>" to an officer.  Unknown, expired and
 * malformed tokens are all unauthenticated (401), each with its own
 * message; a disabled officer's tokens stop working at once.
 */
static fw_err
office_auth(struct office_ctx *x)
{
	const char *h = x->rq->authorization, *tok;
	char id[OFFICER_ID_MAX + 1];
	sqlite3_stmt *st;
	int64_t now = (int64_t)time(NULL);
	fw_err e;
	int rc;

	if (h == NULL)
		return fw_seterr(FW_ERR_AUTH, "header 'Authorization: Bearer <token>' "
		    "is required (POST /v1/office/login gives a token)");
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return fw_seterr(FW_ERR_AUTH, "Authorization must be 'Bearer <token>'");
	for (tok = h + 7; *tok == ' '; tok++)
		;
	if (strlen(tok) != OFFICE_TOKEN_HEX || !hex_is_lower(tok, OFFICE_TOKEN_HEX))
		return fw_seterr(FW_ERR_AUTH, "bearer token must be %d lowercase hex",
		    OFFICE_TOKEN_HEX);
	if ((e = office_hash_token(tok, x->token_hash)) != FW_OK)
		return e;
	if ((e = db_prepare(x->s->db, &st, "SELECT officer_id, expires FROM"
	    " office_tokens WHERE hash = ?", "s", x->token_hash)) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
		x->expires = sqlite3_column_int64(st, 1);
	}
	e = rc == SQLITE_ROW ? FW_OK : rc == SQLITE_DONE ? fw_seterr(FW_ERR_AUTH,
	    "bearer token unknown or logged out") : db_error(x->s->db, "token");
	sqlite3_finalize(st);
	if (e != FW_OK)
		return e;
	if (x->expires <= now) {
		if (db_run(x->s->db, "DELETE FROM office_tokens WHERE hash = ?", "s",
		    x->token_hash) != FW_OK)
			log_warnx("office: cannot drop an expired token");
		return fw_seterr(FW_ERR_AUTH, "bearer token expired %" PRId64 " s ago; "
		    "log in again", now - x->expires);
	}
	if ((e = officer_get(x->s, id, &x->who)) != FW_OK)
		return e == FW_ERR_NOT_FOUND ? fw_seterr(FW_ERR_AUTH, "the token's "
		    "officer no longer exists") : e;
	if (x->who.disabled)
		return fw_seterr(FW_ERR_AUTH, "officer %s is disabled", x->who.id);
	return FW_OK;
}

static fw_err
office_logout(struct office_ctx *x, json_t **ans)
{
	static const char *const k_none[] = {NULL};
	json_t *d;
	fw_err e;

	/* Empty or {}: a body of anything else is refused like any other's. */
	if ((e = office_body(x->rq, k_none, "logout", 0, &d)) != FW_OK)
		return e;
	if ((e = db_begin(x->s->db)) == FW_OK) {
		if ((e = db_run(x->s->db, "DELETE FROM office_tokens WHERE hash = ?",
		    "s", x->token_hash)) == FW_OK &&
		    (e = audit_append(x->s->db, x->who.id, "office.logout", x->who.id,
		    d, NULL, NULL)) == FW_OK)
			e = db_commit(x->s->db);
		else
			db_rollback(x->s->db);
	}
	json_decref(d);
	if (e == FW_OK && (*ans = json_pack("{sb}", "logged_out", 1)) == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "logout: no memory");
	return e;
}

static fw_err
office_me(struct office_ctx *x, json_t **ans)
{
	char when[21];

	bundle_time_format(x->expires, when);
	if ((*ans = json_pack("{so ss}", "officer", office_officer_json(&x->who),
	    "expires", when)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "me: no memory");
	return FW_OK;
}

/* ---- cases ---------------------------------------------------------------- */

static fw_err
office_list(struct office_ctx *x, const char *query, json_t **ans)
{
	char unit[FW_MAX_CODE + 1], assignee[FW_MAX_CODE + 1], num[FW_MAX_CODE + 1];
	struct case_filter f;
	const char *v;
	size_t vl;
	int found;
	int64_t n;
	fw_err e;

	memset(&f, 0, sizeof f);
	f.status = -1;
	if ((e = office_query(query, "unit", &v, &vl, &found)) != FW_OK)
		return e;
	if (found) {
		memcpy(unit, v, vl);
		unit[vl] = '\0';
		if (!profile_code_valid(unit))
			return fw_seterr(FW_ERR_INVALID, "cases: 'unit' must be a unit id");
		f.unit = unit;
	}
	if ((e = office_query(query, "assignee", &v, &vl, &found)) != FW_OK)
		return e;
	if (found) {
		memcpy(assignee, v, vl);
		assignee[vl] = '\0';
		if (!profile_code_valid(assignee))
			return fw_seterr(FW_ERR_INVALID, "cases: 'assignee' must be an "
			    "officer id");
		f.assignee = assignee;
	}
	if ((e = office_query(query, "status", &v, &vl, &found)) != FW_OK)
		return e;
	if (found) {
		memcpy(num, v, vl);
		num[vl] = '\0';
		if ((f.status = case_status_parse(num)) < 0)
			return fw_seterr(FW_ERR_INVALID, "cases: 'status' '%s' is not a "
			    "case status", num);
	}
	if ((e = office_query(query, "overdue", &v, &vl, &found)) != FW_OK)
		return e;
	if (found) {
		if (vl != 1 || (v[0] != '0' && v[0] != '1'))
			return fw_seterr(FW_ERR_INVALID, "cases: 'overdue' must be 0 or 1");
		f.overdue = v[0] == '1';
	}
	if ((e = office_query(query, "after", &v, &vl, &found)) != FW_OK)
		return e;
	if (found && !(vl == 1 && v[0] == '0') && !office_id(v, vl, &f.after_id))
		return fw_seterr(FW_ERR_INVALID, "cases: 'after' must be a case id "
		    "(0..%" PRIu64 ")", (uint64_t)FW_MAX_SEQ);
	if ((e = office_query(query, "limit", &v, &vl, &found)) != FW_OK)
		return e;
	if (found) {
		if (!office_id(v, vl, &n) || n > CASE_LIST_MAX)
			return fw_seterr(FW_ERR_INVALID, "cases: 'limit' must be "
			    "1..%d", CASE_LIST_MAX);
		f.limit = n;
	}
	return office_wrap("cases", case_list(x->s, &x->who, &f, ans), ans);
}

/* Streams the blob of an evidence item: case_evidence_access checks the
 * officer's right to the case and that blob belongs to it, and audits the
 * read; http.c sends the file, decrypted unless form=age is asked. */
static fw_err
office_evidence(struct office_ctx *x, int64_t id, const char *blob,
    const char *query, struct api_resp *rs)
{
	char path[PATH_MAX];
	const char *v;
	size_t vl;
	int found, raw = 0, fd;
	fw_err e;

	if (strlen(blob) != SHA256_HEX || !hex_is_lower(blob, SHA256_HEX))
		return fw_seterr(FW_ERR_NOT_FOUND, "evidence: '%.80s' is not a blob id "
		    "(64 lowercase hex)", blob);
	if ((e = office_query(query, "form", &v, &vl, &found)) != FW_OK)
		return e;
	if (found) {
		if (vl == 3 && memcmp(v, "age", 3) == 0)
			raw = 1;
		else if (!(vl == 5 && memcmp(v, "plain", 5) == 0))
			return fw_seterr(FW_ERR_INVALID, "evidence: 'form' must be "
			    "'plain' or 'age'");
	}
	if ((e = case_evidence_access(x->s, &x->who, id, blob)) != FW_OK)
		return e;
	blob_path(x->s, blob, 0, path, sizeof path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT ? fw_seterr(FW_ERR_NOT_FOUND, "evidence: blob "
		    "%s of case %" PRId64 " is not held (not uploaded yet)", blob, id) :
		    file_errno(errno, "evidence blob");
	rs->status = 200;
	rs->content_type = "application/octet-stream";
	rs->stream = 1;
	rs->stream_fd = fd;
	rs->decrypt = !raw;
	return FW_OK;
}

/* One POST action on case id: the body's fields, then case.c. */
static fw_err
office_action(struct office_ctx *x, int64_t id, const char *act, json_t **ans)
{
	static const char *const k_text[] = {"text", NULL};
	static const char *const k_reason[] = {"reason", NULL};
	static const char *const k_req[] = {"observation", "text", NULL};
	static const char *const k_status[] = {"status", "text", NULL};
	static const char *const k_assign[] = {"officer", NULL};
	static const char *const k_sub[] = {"verified_fen", "grade", "reward_fen",
	    "text", NULL};
	static const char *const k_none[] = {NULL};
	struct server *s = x->s;
	const char *text = NULL, *str = NULL;
	int64_t fen = 0, sum = -1;
	json_t *b = NULL;
	fw_err e;
	int to;

	if (strcmp(act, "finding") == 0) {
		if ((e = office_body(x->rq, k_text, act, 0, &b)) == FW_OK &&
		    (e = jsonx_get_str(b, "text", 0, 1, 1, CASE_TEXT_MAX, &text,
		    act)) == FW_OK)
			e = case_finding(s, &x->who, id, text);
	} else if (strcmp(act, "request-evidence") == 0) {
		if ((e = office_body(x->rq, k_req, act, 0, &b)) == FW_OK &&
		    (e = jsonx_get_str(b, "observation", 1, 0, FW_ID_HEX, FW_ID_HEX,
		    &str, act)) == FW_OK &&
		    (e = jsonx_get_str(b, "text", 0, 1, 1, CASE_TEXT_MAX, &text,
		    act)) == FW_OK) {
			if (str != NULL && !hex_is_lower(str, FW_ID_HEX))
				e = fw_seterr(FW_ERR_FIELD_VALUE, "%s: 'observation' must "
				    "be 32 lowercase hex", act);
			else
				e = case_request_evidence(s, &x->who, id, str, text);
		}
	} else if (strcmp(act, "status") == 0) {
		if ((e = office_body(x->rq, k_status, act, 0, &b)) == FW_OK &&
		    (e = jsonx_get_str(b, "status", 0, 0, 1, FW_MAX_CODE, &str,
		    act)) == FW_OK &&
		    (e = jsonx_get_str(b, "text", 1, 1, 1, CASE_TEXT_MAX, &text,
		    act)) == FW_OK) {
			if ((to = case_status_parse(str)) < 0)
				e = fw_seterr(FW_ERR_FIELD_VALUE, "status: '%s' is not a "
				    "case status", str);
			else
				e = case_set_status(s, &x->who, id,
				    (enum case_status)to, text);
		}
	} else if (strcmp(act, "assign") == 0) {
		if ((e = office_body(x->rq, k_assign, act, 0, &b)) == FW_OK &&
		    (e = jsonx_get_str(b, "officer", 0, 0, 1, OFFICER_ID_MAX, &str,
		    act)) == FW_OK)
			e = case_assign(s, &x->who, id, str);
	} else if (strcmp(act, "escalate") == 0 || strcmp(act, "extend") == 0) {
		if ((e = office_body(x->rq, k_reason, act, 0, &b)) == FW_OK &&
		    (e = jsonx_get_str(b, "reason", 0, 1, 1, CASE_TEXT_MAX, &text,
		    act)) == FW_OK)
			e = act[1] == 's' ? case_escalate(s, &x->who, id, text) :
			    case_extend(s, &x->who, id, text);
	} else if (strcmp(act, "substantiate") == 0) {
		if ((e = office_body(x->rq, k_sub, act, 0, &b)) == FW_OK &&
		    (e = jsonx_get_int(b, "verified_fen", 0, 0, INT64_C(100000000000000),
		    &fen, NULL, act)) == FW_OK &&
		    (e = jsonx_get_str(b, "grade", 0, 0, 1, FW_MAX_CODE, &str,
		    act)) == FW_OK &&
		    (e = jsonx_get_int(b, "reward_fen", 1, 0, INT64_C(100000000000000),
		    &sum, NULL, act)) == FW_OK &&
		    (e = jsonx_get_str(b, "text", 1, 1, 1, CASE_TEXT_MAX, &text,
		    act)) == FW_OK)
			e = case_substantiate(s, &x->who, id, fen, str, sum, text);
	} else if (strcmp(act, "approve-reward") == 0) {
		if ((e = office_body(x->rq, k_none, act, 0, &b)) == FW_OK)
			e = case_approve_reward(s, &x->who, id);
	} else
		return fw_seterr(FW_ERR_NOT_FOUND, "no such case action: %.40s", act);
	json_decref(b);
	if (e != FW_OK)
		return e;
	return office_case_answer(x, id, ans);
}

/*
 * Export into DATADIR/exports/case-<id>-<time>-<random>: the folder's name
 * goes to whoever may export, its path on the server to admins only.
 */
static fw_err
office_export(struct office_ctx *x, int64_t id, json_t **ans)
{
	static const char *const k_none[] = {NULL};
	char dir[PATH_MAX], name[96], rnd_hex[9];
	struct case_info c;
	uint8_t rnd[4];
	json_t *b = NULL;
	fw_err e;

	if ((e = office_body(x->rq, k_none, "export", 0, &b)) != FW_OK)
		return e;
	json_decref(b);
	memset(&c, 0, sizeof c);
	if ((e = case_get(x->s, id, &c)) == FW_OK)
		e = case_acl(&x->who, CASE_ACT_EXPORT, c.unit);
	case_info_clear(&c);
	if (e != FW_OK)
		return e;
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "export: no randomness");
	hex_encode(rnd, sizeof rnd, rnd_hex);
	rnd_hex[8] = '\0';
	snprintf(name, sizeof name, "case-%" PRId64 "-%lld-%s", id,
	    (long long)time(NULL), rnd_hex);
	server_path(x->s, "exports", dir, sizeof dir);
	if ((e = file_mkdirs(dir, 0700)) != FW_OK)
		return e;
	snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", name);
	if ((e = case_export(x->s, &x->who, id, dir)) != FW_OK)
		return e;
	*ans = json_pack("{sI ss}", "case", (json_int_t)id, "export", name);
	if (*ans != NULL && (x->who.roles & ROLE_ADMIN))
		json_object_set_new(*ans, "path", json_string(dir));
	if (*ans == NULL)
		return fw_seterr(FW_ERR_NOMEM, "export: no memory");
	return FW_OK;
}

/* ---- routing ------------------------------------------------------------- */

/* What a path under /v1/office/ names. */
enum office_route {
	O_NONE, O_LOGIN, O_LOGOUT, O_ME, O_NOTIFICATIONS, O_CASES, O_CASE,
	O_EVIDENCE, O_ACTION, O_EXPORT
};

static const char *const office_actions[] = {"finding", "request-evidence",
    "status", "assign", "escalate", "extend", "substantiate", "approve-reward",
    NULL};

/* rest is the path after "/v1/office/".  Fills *id, *arg (a blob or an
 * action, pointing into rest) and *method (the one allowed). */
static enum office_route
office_route(const char *rest, int64_t *id, const char **arg,
    const char **method)
{
	const char *p, *slash;

	*method = "GET";
	if (strcmp(rest, "login") == 0)
		return *method = "POST", O_LOGIN;
	if (strcmp(rest, "logout") == 0)
		return *method = "POST", O_LOGOUT;
	if (strcmp(rest, "me") == 0)
		return O_ME;
	if (strcmp(rest, "notifications") == 0)
		return O_NOTIFICATIONS;
	if (strcmp(rest, "cases") == 0)
		return O_CASES;
	if (strncmp(rest, "cases/", 6) != 0)
		return O_NONE;
	p = rest + 6;
	slash = strchr(p, '/');
	if (!office_id(p, slash ? (size_t)(slash - p) : strlen(p), id))
		return O_NONE;
	if (slash == NULL)
		return O_CASE;
	p = slash + 1;
	if (strncmp(p, "evidence/", 9) == 0 && strchr(p + 9, '/') == NULL) {
		*arg = p + 9;
		return O_EVIDENCE;
	}
	*method = "POST";
	if (strcmp(p, "export") == 0)
		return O_EXPORT;
	for (size_t i = 0; office_actions[i] != NULL; i++)
		if (strcmp(p, office_actions[i]) == 0) {
			*arg = p;
			return O_ACTION;
		}
	return O_NONE;
}

void
office_handle(struct server *s, const struct api_req *rq, const char *path,
    const char *query, struct api_resp *rs)
{
	struct office_ctx x;
	const char *method = NULL, *arg = NULL;
	enum office_route r;
	json_t *ans = NULL;
	int64_t id = 0;
	fw_err e;

	memset(&x, 0, sizeof x);
	x.s = s;
	x.rq = rq;
	office_peer_addr(rq->peer, x.peer, sizeof x.peer);
	if ((r = office_route(path + strlen("/v1/office/"), &id, &arg,
	    &method)) == O_NONE)
		e = fw_seterr(FW_ERR_NOT_FOUND, "no such path: %.200s", path);
	else if (strcmp(rq->method, method) != 0)
		e = fw_seterr(FW_ERR_METHOD, "%.200s wants %s, not %s", path, method,
		    rq->method);
	else if (r == O_LOGIN)
		e = office_login(s, rq, &ans);
	else if ((e = office_auth(&x)) == FW_OK) {
		switch (r) {
		case O_LOGOUT:
			e = office_logout(&x, &ans);
			break;
		case O_ME:
			e = office_me(&x, &ans);
			break;
		case O_NOTIFICATIONS:
			e = office_wrap("notifications",
			    case_notifications(s, &x.who, &ans), &ans);
			break;
		case O_CASES:
			e = office_list(&x, query, &ans);
			break;
		case O_CASE:
			e = case_show(s, &x.who, id, &ans);
			break;
		case O_EVIDENCE:
			e = office_evidence(&x, id, arg, query, rs);
			break;
		case O_ACTION:
			e = office_action(&x, id, arg, &ans);
			break;
		case O_EXPORT:
			e = office_export(&x, id, &ans);
			break;
		default:
			e = fw_seterr(FW_ERR_INTERNAL, "office: route %d", (int)r);
			break;
		}
	}
	officer_clear(&x.who);
	OPENSSL_cleanse(x.token_hash, sizeof x.token_hash);
	if (e != FW_OK)
		log_debug("%s %s %.200s: %s", rq->peer ? rq->peer : "-", rq->method,
		    path, fw_strerror(e));
	if (e == FW_OK && rs->stream) {
		json_decref(ans);
		return;
	}
	api_answer(rs, e, ans);
	json_decref(ans);
}

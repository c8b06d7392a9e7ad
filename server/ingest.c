/*
 * ingest.c: enrollment and the sync protocol (proto/PROTOCOL.md sections 3
 * and 8): offer, upload, commit, receipt.  The HTTPS front (through api.c)
 * and `import-bundle` both come here, so a bundle from a USB stick passes
 * exactly the checks and dedup of one that came over the network.
 *
 * Order of checks for a bundle: container and manifest (bundle_open, which
 * applies every limit and schema rule), device enrolled and unrevoked,
 * device of the request, signature, appointment active at every capture
 * time (with a grace period for late syncs), categories in the profile,
 * identity and chain against what is held.  Every decision about a bundle of
 * a known device is appended to the audit log; a receipt is built and
 * answered only after the COMMIT that stores the observations returned.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "server.h"

/* A conflict found by the checks, recorded once outside any transaction. */
struct ingest_conflict {
	char obs[FW_ID_HEX + 1];
	char held[SHA256_HEX + 1];
	char offered[SHA256_HEX + 1];
};

struct ingest_device {
	char id[ED25519_DEVICE_ID_LEN + 1];
	char supervisor[64];
	int revoked;
	struct ed25519_key *key;
};

static void
ingest_device_clear(struct ingest_device *d)
{
	ed25519_free(d->key);
	d->key = NULL;
}

static fw_err
ingest_device_load(struct server *s, const char *id, struct ingest_device *d)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	memset(d, 0, sizeof *d);
	if ((e = db_prepare(s->db, &st, "SELECT pubkey, supervisor_id, revoked IS NOT NULL"
	    " FROM devices WHERE id = ?", "s", id)) != FW_OK)
		return e;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? fw_seterr(FW_ERR_UNKNOWN_DEVICE,
		    "device %s is not enrolled", id) : db_error(s->db, "device");
	}
	snprintf(d->id, sizeof d->id, "%s", id);
	snprintf(d->supervisor, sizeof d->supervisor, "%s",
	    (const char *)sqlite3_column_text(st, 1));
	d->revoked = sqlite3_column_int(st, 2);
	if (sqlite3_column_bytes(st, 0) != ED25519_PUB_LEN)
		e = fw_seterr(FW_ERR_INTERNAL, "device %s: stored key is not 32 bytes", id);
	else
		e = ed25519_from_public(sqlite3_column_blob(st, 0), &d->key);
	sqlite3_finalize(st);
	if (e == FW_OK && d->revoked) {
		ingest_device_clear(d);
		return fw_seterr(FW_ERR_REVOKED, "device %s is revoked", id);
	}
	return e;
}

/*
 * Was the supervisor's appointment active when o was captured, and is `now`
 * within the grace period after that term?
 */
static fw_err
ingest_appointed(struct server *s, const char *sup, int64_t captured, size_t i,
    int64_t now)
{
	char end[11], nowday[11], cut[11];
	int64_t end_t;
	fw_err e;

	if ((e = registry_term_at(s, sup, captured, end, &end_t)) != FW_OK)
		return fw_errctx(e, "observation %zu", i);
	if (now > end_t + s->cfg.grace) {
		registry_day(now, nowday);
		registry_day(end_t + s->cfg.grace, cut);
		return fw_seterr(FW_ERR_NOT_APPOINTED, "observation %zu: captured in the "
		    "term that ended %s, but synced %s, after the grace period (until %s)",
		    i, end, nowday, cut);
	}
	return FW_OK;
}

/* Observation held with this id: its hash, or "" if none. */
static fw_err
ingest_held_by_id(struct server *s, const char *id, char hash[SHA256_HEX + 1],
    char dev[ED25519_DEVICE_ID_LEN + 1], int64_t *seq)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	hash[0] = '\0';
	if ((e = db_prepare(s->db, &st, "SELECT hash, device_id, seq FROM observations"
	    " WHERE id = ?", "s", id)) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(hash, SHA256_HEX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(dev, ED25519_DEVICE_ID_LEN + 1, "%s",
		    (const char *)sqlite3_column_text(st, 1));
		*seq = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? FW_OK : db_error(s->db, "lookup");
}

/* Held observation of the device at seq: its id, hash and prev. */
static fw_err
ingest_held_by_seq(struct server *s, const char *dev, uint64_t seq, char *id,
    char *hash, char *prev)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	id[0] = hash[0] = prev[0] = '\0';
	if (seq < 1 || seq > FW_MAX_SEQ)
		return FW_OK;
	if ((e = db_prepare(s->db, &st, "SELECT id, hash, prev FROM observations"
	    " WHERE device_id = ? AND seq = ?", "si", dev, (int64_t)seq)) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(id, FW_ID_HEX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(hash, SHA256_HEX + 1, "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(prev, SHA256_HEX + 1, "%s", (const char *)sqlite3_column_text(st, 2));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? FW_OK : db_error(s->db, "lookup");
}

/* Record a conflicting offer whole, and audit it. */
static void
ingest_record_conflict(struct server *s, const struct fw_bundle *b,
    const struct ingest_conflict *c)
{
	const char *obs = c->obs, *held = c->held, *offered = c->offered;
	json_t *d = json_pack("{ss ss ss ss}", "bundle", b->id, "observation", obs,
	    "held_hash", held, "offered_hash", offered);
	char msg[FW_ERRMSG_MAX];

	/* Keep the conflict's message: recording it must not replace it. */
	snprintf(msg, sizeof msg, "%s", fw_errmsg());
	if (db_run(s->db, "INSERT INTO conflicts (bundle_id, device_id, observation_id,"
	    " held_hash, offered_hash, manifest, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
	    "sssssbi", b->id, b->m->device, obs, held, offered, b->manifest.data,
	    b->manifest.len, (int64_t)time(NULL)) != FW_OK ||
	    (d != NULL && audit_append(s->db, b->m->device, "ingest.conflict", b->id, d,
	    NULL, NULL) != FW_OK))
		log_warnx("conflict on bundle %s not recorded: %s", b->id, fw_errmsg());
	json_decref(d);
	fw_seterr(FW_ERR_CONFLICT, "%s", msg);
}

/*
 * Identity and chain of every observation against what is held.  Sets
 * *fresh to the number not held yet and appends the seqs that open a gap
 * to `gaps`.  On FW_ERR_CONFLICT, *c says which observation; the caller
 * records it (ingest_record_conflict) once out of its transaction.
 */
static fw_err
ingest_check_chain(struct server *s, const struct fw_bundle *b, size_t *fresh,
    json_t *gaps, struct ingest_conflict *c)
{
	const struct fw_manifest *m = b->m;
	char hash[SHA256_HEX + 1], hdev[ED25519_DEVICE_ID_LEN + 1];
	char nid[FW_ID_HEX + 1], nhash[SHA256_HEX + 1], nprev[SHA256_HEX + 1];
	int64_t hseq = 0;
	fw_err e;

	*fresh = 0;
	for (size_t i = 0; i < m->nobs; i++) {
		const struct fw_obs *o = &m->obs[i];
		char mine[SHA256_HEX + 1];

		if ((e = bundle_obs_hash(o, mine)) != FW_OK ||
		    (e = ingest_held_by_id(s, o->id, hash, hdev, &hseq)) != FW_OK)
			return e;
		if (hash[0] != '\0') {
			if (strcmp(hash, mine) == 0 && strcmp(hdev, m->device) == 0 &&
			    (uint64_t)hseq == o->seq)
				continue;	/* duplicate: held once already */
			snprintf(c->obs, sizeof c->obs, "%s", o->id);
			snprintf(c->held, sizeof c->held, "%s", hash);
			snprintf(c->offered, sizeof c->offered, "%s", mine);
			return fw_seterr(FW_ERR_CONFLICT, "observation %zu: id %s is "
			    "already held with different content", i, o->id);
		}
		if ((e = ingest_held_by_seq(s, m->device, o->seq, nid, nhash, nprev)) != FW_OK)
			return e;
		if (nid[0] != '\0') {
			snprintf(c->obs, sizeof c->obs, "%s", o->id);
			snprintf(c->held, sizeof c->held, "%s", nhash);
			snprintf(c->offered, sizeof c->offered, "%s", mine);
			return fw_seterr(FW_ERR_CONFLICT, "observation %zu: seq %" PRIu64
			    " of this device is already held as observation %s", i, o->seq,
			    nid);
		}
		(*fresh)++;
		/* Links inside the manifest were checked by the parser; here the
		 * links to held neighbours. */
		if (i == 0) {
			if ((e = ingest_held_by_seq(s, m->device, o->seq - 1, nid, nhash,
			    nprev)) != FW_OK)
				return e;
			if (nid[0] != '\0' && strcmp(nhash, o->prev) != 0)
				return fw_seterr(FW_ERR_CHAIN, "observation 0: prev does not "
				    "match the held observation %s (seq %" PRIu64 ")", nid,
				    o->seq - 1);
			if (nid[0] == '\0' && o->seq > 1)
				json_array_append_new(gaps, json_integer((json_int_t)o->seq));
		}
		if (i == m->nobs - 1) {
			if ((e = ingest_held_by_seq(s, m->device, o->seq + 1, nid, nhash,
			    nprev)) != FW_OK)
				return e;
			if (nid[0] != '\0' && strcmp(nprev, mine) != 0)
				return fw_seterr(FW_ERR_CHAIN, "observation %zu: the held "
				    "observation %s (seq %" PRIu64 ") does not link to it", i,
				    nid, o->seq + 1);
		}
	}
	return FW_OK;
}

/*
 * The best estimate of when o was captured: the device's clock put right by
 * the offset it last measured against the server's, and never later than
 * `now`, when the server has it in hand (the signed manifest keeps the
 * device's own reading).  A device clock that is wrong never costs a
 * capture: it is judged at the time it can have been made.
 */
int64_t
ingest_captured(const struct fw_manifest *m, const struct fw_obs *o, int64_t now)
{
	int64_t t = o->captured + (m->has_clock_offset ? m->clock_offset : 0);

	return t < now ? t : now;
}

/* May observation i be stored?  The office's rules about one observation:
 * captured while its supervisor was appointed, in categories of the
 * profile that fit its subject. */
static fw_err
ingest_obs_policy(struct server *s, const struct ingest_device *d,
    const struct fw_manifest *m, size_t i, int64_t now)
{
	const struct fw_obs *o = &m->obs[i];
	int64_t t = ingest_captured(m, o, now);
	fw_err e;

	if ((e = ingest_appointed(s, d->supervisor, t, i, now)) != FW_OK)
		return e;
	for (size_t k = 0; k < o->ncategories; k++) {
		const char *code = o->categories[k];
		const char *kind = bundle_subject_kind_name(o->subject.kind);
		const struct profile_category *pc = profile_category(s->profile, code);

		if (pc == NULL)
			return fw_seterr(FW_ERR_POLICY, "observation %zu: category '%s' is "
			    "not in the %s profile's taxonomy", i, code, s->profile->name);
		if ((pc->applies & profile_subject_bit(kind)) == 0)
			return fw_seterr(FW_ERR_POLICY, "observation %zu: category '%s' (%s) "
			    "does not apply to a subject of kind %s", i, code,
			    pc->e.article, kind);
	}
	return FW_OK;
}

/*
 * Every check that does not depend on the blobs.  A bundle-wide fault
 * (forgery, conflict, broken chain) fails the whole bundle.  An
 * observation the office's rules refuse (ingest_obs_policy) does not: it
 * is left out (keep[i] = 0) and named in `refused`, so that one capture
 * made after a term ended cannot hold back the rest of the device's work.
 */
static fw_err
ingest_check(struct server *s, const struct fw_bundle *b,
    const struct ingest_device *d, int64_t now, size_t *fresh, json_t *gaps,
    struct ingest_conflict *c, unsigned char *keep, json_t *refused)
{
	const struct fw_manifest *m = b->m;
	fw_err e;

	json_array_clear(refused);
	for (size_t i = 0; i < m->nobs; i++) {
		const struct fw_obs *o = &m->obs[i];

		char hhash[SHA256_HEX + 1], mine[SHA256_HEX + 1];
		char hdev[ED25519_DEVICE_ID_LEN + 1];
		int64_t hseq;

		keep[i] = 1;
		/* One held already was judged when it came: a duplicate. */
		if ((e = ingest_held_by_id(s, o->id, hhash, hdev, &hseq)) != FW_OK ||
		    (hhash[0] != '\0' && (e = bundle_obs_hash(o, mine)) != FW_OK))
			return e;
		if (hhash[0] != '\0' && strcmp(hhash, mine) == 0)
			continue;
		e = ingest_obs_policy(s, d, m, i, now);
		if (e == FW_ERR_NOT_APPOINTED || e == FW_ERR_POLICY) {
			keep[i] = 0;
			if (json_array_append_new(refused, json_pack("{ss ss ss}",
			    "observation", o->id, "error", fw_strerror(e), "message",
			    fw_errmsg())) != 0)
				return fw_seterr(FW_ERR_NOMEM, "check: out of memory");
		} else if (e != FW_OK) {
			return e;
		}
		/* A blob held already has a size: the address fixes the bytes. */
		for (size_t j = 0; j < o->nevidence; j++) {
			uint64_t held;
			int complete;
			if ((e = blob_held(s, o->evidence[j].blob, &held, &complete)) != FW_OK)
				return e;
			if (complete && held != o->evidence[j].blob_size)
				return fw_seterr(FW_ERR_FIELD_VALUE, "observation %zu: evidence "
				    "%zu: blob %s is held with %" PRIu64 " bytes, the manifest "
				    "says %" PRIu64, i, j, o->evidence[j].blob, held,
				    o->evidence[j].blob_size);
		}
	}
	return ingest_check_chain(s, b, fresh, gaps, c);
}

/* A view of b holding only the observations kept (shallow copies: free
 * only view->m->obs, with free(3)). */
static fw_err
ingest_view(const struct fw_bundle *b, const unsigned char *keep,
    struct fw_bundle *view, struct fw_manifest *vm)
{
	size_t n = 0;

	*view = *b;
	*vm = *b->m;
	vm->obs = calloc(b->m->nobs ? b->m->nobs : 1, sizeof *vm->obs);
	if (vm->obs == NULL)
		return fw_seterr(FW_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < b->m->nobs; i++)
		if (keep[i])
			vm->obs[n++] = b->m->obs[i];
	vm->nobs = n;
	view->m = vm;
	return FW_OK;
}

/* Has blob hex been listed already (a blob may serve several items)? */
static int
ingest_listed(const json_t *miss, const char *hex)
{
	for (size_t i = 0; i < json_array_size(miss); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(miss, i),
		    "blob")), hex) == 0)
			return 1;
	return 0;
}

/* The blobs of the observations kept that are not held whole, as the
 * protocol's "missing", in manifest order. */
static fw_err
ingest_missing(struct server *s, const struct fw_bundle *view, json_t **out)
{
	const struct fw_manifest *m = view->m;
	json_t *miss = json_array();
	fw_err e = FW_OK;

	if (miss == NULL)
		return fw_seterr(FW_ERR_NOMEM, "missing: out of memory");
	for (size_t i = 0; e == FW_OK && i < m->nobs * FW_MAX_EVIDENCE; i++) {
		const struct fw_obs *o = &m->obs[i / FW_MAX_EVIDENCE];
		const struct fw_evidence *ev;
		const char *hex;
		int64_t size;
		uint64_t held;
		int complete;

		if (i % FW_MAX_EVIDENCE >= o->nevidence)
			continue;
		ev = &o->evidence[i % FW_MAX_EVIDENCE];
		hex = ev->blob;
		size = (int64_t)ev->blob_size;
		if (ingest_listed(miss, hex))
			continue;
		if ((e = blob_held(s, hex, &held, &complete)) != FW_OK)
			break;
		/* A crash between the last append and the move into place
		 * leaves a whole partial file: finish it now (or discard it). */
		if (!complete && held == (uint64_t)size && size > 0 &&
		    (e = blob_settle(s, hex, (uint64_t)size, &held, &complete)) != FW_OK)
			break;
		if (complete)
			continue;
		if (held > (uint64_t)size)
			held = 0;	/* a stale partial longer than announced */
		json_array_append_new(miss, json_pack("{ss sI sI}", "blob", hex,
		    "size", (json_int_t)size, "offset", (json_int_t)held));
	}
	if (e != FW_OK) {
		json_decref(miss);
		return e;
	}
	*out = miss;
	return FW_OK;
}

/* The stored answer of a committed bundle of device (any device if NULL),
 * or *out = NULL. */
static fw_err
ingest_stored_receipt(struct server *s, const char *bundle, const char *device,
    json_t **out)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	*out = NULL;
	if ((e = db_prepare(s->db, &st, "SELECT receipt FROM bundles WHERE id = ?1 AND"
	    " state = 'committed' AND (?2 IS NULL OR device_id = ?2)", "ss", bundle,
	    device)) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		e = jsonx_load(sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), out);
	else if (rc != SQLITE_DONE)
		e = db_error(s->db, "receipt");
	sqlite3_finalize(st);
	return e;
}

static void
ingest_audit_refusal(struct server *s, const char *device, const char *bundle,
    fw_err code)
{
	char msg[FW_ERRMSG_MAX];
	json_t *d;

	snprintf(msg, sizeof msg, "%s", fw_errmsg());
	d = json_pack("{ss ss ss}", "bundle", bundle ? bundle : "", "error",
	    fw_strerror(code), "message", msg);
	if (d == NULL || audit_append(s->db, device, "ingest.refused", bundle ? bundle : "",
	    d, NULL, NULL) != FW_OK)
		log_warnx("refusal of bundle %s not audited", bundle ? bundle : "?");
	json_decref(d);
	fw_seterr(code, "%s", msg);
}

/* Record the bundle as pending, with its blobs (idempotent). */
static fw_err
ingest_record_pending(struct server *s, const struct fw_bundle *b, int64_t now)
{
	fw_err e;

	/* A pending offer lost in a power cut costs the device one re-offer. */
	db_lazy(s->db, 1);
	if ((e = db_begin(s->db)) != FW_OK) {
		db_lazy(s->db, 0);
		return e;
	}
	e = db_run(s->db, "INSERT OR IGNORE INTO bundles (id, device_id, bundle_seq, state,"
	    " manifest, signature, offered) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
	    "ssibbi", b->id, b->m->device, (int64_t)b->m->bundle_seq,
	    b->manifest.data, b->manifest.len, b->sig, (size_t)ED25519_SIG_LEN, now);
	for (size_t i = 0; e == FW_OK && i < b->m->nobs; i++)
		for (size_t j = 0; e == FW_OK && j < b->m->obs[i].nevidence; j++) {
			const struct fw_evidence *ev = &b->m->obs[i].evidence[j];
			e = db_run(s->db, "INSERT OR IGNORE INTO bundle_blobs (bundle_id, blob,"
			    " size) VALUES (?, ?, ?)", "ssi", b->id, ev->blob,
			    (int64_t)ev->blob_size);
		}
	if (e != FW_OK)
		db_rollback(s->db);
	else
		e = db_commit(s->db);
	db_lazy(s->db, 0);
	return e;
}

/*
 * Offer (protocol 8.1).  auth_device is the device that signed the request,
 * or NULL for import-bundle (the bundle's own signature is then all the
 * authentication there is).  On success *ans is the answer; on some errors
 * *ans holds extra fields for the error body.
 */
fw_err
ingest_offer(struct server *s, const char *auth_device, const uint8_t *p,
    size_t n, json_t **ans)
{
	struct fw_bundle *b = NULL;
	struct ingest_device d = {0};
	struct ingest_conflict conflict = {0};
	struct fw_bundle view;
	struct fw_manifest vm = {0};
	json_t *gaps = NULL, *miss = NULL, *refused = json_array();
	unsigned char keep[FW_MAX_OBSERVATIONS];
	int64_t now = (int64_t)time(NULL);
	size_t fresh = 0;
	fw_err e;

	*ans = NULL;
	if (refused == NULL)
		return fw_seterr(FW_ERR_NOMEM, "offer: out of memory");
	if ((e = bundle_open(p, n, &b)) != FW_OK) {
		json_decref(refused);
		return fw_errctx(e, "bundle");
	}
	if ((e = ingest_device_load(s, b->m->device, &d)) != FW_OK)
		goto out;
	if (auth_device != NULL && strcmp(auth_device, b->m->device) != 0) {
		e = fw_seterr(FW_ERR_FORBIDDEN, "bundle of device %s offered by device %s",
		    b->m->device, auth_device);
		goto refused;
	}
	if ((e = bundle_verify(b, d.key)) != FW_OK)
		goto refused;
	if ((e = ingest_stored_receipt(s, b->id, b->m->device, ans)) != FW_OK ||
	    *ans != NULL)
		goto out;
	if ((gaps = json_array()) == NULL) {
		e = fw_seterr(FW_ERR_NOMEM, "offer: out of memory");
		goto out;
	}
	if ((e = ingest_check(s, b, &d, now, &fresh, gaps, &conflict, keep,
	    refused)) != FW_OK) {
		if (e != FW_ERR_CONFLICT)
			goto refused;
		ingest_record_conflict(s, b, &conflict);
		goto out;
	}
	if ((e = ingest_view(b, keep, &view, &vm)) != FW_OK ||
	    (e = blob_check_space(s, 0)) != FW_OK ||
	    (e = ingest_record_pending(s, b, now)) != FW_OK ||
	    (e = ingest_missing(s, &view, &miss)) != FW_OK)
		goto out;
	*ans = json_pack("{ss ss sI so sO}", "bundle", b->id, "state", "pending",
	    "chunk_size", (json_int_t)s->cfg.max_chunk, "missing", miss, "refused",
	    refused);
	miss = NULL;
	if (*ans == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "offer: out of memory");
	goto out;
refused:
	ingest_audit_refusal(s, b->m->device, b->id, e);
out:
	free(vm.obs);
	json_decref(refused);
	json_decref(gaps);
	json_decref(miss);
	ingest_device_clear(&d);
	bundle_free(b);
	return e;
}

/* Is blob named by a pending bundle of device?  Its announced size. */
static fw_err
ingest_blob_size(struct server *s, const char *device, const char *blob,
    uint64_t *size)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if ((e = db_prepare(s->db, &st, "SELECT bb.size FROM bundle_blobs bb JOIN bundles b"
	    " ON b.id = bb.bundle_id WHERE bb.blob = ? AND b.device_id = ? LIMIT 1",
	    "ss", blob, device)) != FW_OK)
		return e;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return fw_seterr(FW_ERR_NOT_FOUND, "blob %s is not named by a bundle this "
		    "device offered", blob);
	return rc == SQLITE_ROW ? FW_OK : db_error(s->db, "blob");
}

/* Upload (protocol 8.2). */
fw_err
ingest_upload(struct server *s, const char *device, const char *blob,
    uint64_t offset, const uint8_t *p, size_t n, json_t **ans)
{
	return ingest_upload_hashed(s, device, blob, offset, p, n, NULL, ans);
}

fw_err
ingest_upload_hashed(struct server *s, const char *device, const char *blob,
    uint64_t offset, const uint8_t *p, size_t n, const char *p_sha256, json_t **ans)
{
	uint64_t size = 0, held = 0;
	int complete = 0;
	fw_err e;

	*ans = NULL;
	if (!hex_is_lower(blob, SHA256_HEX))
		return fw_seterr(FW_ERR_NOT_FOUND, "blob address must be 64 lowercase hex");
	if (n > s->cfg.max_chunk)
		return fw_seterr(FW_ERR_LIMIT, "chunk of %zu bytes is over the limit of %"
		    PRIu64, n, s->cfg.max_chunk);
	if ((e = ingest_blob_size(s, device, blob, &size)) != FW_OK)
		return e;
	e = blob_write(s, blob, size, offset, p, n, p_sha256, &held, &complete);
	if (e == FW_ERR_OFFSET)
		*ans = json_pack("{sI}", "offset", (json_int_t)held);
	if (e != FW_OK)
		return e;
	*ans = json_pack("{ss sI sb}", "blob", blob, "offset", (json_int_t)held,
	    "complete", complete);
	return *ans ? FW_OK : fw_seterr(FW_ERR_NOMEM, "upload: out of memory");
}

/* Build, sign and serialise the receipt answer. */
static fw_err
ingest_receipt(struct server *s, const struct fw_bundle *b, json_t *refused,
    int64_t now, int64_t audit_seq, const char *audit_hash, struct buf *out)
{
	json_t *obs = json_array(), *r, *ans = NULL;
	char t[21], sig64[128];
	uint8_t sig[ED25519_SIG_LEN];
	struct buf rb;
	fw_err e;

	bundle_time_format(now, t);
	for (size_t i = 0; obs != NULL && i < b->m->nobs; i++)
		json_array_append_new(obs, json_string(b->m->obs[i].id));
	r = json_pack("{sI ss ss so sO ss sI ss}", "version",
	    (json_int_t)FW_PROTO_VERSION, "bundle", b->id, "device", b->m->device,
	    "observations", obs, "refused", refused, "received", t, "audit_seq",
	    (json_int_t)audit_seq, "audit_hash", audit_hash);
	if (r == NULL)
		return fw_seterr(FW_ERR_NOMEM, "receipt: out of memory");
	buf_init(&rb, FW_MAX_MANIFEST);
	if ((e = jsonx_dump_canonical(r, &rb)) == FW_OK &&
	    (e = ed25519_sign(s->receipt_key, rb.data, rb.len, sig)) == FW_OK) {
		base64_encode(sig, sizeof sig, sig64);
		ans = json_pack("{ss sO ss}", "state", "committed", "receipt", r,
		    "signature", sig64);
		e = ans ? jsonx_dump_canonical(ans, out)
		    : fw_seterr(FW_ERR_NOMEM, "receipt: out of memory");
	}
	buf_free(&rb);
	json_decref(r);
	json_decref(ans);
	return e;
}

/* Store the observations of b (inside the caller's transaction). */
static fw_err
ingest_store(struct server *s, const struct fw_bundle *b, const char *sup,
    int64_t now)
{
	struct buf canon;
	fw_err e = FW_OK;

	buf_init(&canon, FW_MAX_MANIFEST);
	for (size_t i = 0; e == FW_OK && i < b->m->nobs; i++) {
		const struct fw_obs *o = &b->m->obs[i];
		char hash[SHA256_HEX + 1];

		buf_reset(&canon);
		if ((e = bundle_obs_canonical(o, &canon)) != FW_OK ||
		    (e = sha256_hex(canon.data, canon.len, hash)) != FW_OK)
			break;
		e = db_run(s->db, "INSERT OR IGNORE INTO observations (id, device_id, seq,"
		    " hash, prev, canonical, bundle_id, supervisor_id, captured, received)"
		    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", "ssissbssii", o->id,
		    b->m->device, (int64_t)o->seq, hash, o->prev, canon.data, canon.len,
		    b->id, sup, ingest_captured(b->m, o, now), now);
		for (size_t j = 0; e == FW_OK && j < o->nevidence; j++)
			e = db_run(s->db, "INSERT OR IGNORE INTO observation_blobs"
			    " (observation_id, blob) VALUES (?, ?)", "ss", o->id,
			    o->evidence[j].blob);
	}
	buf_free(&canon);
	return e;
}

/* Commit (protocol 8.3): store, audit, sign, answer. */
fw_err
ingest_commit(struct server *s, const char *auth_device, const char *bundle,
    json_t **ans)
{
	sqlite3_stmt *st;
	struct fw_bundle *b = NULL;
	struct ingest_device d = {0};
	struct ingest_conflict conflict = {0};
	struct fw_bundle view;
	struct fw_manifest vm = {0};
	json_t *gaps = NULL, *miss = NULL, *detail = NULL, *refused = NULL;
	unsigned char keep[FW_MAX_OBSERVATIONS];
	char audit_hash[SHA256_HEX + 1];
	int64_t now = (int64_t)time(NULL), audit_seq = 0;
	struct buf receipt;
	size_t fresh = 0;
	fw_err e;
	int rc;

	*ans = NULL;
	buf_init(&receipt, 1u << 20);
	if ((e = ingest_stored_receipt(s, bundle, auth_device, ans)) != FW_OK ||
	    *ans != NULL)
		return e;
	if ((e = db_prepare(s->db, &st, "SELECT manifest, signature, device_id FROM bundles"
	    " WHERE id = ?", "s", bundle)) != FW_OK)
		return e;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (auth_device == NULL ||
	    strcmp(auth_device, (const char *)sqlite3_column_text(st, 2)) == 0)) {
		b = calloc(1, sizeof *b);
		if (b == NULL || (b->m = NULL, buf_init(&b->manifest, FW_MAX_MANIFEST),
		    buf_add(&b->manifest, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0))) != FW_OK)
			e = fw_seterr(FW_ERR_NOMEM, "commit: out of memory");
		else if (sqlite3_column_bytes(st, 1) == ED25519_SIG_LEN)
			memcpy(b->sig, sqlite3_column_blob(st, 1), ED25519_SIG_LEN);
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		e = fw_seterr(FW_ERR_NOT_FOUND, "bundle %s was not offered by this device",
		    bundle);
	} else {
		e = db_error(s->db, "commit");
	}
	sqlite3_finalize(st);
	if (e != FW_OK)
		goto out;
	if ((e = bundle_manifest_parse(b->manifest.data, b->manifest.len, &b->m)) != FW_OK)
		goto out;
	snprintf(b->id, sizeof b->id, "%s", bundle);
	/* The manifest's signature was verified before the offer recorded it. */
	if ((e = ingest_device_load(s, b->m->device, &d)) != FW_OK)
		goto out;
	if ((gaps = json_array()) == NULL || (refused = json_array()) == NULL ||
	    (e = db_begin(s->db)) != FW_OK) {
		e = gaps && refused ? e : fw_seterr(FW_ERR_NOMEM, "commit: out of memory");
		goto out;
	}
	/* Checked again inside the transaction: another bundle may have been
	 * committed, or the supervisor's appointment changed, since the offer. */
	if ((e = ingest_check(s, b, &d, now, &fresh, gaps, &conflict, keep,
	    refused)) != FW_OK || (e = ingest_view(b, keep, &view, &vm)) != FW_OK ||
	    (e = ingest_missing(s, &view, &miss)) != FW_OK)
		goto rollback;
	if (json_array_size(miss) > 0) {
		db_rollback(s->db);
		*ans = json_pack("{sO}", "missing", miss);
		e = fw_seterr(FW_ERR_INCOMPLETE, "bundle %s: %zu blobs still missing",
		    bundle, json_array_size(miss));
		goto out;
	}
	if ((e = ingest_store(s, &view, d.supervisor, now)) != FW_OK ||
	    (e = blob_index_bundle(s, &view)) != FW_OK)
		goto rollback;
	detail = json_pack("{ss sI sI sI sI sO}", "bundle", bundle, "observations",
	    (json_int_t)b->m->nobs, "new", (json_int_t)(fresh - (b->m->nobs -
	    vm.nobs)), "duplicate", (json_int_t)(b->m->nobs - fresh), "refused",
	    (json_int_t)json_array_size(refused), "gaps_before_seq", gaps);
	if (detail == NULL) {
		e = fw_seterr(FW_ERR_NOMEM, "commit: out of memory");
		goto rollback;
	}
	if ((e = audit_append(s->db, b->m->device, "ingest.accepted", bundle, detail,
	    &audit_seq, audit_hash)) != FW_OK ||
	    (e = ingest_receipt(s, &view, refused, now, audit_seq, audit_hash,
	    &receipt)) != FW_OK ||
	    (e = db_run(s->db, "UPDATE bundles SET state = 'committed', committed = ?,"
	    " receipt = ? WHERE id = ?", "ibs", now, receipt.data, receipt.len,
	    bundle)) != FW_OK ||
	    (e = case_add_clues(s, &view, d.supervisor, now)) != FW_OK)	/* casework */
		goto rollback;
	if ((e = db_commit(s->db)) != FW_OK)	/* durable: synchronous=FULL */
		goto out;
	if (json_array_size(gaps) > 0)
		log_warnx("device %s: gap before seq %" JSON_INTEGER_FORMAT " (bundle %s)",
		    b->m->device, json_integer_value(json_array_get(gaps, 0)), bundle);
	e = jsonx_load(receipt.data, receipt.len, ans);
	goto out;
rollback:
	db_rollback(s->db);
	if (e == FW_ERR_CONFLICT && conflict.obs[0] != '\0')
		ingest_record_conflict(s, b, &conflict);
	else
		ingest_audit_refusal(s, b->m->device, bundle, e);
out:
	free(vm.obs);
	json_decref(refused);
	json_decref(detail);
	json_decref(gaps);
	json_decref(miss);
	ingest_device_clear(&d);
	bundle_free(b);
	buf_free(&receipt);
	return e;
}

/*
 * Enrollment codes (protocol 3): 12 Crockford base-32 characters, shown as
 * XXXX-XXXX-XXXX.  Only the SHA-256 of the normalised code is stored.
 */
static const char ingest_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Upper-case, drop hyphens, read O as 0 and I, L as 1; 0 if not a code. */
static int
ingest_code_normalise(const char *in, char out[13])
{
	size_t n = 0;

	for (const char *p = in; *p != '\0'; p++) {
		char c = *p;
		if (c == '-')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c == 'O')
			c = '0';
		else if (c == 'I' || c == 'L')
			c = '1';
		if (strchr(ingest_b32, c) == NULL || c == '\0' || n == 12)
			return 0;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == 12;
}

fw_err
ingest_new_code(struct server *s, const char *supervisor, int64_t ttl,
    char code[15], int64_t *expires)
{
	uint8_t rnd[12];
	char norm[13], hash[SHA256_HEX + 1];
	int64_t now = (int64_t)time(NULL);
	fw_err e;

	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "enrollment code: no randomness");
	for (size_t i = 0; i < 12; i++)
		norm[i] = ingest_b32[rnd[i] & 31];
	norm[12] = '\0';
	snprintf(code, 15, "%.4s-%.4s-%.4s", norm, norm + 4, norm + 8);
	if ((e = sha256_hex(norm, 12, hash)) != FW_OK)
		return e;
	*expires = now + ttl;
	e = db_run(s->db, "INSERT INTO enroll_codes (code_hash, supervisor_id, created,"
	    " expires) VALUES (?, ?, ?, ?)", "ssii", hash, supervisor, now, *expires);
	OPENSSL_cleanse(norm, sizeof norm);
	OPENSSL_cleanse(rnd, sizeof rnd);
	return e;
}

/* Answer of a successful enrollment. */
static fw_err
ingest_enroll_answer(struct server *s, const char *device, const char *sup,
    json_t **ans)
{
	char recip[128], rk64[64], t[21];
	uint8_t rk[ED25519_PUB_LEN];
	json_t *tax = NULL;
	fw_err e;

	if ((e = age_recipient_format(s->office_recipient, recip, sizeof recip)) != FW_OK ||
	    (e = ed25519_public(s->receipt_key, rk)) != FW_OK ||
	    (e = profile_taxonomy_json(s->profile, &tax)) != FW_OK)
		return e;
	base64_encode(rk, sizeof rk, rk64);
	bundle_time_format((int64_t)time(NULL), t);
	*ans = json_pack("{ss ss ss ss ss so sI ss}", "device", device, "supervisor", sup,
	    "office_recipient", recip, "receipt_key", rk64, "profile",
	    s->profile->name, "taxonomy", tax, "chunk_size",
	    (json_int_t)s->cfg.max_chunk, "server_time", t);
	return *ans ? FW_OK : fw_seterr(FW_ERR_NOMEM, "enroll: out of memory");
}

/* Parse and check the enrollment request body; fills pub and norm. */
static fw_err
ingest_enroll_parse(const uint8_t *body, size_t n, uint8_t pub[ED25519_PUB_LEN],
    char norm[13])
{
	static const char *const keys[] = {"code", "public_key", "proof", NULL};
	const char *code, *pk, *proof;
	uint8_t sig[ED25519_SIG_LEN];
	struct ed25519_key *k = NULL;
	size_t len;
	struct buf msg;
	json_t *o;
	fw_err e;

	if ((e = jsonx_load_bounded(body, n, 16, 1, &o)) != FW_OK)
		return e;
	if ((e = jsonx_check_keys(o, keys, "enroll")) != FW_OK ||
	    (e = jsonx_get_str(o, "code", 0, 0, 1, 32, &code, "enroll")) != FW_OK ||
	    (e = jsonx_get_str(o, "public_key", 0, 0, 44, 44, &pk, "enroll")) != FW_OK ||
	    (e = jsonx_get_str(o, "proof", 0, 0, 88, 88, &proof, "enroll")) != FW_OK)
		goto out;
	if (!ingest_code_normalise(code, norm)) {
		e = fw_seterr(FW_ERR_ENROLL_CODE, "enrollment code unknown, used or expired");
		goto out;
	}
	if (base64_decode(pk, strlen(pk), 1, pub, ED25519_PUB_LEN, &len) != FW_OK ||
	    len != ED25519_PUB_LEN) {
		e = fw_seterr(FW_ERR_KEY, "enroll: public_key is not 32 bytes of base64");
		goto out;
	}
	if (base64_decode(proof, strlen(proof), 1, sig, sizeof sig, &len) != FW_OK ||
	    len != sizeof sig) {
		e = fw_seterr(FW_ERR_SIGNATURE, "enroll: proof is not 64 bytes of base64");
		goto out;
	}
	buf_init(&msg, 256);
	if ((e = buf_printf(&msg, "fundwatch-enroll-v1\n%s\n%s\n", code, pk)) == FW_OK &&
	    (e = ed25519_from_public(pub, &k)) == FW_OK)
		e = ed25519_verify(k, msg.data, msg.len, sig);
	if (e == FW_ERR_SIGNATURE)
		fw_seterr(e, "enroll: proof does not verify with the public key");
	buf_free(&msg);
	ed25519_free(k);
out:
	json_decref(o);
	return e;
}

/* Enrollment (protocol 3). */
fw_err
ingest_enroll(struct server *s, const uint8_t *body, size_t n, json_t **ans)
{
	sqlite3_stmt *st;
	uint8_t pub[ED25519_PUB_LEN];
	char norm[13], hash[SHA256_HEX + 1], dev[ED25519_DEVICE_ID_LEN + 1];
	char sup[64] = "";
	int64_t now = (int64_t)time(NULL);
	json_t *d;
	fw_err e;
	int rc;

	*ans = NULL;
	if ((e = ingest_enroll_parse(body, n, pub, norm)) != FW_OK)
		return e;
	if ((e = sha256_hex(norm, 12, hash)) != FW_OK ||
	    (e = ed25519_device_id_raw(pub, dev)) != FW_OK ||
	    (e = db_begin(s->db)) != FW_OK)
		return e;
	if ((e = db_prepare(s->db, &st, "SELECT supervisor_id FROM enroll_codes WHERE"
	    " code_hash = ? AND used IS NULL AND expires > ?", "si", hash, now)) != FW_OK)
		goto rollback;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(sup, sizeof sup, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		e = rc == SQLITE_DONE ? fw_seterr(FW_ERR_ENROLL_CODE, "enrollment code "
		    "unknown, used or expired") : db_error(s->db, "enroll");
		goto rollback;
	}
	if ((e = registry_term_at(s, sup, now, NULL, NULL)) != FW_OK)
		goto rollback;
	e = db_run(s->db, "INSERT INTO devices (id, pubkey, supervisor_id, enrolled)"
	    " VALUES (?, ?, ?, ?)", "sbsi", dev, pub, (size_t)ED25519_PUB_LEN, sup, now);
	if (e == FW_ERR_CONFLICT) {
		e = fw_seterr(FW_ERR_EXISTS, "this public key is already enrolled as "
		    "device %s", dev);
		goto rollback;
	}
	if (e != FW_OK || (e = db_run(s->db, "UPDATE enroll_codes SET used = ?,"
	    " device_id = ? WHERE code_hash = ?", "iss", now, dev, hash)) != FW_OK)
		goto rollback;
	d = json_pack("{ss}", "supervisor", sup);
	e = d ? audit_append(s->db, dev, "device.enrolled", dev, d, NULL, NULL)
	    : fw_seterr(FW_ERR_NOMEM, "enroll: out of memory");
	json_decref(d);
	if (e != FW_OK || (e = db_commit(s->db)) != FW_OK)
		goto rollback;
	log_info("device %s enrolled for supervisor %s", dev, sup);
	return ingest_enroll_answer(s, dev, sup, ans);
rollback:
	db_rollback(s->db);
	return e;
}

/* Downlink (protocol 9): messages after a cursor. */
fw_err
ingest_feed(struct server *s, const char *device, int64_t after, int64_t limit,
    json_t **ans)
{
	sqlite3_stmt *st;
	json_t *msgs = json_array(), *m;
	int64_t next = after, count = 0;
	fw_err e;
	int rc;

	*ans = NULL;
	if (msgs == NULL)
		return fw_seterr(FW_ERR_NOMEM, "feed: out of memory");
	if ((e = db_prepare(s->db, &st, "SELECT cursor, message FROM feed WHERE"
	    " device_id = ? AND cursor > ? ORDER BY cursor LIMIT ?", "sii", device,
	    after, limit + 1)) != FW_OK) {
		json_decref(msgs);
		return e;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && count < limit) {
		if ((e = jsonx_load(sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), &m)) != FW_OK)
			break;
		json_array_append_new(msgs, m);
		next = sqlite3_column_int64(st, 0);
		count++;
	}
	sqlite3_finalize(st);
	if (e == FW_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		e = db_error(s->db, "feed");
	if (e != FW_OK) {
		json_decref(msgs);
		return e;
	}
	*ans = json_pack("{so sI sb}", "messages", msgs, "next", (json_int_t)next,
	    "more", rc == SQLITE_ROW);
	return *ans ? FW_OK : fw_seterr(FW_ERR_NOMEM, "feed: out of memory");
}

/* Append a signed downlink message for a device (inside the caller's
 * transaction if one is open).  body is borrowed. */
fw_err
ingest_feed_post(struct server *s, const char *device, const char *kind,
    json_t *body)
{
	int64_t now = (int64_t)time(NULL), cursor;
	char t[21], sig64[128];
	uint8_t sig[ED25519_SIG_LEN];
	struct buf b;
	json_t *m;
	fw_err e;

	/* The cursor is the row id, known only after the insert: insert a
	 * placeholder, then sign and fill in the message. */
	if ((e = db_run(s->db, "INSERT INTO feed (device_id, kind, created, message)"
	    " VALUES (?, ?, ?, x'')", "ssi", device, kind, now)) != FW_OK)
		return e;
	cursor = sqlite3_last_insert_rowid(s->db);
	bundle_time_format(now, t);
	m = json_pack("{sI ss ss ss sO}", "cursor", (json_int_t)cursor, "device", device,
	    "kind", kind, "created", t, "body", body);
	if (m == NULL)
		return fw_seterr(FW_ERR_NOMEM, "feed: out of memory");
	buf_init(&b, FW_MAX_MANIFEST);
	if ((e = jsonx_dump_canonical(m, &b)) == FW_OK &&
	    (e = ed25519_sign(s->receipt_key, b.data, b.len, sig)) == FW_OK) {
		base64_encode(sig, sizeof sig, sig64);
		json_object_set_new(m, "signature", json_string(sig64));
		buf_reset(&b);
		if ((e = jsonx_dump_canonical(m, &b)) == FW_OK)
			e = db_run(s->db, "UPDATE feed SET message = ? WHERE cursor = ?",
			    "bi", b.data, b.len, cursor);
	}
	buf_free(&b);
	json_decref(m);
	return e;
}

/*
 * audit.c: the hash-chained audit log.
 *
 * Every ingest decision and every officer or admin action appends one
 * entry.  An entry's hash is the SHA-256 of the canonical JSON of
 *   {"action","actor","at","detail","prev","seq","subject"}
 * where prev is the hash of the entry before (64 zeros for the first), so
 * that removing or altering any entry breaks every hash after it.  Entries
 * never carry secrets or evidence plaintext: callers put ids, codes and
 * counts in the detail, never key material or text of a clue.
 */
#include <inttypes.h>
#include <string.h>

#include "server.h"

static const char audit_zero[SHA256_HEX + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The hash of one entry, computed from its parts. */
static fw_err
audit_hash(int64_t seq, int64_t at, const char *actor, const char *action,
    const char *subject, json_t *detail, const char *prev,
    char out[SHA256_HEX + 1])
{
	json_t *o;
	struct buf b;
	fw_err e;

	o = json_pack("{sI sI ss ss ss sO ss}", "seq", (json_int_t)seq, "at",
	    (json_int_t)at, "actor", actor, "action", action, "subject", subject,
	    "detail", detail, "prev", prev);
	if (o == NULL)
		return fw_seterr(FW_ERR_NOMEM, "audit: cannot build entry");
	buf_init(&b, 1u << 24);
	if ((e = jsonx_dump_canonical(o, &b)) == FW_OK)
		e = sha256_hex(b.data, b.len, out);
	buf_free(&b);
	json_decref(o);
	return e;
}

fw_err
audit_append(sqlite3 *db, const char *actor, const char *action,
    const char *subject, json_t *detail, int64_t *seq_out,
    char hash_out[SHA256_HEX + 1])
{
	sqlite3_stmt *st;
	char prev[SHA256_HEX + 1], hash[SHA256_HEX + 1];
	int64_t seq = 1, at = (int64_t)time(NULL);
	struct buf text;
	fw_err e;
	int own = sqlite3_get_autocommit(db);

	if (own && (e = db_begin(db)) != FW_OK)
		return e;
	memcpy(prev, audit_zero, sizeof prev);
	if ((e = db_prepare(db, &st, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	    "")) != FW_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		snprintf(prev, sizeof prev, "%s", (const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if ((e = audit_hash(seq, at, actor, action, subject, detail, prev, hash)) != FW_OK)
		goto out;
	buf_init(&text, 1u << 24);
	if ((e = jsonx_dump_canonical(detail, &text)) == FW_OK)
		e = db_run(db, "INSERT INTO audit (seq, at, actor, action, subject, detail,"
		    " prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", "iissssss",
		    seq, at, actor, action, subject, (const char *)text.data, prev, hash);
	buf_free(&text);
	if (e != FW_OK)
		goto out;
	if (own && (e = db_commit(db)) != FW_OK)
		return e;
	if (seq_out != NULL)
		*seq_out = seq;
	if (hash_out != NULL)
		memcpy(hash_out, hash, sizeof hash);
	return FW_OK;
out:
	if (own)
		db_rollback(db);
	return e;
}

fw_err
audit_verify(sqlite3 *db, int64_t *count)
{
	sqlite3_stmt *st;
	char prev[SHA256_HEX + 1], hash[SHA256_HEX + 1];
	int64_t n = 0, expect = 1;
	fw_err e = FW_OK;
	int rc;

	memcpy(prev, audit_zero, sizeof prev);
	if ((e = db_prepare(db, &st, "SELECT seq, at, actor, action, subject, detail,"
	    " prev, hash FROM audit ORDER BY seq", "")) != FW_OK)
		return e;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		const char *dtext = (const char *)sqlite3_column_text(st, 5);
		const char *sprev = (const char *)sqlite3_column_text(st, 6);
		const char *shash = (const char *)sqlite3_column_text(st, 7);
		json_t *detail = NULL;

		if (seq != expect) {
			e = fw_seterr(FW_ERR_CHAIN, "audit entry %" PRId64 ": expected "
			    "entry %" PRId64 " (entries missing)", seq, expect);
			break;
		}
		if (strcmp(sprev, prev) != 0) {
			e = fw_seterr(FW_ERR_CHAIN, "audit entry %" PRId64 ": prev does not "
			    "match the hash of entry %" PRId64, seq, seq - 1);
			break;
		}
		if ((e = jsonx_load(dtext, strlen(dtext), &detail)) != FW_OK) {
			e = fw_seterr(FW_ERR_CHAIN, "audit entry %" PRId64 ": detail is not "
			    "JSON", seq);
			break;
		}
		e = audit_hash(seq, sqlite3_column_int64(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    (const char *)sqlite3_column_text(st, 4), detail, prev, hash);
		json_decref(detail);
		if (e != FW_OK)
			break;
		if (strcmp(hash, shash) != 0) {
			e = fw_seterr(FW_ERR_CHAIN, "audit entry %" PRId64 ": content does "
			    "not match its hash (altered)", seq);
			break;
		}
		memcpy(prev, hash, sizeof prev);
		n++;
		expect++;
	}
	if (e == FW_OK && rc != SQLITE_DONE)
		e = db_error(db, "audit verify");
	sqlite3_finalize(st);
	if (count != NULL)
		*count = n;
	return e;
}

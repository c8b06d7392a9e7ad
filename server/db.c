/*
 * db.c: the server's SQLite database: schema, pragmas, transactions and the
 * few statement helpers everything else uses.
 *
 * The database runs in WAL mode with synchronous=FULL: a COMMIT that
 * returned is on disk, which is what lets a receipt promise durability.
 * The server's loop groups commits instead (db_group): they return
 * unsynced, and one sync of the WAL covers all of them before any answer
 * that depends on them leaves (http.c).
 * Every table the server keeps is created here, in one place, so that the
 * schema can be read at a glance.  The schema version lives in
 * PRAGMA user_version; a database newer than this binary is refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

#define DB_SCHEMA_VERSION 1

static const char db_schema[] =
    /* Key-value facts about this installation (profile name, created). */
    "CREATE TABLE IF NOT EXISTS meta ("
    " key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
    /* Supervisors and their terms (a renewal adds a term). */
    "CREATE TABLE IF NOT EXISTS supervisors ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, birth TEXT NOT NULL,"
    " phone TEXT NOT NULL DEFAULT '', unit TEXT NOT NULL DEFAULT '',"
    " method TEXT NOT NULL, exception_reason TEXT,"
    " attestations TEXT NOT NULL DEFAULT '[]',"
    " status TEXT NOT NULL CHECK (status IN ('active','terminated')),"
    " terminated_on TEXT, termination_reason TEXT, termination_note TEXT,"
    " created INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS terms ("
    " supervisor_id TEXT NOT NULL REFERENCES supervisors(id),"
    " start_day TEXT NOT NULL, end_day TEXT NOT NULL,"
    " PRIMARY KEY (supervisor_id, start_day)) STRICT;"
    /* Devices: one key, bound to one supervisor. */
    "CREATE TABLE IF NOT EXISTS devices ("
    " id TEXT PRIMARY KEY, pubkey BLOB NOT NULL UNIQUE,"
    " supervisor_id TEXT NOT NULL REFERENCES supervisors(id),"
    " enrolled INTEGER NOT NULL, revoked INTEGER, revoke_reason TEXT) STRICT;"
    /* One-time enrollment codes: only their SHA-256 is kept. */
    "CREATE TABLE IF NOT EXISTS enroll_codes ("
    " code_hash TEXT PRIMARY KEY,"
    " supervisor_id TEXT NOT NULL REFERENCES supervisors(id),"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " used INTEGER, device_id TEXT) STRICT;"
    /* Bundles offered (pending) and committed, with the exact manifest and
     * the exact receipt answer, so that a re-offer gets the same bytes. */
    "CREATE TABLE IF NOT EXISTS bundles ("
    " id TEXT PRIMARY KEY, device_id TEXT NOT NULL, bundle_seq INTEGER NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('pending','committed')),"
    " manifest BLOB NOT NULL, signature BLOB NOT NULL,"
    " offered INTEGER NOT NULL, committed INTEGER, receipt BLOB) STRICT;"
    "CREATE TABLE IF NOT EXISTS bundle_blobs ("
    " bundle_id TEXT NOT NULL REFERENCES bundles(id), blob TEXT NOT NULL,"
    " size INTEGER NOT NULL, PRIMARY KEY (bundle_id, blob)) STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS bundle_blobs_blob ON bundle_blobs(blob);"
    /* Complete blobs in blobs/xx/<id>. */
    "CREATE TABLE IF NOT EXISTS blobs ("
    " id TEXT PRIMARY KEY, size INTEGER NOT NULL, stored INTEGER NOT NULL) STRICT;"
    /* Observations, each once; canonical bytes kept for the hash chain. */
    "CREATE TABLE IF NOT EXISTS observations ("
    " id TEXT PRIMARY KEY, device_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " hash TEXT NOT NULL, prev TEXT NOT NULL, canonical BLOB NOT NULL,"
    " bundle_id TEXT NOT NULL, supervisor_id TEXT NOT NULL,"
    " captured INTEGER NOT NULL, received INTEGER NOT NULL,"
    " UNIQUE (device_id, seq)) STRICT;"
    "CREATE TABLE IF NOT EXISTS observation_blobs ("
    " observation_id TEXT NOT NULL REFERENCES observations(id),"
    " blob TEXT NOT NULL, PRIMARY KEY (observation_id, blob)) STRICT, WITHOUT ROWID;"
    /* Conflicting offers, kept whole for whoever investigates them. */
    "CREATE TABLE IF NOT EXISTS conflicts ("
    " id INTEGER PRIMARY KEY, bundle_id TEXT NOT NULL, device_id TEXT NOT NULL,"
    " observation_id TEXT NOT NULL, held_hash TEXT, offered_hash TEXT NOT NULL,"
    " manifest BLOB NOT NULL, at INTEGER NOT NULL) STRICT;"
    /* Downlink messages, signed when written. */
    "CREATE TABLE IF NOT EXISTS feed ("
    " cursor INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, created INTEGER NOT NULL, message BLOB NOT NULL) STRICT;"
    "CREATE INDEX IF NOT EXISTS feed_device ON feed(device_id, cursor);"
    /* Casework (case.c): units, officers and their declared conflicts,
     * routing rules, cases, the clues in them, notes and notifications. */
    "CREATE TABLE IF NOT EXISTS units ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, jurisdiction TEXT NOT NULL,"
    " city INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS officers ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, unit TEXT NOT NULL REFERENCES units(id),"
    " roles INTEGER NOT NULL, password TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS officer_conflicts ("
    " officer_id TEXT NOT NULL REFERENCES officers(id), institution TEXT NOT NULL,"
    " declared INTEGER NOT NULL, PRIMARY KEY (officer_id, institution))"
    " STRICT, WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS routes ("
    " id INTEGER PRIMARY KEY, jurisdiction TEXT NOT NULL, kind TEXT NOT NULL,"
    " category TEXT NOT NULL, severity TEXT NOT NULL,"
    " unit TEXT NOT NULL REFERENCES units(id), created INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS cases ("
    " id INTEGER PRIMARY KEY, unit TEXT NOT NULL, status TEXT NOT NULL,"
    " assignee TEXT NOT NULL DEFAULT '', institution TEXT NOT NULL,"
    " major INTEGER NOT NULL DEFAULT 0, escalated INTEGER NOT NULL DEFAULT 0,"
    " opened INTEGER NOT NULL, decide_by TEXT NOT NULL, finish_by TEXT,"
    " extensions INTEGER NOT NULL DEFAULT 0, first_obs TEXT NOT NULL,"
    " verified_fen INTEGER NOT NULL DEFAULT -1,"
    " reward_fen INTEGER NOT NULL DEFAULT -1, reward_grade TEXT,"
    " reward_state TEXT NOT NULL DEFAULT 'none', substantiated_by TEXT,"
    " updated INTEGER NOT NULL) STRICT;"
    "CREATE INDEX IF NOT EXISTS cases_inst ON cases(institution, opened);"
    "CREATE INDEX IF NOT EXISTS cases_unit ON cases(unit, status);"
    "CREATE TABLE IF NOT EXISTS case_categories ("
    " case_id INTEGER NOT NULL REFERENCES cases(id), category TEXT NOT NULL,"
    " PRIMARY KEY (case_id, category)) STRICT, WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS clues ("
    " observation_id TEXT PRIMARY KEY REFERENCES observations(id),"
    " case_id INTEGER NOT NULL REFERENCES cases(id), device_id TEXT NOT NULL,"
    " supervisor_id TEXT NOT NULL, received INTEGER NOT NULL) STRICT;"
    "CREATE INDEX IF NOT EXISTS clues_case ON clues(case_id, received);"
    "CREATE TABLE IF NOT EXISTS case_notes ("
    " id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),"
    " officer_id TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,"
    " at INTEGER NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS notifications ("
    " id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL REFERENCES cases(id),"
    " officer_id TEXT NOT NULL, unit TEXT NOT NULL, kind TEXT NOT NULL,"
    " at INTEGER NOT NULL) STRICT;"
    /* The hash-chained audit log (audit.c). */
    "CREATE TABLE IF NOT EXISTS audit ("
    " seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,"
    " prev TEXT NOT NULL, hash TEXT NOT NULL) STRICT;"
    /* Officer API bearer tokens (office.c): only their SHA-256 is kept. */
    "CREATE TABLE IF NOT EXISTS office_tokens ("
    " hash TEXT PRIMARY KEY, officer_id TEXT NOT NULL,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL) STRICT, WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS office_tokens_officer ON office_tokens(officer_id);"
    /* Failed officer logins, counted per "officer:<id>" and "peer:<addr>". */
    "CREATE TABLE IF NOT EXISTS office_login_failures ("
    " key TEXT NOT NULL, at INTEGER NOT NULL) STRICT;"
    "CREATE INDEX IF NOT EXISTS office_login_failures_key"
    " ON office_login_failures(key, at);";

fw_err
db_error(sqlite3 *db, const char *what)
{
	int rc = sqlite3_extended_errcode(db);

	if (rc == SQLITE_FULL)
		return fw_seterr(FW_ERR_NOSPACE, "%s: database: %s", what, sqlite3_errmsg(db));
	if (rc == SQLITE_NOMEM)
		return fw_seterr(FW_ERR_NOMEM, "%s: database out of memory", what);
	if ((rc & 0xff) == SQLITE_BUSY)
		return fw_seterr(FW_ERR_UNAVAILABLE, "%s: database busy", what);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return fw_seterr(FW_ERR_CONFLICT, "%s: %s", what, sqlite3_errmsg(db));
	return fw_seterr(FW_ERR_IO, "%s: database: %s", what, sqlite3_errmsg(db));
}

fw_err
db_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(db, "exec");
	return FW_OK;
}

fw_err
db_open(const char *path, int create, sqlite3 **out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    (create ? SQLITE_OPEN_CREATE : 0);
	int version = -1;
	fw_err e;

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		e = fw_seterr(create ? FW_ERR_IO : FW_ERR_NOT_FOUND, "%s: %s", path,
		    db ? sqlite3_errmsg(db) : "cannot open database");
		sqlite3_close(db);
		return e;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 1);
	if ((e = db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    " PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;")) != FW_OK)
		goto fail;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > DB_SCHEMA_VERSION) {
		e = fw_seterr(FW_ERR_CONFIG, "%s: schema version %d is newer than this "
		    "server's %d", path, version, DB_SCHEMA_VERSION);
		goto fail;
	}
	if (version == 0 && !create) {
		e = fw_seterr(FW_ERR_CONFIG, "%s: not a fundwatch database (run init)", path);
		goto fail;
	}
	if (version < DB_SCHEMA_VERSION) {
		if ((e = db_exec(db, "BEGIN IMMEDIATE")) != FW_OK)
			goto fail;
		if ((e = db_exec(db, db_schema)) != FW_OK ||
		    (e = db_exec(db, "PRAGMA user_version = 1")) != FW_OK ||
		    (e = db_exec(db, "COMMIT")) != FW_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
	}
	/* Request nonces live in memory: every device request is idempotent,
	 * so forgetting them at a restart lets a replay change nothing, and
	 * keeping them costs no fsync per request. */
	if ((e = db_exec(db, "ATTACH DATABASE ':memory:' AS mem;"
	    " CREATE TABLE mem.nonces (device_id TEXT NOT NULL, nonce TEXT NOT NULL,"
	    " seen INTEGER NOT NULL, PRIMARY KEY (device_id, nonce)) WITHOUT ROWID;"
	    " CREATE INDEX mem.nonces_seen ON nonces(seen);")) != FW_OK)
		goto fail;
	*out = db;
	return FW_OK;
fail:
	sqlite3_close(db);
	return e;
}

fw_err
db_begin(sqlite3 *db)
{
	return db_run(db, "BEGIN IMMEDIATE", "");
}

/*
 * Lazy commits do not wait for the disk: for records whose loss in a power
 * cut costs only a retry (a pending offer).  In WAL mode the next durable
 * commit syncs them too, in order.  SQLite takes the setting outside a
 * transaction only: call db_lazy(db, 1) before db_begin and db_lazy(db, 0)
 * after the commit or rollback.
 */
/*
 * Group commit (the server's loop, db_group): every commit is written
 * without a sync, and one sync of the WAL (db_sync) then makes all the
 * commits before it durable at once, in order, as synchronous=FULL would
 * have made each.  The loop holds back every answer while db_unsynced()
 * says a commit that wanted durability is not on disk yet.  Which ones did
 * is seen by the commit hook: any commit made while db_lazy(db, 1) is not
 * in force.
 */
static sqlite3 *db_group_db;
static int db_group_lazy;	/* db_lazy(db, 1) in force */
static int db_group_dirty;	/* a durable commit waits for db_sync */

static int
db_group_hook(void *arg)
{
	(void)arg;
	if (!db_group_lazy)
		db_group_dirty = 1;
	return 0;	/* the commit goes on */
}

/* Group commits of db (on), or back to a sync per commit (off: syncs what
 * waits first). */
fw_err
db_group(sqlite3 *db, int on)
{
	fw_err e = FW_OK;

	if (!on && db_group_db == db)
		e = db_sync(db);
	if ((on || db_group_db == db) && db_exec(db, on ? "PRAGMA synchronous=NORMAL"
	    : "PRAGMA synchronous=FULL") != FW_OK) {
		log_warnx("database: cannot set synchronous: %s", fw_errmsg());
		on = 0;
	}
	sqlite3_commit_hook(db, on ? db_group_hook : NULL, NULL);
	db_group_db = on ? db : NULL;
	db_group_lazy = db_group_dirty = 0;
	return e;
}

int
db_unsynced(sqlite3 *db)
{
	return db == db_group_db && db_group_dirty;
}

/* Make every commit so far durable: one sync of the WAL, through SQLite's
 * own file object (the same sync synchronous=FULL does after a commit). */
fw_err
db_sync(sqlite3 *db)
{
	sqlite3_file *f = NULL;
	int rc;

	if (!db_unsynced(db))
		return FW_OK;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) !=
	    SQLITE_OK)
		return fw_seterr(FW_ERR_IO, "database: no WAL to sync");
	if (f != NULL && f->pMethods != NULL &&
	    (rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL)) != SQLITE_OK)
		return fw_seterr(rc == SQLITE_FULL ? FW_ERR_NOSPACE : FW_ERR_IO,
		    "database: WAL sync failed (%s)", sqlite3_errstr(rc));
	db_group_dirty = 0;
	return FW_OK;
}

void
db_lazy(sqlite3 *db, int lazy)
{
	if (db == db_group_db) {
		db_group_lazy = lazy;
		return;
	}
	if (db_exec(db, lazy ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL")
	    != FW_OK)
		log_warnx("database: cannot set synchronous=%s: %s", lazy ? "NORMAL" :
		    "FULL", fw_errmsg());
}

fw_err
db_commit(sqlite3 *db)
{
	fw_err e = db_run(db, "COMMIT", "");

	if (e != FW_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return e;
}

void
db_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Bind the arguments described by fmt, one letter each: 's' const char *
 * (NULL binds NULL), 'i' int64_t, 'b' const void * then size_t, 'n' NULL. */
static int
db_bindv(sqlite3_stmt *st, const char *fmt, va_list ap)
{
	int rc = SQLITE_OK, i = 1;

	for (const char *f = fmt; *f != '\0' && rc == SQLITE_OK; f++, i++) {
		if (*f == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT)
			    : sqlite3_bind_null(st, i);
		} else if (*f == 'i') {
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		} else if (*f == 'b') {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob64(st, i, p, n, SQLITE_TRANSIENT);
		} else {
			rc = sqlite3_bind_null(st, i);
		}
	}
	return rc;
}

/* Prepare sql with its arguments bound (see db_bindv); the caller steps
 * and finalizes. */
fw_err
db_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return db_error(db, "prepare");
	va_start(ap, fmt);
	rc = db_bindv(*st, fmt, ap);
	va_end(ap);
	if (rc != SQLITE_OK) {
		fw_err e = db_error(db, "bind");
		sqlite3_finalize(*st);
		*st = NULL;
		return e;
	}
	return FW_OK;
}

/*
 * db_run's statements, kept prepared between calls on one connection while
 * db_cache(db, 1) holds (the server's loop): parsing the same SQL for every
 * request was a tenth of the server's time.  Looked up by the SQL's
 * address (callers pass literals), confirmed by its text.  A kept
 * statement is reset and its bindings cleared after each use, so it holds
 * no lock and no caller's memory.  One thread only, as the loop is.
 */
#define DB_CACHE_SIZE 64

static struct db_cached {
	const char *sql;
	sqlite3_stmt *st;
} db_cached[DB_CACHE_SIZE];
static sqlite3 *db_cache_db;
static size_t db_cache_next;	/* the slot to reuse when all are taken */

/* Start keeping db_run's statements of db, or finalize every one kept
 * (before db is closed). */
void
db_cache(sqlite3 *db, int on)
{
	for (size_t i = 0; i < DB_CACHE_SIZE; i++) {
		sqlite3_finalize(db_cached[i].st);
		db_cached[i].st = NULL;
		db_cached[i].sql = NULL;
	}
	db_cache_next = 0;
	db_cache_db = on ? db : NULL;
}

/* A prepared statement for sql: a kept one (*kept = 1, reset after use)
 * or a new one the caller finalizes. */
static int
db_cache_get(sqlite3 *db, const char *sql, sqlite3_stmt **st, int *kept)
{
	struct db_cached *slot = NULL;
	int rc;

	*kept = 0;
	if (db != db_cache_db)
		return sqlite3_prepare_v2(db, sql, -1, st, NULL);
	for (size_t i = 0; i < DB_CACHE_SIZE && slot == NULL; i++)
		if (db_cached[i].sql == sql && db_cached[i].st != NULL &&
		    strcmp(sqlite3_sql(db_cached[i].st), sql) == 0)
			slot = &db_cached[i];
	if (slot != NULL) {
		*st = slot->st;
		*kept = 1;
		return SQLITE_OK;
	}
	if ((rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL)) != SQLITE_OK)
		return rc;
	slot = &db_cached[db_cache_next];
	db_cache_next = (db_cache_next + 1) % DB_CACHE_SIZE;
	sqlite3_finalize(slot->st);
	slot->sql = sql;
	slot->st = *st;
	*kept = 1;
	return SQLITE_OK;
}

/* Run a statement whose rows, if any, are not wanted. */
fw_err
db_run(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	va_list ap;
	fw_err e;

	va_start(ap, fmt);
	e = db_runv(db, sql, fmt, ap);
	va_end(ap);
	return e;
}

/* db_run with its arguments as a va_list, which the caller ends. */
fw_err
db_runv(sqlite3 *db, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc, kept;

	if (db_cache_get(db, sql, &st, &kept) != SQLITE_OK)
		return db_error(db, "prepare");
	rc = db_bindv(st, fmt, ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	e = rc == SQLITE_DONE || rc == SQLITE_ROW ? FW_OK : db_error(db, "step");
	if (kept) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else
		sqlite3_finalize(st);
	return e;
}

/*
 * store.c: the agent's data folder (agent.h, "store.c").
 *
 * Everything the device keeps goes through here.  The database (agent.db,
 * SQLite in WAL mode with synchronous=FULL, so that a commit is on the disk
 * when it returns) holds the enrollment facts, the observations and the
 * index of their evidence, the sealed bundles, the receipts and the
 * downlink.  Evidence never sits here in the clear: each file is streamed
 * through age_enc to the office's key into tmp/<random> (one 64 KiB
 * buffer), fsync'd, renamed to tmp/<sha256 of the age file>, the folder
 * fsync'd; then the row that names it is committed, and only then is it
 * renamed to blobs/<sha256>.  A crash at any instant leaves either the
 * whole capture or no row at all: agent_open moves a tmp/<sha256> that a
 * row names on to blobs/ and deletes the other stale files of tmp/.  So
 * blobs/ holds no file without a row, and opening the store never walks
 * it.  A purge commits the names of the blobs it frees to the `doomed`
 * table before it deletes their files, and agent_open finishes a purge
 * that a crash cut short.
 *
 * Several processes share the folder (the daemon, the subcommands).  SQLite
 * serializes the writers (BEGIN IMMEDIATE, a busy timeout); a blob or
 * temporary file is flock'd by its writer until its row is committed, and
 * the clean-up at start-up skips anything locked or younger than a minute,
 * so that it never deletes a file another process is still writing.
 *
 * Life of an observation: CAPTURED (evidence may be added) -> SEALED (in a
 * bundle, prev and hash fixed) -> RECEIPTED (a verified receipt names it)
 * -> PURGED (text and evidence gone after the retention time).  The hash of
 * every sealed observation is kept, so the chain continues after a purge.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "agent.h"

#define STORE_SCHEMA		2
#define STORE_IO_BUF		(64u << 10)
#define STORE_BUSY_MS		15000
#define STORE_PATH_MAX		4096
#define STORE_MAX_PLAIN		(UINT64_C(1) << 32)	/* evidence "size" */
#define STORE_SCAN_MAX		1000000	/* folder entries a clean-up looks at */
#define STORE_STALE_SECS	60	/* younger files may be in use */
#define STORE_PURGE_BATCH	64
#define STORE_FEED_MAX		(1u << 20)	/* one downlink message */
#define STORE_TAXONOMY_MAX	(1u << 20)	/* taxonomy JSON */
#define STORE_TAXONOMY_N	4096	/* categories in a taxonomy */
#define STORE_CA_MAX		(1u << 20)
#define STORE_MANIFEST_SLACK	4096	/* manifest bytes besides observations */
#define STORE_SEAL_TRIES	10	/* halvings of a bundle that is too big */
#define STORE_EINTR_MAX		1000
#define STORE_KEY_WIPE_MAX	(64u << 10)
#define STORE_BLOBS_MAX		(FW_MAX_OBSERVATIONS * FW_MAX_EVIDENCE)

/* The columns obs_from_row reads, in its order. */
#define OBS_COLS "seq, id, captured, status, place_text, lat_e7, lon_e7," \
	" accuracy_m, subject_kind, subject_name, institution, categories," \
	" what, severity, task, prev, hash, bundle_seq, receipted, purged," \
	" boot_id, mono, supplements"

/* Schema 1 -> 2: an observation may add evidence to an earlier one, and
 * the office's refusal of one is kept with it. */
static const char store_sql_upgrade_1[] =
    "ALTER TABLE obs ADD COLUMN supplements TEXT;"
    "ALTER TABLE obs ADD COLUMN refusal TEXT;"
    "CREATE TABLE IF NOT EXISTS doomed (blob TEXT PRIMARY KEY) WITHOUT ROWID;";

static const char store_sql_schema[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS bundles ("
    "  seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
    "  id TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL,"
    "  nobs INTEGER NOT NULL,"
    "  blob_bytes INTEGER NOT NULL,"
    "  container BLOB NOT NULL,"
    "  receipt BLOB,"
    "  receipted INTEGER);"
    "CREATE TABLE IF NOT EXISTS obs ("
    "  seq INTEGER PRIMARY KEY CHECK (seq >= 1),"
    "  id TEXT NOT NULL UNIQUE,"
    "  captured INTEGER NOT NULL,"
    "  boot_id TEXT,"
    "  mono INTEGER,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  place_text TEXT, lat_e7 INTEGER, lon_e7 INTEGER, accuracy_m INTEGER,"
    "  subject_kind INTEGER, subject_name TEXT, institution TEXT,"
    "  categories TEXT, what TEXT, severity INTEGER NOT NULL DEFAULT 0,"
    "  task TEXT,"
    "  prev TEXT, hash TEXT,"
    "  supplements TEXT, refusal TEXT,"
    "  bundle_seq INTEGER REFERENCES bundles(seq),"
    "  receipted INTEGER, purged INTEGER);"
    "CREATE INDEX IF NOT EXISTS obs_status ON obs(status, seq);"
    "CREATE INDEX IF NOT EXISTS obs_bundle ON obs(bundle_seq);"
    "CREATE TABLE IF NOT EXISTS evidence ("
    "  obs_seq INTEGER NOT NULL REFERENCES obs(seq),"
    "  idx INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL, media_type TEXT NOT NULL,"
    "  size INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    "  blob TEXT NOT NULL, blob_size INTEGER NOT NULL,"
    "  captured INTEGER NOT NULL,"
    "  PRIMARY KEY (obs_seq, idx));"
    "CREATE INDEX IF NOT EXISTS evidence_blob ON evidence(blob);"
    "CREATE TABLE IF NOT EXISTS doomed (blob TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS feed ("
    "  cursor INTEGER PRIMARY KEY CHECK (cursor >= 1),"
    "  kind TEXT NOT NULL, ref TEXT, message TEXT NOT NULL,"
    "  received INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS feed_kind ON feed(kind, cursor);"
    "CREATE TABLE IF NOT EXISTS tasks_done ("
    "  task TEXT PRIMARY KEY, obs TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS conflicts ("
    "  norm TEXT PRIMARY KEY, subject TEXT NOT NULL, reason TEXT,"
    "  added INTEGER NOT NULL);";

/* ---- small helpers ------------------------------------------------------ */

static char *
path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p;

	if ((p = malloc(n)) == NULL)
		return NULL;
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static fw_err
path_fmt(char *out, size_t outsz, const char *dir, const char *sub,
    const char *name)
{
	int n = snprintf(out, outsz, "%s/%s/%s", dir, sub, name);

	if (n < 0 || (size_t)n >= outsz)
		return fw_seterr(FW_ERR_LIMIT, "store: path under %s too long", dir);
	return FW_OK;
}

static fw_err
random_hex(char *out, size_t nbytes)
{
	uint8_t r[32];

	if (nbytes > sizeof r || RAND_bytes(r, (int)nbytes) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "store: no random bytes");
	hex_encode(r, nbytes, out);
	return FW_OK;
}

static char *
xstrdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

/* ---- SQLite ------------------------------------------------------------- */

static fw_err
db_err(struct agent *a, int rc, const char *what)
{
	int sys = sqlite3_system_errno(a->db);

	if (rc == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT)
		return fw_seterr(FW_ERR_NOSPACE,
		    "%s: database: no space left on the device", what);
	if (rc == SQLITE_NOMEM)
		return fw_seterr(FW_ERR_NOMEM, "%s: database: out of memory", what);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return fw_seterr(FW_ERR_UNAVAILABLE,
		    "%s: database busy (another fundwatch-agent holds it); retry",
		    what);
	return fw_seterr(FW_ERR_IO, "%s: database: %s", what,
	    sqlite3_errmsg(a->db));
}

static fw_err
db_exec(struct agent *a, const char *sql, const char *what)
{
	int rc = sqlite3_exec(a->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? FW_OK : db_err(a, rc, what);
}

static fw_err
db_prep(struct agent *a, const char *sql, sqlite3_stmt **st, const char *what)
{
	int rc = sqlite3_prepare_v2(a->db, sql, -1, st, NULL);

	if (rc != SQLITE_OK) {
		*st = NULL;
		return db_err(a, rc, what);
	}
	return FW_OK;
}

/* Step a statement that returns no row. */
static fw_err
db_done(struct agent *a, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_err(a, rc, what);
	return FW_OK;
}

/* End a loop over the rows of st that stopped at rc, or on its own error
 * e: e, else the step's error unless the rows ran out; st is finalized. */
static fw_err
db_rows_done(struct agent *a, sqlite3_stmt *st, int rc, fw_err e,
    const char *what)
{
	if (e == FW_OK && rc != SQLITE_DONE)
		e = db_err(a, rc, what);
	sqlite3_finalize(st);
	return e;
}

static fw_err
db_begin(struct agent *a, const char *what)
{
	return db_exec(a, "BEGIN IMMEDIATE", what);
}

static fw_err
db_commit(struct agent *a, const char *what)
{
	return db_exec(a, "COMMIT", what);
}

static void
db_rollback(struct agent *a)
{
	if (!sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t == NULL ? NULL : (const char *)t;
}

/* One integer from a query with up to one text parameter; def if no row. */
static fw_err
db_int(struct agent *a, const char *sql, const char *arg, int64_t def,
    int64_t *out, const char *what)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	*out = def;
	if ((e = db_prep(a, sql, &st, what)) != FW_OK)
		return e;
	if (arg != NULL)
		bind_text(st, 1, arg);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			*out = sqlite3_column_int64(st, 0);
	} else if (rc != SQLITE_DONE)
		e = db_err(a, rc, what);
	sqlite3_finalize(st);
	return e;
}

/* ---- meta: key/value facts ---------------------------------------------- */

/* Run sql with ?1 = key and ?2 = text or *num, whichever is given (an
 * unbound ?2 is NULL). */
static fw_err
meta_exec(struct agent *a, const char *sql, const char *key,
    const char *text, const int64_t *num)
{
	sqlite3_stmt *st;
	fw_err e;

	if ((e = db_prep(a, sql, &st, "store")) != FW_OK)
		return e;
	bind_text(st, 1, key);
	if (num != NULL)
		sqlite3_bind_int64(st, 2, *num);
	else if (text != NULL)
		bind_text(st, 2, text);
	e = db_done(a, st, key);
	sqlite3_finalize(st);
	return e;
}

#define META_SET_SQL	"INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"

static fw_err
meta_set(struct agent *a, const char *key, const char *val)
{
	return meta_exec(a, META_SET_SQL, key, val, NULL);
}

static fw_err
meta_set_int(struct agent *a, const char *key, int64_t v)
{
	return meta_exec(a, META_SET_SQL, key, NULL, &v);
}

static fw_err
meta_del(struct agent *a, const char *key)
{
	return meta_exec(a, "DELETE FROM meta WHERE key = ?1", key, NULL, NULL);
}

/* *out is malloc'd; FW_ERR_NOT_FOUND if the key is absent. */
static fw_err
meta_get(struct agent *a, const char *key, char **out)
{
	sqlite3_stmt *st;
	const char *v;
	fw_err e;
	int rc;

	*out = NULL;
	if ((e = db_prep(a, "SELECT value FROM meta WHERE key = ?1", &st,
	    "store")) != FW_OK)
		return e;
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (v = col_text(st, 0)) != NULL) {
		if ((*out = strdup(v)) == NULL)
			e = fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		e = FW_ERR_NOT_FOUND;
	else
		e = db_err(a, rc, key);
	sqlite3_finalize(st);
	return e;
}

static int64_t
meta_int(struct agent *a, const char *key, int64_t def)
{
	int64_t v;

	if (db_int(a, "SELECT value FROM meta WHERE key = ?1", key, def, &v,
	    key) != FW_OK)
		return def;
	return v;
}

/* ---- opening ------------------------------------------------------------ */

/* Open (create, upgrade) agent.db; *upgraded says a store of an older
 * schema was upgraded. */
static fw_err
db_open(struct agent *a, int *upgraded)
{
	char *path;
	int64_t schema;
	fw_err e;
	int rc;

	if ((path = path_join(a->datadir, "agent.db")) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	rc = sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	free(path);
	if (rc != SQLITE_OK) {
		e = fw_seterr(rc == SQLITE_FULL ? FW_ERR_NOSPACE : FW_ERR_IO,
		    "store: cannot open %s/agent.db: %s", a->datadir,
		    a->db != NULL ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
		return e;
	}
	sqlite3_busy_timeout(a->db, STORE_BUSY_MS);
	sqlite3_extended_result_codes(a->db, 0);
	/* WAL + FULL: a commit's WAL frames are fsync'd before COMMIT
	 * returns, which is what "a capture that printed its id is on disk"
	 * needs. */
	if ((e = db_exec(a, "PRAGMA journal_mode=WAL", "store: WAL")) != FW_OK ||
	    (e = db_exec(a, "PRAGMA synchronous=FULL", "store")) != FW_OK ||
	    (e = db_exec(a, "PRAGMA foreign_keys=ON", "store")) != FW_OK ||
	    (e = db_exec(a, "PRAGMA secure_delete=ON", "store")) != FW_OK)
		return e;
	if ((e = db_int(a, "SELECT value FROM meta WHERE key = 'schema'", NULL,
	    0, &schema, "store")) != FW_OK) {
		/* No meta table yet: a new database. */
		schema = 0;
	}
	if (schema > STORE_SCHEMA)
		return fw_seterr(FW_ERR_CONFIG,
		    "store: %s/agent.db has schema %lld, this agent knows %d "
		    "(a newer fundwatch-agent made it)", a->datadir,
		    (long long)schema, STORE_SCHEMA);
	*upgraded = schema > 0 && schema < STORE_SCHEMA;
	if (schema == STORE_SCHEMA)
		return FW_OK;
	if ((e = db_begin(a, "store: schema")) != FW_OK)
		return e;
	if ((e = db_exec(a, schema == 0 ? store_sql_schema :
	    store_sql_upgrade_1, "store: schema")) != FW_OK ||
	    (e = meta_set_int(a, "schema", STORE_SCHEMA)) != FW_OK ||
	    (e = db_commit(a, "store: schema")) != FW_OK) {
		db_rollback(a);
		return e;
	}
	/* The new database file's name must survive a power cut too. */
	return file_fsync_dir(a->datadir);
}

/* True if path is a regular file no process holds and older than a
 * minute: then it may be removed.  On FW_OK with *fd >= 0 the caller holds
 * the lock and closes fd after deciding. */
static int
stale_locked(const char *path, time_t now, int *fd)
{
	struct stat st;

	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (*fd == -1)
		return 0;
	if (fstat(*fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    now - st.st_mtime < STORE_STALE_SECS ||
	    flock(*fd, LOCK_EX | LOCK_NB) == -1) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	return 1;
}

/* Call fn for each entry of DATADIR/sub but "." and "..", with its name and
 * path (bounded by STORE_SCAN_MAX). */
static void
walk_folder(struct agent *a, const char *sub,
    void (*fn)(struct agent *, const char *, const char *, void *), void *ctx)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	size_t seen = 0;
	DIR *d;

	if (path_fmt(path, sizeof path, a->datadir, sub, "") != FW_OK ||
	    (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && seen++ < STORE_SCAN_MAX)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    path_fmt(path, sizeof path, a->datadir, sub, de->d_name) == FW_OK)
			fn(a, de->d_name, path, ctx);
	closedir(d);
}

/* 1 if name is a blob's name that an evidence row names, 0 if not, -1 if
 * it is not a blob's name or the database cannot tell. */
static int
blob_named(struct agent *a, const char *name)
{
	int64_t named;

	if (strlen(name) != SHA256_HEX || !hex_is_lower(name, SHA256_HEX) ||
	    db_int(a, "SELECT COUNT(*) FROM evidence WHERE blob = ?1", name, 1,
	    &named, "store: clean-up") != FW_OK)
		return -1;
	return named > 0;
}

/* Finish what writers that died (kill -9, power cut) left in tmp/: a
 * blob whose row was committed goes on to blobs/ (its writer may still be
 * about to do it: both renames are harmless), any other file is deleted
 * once no one holds it and it is a minute old. */
static void
clean_tmp_one(struct agent *a, const char *name, const char *path, void *ctx)
{
	char dst[STORE_PATH_MAX];
	size_t *moved = ctx;
	int fd;

	if (blob_named(a, name) == 1) {
		if (path_fmt(dst, sizeof dst, a->datadir, "blobs", name) == FW_OK &&
		    rename(path, dst) == 0) {
			log_info("store: blob %s moved in after a crash", name);
			(*moved)++;
		}
		return;
	}
	if (!stale_locked(path, time(NULL), &fd))
		return;
	if (unlink(path) == 0)
		log_debug("store: removed the stale temporary file %s", name);
	close(fd);
}

static void
clean_tmp(struct agent *a)
{
	char blobs[STORE_PATH_MAX];
	size_t moved = 0;

	walk_folder(a, "tmp", clean_tmp_one, &moved);
	if (moved > 0 && path_fmt(blobs, sizeof blobs, a->datadir, "blobs",
	    "") == FW_OK && file_fsync_dir(blobs) != FW_OK)
		log_warnx("store: %s", fw_errmsg());
}

/* Remove blob files that no evidence row names.  A store of schema 1 left
 * them after a crash between a blob's rename and its row's commit; this
 * walk of blobs/ runs once, when such a store is upgraded. */
static void
clean_orphan(struct agent *a, const char *name, const char *path, void *ctx)
{
	int fd;

	(void)ctx;
	if (strlen(name) != SHA256_HEX || !stale_locked(path, time(NULL), &fd))
		return;
	/* Checked while holding the lock: a writer keeps its lock until its
	 * row is committed, so a row is seen here. */
	if (blob_named(a, name) == 0 && unlink(path) == 0)
		log_info("store: removed the orphan blob %s", name);
	close(fd);
}

/* Delete the blob files a committed purge freed (the doomed table), then
 * forget their names: at the end of each purge, and at agent_open after a
 * crash cut one short.  A blob a row names again is left alone. */
static fw_err
doomed_flush(struct agent *a)
{
	char (*blobs)[SHA256_HEX + 1];
	char path[STORE_PATH_MAX];
	sqlite3_stmt *st;
	size_t nb = 0, i;
	int64_t any;
	fw_err e;
	int rc;

	if ((e = db_int(a, "SELECT EXISTS (SELECT 1 FROM doomed)", NULL, 0, &any,
	    "purge")) != FW_OK || !any)
		return e;
	if ((e = db_prep(a, "SELECT d.blob FROM doomed d WHERE NOT EXISTS (SELECT"
	    " 1 FROM evidence e WHERE e.blob = d.blob) LIMIT ?1", &st,
	    "purge")) != FW_OK)
		return e;
	sqlite3_bind_int(st, 1, STORE_PURGE_BATCH * FW_MAX_EVIDENCE);
	if ((blobs = calloc(STORE_PURGE_BATCH * FW_MAX_EVIDENCE,
	    sizeof *blobs)) == NULL) {
		sqlite3_finalize(st);
		return fw_seterr(FW_ERR_NOMEM, "purge: out of memory");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    nb < STORE_PURGE_BATCH * FW_MAX_EVIDENCE)
		snprintf(blobs[nb++], SHA256_HEX + 1, "%s", col_text(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(blobs);
		return db_err(a, rc, "purge");
	}
	for (i = 0; i < nb; i++) {
		if (path_fmt(path, sizeof path, a->datadir, "blobs",
		    blobs[i]) != FW_OK)
			continue;
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("purge: %s", path);
	}
	/* The files are gone for good before their names are. */
	if (nb > 0 && (e = file_fsync_dir(path)) == FW_OK &&
	    (e = db_begin(a, "purge")) == FW_OK) {
		if ((e = db_prep(a, "DELETE FROM doomed WHERE blob = ?1", &st,
		    "purge")) == FW_OK) {
			for (i = 0; i < nb && e == FW_OK; i++) {
				sqlite3_reset(st);
				bind_text(st, 1, blobs[i]);
				e = db_done(a, st, "purge");
			}
			sqlite3_finalize(st);
		}
		if (e == FW_OK)
			e = db_commit(a, "purge");
		if (e != FW_OK)
			db_rollback(a);
	}
	free(blobs);
	return e;
}

static void
enrollment_clear(struct agent *a)
{
	a->enrolled = a->revoked = 0;
	a->device_id[0] = '\0';
	free(a->supervisor);
	free(a->server_url);
	free(a->profile);
	a->supervisor = a->server_url = a->profile = NULL;
	ed25519_free(a->key);
	ed25519_free(a->receipt_key);
	a->key = a->receipt_key = NULL;
	a->key_err = FW_OK;
	memset(a->office_recipient, 0, sizeof a->office_recipient);
	a->office_recipient_str[0] = '\0';
	memset(a->receipt_pub, 0, sizeof a->receipt_pub);
	a->chunk_size = a->cfg.chunk_size;
}

static fw_err
load_key(struct agent *a)
{
	char id[ED25519_DEVICE_ID_LEN + 1];
	fw_err e;

	ed25519_free(a->key);
	a->key = NULL;
	if ((e = ed25519_load_private(a->key_path, &a->key)) == FW_OK &&
	    (e = ed25519_device_id(a->key, id)) == FW_OK &&
	    strcmp(id, a->device_id) != 0)
		e = fw_seterr(FW_ERR_KEY, "store: %s is the key of device %s, "
		    "this device is enrolled as %s", a->key_path, id,
		    a->device_id);
	if (e != FW_OK) {
		ed25519_free(a->key);
		a->key = NULL;
	}
	return e;
}

/* Load what enrollment recorded into a; not enrolled is not an error. */
static fw_err
load_enrollment(struct agent *a)
{
	char *dev = NULL, *rcpt = NULL, *rkey = NULL;
	fw_err e;

	enrollment_clear(a);
	e = meta_get(a, "device_id", &dev);
	if (e == FW_ERR_NOT_FOUND) {
		e = FW_OK;
		goto url;
	}
	if (e != FW_OK)
		return e;
	if (strlen(dev) != ED25519_DEVICE_ID_LEN ||
	    !hex_is_lower(dev, ED25519_DEVICE_ID_LEN)) {
		e = fw_seterr(FW_ERR_CONFIG, "store: stored device id is malformed");
		goto out;
	}
	memcpy(a->device_id, dev, ED25519_DEVICE_ID_LEN + 1);
	if ((e = meta_get(a, "office_recipient", &rcpt)) != FW_OK ||
	    (e = meta_get(a, "receipt_key", &rkey)) != FW_OK) {
		e = fw_seterr(FW_ERR_CONFIG, "store: enrollment record incomplete "
		    "(run `fundwatch-agent enroll --force`)");
		goto out;
	}
	if ((e = age_recipient_parse(rcpt, a->office_recipient)) != FW_OK ||
	    (e = hex_decode(rkey, strlen(rkey), a->receipt_pub,
	    ED25519_PUB_LEN)) != FW_OK ||
	    (e = ed25519_from_public(a->receipt_pub, &a->receipt_key)) != FW_OK) {
		e = fw_errctx(FW_ERR_CONFIG, "store: stored enrollment");
		goto out;
	}
	snprintf(a->office_recipient_str, sizeof a->office_recipient_str,
	    "%s", rcpt);
	(void)meta_get(a, "supervisor", &a->supervisor);
	(void)meta_get(a, "profile", &a->profile);
	(void)meta_get(a, "server_url", &a->server_url);
	a->chunk_size = (uint64_t)meta_int(a, "chunk_size", 0);
	if (a->chunk_size == 0 || a->chunk_size > a->cfg.chunk_size)
		a->chunk_size = a->cfg.chunk_size;
	a->revoked = meta_int(a, "revoked", 0) != 0;
	a->enrolled = 1;
	if (!a->revoked && (a->key_err = load_key(a)) != FW_OK)
		log_warnx("%s", fw_errmsg());
url:
	if (a->cfg.server_url != NULL && a->cfg.server_url[0] != '\0') {
		free(a->server_url);
		if ((a->server_url = strdup(a->cfg.server_url)) == NULL)
			e = fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	}
out:
	free(dev);
	free(rcpt);
	free(rkey);
	return e;
}

/* Make the folder dir/name if it is absent. */
static fw_err
mkdir_sub(const char *dir, const char *name)
{
	char *p;
	fw_err e;

	if ((p = path_join(dir, name)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	e = file_mkdirs(p, 0700);
	free(p);
	return e;
}

fw_err
agent_open(const char *datadir, const struct agent_config *cfg,
    struct agent **out)
{
	struct agent *a;
	int upgraded = 0;
	fw_err e;

	*out = NULL;
	if (datadir == NULL || *datadir == '\0')
		return fw_seterr(FW_ERR_INVALID, "store: no data folder given");
	if ((a = calloc(1, sizeof *a)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	e = cfg != NULL ? config_copy(&a->cfg, cfg) : config_defaults(&a->cfg);
	if (e != FW_OK) {
		free(a);
		return e;
	}
	a->chunk_size = a->cfg.chunk_size;
	a->datadir = strdup(datadir);
	a->key_path = path_join(datadir, "device.key");
	a->ca_path = path_join(datadir, "ca.pem");
	a->sock_path = path_join(datadir, "run.sock");
	if (a->datadir == NULL || a->key_path == NULL || a->ca_path == NULL ||
	    a->sock_path == NULL) {
		e = fw_seterr(FW_ERR_NOMEM, "store: out of memory");
		goto fail;
	}
	if ((e = file_mkdirs(datadir, 0700)) != FW_OK) {
		fw_errctx(e, "store: data folder");
		goto fail;
	}
	if ((e = mkdir_sub(datadir, "blobs")) != FW_OK ||
	    (e = mkdir_sub(datadir, "tmp")) != FW_OK ||
	    (e = db_open(a, &upgraded)) != FW_OK)
		goto fail;
	clean_tmp(a);
	if (upgraded)
		walk_folder(a, "blobs", clean_orphan, NULL);
	if (doomed_flush(a) != FW_OK)
		log_warnx("store: %s", fw_errmsg());
	if ((e = load_enrollment(a)) != FW_OK)
		goto fail;
	*out = a;
	return FW_OK;
fail:
	agent_close(a);
	return e;
}

void
agent_close(struct agent *a)
{
	if (a == NULL)
		return;
	enrollment_clear(a);
	if (a->db != NULL)
		sqlite3_close(a->db);
	config_free(&a->cfg);
	free(a->datadir);
	free(a->key_path);
	free(a->ca_path);
	free(a->sock_path);
	free(a);
}

/* ---- enrollment, key, revocation ----------------------------------------- */

static int
code_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= FW_MAX_CODE)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* Check a taxonomy array and dump it canonically into out. */
static fw_err
taxonomy_check(const char *json, size_t len, struct buf *out)
{
	const char *s;
	json_t *root, *it;
	size_t i;
	char w[64];
	fw_err e;

	if (json == NULL || len == 0)
		return fw_seterr(FW_ERR_FIELD_MISSING, "enroll: no taxonomy");
	if (len > STORE_TAXONOMY_MAX)
		return fw_seterr(FW_ERR_LIMIT, "enroll: taxonomy of %zu bytes, "
		    "at most %u", len, STORE_TAXONOMY_MAX);
	if ((e = jsonx_load(json, len, &root)) != FW_OK)
		return fw_errctx(e, "enroll: taxonomy");
	if (!json_is_array(root) || json_array_size(root) == 0 ||
	    json_array_size(root) > STORE_TAXONOMY_N) {
		json_decref(root);
		return fw_seterr(FW_ERR_FIELD_VALUE, "enroll: taxonomy is not an "
		    "array of 1..%d categories", STORE_TAXONOMY_N);
	}
	for (i = 0; i < json_array_size(root) &&
	    (it = json_array_get(root, i)) != NULL; i++) {
		snprintf(w, sizeof w, "taxonomy[%zu]", i);
		if (!json_is_object(it)) {
			e = fw_seterr(FW_ERR_FIELD_TYPE, "enroll: %s is not an object", w);
			break;
		}
		if ((e = jsonx_get_str(it, "code", 0, 0, 1, FW_MAX_CODE, &s,
		    w)) != FW_OK)
			break;
		if (!code_valid(s)) {
			e = fw_seterr(FW_ERR_FIELD_VALUE, "enroll: %s: code '%s' "
			    "is not 1-32 of A-Z a-z 0-9 . _ -", w, s);
			break;
		}
		if ((e = jsonx_get_str(it, "zh", 1, 1, 0, 1024, &s, w)) != FW_OK ||
		    (e = jsonx_get_str(it, "en", 1, 1, 0, 1024, &s, w)) != FW_OK)
			break;
	}
	if (e == FW_OK)
		e = jsonx_dump_canonical(root, out);
	json_decref(root);
	return e;
}

fw_err
store_enroll_save(struct agent *a, const struct store_enrollment *en)
{
	uint8_t rcpt[AGE_KEY_LEN];
	struct ed25519_key *rk = NULL;
	char hexkey[2 * ED25519_PUB_LEN + 1];
	struct buf tax;
	fw_err e;

	if (en == NULL || en->device_id == NULL || en->office_recipient == NULL ||
	    en->receipt_key == NULL || en->server_url == NULL)
		return fw_seterr(FW_ERR_INVALID, "enroll: incomplete enrollment");
	if (strlen(en->device_id) != ED25519_DEVICE_ID_LEN ||
	    !hex_is_lower(en->device_id, ED25519_DEVICE_ID_LEN))
		return fw_seterr(FW_ERR_FIELD_VALUE, "enroll: device id '%.40s' "
		    "is not 32 lowercase hex", en->device_id);
	if ((e = age_recipient_parse(en->office_recipient, rcpt)) != FW_OK)
		return fw_errctx(e, "enroll: office_recipient");
	if ((e = ed25519_from_public(en->receipt_key, &rk)) != FW_OK)
		return fw_errctx(e, "enroll: receipt_key");
	ed25519_free(rk);
	if (en->ca_len > STORE_CA_MAX)
		return fw_seterr(FW_ERR_LIMIT, "enroll: CA of %zu bytes", en->ca_len);
	buf_init(&tax, STORE_TAXONOMY_MAX);
	if ((e = taxonomy_check(en->taxonomy_json, en->taxonomy_len,
	    &tax)) != FW_OK)
		goto out;
	/* The key first: a record naming a device whose key is not here
	 * would seal nothing. */
	{
		char saved[ED25519_DEVICE_ID_LEN + 1];

		memcpy(saved, a->device_id, sizeof saved);
		memcpy(a->device_id, en->device_id, sizeof a->device_id);
		e = load_key(a);
		if (e != FW_OK) {
			memcpy(a->device_id, saved, sizeof saved);
			fw_errctx(e, "enroll");
			goto out;
		}
	}
	/* No CA given: the one pinned before stays. */
	if (en->ca_pem != NULL && (e = file_write_durable(a->ca_path, en->ca_pem,
	    en->ca_len, 0644)) != FW_OK)
		goto out;
	hex_encode(en->receipt_key, ED25519_PUB_LEN, hexkey);
	if ((e = db_begin(a, "enroll")) != FW_OK)
		goto out;
	if ((e = meta_set(a, "device_id", en->device_id)) != FW_OK ||
	    (e = meta_set(a, "supervisor", en->supervisor)) != FW_OK ||
	    (e = meta_set(a, "server_url", en->server_url)) != FW_OK ||
	    (e = meta_set(a, "office_recipient", en->office_recipient)) != FW_OK ||
	    (e = meta_set(a, "receipt_key", hexkey)) != FW_OK ||
	    (e = meta_set(a, "profile", en->profile)) != FW_OK ||
	    (e = meta_set(a, "taxonomy", (const char *)tax.data)) != FW_OK ||
	    (e = meta_set_int(a, "chunk_size", (int64_t)en->chunk_size)) != FW_OK ||
	    (e = meta_set_int(a, "enrolled_at", (int64_t)time(NULL))) != FW_OK ||
	    (e = meta_del(a, "revoked")) != FW_OK ||
	    (e = meta_del(a, "revoked_at")) != FW_OK ||
	    (e = meta_del(a, "revoked_reason")) != FW_OK ||
	    (en->server_time > 0 && (e = meta_set_int(a, "clock_offset",
	    en->server_time - (int64_t)time(NULL))) != FW_OK) ||
	    (e = db_commit(a, "enroll")) != FW_OK) {
		db_rollback(a);
		goto out;
	}
	e = load_enrollment(a);
out:
	buf_free(&tax);
	return e;
}

fw_err
store_key_destroy(struct agent *a)
{
	uint8_t zero[512];
	struct stat st;
	off_t left;
	fw_err e = FW_OK;
	int fd;

	ed25519_free(a->key);
	a->key = NULL;
	fd = open(a->key_path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		if (errno == ENOENT)
			return FW_OK;
		return file_errno(errno, a->key_path);
	}
	/* Overwrite in place before unlinking, so that the blocks that held
	 * the key do not simply go back to the free list. */
	memset(zero, 0, sizeof zero);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		left = st.st_size > (off_t)STORE_KEY_WIPE_MAX ?
		    (off_t)STORE_KEY_WIPE_MAX : st.st_size;
		while (left > 0 && e == FW_OK) {
			size_t n = left > (off_t)sizeof zero ? sizeof zero :
			    (size_t)left;

			e = file_write_all(fd, zero, n, a->key_path);
			left -= (off_t)n;
		}
		if (e == FW_OK)
			e = file_fsync(fd, a->key_path);
	}
	close(fd);
	if (unlink(a->key_path) == -1 && errno != ENOENT)
		return file_errno(errno, a->key_path);
	if (e != FW_OK)
		log_warnx("store: wiping the key: %s", fw_errmsg());
	return file_fsync_dir(a->key_path);
}

fw_err
store_revoked(struct agent *a, const char *reason)
{
	fw_err e;

	/* Mark first: if the wipe fails the device still stops syncing. */
	if ((e = db_begin(a, "revocation")) != FW_OK)
		return e;
	if ((e = meta_set_int(a, "revoked", 1)) != FW_OK ||
	    (e = meta_set_int(a, "revoked_at", (int64_t)time(NULL))) != FW_OK ||
	    (e = meta_set(a, "revoked_reason", reason != NULL ? reason :
	    "")) != FW_OK ||
	    (e = db_commit(a, "revocation")) != FW_OK) {
		db_rollback(a);
		return e;
	}
	a->revoked = 1;
	a->key_err = FW_ERR_REVOKED;
	log_warnx("this device was revoked by the office; its key is destroyed");
	return store_key_destroy(a);
}

/* ---- taxonomy ------------------------------------------------------------ */

void
store_categories_free(struct store_category *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++) {
		free(c[i].zh);
		free(c[i].en);
	}
	free(c);
}

fw_err
store_categories(struct agent *a, struct store_category **out, size_t *n)
{
	struct store_category *c;
	const char *s;
	json_t *root, *it, *v;
	char *tax;
	size_t i;
	fw_err e;

	*out = NULL;
	*n = 0;
	if ((e = meta_get(a, "taxonomy", &tax)) == FW_ERR_NOT_FOUND)
		return fw_seterr(FW_ERR_NOT_FOUND, "this device is not enrolled: "
		    "no taxonomy (run `fundwatch-agent enroll`)");
	if (e != FW_OK)
		return e;
	e = jsonx_load(tax, strlen(tax), &root);
	free(tax);
	if (e != FW_OK)
		return fw_errctx(e, "store: stored taxonomy");
	if (!json_is_array(root) || json_array_size(root) > STORE_TAXONOMY_N) {
		json_decref(root);
		return fw_seterr(FW_ERR_CONFIG, "store: stored taxonomy is not an array");
	}
	if ((c = calloc(json_array_size(root) + 1, sizeof *c)) == NULL) {
		json_decref(root);
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	}
	for (i = 0; i < json_array_size(root) &&
	    (it = json_array_get(root, i)) != NULL; i++) {
		s = json_string_value(json_object_get(it, "code"));
		snprintf(c[i].code, sizeof c[i].code, "%s", s != NULL ? s : "");
		v = json_object_get(it, "zh");
		c[i].zh = strdup(json_is_string(v) ? json_string_value(v) : "");
		v = json_object_get(it, "en");
		c[i].en = strdup(json_is_string(v) ? json_string_value(v) : "");
		if (c[i].zh == NULL || c[i].en == NULL) {
			store_categories_free(c, i + 1);
			json_decref(root);
			return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
		}
	}
	*n = json_array_size(root);
	*out = c;
	json_decref(root);
	return FW_OK;
}

static fw_err
check_categories(struct agent *a, const struct fw_obs *o)
{
	struct store_category *c;
	size_t n, i, j;
	fw_err e;

	if ((e = store_categories(a, &c, &n)) != FW_OK)
		return e;
	for (i = 0; i < o->ncategories && e == FW_OK; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(c[j].code, o->categories[i]) == 0)
				break;
		if (j == n)
			e = fw_seterr(FW_ERR_FIELD_VALUE, "observe: --category "
			    "'%.40s' is not in the enrolled taxonomy (run "
			    "`fundwatch-agent categories`)", o->categories[i]);
	}
	store_categories_free(c, n);
	return e;
}

/* ---- conflicts of interest ----------------------------------------------- */

void
store_normalize(const char *s, char *out, size_t outsz)
{
	size_t o = 0;
	int space = 0;

	if (outsz == 0)
		return;
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\v' || c == '\f') {
			space = o > 0;
			continue;
		}
		if (space && o + 1 < outsz)
			out[o++] = ' ';
		space = 0;
		if (o + 1 >= outsz)
			break;
		out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
	}
	out[o] = '\0';
}

static fw_err
subject_text_ok(const char *what, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	char norm[FW_MAX_NAME + 1];

	if (n == 0 || n > FW_MAX_NAME)
		return fw_seterr(FW_ERR_FIELD_LENGTH, "%s: subject is %zu bytes, "
		    "expected 1..%d", what, n, FW_MAX_NAME);
	if (!jsonx_utf8_valid(s, n))
		return fw_seterr(FW_ERR_UTF8, "%s: subject is not valid UTF-8", what);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fw_seterr(FW_ERR_FIELD_VALUE, "%s: subject holds a "
			    "control character at byte %zu", what, i);
	store_normalize(s, norm, sizeof norm);
	if (norm[0] == '\0')
		return fw_seterr(FW_ERR_FIELD_LENGTH, "%s: subject is blank", what);
	return FW_OK;
}

fw_err
store_conflict_add(struct agent *a, const char *subject, const char *reason)
{
	char norm[FW_MAX_NAME + 1];
	sqlite3_stmt *st;
	size_t tlen;
	fw_err e;
	int rc;

	if ((e = subject_text_ok("conflicts add", subject)) != FW_OK)
		return e;
	if (reason != NULL && (strlen(reason) > FW_MAX_PLACE ||
	    !jsonx_utf8_valid(reason, strlen(reason))))
		return fw_seterr(FW_ERR_FIELD_LENGTH, "conflicts add: --reason is "
		    "not UTF-8 text of at most %d bytes", FW_MAX_PLACE);
	store_normalize(subject, norm, sizeof norm);
	/* Shown as given, less the blanks around it. */
	while (*subject == ' ' || *subject == '\t')
		subject++;
	tlen = strlen(subject);
	while (tlen > 0 && (subject[tlen - 1] == ' ' || subject[tlen - 1] == '\t'))
		tlen--;
	if ((e = db_prep(a, "INSERT INTO conflicts (norm, subject, reason, added) "
	    "VALUES (?1, ?2, ?3, ?4)", &st, "conflicts add")) != FW_OK)
		return e;
	bind_text(st, 1, norm);
	sqlite3_bind_text(st, 2, subject, (int)tlen, SQLITE_TRANSIENT);
	bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		e = fw_seterr(FW_ERR_EXISTS, "conflicts add: '%s' is already "
		    "declared", subject);
	else if (rc != SQLITE_DONE)
		e = db_err(a, rc, "conflicts add");
	sqlite3_finalize(st);
	return e;
}

fw_err
store_conflict_remove(struct agent *a, const char *subject)
{
	char norm[FW_MAX_NAME + 1];
	sqlite3_stmt *st;
	fw_err e;

	if ((e = subject_text_ok("conflicts remove", subject)) != FW_OK)
		return e;
	store_normalize(subject, norm, sizeof norm);
	if ((e = db_prep(a, "DELETE FROM conflicts WHERE norm = ?1", &st,
	    "conflicts remove")) != FW_OK)
		return e;
	bind_text(st, 1, norm);
	if ((e = db_done(a, st, "conflicts remove")) == FW_OK &&
	    sqlite3_changes(a->db) == 0)
		e = fw_seterr(FW_ERR_NOT_FOUND, "conflicts remove: no declared "
		    "conflict with '%s' (see `fundwatch-agent conflicts list`)",
		    subject);
	sqlite3_finalize(st);
	return e;
}

fw_err
store_conflict_list(struct agent *a, store_conflict_fn fn, void *ctx)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if ((e = db_prep(a, "SELECT subject, reason, added FROM conflicts "
	    "ORDER BY added, norm", &st, "conflicts")) != FW_OK)
		return e;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && e == FW_OK)
		e = fn(ctx, col_text(st, 0), col_text(st, 1),
		    sqlite3_column_int64(st, 2));
	if (e == FW_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = db_err(a, rc, "conflicts");
	sqlite3_finalize(st);
	return e;
}

fw_err
store_conflict_check(struct agent *a, const char *name, const char *institution)
{
	char n1[FW_MAX_NAME + 1], n2[FW_MAX_CODE + 1];
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	store_normalize(name, n1, sizeof n1);
	store_normalize(institution, n2, sizeof n2);
	if ((e = db_prep(a, "SELECT subject, reason FROM conflicts "
	    "WHERE norm = ?1 OR (?2 <> '' AND norm = ?2) LIMIT 1", &st,
	    "observe")) != FW_OK)
		return e;
	bind_text(st, 1, n1);
	bind_text(st, 2, n2);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *r = col_text(st, 1);

		e = fw_seterr(FW_ERR_POLICY, "observe: you declared a conflict of "
		    "interest with '%s'%s%s%s; a supervisor with a stake in the "
		    "subject must recuse (QY art 8(5), GP art 9(3)): leave it to "
		    "another supervisor, or remove the declaration with "
		    "`fundwatch-agent conflicts remove` if it no longer holds",
		    col_text(st, 0), r != NULL && *r != '\0' ? " (" : "",
		    r != NULL ? r : "", r != NULL && *r != '\0' ? ")" : "");
	} else if (rc != SQLITE_DONE)
		e = db_err(a, rc, "observe");
	sqlite3_finalize(st);
	return e;
}

/* ---- coordinates ---------------------------------------------------------- */

fw_err
store_parse_e7(const char *name, const char *s, int64_t limit_e7, int32_t *out)
{
	const char *p = s;
	int64_t ip = 0, frac = 0;
	int neg = 0, nint = 0, nfrac = 0, round = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 32)
		return fw_seterr(FW_ERR_FIELD_VALUE, "%s: '%.40s' is not a decimal "
		    "number of degrees (e.g. 23.6817)", name, s != NULL ? s : "");
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	for (; *p >= '0' && *p <= '9'; p++, nint++)
		if (nint < 4)
			ip = ip * 10 + (*p - '0');
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, nfrac++) {
			if (nfrac < 7)
				frac = frac * 10 + (*p - '0');
			else if (nfrac == 7)
				round = *p >= '5';
		}
		if (nfrac == 0)
			nint = 0;	/* "12." is refused below */
	}
	if (*p != '\0' || nint == 0)
		return fw_seterr(FW_ERR_FIELD_VALUE, "%s: '%s' is not a decimal "
		    "number of degrees (e.g. 23.6817)", name, s);
	if (nint > 4)
		return fw_seterr(FW_ERR_FIELD_RANGE, "%s: %s is out of range, "
		    "expected -%lld..%lld degrees", name, s,
		    (long long)(limit_e7 / 10000000), (long long)(limit_e7 / 10000000));
	for (int i = nfrac; i < 7; i++)
		frac *= 10;
	ip = ip * 10000000 + frac + round;
	if (ip > limit_e7)
		return fw_seterr(FW_ERR_FIELD_RANGE, "%s: %s is out of range, "
		    "expected -%lld..%lld degrees", name, s,
		    (long long)(limit_e7 / 10000000), (long long)(limit_e7 / 10000000));
	*out = (int32_t)(neg ? -ip : ip);
	return FW_OK;
}

/* ---- evidence: kinds and media types -------------------------------------- */

static const struct {
	const char *ext;
	int kind;
	const char *type;
} store_media[] = {
	{"jpg", FW_EV_PHOTO, "image/jpeg"},
	{"jpeg", FW_EV_PHOTO, "image/jpeg"},
	{"png", FW_EV_PHOTO, "image/png"},
	{"heic", FW_EV_PHOTO, "image/heic"},
	{"heif", FW_EV_PHOTO, "image/heif"},
	{"webp", FW_EV_PHOTO, "image/webp"},
	{"gif", FW_EV_PHOTO, "image/gif"},
	{"tif", FW_EV_PHOTO, "image/tiff"},
	{"tiff", FW_EV_PHOTO, "image/tiff"},
	{"mp4", FW_EV_VIDEO, "video/mp4"},
	{"mov", FW_EV_VIDEO, "video/quicktime"},
	{"3gp", FW_EV_VIDEO, "video/3gpp"},
	{"webm", FW_EV_VIDEO, "video/webm"},
	{"mkv", FW_EV_VIDEO, "video/x-matroska"},
	{"avi", FW_EV_VIDEO, "video/x-msvideo"},
	{"m4a", FW_EV_AUDIO, "audio/mp4"},
	{"mp3", FW_EV_AUDIO, "audio/mpeg"},
	{"amr", FW_EV_AUDIO, "audio/amr"},
	{"wav", FW_EV_AUDIO, "audio/wav"},
	{"ogg", FW_EV_AUDIO, "audio/ogg"},
	{"opus", FW_EV_AUDIO, "audio/ogg"},
	{"aac", FW_EV_AUDIO, "audio/aac"},
	{"flac", FW_EV_AUDIO, "audio/flac"},
	{"pdf", FW_EV_DOCUMENT, "application/pdf"},
	{"txt", FW_EV_DOCUMENT, "text/plain"},
	{"csv", FW_EV_DOCUMENT, "text/csv"},
	{"json", FW_EV_DOCUMENT, "application/json"},
	{"doc", FW_EV_DOCUMENT, "application/msword"},
	{"docx", FW_EV_DOCUMENT, "application/vnd.openxmlformats-"
	    "officedocument.wordprocessingml.document"},
	{"xls", FW_EV_DOCUMENT, "application/vnd.ms-excel"},
	{"xlsx", FW_EV_DOCUMENT, "application/vnd.openxmlformats-"
	    "officedocument.spreadsheetml.sheet"},
	{"odt", FW_EV_DOCUMENT, "application/vnd.oasis.opendocument.text"},
	{"zip", FW_EV_DOCUMENT, "application/zip"},
};
#define STORE_MEDIA_N (sizeof store_media / sizeof store_media[0])

static int
media_find(const char *path)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base != NULL ? base + 1 : path;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return -1;
	for (size_t i = 0; i < STORE_MEDIA_N; i++)
		if (strcasecmp(dot + 1, store_media[i].ext) == 0)
			return (int)i;
	return -1;
}

int
store_guess_kind(const char *path)
{
	int i = media_find(path);

	return i < 0 ? -1 : store_media[i].kind;
}

const char *
store_guess_media_type(const char *path)
{
	int i = media_find(path);

	return i < 0 ? "application/octet-stream" : store_media[i].type;
}

static int
media_type_valid(const char *s)
{
	size_t n = strlen(s), slash = 0;

	if (n < 3 || n > FW_MAX_MEDIA_TYPE)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/')
			slash++;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("!#$&^_.+-", c) != NULL))
			return 0;
	}
	return slash == 1 && s[0] != '/' && s[n - 1] != '/';
}

const char *
store_status_name(enum store_status s)
{
	switch (s) {
	case STORE_CAPTURED:
		return "captured";
	case STORE_SEALED:
		return "sealed";
	case STORE_RECEIPTED:
		return "receipted";
	case STORE_PURGED:
		return "purged";
	case STORE_REFUSED:
		return "refused";
	}
	return "unknown";
}

/* ---- blobs: streaming import ---------------------------------------------- */

/* A blob being made: the temporary file, then its final name.  fd stays
 * open and flock'd until the row naming it is committed (or it is
 * removed), so that no clean-up takes it for an orphan meanwhile. */
struct blob_tmp {
	char tmp[STORE_PATH_MAX];
	char path[STORE_PATH_MAX];
	int fd;
	struct fw_evidence ev;
	const char *src;
};

struct enc_sink {
	int fd;
	struct sha256 *h;
	uint64_t n;
	const char *what;
};

static fw_err
enc_write(void *ctx, const uint8_t *p, size_t n)
{
	struct enc_sink *s = ctx;
	fw_err e;

	if (n > FW_MAX_BLOB - s->n)
		return fw_seterr(FW_ERR_LIMIT, "attach: %s: encrypted file would "
		    "pass %llu bytes", s->what, (unsigned long long)FW_MAX_BLOB);
	if ((e = sha256_update(s->h, p, n)) != FW_OK ||
	    (e = file_write_all(s->fd, p, n, s->what)) != FW_OK)
		return e;
	s->n += n;
	return FW_OK;
}

/* Remove what a failed or unwanted blob left. */
static void
blob_drop(struct blob_tmp *bt)
{
	if (bt->fd != -1) {
		unlink(bt->tmp);
		close(bt->fd);
		bt->fd = -1;
	}
	free(bt->ev.media_type);
	bt->ev.media_type = NULL;
}

/* Its row is committed: into blobs/, and release the lock.  If the rename
 * is lost (a power cut before the folder reaches the disk), agent_open
 * finds the file in tmp/ under its name and moves it in. */
static void
blob_keep(struct blob_tmp *bt)
{
	if (bt->fd != -1) {
		if (rename(bt->tmp, bt->path) == -1 && errno != ENOENT)
			log_warn("store: %s stays in tmp/ until the next start",
			    bt->ev.blob);
		close(bt->fd);
	}
	bt->fd = -1;
	free(bt->ev.media_type);
	bt->ev.media_type = NULL;
}

static fw_err
read_some(int fd, uint8_t *p, size_t n, size_t *got, const char *what)
{
	ssize_t r;

	for (int i = 0; i < STORE_EINTR_MAX; i++) {
		r = read(fd, p, n);
		if (r >= 0) {
			*got = (size_t)r;
			return FW_OK;
		}
		if (errno != EINTR)
			return file_errno(errno, what);
	}
	return fw_seterr(FW_ERR_IO, "%s: read interrupted too often", what);
}

/* Encrypt the plaintext of in into bt->fd, hashing both sides. */
static fw_err
blob_pump(struct agent *a, int in, struct blob_tmp *bt, uint8_t *iobuf)
{
	struct enc_sink sink = {bt->fd, NULL, 0, bt->src};
	struct sha256 *ph = NULL;
	struct age_enc *enc = NULL;
	uint8_t dig[SHA256_LEN];
	uint64_t total = 0;
	size_t got = 0;
	fw_err e;

	if ((e = sha256_new(&sink.h)) != FW_OK || (e = sha256_new(&ph)) != FW_OK ||
	    (e = age_enc_new(&enc, a->office_recipient, enc_write, &sink)) != FW_OK)
		goto out;
	/* Each pass consumes at least one byte or ends: bounded by the
	 * plaintext limit. */
	for (;;) {
		if ((e = read_some(in, iobuf, STORE_IO_BUF, &got, bt->src)) != FW_OK)
			goto out;
		if (got == 0)
			break;
		if (got > STORE_MAX_PLAIN - total) {
			e = fw_seterr(FW_ERR_LIMIT, "attach: %s: more than %llu bytes "
			    "(the protocol's limit of one evidence file)", bt->src,
			    (unsigned long long)STORE_MAX_PLAIN);
			goto out;
		}
		total += got;
		if ((e = sha256_update(ph, iobuf, got)) != FW_OK ||
		    (e = age_enc_update(enc, iobuf, got)) != FW_OK)
			goto out;
	}
	if ((e = age_enc_final(enc)) != FW_OK ||
	    (e = sha256_final(ph, dig)) != FW_OK)
		goto out;
	hex_encode(dig, SHA256_LEN, bt->ev.sha256);
	if ((e = sha256_final(sink.h, dig)) != FW_OK)
		goto out;
	hex_encode(dig, SHA256_LEN, bt->ev.blob);
	bt->ev.size = total;
	bt->ev.blob_size = sink.n;
out:
	age_enc_free(enc);
	sha256_free(ph);
	sha256_free(sink.h);
	return e;
}

/* Check a source before any work: readable regular file, kind known. */
static fw_err
blob_precheck(const struct store_file *f)
{
	struct stat st;

	if (f->path == NULL || *f->path == '\0')
		return fw_seterr(FW_ERR_INVALID, "attach: empty file name");
	if (stat(f->path, &st) == -1)
		return fw_errctx(file_errno(errno, f->path), "attach");
	if (!S_ISREG(st.st_mode))
		return fw_seterr(FW_ERR_INVALID, "attach: '%s' is not a regular file",
		    f->path);
	if ((uint64_t)st.st_size > STORE_MAX_PLAIN)
		return fw_seterr(FW_ERR_LIMIT, "attach: '%s' has %lld bytes, at most "
		    "%llu allowed", f->path, (long long)st.st_size,
		    (unsigned long long)STORE_MAX_PLAIN);
	if (f->kind >= FW_EV_COUNT_)
		return fw_seterr(FW_ERR_FIELD_VALUE, "attach: bad evidence kind");
	if (f->kind < 0 && store_guess_kind(f->path) < 0)
		return fw_seterr(FW_ERR_FIELD_VALUE, "attach: cannot tell the kind "
		    "of '%s' from its extension; give --kind "
		    "photo|audio|video|document", f->path);
	if (f->media_type != NULL && !media_type_valid(f->media_type))
		return fw_seterr(FW_ERR_FIELD_VALUE, "attach: media type '%.130s' "
		    "is not type/subtype in lower case", f->media_type);
	return FW_OK;
}

/*
 * Stream one file through age into tmp/<sha256>: temp file, fsync, rename,
 * folder fsync.  blob_keep moves it to blobs/ once its row is committed.
 * On success bt->fd holds the lock; on failure nothing is left.
 */
static fw_err
blob_import(struct agent *a, const struct store_file *f, struct blob_tmp *bt,
    uint8_t *iobuf)
{
	char name[2 * 16 + 1];
	struct stat st;
	time_t now = time(NULL);
	int in;
	fw_err e;

	memset(bt, 0, sizeof *bt);
	bt->fd = -1;
	bt->src = f->path;
	bt->ev.kind = f->kind >= 0 ? (enum fw_evidence_kind)f->kind :
	    (enum fw_evidence_kind)store_guess_kind(f->path);
	bt->ev.media_type = strdup(f->media_type != NULL ? f->media_type :
	    store_guess_media_type(f->path));
	if (bt->ev.media_type == NULL)
		return fw_seterr(FW_ERR_NOMEM, "attach: out of memory");
	if ((in = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		e = fw_errctx(file_errno(errno, f->path), "attach");
		goto fail;
	}
	if (fstat(in, &st) == -1 || !S_ISREG(st.st_mode)) {
		e = fw_seterr(FW_ERR_INVALID, "attach: '%s' is not a regular file",
		    f->path);
		close(in);
		goto fail;
	}
	/* The file's time is when the evidence was taken, unless the clock
	 * says that is in the future. */
	bt->ev.captured = st.st_mtime > 0 && st.st_mtime <= now ?
	    (int64_t)st.st_mtime : (int64_t)now;
	if ((e = random_hex(name, 16)) != FW_OK ||
	    (e = path_fmt(bt->tmp, sizeof bt->tmp, a->datadir, "tmp",
	    name)) != FW_OK) {
		close(in);
		goto fail;
	}
	bt->fd = open(bt->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (bt->fd == -1) {
		e = fw_errctx(file_errno(errno, bt->tmp), "attach");
		close(in);
		goto fail;
	}
	(void)flock(bt->fd, LOCK_EX | LOCK_NB);
	e = blob_pump(a, in, bt, iobuf);
	close(in);
	if (e != FW_OK || (e = file_fsync(bt->fd, bt->tmp)) != FW_OK ||
	    (e = path_fmt(bt->path, sizeof bt->path, a->datadir, "tmp",
	    bt->ev.blob)) != FW_OK)
		goto fail;
	if (rename(bt->tmp, bt->path) == -1) {
		e = fw_errctx(file_errno(errno, bt->path), "attach");
		goto fail;
	}
	memcpy(bt->tmp, bt->path, sizeof bt->tmp);
	if ((e = file_fsync_dir(bt->tmp)) != FW_OK ||
	    (e = path_fmt(bt->path, sizeof bt->path, a->datadir, "blobs",
	    bt->ev.blob)) != FW_OK)
		goto fail;
	return FW_OK;
fail:
	if (e == FW_ERR_NOSPACE)
		fw_seterr(e, "attach: %s: no space left on the device for its "
		    "encrypted copy; nothing was recorded (free some space and "
		    "retry)", f->path);
	blob_drop(bt);
	return e;
}

static fw_err
insert_evidence(struct agent *a, int64_t obs_seq, int64_t idx,
    const struct fw_evidence *ev)
{
	sqlite3_stmt *st;
	fw_err e;

	if ((e = db_prep(a, "INSERT INTO evidence (obs_seq, idx, kind, media_type,"
	    " size, sha256, blob, blob_size, captured) VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &st, "attach")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, obs_seq);
	sqlite3_bind_int64(st, 2, idx);
	sqlite3_bind_int(st, 3, (int)ev->kind);
	bind_text(st, 4, ev->media_type);
	sqlite3_bind_int64(st, 5, (int64_t)ev->size);
	bind_text(st, 6, ev->sha256);
	bind_text(st, 7, ev->blob);
	sqlite3_bind_int64(st, 8, (int64_t)ev->blob_size);
	sqlite3_bind_int64(st, 9, ev->captured);
	e = db_done(a, st, "attach");
	sqlite3_finalize(st);
	return e;
}

/* Unlink the sources of --move once their encrypted copies are durable. */
static void
move_sources(const struct store_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (unlink(files[i].path) == -1) {
			log_warn("attach --move: %s stays", files[i].path);
			continue;
		}
		if (file_fsync_dir(files[i].path) != FW_OK)
			log_warnx("attach --move: %s", fw_errmsg());
	}
}

/* Import every file; on failure remove those already made. */
static fw_err
blobs_import(struct agent *a, const struct store_file *files, size_t n,
    struct blob_tmp **out)
{
	struct blob_tmp *bt;
	uint8_t *iobuf;
	size_t i;
	fw_err e = FW_OK;

	*out = NULL;
	if (n == 0)
		return FW_OK;
	for (i = 0; i < n; i++)
		if ((e = blob_precheck(&files[i])) != FW_OK)
			return e;
	if ((bt = calloc(n, sizeof *bt)) == NULL ||
	    (iobuf = malloc(STORE_IO_BUF)) == NULL) {
		free(bt);
		return fw_seterr(FW_ERR_NOMEM, "attach: out of memory");
	}
	for (i = 0; i < n; i++)
		bt[i].fd = -1;
	for (i = 0; i < n && e == FW_OK; i++)
		e = blob_import(a, &files[i], &bt[i], iobuf);
	free(iobuf);
	if (e != FW_OK) {
		for (i = 0; i < n; i++)
			blob_drop(&bt[i]);
		free(bt);
		return e;
	}
	*out = bt;
	return FW_OK;
}

static void
blobs_done(struct blob_tmp *bt, size_t n, int keep)
{
	for (size_t i = 0; bt != NULL && i < n; i++) {
		if (keep)
			blob_keep(&bt[i]);
		else
			blob_drop(&bt[i]);
	}
	free(bt);
}

/* ---- capture --------------------------------------------------------------- */

static fw_err
capture_ready(struct agent *a, const char *what)
{
	if (!a->enrolled)
		return fw_seterr(FW_ERR_UNKNOWN_DEVICE, "%s: this device is not "
		    "enrolled (run `fundwatch-agent enroll --server URL --code "
		    "CODE`)", what);
	if (a->revoked)
		return fw_seterr(FW_ERR_REVOKED, "%s: this device was revoked by "
		    "the office; it records nothing more (what it holds can still "
		    "go out with `fundwatch-agent export-bundle`)", what);
	return FW_OK;
}

static fw_err
categories_json(const struct fw_obs *o, char **out)
{
	json_t *arr = json_array();

	*out = NULL;
	for (size_t i = 0; arr != NULL && i < o->ncategories; i++)
		if (json_array_append_new(arr, json_string(o->categories[i])) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	if (arr != NULL)
		*out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return *out != NULL ? FW_OK :
	    fw_seterr(FW_ERR_NOMEM, "observe: out of memory");
}

/* Milliseconds of the boot clock and this boot's id, so that a wrong wall
 * clock can be corrected later against a known time of the same boot (the
 * manifest carries both: boot_id, uptime_ms). */
static void
mono_now(int64_t *mono, char *boot, size_t bootsz)
{
	struct timespec ts;
	FILE *f;

	*mono = clock_gettime(CLOCK_BOOTTIME, &ts) == 0 ?
	    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 : -1;
	boot[0] = '\0';
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "re")) != NULL) {
		if (fgets(boot, (int)bootsz, f) == NULL)
			boot[0] = '\0';
		boot[strcspn(boot, "\n")] = '\0';
		fclose(f);
	}
}

static fw_err
insert_obs(struct agent *a, const struct fw_obs *o, int64_t *seq)
{
	char boot[64], *cats = NULL;
	sqlite3_stmt *st;
	int64_t mono;
	fw_err e;

	if ((e = db_int(a, "SELECT COALESCE(MAX(seq), 0) FROM obs", NULL, 0,
	    seq, "observe")) != FW_OK)
		return e;
	if ((uint64_t)*seq >= FW_MAX_SEQ)
		return fw_seterr(FW_ERR_LIMIT, "observe: the device's sequence "
		    "numbers are exhausted");
	(*seq)++;
	if ((e = categories_json(o, &cats)) != FW_OK)
		return e;
	mono_now(&mono, boot, sizeof boot);
	if ((e = db_prep(a, "INSERT INTO obs (seq, id, captured, boot_id, mono,"
	    " status, place_text, lat_e7, lon_e7, accuracy_m, subject_kind,"
	    " subject_name, institution, categories, what, severity, task,"
	    " supplements) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10,"
	    " ?11, ?12, ?13, ?14, ?15, ?16, ?17)", &st, "observe")) != FW_OK) {
		free(cats);
		return e;
	}
	sqlite3_bind_int64(st, 1, *seq);
	bind_text(st, 2, o->id);
	sqlite3_bind_int64(st, 3, o->captured);
	bind_text(st, 4, boot[0] != '\0' ? boot : NULL);
	if (mono >= 0)
		sqlite3_bind_int64(st, 5, mono);
	bind_text(st, 6, o->place.text);
	if (o->place.has_geo) {
		sqlite3_bind_int64(st, 7, o->place.lat_e7);
		sqlite3_bind_int64(st, 8, o->place.lon_e7);
	}
	if (o->place.has_accuracy)
		sqlite3_bind_int64(st, 9, o->place.accuracy_m);
	sqlite3_bind_int(st, 10, (int)o->subject.kind);
	bind_text(st, 11, o->subject.name);
	bind_text(st, 12, o->subject.institution);
	bind_text(st, 13, cats);
	bind_text(st, 14, o->what);
	sqlite3_bind_int(st, 15, (int)o->severity);
	bind_text(st, 16, o->task);
	bind_text(st, 17, o->supplements[0] != '\0' ? o->supplements : NULL);
	e = db_done(a, st, "observe");
	sqlite3_finalize(st);
	free(cats);
	return e;
}

fw_err
store_observe(struct agent *a, const struct fw_obs *o,
    const struct store_file *files, size_t nfiles, int move,
    char id[FW_ID_HEX + 1])
{
	struct fw_evidence ev[FW_MAX_EVIDENCE];
	struct blob_tmp *bt = NULL;
	struct fw_obs w;
	int64_t seq;
	size_t i;
	fw_err e;

	id[0] = '\0';
	if ((e = capture_ready(a, "observe")) != FW_OK)
		return e;
	if (o == NULL)
		return fw_seterr(FW_ERR_INVALID, "observe: no observation");
	if (nfiles > FW_MAX_EVIDENCE)
		return fw_seterr(FW_ERR_LIMIT, "observe: %zu files, at most %d "
		    "evidence items per observation", nfiles, FW_MAX_EVIDENCE);
	/* Everything that can be refused is refused before a byte of
	 * evidence is encrypted. */
	w = *o;
	w.seq = 1;
	memset(w.prev, '0', SHA256_HEX);
	w.prev[SHA256_HEX] = '\0';
	w.evidence = NULL;
	w.nevidence = 0;
	if ((e = random_hex(w.id, 16)) != FW_OK)
		return e;
	if ((e = bundle_obs_check(&w)) != FW_OK)
		return fw_errctx(e, "observe");
	if ((e = check_categories(a, &w)) != FW_OK ||
	    (e = store_conflict_check(a, w.subject.name,
	    w.subject.institution)) != FW_OK)
		return e;
	if ((e = blobs_import(a, files, nfiles, &bt)) != FW_OK)
		return e;
	for (i = 0; i < nfiles; i++)
		ev[i] = bt[i].ev;
	w.evidence = nfiles > 0 ? ev : NULL;
	w.nevidence = nfiles;
	if ((e = bundle_obs_check(&w)) != FW_OK) {
		fw_errctx(e, "observe");
		goto fail;
	}
	if ((e = db_begin(a, "observe")) != FW_OK)
		goto fail;
	if ((e = insert_obs(a, &w, &seq)) != FW_OK)
		goto rollback;
	for (i = 0; i < nfiles; i++)
		if ((e = insert_evidence(a, seq, (int64_t)i, &ev[i])) != FW_OK)
			goto rollback;
	if ((e = db_commit(a, "observe")) != FW_OK)
		goto rollback;
	blobs_done(bt, nfiles, 1);
	memcpy(id, w.id, FW_ID_HEX + 1);
	log_debug("observe: %s captured as seq %lld with %zu evidence files",
	    id, (long long)seq, nfiles);
	if (move)
		move_sources(files, nfiles);
	return FW_OK;
rollback:
	db_rollback(a);
fail:
	blobs_done(bt, nfiles, 0);
	return e;
}

/* Resolve an observation given by id (or a unique prefix of 6 or more
 * hex digits) to its seq and status. */
static fw_err
obs_resolve(struct agent *a, const char *text, int64_t *seq, int *status,
    char id[FW_ID_HEX + 1])
{
	char pat[FW_ID_HEX + 2];
	sqlite3_stmt *st;
	size_t n = text != NULL ? strlen(text) : 0;
	int rc, rows = 0;
	fw_err e;

	if (n < 6 || n > FW_ID_HEX || !hex_is_lower(text, n))
		return fw_seterr(FW_ERR_INVALID, "observation '%.40s': expected "
		    "its id (32 lowercase hex, or 6 or more leading digits of it)",
		    text != NULL ? text : "");
	snprintf(pat, sizeof pat, "%s%s", text, n < FW_ID_HEX ? "*" : "");
	if ((e = db_prep(a, "SELECT seq, status, id FROM obs WHERE id GLOB ?1 "
	    "LIMIT 2", &st, "store")) != FW_OK)
		return e;
	bind_text(st, 1, pat);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows < 2) {
		*seq = sqlite3_column_int64(st, 0);
		*status = sqlite3_column_int(st, 1);
		if (id != NULL)
			snprintf(id, FW_ID_HEX + 1, "%s", col_text(st, 2));
		rows++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		e = db_err(a, rc, "store");
	else if (rows == 0)
		e = fw_seterr(FW_ERR_NOT_FOUND, "no observation %s on this device "
		    "(see `fundwatch-agent list`)", text);
	else if (rows > 1)
		e = fw_seterr(FW_ERR_INVALID, "observation '%s' is ambiguous: "
		    "give more digits", text);
	sqlite3_finalize(st);
	return e;
}

static fw_err obs_from_row(struct agent *, sqlite3_stmt *, struct fw_obs *);

/* Evidence for observation id (seq), already sealed: a new observation
 * that supplements it, with its subject, place, categories, severity and
 * task, and `what` (or a sentence naming the original). */
static fw_err
attach_supplement(struct agent *a, const char *id, int64_t seq,
    const char *what, const struct store_file *files, size_t nfiles, int move,
    char newid[FW_ID_HEX + 1])
{
	char dflt[96];
	struct fw_obs o, n;
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if ((e = db_prep(a, "SELECT " OBS_COLS " FROM obs WHERE seq = ?1", &st,
	    "attach")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, seq);
	memset(&o, 0, sizeof o);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW)
		e = rc == SQLITE_DONE ? fw_seterr(FW_ERR_NOT_FOUND, "attach: "
		    "observation %s vanished", id) : db_err(a, rc, "attach");
	else if (sqlite3_column_int(st, 3) == STORE_PURGED)
		e = fw_seterr(FW_ERR_FORBIDDEN, "attach: observation %s was purged "
		    "after its retention period; record a new observation with "
		    "`observe ... --attach FILE`", id);
	else
		e = obs_from_row(a, st, &o);
	sqlite3_finalize(st);
	if (e == FW_OK) {
		snprintf(dflt, sizeof dflt, "Further evidence for observation %s.",
		    id);
		n = o;
		n.what = (char *)(what != NULL ? what : dflt);
		n.captured = (int64_t)time(NULL);
		n.has_boot = 0;
		n.evidence = NULL;
		n.nevidence = 0;
		snprintf(n.supplements, sizeof n.supplements, "%s", id);
		e = store_observe(a, &n, files, nfiles, move, newid);
	}
	bundle_obs_clear(&o);
	return e;
}

fw_err
store_attach(struct agent *a, const char *obs_id, const char *what,
    const struct store_file *files, size_t nfiles, int move,
    char newid[FW_ID_HEX + 1])
{
	struct blob_tmp *bt = NULL;
	char id[FW_ID_HEX + 1];
	int64_t seq, have, next;
	int status;
	size_t i;
	fw_err e;

	newid[0] = '\0';
	if ((e = capture_ready(a, "attach")) != FW_OK)
		return e;
	if (nfiles == 0)
		return fw_seterr(FW_ERR_INVALID, "attach: no file given");
	if ((e = obs_resolve(a, obs_id, &seq, &status, id)) != FW_OK)
		return fw_errctx(e, "attach");
	if (status != STORE_CAPTURED)
		goto sealed;
	if (what != NULL)
		return fw_seterr(FW_ERR_INVALID, "attach: observation %s is not "
		    "sealed yet, so the files join it and --what has no use", id);
	{
		sqlite3_stmt *st;

		if ((e = db_prep(a, "SELECT COUNT(*) FROM evidence WHERE "
		    "obs_seq = ?1", &st, "attach")) != FW_OK)
			return e;
		sqlite3_bind_int64(st, 1, seq);
		have = sqlite3_step(st) == SQLITE_ROW ?
		    sqlite3_column_int64(st, 0) : 0;
		sqlite3_finalize(st);
	}
	if ((uint64_t)have + nfiles > FW_MAX_EVIDENCE)
		return fw_seterr(FW_ERR_LIMIT, "attach: observation %s has %lld "
		    "evidence items; %zu more would pass the limit of %d", id,
		    (long long)have, nfiles, FW_MAX_EVIDENCE);
	if ((e = blobs_import(a, files, nfiles, &bt)) != FW_OK)
		return e;
	if ((e = db_begin(a, "attach")) != FW_OK)
		goto fail;
	/* Sealing may have happened while the files were encrypted. */
	{
		sqlite3_stmt *st;

		if ((e = db_prep(a, "SELECT status, (SELECT COALESCE(MAX(idx) + 1,"
		    " 0) FROM evidence WHERE obs_seq = ?1), (SELECT COUNT(*) FROM"
		    " evidence WHERE obs_seq = ?1) FROM obs WHERE seq = ?1", &st,
		    "attach")) != FW_OK)
			goto rollback;
		sqlite3_bind_int64(st, 1, seq);
		if (sqlite3_step(st) != SQLITE_ROW) {
			sqlite3_finalize(st);
			e = fw_seterr(FW_ERR_NOT_FOUND, "attach: observation %s "
			    "vanished", id);
			goto rollback;
		}
		status = sqlite3_column_int(st, 0);
		next = sqlite3_column_int64(st, 1);
		have = sqlite3_column_int64(st, 2);
		sqlite3_finalize(st);
	}
	if (status != STORE_CAPTURED) {
		db_rollback(a);
		blobs_done(bt, nfiles, 0);
		goto sealed;
	}
	if ((uint64_t)have + nfiles > FW_MAX_EVIDENCE) {
		e = fw_seterr(FW_ERR_LIMIT, "attach: observation %s has %lld "
		    "evidence items; %zu more would pass the limit of %d", id,
		    (long long)have, nfiles, FW_MAX_EVIDENCE);
		goto rollback;
	}
	for (i = 0; i < nfiles; i++)
		if ((e = insert_evidence(a, seq, next + (int64_t)i,
		    &bt[i].ev)) != FW_OK)
			goto rollback;
	if ((e = db_commit(a, "attach")) != FW_OK)
		goto rollback;
	blobs_done(bt, nfiles, 1);
	if (move)
		move_sources(files, nfiles);
	return FW_OK;
rollback:
	db_rollback(a);
fail:
	blobs_done(bt, nfiles, 0);
	return e;
sealed:
	return attach_supplement(a, id, seq, what, files, nfiles, move, newid);
}

/* ---- reading observations --------------------------------------------------- */

static fw_err
dup_col(sqlite3_stmt *st, int i, char **out)
{
	const char *s = col_text(st, i);

	*out = NULL;
	if (s == NULL)
		return FW_OK;
	if ((*out = strdup(s)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	return FW_OK;
}

static fw_err
load_categories(const char *json, struct fw_obs *o)
{
	json_t *arr, *v;
	size_t i;
	fw_err e;

	if (json == NULL)
		return FW_OK;
	if ((e = jsonx_load(json, strlen(json), &arr)) != FW_OK)
		return fw_errctx(e, "store: stored categories");
	if (!json_is_array(arr) || json_array_size(arr) > FW_MAX_CATEGORIES) {
		json_decref(arr);
		return fw_seterr(FW_ERR_INTERNAL, "store: stored categories malformed");
	}
	if ((o->categories = calloc(json_array_size(arr) + 1,
	    sizeof *o->categories)) == NULL) {
		json_decref(arr);
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	}
	for (i = 0; i < json_array_size(arr) &&
	    (v = json_array_get(arr, i)) != NULL; i++) {
		if ((o->categories[i] = xstrdup(json_string_value(v))) == NULL) {
			json_decref(arr);
			return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
		}
		o->ncategories = i + 1;
	}
	json_decref(arr);
	return FW_OK;
}

static fw_err
load_evidence(struct agent *a, int64_t seq, struct fw_obs *o)
{
	sqlite3_stmt *st;
	struct fw_evidence *ev;
	fw_err e;
	int rc;

	if ((o->evidence = calloc(FW_MAX_EVIDENCE, sizeof *o->evidence)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	if ((e = db_prep(a, "SELECT kind, media_type, size, sha256, blob,"
	    " blob_size, captured FROM evidence WHERE obs_seq = ?1 ORDER BY idx"
	    " LIMIT 33", &st, "store")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, seq);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (o->nevidence == FW_MAX_EVIDENCE) {
			e = fw_seterr(FW_ERR_INTERNAL, "store: observation %s has more "
			    "than %d evidence rows", o->id, FW_MAX_EVIDENCE);
			break;
		}
		ev = &o->evidence[o->nevidence++];
		ev->kind = (enum fw_evidence_kind)sqlite3_column_int(st, 0);
		if ((e = dup_col(st, 1, &ev->media_type)) != FW_OK)
			break;
		ev->size = (uint64_t)sqlite3_column_int64(st, 2);
		snprintf(ev->sha256, sizeof ev->sha256, "%s", col_text(st, 3));
		snprintf(ev->blob, sizeof ev->blob, "%s", col_text(st, 4));
		ev->blob_size = (uint64_t)sqlite3_column_int64(st, 5);
		ev->captured = sqlite3_column_int64(st, 6);
	}
	e = db_rows_done(a, st, rc, e, "store");
	if (o->nevidence == 0) {
		free(o->evidence);
		o->evidence = NULL;
	}
	return e;
}

/* The boot clock at capture, for the manifest: the kernel's boot id
 * without its dashes, and milliseconds since boot.  Left out if either
 * is unknown. */
static void
boot_from_row(sqlite3_stmt *st, int idcol, int upcol, struct fw_obs *o)
{
	const char *id = col_text(st, idcol);
	size_t n = 0;

	if (id == NULL || sqlite3_column_type(st, upcol) == SQLITE_NULL ||
	    sqlite3_column_int64(st, upcol) < 0)
		return;
	for (; *id != '\0' && n < FW_ID_HEX; id++)
		if (*id != '-')
			o->boot_id[n++] = *id;
	o->boot_id[n] = '\0';
	if (*id != '\0' || !hex_is_lower(o->boot_id, FW_ID_HEX))
		return;
	o->has_boot = 1;
	o->uptime_ms = (uint64_t)sqlite3_column_int64(st, upcol);
}

/* Fill o (content) from a row of OBS_COLS; o is cleared by the caller
 * with bundle_obs_clear on any result. */
static fw_err
obs_from_row(struct agent *a, sqlite3_stmt *st, struct fw_obs *o)
{
	fw_err e;

	memset(o, 0, sizeof *o);
	o->seq = (uint64_t)sqlite3_column_int64(st, 0);
	snprintf(o->id, sizeof o->id, "%s", col_text(st, 1));
	o->captured = sqlite3_column_int64(st, 2);
	if ((e = dup_col(st, 4, &o->place.text)) != FW_OK)
		return e;
	if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
		o->place.has_geo = 1;
		o->place.lat_e7 = sqlite3_column_int(st, 5);
		o->place.lon_e7 = sqlite3_column_int(st, 6);
	}
	if (sqlite3_column_type(st, 7) != SQLITE_NULL) {
		o->place.has_accuracy = 1;
		o->place.accuracy_m = (uint32_t)sqlite3_column_int64(st, 7);
	}
	o->subject.kind = (enum fw_subject_kind)sqlite3_column_int(st, 8);
	if ((e = dup_col(st, 9, &o->subject.name)) != FW_OK ||
	    (e = dup_col(st, 10, &o->subject.institution)) != FW_OK ||
	    (e = load_categories(col_text(st, 11), o)) != FW_OK ||
	    (e = dup_col(st, 12, &o->what)) != FW_OK ||
	    (e = dup_col(st, 14, &o->task)) != FW_OK)
		return e;
	o->severity = (enum fw_severity)sqlite3_column_int(st, 13);
	if (col_text(st, 15) != NULL)
		snprintf(o->prev, sizeof o->prev, "%s", col_text(st, 15));
	boot_from_row(st, 20, 21, o);
	if (col_text(st, 22) != NULL)
		snprintf(o->supplements, sizeof o->supplements, "%s",
		    col_text(st, 22));
	return load_evidence(a, (int64_t)o->seq, o);
}

static void
info_from_row(sqlite3_stmt *st, struct store_obs_info *i)
{
	memset(i, 0, sizeof *i);
	i->seq = (uint64_t)sqlite3_column_int64(st, 0);
	snprintf(i->id, sizeof i->id, "%s", col_text(st, 1));
	i->captured = sqlite3_column_int64(st, 2);
	i->status = (enum store_status)sqlite3_column_int(st, 3);
	i->receipted = sqlite3_column_int64(st, 4);
	i->purged = sqlite3_column_int64(st, 5);
	if (col_text(st, 6) != NULL)
		snprintf(i->bundle, sizeof i->bundle, "%s", col_text(st, 6));
	i->nevidence = (size_t)sqlite3_column_int64(st, 7);
	i->evidence_bytes = (uint64_t)sqlite3_column_int64(st, 8);
	if (col_text(st, 9) != NULL)
		snprintf(i->refusal, sizeof i->refusal, "%s", col_text(st, 9));
	if (col_text(st, 10) != NULL)
		snprintf(i->supplements, sizeof i->supplements, "%s",
		    col_text(st, 10));
}

#define INFO_SQL "SELECT o.seq, o.id, o.captured, o.status," \
	" COALESCE(o.receipted, 0), COALESCE(o.purged, 0), b.id," \
	" (SELECT COUNT(*) FROM evidence e WHERE e.obs_seq = o.seq)," \
	" (SELECT COALESCE(SUM(blob_size), 0) FROM evidence e" \
	"  WHERE e.obs_seq = o.seq), o.refusal, o.supplements" \
	" FROM obs o LEFT JOIN bundles b ON b.seq = o.bundle_seq"

fw_err
store_list(struct agent *a, size_t limit, store_obs_fn fn, void *ctx)
{
	struct store_obs_info info;
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if ((e = db_prep(a, INFO_SQL " ORDER BY o.seq LIMIT ?1", &st,
	    "list")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, limit == 0 ? -1 : (int64_t)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		info_from_row(st, &info);
		if ((e = fn(ctx, &info)) != FW_OK)
			break;
	}
	return db_rows_done(a, st, rc, e, "list");
}

fw_err
store_show(struct agent *a, const char *obs_id, struct store_obs_info *info,
    struct fw_obs *o)
{
	sqlite3_stmt *st;
	int64_t seq;
	int status, rc;
	fw_err e;

	memset(o, 0, sizeof *o);
	if ((e = obs_resolve(a, obs_id, &seq, &status, NULL)) != FW_OK)
		return fw_errctx(e, "show");
	if ((e = db_prep(a, INFO_SQL " WHERE o.seq = ?1", &st, "show")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, seq);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		info_from_row(st, info);
	else
		e = db_err(a, rc, "show");
	sqlite3_finalize(st);
	if (e != FW_OK)
		return e;
	if ((e = db_prep(a, "SELECT " OBS_COLS " FROM obs WHERE seq = ?1", &st,
	    "show")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, seq);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		e = obs_from_row(a, st, o);
	else
		e = db_err(a, rc, "show");
	sqlite3_finalize(st);
	if (e != FW_OK)
		bundle_obs_clear(o);
	return e;
}

/* ---- sealing ------------------------------------------------------------------ */

struct seal_set {
	struct fw_obs *obs;	/* FW_MAX_OBSERVATIONS slots */
	size_t n;
};

static void
seal_set_clear(struct seal_set *s)
{
	for (size_t i = 0; s->obs != NULL && i < s->n; i++)
		bundle_obs_clear(&s->obs[i]);
	free(s->obs);
	s->obs = NULL;
	s->n = 0;
}

/* The hash the first pending observation links to. */
static fw_err
seal_prev(struct agent *a, uint64_t first, char prev[SHA256_HEX + 1])
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if (first == 1) {
		memset(prev, '0', SHA256_HEX);
		prev[SHA256_HEX] = '\0';
		return FW_OK;
	}
	if ((e = db_prep(a, "SELECT hash, status FROM obs WHERE seq = ?1", &st,
	    "seal")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, (int64_t)first - 1);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && col_text(st, 0) != NULL &&
	    strlen(col_text(st, 0)) == SHA256_HEX)
		snprintf(prev, SHA256_HEX + 1, "%s", col_text(st, 0));
	else if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		e = fw_seterr(FW_ERR_CHAIN, "seal: observation %llu has no sealed "
		    "predecessor in the store; the chain cannot continue",
		    (unsigned long long)first);
	else
		e = db_err(a, rc, "seal");
	sqlite3_finalize(st);
	return e;
}

/* Load the pending observations that fit max_obs, max_bytes and the
 * manifest limit, chained from prev. */
static fw_err
seal_load(struct agent *a, size_t max_obs, uint64_t max_bytes,
    struct seal_set *s, uint64_t *blob_bytes)
{
	char prev[SHA256_HEX + 1];
	uint64_t bytes = 0, obytes;
	size_t mbytes = STORE_MANIFEST_SLACK;
	struct buf canon;
	sqlite3_stmt *st;
	struct fw_obs *o;
	fw_err e;
	int rc;

	*blob_bytes = 0;
	if ((s->obs = calloc(FW_MAX_OBSERVATIONS, sizeof *s->obs)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "seal: out of memory");
	if ((e = db_prep(a, "SELECT " OBS_COLS " FROM obs WHERE status = 0 "
	    "ORDER BY seq LIMIT ?1", &st, "seal")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, (int64_t)max_obs);
	buf_init(&canon, FW_MAX_MANIFEST);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && s->n < max_obs) {
		o = &s->obs[s->n];
		if ((e = obs_from_row(a, st, o)) != FW_OK) {
			bundle_obs_clear(o);
			break;
		}
		if (s->n == 0)
			e = seal_prev(a, o->seq, prev);
		else if (o->seq != s->obs[s->n - 1].seq + 1)
			e = fw_seterr(FW_ERR_SEQUENCE, "seal: observation %llu "
			    "follows %llu", (unsigned long long)o->seq,
			    (unsigned long long)s->obs[s->n - 1].seq);
		if (e != FW_OK) {
			bundle_obs_clear(o);
			break;
		}
		memcpy(o->prev, prev, sizeof prev);
		obytes = 0;
		for (size_t i = 0; i < o->nevidence; i++)
			obytes += o->evidence[i].blob_size;
		buf_reset(&canon);
		if ((e = bundle_obs_canonical(o, &canon)) != FW_OK) {
			fw_errctx(e, "seal: observation %s", o->id);
			bundle_obs_clear(o);
			break;
		}
		/* The first always goes in; the others while they fit. */
		if (s->n > 0 && (bytes >= max_bytes || obytes > max_bytes - bytes ||
		    mbytes + canon.len + 1 > FW_MAX_MANIFEST)) {
			bundle_obs_clear(o);
			break;
		}
		if ((e = sha256_hex(canon.data, canon.len, prev)) != FW_OK) {
			bundle_obs_clear(o);
			break;
		}
		bytes += obytes;
		mbytes += canon.len + 1;
		s->n++;
	}
	if (e == FW_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		e = db_err(a, rc, "seal");
	sqlite3_finalize(st);
	buf_free(&canon);
	*blob_bytes = bytes;
	return e;
}

/* Store the container and mark its observations, inside the caller's
 * transaction. */
static fw_err
seal_record(struct agent *a, const struct fw_manifest *m, const char *bid,
    const struct buf *container, uint64_t blob_bytes)
{
	char hash[SHA256_HEX + 1];
	sqlite3_stmt *st;
	fw_err e;

	if ((e = db_prep(a, "INSERT INTO bundles (seq, id, created, nobs,"
	    " blob_bytes, container) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st,
	    "seal")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, (int64_t)m->bundle_seq);
	bind_text(st, 2, bid);
	sqlite3_bind_int64(st, 3, m->created);
	sqlite3_bind_int64(st, 4, (int64_t)m->nobs);
	sqlite3_bind_int64(st, 5, (int64_t)blob_bytes);
	sqlite3_bind_blob(st, 6, container->data, (int)container->len,
	    SQLITE_STATIC);
	e = db_done(a, st, "seal");
	sqlite3_finalize(st);
	if (e != FW_OK)
		return e;
	if ((e = db_prep(a, "UPDATE obs SET status = 1, prev = ?1, hash = ?2,"
	    " bundle_seq = ?3 WHERE seq = ?4 AND status = 0", &st,
	    "seal")) != FW_OK)
		return e;
	for (size_t i = 0; i < m->nobs && e == FW_OK; i++) {
		if ((e = bundle_obs_hash(&m->obs[i], hash)) != FW_OK)
			break;
		sqlite3_reset(st);
		bind_text(st, 1, m->obs[i].prev);
		bind_text(st, 2, hash);
		sqlite3_bind_int64(st, 3, (int64_t)m->bundle_seq);
		sqlite3_bind_int64(st, 4, (int64_t)m->obs[i].seq);
		if ((e = db_done(a, st, "seal")) == FW_OK &&
		    sqlite3_changes(a->db) != 1)
			e = fw_seterr(FW_ERR_INTERNAL, "seal: observation %llu "
			    "changed while sealing",
			    (unsigned long long)m->obs[i].seq);
	}
	sqlite3_finalize(st);
	return e;
}

fw_err
store_seal(struct agent *a, size_t max_obs, uint64_t max_bytes,
    char bundle_id[SHA256_HEX + 1], int *sealed)
{
	struct seal_set s = {NULL, 0};
	struct fw_manifest m;
	struct buf container;
	uint64_t blob_bytes;
	int64_t bseq;
	fw_err e;
	int tries;

	bundle_id[0] = '\0';
	*sealed = 0;
	if (max_obs == 0 || max_obs > FW_MAX_OBSERVATIONS)
		max_obs = FW_MAX_OBSERVATIONS;
	if (max_bytes == 0)
		max_bytes = UINT64_MAX;
	if (!a->enrolled)
		return fw_seterr(FW_ERR_UNKNOWN_DEVICE, "seal: this device is not "
		    "enrolled");
	if (a->key == NULL)
		return fw_seterr(a->revoked ? FW_ERR_REVOKED : FW_ERR_KEY,
		    "seal: %s", a->revoked ? "this device was revoked and its key "
		    "destroyed; pending observations cannot be signed (already "
		    "sealed bundles can still be exported)" :
		    "the device key could not be loaded");
	buf_init(&container, FW_MAX_BUNDLE);
	if ((e = db_begin(a, "seal")) != FW_OK)
		return e;
	if ((e = seal_load(a, max_obs, max_bytes, &s, &blob_bytes)) != FW_OK)
		goto fail;
	if (s.n == 0) {
		db_rollback(a);
		seal_set_clear(&s);
		return FW_OK;
	}
	if ((e = db_int(a, "SELECT COALESCE(MAX(seq), 0) + 1 FROM bundles", NULL,
	    1, &bseq, "seal")) != FW_OK)
		goto fail;
	memset(&m, 0, sizeof m);
	m.version = FW_PROTO_VERSION;
	memcpy(m.device, a->device_id, sizeof m.device);
	m.bundle_seq = (uint64_t)bseq;
	m.created = (int64_t)time(NULL);
	{
		/* The skew last measured against the server, if any. */
		char *r = NULL;
		if (meta_get(a, "clock_offset", &r) == FW_OK) {
			m.has_clock_offset = 1;
			m.clock_offset = meta_int(a, "clock_offset", 0);
			free(r);
		}
	}
	m.obs = s.obs;
	m.nobs = s.n;
	/* Text that does not compress can make the container pass 2 MiB:
	 * halve until it fits (one observation always does). */
	for (tries = 0; tries < STORE_SEAL_TRIES; tries++) {
		buf_reset(&container);
		e = bundle_seal(&m, a->key, &container, bundle_id);
		if (e != FW_ERR_LIMIT || m.nobs == 1)
			break;
		m.nobs /= 2;
		blob_bytes = 0;
		for (size_t i = 0; i < m.nobs; i++)
			for (size_t j = 0; j < m.obs[i].nevidence; j++)
				blob_bytes += m.obs[i].evidence[j].blob_size;
	}
	if (e != FW_OK) {
		fw_errctx(e, "seal");
		goto fail;
	}
	if ((e = seal_record(a, &m, bundle_id, &container, blob_bytes)) != FW_OK ||
	    (e = db_commit(a, "seal")) != FW_OK)
		goto fail;
	log_debug("sealed bundle %lld (%s) of %zu observations",
	    (long long)bseq, bundle_id, m.nobs);
	*sealed = 1;
	seal_set_clear(&s);
	buf_free(&container);
	return FW_OK;
fail:
	db_rollback(a);
	bundle_id[0] = '\0';
	seal_set_clear(&s);
	buf_free(&container);
	return e;
}

fw_err
store_seal_all(struct agent *a, size_t *n)
{
	char id[SHA256_HEX + 1];
	int64_t pending;
	int sealed;
	fw_err e;

	*n = 0;
	if ((e = db_int(a, "SELECT COUNT(*) FROM obs WHERE status = 0", NULL, 0,
	    &pending, "seal")) != FW_OK)
		return e;
	/* Each pass seals at least one observation or stops. */
	for (int64_t i = 0; i <= pending; i++) {
		if ((e = store_seal(a, (size_t)a->cfg.bundle_max_obs,
		    a->cfg.bundle_max_bytes, id, &sealed)) != FW_OK)
			return e;
		if (!sealed)
			break;
		(*n)++;
	}
	return FW_OK;
}

/* ---- bundles -------------------------------------------------------------------- */

fw_err
store_bundle_next(struct agent *a, uint64_t after, struct store_bundle *b)
{
	sqlite3_stmt *st;
	const void *p;
	fw_err e;
	int rc, n;

	memset(b, 0, sizeof *b);
	buf_init(&b->container, FW_MAX_BUNDLE);
	if ((e = db_prep(a, "SELECT seq, id, created, nobs, blob_bytes, container"
	    " FROM bundles WHERE receipted IS NULL AND seq > ?1 ORDER BY seq"
	    " LIMIT 1", &st, "bundles")) != FW_OK)
		return e;
	sqlite3_bind_int64(st, 1, (int64_t)after);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		b->seq = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(b->id, sizeof b->id, "%s", col_text(st, 1));
		b->created = sqlite3_column_int64(st, 2);
		b->nobs = (size_t)sqlite3_column_int64(st, 3);
		b->blob_bytes = (uint64_t)sqlite3_column_int64(st, 4);
		p = sqlite3_column_blob(st, 5);
		n = sqlite3_column_bytes(st, 5);
		e = buf_add(&b->container, p, (size_t)n);
	} else if (rc == SQLITE_DONE)
		e = FW_ERR_NOT_FOUND;
	else
		e = db_err(a, rc, "bundles");
	sqlite3_finalize(st);
	if (e != FW_OK)
		buf_free(&b->container);
	return e;
}

fw_err
store_bundles_unreceipted(struct agent *a, store_bundle_fn fn, void *ctx)
{
	struct store_bundle b;
	uint64_t after = 0;
	int64_t count;
	fw_err e;

	if ((e = db_int(a, "SELECT COUNT(*) FROM bundles WHERE receipted IS NULL",
	    NULL, 0, &count, "bundles")) != FW_OK)
		return e;
	/* after grows strictly; the count bounds the walk besides, with room
	 * for bundles sealed meanwhile. */
	for (int64_t i = 0; i < count + FW_MAX_OBSERVATIONS; i++) {
		e = store_bundle_next(a, after, &b);
		if (e == FW_ERR_NOT_FOUND)
			return FW_OK;
		if (e != FW_OK)
			return e;
		after = b.seq;
		e = fn(ctx, &b);
		buf_free(&b.container);
		if (e != FW_OK)
			return e;
	}
	return FW_OK;
}

fw_err
store_bundle_blobs(struct agent *a, const char *bundle_id, store_blob_fn fn,
    void *ctx)
{
	struct blobref {
		char hex[SHA256_HEX + 1];
		uint64_t size;
	} *list;
	sqlite3_stmt *st;
	size_t n = 0, i;
	fw_err e;
	int rc;

	if ((list = calloc(STORE_BLOBS_MAX, sizeof *list)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "store: out of memory");
	if ((e = db_prep(a, "SELECT DISTINCT e.blob, e.blob_size FROM evidence e"
	    " JOIN obs o ON o.seq = e.obs_seq JOIN bundles b ON b.seq ="
	    " o.bundle_seq WHERE b.id = ?1 ORDER BY e.blob", &st,
	    "bundle blobs")) != FW_OK) {
		free(list);
		return e;
	}
	bind_text(st, 1, bundle_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < STORE_BLOBS_MAX) {
		snprintf(list[n].hex, sizeof list[n].hex, "%s", col_text(st, 0));
		list[n].size = (uint64_t)sqlite3_column_int64(st, 1);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		e = db_err(a, rc, "bundle blobs");
	sqlite3_finalize(st);
	/* The statement is closed: fn may use the store. */
	for (i = 0; i < n && e == FW_OK; i++)
		e = fn(ctx, list[i].hex, list[i].size);
	free(list);
	return e;
}

fw_err
store_blob_path(struct agent *a, const char *hex, char *out, size_t outsz)
{
	char tmp[STORE_PATH_MAX];
	fw_err e;

	if (hex == NULL || strlen(hex) != SHA256_HEX ||
	    !hex_is_lower(hex, SHA256_HEX))
		return fw_seterr(FW_ERR_INVALID, "blob '%.70s': expected 64 "
		    "lowercase hex", hex != NULL ? hex : "");
	if ((e = path_fmt(out, outsz, a->datadir, "blobs", hex)) != FW_OK)
		return e;
	/* Between its row's commit and its rename a blob is still in tmp/. */
	if (access(out, F_OK) == -1 && errno == ENOENT &&
	    path_fmt(tmp, sizeof tmp, a->datadir, "tmp", hex) == FW_OK &&
	    access(tmp, F_OK) == 0)
		snprintf(out, outsz, "%s", tmp);
	return FW_OK;
}

fw_err
store_blob_size(struct agent *a, const char *hex, uint64_t *size)
{
	char path[STORE_PATH_MAX];
	struct stat st;
	fw_err e;

	if ((e = store_blob_path(a, hex, path, sizeof path)) != FW_OK)
		return e;
	if (stat(path, &st) == -1)
		return file_errno(errno, path);
	*size = (uint64_t)st.st_size;
	return FW_OK;
}

/* ---- receipts and purge ------------------------------------------------------------ */

/* The observations of bundle bseq that the receipt names refused: kept on
 * the device, marked refused with the office's reason, and said in the
 * log; *n gets how many were marked. */
static fw_err
receipt_refused(struct agent *a, const json_t *list, int64_t bseq, size_t *n)
{
	sqlite3_stmt *st;
	fw_err e = FW_OK;

	if (json_array_size(list) == 0)
		return FW_OK;
	if ((e = db_prep(a, "UPDATE obs SET status = 4, receipted = ?1,"
	    " refusal = ?2 WHERE id = ?3 AND bundle_seq = ?4 AND status = 1", &st,
	    "receipt")) != FW_OK)
		return e;
	for (size_t i = 0; e == FW_OK && i < json_array_size(list); i++) {
		const json_t *r = json_array_get(list, i);
		const char *id = json_string_value(json_object_get(r, "observation"));
		const char *err = json_string_value(json_object_get(r, "error"));
		const char *msg = json_string_value(json_object_get(r, "message"));
		char why[256];

		if (id == NULL)
			continue;
		snprintf(why, sizeof why, "%s%s%s", err ? err : "refused",
		    msg ? ": " : "", msg ? msg : "");
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
		bind_text(st, 2, why);
		bind_text(st, 3, id);
		sqlite3_bind_int64(st, 4, bseq);
		if ((e = db_done(a, st, "receipt")) == FW_OK &&
		    sqlite3_changes(a->db) > 0) {
			log_warnx("observation %s refused by the office: %.200s", id,
			    why);
			(*n)++;
		}
	}
	sqlite3_finalize(st);
	return e;
}

fw_err
store_receipt(struct agent *a, const char *bundle_id, const uint8_t *answer,
    size_t len, size_t *refused)
{
	json_t *root = NULL, *rc_obj, *ids, *v;
	sqlite3_stmt *st = NULL;
	const char *bid;
	int64_t bseq, done, named = 0;
	size_t i, nref = 0;
	fw_err e;

	if (refused != NULL)
		*refused = 0;

	if (bundle_id == NULL || answer == NULL || len == 0)
		return fw_seterr(FW_ERR_INVALID, "receipt: nothing given");
	if (len > STORE_FEED_MAX)
		return fw_seterr(FW_ERR_LIMIT, "receipt: %zu bytes", len);
	if ((e = jsonx_load(answer, len, &root)) != FW_OK)
		return fw_errctx(e, "receipt");
	/* The whole answer, or the receipt object alone. */
	rc_obj = json_object_get(root, "receipt");
	if (!json_is_object(rc_obj))
		rc_obj = root;
	bid = json_string_value(json_object_get(rc_obj, "bundle"));
	ids = json_object_get(rc_obj, "observations");
	v = json_object_get(rc_obj, "device");
	if (v != NULL && (!json_is_string(v) ||
	    strcmp(json_string_value(v), a->device_id) != 0)) {
		e = fw_seterr(FW_ERR_FIELD_VALUE, "receipt: it names another "
		    "device than this one (%s)", a->device_id);
		goto out;
	}
	if (bid == NULL || strcmp(bid, bundle_id) != 0 || !json_is_array(ids)) {
		e = fw_seterr(FW_ERR_FIELD_VALUE, "receipt: it does not name "
		    "bundle %s with its observations", bundle_id);
		goto out;
	}
	if ((e = db_begin(a, "receipt")) != FW_OK)
		goto out;
	if ((e = db_int(a, "SELECT seq FROM bundles WHERE id = ?1", bundle_id, 0,
	    &bseq, "receipt")) != FW_OK)
		goto rollback;
	if (bseq == 0) {
		e = fw_seterr(FW_ERR_NOT_FOUND, "receipt: no bundle %s on this "
		    "device", bundle_id);
		goto rollback;
	}
	if ((e = db_int(a, "SELECT COUNT(*) FROM bundles WHERE id = ?1 AND "
	    "receipted IS NOT NULL", bundle_id, 0, &done, "receipt")) != FW_OK)
		goto rollback;
	if (done) {
		db_rollback(a);
		goto out;
	}
	if ((e = db_prep(a, "UPDATE obs SET status = 2, receipted = ?1 WHERE"
	    " id = ?2 AND bundle_seq = ?3 AND status = 1", &st,
	    "receipt")) != FW_OK)
		goto rollback;
	for (i = 0; i < json_array_size(ids) &&
	    (v = json_array_get(ids, i)) != NULL; i++) {
		if (!json_is_string(v))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
		bind_text(st, 2, json_string_value(v));
		sqlite3_bind_int64(st, 3, bseq);
		if ((e = db_done(a, st, "receipt")) != FW_OK)
			goto rollback;
		named += sqlite3_changes(a->db);
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((e = receipt_refused(a, json_object_get(rc_obj, "refused"), bseq,
	    &nref)) != FW_OK)
		goto rollback;
	if ((e = db_prep(a, "UPDATE bundles SET receipt = ?1, receipted = ?2"
	    " WHERE seq = ?3", &st, "receipt")) != FW_OK)
		goto rollback;
	sqlite3_bind_blob(st, 1, answer, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 3, bseq);
	if ((e = db_done(a, st, "receipt")) != FW_OK)
		goto rollback;
	sqlite3_finalize(st);
	st = NULL;
	if ((e = db_commit(a, "receipt")) != FW_OK)
		goto rollback;
	if (refused != NULL)
		*refused = nref;
	if (named == 0 && nref == 0)
		log_warnx("receipt for bundle %s names none of its observations",
		    bundle_id);
	log_debug("receipt for bundle %s: %lld observations receipted",
	    bundle_id, (long long)named);
	goto out;
rollback:
	if (st != NULL)
		sqlite3_finalize(st);
	db_rollback(a);
out:
	json_decref(root);
	return e;
}

/* One batch of purge: up to STORE_PURGE_BATCH observations in one
 * transaction, then their blobs' files.  *n gets how many were purged. */
static fw_err
purge_batch(struct agent *a, int64_t cutoff, size_t *n)
{
	char (*blobs)[SHA256_HEX + 1] = NULL;
	int64_t seqs[STORE_PURGE_BATCH];
	size_t ns = 0, nb = 0, i;
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	*n = 0;
	if ((e = db_begin(a, "purge")) != FW_OK)
		return e;
	if ((e = db_prep(a, "SELECT seq FROM obs WHERE status = 2 AND"
	    " receipted <= ?1 ORDER BY seq LIMIT ?2", &st, "purge")) != FW_OK)
		goto rollback;
	sqlite3_bind_int64(st, 1, cutoff);
	sqlite3_bind_int(st, 2, STORE_PURGE_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ns < STORE_PURGE_BATCH)
		seqs[ns++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		e = db_err(a, rc, "purge");
		goto rollback;
	}
	if (ns == 0) {
		db_rollback(a);
		return FW_OK;
	}
	if ((blobs = calloc(ns * FW_MAX_EVIDENCE, sizeof *blobs)) == NULL) {
		e = fw_seterr(FW_ERR_NOMEM, "purge: out of memory");
		goto rollback;
	}
	/* A blob goes only if no observation still waiting for a receipt
	 * (captured or sealed) or kept refused names it. */
	if ((e = db_prep(a, "SELECT DISTINCT e.blob FROM evidence e WHERE"
	    " e.obs_seq = ?1 AND NOT EXISTS (SELECT 1 FROM evidence e2 JOIN obs"
	    " o2 ON o2.seq = e2.obs_seq WHERE e2.blob = e.blob AND o2.status"
	    " IN (0, 1, 4))", &st, "purge")) != FW_OK)
		goto rollback;
	for (i = 0; i < ns && e == FW_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, seqs[i]);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
		    nb < ns * FW_MAX_EVIDENCE)
			snprintf(blobs[nb++], SHA256_HEX + 1, "%s", col_text(st, 0));
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			e = db_err(a, rc, "purge");
	}
	sqlite3_finalize(st);
	if (e != FW_OK)
		goto rollback;
	if ((e = db_prep(a, "UPDATE obs SET status = 3, purged = ?2,"
	    " place_text = NULL, lat_e7 = NULL, lon_e7 = NULL, accuracy_m = NULL,"
	    " subject_name = NULL, institution = NULL, categories = NULL,"
	    " what = NULL, task = NULL, boot_id = NULL WHERE seq = ?1", &st,
	    "purge")) != FW_OK)
		goto rollback;
	for (i = 0; i < ns && e == FW_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, seqs[i]);
		sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
		e = db_done(a, st, "purge");
	}
	sqlite3_finalize(st);
	if (e != FW_OK)
		goto rollback;
	if ((e = db_prep(a, "DELETE FROM evidence WHERE obs_seq = ?1", &st,
	    "purge")) != FW_OK)
		goto rollback;
	for (i = 0; i < ns && e == FW_OK; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, seqs[i]);
		e = db_done(a, st, "purge");
	}
	sqlite3_finalize(st);
	if (e != FW_OK || (e = db_prep(a, "INSERT OR IGNORE INTO doomed (blob)"
	    " VALUES (?1)", &st, "purge")) != FW_OK)
		goto rollback;
	for (i = 0; i < nb && e == FW_OK; i++) {
		sqlite3_reset(st);
		bind_text(st, 1, blobs[i]);
		e = db_done(a, st, "purge");
	}
	sqlite3_finalize(st);
	if (e != FW_OK || (e = db_commit(a, "purge")) != FW_OK)
		goto rollback;
	free(blobs);
	*n = ns;
	/* The files go after the commit; a crash before they are gone leaves
	 * their names in doomed for agent_open, never a row naming a missing
	 * blob it still needs. */
	return doomed_flush(a);
rollback:
	free(blobs);
	db_rollback(a);
	return e;
}

fw_err
store_purge(struct agent *a, int64_t now, size_t *n)
{
	int64_t due;
	size_t got = 0, total = 0;
	fw_err e;

	if (n != NULL)
		*n = 0;
	if ((e = db_int(a, "SELECT COUNT(*) FROM obs WHERE status = 2", NULL, 0,
	    &due, "purge")) != FW_OK)
		return e;
	for (int64_t i = 0; i <= due / STORE_PURGE_BATCH; i++) {
		if ((e = purge_batch(a, now - a->cfg.retention, &got)) != FW_OK)
			return e;
		total += got;
		if (got < STORE_PURGE_BATCH)
			break;
	}
	if (total > 0)
		log_debug("purged %zu receipted observations", total);
	if (n != NULL)
		*n = total;
	return FW_OK;
}

/* ---- downlink --------------------------------------------------------------------- */

fw_err
store_feed_cursor(struct agent *a, uint64_t *cursor)
{
	int64_t c;
	fw_err e;

	e = db_int(a, "SELECT COALESCE(MAX(cursor), 0) FROM feed", NULL, 0, &c,
	    "feed");
	*cursor = e == FW_OK ? (uint64_t)c : 0;
	return e;
}

fw_err
store_feed_add(struct agent *a, uint64_t cursor, const char *kind,
    const uint8_t *msg, size_t len)
{
	static const struct {
		const char *kind, *field;
	} refs[] = {
		{"task", "task"}, {"notice", "notice"},
		{"feedback", "observation"},
	};
	const char *ref = NULL;
	json_t *root, *body;
	sqlite3_stmt *st;
	fw_err e;

	if (cursor == 0 || cursor > FW_MAX_SEQ)
		return fw_seterr(FW_ERR_FIELD_RANGE, "feed: cursor %llu, expected "
		    "1..%llu", (unsigned long long)cursor,
		    (unsigned long long)FW_MAX_SEQ);
	if (kind == NULL || *kind == '\0' || strlen(kind) > FW_MAX_CODE)
		return fw_seterr(FW_ERR_FIELD_VALUE, "feed: bad message kind");
	if (msg == NULL || len == 0 || len > STORE_FEED_MAX)
		return fw_seterr(FW_ERR_LIMIT, "feed: message of %zu bytes, "
		    "expected 1..%u", len, STORE_FEED_MAX);
	if ((e = jsonx_load(msg, len, &root)) != FW_OK)
		return fw_errctx(e, "feed: message %llu", (unsigned long long)cursor);
	if (!json_is_object(root)) {
		json_decref(root);
		return fw_seterr(FW_ERR_JSON, "feed: message %llu is not an object",
		    (unsigned long long)cursor);
	}
	body = json_object_get(root, "body");
	for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
		if (strcmp(kind, refs[i].kind) == 0)
			ref = json_string_value(json_object_get(body, refs[i].field));
	if ((e = db_prep(a, "INSERT OR IGNORE INTO feed (cursor, kind, ref,"
	    " message, received) VALUES (?1, ?2, ?3, ?4, ?5)", &st,
	    "feed")) == FW_OK) {
		sqlite3_bind_int64(st, 1, (int64_t)cursor);
		bind_text(st, 2, kind);
		bind_text(st, 3, ref);
		sqlite3_bind_text(st, 4, (const char *)msg, (int)len,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
		e = db_done(a, st, "feed");
		sqlite3_finalize(st);
	}
	json_decref(root);
	return e;
}

fw_err
store_feed_list(struct agent *a, const char *kind, store_feed_fn fn, void *ctx)
{
	sqlite3_stmt *st;
	const char *m;
	json_t *msg;
	fw_err e;
	int rc;

	if ((e = db_prep(a, "SELECT f.cursor, f.message, t.obs FROM feed f"
	    " LEFT JOIN tasks_done t ON f.kind = 'task' AND t.task = f.ref"
	    " WHERE f.kind = ?1 ORDER BY f.cursor", &st, "feed")) != FW_OK)
		return e;
	bind_text(st, 1, kind);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		m = col_text(st, 1);
		if (m == NULL || jsonx_load(m, strlen(m), &msg) != FW_OK) {
			log_warnx("feed: stored message %lld is unreadable",
			    (long long)sqlite3_column_int64(st, 0));
			continue;
		}
		e = fn(ctx, (uint64_t)sqlite3_column_int64(st, 0), msg,
		    col_text(st, 2));
		json_decref(msg);
		if (e != FW_OK)
			break;
	}
	return db_rows_done(a, st, rc, e, "feed");
}

fw_err
store_task_done(struct agent *a, const char *task, const char *obs_id)
{
	char id[FW_ID_HEX + 1];
	sqlite3_stmt *st;
	int64_t seq, known;
	int status;
	fw_err e;

	if (task == NULL || !code_valid(task))
		return fw_seterr(FW_ERR_FIELD_VALUE, "tasks done: '%.40s' is not a "
		    "task id", task != NULL ? task : "");
	if ((e = db_int(a, "SELECT COUNT(*) FROM feed WHERE kind = 'task' AND "
	    "ref = ?1", task, 0, &known, "tasks done")) != FW_OK)
		return e;
	if (known == 0)
		return fw_seterr(FW_ERR_NOT_FOUND, "tasks done: no task '%s' was "
		    "received (see `fundwatch-agent tasks`)", task);
	if ((e = obs_resolve(a, obs_id, &seq, &status, id)) != FW_OK)
		return fw_errctx(e, "tasks done");
	if ((e = db_prep(a, "INSERT OR REPLACE INTO tasks_done (task, obs, at)"
	    " VALUES (?1, ?2, ?3)", &st, "tasks done")) != FW_OK)
		return e;
	bind_text(st, 1, task);
	bind_text(st, 2, id);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	e = db_done(a, st, "tasks done");
	sqlite3_finalize(st);
	return e;
}

/* ---- sync state and counts ----------------------------------------------------------- */

fw_err
store_sync_state_get(struct agent *a, struct store_sync_state *s)
{
	char *r = NULL;

	memset(s, 0, sizeof *s);
	s->last_attempt = meta_int(a, "sync_last_attempt", 0);
	s->last_success = meta_int(a, "sync_last_success", 0);
	s->last_ok = meta_int(a, "sync_last_ok", 0) != 0;
	s->next_attempt = meta_int(a, "sync_next_attempt", 0);
	s->clock_offset = meta_int(a, "clock_offset", 0);
	if (meta_get(a, "clock_offset", &r) == FW_OK) {
		s->has_clock_offset = 1;
		free(r);
		r = NULL;
	}
	if (meta_get(a, "sync_last_result", &r) == FW_OK) {
		snprintf(s->last_result, sizeof s->last_result, "%s", r);
		free(r);
	}
	return FW_OK;
}

fw_err
store_sync_state_put(struct agent *a, const struct store_sync_state *s)
{
	fw_err e;

	if ((e = db_begin(a, "sync state")) != FW_OK)
		return e;
	if ((e = meta_set_int(a, "sync_last_attempt", s->last_attempt)) != FW_OK ||
	    (e = meta_set_int(a, "sync_last_success", s->last_success)) != FW_OK ||
	    (e = meta_set_int(a, "sync_last_ok", s->last_ok)) != FW_OK ||
	    (e = meta_set_int(a, "sync_next_attempt", s->next_attempt)) != FW_OK ||
	    (e = meta_set(a, "sync_last_result", s->last_result)) != FW_OK ||
	    (s->has_clock_offset &&
	    (e = meta_set_int(a, "clock_offset", s->clock_offset)) != FW_OK) ||
	    (e = db_commit(a, "sync state")) != FW_OK) {
		db_rollback(a);
		return e;
	}
	return FW_OK;
}

fw_err
store_clock_note(struct agent *a, int64_t server_time)
{
	return meta_set_int(a, "clock_offset", server_time - (int64_t)time(NULL));
}

fw_err
store_counts(struct agent *a, struct store_counts *c)
{
	static const struct {
		const char *sql;
		size_t off;
	} q[] = {
		{"SELECT COUNT(*) FROM obs WHERE status = 0",
		    offsetof(struct store_counts, pending_obs)},
		{"SELECT COALESCE(SUM(e.blob_size), 0) FROM evidence e JOIN obs o"
		    " ON o.seq = e.obs_seq WHERE o.status = 0",
		    offsetof(struct store_counts, pending_bytes)},
		{"SELECT COUNT(*) FROM bundles WHERE receipted IS NULL",
		    offsetof(struct store_counts, unreceipted_bundles)},
		{"SELECT COALESCE(SUM(blob_bytes), 0) FROM bundles WHERE"
		    " receipted IS NULL",
		    offsetof(struct store_counts, unreceipted_bytes)},
		{"SELECT COUNT(*) FROM obs WHERE status = 2",
		    offsetof(struct store_counts, receipted_obs)},
		{"SELECT COUNT(*) FROM obs WHERE status = 3",
		    offsetof(struct store_counts, purged_obs)},
		{"SELECT COUNT(*) FROM obs WHERE status = 4",
		    offsetof(struct store_counts, refused_obs)},
	};
	int64_t v;
	fw_err e;

	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
		if ((e = db_int(a, q[i].sql, NULL, 0, &v, "status")) != FW_OK)
			return e;
		*(uint64_t *)(void *)((char *)c + q[i].off) = (uint64_t)v;
	}
	return FW_OK;
}

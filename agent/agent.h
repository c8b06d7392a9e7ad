/*
 * agent.h: fundwatch-agent, the field daemon.  Every struct and function of
 * the agent is declared here, grouped by the file that defines it.
 *
 * Shape: main.c parses the command line (cmd.c holds the subcommands).
 * store.c owns the data folder: SQLite (WAL, synchronous=FULL) and the
 * blob folder of age-encrypted evidence; nothing else writes there.
 * net.c is the HTTPS client (libcurl multi, pinned CA, signed requests);
 * sync.c drives one sync pass over it (seal, offer, upload, commit,
 * receipt, feed) and daemon.c the `run` loop (one poll loop: curl multi,
 * timers, the nudge socket of the subcommands).
 *
 * Data folder (default /var/lib/fundwatch-agent, $FUNDWATCH_AGENT_DATA):
 *   agent.db             SQLite: enrollment, observations, evidence index,
 *                        bundles, receipts, feed
 *   device.key           Ed25519 private key (0600)
 *   ca.pem               the office CA pinned at enrollment
 *   blobs/<sha256>       evidence as age files to the office recipient
 *   tmp/                 blobs being written (removed at start-up)
 *   outbox/              bundles sealed for export
 *   run.sock             the daemon's nudge socket
 *
 * Life of an observation: captured (seq assigned, content durable) ->
 * evidence attached (only while unsealed) -> sealed into a bundle (the hash
 * chain's prev fixed, in seq order) -> offered, blobs uploaded, committed
 * -> receipt verified (server key) -> purged after the retention time
 * (evidence and text deleted; id, seq, times, receipt and status kept).
 */
#ifndef FW_AGENT_H
#define FW_AGENT_H

#include <stdint.h>

#include <sqlite3.h>

#include "fw.h"

#include <jansson.h>

/*
 * config.c: the agent's configuration file (inih, checked by the table in
 * config.c).  A missing file is fine: every setting has a default.
 * Paths: --config, else $FUNDWATCH_AGENT_CONFIG, else AGENT_CONFIG_DEFAULT;
 * the data folder: --data, else $FUNDWATCH_AGENT_DATA, else the file's
 * data_dir, else AGENT_DATA_DEFAULT.
 */
#define AGENT_CONFIG_DEFAULT	"/etc/fundwatch/agent.conf"
#define AGENT_DATA_DEFAULT	"/var/lib/fundwatch-agent"

struct agent_config {
	char *data_dir;			/* "" = AGENT_DATA_DEFAULT */
	char *server_url;		/* "" = the URL given at enrollment */
	int64_t sync_interval;		/* seconds between daemon passes */
	uint64_t chunk_size;		/* upload chunk, 4 KiB..FW_MAX_CHUNK */
	uint64_t bandwidth;		/* bytes/s cap on uploads, 0 = none */
	int64_t retention;		/* seconds kept after a receipt, then purged */
	int64_t bundle_max_obs;		/* observations per bundle, 1..256 */
	uint64_t bundle_max_bytes;	/* evidence (blob) bytes per bundle; one
					 * observation always fits */
	char *log_file;			/* "" = stderr/syslog */
};

/* Defaults into a zeroed c. */
fw_err config_defaults(struct agent_config *c);
/* Defaults, then the file at path over them; a missing file is not an
 * error (*found, may be NULL, says whether it was read).  FW_ERR_CONFIG
 * naming the file and line on a bad setting.  c is zeroed, or was loaded
 * before (its strings are freed first). */
fw_err config_load(struct agent_config *c, const char *path, int *found);
/* The config path (argument, environment, default) and the data folder
 * (argument, environment, config, default); never NULL. */
const char *config_path(const char *arg);
const char *config_data_dir(const struct agent_config *c, const char *arg);
/* Deep copy of src into a zeroed dst. */
fw_err config_copy(struct agent_config *dst, const struct agent_config *src);
/* Write a commented file holding every default (`config --write-defaults`). */
fw_err config_write_defaults(const char *path);
void config_free(struct agent_config *c);

/*
 * store.c: the data folder.  Everything durable goes through here (see the
 * top comment): SQLite in WAL with synchronous=FULL, busy timeout, one
 * transaction per change; evidence streamed through age_enc to
 * tmp/<random> (64 KiB buffer, flock'd while written), fsync'd, renamed to
 * blobs/<sha256 of the age file>, folder fsync'd, then its row committed.
 * A crash leaves at worst an orphan blob, which agent_open deletes.
 * Several processes (the daemon and the subcommands) may hold the store at
 * once; SQLite serializes the writers.
 */

/* Enrollment facts, NULL/0 until enrolled. */
struct agent {
	char *datadir;
	struct agent_config cfg;
	sqlite3 *db;
	int enrolled;
	int revoked;			/* a verified revocation was stored */
	char device_id[ED25519_DEVICE_ID_LEN + 1];
	char *supervisor;		/* supervisor id from enrollment */
	struct ed25519_key *key;	/* private; NULL if not enrolled, revoked
					 * or unreadable (see key_err) */
	fw_err key_err;			/* why key is NULL while enrolled */
	uint8_t office_recipient[AGE_KEY_LEN];
	char office_recipient_str[96];	/* "age1..." */
	struct ed25519_key *receipt_key;/* server's public receipt key */
	uint8_t receipt_pub[ED25519_PUB_LEN];
	char *server_url;		/* cfg.server_url if set, else enrolled */
	char *profile;			/* policy profile name */
	uint64_t chunk_size;		/* server's at enrollment, else cfg */
	char *key_path;			/* DATADIR/device.key */
	char *ca_path;			/* DATADIR/ca.pem */
	char *sock_path;		/* DATADIR/run.sock */
};

/*
 * Open (or create, 0700) the data folder and its database, create the
 * schema, remove stale tmp/ files and orphan blobs (files no evidence row
 * names, that no writer holds), load the enrollment facts and the device
 * key.  cfg is copied (NULL = defaults).  A key that cannot be loaded is
 * not an error here: a->key stays NULL and a->key_err says why.
 */
fw_err agent_open(const char *datadir, const struct agent_config *cfg,
    struct agent **out);
void agent_close(struct agent *a);

/* What enroll.c learnt from a successful POST /v1/enroll. */
struct store_enrollment {
	const char *device_id;		/* 32 hex; must match the key's id */
	const char *supervisor;
	const char *server_url;
	const char *office_recipient;	/* "age1..." */
	const uint8_t *receipt_key;	/* 32 raw bytes */
	const char *profile;
	const char *taxonomy_json;	/* the answer's "taxonomy" array, as JSON */
	size_t taxonomy_len;
	const uint8_t *ca_pem;		/* written to ca.pem; NULL = keep the
					 * one pinned before, if any */
	size_t ca_len;
	uint64_t chunk_size;		/* 0 = cfg's */
	int64_t server_time;		/* 0 = unknown; else notes the clock offset */
};
/*
 * Record an enrollment durably (ca.pem first, then one transaction) and
 * load it into a.  The key must already be at a->key_path (enroll.c writes
 * it with ed25519_save_private); it is loaded if a->key is NULL, and its
 * device id must equal e->device_id (FW_ERR_KEY otherwise).  Clears a
 * stored revocation.  Pending observations stay: they are sealed with the
 * new key, their seq chain continues.
 */
fw_err store_enroll_save(struct agent *a, const struct store_enrollment *e);
/* Overwrite device.key with zeros, fsync, unlink, fsync the folder; frees
 * a->key.  FW_OK if there was no key file. */
fw_err store_key_destroy(struct agent *a);
/*
 * A verified revocation: destroy the private key (store_key_destroy) and
 * mark the device revoked with reason.  Observations stay.  Bundles sealed
 * before stay exportable (export-bundle writes them as they are); pending
 * observations can no longer be signed, so they stay in the store,
 * encrypted, until the device is enrolled again (`enroll --force`), when
 * they are sealed with the new key.
 */
fw_err store_revoked(struct agent *a, const char *reason);

/* The enrolled taxonomy: codes with their Chinese and English names. */
struct store_category {
	char code[FW_MAX_CODE + 1];
	char *zh, *en;
};
/* *out (caller frees with store_categories_free) and *n; FW_ERR_NOT_FOUND
 * if not enrolled. */
fw_err store_categories(struct agent *a, struct store_category **out,
    size_t *n);
void store_categories_free(struct store_category *c, size_t n);

/* One file to attach: kind and media type guessed from the extension
 * when kind < 0 / media_type NULL. */
struct store_file {
	const char *path;
	int kind;			/* enum fw_evidence_kind, or -1 */
	const char *media_type;		/* NULL = guess */
};
/*
 * Capture one observation.  o holds what the user gave (captured, place,
 * subject, categories, what, severity, task; no evidence, id, seq or
 * prev): it is checked against the protocol's limits, the enrolled
 * taxonomy and the declared conflicts (FW_ERR_POLICY: recusal), files are
 * encrypted into blobs, then the observation and its evidence rows are
 * committed at once.  id gets the new observation id.  Nothing is left on
 * failure (at worst an orphan blob after a crash).
 */
fw_err store_observe(struct agent *a, const struct fw_obs *o,
    const struct store_file *files, size_t nfiles, int move,
    char id[FW_ID_HEX + 1]);
/* Attach files to an observation; all or nothing.  While it is unsealed
 * they join it (newid "", what must be NULL; FW_ERR_LIMIT past
 * FW_MAX_EVIDENCE).  Once it is sealed (its bundle is signed) they go in
 * a new observation that supplements it (PROTOCOL.md section 5) with the
 * same subject, place, categories, severity and task, and `what` (NULL:
 * a sentence naming the original): newid gets its id.  FW_ERR_NOT_FOUND
 * if unknown, FW_ERR_FORBIDDEN if purged.  With move, each source is
 * unlinked after the commit. */
fw_err store_attach(struct agent *a, const char *obs_id, const char *what,
    const struct store_file *files, size_t nfiles, int move,
    char newid[FW_ID_HEX + 1]);
/* Guess from a file name's extension: kind (-1 if unknown) and media
 * type ("application/octet-stream" if unknown). */
int store_guess_kind(const char *path);
const char *store_guess_media_type(const char *path);

/* Observation states, in order of life. */
enum store_status {
	STORE_CAPTURED,		/* durable, unsealed: evidence may be added */
	STORE_SEALED,		/* in a bundle, prev fixed */
	STORE_RECEIPTED,	/* a verified receipt names it */
	STORE_PURGED,		/* text and evidence deleted after retention */
	STORE_REFUSED,		/* a verified receipt names it refused: kept */
};
const char *store_status_name(enum store_status s);

/* A row of `list` / the header of `show`. */
struct store_obs_info {
	char id[FW_ID_HEX + 1];
	uint64_t seq;
	int64_t captured;
	enum store_status status;
	char bundle[SHA256_HEX + 1];	/* "" if unsealed */
	int64_t receipted;		/* 0 if not */
	int64_t purged;			/* 0 if not */
	size_t nevidence;
	uint64_t evidence_bytes;	/* blob bytes */
	char refusal[256];		/* "error: message" if refused, else "" */
	char supplements[FW_ID_HEX + 1];	/* "" or the observation it adds to */
};
typedef fw_err (*store_obs_fn)(void *ctx, const struct store_obs_info *i);
/* Every observation in seq order (at most limit, 0 = all). */
fw_err store_list(struct agent *a, size_t limit, store_obs_fn fn, void *ctx);
/* One observation: info, and (unless purged) its content in *o (id, seq,
 * prev if sealed, evidence...); clear o with bundle_obs_clear. */
fw_err store_show(struct agent *a, const char *obs_id,
    struct store_obs_info *info, struct fw_obs *o);

/*
 * Seal the pending observations in seq order into ONE bundle: at most
 * max_obs (0 or more than FW_MAX_OBSERVATIONS: FW_MAX_OBSERVATIONS) and
 * max_bytes of evidence (0: no bound; the first observation always fits),
 * shrunk until the container fits FW_MAX_BUNDLE.
 * Each prev is the hash of the observation before (the last sealed one, or
 * 64 zeros for seq 1); bundle_seq increases; created = now.  The container
 * is stored and the observations marked sealed in one transaction.
 * *sealed = 0 (and bundle_id "") if nothing is pending.  FW_ERR_KEY if the
 * device has no key (not enrolled, or revoked).
 */
fw_err store_seal(struct agent *a, size_t max_obs, uint64_t max_bytes,
    char bundle_id[SHA256_HEX + 1], int *sealed);
/* Seal until nothing is pending (bounded by the number pending); *n gets
 * the number of bundles made. */
fw_err store_seal_all(struct agent *a, size_t *n);

/* A sealed bundle. */
struct store_bundle {
	uint64_t seq;			/* bundle_seq */
	char id[SHA256_HEX + 1];
	int64_t created;
	size_t nobs;
	uint64_t blob_bytes;		/* its evidence */
	struct buf container;		/* FWB1 bytes; the caller's to buf_free */
};
/*
 * The unreceipted bundle with the smallest bundle_seq > after (0 = from
 * the start), container loaded into b->container (which it initializes);
 * FW_ERR_NOT_FOUND when there is none.  No statement stays open between
 * calls, so the caller may write (store_receipt) in between.
 */
fw_err store_bundle_next(struct agent *a, uint64_t after,
    struct store_bundle *b);
/* Every unreceipted bundle in bundle_seq order through fn (one container
 * in memory at a time; fn's error stops the walk and is returned). */
typedef fw_err (*store_bundle_fn)(void *ctx, const struct store_bundle *b);
fw_err store_bundles_unreceipted(struct agent *a, store_bundle_fn fn,
    void *ctx);
/* The blobs a bundle names, each once: hex and blob size. */
typedef fw_err (*store_blob_fn)(void *ctx, const char *hex, uint64_t size);
fw_err store_bundle_blobs(struct agent *a, const char *bundle_id,
    store_blob_fn fn, void *ctx);
/* DATADIR/blobs/<hex> (FW_ERR_INVALID if hex is not 64 lowercase hex,
 * FW_ERR_LIMIT if outsz is short); its size on disk (FW_ERR_NOT_FOUND). */
fw_err store_blob_path(struct agent *a, const char *hex, char *out,
    size_t outsz);
fw_err store_blob_size(struct agent *a, const char *hex, uint64_t *size);

/*
 * Record a receipt answer (the whole JSON answer of offer or commit, after
 * sync.c verified its signature): checks that its receipt names bundle_id,
 * stores it, marks the bundle receipted, the observations it names
 * receipted at now and those it refuses refused (logged; *refused, may be
 * NULL, gets how many).  Idempotent.  Purge is separate.
 */
fw_err store_receipt(struct agent *a, const char *bundle_id,
    const uint8_t *answer, size_t len, size_t *refused);
/* Purge observations receipted more than cfg.retention before now: their
 * text and evidence rows go, then each blob file no captured or sealed
 * observation still names.  *n (may be NULL) gets how many. */
fw_err store_purge(struct agent *a, int64_t now, size_t *n);

/* Downlink.  The cursor of the last stored message (0 if none). */
fw_err store_feed_cursor(struct agent *a, uint64_t *cursor);
/* Store one verified message (its whole JSON object); a cursor already
 * stored is ignored (FW_OK).  kind is "feedback", "task", "notice",
 * "revocation" or a kind this version does not know (kept, not shown). */
fw_err store_feed_add(struct agent *a, uint64_t cursor, const char *kind,
    const uint8_t *msg, size_t len);
/* Messages of one kind, oldest first, as parsed JSON objects. */
typedef fw_err (*store_feed_fn)(void *ctx, uint64_t cursor, json_t *msg,
    const char *done_obs);
fw_err store_feed_list(struct agent *a, const char *kind, store_feed_fn fn,
    void *ctx);
/* Mark task id answered locally by observation obs_id. */
fw_err store_task_done(struct agent *a, const char *task, const char *obs_id);

/* Sync bookkeeping for `status`; sync.c writes it after every pass. */
struct store_sync_state {
	int64_t last_attempt;		/* device clock; 0 = never */
	int64_t last_success;		/* 0 = never */
	int last_ok;			/* the last attempt succeeded */
	char last_result[256];		/* "ok: 2 bundles, 3 blobs" or the error */
	int64_t next_attempt;		/* 0 = not scheduled */
	int has_clock_offset;
	int64_t clock_offset;		/* server clock - device clock, seconds */
};
fw_err store_sync_state_get(struct agent *a, struct store_sync_state *st);
fw_err store_sync_state_put(struct agent *a, const struct store_sync_state *st);
/* Note the server's clock (Unix seconds) against the device's now. */
fw_err store_clock_note(struct agent *a, int64_t server_time);

/* Pending (captured, unsealed) observations and their blob bytes; sealed
 * but unreceipted bundles and their blob bytes. */
struct store_counts {
	uint64_t pending_obs, pending_bytes;
	uint64_t unreceipted_bundles, unreceipted_bytes;
	uint64_t receipted_obs, purged_obs;
	uint64_t refused_obs;		/* kept, the office refused them */
};
fw_err store_counts(struct agent *a, struct store_counts *c);

/* Declared conflicts of interest (recusal, QY art 8(5), GP art 9(3)).  A
 * subject matches an observation's institution code (case-insensitive)
 * or its name, both normalized (trimmed, ASCII case-folded, whitespace
 * collapsed). */
fw_err store_conflict_add(struct agent *a, const char *subject,
    const char *reason);
fw_err store_conflict_remove(struct agent *a, const char *subject);
typedef fw_err (*store_conflict_fn)(void *ctx, const char *subject,
    const char *reason, int64_t added);
fw_err store_conflict_list(struct agent *a, store_conflict_fn fn, void *ctx);
/* FW_OK if no declared conflict covers (name, institution); else
 * FW_ERR_POLICY naming the declared subject. */
fw_err store_conflict_check(struct agent *a, const char *name,
    const char *institution);
/* out gets the normalized form of s (at most outsz - 1 bytes). */
void store_normalize(const char *s, char *out, size_t outsz);

/* Parse a decimal degree string exactly ("-33.8688", "151.2093") into
 * degrees * 10^7 in integer arithmetic: digits past the seventh decimal
 * round half away from zero.  FW_ERR_FIELD_VALUE for anything but
 * [+-]digits[.digits] (at most 32 characters), FW_ERR_FIELD_RANGE for
 * |v| > limit_e7; name ("--lat") starts the message. */
fw_err store_parse_e7(const char *name, const char *s, int64_t limit_e7,
    int32_t *out);

/*
 * cmd.c: the subcommands (observe, attach, list, show, status, categories,
 * conflicts, feedback, tasks, notices, export-bundle, config).  Each takes the
 * parsed global options and its own argv (argv[0] is the subcommand) and
 * returns the process exit status: 0 ok, 1 failure (message printed), 2
 * usage.  main.c dispatches through cmd_table.
 */
struct agent_opts {
	const char *config;		/* --config, or NULL */
	const char *data;		/* --data, or NULL */
	int json;			/* --json: machine-readable output */
	int verbose;
};
struct cmd {
	const char *name;
	int (*fn)(const struct agent_opts *, int argc, char **argv);
	const char *help;		/* one line for the usage */
};
extern const struct cmd cmd_table[];	/* ends with a NULL name */
/* Load the config and open the store as the options say; prints the
 * error and returns NULL on failure. */
struct agent *cmd_open(const struct agent_opts *o);
/* Print e (fw_errmsg) as "fundwatch-agent: what: message" or, with json,
 * {"error":..., "message":...}; returns 1. */
int cmd_fail(const struct agent_opts *o, const char *what, fw_err e);
int cmd_observe(const struct agent_opts *, int, char **);
int cmd_attach(const struct agent_opts *, int, char **);
int cmd_list(const struct agent_opts *, int, char **);
int cmd_show(const struct agent_opts *, int, char **);
int cmd_status(const struct agent_opts *, int, char **);
int cmd_categories(const struct agent_opts *, int, char **);
int cmd_conflicts(const struct agent_opts *, int, char **);
int cmd_feedback(const struct agent_opts *, int, char **);
int cmd_tasks(const struct agent_opts *, int, char **);
int cmd_notices(const struct agent_opts *, int, char **);
int cmd_export_bundle(const struct agent_opts *, int, char **);
int cmd_config(const struct agent_opts *, int, char **);
/* `observe`'s arguments, parsed and checked (everything but the taxonomy
 * and the conflicts, which need the store): argv[0] is "observe".  Each
 * refusal has its own code and names the option (FW_ERR_FIELD_MISSING,
 * _VALUE, _LENGTH, _RANGE, FW_ERR_UTF8; FW_ERR_INVALID for usage).  Paths
 * point into argv; free with cmd_observe_req_free. */
struct observe_req {
	struct fw_obs o;
	struct store_file files[FW_MAX_EVIDENCE];
	size_t nfiles;
	int move;
	int help;
	struct agent_opts opts;		/* --json, --config, --data given here */
};
fw_err cmd_observe_args(int argc, char **argv, struct observe_req *r);
void cmd_observe_req_free(struct observe_req *r);
/* export-bundle's work: seal what is pending (if the key is there), write
 * each unreceipted bundle and the blobs it names into dir, durably;
 * list (may be NULL) gets one object per bundle. */
fw_err cmd_export(struct agent *a, const char *dir, size_t *nbundles,
    size_t *nblobs, json_t *list);
/*
 * enroll.c, sync.c and daemon.c (the sync engineer's) provide `enroll`,
 * `sync` and `run` with the same signature as cmd.fn, which cmd_table
 * names:
 *   int enroll_main(const struct agent_opts *, int argc, char **argv);
 *   int sync_main(const struct agent_opts *, int argc, char **argv);
 *   int daemon_main(const struct agent_opts *, int argc, char **argv);
 * and cmd.c calls daemon_nudge(a) after every capture (errors ignored).
 */

/* ---- net.c: the HTTPS client (libcurl multi, pinned CA, signed requests) */

#include <signal.h>

#define NET_ANSWER_MAX		(4u << 20)	/* bytes of an answer body kept */
#define NET_CONNECT_TIMEOUT	20	/* seconds for TCP and TLS to connect */
#define NET_LOW_SPEED_LIMIT	16	/* bytes/s below which, for ... */
#define NET_LOW_SPEED_TIME	60	/* ... this many seconds, a transfer fails */
#define NET_MAX_TIME		3600	/* seconds one request may take at most */
#define NET_WAIT_SLICE_MS	1000	/* longest single poll of the wait loop */

struct net;

/* Body bytes of the current request sent so far (progress bars). */
typedef void (*net_progress_fn)(void *ctx, uint64_t sent);
/* One of the caller's extra descriptors is ready (polled while waiting). */
typedef void (*net_fd_fn)(void *ctx, int fd, short revents);

struct net_opts {
	const char *url;		/* "https://HOST[:PORT][/PREFIX]" */
	const char *ca_path;		/* the pinned CA (PEM); the only trust */
	const struct ed25519_key *key;	/* device key (borrowed); NULL: requests
					 * are not signed (enrollment) */
	const char *device_id;
	int64_t clock_offset;		/* server - device clock, for FW-Time */
	uint64_t max_send_speed;	/* bytes/s, 0 = no cap */
	volatile sig_atomic_t *stop;	/* when set: abandon the transfer */
	const int *fds;			/* at most 8 descriptors polled for input */
	size_t nfds;			/*   while waiting; on_fd is called when */
	net_fd_fn on_fd;		/*   one is ready */
	void *fd_ctx;
};

/* One answer.  err is FW_OK for a 2xx; otherwise the error's code (the
 * answer's "error" name, else by HTTP status), and msg says what. */
struct net_answer {
	long status;			/* HTTP status; 0 if no answer came */
	fw_err err;
	char msg[FW_ERRMSG_MAX];
	json_t *json;			/* the body if a JSON object, else NULL */
	struct buf body;		/* raw body, at most NET_ANSWER_MAX */
	int64_t server_time;		/* FW-Server-Time, 0 if absent */
	int64_t retry_after;		/* Retry-After in seconds, -1 if absent */
	uint64_t sent;			/* request body bytes sent */
	int transport;			/* no HTTP answer: network, TLS, local */
	int tls;			/* the certificate did not verify */
	int interrupted;		/* the stop flag ended it */
	int truncated;			/* the answer passed NET_ANSWER_MAX */
};

/* The headers of a signed request (protocol 4). */
struct net_auth {
	char time[24];			/* FW-Time */
	char nonce[FW_NONCE_HEX + 1];	/* FW-Nonce */
	char signature[96];		/* FW-Signature, base64 */
};

/* The six-line signing string of protocol 4 appended to out; body may be
 * NULL (the empty string's hash). */
fw_err net_signing_string(const char *method, const char *target,
    const char *fwtime, const char *nonce, const void *body, size_t n,
    struct buf *out);
/* Sign a request at device time t with nonce (32 lowercase hex). */
fw_err net_sign(const struct ed25519_key *k, const char *method,
    const char *target, int64_t t, const char *nonce, const void *body,
    size_t n, struct net_auth *out);
/* A client for o->url (https only; FW_ERR_CONFIG otherwise).  Strings
 * are copied; key, stop and fds are borrowed. */
fw_err net_new(const struct net_opts *o, struct net **out);
void net_free(struct net *n);
void net_set_key(struct net *n, const struct ed25519_key *k,
    const char *device_id);
void net_set_clock_offset(struct net *n, int64_t off);
int64_t net_clock_offset(const struct net *n);
void net_set_progress(struct net *n, net_progress_fn fn, void *ctx);
void net_answer_init(struct net_answer *a);
void net_answer_clear(struct net_answer *a);	/* frees, stays usable */
/*
 * One request: target is the path and query under the URL ("/v1/feed?
 * after=0&limit=100"); body (may be NULL) is borrowed for the transfer.
 * Waits in the multi loop until done, the stop flag or NET_MAX_TIME.
 * Returns a->err (fw_errmsg and a->msg say what went wrong).
 */
fw_err net_request(struct net *n, const char *method, const char *target,
    const char *content_type, const void *body, size_t len,
    struct net_answer *a);
/* The same with len bytes of the file fd from off as the body, streamed
 * from the file (hashed first, then read again as curl sends it): memory
 * does not grow with the chunk size. */
fw_err net_request_fd(struct net *n, const char *method, const char *target,
    const char *content_type, int fd, uint64_t off, uint64_t len,
    struct net_answer *a);
/* Worth retrying later (protocol 10): network failures, 5xx, 429 and the
 * retry codes; never a certificate that does not verify. */
int net_retryable(const struct net_answer *a);
/* Wait ms milliseconds in the same loop (extra descriptors served);
 * FW_ERR_UNAVAILABLE if the stop flag is set meanwhile. */
fw_err net_sleep(struct net *n, int64_t ms);

/* ---- sync.c: one sync pass (seal, offer, upload, commit, feed, purge) */

#define SYNC_BACKOFF_MIN_MS	1000		/* first retry after ~1 s */
#define SYNC_BACKOFF_MAX_MS	(15 * 60 * 1000)	/* never longer than 15 min */
#define SYNC_RETRY_AFTER_MAX	86400		/* seconds of Retry-After honoured */
#define SYNC_PASS_WAIT_MS	30000	/* retry waits inside one pass, total */
#define SYNC_TRIES		6	/* attempts of one request in a pass */
#define SYNC_MAX_BUNDLES	4096	/* bundles sealed or sent in one pass */
#define SYNC_FEED_PAGES		64	/* feed pages (of 100) read in a pass */
#define SYNC_FEED_LIMIT		100

/* What a pass did, for `sync --json`, `status` and the daemon's timer. */
struct sync_report {
	size_t sealed;			/* bundles sealed */
	size_t skipped;			/* bundles of an earlier key, not sent */
	size_t bundles;			/* bundles receipted */
	size_t observations;		/* observations receipted */
	size_t refused;			/* of which the office refused */
	size_t blobs;			/* blobs completed by our uploads */
	uint64_t bytes_sent;		/* every request body byte sent */
	uint64_t blob_bytes;		/* of which blob chunk bytes */
	size_t feed;			/* downlink messages stored */
	size_t feed_dropped;		/* messages whose signature failed */
	size_t purged;			/* observations purged */
	int revoked;			/* a verified revocation arrived */
	int refused_revoked;		/* the server refuses us as revoked */
	fw_err err;			/* FW_OK, or the first error */
	int retryable;			/* err is worth retrying soon */
	int64_t retry_after;		/* seconds the server asked for, -1 */
	char msg[FW_ERRMSG_MAX];	/* err's message */
};

/* How the caller runs a pass: its stop flag, descriptors to serve while
 * waiting (daemon), and whether to draw a progress bar on stderr. */
struct sync_ctl {
	volatile sig_atomic_t *stop;
	const int *fds;
	size_t nfds;
	net_fd_fn on_fd;
	void *fd_ctx;
	int progress;
};

/* Delay before retry number `failures` (1 = the first): exponential from
 * SYNC_BACKOFF_MIN_MS, doubling, capped at SYNC_BACKOFF_MAX_MS, then
 * "equal jitter" from rnd: a value in [d/2, d]. */
int64_t sync_backoff_ms(unsigned failures, uint32_t rnd);
/*
 * Verify a receipt answer (offer or commit, protocol 8.4): a JSON object
 * with "state":"committed", "receipt" and "signature", the signature by
 * rk over the canonical bytes of "receipt", which must be version 1 and
 * name bundle_id, device_id and exactly the observations obs[0..nobs)
 * (every one, no other, none twice).  FW_ERR_SIGNATURE / FW_ERR_FIELD_*
 * with a message naming what is wrong.
 */
fw_err sync_verify_receipt(const struct ed25519_key *rk, const char *bundle_id,
    const char *device_id, const char *const *obs, size_t nobs,
    const uint8_t *answer, size_t len);
/* Verify a downlink message (protocol 9): signature by rk over the
 * canonical bytes of the message without "signature", addressed to
 * device_id, a positive cursor and a kind.  *cursor and *kind (pointing
 * into msg) are set on success. */
fw_err sync_verify_message(const struct ed25519_key *rk, const char *device_id,
    const json_t *msg, uint64_t *cursor, const char **kind);
/*
 * One pass over the agent's store: seal what is pending, send every
 * unreceipted bundle in order (offer, missing blobs in chunks from the
 * server's offset, commit, verified receipt), read the feed, purge.
 * Retries within the pass per protocol 10 (clock_skew corrected at once).
 * Takes DATADIR/sync.lock (FW_ERR_EXISTS if another pass holds it).
 * Returns r->err; r says what was done even on failure.
 */
fw_err sync_pass(struct agent *a, const struct sync_ctl *c, struct sync_report *r);
/* `sync [--json] [--quiet]`: one pass now. */
int sync_main(const struct agent_opts *o, int argc, char **argv);

/* ---- enroll.c: `enroll --server URL --code CODE [--ca FILE] [--force]` */

/* The proof string of protocol 3 appended to out. */
fw_err enroll_proof_string(const char *code, const char *pubkey_b64,
    struct buf *out);
int enroll_main(const struct agent_opts *o, int argc, char **argv);

/* ---- daemon.c: `run [-d] [-v]`, the poll loop, the nudge socket */

/* Tell a running daemon to sync soon: connect to DATADIR/run.sock, write
 * a byte, close.  Silent if no daemon listens. */
void daemon_nudge(struct agent *a);
int daemon_main(const struct agent_opts *o, int argc, char **argv);

#endif

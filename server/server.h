/*
 * server.h: fundwatch-server, the central office's server.  Every struct and
 * function of the server is declared here, grouped by the file that defines
 * it, so that the whole program can be learnt from this one file.
 *
 * Shape: main.c parses the command line.  `run` starts http.c (libevent's
 * evhttp over OpenSSL bufferevents: TLS, HTTP parsing, limits, timeouts),
 * which turns each request into a struct api_req and hands it to api.c
 * (routing, request authentication, JSON answers).  api.c calls ingest.c
 * (enrollment, offer, upload, commit, feed), which is the only code that
 * touches the store: db.c (SQLite, WAL), blob.c (content-addressed blob
 * folder), audit.c (hash-chained log).  The admin subcommands (admin.c) and
 * import-bundle use the same ingest.c and registry.c on the data folder
 * directly.  The api_req/api_resp pair is the message interface between the
 * network-facing front and the store: it carries plain bytes, so the two can
 * be split into processes without changing either side.
 *
 * Data folder (made by `init`, see init.c):
 *   fundwatch.conf        server configuration (inih, commented defaults)
 *   profile.conf          the policy profile chosen at init (editable copy)
 *   holidays.txt          the working-day calendar's holiday list
 *   fundwatch.db          SQLite database (WAL)
 *   blobs/xx/<sha256>     evidence blobs (age files), blobs/partial/<sha256>
 *   keys/office.key       office age identity (0600); office.pub recipient
 *   keys/receipt.key      server Ed25519 receipt key (0600); receipt.pub
 *   tls/ca.pem ca.key     private CA (key 0600); tls/server.pem server.key
 *   run/port run/pid      written by `run`
 */
#ifndef FW_SERVER_H
#define FW_SERVER_H

#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

#include "fw.h"

/* ---- config.c: fundwatch.conf --------------------------------------- */

struct srv_config {
	char *listen;			/* "127.0.0.1:8443"; port 0 allowed */
	int64_t max_connections;
	int64_t timeout;		/* seconds: idle/slow connection limit */
	uint64_t max_chunk;		/* upload body cap, <= FW_MAX_CHUNK */
	uint64_t disk_reserve;		/* refuse writes below this free space */
	int64_t grace;			/* seconds: late sync after a term ended */
	int64_t enroll_ttl;		/* seconds an enrollment code lives */
	char *log_file;			/* "" = syslog (or stderr with -d) */
};

extern const struct conf_entry srv_config_table[];
extern const size_t srv_config_table_len;

/* ---- profile.c: policy profiles (server/profiles/*.conf) -------------- */
/* (owned by the profile/registry work; see profile.c) */

struct profile;

/* ---- init.c: `init`, the data folder, keys, CA and TLS certificate ---- */
/* (owned by the init/http work; see init.c) */

/* ---- http.c: the HTTPS front (libevent evhttp + OpenSSL) -------------- */
/* (owned by the init/http work; see http.c) */

/* ---- api.c: request -> answer, the message interface ------------------ */

#define API_MAX_HEADER 128

struct api_req {
	const char *method;		/* "GET", "POST", "PUT" */
	const char *target;		/* path and query exactly as sent */
	const char *fw_device;		/* FW-* headers, NULL if absent */
	const char *fw_time;
	const char *fw_nonce;
	const char *fw_signature;
	const char *content_type;
	const uint8_t *body;
	size_t bodylen;
	const char *peer;		/* "127.0.0.1:50432", for logs */
};

struct api_resp {
	int status;
	const char *content_type;	/* "application/json" */
	struct buf body;
};

/* Answer one request.  rs->body is initialised by the caller with a cap
 * (buf_init) and filled here; rs->status is always set.  Never fails:
 * errors become the protocol's JSON error bodies. */
void api_handle(struct server *s, const struct api_req *rq, struct api_resp *rs);

/* ---- server.c: the open data folder ----------------------------------- */

struct server {
	char *datadir;
	struct srv_config cfg;
	struct profile *profile;
	sqlite3 *db;
	struct ed25519_key *receipt_key;
	uint8_t office_identity[AGE_KEY_LEN];
	uint8_t office_recipient[AGE_KEY_LEN];
	volatile int draining;		/* set on SIGTERM: answer "unavailable" */
};

/* Open the data folder made by `init`: config, profile, database, keys.
 * Errors name the file and what is wrong with it. */
fw_err server_open(const char *datadir, struct server **out);
void server_close(struct server *s);
/* Path of a file in the data folder ("keys/office.key"); static buffer per
 * call site is not used: out must hold PATH_MAX bytes. */
void server_path(const struct server *s, const char *rel, char *out, size_t outsz);

#endif

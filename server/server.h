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

#include <stdarg.h>
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

/* ---- profile.c: policy profiles (server/profiles/) -------------- */
/*
 * A profile is one regulation as data (the file format is documented at
 * the top of server/profiles/qingyuan.conf).  Loaded once, then read-only:
 * callers read the fields below and never change them.  Every text is
 * valid UTF-8 without control characters; every code is 1..FW_MAX_CODE
 * characters of [A-Za-z0-9._-]; each list keeps the file's order.
 */

#define PROFILE_FILE_MAX	(256u << 10)	/* bytes of a profile file */
#define PROFILE_LIST_MAX	256		/* entries of each list */
#define PROFILE_TEXT_MAX	190		/* bytes of a label or citation */
#define PROFILE_NONE		(-1)		/* "none" for an optional number */
#define PROFILE_YUAN_MAX	INT64_C(100000000)	/* largest amount, yuan */

/* Whom a violation category may be raised against (bit set). */
enum profile_subject {
	PROFILE_SUBJ_INSTITUTION = 1 << 0,	/* pharmacy, hospital, clinic */
	PROFILE_SUBJ_INSURED = 1 << 1,		/* insured_person */
	PROFILE_SUBJ_AGENCY = 1 << 2,		/* insurance_agency and staff */
	PROFILE_SUBJ_OTHER = 1 << 3,
};

/* What a termination reason does to the dates (see rules.c). */
enum profile_term_kind {
	PROFILE_TERM_CAUSE,		/* takes effect on the day recorded */
	PROFILE_TERM_RESIGNATION,	/* notice_months after the request */
	PROFILE_TERM_EXPIRY,		/* only after the term's last day */
	PROFILE_TERM_OTHER,		/* needs a note saying why */
};

/* Fields common to every list entry. */
struct profile_entry {
	char code[FW_MAX_CODE + 1];
	char *zh, *en;			/* labels */
	char *article;			/* "QY art 5(1)1" */
	int line;			/* line of its [section] in the file */
};

struct profile_category {		/* [category CODE] */
	struct profile_entry e;
	unsigned applies;		/* enum profile_subject bits, never 0 */
	char *equivalent;		/* same item in another profile; NULL */
};

struct profile_eligibility {		/* [eligibility CODE] */
	struct profile_entry e;
	int required;			/* must be attested at appointment */
};

struct profile_method {			/* [method CODE] */
	struct profile_entry e;
};

struct profile_termination {		/* [termination CODE] */
	struct profile_entry e;
	enum profile_term_kind kind;
	int notice_months;		/* resignation: months of notice, 0..12 */
};

struct profile_grade {			/* [grade CODE]: a reward grade */
	struct profile_entry e;
	int64_t percent_bp;		/* 1/100 % of the verified amount;
					   PROFILE_NONE: the officer enters it */
	int64_t floor_fen;		/* least reward of this grade */
};

struct profile_appointment {		/* [appointment] */
	int term_years;			/* 1..10 */
	int renewal;			/* a term may be renewed */
	int renewal_consent;		/* renewal needs the supervisor's consent */
	int lapse;			/* the term ends by itself on its last day */
	int age_min, age_max;		/* completed years, both inclusive */
	int age_exception;		/* an exception with a reason may widen them */
	int exception_age_min;		/* bounds with an exception; */
	int exception_age_max;		/*   PROFILE_NONE: no bound */
	char *term_article, *renewal_article, *lapse_article, *age_article;
	char *exception_article;	/* NULL without age_exception */
};

struct profile_deadlines {		/* [deadlines], working days */
	int info_change;		/* report a change of information; 0 = none */
	int decide;			/* receipt -> decide whether to open a case */
	int notify;			/* decision -> tell a real-name reporter */
	int finish;			/* opening -> finished */
	int extension;			/* working days one extension adds */
	int extensions;			/* extensions allowed */
	char *info_change_article, *handling_article;
};

struct profile_reward {			/* [reward] */
	int64_t min_fen, max_fen;	/* bounds of any reward */
	char *article;
};

struct profile {
	char *path;			/* the name given to the loader */
	char *name;			/* "qingyuan" */
	char *city, *title;
	struct profile_appointment appt;
	struct profile_deadlines deadlines;
	struct profile_reward reward;
	struct profile_category *categories;
	size_t ncategories;
	struct profile_eligibility *eligibility;
	size_t neligibility;
	struct profile_method *methods;
	size_t nmethods;
	struct profile_termination *terminations;
	size_t nterminations;
	struct profile_grade *grades;
	size_t ngrades;
};

/* Read and check a profile file (at most PROFILE_FILE_MAX bytes).  Any
 * error is FW_ERR_CONFIG with "path:line: what is wrong, expected what"
 * (FW_ERR_NOT_FOUND if the file is absent); nothing is allocated then. */
fw_err profile_load(const char *path, struct profile **out);
/* The same over len bytes in memory; name stands for the path. */
fw_err profile_load_mem(const char *name, const void *data, size_t len,
    struct profile **out);
void profile_free(struct profile *p);
/*
 * `init --profile ARG`: ARG holding a '/' or ending in ".conf" is a file
 * path, copied to out as is; otherwise it names a built-in profile
 * ("qingyuan", "gaoping"), looked for as NAME.conf in $FW_PROFILE_DIR if
 * set, else in server/profiles/ beside or above the running binary, else
 * in ../share/fundwatch/profiles/ beside it.  FW_ERR_NOT_FOUND names
 * every place looked.  out holds outlen (PATH_MAX) bytes.
 */
fw_err profile_resolve(const char *arg, char *out, size_t outlen);
/* Entries by code, NULL if none. */
const struct profile_category *profile_category(const struct profile *p,
    const char *code);
const struct profile_eligibility *profile_eligibility(const struct profile *p,
    const char *code);
const struct profile_method *profile_method(const struct profile *p,
    const char *code);
const struct profile_termination *profile_termination(const struct profile *p,
    const char *code);
const struct profile_grade *profile_grade(const struct profile *p,
    const char *code);
/* enum profile_subject bit for a protocol subject kind ("pharmacy"), 0 for
 * an unknown kind; a category fits a subject if its applies has that bit. */
unsigned profile_subject_bit(const char *kind);
/* True if s is a code: 1..FW_MAX_CODE characters of [A-Za-z0-9._-]. */
int profile_code_valid(const char *s);
/* The taxonomy for enrollment: [{"code","zh","en"}, ...] in file order;
 * *out is the caller's to json_decref. */
fw_err profile_taxonomy_json(const struct profile *p, json_t **out);

/* ---- calendar.c: dates and the working-day calendar ------------------ */

/*
 * A day is a count of days since 1970-01-01 in the proleptic Gregorian
 * calendar: exact arithmetic, no time zone.  The office's days are
 * Asia/Shanghai dates (UTC+8 all year, no daylight saving since 1991).
 * Days handled are those of years CAL_YEAR_MIN..CAL_YEAR_MAX.
 */
typedef int64_t cal_day;

#define CAL_NONE		INT64_MIN	/* no day */
#define CAL_YEAR_MIN		1900
#define CAL_YEAR_MAX		9999
#define CAL_DATE_LEN		11		/* "YYYY-MM-DD" and a NUL */
#define CALENDAR_FILE_MAX	(1u << 20)
#define CALENDAR_MAX_ENTRIES	20000		/* days listed in a file */
#define CALENDAR_MAX_RANGE	366		/* days in one "A..B" line */
#define CALENDAR_MAX_ADD	10000		/* working days one call may add */

/* The day of y-m-d; FW_ERR_INVALID for a date that does not exist or a
 * year outside CAL_YEAR_MIN..CAL_YEAR_MAX. */
fw_err calendar_day(int y, int m, int d, cal_day *out);
void calendar_ymd(cal_day day, int *y, int *m, int *d);
/* Strict "YYYY-MM-DD" (zero-padded, nothing around it). */
fw_err calendar_parse(const char *s, cal_day *out);
/* "YYYY-MM-DD" into out; returns out. */
char *calendar_format(cal_day day, char out[CAL_DATE_LEN]);
int calendar_is_leap(int year);
/* 1 = Monday .. 7 = Sunday. */
int calendar_weekday(cal_day day);
/* The Asia/Shanghai date at Unix time t (UTC+8, fixed). */
cal_day calendar_china_day(int64_t t);
/* The day `months` months after day: the same day of the month, or the
 * month's last day if it has none (31 Jan + 1 month = 28/29 Feb), which is
 * how 民法典 art 202 ends a period counted in months or years. */
cal_day calendar_add_months(cal_day day, int64_t months);
cal_day calendar_add_years(cal_day day, int64_t years);

/* Weekends plus a list of holidays and of make-up working days (调休). */
struct calendar;

/* A calendar with weekends only. */
fw_err calendar_new(struct calendar **out);
/*
 * Read a holiday list (at most CALENDAR_FILE_MAX bytes, UTF-8): one entry
 * a line, "#" starts a comment:
 *   2024-02-12                  a holiday
 *   2024-02-10..2024-02-17      holidays, both ends included
 *   holiday 2024-02-12          the same, spelt out
 *   workday 2024-02-04          a weekend day that is worked (调休)
 * A day listed twice, a workday on a weekday, a bad date: FW_ERR_CONFIG
 * with "path:line: ...".  FW_ERR_NOT_FOUND if the file is absent.
 */
fw_err calendar_load(const char *path, struct calendar **out);
fw_err calendar_load_mem(const char *name, const void *data, size_t len,
    struct calendar **out);
void calendar_free(struct calendar *cal);
int calendar_is_working_day(const struct calendar *cal, cal_day day);
/* The day on which n (0..CALENDAR_MAX_ADD) working days after start have
 * passed, start not counted (民法典 art 201): the n-th working day after
 * start; start itself for n = 0.  FW_ERR_INVALID for n out of range. */
fw_err calendar_add_working_days(const struct calendar *cal, cal_day start,
    int64_t n, cal_day *out);
/* Working days d with from < d <= to; minus those with to < d <= from if
 * to < from. */
int64_t calendar_working_days_between(const struct calendar *cal, cal_day from,
    cal_day to);

/* ---- rules.c: appointment rules over a profile (no database) --------- */

/*
 * Pure functions: a profile and dates in, a decision out.  A refusal is
 * FW_ERR_POLICY with a message that opens with the article ("QY art 2(2):
 * age 61 at appointment is over 60; ..."), set with fw_seterr and, if why
 * is not NULL, copied there too (whylen bytes, truncated).
 */

/* Completed years at day of someone born on birth, -1 if day < birth.  One
 * year older on each birthday; a 29 Feb birthday falls on 1 Mar in common
 * years (the day 29 Feb would have been). */
int rules_age(cal_day birth, cal_day day);

struct rules_appointment {
	cal_day birth;
	cal_day start;			/* day of appointment */
	const char *method;		/* a method code of the profile */
	const char *exception;		/* reason for an age exception, or NULL */
	const char *const *attested;	/* eligibility codes attested */
	size_t nattested;
};
/* May this appointment be made?  Unknown method or eligibility code,
 * a required attestation missing, an age outside the bounds (without an
 * exception with a reason, or outside the exception's bounds): policy. */
fw_err rules_check_appointment(const struct profile *p,
    const struct rules_appointment *a, char *why, size_t whylen);

/* Last day of a term that starts on start: the same date term_years later
 * (民法典 art 201-202: the start day is not counted, the period ends on
 * the corresponding day); a 29 Feb start ends on 28 Feb in a common year. */
cal_day rules_term_end(const struct profile *p, cal_day start);

/* Renewal of a term [start, end] recorded on day: allowed by the profile,
 * consent given where needed, the term not lapsed (lapsing profiles: day
 * after end).  The new term starts on the old last day and ends
 * rules_term_end of it; *new_end (may be NULL) gets that. */
fw_err rules_check_renewal(const struct profile *p, cal_day end, cal_day day,
    int consent, cal_day *new_end, char *why, size_t whylen);

enum rules_state {
	RULES_NOT_STARTED,		/* day before the start */
	RULES_ACTIVE,			/* start <= day <= end, not terminated */
	RULES_OVERDUE,			/* past end, not lapsing, not terminated:
					   still appointed, awaiting renewal or
					   termination (QY art 11(6)) */
	RULES_LAPSED,			/* past end of a lapsing profile (GP art 7) */
	RULES_TERMINATED,		/* on or after the termination took effect */
};
/* State on day of an appointment [start, end] terminated with effect from
 * terminated (the first day no longer appointed; CAL_NONE if not). */
enum rules_state rules_state(const struct profile *p, cal_day start,
    cal_day end, cal_day terminated, cal_day day);
/* True for RULES_ACTIVE and RULES_OVERDUE: may capture, may enroll. */
int rules_appointed(enum rules_state st);
const char *rules_state_name(enum rules_state st);

struct rules_termination {
	const char *reason;		/* a termination code of the profile */
	cal_day recorded;		/* day the office records it; for a
					   resignation, the day it was asked */
	cal_day wanted;			/* effective day asked for; CAL_NONE =
					   the earliest the reason allows */
	cal_day term_end;		/* last day of the current term */
	const char *note;		/* why; required for kind "other" */
	const char *exception;		/* reason for waiving a notice period */
};
/* Check a termination and compute the first day no longer appointed:
 *   cause        recorded (or wanted, if later)
 *   resignation  recorded + notice_months (earlier only with an exception)
 *   expiry       term_end + 1 at the earliest; refused before term_end
 *   other        as cause, with a note required. */
fw_err rules_check_termination(const struct profile *p,
    const struct rules_termination *t, cal_day *effective, char *why,
    size_t whylen);
/* Day by which a change of a supervisor's information is reported (GP art
 * 7: 20 working days); FW_ERR_NOT_FOUND if the profile sets no deadline. */
fw_err rules_info_change_due(const struct profile *p,
    const struct calendar *cal, cal_day changed, cal_day *due);
/* Reward for a report verified at verified_fen (0..10^14): the grade's
 * percentage rounded down to the fen, raised to the grade's floor and the
 * profile's minimum, capped at its maximum.  FW_ERR_POLICY for a grade
 * with no percentage (the officer enters the sum: rules_check_reward). */
fw_err rules_reward(const struct profile *p, const char *grade,
    int64_t verified_fen, int64_t *reward_fen, char *why, size_t whylen);
/* An entered reward within the profile's bounds? */
fw_err rules_check_reward(const struct profile *p, int64_t reward_fen,
    char *why, size_t whylen);

/* ---- init.c: `init`, the data folder, keys, CA and TLS certificate ---- */
/*
 * `fundwatch-server init --data DIR --profile NAME|FILE [--hostname NAME]...`
 * (argv[0] is "init").  Makes a new data folder as laid out at the top of
 * this file; refuses an existing DIR unless it is an empty folder, never
 * overwrites a file, and on any failure removes what it made.  Prints what
 * it made, the office recipient, the CA fingerprint and the next command.
 * Returns the exit status: 0, 1 on failure, 2 on a usage error.
 */
int init_main(int argc, char **argv);

/* ---- tls.c: the private CA, the server certificate, TLS contexts ----- */

typedef struct ssl_ctx_st SSL_CTX;	/* as <openssl/types.h> has it */

#define TLS_CA_DAYS		3650	/* private CA: 10 years */
#define TLS_CERT_DAYS		825	/* server certificate */
#define TLS_MAX_NAMES		32	/* --hostname arguments */
#define TLS_NAME_MAX		253	/* bytes of a DNS name */
#define TLS_FINGERPRINT_LEN	95	/* "AB:CD:...": 32 bytes, 31 colons */

/* FW_OK if name can go in a certificate: a DNS name (letters, digits, '-'
 * and '.', labels of 1..63 bytes, an optional leading "*."), or an IPv4
 * or IPv6 address; FW_ERR_INVALID naming what is wrong otherwise. */
fw_err tls_check_name(const char *name);
/* Make a private CA: an ECDSA P-256 key and a self-signed X509v3
 * certificate (CA:TRUE, pathlen 0, keyCertSign and cRLSign, TLS_CA_DAYS)
 * with the common name cn.  Writes keyfile (PEM PKCS#8, 0600) and
 * certfile (PEM, 0644) durably; FW_ERR_EXISTS if either exists, and
 * nothing is left behind on failure. */
fw_err tls_make_ca(const char *certfile, const char *keyfile, const char *cn);
/* Make a server certificate signed by the CA in cacert/cakey for the n
 * names (each checked by tls_check_name; IP addresses become IP SANs),
 * plus DNS:localhost, IP:127.0.0.1 and IP:::1, with serverAuth EKU,
 * TLS_CERT_DAYS.  Same files, modes and refusals as tls_make_ca. */
fw_err tls_make_cert(const char *cacert, const char *cakey,
    const char *const *names, size_t n, const char *certfile,
    const char *keyfile);
/* SHA-256 fingerprint of the first certificate in certfile, upper-case
 * hex pairs joined by ':' (as `openssl x509 -fingerprint -sha256`). */
fw_err tls_fingerprint(const char *certfile, char out[TLS_FINGERPRINT_LEN + 1]);
/* A server context for certfile (the chain, leaf first) and keyfile
 * (refused with FW_ERR_KEY_PERMS if group or others can read it): TLS 1.2
 * minimum, 1.3 preferred, ECDHE AEAD suites only for 1.2, no compression,
 * no renegotiation.  The caller frees it with SSL_CTX_free. */
fw_err tls_server_ctx(const char *certfile, const char *keyfile,
    SSL_CTX **out);

/* ---- http.c: the HTTPS front (libevent evhttp + OpenSSL) -------------- */
struct server;

#define HTTP_MAX_HEADERS	(16u << 10)	/* request line + headers */
#define HTTP_MAX_RESPONSE	(4u << 20)	/* cap of api_resp.body */
#define HTTP_BODY_SLACK		(64u << 10)
/* Request bytes held in memory: a connection may hold HTTP_BODY_FREE
 * without asking; past that it needs one of HTTP_BODY_SLOTS (each room
 * for a whole body of http_max_body()), or waits with reading paused. */
#define HTTP_BODY_FREE		(64u << 10)
#define HTTP_BODY_SLOTS		12
#define HTTP_MIN_RATE		1024	/* bytes/s a request earns past timeout */
#define HTTP_DRAIN_SECONDS	10	/* SIGTERM: longest wait for requests */
#define HTTP_ESCALATE_SECONDS	600	/* overdue cases swept this often */

/* Largest request body evhttp reads: max(max_chunk, FW_MAX_BUNDLE) +
 * HTTP_BODY_SLACK.  A larger one is answered 413 by evhttp itself, with
 * its own HTML body (libevent 2.1 has no hook for it): clients go by the
 * status (PROTOCOL.md section 10).  Bodies under it reach api_handle,
 * which enforces each route's own limit with a JSON limit_exceeded. */
uint64_t http_max_body(const struct srv_config *cfg);
/* FW_OK if listen is a numeric "a.b.c.d:port" or "[v6]:port" (port
 * 0..65535), FW_ERR_CONFIG naming what is wrong otherwise. */
fw_err http_check_listen(const char *listen);
/*
 * Serve HTTPS on s->cfg.listen until SIGTERM.  Writes the bound port to
 * DATADIR/run/port and the pid to run/pid (held locked: a second server
 * on the same folder is refused); both are removed on a clean exit.
 * Without foreground it detaches (daemon(3)) once the socket is bound.
 * SIGTERM stops accepting, sets s->draining, closes idle connections,
 * lets a request already begun arrive and be answered (with "Connection:
 * close"; HTTP_DRAIN_SECONDS at most) and returns 0; SIGHUP reopens the
 * log file.  Returns 1 if it cannot start.
 */
int http_run(struct server *s, int foreground);
/* `fundwatch-server run [--data DIR] [-d] [-v] [-n]` (argv[0] is "run"):
 * DIR defaults to $FUNDWATCH_DATA, then /var/lib/fundwatch.  Returns the
 * exit status. */
int run_main(int argc, char **argv);

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
	const char *authorization;	/* the office API's "Bearer <token>" */
	const uint8_t *body;
	size_t bodylen;
	const char *peer;		/* "127.0.0.1:50432", for logs */
};

struct server;

struct api_resp {
	int status;
	const char *content_type;	/* "application/json" */
	struct buf body;
	/*
	 * A streamed body instead of body (evidence: any size, never held
	 * whole).  With stream set, stream_fd is an open file the caller
	 * of api_handle owns and closes; its bytes from the current offset
	 * to the end are the body, sent in chunks as the client reads
	 * them, and age-decrypted on the way with s->office_identity if
	 * decrypt is set.  A failure part way (a corrupt age payload, a
	 * read error) closes the connection before the end of the chunked
	 * body, so that the client cannot take a prefix for the whole.
	 */
	int stream;
	int stream_fd;
	int decrypt;
};

/* Answer one request.  rs->body is initialised by the caller with a cap
 * (buf_init) and filled here; rs->status is always set.  Never fails:
 * errors become the protocol's JSON error bodies. */
void api_handle(struct server *s, const struct api_req *rq, struct api_resp *rs);
/*
 * api_handle in three steps, so that the check of a request's signature
 * (hashing its body, an Ed25519 verification: pure computation, a good
 * part of a request's time) can run on another thread while the loop
 * serves other requests.  api_begin (the loop) answers into rs and
 * returns 0, or returns 1 with job filled: then api_verify(rq, job), on
 * any thread, and api_end (the loop) answers.  rq and what it points to
 * must stay until api_end.
 */
struct api_job {
	int route;
	int verify;			/* set by api_begin */
	char path[512];
	const char *query;		/* in rq->target */
	uint8_t pub[ED25519_PUB_LEN];
	uint8_t sig[ED25519_SIG_LEN];
	char bodyhash[SHA256_HEX + 1];	/* set by api_verify */
	fw_err e;			/* api_verify's verdict */
	char msg[FW_ERRMSG_MAX];	/* and its message */
};
int api_begin(struct server *s, const struct api_req *rq, struct api_job *job,
    struct api_resp *rs);
void api_verify(const struct api_req *rq, struct api_job *job);
void api_end(struct server *s, const struct api_req *rq, const struct api_job *job,
    struct api_resp *rs);
/* rs gets e's JSON error body (PROTOCOL.md section 10: "error",
 * "message" from fw_errmsg()) with the fields of extra (may be NULL). */
void api_error(struct api_resp *rs, fw_err e, json_t *extra);
/* rs gets ans (canonical JSON, 200) if e is FW_OK, else as api_error. */
void api_answer(struct api_resp *rs, fw_err e, json_t *ans);

/* ---- db.c: SQLite (WAL, synchronous=FULL) ----------------------------- */

fw_err db_open(const char *path, int create, sqlite3 **out);
fw_err db_error(sqlite3 *db, const char *what);
fw_err db_exec(sqlite3 *db, const char *sql);
fw_err db_begin(sqlite3 *db);		/* BEGIN IMMEDIATE */
fw_err db_commit(sqlite3 *db);		/* rolls back if COMMIT fails */
void db_lazy(sqlite3 *db, int lazy);	/* commits without fsync, or back */
void db_rollback(sqlite3 *db);		/* no-op outside a transaction */
/* fmt: one letter per argument: 's' string (NULL -> NULL), 'i' int64_t,
 * 'b' pointer then size_t, 'n' NULL. */
fw_err db_prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql,
    const char *fmt, ...);
fw_err db_run(sqlite3 *db, const char *sql, const char *fmt, ...);
fw_err db_runv(sqlite3 *db, const char *sql, const char *fmt, va_list ap);
void db_cache(sqlite3 *db, int on);	/* keep db_run's statements, or drop them */
/* Group commit: with db_group(db, 1), commits are not synced one by one;
 * db_unsynced says one that wanted durability waits, db_sync syncs them
 * all.  No answer may promise durability while db_unsynced(db). */
fw_err db_group(sqlite3 *db, int on);
int db_unsynced(sqlite3 *db);
fw_err db_sync(sqlite3 *db);

/* ---- audit.c: the hash-chained audit log ------------------------------ */

/* Append an entry (inside the caller's transaction if one is open; else in
 * its own).  detail is borrowed.  seq_out/hash_out may be NULL. */
fw_err audit_append(sqlite3 *db, const char *actor, const char *action,
    const char *subject, json_t *detail, int64_t *seq_out,
    char hash_out[SHA256_HEX + 1]);
/* Recompute the chain; FW_ERR_CHAIN naming the first bad entry. */
fw_err audit_verify(sqlite3 *db, int64_t *count);

/* ---- blob.c: the content-addressed blob store ----------------------- */

void blob_path(const struct server *s, const char *hex, int partial, char *out,
    size_t outsz);
/* FW_ERR_NOSPACE if writing `more` bytes would pass the disk reserve. */
fw_err blob_check_space(const struct server *s, uint64_t more);
/* Bytes held of blob hex, and whether it is whole. */
fw_err blob_held(const struct server *s, const char *hex, uint64_t *held,
    int *complete);
/* Write bytes [offset, offset+n) of a blob of the given size (protocol 8.2):
 * overlap compared (FW_ERR_CONFLICT), offset past held (FW_ERR_OFFSET),
 * rest appended and synced; when whole, hash-checked (FW_ERR_HASH_MISMATCH
 * discards it) and moved into place.  p_sha256 (may be NULL) is the
 * SHA-256 of p[0..n): the hash of the blob when p is all of it. */
fw_err blob_write(const struct server *s, const char *hex, uint64_t size,
    uint64_t offset, const uint8_t *p, size_t n, const char *p_sha256,
    uint64_t *held, int *complete);
/* A partial blob that holds all its bytes (a crash came before the move
 * into place): hash-check and move it now, or discard it (*held = 0). */
fw_err blob_settle(const struct server *s, const char *hex, uint64_t size,
    uint64_t *held, int *complete);
/* Note a whole blob in the `blobs` table: lazily alone, else in the
 * caller's transaction; blob_index_bundle notes every blob of b's
 * observations (they are whole when it commits). */
fw_err blob_index(const struct server *s, const char *hex, uint64_t size);
fw_err blob_index_bundle(const struct server *s, const struct fw_bundle *b);

/* ---- registry.c: supervisors, terms, devices -------------------------- */

/* China-local day ("YYYY-MM-DD") of a Unix time: the office's dates are
 * Asia/Shanghai, UTC+8 all year. */
void registry_day(int64_t t, char out[11]);
/* The term of supervisor sup active at time t (not terminated by then):
 * its last day and the Unix time that day ends (China time); either may be
 * NULL.  FW_ERR_NOT_APPOINTED naming the day if there is none. */
fw_err registry_term_at(struct server *s, const char *sup, int64_t t,
    char end[11], int64_t *end_t);

/* ---- ingest.c: enrollment and the sync protocol ------------------------ */

/* Each returns the answer in *ans; on some errors *ans holds extra fields
 * for the error body (offset, missing).  auth_device is the device that
 * signed the request, or NULL for import-bundle. */
fw_err ingest_enroll(struct server *s, const uint8_t *body, size_t n, json_t **ans);
fw_err ingest_offer(struct server *s, const char *auth_device, const uint8_t *p,
    size_t n, json_t **ans);
fw_err ingest_upload(struct server *s, const char *device, const char *blob,
    uint64_t offset, const uint8_t *p, size_t n, json_t **ans);
/* The same, given p_sha256, the SHA-256 (hex) of p[0..n) if the caller
 * has it (NULL if not): a blob sent whole in one chunk is not hashed
 * again. */
fw_err ingest_upload_hashed(struct server *s, const char *device, const char *blob,
    uint64_t offset, const uint8_t *p, size_t n, const char *p_sha256, json_t **ans);
fw_err ingest_commit(struct server *s, const char *auth_device, const char *bundle,
    json_t **ans);
/* When o was captured, as best the server knows at now: the device's
 * clock put right by the manifest's clock_offset, and not after now. */
int64_t ingest_captured(const struct fw_manifest *m, const struct fw_obs *o,
    int64_t now);
fw_err ingest_feed(struct server *s, const char *device, int64_t after,
    int64_t limit, json_t **ans);
fw_err ingest_feed_post(struct server *s, const char *device, const char *kind,
    json_t *body);
/* A one-time enrollment code for a supervisor ("XXXX-XXXX-XXXX"). */
fw_err ingest_new_code(struct server *s, const char *supervisor, int64_t ttl,
    char code[15], int64_t *expires);

/* ---- case.c: units, officers, cases, routing, deadlines, rewards ------ */
/*
 * Casework (issue 6).  Every accepted observation is a clue; clues about
 * the same institution with a shared category within the merge window
 * (meta "case.merge_days", default CASE_MERGE_DAYS) form one case, routed
 * by data (route rules) to a unit and, inside it, to the officer with the
 * fewest open cases who has declared no conflict with the institution.
 *
 * Every function that acts for an officer takes `who` (from
 * officer_check_password or officer_get; admin subcommands pass
 * officer_cli()), checks the action's roles and the case's unit against
 * case_acl (FW_ERR_FORBIDDEN naming the role and unit otherwise), does
 * the change in one transaction with its audit entry (ids, codes and
 * amounts only: never clue text, findings or names), and posts a signed
 * "feedback" downlink message to each reporting device when the change
 * concerns the clues (QY art 7(3); GP art 8(6), 12, 13).  Answers are
 * JSON (json_t *, the caller's to json_decref) so that the office API
 * can send them as they are.
 *
 * Feedback body (PROTOCOL.md section 9): {"observation", "case" (integer),
 * "status", "text"} and "reward_fen" with the reward.  status is a case
 * status name, or "delayed" (an extension, text = the reason), or
 * "reward_approved" (to the first reporter only).
 */

#define CASE_MERGE_DAYS		30	/* default merge window, days */
#define CASE_MERGE_DAYS_MAX	3650
#define CASE_TEXT_MAX		4096	/* bytes of a finding or feedback text */
#define CASE_LIST_MAX		1000	/* cases one case_list answer holds */
#define CASE_PSEUDONYM_LEN	16	/* "R" and 15 hex of HMAC-SHA256 */
#define OFFICER_ID_MAX		32	/* login name: a code (profile_code_valid) */
#define OFFICER_PASSWORD_MIN	10	/* bytes */
#define OFFICER_PASSWORD_MAX	1024
#define CASE_INST_MAX		(FW_MAX_NAME + FW_MAX_PLACE + 8) /* institution key */

/* Officer roles: a bit set. */
enum officer_role {
	ROLE_ADMIN = 1 << 0,		/* units, officers, routes; reads all */
	ROLE_LIAISON = 1 << 1,		/* manages supervisors; sees real names */
	ROLE_UNIT_LEAD = 1 << 2,	/* assigns, extends; gets escalations */
	ROLE_OFFICER = 1 << 3,		/* handles cases of the unit */
	ROLE_REWARD_OFFICER = 1 << 4,	/* approves rewards; sees real names */
	ROLE_AUDITOR = 1 << 5,		/* reads and exports every case */
};
#define ROLE_ALL		0x3fu

struct unit {
	char id[FW_MAX_CODE + 1];	/* "qingcheng" */
	char *name;
	char jurisdiction[FW_MAX_CODE + 1]; /* matched by route rules */
	int city;			/* the city office: told of major clues */
};

struct officer {
	char id[OFFICER_ID_MAX + 1];
	char *name;
	char unit[FW_MAX_CODE + 1];	/* "" for the command line's officer_cli */
	unsigned roles;			/* enum officer_role bits */
	int disabled;
};

/* Case status: the set and its transitions are the table in case.c. */
enum case_status {
	CASE_RECEIVED,			/* clue in, no decision yet */
	CASE_ACCEPTED,			/* case opened: finish deadline runs */
	CASE_DECLINED,			/* not opened (with a reason) */
	CASE_INVESTIGATING,
	CASE_EVIDENCE_REQUESTED,	/* more evidence asked of the reporter */
	CASE_SUBSTANTIATED,		/* with a verified amount and a reward */
	CASE_NOT_SUBSTANTIATED,
	CASE_CLOSED,
	CASE_STATUS_COUNT_
};

/* Actions a role may take, checked by case_acl. */
enum case_action {
	CASE_ACT_READ,			/* list, show, read evidence */
	CASE_ACT_HANDLE,		/* finding, status, request evidence,
					   substantiate, escalate */
	CASE_ACT_ASSIGN,
	CASE_ACT_EXTEND,
	CASE_ACT_REWARD,		/* approve the reward */
	CASE_ACT_EXPORT,
	CASE_ACT_COUNT_
};

enum case_reward_state { CASE_REWARD_NONE, CASE_REWARD_PROPOSED,
    CASE_REWARD_APPROVED };

struct case_info {
	int64_t id;
	char unit[FW_MAX_CODE + 1];	/* "" if no route matched */
	enum case_status status;
	char assignee[OFFICER_ID_MAX + 1]; /* "" if none */
	char institution[CASE_INST_MAX + 1]; /* "code:H123" or "name:<n>|<place>" */
	char **categories;		/* codes, ncategories of them */
	size_t ncategories;
	int major;			/* a clue was marked major */
	int escalated;
	int64_t opened;			/* server time of the first clue */
	cal_day decide_by;		/* received + deadlines.decide */
	cal_day finish_by;		/* CAL_NONE until accepted */
	int extensions;			/* used, of deadlines.extensions */
	char first_obs[FW_ID_HEX + 1];	/* first reporter's observation */
	int64_t verified_fen;		/* -1 until substantiated */
	int64_t reward_fen;		/* -1 if none */
	enum case_reward_state reward_state;
	int64_t nclues;
};

struct case_filter {
	const char *unit;		/* NULL: every unit the officer may read */
	int status;			/* -1 or an enum case_status */
	int overdue;			/* only cases past a deadline */
	const char *assignee;		/* NULL: anyone */
	int64_t after_id;		/* paging: ids > after_id */
	int64_t limit;			/* 1..CASE_LIST_MAX (0 = max) */
};

struct route_rule {
	int64_t id;			/* set by route_add */
	char jurisdiction[FW_MAX_CODE + 1]; /* "*" = any; else a supervisor's unit */
	char kind[FW_MAX_CODE + 1];	/* "*" or a subject kind ("pharmacy") */
	char category[FW_MAX_CODE + 1];	/* "*" or a category code */
	char severity[FW_MAX_CODE + 1];	/* "*", "normal" or "major" */
	char unit[FW_MAX_CODE + 1];	/* where a match goes */
};

/* Names and parsing: "received", "admin", ... NULL / -1 if unknown. */
const char *case_status_name(enum case_status st);
int case_status_parse(const char *s);
const char *officer_role_name(enum officer_role r);
/* "officer,unit_lead" -> bits; FW_ERR_INVALID naming an unknown role. */
fw_err officer_roles_parse(const char *csv, unsigned *out);
/* Transition allowed by the status table? */
int case_transition_ok(enum case_status from, enum case_status to);
/* May who take act on a case of unit?  FW_ERR_FORBIDDEN saying why. */
fw_err case_acl(const struct officer *who, enum case_action act,
    const char *unit);
/* The officer the admin subcommands act as: admin and auditor (manages,
 * reads and exports every case, sees pseudonyms only; handling a case
 * needs a real officer), no unit, id from $FUNDWATCH_ACTOR or "admin".
 * Static storage. */
const struct officer *officer_cli(void);

/* Units (admin role). */
fw_err unit_add(struct server *s, const struct officer *who,
    const struct unit *u);
fw_err unit_get(struct server *s, const char *id, struct unit *out);
void unit_clear(struct unit *u);
fw_err unit_list(struct server *s, json_t **out);

/* Officers (admin role).  Passwords: scrypt (OpenSSL EVP_KDF "SCRYPT",
 * N=2^15, r=8, p=1, 16-byte random salt), stored "scrypt$N$r$p$salt$hash"
 * in hex; OFFICER_PASSWORD_MIN..MAX bytes. */
fw_err officer_add(struct server *s, const struct officer *who,
    const struct officer *o, const char *password);
fw_err officer_get(struct server *s, const char *id, struct officer *out);
void officer_clear(struct officer *o);
fw_err officer_list(struct server *s, const char *unit, json_t **out);
fw_err officer_disable(struct server *s, const struct officer *who,
    const char *id);
fw_err officer_passwd(struct server *s, const struct officer *who,
    const char *id, const char *password);
fw_err officer_set_roles(struct server *s, const struct officer *who,
    const char *id, unsigned roles);
/* Declare a conflict of interest with an institution key (recusal). */
fw_err officer_conflict_add(struct server *s, const struct officer *who,
    const char *id, const char *institution);
/* Check a login: FW_OK fills *out (officer_clear it); FW_ERR_AUTH for an
 * unknown officer, a wrong password or a disabled officer, with the same
 * message and about the same time for all three. */
fw_err officer_check_password(struct server *s, const char *id,
    const char *password, struct officer *out);

/* Routing rules (admin role).  The most specific matching rule wins (most
 * non-"*" fields, then the lowest id); no match: the city unit. */
fw_err route_add(struct server *s, const struct officer *who,
    struct route_rule *r);
fw_err route_list(struct server *s, json_t **out);
/* Where would a clue go, and why: {"unit","rule","officer","skipped":[...],
 * "notify":[...],"why":[...]}.  institution as case_institution_key. */
fw_err route_explain(struct server *s, const char *jurisdiction,
    const char *kind, const char *category, const char *severity,
    const char *institution, json_t **out);

/* Clues: called by ingest_commit inside its transaction, after
 * ingest_store, at server time now.  Each observation of b not yet a clue
 * becomes one: merged into a case or a new routed case; "received"
 * feedback is posted to the device. */
fw_err case_add_clues(struct server *s, const struct fw_bundle *b,
    const char *supervisor, int64_t now);
/* The merge key of a subject: "code:<institution>" if it has a code, else
 * "name:<normalised name>|<normalised place>" (case, spaces, punctuation
 * and full-width forms folded).  out holds CASE_INST_MAX + 1 bytes. */
void case_institution_key(const char *code, const char *name,
    const char *place, char *out);
/* The merge window in days (0..CASE_MERGE_DAYS_MAX), meta "case.merge_days";
 * setting it needs the admin role and is audited. */
fw_err case_merge_days(struct server *s, int64_t *days);
fw_err case_set_merge_days(struct server *s, const struct officer *who,
    int64_t days);
/* The stable pseudonym of a supervisor: "R" + 15 hex of HMAC-SHA256 with
 * the server secret (meta "case.secret", made on first use). */
fw_err case_pseudonym(struct server *s, const char *supervisor,
    char out[CASE_PSEUDONYM_LEN + 1]);

/* Reading (CASE_ACT_READ). */
fw_err case_get(struct server *s, int64_t id, struct case_info *out);
void case_info_clear(struct case_info *c);
fw_err case_list(struct server *s, const struct officer *who,
    const struct case_filter *f, json_t **out);
/* The case (as case_list gives it) with "clue_list": [{"observation",
 * "received","captured","subject","place","categories","what","severity",
 * "evidence":[...],"device","first","reporter"}] in order of receipt and
 * "notes": [{"officer","kind","text","at"}].  reporter is the pseudonym;
 * "reporter_name" is added for liaison and reward officers only.  The read
 * is audited ("case.read"). */
fw_err case_show(struct server *s, const struct officer *who, int64_t id,
    json_t **out);
/* May who read blob (an evidence blob of a clue of case id)?  Audits the
 * read ("case.evidence_read"); the caller then streams the blob through
 * age_decrypt_fd with s->office_identity. */
fw_err case_evidence_access(struct server *s, const struct officer *who,
    int64_t id, const char *blob);

/* Changes (CASE_ACT_HANDLE unless said). */
fw_err case_finding(struct server *s, const struct officer *who, int64_t id,
    const char *text);
/* Status to evidence_requested; feedback carries text to the reporter of
 * obs (NULL: every clue's reporter). */
fw_err case_request_evidence(struct server *s, const struct officer *who,
    int64_t id, const char *obs, const char *text);
/* Any transition of the table but to substantiated (case_substantiate);
 * accepting sets finish_by; declining needs text. */
fw_err case_set_status(struct server *s, const struct officer *who, int64_t id,
    enum case_status to, const char *text);
/* CASE_ACT_ASSIGN: to an active officer or unit lead of the case's unit
 * without a declared conflict (FW_ERR_POLICY); an admin may assign to an
 * officer of another unit, which moves the case there. */
fw_err case_assign(struct server *s, const struct officer *who, int64_t id,
    const char *officer);
fw_err case_escalate(struct server *s, const struct officer *who, int64_t id,
    const char *reason);
/* One extension of deadlines.extension working days (CASE_ACT_EXTEND);
 * reason required; "delayed" feedback to the reporters (QY art 7(3)). */
fw_err case_extend(struct server *s, const struct officer *who, int64_t id,
    const char *reason);
/* Substantiated with verified_fen (0..10^14) and a grade of the profile:
 * reward = rules_reward for the first reporter, or reward.min_fen for a
 * clue with no amount (verified_fen 0), or sum_fen (-1: none) entered by
 * the officer for a grade without a percentage, within the profile's
 * bounds (FW_ERR_POLICY outside, FW_ERR_INVALID for any other grade);
 * proposed, not yet approved. */
fw_err case_substantiate(struct server *s, const struct officer *who,
    int64_t id, int64_t verified_fen, const char *grade, int64_t sum_fen,
    const char *text);
/* CASE_ACT_REWARD: approve the proposed reward; feedback with the amount
 * to the first reporter's device. */
fw_err case_approve_reward(struct server *s, const struct officer *who,
    int64_t id);
/* Escalate every overdue case (past decide_by while received, past
 * finish_by while open) not yet escalated to its unit lead: a notification
 * and an audit entry each.  *n (may be NULL) gets how many. */
fw_err case_escalate_overdue(struct server *s, cal_day today, int64_t *n);
/* Notifications for an officer (unit lead, city office): JSON array. */
fw_err case_notifications(struct server *s, const struct officer *who,
    json_t **out);

/* Shared with export.c.  col_text: a text column, "" for NULL.  case_audit
 * appends action on "case:ID" and frees detail (NULL: out of memory).
 * case_info_json: the case as case_list gives it.  case_load_acl: case_get,
 * then case_acl for act (c cleared if refused). */
const char *col_text(sqlite3_stmt *st, int i);
fw_err case_audit(struct server *s, const char *actor, const char *action,
    int64_t id, json_t *detail);
json_t *case_info_json(const struct case_info *c, cal_day today);
fw_err case_load_acl(struct server *s, const struct officer *who, int64_t id,
    enum case_action act, struct case_info *c);

/* ---- export.c: case export and verify-export --------------------------- */

/* Export (CASE_ACT_EXPORT) into dir, which must not exist: bundles/
 * (manifest bytes, signature, receipt and its signature), devices/DEVICE.pem,
 * keys/receipt.pem, blobs/ (age files), evidence/ (decrypted), audit.jsonl,
 * SHA256SUMS, VERIFY.md with the openssl/age/sha256sum commands. */
fw_err case_export(struct server *s, const struct officer *who, int64_t id,
    const char *dir);
/* Check an export: every signature, hash and SHA256SUMS line.
 * FW_ERR_SIGNATURE / FW_ERR_HASH_MISMATCH / FW_ERR_NOT_FOUND naming the
 * first file that does not verify; *nfiles (may be NULL) files checked. */
fw_err case_verify_export(const char *dir, int64_t *nfiles);

/* ---- casecmd.c: unit, officer, route, case, verify-export -------------- */

struct admin;
int casecmd_unit(struct admin *a, int argc, char **argv);
int casecmd_officer(struct admin *a, int argc, char **argv);
int casecmd_route(struct admin *a, int argc, char **argv);
int casecmd_case(struct admin *a, int argc, char **argv);
extern const char casecmd_unit_usage[], casecmd_officer_usage[],
    casecmd_route_usage[], casecmd_case_usage[];
/* `fundwatch-server verify-export DIR` (argv[0] "verify-export"). */
int casecmd_verify_export_main(int argc, char **argv);

/* ---- office.c: the officer API under /v1/office/ (proto/OFFICE.md) ---- */
/*
 * JSON over the same HTTPS server, for a browser front end.  POST login
 * trades an officer's id and password (officer_check_password) for a
 * bearer token: OFFICE_TOKEN_BYTES random bytes, sent as 64 lowercase hex,
 * kept only as their SHA-256 with an expiry (table office_tokens).  Every
 * other endpoint wants "Authorization: Bearer <token>" (unauthenticated,
 * 401, if missing, unknown, expired, or the officer disabled since) and
 * calls case.c, which checks role and unit (forbidden, 403) and audits
 * each change and each evidence read.  Failed logins are counted per
 * officer and per peer address over OFFICE_FAIL_WINDOW (table
 * office_login_failures); past either limit a login is rate_limited (429)
 * without its password being tried.  Each failure is audited with the
 * officer's id only if that officer exists (a password typed into the id
 * field must not reach the log); tokens and passwords are never logged.
 */
#define OFFICE_TOKEN_BYTES	32
#define OFFICE_TOKEN_TTL	900	/* seconds a token lives */
#define OFFICE_TOKENS_MAX	16	/* live tokens an officer may hold */
#define OFFICE_FAIL_WINDOW	900	/* seconds failed logins are counted */
#define OFFICE_FAIL_OFFICER	5	/* failures per officer in the window */
#define OFFICE_FAIL_PEER	20	/* failures per peer address */
#define OFFICE_MAX_JSON		(64u << 10)	/* request body */

/* Answer a request whose path (without the query) starts "/v1/office/";
 * query is what follows '?' ("" if none).  Never fails: errors become
 * JSON error bodies; an evidence answer is a stream (struct api_resp). */
void office_handle(struct server *s, const struct api_req *rq,
    const char *path, const char *query, struct api_resp *rs);

/* ---- admin.c: supervisor, device, audit, import-bundle ----------------- */

/* What every admin subcommand gets (casecmd.c's too). */
struct admin {
	struct server *s;
	int json;
	const char *actor;	/* who acts: $FUNDWATCH_ACTOR or "admin" */
};

int admin_is_command(const char *group);
/* For casecmd.c's subcommands too: admin_fail prints fw_errmsg() and e's
 * name to stderr and returns 1, admin_usage prints text to stderr and
 * returns 2 (the exit statuses); admin_print_json prints o indented. */
int admin_fail(fw_err e);
int admin_usage(const char *text);
void admin_print_json(json_t *o);
/* argv[0] is the group; returns the exit status. */
int admin_main(int argc, char **argv);

/* ---- server.c: the open data folder ----------------------------------- */

struct server {
	char *datadir;
	struct srv_config cfg;
	struct profile *profile;
	sqlite3 *db;
	struct ed25519_key *receipt_key;
	uint8_t office_identity[AGE_KEY_LEN];
	uint8_t office_recipient[AGE_KEY_LEN];
	volatile int draining;		/* set on SIGTERM: in-flight requests finish */
};

/* Open the data folder made by `init`: config, profile, database, keys.
 * Errors name the file and what is wrong with it. */
fw_err server_open(const char *datadir, struct server **out);
void server_close(struct server *s);
/* The data folder: opt if given, else $FUNDWATCH_DATA, else
 * /var/lib/fundwatch. */
const char *server_datadir(const char *opt);
/* Path of a file in the data folder ("keys/office.key"); static buffer per
 * call site is not used: out must hold PATH_MAX bytes. */
void server_path(const struct server *s, const char *rel, char *out, size_t outsz);

#endif

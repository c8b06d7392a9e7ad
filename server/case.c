/*
 * case.c: what the office does with a clue (issue 6).  Units, officers and
 * their passwords, routing rules, clue-to-case merging, deadlines in
 * working days, status changes with feedback to the reporting device,
 * rewards, and the access rules every one of them applies.  The officer
 * HTTP API (office.c) and the admin subcommands (casecmd.c) both call the
 * functions here; neither touches the casework tables itself.
 *
 * The status set and its transitions, and which role may take which
 * action on a case of its own unit or of any unit, are the two tables
 * below: change them there, nowhere else.  Audit entries carry ids, codes
 * and amounts; clue text, findings and names stay in their tables.
 * Export and its verification are in export.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "server.h"

#define BIT(x)	(1u << (x))

static const char *const case_status_names[CASE_STATUS_COUNT_] = {
	"received", "accepted", "declined", "investigating",
	"evidence_requested", "substantiated", "not_substantiated", "closed",
};

/* from -> the statuses it may go to. */
static const unsigned case_transitions[CASE_STATUS_COUNT_] = {
	[CASE_RECEIVED] = BIT(CASE_ACCEPTED) | BIT(CASE_DECLINED),
	[CASE_ACCEPTED] = BIT(CASE_INVESTIGATING) | BIT(CASE_EVIDENCE_REQUESTED) |
	    BIT(CASE_SUBSTANTIATED) | BIT(CASE_NOT_SUBSTANTIATED),
	[CASE_DECLINED] = BIT(CASE_CLOSED),
	[CASE_INVESTIGATING] = BIT(CASE_EVIDENCE_REQUESTED) |
	    BIT(CASE_SUBSTANTIATED) | BIT(CASE_NOT_SUBSTANTIATED),
	[CASE_EVIDENCE_REQUESTED] = BIT(CASE_INVESTIGATING) |
	    BIT(CASE_EVIDENCE_REQUESTED) | BIT(CASE_SUBSTANTIATED) |
	    BIT(CASE_NOT_SUBSTANTIATED),
	[CASE_SUBSTANTIATED] = BIT(CASE_CLOSED),
	[CASE_NOT_SUBSTANTIATED] = BIT(CASE_CLOSED),
	[CASE_CLOSED] = 0,
};

/* Statuses in which the finish deadline runs and a case counts as open. */
#define CASE_OPEN_SQL "('received','accepted','investigating','evidence_requested')"
#define CASE_RUNNING_SQL "('accepted','investigating','evidence_requested')"

/* Who may do what: roles allowed on a case of their own unit, and roles
 * allowed on a case of any unit. */
static const struct {
	unsigned own, any;
} case_acl_table[CASE_ACT_COUNT_] = {
	[CASE_ACT_READ] = {ROLE_OFFICER | ROLE_UNIT_LEAD | ROLE_REWARD_OFFICER |
	    ROLE_LIAISON, ROLE_ADMIN | ROLE_AUDITOR},
	[CASE_ACT_HANDLE] = {ROLE_OFFICER | ROLE_UNIT_LEAD, 0},
	[CASE_ACT_ASSIGN] = {ROLE_UNIT_LEAD, ROLE_ADMIN},
	[CASE_ACT_EXTEND] = {ROLE_UNIT_LEAD, 0},
	[CASE_ACT_REWARD] = {ROLE_REWARD_OFFICER, 0},
	[CASE_ACT_EXPORT] = {ROLE_UNIT_LEAD, ROLE_ADMIN | ROLE_AUDITOR},
};

static const char *const case_action_names[CASE_ACT_COUNT_] = {
	"read", "handle", "assign", "extend", "approve the reward of", "export",
};

static const char *const officer_role_names[] = {
	"admin", "liaison", "unit_lead", "officer", "reward_officer", "auditor",
};
#define OFFICER_NROLES (sizeof officer_role_names / sizeof officer_role_names[0])

/* Who may read a reporter's real name (QY art 8(2): confidentiality). */
#define ROLE_SEES_NAMES (ROLE_LIAISON | ROLE_REWARD_OFFICER)

/* scrypt parameters for officer passwords (about 32 MiB, tens of ms). */
#define SCRYPT_N	32768
#define SCRYPT_R	8
#define SCRYPT_P	1
#define SCRYPT_SALT	16
#define SCRYPT_OUT	32

const char *
case_status_name(enum case_status st)
{
	return (unsigned)st < CASE_STATUS_COUNT_ ? case_status_names[st] : NULL;
}

int
case_status_parse(const char *s)
{
	for (int i = 0; i < CASE_STATUS_COUNT_; i++)
		if (strcmp(s, case_status_names[i]) == 0)
			return i;
	return -1;
}

const char *
officer_role_name(enum officer_role r)
{
	for (size_t i = 0; i < OFFICER_NROLES; i++)
		if ((unsigned)r == BIT(i))
			return officer_role_names[i];
	return NULL;
}

fw_err
officer_roles_parse(const char *csv, unsigned *out)
{
	char tok[64];
	const char *p = csv;
	unsigned r = 0;

	/* Bounded: each pass consumes at least one byte of csv. */
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		size_t i;

		if (n == 0 || n >= sizeof tok)
			return fw_seterr(FW_ERR_INVALID, "roles '%s': expected names "
			    "separated by ','", csv);
		memcpy(tok, p, n);
		tok[n] = '\0';
		for (i = 0; i < OFFICER_NROLES; i++)
			if (strcmp(tok, officer_role_names[i]) == 0)
				break;
		if (i == OFFICER_NROLES)
			return fw_seterr(FW_ERR_INVALID, "role '%s' unknown, expected "
			    "admin, liaison, unit_lead, officer, reward_officer or "
			    "auditor", tok);
		r |= BIT(i);
		p += n + (p[n] == ',');
	}
	if (r == 0)
		return fw_seterr(FW_ERR_INVALID, "roles: none given");
	*out = r;
	return FW_OK;
}

static json_t *
officer_roles_json(unsigned roles)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < OFFICER_NROLES; i++)
		if (roles & BIT(i))
			json_array_append_new(a, json_string(officer_role_names[i]));
	return a;
}

int
case_transition_ok(enum case_status from, enum case_status to)
{
	if ((unsigned)from >= CASE_STATUS_COUNT_ || (unsigned)to >= CASE_STATUS_COUNT_)
		return 0;
	return (case_transitions[from] & BIT(to)) != 0;
}

fw_err
case_acl(const struct officer *who, enum case_action act, const char *unit)
{
	if (who == NULL || (unsigned)act >= CASE_ACT_COUNT_)
		return fw_seterr(FW_ERR_FORBIDDEN, "no officer");
	if (who->disabled)
		return fw_seterr(FW_ERR_FORBIDDEN, "officer %s is disabled", who->id);
	if (who->roles & case_acl_table[act].any)
		return FW_OK;
	if ((who->roles & case_acl_table[act].own) && who->unit[0] != '\0' &&
	    strcmp(who->unit, unit) == 0)
		return FW_OK;
	if (who->roles & case_acl_table[act].own)
		return fw_seterr(FW_ERR_FORBIDDEN, "officer %s of unit %s may not %s a "
		    "case of unit %s", who->id, who->unit[0] ? who->unit : "(none)",
		    case_action_names[act], unit[0] ? unit : "(none)");
	return fw_seterr(FW_ERR_FORBIDDEN, "officer %s has no role that may %s a "
	    "case", who->id, case_action_names[act]);
}

static fw_err
case_need_admin(const struct officer *who)
{
	if (who == NULL || who->disabled || (who->roles & ROLE_ADMIN) == 0)
		return fw_seterr(FW_ERR_FORBIDDEN, "officer %s is not an admin",
		    who ? who->id : "(none)");
	return FW_OK;
}

const struct officer *
officer_cli(void)
{
	static struct officer cli;
	const char *id = getenv("FUNDWATCH_ACTOR");

	snprintf(cli.id, sizeof cli.id, "%s", id && *id ? id : "admin");
	cli.name = NULL;
	cli.unit[0] = '\0';
	cli.roles = ROLE_ADMIN | ROLE_AUDITOR;
	cli.disabled = 0;
	return &cli;
}

/* ---- small helpers ----------------------------------------------------- */

const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static char *
case_strdup(const char *s)
{
	return strdup(s ? s : "");
}

/* A text an officer typed: valid UTF-8, 1..CASE_TEXT_MAX bytes. */
static fw_err
case_check_text(const char *what, const char *text, int required)
{
	size_t n = text ? strlen(text) : 0;

	if (n == 0)
		return required ? fw_seterr(FW_ERR_INVALID, "%s: a text is required",
		    what) : FW_OK;
	if (n > CASE_TEXT_MAX)
		return fw_seterr(FW_ERR_FIELD_LENGTH, "%s: text is %zu bytes, at most "
		    "%u", what, n, CASE_TEXT_MAX);
	if (!jsonx_utf8_valid(text, n))
		return fw_seterr(FW_ERR_UTF8, "%s: text is not valid UTF-8", what);
	return FW_OK;
}

fw_err
case_audit(struct server *s, const char *actor, const char *action, int64_t id,
    json_t *detail)
{
	char subj[32];
	fw_err e;

	if (detail == NULL)
		return fw_seterr(FW_ERR_NOMEM, "audit: out of memory");
	snprintf(subj, sizeof subj, "case:%" PRId64, id);
	e = audit_append(s->db, actor, action, subj, detail, NULL, NULL);
	json_decref(detail);
	return e;
}

static fw_err
case_note(struct server *s, int64_t id, const char *officer, const char *kind,
    const char *text, int64_t now)
{
	return db_run(s->db, "INSERT INTO case_notes (case_id, officer_id, kind, text,"
	    " at) VALUES (?, ?, ?, ?, ?)", "isssi", id, officer, kind, text ? text : "",
	    now);
}

/* The end of loading the row of what (a unit, an officer) whose id is id:
 * st finalized, rc its step's answer, name the copy of the row's name
 * (NULL: out of memory). */
static fw_err
case_load_end(struct server *s, sqlite3_stmt *st, int rc, const char *what,
    const char *id, const char *name)
{
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return fw_seterr(FW_ERR_NOT_FOUND, "%s %s does not exist", what, id);
	if (rc != SQLITE_ROW)
		return db_error(s->db, what);
	return name ? FW_OK : fw_seterr(FW_ERR_NOMEM, "%s: out of memory", what);
}

/* The end of an administrative change begun with db_begin: unless e is
 * an error already, its audit entry (detail is taken; a NULL detail is
 * "what: out of memory": no change goes without its entry), then commit,
 * or roll back on any error. */
static fw_err
case_admin_end(struct server *s, fw_err e, const char *actor,
    const char *action, const char *subject, json_t *detail, const char *what)
{
	if (e == FW_OK && detail != NULL)
		e = audit_append(s->db, actor, action, subject, detail, NULL, NULL);
	else if (e == FW_OK)
		e = fw_seterr(FW_ERR_NOMEM, "%s: out of memory", what);
	json_decref(detail);
	if (e != FW_OK) {
		db_rollback(s->db);
		return e;
	}
	return db_commit(s->db);
}

/* Hand a over as *out if e is FW_OK; drop it otherwise.  Returns e. */
static fw_err
case_answer(fw_err e, json_t *a, json_t **out)
{
	if (e != FW_OK) {
		json_decref(a);
		return e;
	}
	*out = a;
	return FW_OK;
}

/* A list answer: the array of one element a row of sql (fmt "" or "s"
 * binding a1), each made by row; what names the list in errors. */
static fw_err
case_rows(struct server *s, const char *what, const char *sql, const char *fmt,
    const char *a1, json_t *(*row)(sqlite3_stmt *), json_t **out)
{
	sqlite3_stmt *st;
	json_t *a = json_array();
	fw_err e;
	int rc;

	if (a == NULL)
		return fw_seterr(FW_ERR_NOMEM, "%s: out of memory", what);
	if ((e = db_prepare(s->db, &st, sql, fmt, a1)) != FW_OK)
		return case_answer(e, a, out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, row(st));
	sqlite3_finalize(st);
	return case_answer(rc != SQLITE_DONE ? db_error(s->db, what) : FW_OK, a,
	    out);
}

/* The working-day calendar of the data folder (weekends only if it has no
 * holiday list, or a broken one, which is logged). */
static fw_err
case_calendar(struct server *s, struct calendar **cal)
{
	char path[PATH_MAX];
	fw_err e;

	server_path(s, "holidays.txt", path, sizeof path);
	e = calendar_load(path, cal);
	if (e != FW_OK && e != FW_ERR_NOT_FOUND && e != FW_ERR_NOMEM)
		/* A bad edit of the list must not stop clues from being
		 * received: count weekends only, and say so. */
		log_warnx("%s; deadlines count weekends only until it is fixed",
		    fw_errmsg());
	if (e != FW_OK && e != FW_ERR_NOMEM)
		e = calendar_new(cal);
	return e;
}

static fw_err
case_add_days(struct server *s, cal_day from, int days, cal_day *out)
{
	struct calendar *cal = NULL;
	fw_err e;

	if ((e = case_calendar(s, &cal)) != FW_OK)
		return e;
	e = calendar_add_working_days(cal, from, days, out);
	calendar_free(cal);
	return e;
}

static fw_err
case_meta_int(struct server *s, const char *key, int64_t def, int64_t *out)
{
	sqlite3_stmt *st;
	fw_err e;

	*out = def;
	if ((e = db_prepare(s->db, &st, "SELECT value FROM meta WHERE key = ?", "s",
	    key)) != FW_OK)
		return e;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = strtoll(col_text(st, 0), NULL, 10);
	sqlite3_finalize(st);
	return FW_OK;
}

fw_err
case_pseudonym(struct server *s, const char *supervisor,
    char out[CASE_PSEUDONYM_LEN + 1])
{
	uint8_t key[32], mac[32];
	char hex[65];
	sqlite3_stmt *st;
	size_t maclen = 0;
	fw_err e;
	int rc;

	/* Made once, the first time any pseudonym is asked for; a read
	 * takes no write lock after that.  Two passes at most. */
	for (int pass = 0; pass < 2; pass++) {
		if ((e = db_prepare(s->db, &st, "SELECT value FROM meta WHERE key ="
		    " 'case.secret'", "")) != FW_OK)
			return e;
		if ((rc = sqlite3_step(st)) == SQLITE_ROW)
			e = hex_decode(col_text(st, 0), strlen(col_text(st, 0)), key,
			    sizeof key);
		sqlite3_finalize(st);
		if (rc == SQLITE_ROW || pass == 1)
			break;
		if (RAND_bytes(key, sizeof key) != 1)
			return fw_seterr(FW_ERR_CRYPTO, "pseudonym: no randomness");
		hex_encode(key, sizeof key, hex);
		e = db_run(s->db, "INSERT OR IGNORE INTO meta (key, value) VALUES"
		    " ('case.secret', ?)", "s", hex);
		OPENSSL_cleanse(hex, sizeof hex);
		if (e != FW_OK)
			return e;
	}
	if (rc != SQLITE_ROW || e != FW_OK)
		return fw_seterr(FW_ERR_INTERNAL, "pseudonym: server secret unreadable");
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, sizeof key,
	    (const unsigned char *)supervisor, strlen(supervisor), mac, sizeof mac,
	    &maclen) == NULL || maclen != sizeof mac) {
		OPENSSL_cleanse(key, sizeof key);
		return fw_seterr(FW_ERR_CRYPTO, "pseudonym: HMAC failed");
	}
	OPENSSL_cleanse(key, sizeof key);
	hex_encode(mac, 8, hex);
	snprintf(out, CASE_PSEUDONYM_LEN + 1, "R%.15s", hex);
	return FW_OK;
}

/* ---- institution keys --------------------------------------------------- */

/* Next code point of valid UTF-8 at *p (the parser checked it). */
static uint32_t
case_utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t c = s[0];
	int n = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;

	if (n > 0)
		c &= 0x3f >> n;
	for (int i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*p = s + i;
			return 0xfffd;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	*p = s + n + 1;
	return c;
}

/* Fold one code point: 0 drops it. */
static uint32_t
case_fold(uint32_t c)
{
	if (c >= 0xff01 && c <= 0xff5e)		/* full-width ASCII */
		c -= 0xfee0;
	if (c < 0x80) {
		if (isalnum((int)c))
			return (uint32_t)tolower((int)c);
		return 0;			/* spaces, punctuation, controls */
	}
	if (c == 0x3000 || (c >= 0x3001 && c <= 0x3003) ||
	    (c >= 0x3008 && c <= 0x3011) || (c >= 0x2010 && c <= 0x201f) ||
	    c == 0x00b7 || c == 0x30fb || c == 0x00a0)
		return 0;			/* CJK punctuation, dashes, quotes */
	return c;
}

static size_t
case_norm_append(char *out, size_t at, size_t cap, const char *in)
{
	const unsigned char *p = (const unsigned char *)(in ? in : "");

	/* Bounded by the input: each pass consumes at least one byte. */
	while (*p != '\0') {
		uint32_t c = case_fold(case_utf8_next(&p));
		char u[4];
		size_t n;

		if (c == 0)
			continue;
		if (c < 0x80) {
			u[0] = (char)c;
			n = 1;
		} else if (c < 0x800) {
			u[0] = (char)(0xc0 | (c >> 6));
			u[1] = (char)(0x80 | (c & 0x3f));
			n = 2;
		} else if (c < 0x10000) {
			u[0] = (char)(0xe0 | (c >> 12));
			u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
			u[2] = (char)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			u[0] = (char)(0xf0 | (c >> 18));
			u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
			u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
			u[3] = (char)(0x80 | (c & 0x3f));
			n = 4;
		}
		if (at + n >= cap)
			break;
		memcpy(out + at, u, n);
		at += n;
	}
	out[at] = '\0';
	return at;
}

void
case_institution_key(const char *code, const char *name, const char *place,
    char *out)
{
	size_t n;

	if (code != NULL && *code != '\0') {
		n = (size_t)snprintf(out, CASE_INST_MAX + 1, "code:");
		for (const char *p = code; *p != '\0' && n < CASE_INST_MAX; p++)
			out[n++] = (char)toupper((unsigned char)*p);
		out[n] = '\0';
		return;
	}
	n = (size_t)snprintf(out, CASE_INST_MAX + 1, "name:");
	n = case_norm_append(out, n, CASE_INST_MAX, name);
	if (n < CASE_INST_MAX - 1) {
		out[n++] = '|';
		out[n] = '\0';
	}
	case_norm_append(out, n, CASE_INST_MAX, place);
}

/* ---- scrypt passwords -------------------------------------------------- */

static fw_err
officer_scrypt(const char *password, const uint8_t *salt, size_t saltlen,
    uint64_t n, uint32_t r, uint32_t p, uint8_t out[SCRYPT_OUT])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[6];
	fw_err e = FW_OK;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)(uintptr_t)password, strlen(password));
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(uintptr_t)salt, saltlen);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_KDF_derive(ctx, out, SCRYPT_OUT, params) != 1)
		e = fw_seterr(FW_ERR_CRYPTO, "password: scrypt failed");
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return e;
}

/* "scrypt$N$r$p$salthex$hashhex" of a new random salt. */
static fw_err
officer_hash_password(const char *password, char *out, size_t outsz)
{
	uint8_t salt[SCRYPT_SALT], dk[SCRYPT_OUT];
	char sh[2 * SCRYPT_SALT + 1], dh[2 * SCRYPT_OUT + 1];
	size_t n = strlen(password);
	fw_err e;

	if (n < OFFICER_PASSWORD_MIN || n > OFFICER_PASSWORD_MAX)
		return fw_seterr(FW_ERR_INVALID, "password: %zu bytes, expected %u..%u",
		    n, OFFICER_PASSWORD_MIN, OFFICER_PASSWORD_MAX);
	if (RAND_bytes(salt, sizeof salt) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "password: no randomness");
	if ((e = officer_scrypt(password, salt, sizeof salt, SCRYPT_N, SCRYPT_R,
	    SCRYPT_P, dk)) != FW_OK)
		return e;
	hex_encode(salt, sizeof salt, sh);
	hex_encode(dk, sizeof dk, dh);
	snprintf(out, outsz, "scrypt$%d$%d$%d$%s$%s", SCRYPT_N, SCRYPT_R, SCRYPT_P,
	    sh, dh);
	OPENSSL_cleanse(dk, sizeof dk);
	return FW_OK;
}

/* 1 if password matches stored, 0 if not (or stored is malformed). */
static int
officer_password_matches(const char *stored, const char *password)
{
	unsigned long long n;
	unsigned r, p;
	char sh[2 * SCRYPT_SALT + 1], dh[2 * SCRYPT_OUT + 1];
	uint8_t salt[SCRYPT_SALT], want[SCRYPT_OUT], got[SCRYPT_OUT];
	int ok;

	if (sscanf(stored, "scrypt$%llu$%u$%u$%32[0-9a-f]$%64[0-9a-f]", &n, &r, &p,
	    sh, dh) != 5 || n < 1024 || n > (1u << 20) || r < 1 || r > 32 ||
	    p < 1 || p > 16 ||
	    strlen(sh) != 2 * sizeof salt || strlen(dh) != 2 * sizeof want ||
	    hex_decode(sh, strlen(sh), salt, sizeof salt) != FW_OK ||
	    hex_decode(dh, strlen(dh), want, sizeof want) != FW_OK)
		return 0;
	if (officer_scrypt(password, salt, sizeof salt, n, r, p, got) != FW_OK)
		return 0;
	ok = CRYPTO_memcmp(got, want, sizeof got) == 0;
	OPENSSL_cleanse(got, sizeof got);
	return ok;
}

/* ---- units ------------------------------------------------------------- */

fw_err
unit_add(struct server *s, const struct officer *who, const struct unit *u)
{
	json_t *d;
	fw_err e;

	if ((e = case_need_admin(who)) != FW_OK)
		return e;
	if (!profile_code_valid(u->id) || !profile_code_valid(u->jurisdiction))
		return fw_seterr(FW_ERR_INVALID, "unit '%s', jurisdiction '%s': expected "
		    "codes of 1..%d characters [A-Za-z0-9._-]", u->id, u->jurisdiction,
		    FW_MAX_CODE);
	if ((e = case_check_text("unit name", u->name, 1)) != FW_OK)
		return e;
	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	e = db_run(s->db, "INSERT INTO units (id, name, jurisdiction, city, created)"
	    " VALUES (?, ?, ?, ?, ?)", "sssii", u->id, u->name, u->jurisdiction,
	    (int64_t)(u->city != 0), (int64_t)time(NULL));
	if (e == FW_ERR_CONFLICT)
		e = fw_seterr(FW_ERR_EXISTS, "unit %s exists already", u->id);
	d = json_pack("{ss ss sb}", "unit", u->id, "jurisdiction", u->jurisdiction,
	    "city", u->city != 0);
	return case_admin_end(s, e, who->id, "unit.added", u->id, d, "unit");
}

fw_err
unit_get(struct server *s, const char *id, struct unit *out)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	memset(out, 0, sizeof *out);
	if ((e = db_prepare(s->db, &st, "SELECT name, jurisdiction, city FROM units"
	    " WHERE id = ?", "s", id)) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(out->id, sizeof out->id, "%s", id);
		out->name = case_strdup(col_text(st, 0));
		snprintf(out->jurisdiction, sizeof out->jurisdiction, "%s", col_text(st, 1));
		out->city = sqlite3_column_int(st, 2);
	}
	return case_load_end(s, st, rc, "unit", id, out->name);
}

void
unit_clear(struct unit *u)
{
	free(u->name);
	u->name = NULL;
}

static json_t *
unit_row_json(sqlite3_stmt *st)
{
	return json_pack("{ss ss ss sb sI sI}", "id", col_text(st, 0), "name",
	    col_text(st, 1), "jurisdiction", col_text(st, 2), "city",
	    sqlite3_column_int(st, 3), "officers",
	    (json_int_t)sqlite3_column_int64(st, 4), "open_cases",
	    (json_int_t)sqlite3_column_int64(st, 5));
}

fw_err
unit_list(struct server *s, json_t **out)
{
	return case_rows(s, "units", "SELECT u.id, u.name, u.jurisdiction, u.city,"
	    " (SELECT count(*) FROM officers o WHERE o.unit = u.id AND o.disabled = 0),"
	    " (SELECT count(*) FROM cases c WHERE c.unit = u.id AND c.status IN "
	    CASE_OPEN_SQL ") FROM units u ORDER BY u.id LIMIT 10000", "", NULL,
	    unit_row_json, out);
}

/* ---- officers ---------------------------------------------------------- */

static int
officer_id_valid(const char *id)
{
	return id != NULL && strlen(id) <= OFFICER_ID_MAX && profile_code_valid(id);
}

fw_err
officer_add(struct server *s, const struct officer *who, const struct officer *o,
    const char *password)
{
	char pw[256];
	struct unit u;
	json_t *d;
	fw_err e;

	if ((e = case_need_admin(who)) != FW_OK)
		return e;
	if (!officer_id_valid(o->id))
		return fw_seterr(FW_ERR_INVALID, "officer id '%s': expected 1..%d "
		    "characters [A-Za-z0-9._-]", o->id, OFFICER_ID_MAX);
	if ((e = case_check_text("officer name", o->name, 1)) != FW_OK)
		return e;
	if (o->roles == 0 || (o->roles & ~ROLE_ALL) != 0)
		return fw_seterr(FW_ERR_INVALID, "officer %s: roles 0x%x, expected a "
		    "non-empty set of known roles", o->id, o->roles);
	if ((e = unit_get(s, o->unit, &u)) != FW_OK)
		return e;
	unit_clear(&u);
	if ((e = officer_hash_password(password, pw, sizeof pw)) != FW_OK ||
	    (e = db_begin(s->db)) != FW_OK)
		return e;
	e = db_run(s->db, "INSERT INTO officers (id, name, unit, roles, password,"
	    " created) VALUES (?, ?, ?, ?, ?, ?)", "sssisi", o->id, o->name, o->unit,
	    (int64_t)o->roles, pw, (int64_t)time(NULL));
	if (e == FW_ERR_CONFLICT)
		e = fw_seterr(FW_ERR_EXISTS, "officer %s exists already", o->id);
	OPENSSL_cleanse(pw, sizeof pw);
	d = json_pack("{ss ss so}", "officer", o->id, "unit", o->unit, "roles",
	    officer_roles_json(o->roles));
	return case_admin_end(s, e, who->id, "officer.added", o->id, d, "officer");
}

/* The officer's row, with the stored password hash if pw is not NULL. */
static fw_err
officer_load(struct server *s, const char *id, struct officer *out, char *pw,
    size_t pwsz)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	memset(out, 0, sizeof *out);
	if ((e = db_prepare(s->db, &st, "SELECT name, unit, roles, disabled, password"
	    " FROM officers WHERE id = ?", "s", id)) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		snprintf(out->id, sizeof out->id, "%s", id);
		out->name = case_strdup(col_text(st, 0));
		snprintf(out->unit, sizeof out->unit, "%s", col_text(st, 1));
		out->roles = (unsigned)sqlite3_column_int(st, 2) & ROLE_ALL;
		out->disabled = sqlite3_column_int(st, 3);
		if (pw != NULL)
			snprintf(pw, pwsz, "%s", col_text(st, 4));
	}
	return case_load_end(s, st, rc, "officer", id, out->name);
}

fw_err
officer_get(struct server *s, const char *id, struct officer *out)
{
	return officer_load(s, id, out, NULL, 0);
}

void
officer_clear(struct officer *o)
{
	free(o->name);
	o->name = NULL;
}

static json_t *
officer_row_json(sqlite3_stmt *st)
{
	return json_pack("{ss ss ss so sb sI}", "id", col_text(st, 0), "name",
	    col_text(st, 1), "unit", col_text(st, 2), "roles",
	    officer_roles_json((unsigned)sqlite3_column_int(st, 3)), "disabled",
	    sqlite3_column_int(st, 4), "open_cases",
	    (json_int_t)sqlite3_column_int64(st, 5));
}

fw_err
officer_list(struct server *s, const char *unit, json_t **out)
{
	return case_rows(s, "officers", "SELECT o.id, o.name, o.unit, o.roles,"
	    " o.disabled, (SELECT count(*) FROM cases c WHERE c.assignee = o.id AND"
	    " c.status IN " CASE_OPEN_SQL ") FROM officers o WHERE ?1 IS NULL OR"
	    " o.unit = ?1 ORDER BY o.unit, o.id LIMIT 100000", "s", unit,
	    officer_row_json, out);
}

/* One UPDATE of an officer's row with its audit entry. */
static fw_err
officer_update(struct server *s, const struct officer *who, const char *id,
    const char *action, json_t *detail, const char *sql, const char *fmt,
    const char *a1, int64_t a2)
{
	fw_err e;

	if ((e = case_need_admin(who)) != FW_OK || (e = db_begin(s->db)) != FW_OK) {
		json_decref(detail);
		return e;
	}
	if (fmt[0] == 's')
		e = db_run(s->db, sql, "ss", a1, id);
	else
		e = db_run(s->db, sql, "is", a2, id);
	if (e == FW_OK && sqlite3_changes(s->db) == 0)
		e = fw_seterr(FW_ERR_NOT_FOUND, "officer %s does not exist", id);
	return case_admin_end(s, e, who->id, action, id, detail, "officer");
}

fw_err
officer_disable(struct server *s, const struct officer *who, const char *id)
{
	return officer_update(s, who, id, "officer.disabled", json_object(),
	    "UPDATE officers SET disabled = ? WHERE id = ?", "i", NULL, 1);
}

fw_err
officer_passwd(struct server *s, const struct officer *who, const char *id,
    const char *password)
{
	char pw[256];
	fw_err e;

	if ((e = case_need_admin(who)) != FW_OK ||
	    (e = officer_hash_password(password, pw, sizeof pw)) != FW_OK)
		return e;
	e = officer_update(s, who, id, "officer.password", json_object(),
	    "UPDATE officers SET password = ? WHERE id = ?", "s", pw, 0);
	OPENSSL_cleanse(pw, sizeof pw);
	return e;
}

fw_err
officer_set_roles(struct server *s, const struct officer *who, const char *id,
    unsigned roles)
{
	if (roles == 0 || (roles & ~ROLE_ALL) != 0)
		return fw_seterr(FW_ERR_INVALID, "officer %s: roles 0x%x, expected a "
		    "non-empty set of known roles", id, roles);
	return officer_update(s, who, id, "officer.roles", json_pack("{so}", "roles",
	    officer_roles_json(roles)), "UPDATE officers SET roles = ? WHERE id = ?",
	    "i", NULL, (int64_t)roles);
}

fw_err
officer_conflict_add(struct server *s, const struct officer *who, const char *id,
    const char *institution)
{
	struct officer o;
	json_t *d;
	fw_err e;

	if ((e = case_need_admin(who)) != FW_OK)
		return e;
	if (institution == NULL || strlen(institution) < 6 ||
	    strlen(institution) > CASE_INST_MAX ||
	    (strncmp(institution, "code:", 5) != 0 && strncmp(institution, "name:", 5) != 0))
		return fw_seterr(FW_ERR_INVALID, "institution key '%s': expected "
		    "\"code:...\" or \"name:...|...\"", institution ? institution : "");
	if ((e = officer_get(s, id, &o)) != FW_OK)
		return e;
	officer_clear(&o);
	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	e = db_run(s->db, "INSERT OR IGNORE INTO officer_conflicts (officer_id,"
	    " institution, declared) VALUES (?, ?, ?)", "ssi", id, institution,
	    (int64_t)time(NULL));
	d = json_pack("{ss}", "institution", institution);
	return case_admin_end(s, e, who->id, "officer.conflict", id, d, "officer");
}

fw_err
officer_check_password(struct server *s, const char *id, const char *password,
    struct officer *out)
{
	/* A valid hash of a password nobody has, so that an unknown officer
	 * costs the same scrypt run as a known one. */
	static const char dummy[] = "scrypt$32768$8$1$"
	    "00000000000000000000000000000000$"
	    "0000000000000000000000000000000000000000000000000000000000000000";
	char pw[256];
	int known, ok;
	fw_err e;

	memset(out, 0, sizeof *out);
	e = officer_id_valid(id) ? officer_load(s, id, out, pw, sizeof pw)
	    : FW_ERR_NOT_FOUND;
	if (e != FW_OK && e != FW_ERR_NOT_FOUND)
		return e;
	known = e == FW_OK;
	ok = officer_password_matches(known ? pw : dummy, password ? password : "");
	OPENSSL_cleanse(pw, sizeof pw);
	if (!known || !ok || out->disabled) {
		officer_clear(out);
		memset(out, 0, sizeof *out);
		return fw_seterr(FW_ERR_AUTH, "login: wrong officer id or password, or "
		    "officer disabled");
	}
	return FW_OK;
}

/* ---- routing ----------------------------------------------------------- */

static int
route_field_ok(const char *v)
{
	return strcmp(v, "*") == 0 || profile_code_valid(v);
}

fw_err
route_add(struct server *s, const struct officer *who, struct route_rule *r)
{
	struct unit u;
	json_t *d;
	fw_err e;

	if ((e = case_need_admin(who)) != FW_OK)
		return e;
	if (!route_field_ok(r->jurisdiction) || !route_field_ok(r->kind) ||
	    !route_field_ok(r->category) || !route_field_ok(r->severity))
		return fw_seterr(FW_ERR_INVALID, "route: each field is '*' or a code");
	if (strcmp(r->kind, "*") != 0 && profile_subject_bit(r->kind) == 0)
		return fw_seterr(FW_ERR_INVALID, "route: subject kind '%s' unknown",
		    r->kind);
	if (strcmp(r->category, "*") != 0 && profile_category(s->profile,
	    r->category) == NULL)
		return fw_seterr(FW_ERR_INVALID, "route: category '%s' is not in the %s "
		    "profile", r->category, s->profile->name);
	if (strcmp(r->severity, "*") != 0 && bundle_severity_parse(r->severity) < 0)
		return fw_seterr(FW_ERR_INVALID, "route: severity '%s', expected normal, "
		    "major or *", r->severity);
	if ((e = unit_get(s, r->unit, &u)) != FW_OK)
		return e;
	unit_clear(&u);
	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	e = db_run(s->db, "INSERT INTO routes (jurisdiction, kind, category, severity,"
	    " unit, created) VALUES (?, ?, ?, ?, ?, ?)", "sssssi", r->jurisdiction,
	    r->kind, r->category, r->severity, r->unit, (int64_t)time(NULL));
	r->id = sqlite3_last_insert_rowid(s->db);
	d = json_pack("{sI ss ss ss ss ss}", "rule", (json_int_t)r->id, "jurisdiction",
	    r->jurisdiction, "kind", r->kind, "category", r->category, "severity",
	    r->severity, "unit", r->unit);
	return case_admin_end(s, e, who->id, "route.added", r->unit, d, "route");
}

static json_t *
route_row_json(sqlite3_stmt *st)
{
	return json_pack("{sI ss ss ss ss ss}", "id",
	    (json_int_t)sqlite3_column_int64(st, 0), "jurisdiction", col_text(st, 1),
	    "kind", col_text(st, 2), "category", col_text(st, 3), "severity",
	    col_text(st, 4), "unit", col_text(st, 5));
}

fw_err
route_list(struct server *s, json_t **out)
{
	return case_rows(s, "routes", "SELECT id, jurisdiction, kind, category,"
	    " severity, unit FROM routes ORDER BY id LIMIT 10000", "", NULL,
	    route_row_json, out);
}

struct route_choice {
	char unit[FW_MAX_CODE + 1];
	int64_t rule;			/* 0: the city unit by default */
	char officer[OFFICER_ID_MAX + 1];
	json_t *why;			/* array of sentences */
	json_t *skipped;		/* officers skipped for a conflict */
};

static void
route_choice_clear(struct route_choice *c)
{
	json_decref(c->why);
	json_decref(c->skipped);
	memset(c, 0, sizeof *c);
}

static void
route_why(struct route_choice *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
route_why(struct route_choice *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (c->why != NULL)
		json_array_append_new(c->why, json_string(line));
}

/* The unit: the most specific rule matching any of the categories. */
static fw_err
route_pick_unit(struct server *s, const char *jur, const char *kind,
    const char *const *cats, size_t ncats, const char *sev, struct route_choice *c)
{
	sqlite3_stmt *st;
	int best = -1, rc;
	fw_err e;

	if ((e = db_prepare(s->db, &st, "SELECT id, jurisdiction, kind, category,"
	    " severity, unit FROM routes ORDER BY id LIMIT 10000", "")) != FW_OK)
		return e;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *f[4] = {col_text(st, 1), col_text(st, 2), col_text(st, 3),
		    col_text(st, 4)};
		const char *v[4] = {jur, kind, NULL, sev};
		int spec = 0, match = 1;

		for (int i = 0; i < 4 && match; i++) {
			if (strcmp(f[i], "*") == 0)
				continue;
			spec++;
			if (i == 2) {
				size_t k;
				for (k = 0; k < ncats; k++)
					if (strcmp(f[i], cats[k]) == 0)
						break;
				match = k < ncats;
			} else {
				match = strcmp(f[i], v[i]) == 0;
			}
		}
		if (match && spec > best) {
			best = spec;
			c->rule = sqlite3_column_int64(st, 0);
			snprintf(c->unit, sizeof c->unit, "%s", col_text(st, 5));
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s->db, "routes");
	if (best >= 0) {
		route_why(c, "rule %" PRId64 " matches (%d of 4 fields given) and sends "
		    "it to unit %s", c->rule, best, c->unit);
		return FW_OK;
	}
	if ((e = db_prepare(s->db, &st, "SELECT id FROM units WHERE city = 1 ORDER BY"
	    " id LIMIT 1", "")) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(c->unit, sizeof c->unit, "%s", col_text(st, 0));
	sqlite3_finalize(st);
	if (c->unit[0] != '\0')
		route_why(c, "no rule matches: the city office, unit %s", c->unit);
	else
		route_why(c, "no rule matches and there is no city unit: unrouted");
	return FW_OK;
}

/* Inside the unit: the active officer (role officer) with the fewest open
 * cases, ties to the lowest id, skipping declared conflicts (every one is
 * listed in c->skipped, for route test). */
static fw_err
route_pick_officer(struct server *s, const char *inst, struct route_choice *c)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if (c->unit[0] == '\0')
		return FW_OK;
	if ((e = db_prepare(s->db, &st, "SELECT o.id, (SELECT count(*) FROM cases k"
	    " WHERE k.assignee = o.id AND k.status IN " CASE_OPEN_SQL ") AS n,"
	    " EXISTS (SELECT 1 FROM officer_conflicts x WHERE x.officer_id = o.id AND"
	    " x.institution = ?) FROM officers o WHERE o.unit = ? AND o.disabled = 0"
	    " AND (o.roles & ?) != 0 ORDER BY n, o.id LIMIT 1000", "ssi", inst, c->unit,
	    (int64_t)ROLE_OFFICER)) != FW_OK)
		return e;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 2)) {
			json_array_append_new(c->skipped, json_string(col_text(st, 0)));
			route_why(c, "officer %s skipped: declared a conflict with this "
			    "institution", col_text(st, 0));
			continue;
		}
		if (c->officer[0] != '\0')
			continue;	/* go on: every recusal is listed */
		snprintf(c->officer, sizeof c->officer, "%s", col_text(st, 0));
		route_why(c, "officer %s has the fewest open cases (%" PRId64 ")",
		    c->officer, (int64_t)sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s->db, "route");
	if (c->officer[0] == '\0')
		route_why(c, "no officer of unit %s is free of conflicts: unassigned",
		    c->unit);
	return FW_OK;
}

static fw_err
route_choose(struct server *s, const char *jur, const char *kind,
    const char *const *cats, size_t ncats, const char *sev, const char *inst,
    struct route_choice *c)
{
	fw_err e;

	memset(c, 0, sizeof *c);
	c->why = json_array();
	c->skipped = json_array();
	if (c->why == NULL || c->skipped == NULL) {
		route_choice_clear(c);
		return fw_seterr(FW_ERR_NOMEM, "route: out of memory");
	}
	if ((e = route_pick_unit(s, jur, kind, cats, ncats, sev, c)) != FW_OK ||
	    (e = route_pick_officer(s, inst, c)) != FW_OK)
		route_choice_clear(c);
	return e;
}

/* Who hears of a major clue or an escalation: the unit leads of unit and,
 * with city set, of every city unit.  One notification row each (a row
 * for the unit itself if it has no lead). */
static fw_err
case_notify(struct server *s, int64_t id, const char *unit, const char *kind,
    int city, int64_t now, json_t *told)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc, n = 0;

	if ((e = db_prepare(s->db, &st, "SELECT u.id, (SELECT group_concat(o.id) FROM"
	    " officers o WHERE o.unit = u.id AND o.disabled = 0 AND (o.roles & ?) != 0)"
	    " FROM units u WHERE u.id = ? OR (? AND u.city = 1 AND u.id != ?)"
	    " ORDER BY u.id", "isis", (int64_t)ROLE_UNIT_LEAD, unit, (int64_t)city,
	    unit)) != FW_OK)
		return e;
	while (e == FW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW && n++ < 64) {
		char leads[1024];
		char *save = NULL, *tok;
		const char *u = col_text(st, 0);

		snprintf(leads, sizeof leads, "%s", col_text(st, 1));
		if (leads[0] == '\0') {
			e = db_run(s->db, "INSERT INTO notifications (case_id, officer_id,"
			    " unit, kind, at) VALUES (?, '', ?, ?, ?)", "issi", id, u, kind,
			    now);
			if (told)
				json_array_append_new(told, json_pack("{ss}", "unit", u));
			continue;
		}
		for (tok = strtok_r(leads, ",", &save); e == FW_OK && tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			e = db_run(s->db, "INSERT INTO notifications (case_id, officer_id,"
			    " unit, kind, at) VALUES (?, ?, ?, ?, ?)", "isssi", id, tok, u,
			    kind, now);
			if (told)
				json_array_append_new(told, json_pack("{ss ss}", "unit", u,
				    "officer", tok));
		}
	}
	sqlite3_finalize(st);
	return e;
}

fw_err
route_explain(struct server *s, const char *jurisdiction, const char *kind,
    const char *category, const char *severity, const char *institution,
    json_t **out)
{
	struct route_choice c;
	const char *cats[1] = {category};
	json_t *notify;
	fw_err e;
	int major = strcmp(severity, "major") == 0;

	if ((e = route_choose(s, jurisdiction, kind, cats, 1, severity, institution,
	    &c)) != FW_OK)
		return e;
	if ((notify = json_array()) == NULL) {
		route_choice_clear(&c);
		return fw_seterr(FW_ERR_NOMEM, "route: out of memory");
	}
	if (major && c.unit[0] != '\0') {
		/* The same recipients case_notify would record, without recording. */
		sqlite3_stmt *st;
		int rc;
		if ((e = db_prepare(s->db, &st, "SELECT o.unit, o.id FROM officers o JOIN"
		    " units u ON u.id = o.unit WHERE o.disabled = 0 AND (o.roles & ?) != 0"
		    " AND (u.id = ? OR u.city = 1) ORDER BY o.unit, o.id", "is",
		    (int64_t)ROLE_UNIT_LEAD, c.unit)) == FW_OK) {
			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				json_array_append_new(notify, json_pack("{ss ss}", "unit",
				    col_text(st, 0), "officer", col_text(st, 1)));
			sqlite3_finalize(st);
		}
		route_why(&c, "major clue: the unit lead and the city office are "
		    "notified at once (GP art 12)");
	}
	*out = e == FW_OK ? json_pack("{ss sI s:s? sO sO sO}", "unit", c.unit, "rule",
	    (json_int_t)c.rule, "officer", c.officer[0] ? c.officer : NULL, "skipped",
	    c.skipped, "notify", notify, "why", c.why) : NULL;
	json_decref(notify);
	route_choice_clear(&c);
	if (e == FW_OK && *out == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "route: out of memory");
	return e;
}

/* ---- clues into cases -------------------------------------------------- */

/* Post a feedback message about case id to the devices of its clues: only
 * obs's if obs is set, only the first reporter's if first is set. */
static fw_err
case_feedback(struct server *s, int64_t id, const char *obs, int first,
    const char *status, const char *text, int64_t reward_fen)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc, n = 0;

	/* Two statements, not one with "?2 IS NULL OR ...": SQLite then finds
	 * a single clue by its key instead of walking every clue of the case,
	 * which made each new clue of a large case cost the whole case. */
	if (obs != NULL)
		e = db_prepare(s->db, &st, "SELECT c.observation_id, c.device_id FROM"
		    " clues c JOIN cases k ON k.id = c.case_id WHERE c.observation_id = ?2"
		    " AND c.case_id = ?1 AND (?3 = 0 OR c.observation_id = k.first_obs)",
		    "isi", id, obs, (int64_t)first);
	else
		e = db_prepare(s->db, &st, "SELECT c.observation_id, c.device_id FROM"
		    " clues c JOIN cases k ON k.id = c.case_id WHERE c.case_id = ?1"
		    " AND (?2 = 0 OR c.observation_id = k.first_obs)"
		    " ORDER BY c.received, c.rowid LIMIT 10000", "ii", id, (int64_t)first);
	if (e != FW_OK)
		return e;
	/* Bounded by the clues of one case. */
	while (e == FW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *body = json_pack("{ss sI ss ss}", "observation", col_text(st, 0),
		    "case", (json_int_t)id, "status", status, "text", text ? text : "");

		if (body != NULL && reward_fen >= 0)
			json_object_set_new(body, "reward_fen", json_integer(reward_fen));
		e = body ? ingest_feed_post(s, col_text(st, 1), "feedback", body)
		    : fw_seterr(FW_ERR_NOMEM, "feedback: out of memory");
		json_decref(body);
		n++;
	}
	sqlite3_finalize(st);
	if (e == FW_OK && obs != NULL && n == 0)
		e = fw_seterr(FW_ERR_NOT_FOUND, "observation %s is not a clue of case %"
		    PRId64, obs, id);
	return e;
}

fw_err
case_merge_days(struct server *s, int64_t *days)
{
	fw_err e;

	if ((e = case_meta_int(s, "case.merge_days", CASE_MERGE_DAYS, days)) != FW_OK)
		return e;
	if (*days < 0 || *days > CASE_MERGE_DAYS_MAX)
		*days = CASE_MERGE_DAYS;
	return FW_OK;
}

fw_err
case_set_merge_days(struct server *s, const struct officer *who, int64_t days)
{
	char v[24];
	json_t *d;
	fw_err e;

	if ((e = case_need_admin(who)) != FW_OK)
		return e;
	if (days < 0 || days > CASE_MERGE_DAYS_MAX)
		return fw_seterr(FW_ERR_FIELD_RANGE, "merge window %" PRId64 " days, "
		    "expected 0..%d", days, CASE_MERGE_DAYS_MAX);
	snprintf(v, sizeof v, "%" PRId64, days);
	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	e = db_run(s->db, "INSERT INTO meta (key, value) VALUES"
	    " ('case.merge_days', ?1) ON CONFLICT (key) DO UPDATE SET value = ?1",
	    "s", v);
	d = json_pack("{sI}", "days", (json_int_t)days);
	return case_admin_end(s, e, who->id, "case.merge_days", "meta", d,
	    "merge window");
}

/* An open case of the institution sharing a category, opened within the
 * window before now: its id, or 0. */
static fw_err
case_find_merge(struct server *s, const char *inst, json_t *cats, int64_t now,
    int64_t *id)
{
	sqlite3_stmt *st;
	int64_t days;
	char *cj;
	fw_err e;

	*id = 0;
	if ((e = case_merge_days(s, &days)) != FW_OK)
		return e;
	if ((cj = json_dumps(cats, JSON_COMPACT)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "merge: out of memory");
	e = db_prepare(s->db, &st, "SELECT k.id FROM cases k WHERE k.institution = ?"
	    " AND k.status NOT IN ('declined','closed') AND k.opened >= ? AND EXISTS"
	    " (SELECT 1 FROM case_categories cc WHERE cc.case_id = k.id AND"
	    " cc.category IN (SELECT value FROM json_each(?))) ORDER BY k.opened, k.id"
	    " LIMIT 1", "sis", inst, now - days * 86400, cj);
	free(cj);
	if (e != FW_OK)
		return e;
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return FW_OK;
}

/* A new case for the clue o, routed. */
static fw_err
case_open(struct server *s, const char *bundle, const struct fw_obs *o,
    const char *inst, const char *jur, int64_t now, int64_t *id)
{
	struct route_choice c;
	char day[CAL_DATE_LEN];
	cal_day decide;
	json_t *told = NULL, *d;
	int major = o->severity == FW_SEV_MAJOR;
	fw_err e;

	if ((e = route_choose(s, jur, bundle_subject_kind_name(o->subject.kind),
	    (const char *const *)o->categories, o->ncategories,
	    bundle_severity_name(o->severity), inst, &c)) != FW_OK)
		return e;
	if ((e = case_add_days(s, calendar_china_day(now),
	    s->profile->deadlines.decide, &decide)) != FW_OK)
		goto out;
	e = db_run(s->db, "INSERT INTO cases (unit, status, assignee, institution,"
	    " major, opened, decide_by, first_obs, updated) VALUES (?, 'received', ?,"
	    " ?, ?, ?, ?, ?, ?)", "sssiissi", c.unit, c.officer, inst, (int64_t)major,
	    now, calendar_format(decide, day), o->id, now);
	if (e != FW_OK)
		goto out;
	*id = sqlite3_last_insert_rowid(s->db);
	if (major && (told = json_array()) != NULL)
		e = case_notify(s, *id, c.unit, "major", 1, now, told);
	d = json_pack("{ss sI s:s? ss ss sb}", "unit", c.unit, "rule",
	    (json_int_t)c.rule, "assignee", c.officer[0] ? c.officer : NULL,
	    "bundle", bundle, "observation", o->id, "major", major);
	if (e == FW_OK)
		e = case_audit(s, "server", "case.opened", *id, d);
	else
		json_decref(d);
	if (e == FW_OK && told != NULL)
		e = case_audit(s, "server", "case.major_notified", *id, json_pack("{sO}",
		    "notified", told));
out:
	json_decref(told);
	route_choice_clear(&c);
	return e;
}

/* The case of the clue that o supplements, if the same device reported it:
 * its id, or 0 (then o is a clue like any other). */
static fw_err
case_of_supplemented(struct server *s, const struct fw_obs *o,
    const char *device, int64_t *id)
{
	sqlite3_stmt *st;
	fw_err e;

	*id = 0;
	if (o->supplements[0] == '\0')
		return FW_OK;
	if ((e = db_prepare(s->db, &st, "SELECT case_id FROM clues WHERE"
	    " observation_id = ? AND device_id = ?", "ss", o->supplements,
	    device)) != FW_OK)
		return e;
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return FW_OK;
}

/* Evidence supplied for case id: audited, the assignee told, and a case
 * waiting for it back to investigating. */
static fw_err
case_supplied(struct server *s, int64_t id, const char *bundle,
    const struct fw_obs *o, int64_t now)
{
	sqlite3_stmt *st;
	char unit[FW_MAX_CODE + 1] = "", who[OFFICER_ID_MAX + 1] = "";
	int waiting = 0;
	fw_err e;

	if ((e = db_prepare(s->db, &st, "SELECT unit, assignee, status ="
	    " 'evidence_requested' FROM cases WHERE id = ?", "i", id)) != FW_OK)
		return e;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(unit, sizeof unit, "%s", col_text(st, 0));
		snprintf(who, sizeof who, "%s", col_text(st, 1));
		waiting = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	e = case_audit(s, "server", "case.evidence_supplied", id, json_pack("{ss ss"
	    " ss}", "bundle", bundle, "observation", o->id, "supplements",
	    o->supplements));
	if (e == FW_OK)
		e = db_run(s->db, "INSERT INTO notifications (case_id, officer_id,"
		    " unit, kind, at) VALUES (?, ?, ?, 'evidence_supplied', ?)", "issi",
		    id, who, unit, now);
	if (e == FW_OK && waiting &&
	    (e = db_run(s->db, "UPDATE cases SET status = 'investigating' WHERE"
	    " id = ?", "i", id)) == FW_OK)
		e = case_audit(s, "server", "case.status", id, json_pack("{ss ss ss}",
		    "from", "evidence_requested", "to", "investigating", "observation",
		    o->id));
	return e;
}

fw_err
case_add_clues(struct server *s, const struct fw_bundle *b, const char *supervisor,
    int64_t now)
{
	char inst[CASE_INST_MAX + 1], jur[FW_MAX_CODE + 1] = "";
	sqlite3_stmt *st;
	fw_err e = FW_OK;

	if ((e = db_prepare(s->db, &st, "SELECT unit FROM supervisors WHERE id = ?",
	    "s", supervisor)) != FW_OK)
		return e;
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(jur, sizeof jur, "%s", col_text(st, 0));
	sqlite3_finalize(st);
	for (size_t i = 0; e == FW_OK && i < b->m->nobs; i++) {
		const struct fw_obs *o = &b->m->obs[i];
		json_t *cats = json_array();
		int64_t id = 0;
		int held = 0, merged;

		if ((e = db_prepare(s->db, &st, "SELECT 1 FROM clues WHERE"
		    " observation_id = ?", "s", o->id)) != FW_OK) {
			json_decref(cats);
			break;
		}
		held = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (held || cats == NULL) {
			json_decref(cats);
			e = cats ? FW_OK : fw_seterr(FW_ERR_NOMEM, "clue: out of memory");
			continue;
		}
		for (size_t k = 0; k < o->ncategories; k++)
			json_array_append_new(cats, json_string(o->categories[k]));
		case_institution_key(o->subject.institution, o->subject.name,
		    o->place.text, inst);
		if ((e = case_of_supplemented(s, o, b->m->device, &id)) == FW_OK &&
		    id != 0)
			e = case_supplied(s, id, b->id, o, now);
		else if (e == FW_OK)
			e = case_find_merge(s, inst, cats, now, &id);
		json_decref(cats);
		merged = id != 0;
		if (e == FW_OK && !merged)
			e = case_open(s, b->id, o, inst, jur, now, &id);
		for (size_t k = 0; e == FW_OK && k < o->ncategories; k++)
			e = db_run(s->db, "INSERT OR IGNORE INTO case_categories (case_id,"
			    " category) VALUES (?, ?)", "is", id, o->categories[k]);
		if (e == FW_OK)
			e = db_run(s->db, "INSERT INTO clues (observation_id, case_id,"
			    " device_id, supervisor_id, received) VALUES (?, ?, ?, ?, ?)",
			    "sissi", o->id, id, b->m->device, supervisor, now);
		if (e == FW_OK && merged) {
			int major = o->severity == FW_SEV_MAJOR;
			e = db_run(s->db, "UPDATE cases SET updated = ?, major = major | ?"
			    " WHERE id = ?", "iii", now, (int64_t)major, id);
			if (e == FW_OK)
				e = case_audit(s, "server", "case.clue_merged", id,
				    json_pack("{ss ss sb}", "bundle", b->id, "observation",
				    o->id, "major", major));
		}
		if (e == FW_OK)
			e = case_feedback(s, id, o->id, 0, "received", "", -1);
	}
	return e;
}

/* ---- reading ----------------------------------------------------------- */

static cal_day
case_parse_day(const char *s)
{
	cal_day d;

	return s != NULL && calendar_parse(s, &d) == FW_OK ? d : CAL_NONE;
}

fw_err
case_get(struct server *s, int64_t id, struct case_info *out)
{
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	memset(out, 0, sizeof *out);
	if ((e = db_prepare(s->db, &st, "SELECT unit, status, assignee, institution,"
	    " major, escalated, opened, decide_by, finish_by, extensions, first_obs,"
	    " verified_fen, reward_fen, reward_state, (SELECT count(*) FROM clues c"
	    " WHERE c.case_id = k.id) FROM cases k WHERE id = ?", "i", id)) != FW_OK)
		return e;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *rs = col_text(st, 13);
		out->id = id;
		snprintf(out->unit, sizeof out->unit, "%s", col_text(st, 0));
		out->status = (enum case_status)case_status_parse(col_text(st, 1));
		snprintf(out->assignee, sizeof out->assignee, "%s", col_text(st, 2));
		snprintf(out->institution, sizeof out->institution, "%s", col_text(st, 3));
		out->major = sqlite3_column_int(st, 4);
		out->escalated = sqlite3_column_int(st, 5);
		out->opened = sqlite3_column_int64(st, 6);
		out->decide_by = case_parse_day(col_text(st, 7));
		out->finish_by = sqlite3_column_type(st, 8) == SQLITE_NULL ? CAL_NONE :
		    case_parse_day(col_text(st, 8));
		out->extensions = sqlite3_column_int(st, 9);
		snprintf(out->first_obs, sizeof out->first_obs, "%s", col_text(st, 10));
		out->verified_fen = sqlite3_column_int64(st, 11);
		out->reward_fen = sqlite3_column_int64(st, 12);
		out->reward_state = strcmp(rs, "approved") == 0 ? CASE_REWARD_APPROVED :
		    strcmp(rs, "proposed") == 0 ? CASE_REWARD_PROPOSED : CASE_REWARD_NONE;
		out->nclues = sqlite3_column_int64(st, 14);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return fw_seterr(FW_ERR_NOT_FOUND, "case %" PRId64 " does not exist", id);
	if (rc != SQLITE_ROW)
		return db_error(s->db, "case");
	if ((int)out->status < 0)
		return fw_seterr(FW_ERR_INTERNAL, "case %" PRId64 ": unknown status", id);
	if ((e = db_prepare(s->db, &st, "SELECT category FROM case_categories WHERE"
	    " case_id = ? ORDER BY category LIMIT ?", "ii", id,
	    (int64_t)PROFILE_LIST_MAX)) != FW_OK)
		return e;
	out->categories = calloc(PROFILE_LIST_MAX, sizeof *out->categories);
	while (out->categories != NULL && sqlite3_step(st) == SQLITE_ROW &&
	    out->ncategories < PROFILE_LIST_MAX)
		if ((out->categories[out->ncategories] = strdup(col_text(st, 0))) != NULL)
			out->ncategories++;
	sqlite3_finalize(st);
	if (out->categories == NULL)
		return fw_seterr(FW_ERR_NOMEM, "case: out of memory");
	return FW_OK;
}

void
case_info_clear(struct case_info *c)
{
	for (size_t i = 0; c->categories != NULL && i < c->ncategories; i++)
		free(c->categories[i]);
	free(c->categories);
	c->categories = NULL;
	c->ncategories = 0;
}

static json_t *
case_day_json(cal_day d)
{
	char day[CAL_DATE_LEN];

	return d == CAL_NONE ? json_null() : json_string(calendar_format(d, day));
}

static int
case_is_overdue(const struct case_info *c, cal_day today)
{
	if (c->status == CASE_RECEIVED)
		return c->decide_by != CAL_NONE && today > c->decide_by;
	if (c->status == CASE_ACCEPTED || c->status == CASE_INVESTIGATING ||
	    c->status == CASE_EVIDENCE_REQUESTED)
		return c->finish_by != CAL_NONE && today > c->finish_by;
	return 0;
}

json_t *
case_info_json(const struct case_info *c, cal_day today)
{
	static const char *const rs[] = {"none", "proposed", "approved"};
	json_t *cats = json_array(), *o;
	char opened[21];

	for (size_t i = 0; cats != NULL && i < c->ncategories; i++)
		json_array_append_new(cats, json_string(c->categories[i]));
	bundle_time_format(c->opened, opened);
	o = json_pack("{sI ss ss s:s? ss so sb sb ss so so si sb ss sI}", "id",
	    (json_int_t)c->id, "unit", c->unit, "status", case_status_name(c->status),
	    "assignee", c->assignee[0] ? c->assignee : NULL, "institution",
	    c->institution, "categories", cats ? cats : json_array(), "major", c->major,
	    "escalated", c->escalated, "opened", opened, "decide_by",
	    case_day_json(c->decide_by), "finish_by", case_day_json(c->finish_by),
	    "extensions", c->extensions, "overdue", case_is_overdue(c, today),
	    "first_observation", c->first_obs, "clues", (json_int_t)c->nclues);
	if (o != NULL && c->verified_fen >= 0)
		json_object_set_new(o, "verified_fen", json_integer(c->verified_fen));
	if (o != NULL && c->reward_fen >= 0) {
		json_object_set_new(o, "reward_fen", json_integer(c->reward_fen));
		json_object_set_new(o, "reward_state", json_string(rs[c->reward_state]));
	}
	return o;
}

fw_err
case_list(struct server *s, const struct officer *who, const struct case_filter *f,
    json_t **out)
{
	struct case_filter none = {.status = -1};
	const char *unit;
	cal_day today = calendar_china_day((int64_t)time(NULL));
	int64_t limit;
	sqlite3_stmt *st;
	json_t *a;
	fw_err e;
	int rc, any;

	if (f == NULL)
		f = &none;
	limit = f->limit <= 0 || f->limit > CASE_LIST_MAX ? CASE_LIST_MAX : f->limit;
	any = who != NULL && !who->disabled &&
	    (who->roles & case_acl_table[CASE_ACT_READ].any) != 0;
	unit = f->unit;
	if (!any) {
		if ((e = case_acl(who, CASE_ACT_READ, unit ? unit : who->unit)) != FW_OK)
			return e;
		unit = who->unit;
	}
	if ((a = json_array()) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "cases: out of memory");
	if ((e = db_prepare(s->db, &st, "SELECT id FROM cases WHERE (?1 IS NULL OR"
	    " unit = ?1) AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR assignee"
	    " = ?3) AND id > ?4 ORDER BY id", "sssi", unit,
	    f->status >= 0 ? case_status_name((enum case_status)f->status) : NULL,
	    f->assignee, f->after_id)) != FW_OK)
		return case_answer(e, a, out);
	while (e == FW_OK && (int64_t)json_array_size(a) < limit &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct case_info c;
		if ((e = case_get(s, sqlite3_column_int64(st, 0), &c)) == FW_OK &&
		    (!f->overdue || case_is_overdue(&c, today)))
			json_array_append_new(a, case_info_json(&c, today));
		case_info_clear(&c);
	}
	sqlite3_finalize(st);
	return case_answer(e, a, out);
}

/* Load a case and check who may take act on it. */
fw_err
case_load_acl(struct server *s, const struct officer *who, int64_t id,
    enum case_action act, struct case_info *c)
{
	fw_err e;

	if ((e = case_get(s, id, c)) != FW_OK)
		return e;
	if ((e = case_acl(who, act, c->unit)) != FW_OK)
		case_info_clear(c);
	return e;
}

/* One clue as an officer sees it. */
static json_t *
case_clue_json(struct server *s, const struct officer *who, sqlite3_stmt *st,
    const char *first)
{
	char pseud[CASE_PSEUDONYM_LEN + 1] = "", rec[21];
	const char *obs = col_text(st, 0), *sup = col_text(st, 2);
	json_t *o = NULL, *c;

	if (jsonx_load(sqlite3_column_blob(st, 4), (size_t)sqlite3_column_bytes(st, 4),
	    &o) != FW_OK)
		return NULL;
	if (case_pseudonym(s, sup, pseud) != FW_OK) {
		json_decref(o);
		return NULL;
	}
	bundle_time_format(sqlite3_column_int64(st, 1), rec);
	c = json_pack("{ss ss sO sO sO sO sO sO sO ss sb ss}", "observation", obs,
	    "received", rec, "captured", json_object_get(o, "captured"), "subject",
	    json_object_get(o, "subject"), "place", json_object_get(o, "place"),
	    "categories", json_object_get(o, "categories"), "what",
	    json_object_get(o, "what"), "severity", json_object_get(o, "severity"),
	    "evidence", json_object_get(o, "evidence"), "reporter", pseud, "first",
	    strcmp(obs, first) == 0, "device", col_text(st, 3));
	if (c != NULL && (who->roles & ROLE_SEES_NAMES))
		json_object_set_new(c, "reporter_name", json_string(col_text(st, 5)));
	if (c != NULL && json_object_get(o, "supplements") != NULL)
		json_object_set(c, "supplements", json_object_get(o, "supplements"));
	json_decref(o);
	return c;
}

fw_err
case_show(struct server *s, const struct officer *who, int64_t id, json_t **out)
{
	struct case_info c;
	sqlite3_stmt *st;
	json_t *o, *clues = json_array(), *notes = json_array();
	fw_err e;
	int rc;

	*out = NULL;
	if (clues == NULL || notes == NULL) {
		json_decref(clues);
		json_decref(notes);
		return fw_seterr(FW_ERR_NOMEM, "case: out of memory");
	}
	if ((e = case_load_acl(s, who, id, CASE_ACT_READ, &c)) != FW_OK) {
		json_decref(clues);
		json_decref(notes);
		return e;
	}
	o = case_info_json(&c, calendar_china_day((int64_t)time(NULL)));
	e = db_prepare(s->db, &st, "SELECT c.observation_id, c.received,"
	    " c.supervisor_id, c.device_id, o.canonical, p.name FROM clues c JOIN"
	    " observations o ON o.id = c.observation_id LEFT JOIN supervisors p ON"
	    " p.id = c.supervisor_id WHERE c.case_id = ? ORDER BY c.received, c.rowid"
	    " LIMIT 10000", "i", id);
	while (e == FW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *cl = case_clue_json(s, who, st, c.first_obs);
		if (cl == NULL)
			e = fw_seterr(FW_ERR_INTERNAL, "case %" PRId64 ": a clue is "
			    "unreadable", id);
		json_array_append_new(clues, cl);
	}
	if (st != NULL)
		sqlite3_finalize(st);
	if (e == FW_OK && (e = db_prepare(s->db, &st, "SELECT officer_id, kind, text,"
	    " at FROM case_notes WHERE case_id = ? ORDER BY id LIMIT 10000", "i",
	    id)) == FW_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			char at[21];
			bundle_time_format(sqlite3_column_int64(st, 3), at);
			json_array_append_new(notes, json_pack("{ss ss ss ss}", "officer",
			    col_text(st, 0), "kind", col_text(st, 1), "text",
			    col_text(st, 2), "at", at));
		}
		sqlite3_finalize(st);
	}
	if (e == FW_OK && o != NULL) {
		json_object_set(o, "clue_list", clues);
		json_object_set(o, "notes", notes);
		e = case_audit(s, who->id, "case.read", id, json_object());
	}
	json_decref(clues);
	json_decref(notes);
	case_info_clear(&c);
	if (e == FW_OK && o == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "case: out of memory");
	return case_answer(e, o, out);
}

fw_err
case_evidence_access(struct server *s, const struct officer *who, int64_t id,
    const char *blob)
{
	struct case_info c;
	sqlite3_stmt *st;
	fw_err e;
	int rc;

	if ((e = case_load_acl(s, who, id, CASE_ACT_READ, &c)) != FW_OK)
		return e;
	case_info_clear(&c);
	if ((e = db_prepare(s->db, &st, "SELECT 1 FROM observation_blobs b JOIN clues c"
	    " ON c.observation_id = b.observation_id WHERE c.case_id = ? AND b.blob = ?",
	    "is", id, blob)) != FW_OK)
		return e;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? fw_seterr(FW_ERR_NOT_FOUND, "blob %s is not "
		    "evidence of case %" PRId64, blob, id) : db_error(s->db, "evidence");
	return case_audit(s, who->id, "case.evidence_read", id, json_pack("{ss}",
	    "blob", blob));
}

/* ---- changes ----------------------------------------------------------- */

/* Begin a change: load, check, open the transaction.  The case is loaded
 * again inside it so that the status read is the one changed. */
static fw_err
case_begin(struct server *s, const struct officer *who, int64_t id,
    enum case_action act, struct case_info *c)
{
	fw_err e;

	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	if ((e = case_load_acl(s, who, id, act, c)) != FW_OK)
		db_rollback(s->db);
	return e;
}

/* case_begin for a change that carries an officer's text (what names it in
 * errors, required as case_check_text), checked first. */
static fw_err
case_begin_text(struct server *s, const struct officer *who, int64_t id,
    enum case_action act, const char *what, const char *text, int required,
    struct case_info *c)
{
	fw_err e;

	if ((e = case_check_text(what, text, required)) != FW_OK)
		return e;
	return case_begin(s, who, id, act, c);
}

static fw_err
case_end(struct server *s, struct case_info *c, fw_err e)
{
	case_info_clear(c);
	if (e != FW_OK) {
		char msg[FW_ERRMSG_MAX];
		snprintf(msg, sizeof msg, "%s", fw_errmsg());
		db_rollback(s->db);
		fw_seterr(e, "%s", msg);
		return e;
	}
	return db_commit(s->db);
}

static fw_err
case_check_transition(const struct case_info *c, enum case_status to)
{
	if (!case_transition_ok(c->status, to))
		return fw_seterr(FW_ERR_CONFLICT, "case %" PRId64 " is %s: it cannot go "
		    "to %s", c->id, case_status_name(c->status), case_status_name(to));
	return FW_OK;
}

/* Move c to `to` (checked), with its audit entry. */
static fw_err
case_move(struct server *s, const struct officer *who, struct case_info *c,
    enum case_status to, int64_t now)
{
	fw_err e;

	if ((e = case_check_transition(c, to)) != FW_OK)
		return e;
	if ((e = db_run(s->db, "UPDATE cases SET status = ?, updated = ? WHERE id = ?",
	    "sii", case_status_name(to), now, c->id)) != FW_OK)
		return e;
	e = case_audit(s, who->id, "case.status", c->id, json_pack("{ss ss}", "from",
	    case_status_name(c->status), "to", case_status_name(to)));
	c->status = to;
	return e;
}

fw_err
case_finding(struct server *s, const struct officer *who, int64_t id,
    const char *text)
{
	struct case_info c;
	int64_t now = (int64_t)time(NULL);
	fw_err e;

	if ((e = case_begin_text(s, who, id, CASE_ACT_HANDLE, "finding", text, 1,
	    &c)) != FW_OK)
		return e;
	if ((e = case_note(s, id, who->id, "finding", text, now)) == FW_OK)
		e = case_audit(s, who->id, "case.finding", id, json_pack("{sI}", "note",
		    (json_int_t)sqlite3_last_insert_rowid(s->db)));
	return case_end(s, &c, e);
}

fw_err
case_request_evidence(struct server *s, const struct officer *who, int64_t id,
    const char *obs, const char *text)
{
	struct case_info c;
	int64_t now = (int64_t)time(NULL);
	fw_err e;

	if ((e = case_begin_text(s, who, id, CASE_ACT_HANDLE, "evidence request",
	    text, 1, &c)) != FW_OK)
		return e;
	if ((e = case_move(s, who, &c, CASE_EVIDENCE_REQUESTED, now)) == FW_OK &&
	    (e = case_note(s, id, who->id, "evidence_request", text, now)) == FW_OK)
		e = case_feedback(s, id, obs, 0, "evidence_requested", text, -1);
	return case_end(s, &c, e);
}

fw_err
case_set_status(struct server *s, const struct officer *who, int64_t id,
    enum case_status to, const char *text)
{
	struct case_info c;
	int64_t now = (int64_t)time(NULL);
	char day[CAL_DATE_LEN];
	cal_day finish;
	fw_err e;

	if ((unsigned)to >= CASE_STATUS_COUNT_)
		return fw_seterr(FW_ERR_INVALID, "status %d unknown", (int)to);
	if (to == CASE_SUBSTANTIATED)
		return fw_seterr(FW_ERR_INVALID, "substantiated needs a verified amount "
		    "(case_substantiate)");
	if ((e = case_begin_text(s, who, id, CASE_ACT_HANDLE, "status", text,
	    to == CASE_DECLINED || to == CASE_NOT_SUBSTANTIATED, &c)) != FW_OK)
		return e;
	if ((e = case_move(s, who, &c, to, now)) != FW_OK)
		return case_end(s, &c, e);
	if (to == CASE_ACCEPTED &&
	    (e = case_add_days(s, calendar_china_day(now), s->profile->deadlines.finish,
	    &finish)) == FW_OK)
		e = db_run(s->db, "UPDATE cases SET finish_by = ?, escalated = 0 WHERE"
		    " id = ?", "si", calendar_format(finish, day), id);
	if (e == FW_OK && text != NULL && *text != '\0')
		e = case_note(s, id, who->id, case_status_name(to), text, now);
	/* Closing is the office's bookkeeping; every other change is news to
	 * the reporters. */
	if (e == FW_OK && to != CASE_CLOSED)
		e = case_feedback(s, id, NULL, 0, case_status_name(to), text, -1);
	return case_end(s, &c, e);
}

fw_err
case_assign(struct server *s, const struct officer *who, int64_t id,
    const char *officer)
{
	struct case_info c;
	struct officer o;
	sqlite3_stmt *st;
	char unit[FW_MAX_CODE + 1];
	int conflict, moved;
	fw_err e;

	if ((e = officer_get(s, officer, &o)) != FW_OK)
		return e;
	if ((e = case_begin(s, who, id, CASE_ACT_ASSIGN, &c)) != FW_OK) {
		officer_clear(&o);
		return e;
	}
	/* An admin may move a case to another unit (an unrouted one, or one
	 * routed wrongly) by assigning it to an officer there; a unit lead
	 * assigns inside the unit. */
	moved = strcmp(o.unit, c.unit) != 0 && (who->roles & ROLE_ADMIN) != 0;
	if (o.disabled || (strcmp(o.unit, c.unit) != 0 && !moved) ||
	    (o.roles & (ROLE_OFFICER | ROLE_UNIT_LEAD)) == 0)
		e = fw_seterr(FW_ERR_INVALID, "officer %s cannot take case %" PRId64
		    ": %s", officer, id, o.disabled ? "disabled" :
		    (o.roles & (ROLE_OFFICER | ROLE_UNIT_LEAD)) == 0 ?
		    "neither officer nor unit lead" : "not of the case's unit");
	snprintf(unit, sizeof unit, "%s", o.unit);
	officer_clear(&o);
	if (e == FW_OK && (e = db_prepare(s->db, &st, "SELECT 1 FROM officer_conflicts"
	    " WHERE officer_id = ? AND institution = ?", "ss", officer,
	    c.institution)) == FW_OK) {
		conflict = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (conflict)
			e = fw_seterr(FW_ERR_POLICY, "officer %s declared a conflict with "
			    "the institution of case %" PRId64 " (recusal)", officer, id);
	}
	if (e == FW_OK && (e = db_run(s->db, "UPDATE cases SET assignee = ?, unit = ?,"
	    " updated = ? WHERE id = ?", "ssii", officer, unit, (int64_t)time(NULL),
	    id)) == FW_OK)
		e = case_audit(s, who->id, "case.assigned", id, json_pack("{ss ss ss ss}",
		    "from", c.assignee, "to", officer, "from_unit", c.unit, "to_unit",
		    unit));
	return case_end(s, &c, e);
}

fw_err
case_escalate(struct server *s, const struct officer *who, int64_t id,
    const char *reason)
{
	struct case_info c;
	int64_t now = (int64_t)time(NULL);
	fw_err e;

	if ((e = case_begin_text(s, who, id, CASE_ACT_HANDLE, "escalation", reason,
	    1, &c)) != FW_OK)
		return e;
	if ((e = db_run(s->db, "UPDATE cases SET escalated = 1, updated = ? WHERE"
	    " id = ?", "ii", now, id)) == FW_OK &&
	    (e = case_note(s, id, who->id, "escalation", reason, now)) == FW_OK &&
	    (e = case_notify(s, id, c.unit, "escalated", c.major, now, NULL)) == FW_OK)
		e = case_audit(s, who->id, "case.escalated", id, json_object());
	return case_end(s, &c, e);
}

fw_err
case_extend(struct server *s, const struct officer *who, int64_t id,
    const char *reason)
{
	const struct profile_deadlines *dl = &s->profile->deadlines;
	struct case_info c;
	int64_t now = (int64_t)time(NULL);
	char day[CAL_DATE_LEN];
	cal_day to;
	fw_err e;

	if ((e = case_begin_text(s, who, id, CASE_ACT_EXTEND, "extension", reason,
	    1, &c)) != FW_OK)
		return e;
	if (c.finish_by == CAL_NONE || (c.status != CASE_ACCEPTED &&
	    c.status != CASE_INVESTIGATING && c.status != CASE_EVIDENCE_REQUESTED))
		e = fw_seterr(FW_ERR_CONFLICT, "case %" PRId64 " is %s: only an accepted "
		    "case has a finish deadline to extend", id, case_status_name(c.status));
	else if (c.extensions >= dl->extensions)
		e = fw_seterr(FW_ERR_POLICY, "%s: case %" PRId64 " has had its %d "
		    "extension(s) already", dl->handling_article, id, dl->extensions);
	if (e == FW_OK && (e = case_add_days(s, c.finish_by, dl->extension, &to)) == FW_OK &&
	    (e = db_run(s->db, "UPDATE cases SET finish_by = ?, extensions = extensions"
	    " + 1, escalated = 0, updated = ? WHERE id = ?", "sii",
	    calendar_format(to, day), now, id)) == FW_OK &&
	    (e = case_note(s, id, who->id, "extension", reason, now)) == FW_OK &&
	    (e = case_audit(s, who->id, "case.extended", id, json_pack("{ss}",
	    "finish_by", day))) == FW_OK)
		e = case_feedback(s, id, NULL, 0, "delayed", reason, -1);
	return case_end(s, &c, e);
}

fw_err
case_substantiate(struct server *s, const struct officer *who, int64_t id,
    int64_t verified_fen, const char *grade, int64_t sum_fen, const char *text)
{
	const struct profile_grade *g = grade ? profile_grade(s->profile, grade) : NULL;
	struct case_info c;
	int64_t now = (int64_t)time(NULL), reward = -1;
	char why[512];
	fw_err e;

	if (verified_fen < 0 || verified_fen > INT64_C(100000000000000))
		return fw_seterr(FW_ERR_FIELD_RANGE, "verified amount %" PRId64 " fen, "
		    "expected 0..10^14", verified_fen);
	if (grade != NULL && profile_grade(s->profile, grade) == NULL)
		return fw_seterr(FW_ERR_POLICY, "grade '%s' is not in the %s profile",
		    grade, s->profile->name);
	if ((e = case_check_text("substantiation", text, 0)) != FW_OK)
		return e;
	/* A grade without a percentage takes the sum the officer enters, held
	 * to the profile's bounds; any other grade computes it. */
	if (sum_fen >= 0 && (g == NULL || g->percent_bp != PROFILE_NONE ||
	    verified_fen == 0))
		return fw_seterr(FW_ERR_INVALID, "a reward sum is entered only with "
		    "a verified amount and a grade without a percentage; %s",
		    verified_fen == 0 ? "a clue with no amount gets the profile's "
		    "fixed sum" : "this grade computes the reward");
	if (sum_fen >= 0) {
		if ((e = rules_check_reward(s->profile, sum_fen, why,
		    sizeof why)) != FW_OK)
			return fw_seterr(e, "%s", why);
		reward = sum_fen;
	} else if (verified_fen == 0 || grade == NULL)
		/* No amount (or no grade): the profile's fixed sum, its minimum. */
		reward = s->profile->reward.min_fen;
	else if ((e = rules_reward(s->profile, grade, verified_fen, &reward, why,
	    sizeof why)) != FW_OK)
		return e;
	if ((e = case_begin(s, who, id, CASE_ACT_HANDLE, &c)) != FW_OK)
		return e;
	if ((e = case_move(s, who, &c, CASE_SUBSTANTIATED, now)) == FW_OK &&
	    (e = db_run(s->db, "UPDATE cases SET verified_fen = ?, reward_fen = ?,"
	    " reward_grade = ?, reward_state = 'proposed', substantiated_by = ? WHERE"
	    " id = ?", "iissi", verified_fen, reward, grade, who->id, id)) == FW_OK &&
	    (e = case_audit(s, who->id, "case.substantiated", id, json_pack("{sI sI s:s?"
	    " ss}", "verified_fen", (json_int_t)verified_fen, "reward_fen",
	    (json_int_t)reward, "grade", grade, "first_observation", c.first_obs))) ==
	    FW_OK && (text == NULL || *text == '\0' ||
	    (e = case_note(s, id, who->id, "substantiated", text, now)) == FW_OK))
		e = case_feedback(s, id, NULL, 0, "substantiated", text, -1);
	return case_end(s, &c, e);
}

fw_err
case_approve_reward(struct server *s, const struct officer *who, int64_t id)
{
	struct case_info c;
	sqlite3_stmt *st;
	char by[OFFICER_ID_MAX + 1] = "";
	fw_err e;

	if ((e = case_begin(s, who, id, CASE_ACT_REWARD, &c)) != FW_OK)
		return e;
	if (c.reward_state != CASE_REWARD_PROPOSED)
		e = fw_seterr(FW_ERR_CONFLICT, "case %" PRId64 " has no reward awaiting "
		    "approval (%s)", id, c.reward_state == CASE_REWARD_APPROVED ?
		    "approved already" : "not substantiated");
	if (e == FW_OK && (e = db_prepare(s->db, &st, "SELECT substantiated_by FROM"
	    " cases WHERE id = ?", "i", id)) == FW_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(by, sizeof by, "%s", col_text(st, 0));
		sqlite3_finalize(st);
		/* Four eyes: who found the amount does not approve the reward. */
		if (strcmp(by, who->id) == 0)
			e = fw_seterr(FW_ERR_FORBIDDEN, "officer %s substantiated case %"
			    PRId64 " and may not approve its reward", who->id, id);
	}
	if (e == FW_OK && (e = db_run(s->db, "UPDATE cases SET reward_state ="
	    " 'approved', updated = ? WHERE id = ?", "ii", (int64_t)time(NULL),
	    id)) == FW_OK &&
	    (e = case_audit(s, who->id, "case.reward_approved", id, json_pack("{sI ss}",
	    "reward_fen", (json_int_t)c.reward_fen, "observation", c.first_obs))) ==
	    FW_OK)
		e = case_feedback(s, id, NULL, 1, "reward_approved", "", c.reward_fen);
	return case_end(s, &c, e);
}

fw_err
case_escalate_overdue(struct server *s, cal_day today, int64_t *n)
{
	char day[CAL_DATE_LEN];
	sqlite3_stmt *st;
	int64_t ids[256], k = 0, now = (int64_t)time(NULL);
	fw_err e;
	int rc;

	if (n != NULL)
		*n = 0;
	calendar_format(today, day);
	if ((e = db_begin(s->db)) != FW_OK)
		return e;
	/* At most 256 a call: the caller calls again while *n is 256. */
	if ((e = db_prepare(s->db, &st, "SELECT id FROM cases WHERE escalated = 0 AND"
	    " ((status = 'received' AND decide_by < ?1) OR (status IN " CASE_RUNNING_SQL
	    " AND finish_by < ?1)) ORDER BY id LIMIT 256", "s", day)) != FW_OK) {
		db_rollback(s->db);
		return e;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < 256)
		ids[k++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (int64_t i = 0; e == FW_OK && i < k; i++) {
		char unit[FW_MAX_CODE + 1] = "";
		if ((e = db_prepare(s->db, &st, "SELECT unit FROM cases WHERE id = ?", "i",
		    ids[i])) != FW_OK)
			break;
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(unit, sizeof unit, "%s", col_text(st, 0));
		sqlite3_finalize(st);
		if ((e = db_run(s->db, "UPDATE cases SET escalated = 1, updated = ? WHERE"
		    " id = ?", "ii", now, ids[i])) == FW_OK &&
		    (e = case_notify(s, ids[i], unit, "overdue", 0, now, NULL)) == FW_OK)
			e = case_audit(s, "server", "case.overdue", ids[i], json_pack("{ss}",
			    "day", day));
	}
	if (e != FW_OK) {
		db_rollback(s->db);
		return e;
	}
	if ((e = db_commit(s->db)) == FW_OK && n != NULL)
		*n = k;
	return e;
}

fw_err
case_notifications(struct server *s, const struct officer *who, json_t **out)
{
	sqlite3_stmt *st;
	json_t *a = json_array();
	fw_err e;
	int rc;

	if (a == NULL)
		return fw_seterr(FW_ERR_NOMEM, "notifications: out of memory");
	if ((e = db_prepare(s->db, &st, "SELECT id, case_id, unit, kind, at FROM"
	    " notifications WHERE officer_id = ?1 OR (officer_id = '' AND unit = ?2)"
	    " ORDER BY id DESC LIMIT ?3", "ssi", who->id, who->unit,
	    (int64_t)CASE_LIST_MAX)) != FW_OK) {
		json_decref(a);
		return e;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char at[21];
		bundle_time_format(sqlite3_column_int64(st, 4), at);
		json_array_append_new(a, json_pack("{sI sI ss ss ss}", "id",
		    (json_int_t)sqlite3_column_int64(st, 0), "case",
		    (json_int_t)sqlite3_column_int64(st, 1), "unit", col_text(st, 2),
		    "kind", col_text(st, 3), "at", at));
	}
	sqlite3_finalize(st);
	return case_answer(rc != SQLITE_DONE ? db_error(s->db, "notifications") :
	    FW_OK, a, out);
}

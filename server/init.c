/*
 * init.c: `fundwatch-server init`, which makes a new data folder (the
 * layout is at the top of server.h): the office's age identity, the
 * server's Ed25519 receipt key, a private CA and a TLS certificate
 * (tls.c), the configuration with its commented defaults (config.c), a
 * checked copy of the policy profile, the holiday list and the database.
 *
 * init never overwrites anything: the folder must be new or empty, and
 * every file is created with a durable no-replace write.  It keeps a list
 * of what it made, and on any failure removes exactly that, newest first,
 * so that a failed init leaves the disk as it found it.  Secrets (the age
 * identity, private keys) go straight from memory to 0600 files and are
 * wiped; nothing secret is printed.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define INIT_MAX_MADE	32	/* files and folders one init makes */
#define INIT_DIR_MODE	0750
#define INIT_KEYS_MODE	0700
#define INIT_CONF_MODE	0640
#define INIT_TIME_LEN	21	/* "2025-01-02T03:04:05Z" */
#define INIT_SCAN_MAX	8	/* entries read to tell an empty folder */

struct init {
	char dir[PATH_MAX];
	char *made[INIT_MAX_MADE];	/* newest last */
	int isdir[INIT_MAX_MADE];
	size_t nmade;
	const char *names[TLS_MAX_NAMES];
	size_t nnames;
	char created[INIT_TIME_LEN];
};

static const char *init_sqlite_side[] = {"-wal", "-shm", "-journal"};

static void
init_usage(FILE *f)
{
	fprintf(f,
	    "usage: fundwatch-server init --data DIR --profile NAME|FILE "
	    "[--hostname NAME]...\n"
	    "\n"
	    "Make a new data folder DIR for fundwatch-server: database, blob\n"
	    "store, the office's age identity (evidence is encrypted to it), the\n"
	    "server's receipt signing key, a private CA and a TLS certificate,\n"
	    "fundwatch.conf with commented defaults, and the policy profile.\n"
	    "\n"
	    "  --data DIR        the folder to make (new, or an empty folder)\n"
	    "  --profile NAME    a built-in profile: qingyuan or gaoping; or\n"
	    "  --profile FILE    a profile file (a copy of one, edited; QY art 12)\n"
	    "  --hostname NAME   a DNS name or IP address devices reach the server\n"
	    "                    at; repeatable, up to %d.  localhost, 127.0.0.1\n"
	    "                    and ::1 are always in the certificate\n"
	    "  -h, --help        this text\n"
	    "\n"
	    "init never overwrites anything, and on failure removes what it made.\n",
	    TLS_MAX_NAMES);
}

/* Record path as made by us, so that a failure removes it. */
static fw_err
init_track(struct init *in, const char *path, int isdir)
{
	char *copy;

	if (in->nmade == INIT_MAX_MADE)
		return fw_seterr(FW_ERR_INTERNAL, "init: more than %d files made",
		    INIT_MAX_MADE);
	if ((copy = strdup(path)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "init: out of memory");
	in->made[in->nmade] = copy;
	in->isdir[in->nmade] = isdir;
	in->nmade++;
	return FW_OK;
}

/* Remove what init made, newest first, and forget it. */
static void
init_undo(struct init *in)
{
	size_t i = in->nmade;

	while (i-- > 0) {
		if (in->isdir[i] ? rmdir(in->made[i]) : unlink(in->made[i]))
			if (errno != ENOENT)
				log_warn("init: cannot remove %s", in->made[i]);
		free(in->made[i]);
	}
	in->nmade = 0;
}

static void
init_forget(struct init *in)
{
	for (size_t i = 0; i < in->nmade; i++)
		free(in->made[i]);
	in->nmade = 0;
}

static fw_err
init_path(const struct init *in, const char *rel, char *out)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", in->dir, rel) >= PATH_MAX)
		return fw_seterr(FW_ERR_INVALID, "%s/%s: path too long", in->dir, rel);
	return FW_OK;
}

/* FW_OK if path is an empty folder. */
static fw_err
init_is_empty(const char *path)
{
	struct dirent *d;
	DIR *dp;
	int n = 0;

	if ((dp = opendir(path)) == NULL)
		return file_errno(errno, path);
	/* "." and ".." and at most one more entry are read. */
	while (n < INIT_SCAN_MAX && (d = readdir(dp)) != NULL) {
		n++;
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		/* The message before closedir, which frees d. */
		fw_seterr(FW_ERR_EXISTS, "%s exists and is not empty (it holds "
		    "'%s'); init never overwrites a data folder", path, d->d_name);
		closedir(dp);
		return FW_ERR_EXISTS;
	}
	closedir(dp);
	return FW_OK;
}

/* Make the data folder itself: a new one (tracked), or an empty one. */
static fw_err
init_make_root(struct init *in)
{
	char parent[PATH_MAX], *slash;
	struct stat st;
	fw_err e;

	if (lstat(in->dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fw_seterr(FW_ERR_EXISTS, "%s exists and is not a "
			    "folder", in->dir);
		return init_is_empty(in->dir);
	}
	if (errno != ENOENT)
		return file_errno(errno, in->dir);
	/* Only the last level is made: a mistyped parent is an error, not a
	 * tree of folders. */
	snprintf(parent, sizeof parent, "%s", in->dir);
	if ((slash = strrchr(parent, '/')) != NULL) {
		if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode))
			return fw_seterr(FW_ERR_NOT_FOUND, "%s: the folder that "
			    "should hold the data folder does not exist", parent);
	}
	if ((e = file_mkdirs(in->dir, INIT_DIR_MODE)) != FW_OK)
		return e;
	return init_track(in, in->dir, 1);
}

static fw_err
init_mkdir(struct init *in, const char *rel, mode_t mode)
{
	char path[PATH_MAX];
	fw_err e;

	if ((e = init_path(in, rel, path)) != FW_OK)
		return e;
	if (mkdir(path, mode) == -1)
		return file_errno(errno, path);
	if ((e = init_track(in, path, 1)) != FW_OK)
		return e;
	if (chmod(path, mode) == -1)
		return file_errno(errno, path);
	return file_fsync_dir(in->dir);
}

/* Create rel with data, durably, refusing an existing file. */
static fw_err
init_file(struct init *in, const char *rel, const void *data, size_t len,
    mode_t mode)
{
	char path[PATH_MAX];
	fw_err e;

	if ((e = init_path(in, rel, path)) != FW_OK)
		return e;
	if ((e = file_create_durable(path, data, len, mode)) != FW_OK)
		return e;
	return init_track(in, path, 0);
}

/* keys/office.key as age-keygen writes it, and keys/office.pub. */
static fw_err
init_office_key(struct init *in, char *recip, size_t recipsz)
{
	uint8_t id[AGE_KEY_LEN], pub[AGE_KEY_LEN];
	char idtext[128], text[512];
	int n;
	fw_err e;

	if ((e = age_keygen(id)) != FW_OK)
		return e;
	if ((e = age_recipient_of(id, pub)) != FW_OK ||
	    (e = age_recipient_format(pub, recip, recipsz)) != FW_OK ||
	    (e = age_identity_format(id, idtext, sizeof idtext)) != FW_OK)
		goto out;
	n = snprintf(text, sizeof text, "# created: %s\n# public key: %s\n%s\n",
	    in->created, recip, idtext);
	if (n < 0 || (size_t)n >= sizeof text) {
		e = fw_seterr(FW_ERR_INTERNAL, "office key text too long");
		goto out;
	}
	if ((e = init_file(in, "keys/office.key", text, (size_t)n, 0600)) != FW_OK)
		goto out;
	n = snprintf(text, sizeof text, "%s\n", recip);
	e = init_file(in, "keys/office.pub", text, (size_t)n, 0644);
out:
	explicit_bzero(id, sizeof id);
	explicit_bzero(idtext, sizeof idtext);
	explicit_bzero(text, sizeof text);
	return e;
}

static fw_err
init_receipt_key(struct init *in)
{
	struct ed25519_key *k;
	char path[PATH_MAX];
	fw_err e;

	if ((e = ed25519_generate(&k)) != FW_OK)
		return e;
	if ((e = init_path(in, "keys/receipt.key", path)) == FW_OK &&
	    (e = ed25519_save_private(k, path)) == FW_OK &&
	    (e = init_track(in, path, 0)) == FW_OK &&
	    (e = init_path(in, "keys/receipt.pub", path)) == FW_OK &&
	    (e = ed25519_save_public(k, path)) == FW_OK)
		e = init_track(in, path, 0);
	ed25519_free(k);
	return e;
}

static fw_err
init_tls(struct init *in, char *fp)
{
	char ca[PATH_MAX], cakey[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char cn[64];
	fw_err e;

	if ((e = init_path(in, "tls/ca.pem", ca)) != FW_OK ||
	    (e = init_path(in, "tls/ca.key", cakey)) != FW_OK ||
	    (e = init_path(in, "tls/server.pem", cert)) != FW_OK ||
	    (e = init_path(in, "tls/server.key", key)) != FW_OK)
		return e;
	/* A CA name of its own (the time it was made), so that two
	 * offices' CAs are told apart in a device's logs. */
	snprintf(cn, sizeof cn, "fundwatch office CA %s", in->created);
	if ((e = tls_make_ca(ca, cakey, cn)) != FW_OK)
		return e;
	if ((e = init_track(in, cakey, 0)) != FW_OK ||
	    (e = init_track(in, ca, 0)) != FW_OK)
		return e;
	if ((e = tls_make_cert(ca, cakey, in->names, in->nnames, cert, key)) != FW_OK)
		return e;
	if ((e = init_track(in, key, 0)) != FW_OK ||
	    (e = init_track(in, cert, 0)) != FW_OK)
		return e;
	return tls_fingerprint(ca, fp);
}

static fw_err
init_config(struct init *in)
{
	char path[PATH_MAX], header[256];
	struct stat st;
	fw_err e;

	if ((e = init_path(in, "fundwatch.conf", path)) != FW_OK)
		return e;
	if (lstat(path, &st) == 0)
		return fw_seterr(FW_ERR_EXISTS, "%s: already exists", path);
	snprintf(header, sizeof header,
	    "fundwatch.conf: fundwatch-server's configuration, made by init on %s.\n"
	    "Each setting shows its default; `fundwatch-server run -n` checks\n"
	    "the file.  Sizes take K, M, G; durations s, m, h, d.",
	    in->created);
	/* Track first: conf_write_defaults leaves nothing on failure, and
	 * the undo ignores a file that is not there. */
	if ((e = init_track(in, path, 0)) != FW_OK)
		return e;
	return conf_write_defaults(srv_config_table, srv_config_table_len, path,
	    header);
}

/*
 * Read and check the profile (an error names its line) before anything is
 * made; the bytes checked are the bytes written to profile.conf, so a
 * file changed in between cannot slip through unchecked.
 */
static fw_err
init_profile_check(const char *src, uint8_t **data, size_t *len, char *name,
    size_t namesz)
{
	struct profile *p;
	fw_err e;

	if ((e = file_read_all(src, PROFILE_FILE_MAX, data, len)) != FW_OK)
		return e;
	if ((e = profile_load_mem(src, *data, *len, &p)) != FW_OK) {
		free(*data);
		*data = NULL;
		return e;
	}
	snprintf(name, namesz, "%s", p->name);
	profile_free(p);
	return FW_OK;
}

static fw_err
init_holidays(struct init *in)
{
	static const char text[] =
	    "# holidays.txt: the office's working-day calendar.\n"
	    "#\n"
	    "# Saturdays and Sundays are not working days.  Deadlines counted in\n"
	    "# working days (the profile's [deadlines]) also skip the days listed\n"
	    "# here, one entry a line (dates YYYY-MM-DD, '#' starts a comment):\n"
	    "#\n"
	    "#   2025-10-01                  a holiday\n"
	    "#   2025-10-01..2025-10-08      holidays, both ends included\n"
	    "#   holiday 2025-10-01          the same, spelt out\n"
	    "#   workday 2025-09-28          a weekend day that is worked (调休)\n"
	    "#\n"
	    "# Add each year's public holidays as the State Council announces them.\n";

	return init_file(in, "holidays.txt", text, sizeof text - 1, INIT_CONF_MODE);
}

static fw_err
init_db(struct init *in)
{
	char path[PATH_MAX], side[PATH_MAX + 16];
	sqlite3 *db;
	fw_err e;

	if ((e = init_path(in, "fundwatch.db", path)) != FW_OK)
		return e;
	/* Tracked before they exist (the folder was new or empty, so none
	 * is anybody else's): db_open may fail half-way and leave any of
	 * them, and the undo skips those that are absent. */
	for (size_t i = 0; i < sizeof init_sqlite_side / sizeof init_sqlite_side[0];
	    i++) {
		snprintf(side, sizeof side, "%s%s", path, init_sqlite_side[i]);
		if ((e = init_track(in, side, 0)) != FW_OK)
			return e;
	}
	if ((e = init_track(in, path, 0)) != FW_OK)
		return e;
	if ((e = db_open(path, 1, &db)) != FW_OK)
		return e;
	if (sqlite3_close(db) != SQLITE_OK)
		return fw_seterr(FW_ERR_IO, "%s: cannot close the database", path);
	return FW_OK;
}

static void
init_now(char out[INIT_TIME_LEN])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, INIT_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static fw_err
init_make_files(struct init *in, const uint8_t *prof, size_t proflen,
    char *recip, size_t recipsz, char *fp)
{
	fw_err e;

	if ((e = init_make_root(in)) != FW_OK ||
	    (e = init_mkdir(in, "keys", INIT_KEYS_MODE)) != FW_OK ||
	    (e = init_mkdir(in, "tls", INIT_KEYS_MODE)) != FW_OK ||
	    (e = init_mkdir(in, "blobs", INIT_DIR_MODE)) != FW_OK ||
	    (e = init_mkdir(in, "blobs/partial", INIT_DIR_MODE)) != FW_OK ||
	    (e = init_mkdir(in, "run", INIT_DIR_MODE)) != FW_OK ||
	    (e = init_file(in, "profile.conf", prof, proflen,
	    INIT_CONF_MODE)) != FW_OK ||
	    (e = init_config(in)) != FW_OK ||
	    (e = init_holidays(in)) != FW_OK ||
	    (e = init_office_key(in, recip, recipsz)) != FW_OK ||
	    (e = init_receipt_key(in)) != FW_OK ||
	    (e = init_tls(in, fp)) != FW_OK ||
	    (e = init_db(in)) != FW_OK)
		return e;
	return file_fsync_dir(in->dir);
}

static fw_err
init_make(struct init *in, const char *profile_path, char *recip,
    size_t recipsz, char *fp, char *pname, size_t pnamesz)
{
	uint8_t *prof;
	size_t proflen;
	fw_err e;

	if ((e = init_profile_check(profile_path, &prof, &proflen, pname,
	    pnamesz)) != FW_OK)
		return e;
	e = init_make_files(in, prof, proflen, recip, recipsz, fp);
	free(prof);
	return e;
}

static void
init_report(const struct init *in, const char *pname, const char *recip,
    const char *fp)
{
	printf("made data folder %s\n"
	    "  fundwatch.conf     configuration, every setting at its default\n"
	    "  profile.conf       policy profile '%s' (checked copy)\n"
	    "  holidays.txt       working-day calendar: add the office's holidays\n"
	    "  fundwatch.db       database\n"
	    "  blobs/             evidence store (age files)\n"
	    "  keys/office.key    office age identity: SECRET, 0600; keep an offline\n"
	    "                     backup, without it no evidence can be read\n"
	    "  keys/office.pub    office recipient\n"
	    "  keys/receipt.key   receipt signing key: SECRET, 0600\n"
	    "  keys/receipt.pub   receipt verification key\n"
	    "  tls/ca.pem         private CA certificate (devices pin it)\n"
	    "  tls/ca.key         private CA key: SECRET, 0600\n"
	    "  tls/server.pem     TLS certificate for localhost, 127.0.0.1, ::1",
	    in->dir, pname);
	for (size_t i = 0; i < in->nnames; i++)
		printf(", %s", in->names[i]);
	printf("\n"
	    "  tls/server.key     TLS key: SECRET, 0600\n"
	    "\n"
	    "office recipient:          %s\n"
	    "CA fingerprint (SHA-256):  %s\n"
	    "\n"
	    "next: fundwatch-server run --data %s\n", recip, fp, in->dir);
}

int
init_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'D'},
		{"profile", required_argument, NULL, 'p'},
		{"hostname", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char recip[128], fp[TLS_FINGERPRINT_LEN + 1], pname[128];
	char profile_path[PATH_MAX];
	const char *data = NULL, *profile = NULL;
	struct init in;
	size_t len;
	fw_err e;
	int c;

	memset(&in, 0, sizeof in);
	optind = 0;	/* glibc: start afresh, whatever ran before */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			data = optarg;
			break;
		case 'p':
			profile = optarg;
			break;
		case 'H':
			if (in.nnames == TLS_MAX_NAMES) {
				fprintf(stderr, "init: more than %d --hostname\n",
				    TLS_MAX_NAMES);
				return 2;
			}
			if (tls_check_name(optarg) != FW_OK) {
				fprintf(stderr, "init: --hostname: %s\n", fw_errmsg());
				return 2;
			}
			in.names[in.nnames++] = optarg;
			break;
		case 'h':
			init_usage(stdout);
			return 0;
		default:
			init_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || data == NULL || profile == NULL) {
		if (optind != argc)
			fprintf(stderr, "init: unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "init: --data and --profile are required\n");
		init_usage(stderr);
		return 2;
	}
	len = strlen(data);
	while (len > 1 && data[len - 1] == '/')
		len--;	/* "dir/" is "dir" */
	if (len == 0 || len >= sizeof in.dir - 32) {
		fprintf(stderr, "init: --data: bad folder name\n");
		return 2;
	}
	memcpy(in.dir, data, len);
	in.dir[len] = '\0';
	init_now(in.created);

	if ((e = profile_resolve(profile, profile_path, sizeof profile_path)) ==
	    FW_OK)
		e = init_make(&in, profile_path, recip, sizeof recip, fp, pname,
		    sizeof pname);
	if (e != FW_OK) {
		fprintf(stderr, "init: %s (%s)\n", fw_errmsg(), fw_strerror(e));
		init_undo(&in);
		return 1;
	}
	init_forget(&in);
	init_report(&in, pname, recip, fp);
	return 0;
}

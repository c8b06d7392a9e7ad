/*
 * export.c: a case exported for an enforcement officer or a court
 * (`case export ID --out DIR`, the office API's export), and the check of
 * such a folder (`fundwatch-server verify-export DIR`), which needs no
 * data folder and trusts nothing in the export but what it verifies.
 * case.c gives the case, the access rule (CASE_ACT_EXPORT) and the audit
 * entry; the files and their checks are here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "server.h"

/* ---- export and its verification --------------------------------------- */
/*
 * An export is a folder an enforcement officer or a court can check with
 * stock tools alone (VERIFY.md says how): the exact signed manifest bytes
 * of every bundle that holds a clue of the case, each signature as raw
 * bytes, the device keys and the server's receipt key as PEM, the signed
 * receipts, the evidence as stored (age) and decrypted, the case's audit
 * entries, and SHA256SUMS over every other file.
 */

#define EXPORT_MAX_FILES	4096	/* files one export holds or checks */

struct export {
	struct server *s;
	char dir[PATH_MAX];		/* DIR.partial while writing */
	struct buf sums;		/* SHA256SUMS */
	struct buf verify;		/* VERIFY.md */
	size_t nfiles;
};

static fw_err
export_path(const char *dir, const char *rel, char *out, size_t outsz)
{
	if ((size_t)snprintf(out, outsz, "%s/%s", dir, rel) >= outsz)
		return fw_seterr(FW_ERR_INVALID, "%s/%s: path too long", dir, rel);
	return FW_OK;
}

/* Write rel with its bytes and add it to SHA256SUMS. */
static fw_err
export_write(struct export *x, const char *rel, const void *p, size_t n)
{
	char path[PATH_MAX], hex[SHA256_HEX + 1];
	fw_err e;

	if (x->nfiles >= EXPORT_MAX_FILES)
		return fw_seterr(FW_ERR_LIMIT, "export: more than %d files",
		    EXPORT_MAX_FILES);
	if ((e = export_path(x->dir, rel, path, sizeof path)) != FW_OK ||
	    (e = file_create_durable(path, p, n, 0644)) != FW_OK ||
	    (e = sha256_hex(p, n, hex)) != FW_OK)
		return e;
	x->nfiles++;
	return buf_printf(&x->sums, "%s  %s\n", hex, rel);
}

/* An Ed25519 public key as PEM (SubjectPublicKeyInfo). */
static fw_err
export_pem(const uint8_t pub[ED25519_PUB_LEN], struct buf *out)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    ED25519_PUB_LEN);
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	fw_err e = FW_OK;

	if (k == NULL || b == NULL || PEM_write_bio_PUBKEY(b, k) != 1 ||
	    (n = BIO_get_mem_data(b, &p)) <= 0)
		e = fw_seterr(FW_ERR_CRYPTO, "export: cannot write a PEM key");
	else
		e = buf_add(out, p, (size_t)n);
	BIO_free(b);
	EVP_PKEY_free(k);
	return e;
}

static fw_err
export_pem_read(const char *path, struct ed25519_key **out)
{
	uint8_t *p = NULL, pub[ED25519_PUB_LEN];
	size_t n, publen = sizeof pub;
	EVP_PKEY *k = NULL;
	BIO *b;
	fw_err e;

	if ((e = file_read_all(path, 1u << 16, &p, &n)) != FW_OK)
		return e;
	if ((b = BIO_new_mem_buf(p, (int)n)) != NULL)
		k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	if (k == NULL || EVP_PKEY_get_raw_public_key(k, pub, &publen) != 1 ||
	    publen != sizeof pub)
		e = fw_seterr(FW_ERR_KEY, "%s: not an Ed25519 public key in PEM", path);
	else
		e = ed25519_from_public(pub, out);
	EVP_PKEY_free(k);
	BIO_free(b);
	free(p);
	return e;
}

/* One bundle: manifest, signature, receipt, device key. */
static fw_err
export_bundle(struct export *x, const char *id)
{
	sqlite3_stmt *st;
	char rel[PATH_MAX], dev[ED25519_DEVICE_ID_LEN + 1] = "";
	json_t *ans = NULL;
	struct buf rb, pem;
	uint8_t sig[ED25519_SIG_LEN];
	size_t siglen = 0;
	fw_err e;
	int rc;

	buf_init(&rb, FW_MAX_MANIFEST);
	buf_init(&pem, 1u << 12);
	if ((e = db_prepare(x->s->db, &st, "SELECT b.manifest, b.signature, b.receipt,"
	    " b.device_id, d.pubkey FROM bundles b JOIN devices d ON d.id = b.device_id"
	    " WHERE b.id = ? AND b.state = 'committed'", "s", id)) != FW_OK)
		goto out;
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		e = fw_seterr(FW_ERR_NOT_FOUND, "bundle %s is not committed", id);
		goto out;
	}
	snprintf(dev, sizeof dev, "%s", col_text(st, 3));
	snprintf(rel, sizeof rel, "bundles/%s.manifest", id);
	e = export_write(x, rel, sqlite3_column_blob(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0));
	snprintf(rel, sizeof rel, "bundles/%s.sig", id);
	if (e == FW_OK)
		e = export_write(x, rel, sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1));
	if (e == FW_OK && sqlite3_column_bytes(st, 4) == ED25519_PUB_LEN &&
	    (e = export_pem(sqlite3_column_blob(st, 4), &pem)) == FW_OK) {
		char path[PATH_MAX];
		snprintf(rel, sizeof rel, "devices/%s.pem", dev);
		/* Several bundles of one device share its key file. */
		if ((e = export_path(x->dir, rel, path, sizeof path)) == FW_OK &&
		    access(path, F_OK) != 0)
			e = export_write(x, rel, pem.data, pem.len);
	}
	if (e == FW_OK)
		e = jsonx_load(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
		    &ans);
	sqlite3_finalize(st);
	if (e != FW_OK)
		goto out;
	/* The receipt's signature covers the canonical bytes of "receipt". */
	if ((e = jsonx_dump_canonical(json_object_get(ans, "receipt"), &rb)) != FW_OK)
		goto out;
	const char *s64 = json_string_value(json_object_get(ans, "signature"));
	if (s64 == NULL || base64_decode(s64, strlen(s64), 1, sig, sizeof sig,
	    &siglen) != FW_OK || siglen != sizeof sig) {
		e = fw_seterr(FW_ERR_INTERNAL, "bundle %s: stored receipt unreadable", id);
		goto out;
	}
	snprintf(rel, sizeof rel, "bundles/%s.receipt.json", id);
	if ((e = export_write(x, rel, rb.data, rb.len)) != FW_OK)
		goto out;
	snprintf(rel, sizeof rel, "bundles/%s.receipt.sig", id);
	if ((e = export_write(x, rel, sig, sizeof sig)) != FW_OK)
		goto out;
	e = buf_printf(&x->verify,
	    "### bundle %s (device %s)\n\n"
	    "    sha256sum bundles/%s.manifest      # the bundle id: %s\n"
	    "    openssl pkeyutl -verify -pubin -inkey devices/%s.pem -rawin \\\n"
	    "        -in bundles/%s.manifest -sigfile bundles/%s.sig\n"
	    "    openssl pkeyutl -verify -pubin -inkey keys/receipt.pem -rawin \\\n"
	    "        -in bundles/%s.receipt.json -sigfile bundles/%s.receipt.sig\n\n",
	    id, dev, id, id, dev, id, id, id, id);
out:
	json_decref(ans);
	buf_free(&rb);
	buf_free(&pem);
	return e;
}

/* One evidence blob: as stored, and decrypted with the office identity. */
static fw_err
export_blob(struct export *x, const char *blob, const char *plain_sha)
{
	char src[PATH_MAX], rel[PATH_MAX], path[PATH_MAX], hex[SHA256_HEX + 1];
	uint8_t *p = NULL, h[SHA256_LEN];
	uint64_t size = 0;
	size_t n;
	int in, out;
	fw_err e;

	if (x->nfiles + 2 > EXPORT_MAX_FILES)
		return fw_seterr(FW_ERR_LIMIT, "export: more than %d files",
		    EXPORT_MAX_FILES);
	blob_path(x->s, blob, 0, src, sizeof src);
	snprintf(rel, sizeof rel, "blobs/%s", blob);
	if ((e = export_path(x->dir, rel, path, sizeof path)) != FW_OK)
		return e;
	/* Copied in one piece only up to FW_MAX_CHUNK; larger ones stream. */
	if ((e = file_read_all(src, FW_MAX_CHUNK, &p, &n)) == FW_OK) {
		e = export_write(x, rel, p, n);
		free(p);
	} else {
		if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
			return file_errno(errno, src);
		if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) == -1) {
			close(in);
			return file_errno(errno, path);
		}
		e = FW_OK;
		/* Bounded by the file's size: each pass reads at least a byte. */
		for (;;) {
			uint8_t chunk[1u << 16];
			ssize_t r = read(in, chunk, sizeof chunk);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (r < 0)
					e = file_errno(errno, src);
				break;
			}
			if ((e = file_write_all(out, chunk, (size_t)r, path)) != FW_OK)
				break;
		}
		if (e == FW_OK)
			e = file_fsync(out, path);
		close(in);
		close(out);
		if (e == FW_OK && (e = sha256_file(path, h, &size)) == FW_OK) {
			hex_encode(h, sizeof h, hex);
			x->nfiles++;
			e = buf_printf(&x->sums, "%s  %s\n", hex, rel);
		}
	}
	if (e != FW_OK)
		return e;
	/* Decrypted: streamed through age_decrypt_fd, never whole in memory. */
	snprintf(rel, sizeof rel, "evidence/%s", blob);
	if ((e = export_path(x->dir, rel, path, sizeof path)) != FW_OK)
		return e;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return file_errno(errno, src);
	if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		close(in);
		return file_errno(errno, path);
	}
	e = age_decrypt_fd(in, out, x->s->office_identity);
	if (e == FW_OK)
		e = file_fsync(out, path);
	close(in);
	close(out);
	if (e == FW_OK && (e = sha256_file(path, h, &size)) == FW_OK) {
		hex_encode(h, sizeof h, hex);
		if (strcmp(hex, plain_sha) != 0)
			e = fw_seterr(FW_ERR_HASH_MISMATCH, "blob %s decrypts to %s, the "
			    "manifest says %s", blob, hex, plain_sha);
		x->nfiles++;
		if (e == FW_OK)
			e = buf_printf(&x->sums, "%s  %s\n", hex, rel);
	}
	if (e == FW_OK)
		e = buf_printf(&x->verify,
		    "    sha256sum blobs/%s          # must print the name\n"
		    "    age -d -i office.key blobs/%s | sha256sum   # %s\n"
		    "    sha256sum evidence/%s       # %s (the manifest's sha256)\n\n",
		    blob, blob, plain_sha, blob, plain_sha);
	return e;
}

/* The case's audit entries and those of its bundles' ingestion. */
static fw_err
export_audit(struct export *x, int64_t id)
{
	char subj[32];
	sqlite3_stmt *st;
	struct buf out;
	fw_err e;
	int rc;

	snprintf(subj, sizeof subj, "case:%" PRId64, id);
	buf_init(&out, 64u << 20);
	if ((e = db_prepare(x->s->db, &st, "SELECT seq, at, actor, action, subject,"
	    " detail, prev, hash FROM audit WHERE subject = ? OR (action ="
	    " 'ingest.accepted' AND subject IN (SELECT DISTINCT o.bundle_id FROM"
	    " observations o JOIN clues c ON c.observation_id = o.id WHERE c.case_id ="
	    " ?)) ORDER BY seq", "si", subj, id)) != FW_OK)
		return e;
	while (e == FW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *d = NULL, *o;
		const char *dt = col_text(st, 5);
		if ((e = jsonx_load(dt, strlen(dt), &d)) != FW_OK)
			break;
		o = json_pack("{sI sI ss ss ss so ss ss}", "seq",
		    (json_int_t)sqlite3_column_int64(st, 0), "at",
		    (json_int_t)sqlite3_column_int64(st, 1), "actor", col_text(st, 2),
		    "action", col_text(st, 3), "subject", col_text(st, 4), "detail", d,
		    "prev", col_text(st, 6), "hash", col_text(st, 7));
		if (o == NULL)
			e = fw_seterr(FW_ERR_NOMEM, "export: out of memory");
		else if ((e = jsonx_dump_canonical(o, &out)) == FW_OK)
			e = buf_add(&out, "\n", 1);
		json_decref(o);
	}
	sqlite3_finalize(st);
	if (e == FW_OK)
		e = export_write(x, "audit.jsonl", out.data, out.len);
	buf_free(&out);
	return e;
}

static const char export_verify_head[] =
    "# Verifying this export\n\n"
    "Every command below runs with stock tools (OpenSSL 3, age, coreutils) in\n"
    "this folder; `fundwatch-server verify-export DIR` runs the same checks.\n\n"
    "1. No file was altered since the export:\n\n"
    "        sha256sum -c SHA256SUMS\n\n"
    "2. The receipt key is the server's: compare the fingerprint with the one\n"
    "   the office publishes:\n\n"
    "        openssl pkey -pubin -in keys/receipt.pem -outform DER | sha256sum\n\n"
    "3. Each bundle's manifest is exactly what the device signed at capture\n"
    "   (its SHA-256 is the bundle id), and the server received it (receipt):\n\n";

static const char export_verify_tail[] =
    "4. audit.jsonl holds the case's audit entries: each line's \"hash\" is the\n"
    "   SHA-256 of the canonical JSON of the line without \"hash\"; \"prev\" is\n"
    "   the hash of the entry before it in the server's full chain.\n";

fw_err
case_export(struct server *s, const struct officer *who, int64_t id,
    const char *dir)
{
	struct export x = {.s = s};
	struct case_info c;
	sqlite3_stmt *st;
	uint8_t rk[ED25519_PUB_LEN];
	struct buf pem;
	json_t *summary = NULL;
	char *txt = NULL;
	fw_err e;
	int rc;

	if ((e = case_load_acl(s, who, id, CASE_ACT_EXPORT, &c)) != FW_OK)
		return e;
	if (access(dir, F_OK) == 0) {
		case_info_clear(&c);
		return fw_seterr(FW_ERR_EXISTS, "%s exists already", dir);
	}
	if ((size_t)snprintf(x.dir, sizeof x.dir, "%s.partial", dir) >= sizeof x.dir) {
		case_info_clear(&c);
		return fw_seterr(FW_ERR_INVALID, "%s: path too long", dir);
	}
	buf_init(&x.sums, 1u << 20);
	buf_init(&x.verify, 4u << 20);
	buf_init(&pem, 1u << 12);
	if (mkdir(x.dir, 0755) == -1) {
		e = file_errno(errno, x.dir);
		goto out;
	}
	{
		static const char *const sub[] = {"bundles", "devices", "keys", "blobs",
		    "evidence"};
		char path[PATH_MAX];
		for (size_t i = 0; e == FW_OK && i < sizeof sub / sizeof sub[0]; i++)
			if ((e = export_path(x.dir, sub[i], path, sizeof path)) == FW_OK &&
			    mkdir(path, 0755) == -1)
				e = file_errno(errno, path);
	}
	if (e != FW_OK || (e = buf_addstr(&x.verify, export_verify_head)) != FW_OK ||
	    (e = ed25519_public(s->receipt_key, rk)) != FW_OK ||
	    (e = export_pem(rk, &pem)) != FW_OK ||
	    (e = export_write(&x, "keys/receipt.pem", pem.data, pem.len)) != FW_OK)
		goto out;
	if ((e = db_prepare(s->db, &st, "SELECT DISTINCT o.bundle_id FROM observations o"
	    " JOIN clues c ON c.observation_id = o.id WHERE c.case_id = ? ORDER BY"
	    " o.bundle_id", "i", id)) != FW_OK)
		goto out;
	while (e == FW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		e = export_bundle(&x, col_text(st, 0));
	sqlite3_finalize(st);
	if (e != FW_OK || (e = buf_addstr(&x.verify, "4. Evidence: each stored blob"
	    " is named by its SHA-256; decrypted, it has the SHA-256 that the signed"
	    " manifest gives (office.key is the office identity, kept by the"
	    " office):\n\n")) != FW_OK)
		goto out;
	if ((e = db_prepare(s->db, &st, "SELECT ob.blob, o.canonical FROM"
	    " observation_blobs ob JOIN clues c ON c.observation_id = ob.observation_id"
	    " JOIN observations o ON o.id = ob.observation_id WHERE c.case_id = ?"
	    " ORDER BY ob.blob", "i", id)) != FW_OK)
		goto out;
	while (e == FW_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *blob = col_text(st, 0), *plain = NULL;
		json_t *o = NULL, *ev;
		size_t i;
		if ((e = jsonx_load(sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1), &o)) != FW_OK)
			break;
		for (i = 0; i < json_array_size(json_object_get(o, "evidence")) &&
		    (ev = json_array_get(json_object_get(o, "evidence"), i)) != NULL; i++)
			if (strcmp(json_string_value(json_object_get(ev, "blob")) ?
			    json_string_value(json_object_get(ev, "blob")) : "", blob) == 0)
				plain = json_string_value(json_object_get(ev, "sha256"));
		e = plain ? export_blob(&x, blob, plain) : fw_seterr(FW_ERR_INTERNAL,
		    "blob %s: not in its observation", blob);
		json_decref(o);
	}
	sqlite3_finalize(st);
	if (e != FW_OK || (e = export_audit(&x, id)) != FW_OK)
		goto out;
	if ((summary = case_info_json(&c, calendar_china_day((int64_t)time(NULL)))) ==
	    NULL || (txt = json_dumps(summary, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		e = fw_seterr(FW_ERR_NOMEM, "export: out of memory");
		goto out;
	}
	if ((e = export_write(&x, "case.json", txt, strlen(txt))) != FW_OK ||
	    (e = buf_addstr(&x.verify, export_verify_tail)) != FW_OK ||
	    (e = export_write(&x, "VERIFY.md", x.verify.data, x.verify.len)) != FW_OK)
		goto out;
	{
		char path[PATH_MAX];
		if ((e = export_path(x.dir, "SHA256SUMS", path, sizeof path)) == FW_OK)
			e = file_create_durable(path, x.sums.data, x.sums.len, 0644);
	}
	if (e == FW_OK && rename(x.dir, dir) == -1)
		e = file_errno(errno, dir);
	if (e == FW_OK)
		e = case_audit(s, who->id, "case.exported", id, json_pack("{sI}", "files",
		    (json_int_t)x.nfiles));
out:
	if (e != FW_OK) {
		char msg[FW_ERRMSG_MAX];
		snprintf(msg, sizeof msg, "%s", fw_errmsg());
		fw_seterr(e, "%s (what was written is left in %s)", msg, x.dir);
	}
	free(txt);
	json_decref(summary);
	buf_free(&pem);
	buf_free(&x.sums);
	buf_free(&x.verify);
	case_info_clear(&c);
	return e;
}

/* ---- verify-export ----------------------------------------------------- */

static fw_err
verify_sig(const char *dir, const char *keyrel, const char *msgrel,
    const char *sigrel, size_t cap)
{
	char kp[PATH_MAX], mp[PATH_MAX], sp[PATH_MAX];
	struct ed25519_key *k = NULL;
	uint8_t *m = NULL, *sg = NULL;
	size_t mn, sn;
	fw_err e;

	if ((e = export_path(dir, keyrel, kp, sizeof kp)) != FW_OK ||
	    (e = export_path(dir, msgrel, mp, sizeof mp)) != FW_OK ||
	    (e = export_path(dir, sigrel, sp, sizeof sp)) != FW_OK)
		return e;
	if ((e = export_pem_read(kp, &k)) != FW_OK)
		return e;
	if ((e = file_read_all(mp, cap, &m, &mn)) == FW_OK &&
	    (e = file_read_all(sp, 256, &sg, &sn)) == FW_OK) {
		if (sn != ED25519_SIG_LEN || ed25519_verify(k, m, mn, sg) != FW_OK)
			e = fw_seterr(FW_ERR_SIGNATURE, "%s: signature %s does not verify "
			    "with %s", msgrel, sigrel, keyrel);
	}
	ed25519_free(k);
	free(m);
	free(sg);
	return e;
}

/* A name in the export: hex of 64 digits (bundles, blobs). */
static int
verify_hexname(const char *s, size_t len)
{
	return strlen(s) >= len && hex_is_lower(s, SHA256_HEX);
}

/* Bundles: id = SHA-256 of the manifest, device signature, receipt. */
static fw_err
verify_bundles(const char *dir, json_t *blobs, int64_t *n)
{
	char path[PATH_MAX], rel[PATH_MAX], rel2[PATH_MAX], hex[SHA256_HEX + 1];
	struct dirent *de;
	DIR *d;
	fw_err e = FW_OK;
	size_t seen = 0;

	if ((e = export_path(dir, "bundles", path, sizeof path)) != FW_OK)
		return e;
	if ((d = opendir(path)) == NULL)
		return file_errno(errno, path);
	while (e == FW_OK && (de = readdir(d)) != NULL && seen++ < EXPORT_MAX_FILES) {
		size_t l = strlen(de->d_name);
		uint8_t *m = NULL;
		size_t mn;
		json_t *man = NULL, *r = NULL, *obs, *o, *ev;
		size_t i, j;
		const char *dev;

		if (l != SHA256_HEX + 9 || strcmp(de->d_name + SHA256_HEX, ".manifest") != 0)
			continue;
		snprintf(hex, sizeof hex, "%.*s", SHA256_HEX, de->d_name);
		snprintf(rel, sizeof rel, "bundles/%s", de->d_name);
		if (!verify_hexname(hex, SHA256_HEX) ||
		    (e = export_path(dir, rel, path, sizeof path)) != FW_OK ||
		    (e = file_read_all(path, FW_MAX_MANIFEST, &m, &mn)) != FW_OK)
			break;
		{
			char got[SHA256_HEX + 1];
			if ((e = sha256_hex(m, mn, got)) == FW_OK && strcmp(got, hex) != 0)
				e = fw_seterr(FW_ERR_HASH_MISMATCH, "%s: SHA-256 is %s, not "
				    "the bundle id", rel, got);
		}
		if (e == FW_OK && (e = jsonx_load(m, mn, &man)) == FW_OK) {
			dev = json_string_value(json_object_get(man, "device"));
			if (dev == NULL || strchr(dev, '/') != NULL)
				e = fw_seterr(FW_ERR_FIELD_VALUE, "%s: no device", rel);
			else {
				char keyrel[PATH_MAX];
				snprintf(keyrel, sizeof keyrel, "devices/%s.pem", dev);
				snprintf(rel2, sizeof rel2, "bundles/%s.sig", hex);
				e = verify_sig(dir, keyrel, rel, rel2, FW_MAX_MANIFEST);
			}
		}
		free(m);
		m = NULL;
		if (e == FW_OK) {
			snprintf(rel, sizeof rel, "bundles/%s.receipt.json", hex);
			snprintf(rel2, sizeof rel2, "bundles/%s.receipt.sig", hex);
			e = verify_sig(dir, "keys/receipt.pem", rel, rel2, FW_MAX_MANIFEST);
		}
		if (e == FW_OK && (e = export_path(dir, rel, path, sizeof path)) == FW_OK &&
		    (e = file_read_all(path, FW_MAX_MANIFEST, &m, &mn)) == FW_OK &&
		    (e = jsonx_load(m, mn, &r)) == FW_OK &&
		    strcmp(json_string_value(json_object_get(r, "bundle")) ?
		    json_string_value(json_object_get(r, "bundle")) : "", hex) != 0)
			e = fw_seterr(FW_ERR_FIELD_VALUE, "%s: the receipt names another "
			    "bundle", rel);
		obs = json_object_get(man, "observations");
		for (i = 0; i < json_array_size(obs) &&
		    (o = json_array_get(obs, i)) != NULL; i++)
			for (j = 0; j < json_array_size(json_object_get(o, "evidence")) &&
			    (ev = json_array_get(json_object_get(o, "evidence"), j)) != NULL; j++)
				json_object_set(blobs, json_string_value(json_object_get(ev,
				    "blob")) ? json_string_value(json_object_get(ev, "blob")) :
				    "", ev);
		json_decref(man);
		json_decref(r);
		free(m);
		(*n)++;
	}
	closedir(d);
	return e;
}

/* Blobs: name = SHA-256, size and decrypted SHA-256 as the manifest says. */
static fw_err
verify_blobs(const char *dir, json_t *blobs, int64_t *n)
{
	char path[PATH_MAX], rel[PATH_MAX], hex[SHA256_HEX + 1];
	struct dirent *de;
	uint8_t h[SHA256_LEN];
	uint64_t size;
	size_t seen = 0;
	DIR *d;
	fw_err e = FW_OK;

	if ((e = export_path(dir, "blobs", path, sizeof path)) != FW_OK)
		return e;
	if ((d = opendir(path)) == NULL)
		return file_errno(errno, path);
	while (e == FW_OK && (de = readdir(d)) != NULL && seen++ < EXPORT_MAX_FILES) {
		json_t *ev;
		if (de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof rel, "blobs/%s", de->d_name);
		if (strlen(de->d_name) != SHA256_HEX || !verify_hexname(de->d_name,
		    SHA256_HEX) || (ev = json_object_get(blobs, de->d_name)) == NULL) {
			e = fw_seterr(FW_ERR_NOT_FOUND, "%s: no manifest names this blob",
			    rel);
			break;
		}
		if ((e = export_path(dir, rel, path, sizeof path)) != FW_OK ||
		    (e = sha256_file(path, h, &size)) != FW_OK)
			break;
		hex_encode(h, sizeof h, hex);
		if (strcmp(hex, de->d_name) != 0 || (json_int_t)size !=
		    json_integer_value(json_object_get(ev, "blob_size"))) {
			e = fw_seterr(FW_ERR_HASH_MISMATCH, "%s: SHA-256 %s or size %"
			    PRIu64 " is not what the manifest says", rel, hex, size);
			break;
		}
		snprintf(rel, sizeof rel, "evidence/%s", de->d_name);
		if ((e = export_path(dir, rel, path, sizeof path)) != FW_OK ||
		    (e = sha256_file(path, h, &size)) != FW_OK)
			break;
		hex_encode(h, sizeof h, hex);
		if (strcmp(hex, json_string_value(json_object_get(ev, "sha256")) ?
		    json_string_value(json_object_get(ev, "sha256")) : "") != 0 ||
		    (json_int_t)size != json_integer_value(json_object_get(ev, "size")))
			e = fw_seterr(FW_ERR_HASH_MISMATCH, "%s: decrypted evidence does "
			    "not have the SHA-256 and size the signed manifest gives", rel);
		(*n) += 2;
	}
	closedir(d);
	return e;
}

/* audit.jsonl: each entry's hash over its other fields. */
static fw_err
verify_audit(const char *dir, int64_t *n)
{
	char path[PATH_MAX];
	uint8_t *p = NULL;
	size_t len, line = 0;
	fw_err e;

	if ((e = export_path(dir, "audit.jsonl", path, sizeof path)) != FW_OK ||
	    (e = file_read_all(path, 64u << 20, &p, &len)) != FW_OK)
		return e;
	for (size_t at = 0; e == FW_OK && at < len; line++) {
		const uint8_t *nl = memchr(p + at, '\n', len - at);
		size_t l = nl ? (size_t)(nl - (p + at)) : len - at;
		char want[SHA256_HEX + 1], got[SHA256_HEX + 1];
		json_t *o = NULL;
		struct buf b;

		if ((e = jsonx_load(p + at, l, &o)) != FW_OK ||
		    json_string_value(json_object_get(o, "hash")) == NULL) {
			json_decref(o);
			e = fw_seterr(FW_ERR_HASH_MISMATCH, "audit.jsonl: line %zu is not "
			    "an audit entry", line + 1);
			break;
		}
		snprintf(want, sizeof want, "%s", json_string_value(json_object_get(o,
		    "hash")));
		json_object_del(o, "hash");
		buf_init(&b, 1u << 24);
		if ((e = jsonx_dump_canonical(o, &b)) == FW_OK &&
		    (e = sha256_hex(b.data, b.len, got)) == FW_OK && strcmp(got, want) != 0)
			e = fw_seterr(FW_ERR_HASH_MISMATCH, "audit.jsonl: line %zu: entry "
			    "does not match its hash (altered)", line + 1);
		buf_free(&b);
		json_decref(o);
		at += l + 1;
	}
	free(p);
	(*n)++;
	return e;
}

/* SHA256SUMS: every line's file has that SHA-256 (sha256sum -c). */
static fw_err
verify_sums(const char *dir, int64_t *n)
{
	char path[PATH_MAX], rel[PATH_MAX], hex[SHA256_HEX + 1];
	uint8_t *p = NULL, h[SHA256_LEN];
	uint64_t size;
	size_t len, line = 0;
	fw_err e;

	if ((e = export_path(dir, "SHA256SUMS", path, sizeof path)) != FW_OK ||
	    (e = file_read_all(path, 4u << 20, &p, &len)) != FW_OK)
		return e;
	for (size_t at = 0; e == FW_OK && at < len && line < EXPORT_MAX_FILES; line++) {
		const uint8_t *nl = memchr(p + at, '\n', len - at);
		size_t l = nl ? (size_t)(nl - (p + at)) : len - at;

		if (l < SHA256_HEX + 3 || l - SHA256_HEX - 2 >= sizeof rel ||
		    p[at + SHA256_HEX] != ' ' || p[at + SHA256_HEX + 1] != ' ') {
			e = fw_seterr(FW_ERR_FIELD_VALUE, "SHA256SUMS: line %zu malformed",
			    line + 1);
			break;
		}
		memcpy(rel, p + at + SHA256_HEX + 2, l - SHA256_HEX - 2);
		rel[l - SHA256_HEX - 2] = '\0';
		if (strstr(rel, "..") != NULL || rel[0] == '/') {
			e = fw_seterr(FW_ERR_FIELD_VALUE, "SHA256SUMS: line %zu: path %s "
			    "leaves the export", line + 1, rel);
			break;
		}
		if ((e = export_path(dir, rel, path, sizeof path)) != FW_OK ||
		    (e = sha256_file(path, h, &size)) != FW_OK)
			break;
		hex_encode(h, sizeof h, hex);
		if (memcmp(hex, p + at, SHA256_HEX) != 0)
			e = fw_seterr(FW_ERR_HASH_MISMATCH, "%s: SHA-256 differs from "
			    "SHA256SUMS (altered)", rel);
		(*n)++;
		at += l + 1;
	}
	free(p);
	return e;
}

fw_err
case_verify_export(const char *dir, int64_t *nfiles)
{
	json_t *blobs = json_object();
	int64_t n = 0;
	fw_err e;

	if (blobs == NULL)
		return fw_seterr(FW_ERR_NOMEM, "verify: out of memory");
	/* The signatures and hashes first: they name the file that lies even
	 * if SHA256SUMS was rewritten to match it. */
	if ((e = verify_bundles(dir, blobs, &n)) == FW_OK &&
	    (e = verify_blobs(dir, blobs, &n)) == FW_OK &&
	    (e = verify_audit(dir, &n)) == FW_OK)
		e = verify_sums(dir, &n);
	json_decref(blobs);
	if (nfiles != NULL)
		*nfiles = n;
	return e;
}

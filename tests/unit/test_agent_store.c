/*
 * test_agent_store.c: the agent's store (agent/store.c) and the parsing of
 * `observe` (agent/cmd.c), without a server.
 *
 * Each test gets a fresh data folder in a temporary directory, a device key,
 * an office age identity and a receipt key made here, and an enrollment
 * recorded through store_enroll_save as enroll.c records it.  Media files
 * are made by the tests.  What is checked: captures are durable rows with
 * contiguous seqs; evidence goes through age (decrypted here with the
 * office identity); sealing makes bundles that bundle_open/bundle_verify
 * accept and whose hash chain links across bundles; receipts and purge;
 * recusal; refusals, each with its own error; a full disk (a small tmpfs,
 * when the test may mount one) leaves no row and no temporary file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <cmocka.h>

#include "../../agent/agent.h"

#define EXPECT(got, want, label) do {					\
	fw_err got_ = (got), want_ = (want);				\
	if (got_ != want_)						\
		fail_msg("%s: got %s, want %s (%s)", (label),		\
		    fw_strerror(got_), fw_strerror(want_), fw_errmsg());	\
} while (0)
#define OK(x) EXPECT((x), FW_OK, #x)
/* Paths and names: truncation would be a test bug. */
#define PATHF(b, ...) \
	assert_true((size_t)snprintf((b), sizeof(b), __VA_ARGS__) < sizeof(b))

#define TAXONOMY "[{\"code\":\"FAKE_BILL\",\"zh\":\"虚假结算\"," \
	"\"en\":\"fake billing\"},{\"code\":\"CARD_LOAN\",\"zh\":\"借卡\"," \
	"\"en\":\"card lending\"}]"

struct fx {
	char root[256];		/* temporary directory */
	char data[300];		/* the data folder */
	uint8_t office_id[AGE_KEY_LEN];
	struct ed25519_key *pub;	/* device public key */
	struct agent *a;
};

/* ---- fixtures ------------------------------------------------------------ */

static void
rm_rf(const char *path)
{
	char cmd[600];

	PATHF(cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static void
write_file(const char *path, size_t n, unsigned seed)
{
	uint8_t buf[4096] = {0};
	size_t done = 0, k;
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	while (done < n) {
		k = n - done < sizeof buf ? n - done : sizeof buf;
		for (size_t i = 0; i < k; i++)
			buf[i] = (uint8_t)((done + i) * 31 + seed + ((done + i) >> 12));
		assert_int_equal(fwrite(buf, 1, k, f), k);
		done += k;
	}
	assert_int_equal(fclose(f), 0);
}

static void
enroll(struct fx *f, struct agent_config *cfg)
{
	struct store_enrollment en;
	struct ed25519_key *k, *rk;
	uint8_t rcpt[AGE_KEY_LEN], pub[ED25519_PUB_LEN], rpub[ED25519_PUB_LEN];
	char id[ED25519_DEVICE_ID_LEN + 1], rs[100];

	OK(agent_open(f->data, cfg, &f->a));
	OK(ed25519_generate(&k));
	OK(ed25519_save_private(k, f->a->key_path));
	OK(ed25519_device_id(k, id));
	OK(ed25519_public(k, pub));
	OK(ed25519_from_public(pub, &f->pub));
	ed25519_free(k);
	OK(ed25519_generate(&rk));
	OK(ed25519_public(rk, rpub));
	ed25519_free(rk);
	OK(age_keygen(f->office_id));
	OK(age_recipient_of(f->office_id, rcpt));
	OK(age_recipient_format(rcpt, rs, sizeof rs));
	memset(&en, 0, sizeof en);
	en.device_id = id;
	en.supervisor = "S-0001";
	en.server_url = "https://127.0.0.1:8443";
	en.office_recipient = rs;
	en.receipt_key = rpub;
	en.profile = "qingyuan";
	en.taxonomy_json = TAXONOMY;
	en.taxonomy_len = strlen(TAXONOMY);
	en.ca_pem = (const uint8_t *)"-----BEGIN CERTIFICATE-----\n";
	en.ca_len = 28;
	en.chunk_size = 65536;
	OK(store_enroll_save(f->a, &en));
	assert_true(f->a->enrolled);
	assert_non_null(f->a->key);
	assert_string_equal(f->a->device_id, id);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	assert_non_null(f);
	PATHF(f->root, "/tmp/fw-agent-store-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	PATHF(f->data, "%s/data", f->root);
	enroll(f, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	agent_close(f->a);
	ed25519_free(f->pub);
	rm_rf(f->root);
	free(f);
	return 0;
}

/* An observation the way cmd.c hands it over. */
struct obs_in {
	struct fw_obs o;
	char *cats[2];
};

static void
obs_init(struct obs_in *in, const char *name, const char *what)
{
	memset(in, 0, sizeof *in);
	in->cats[0] = (char *)"FAKE_BILL";
	in->o.captured = (int64_t)time(NULL) - 60;
	in->o.place.text = (char *)"Qingcheng district, Xinhua road 3";
	in->o.place.has_geo = 1;
	in->o.place.lat_e7 = 236817000;
	in->o.place.lon_e7 = 1130561000;
	in->o.subject.kind = FW_SUBJ_PHARMACY;
	in->o.subject.name = (char *)name;
	in->o.categories = in->cats;
	in->o.ncategories = 1;
	in->o.what = (char *)what;
	in->o.severity = FW_SEV_NORMAL;
}

static void
capture(struct fx *f, const char *name, const struct store_file *files,
    size_t n, char id[FW_ID_HEX + 1])
{
	struct obs_in in;

	obs_init(&in, name, "card swiped for goods not dispensed");
	OK(store_observe(f->a, &in.o, files, n, 0, id));
	assert_int_equal(strlen(id), FW_ID_HEX);
}

static int64_t
count_db(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int64_t
count(struct fx *f, const char *sql)
{
	return count_db(f->a->db, sql);
}

static size_t
dir_entries(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* ---- capture ----------------------------------------------------------------- */

struct seqs {
	uint64_t want;
	size_t n;
};

static fw_err
check_seq(void *ctx, const struct store_obs_info *i)
{
	struct seqs *s = ctx;

	assert_int_equal(i->seq, s->want);
	assert_int_equal(i->status, STORE_CAPTURED);
	s->want++;
	s->n++;
	return FW_OK;
}

static void
test_capture_durable(void **state)
{
	struct fx *f = *state;
	char id[3][FW_ID_HEX + 1];
	struct seqs s = {1, 0};
	struct store_obs_info info;
	struct fw_obs o;
	struct agent *b;

	for (int i = 0; i < 3; i++)
		capture(f, "Kangmei pharmacy", NULL, 0, id[i]);
	assert_string_not_equal(id[0], id[1]);
	OK(store_list(f->a, 0, check_seq, &s));
	assert_int_equal(s.n, 3);
	/* Another handle (another process) sees the committed rows. */
	OK(agent_open(f->data, NULL, &b));
	assert_int_equal(count_db(b->db, "SELECT COUNT(*) FROM obs"), 3);
	assert_int_equal(count_db(b->db, "SELECT COUNT(*) FROM obs WHERE"
	    " seq BETWEEN 1 AND 3 AND status = 0"), 3);
	assert_int_equal(count_db(b->db, "PRAGMA synchronous"), 2);	/* FULL */
	OK(store_show(b, id[1], &info, &o));
	assert_int_equal(info.seq, 2);
	assert_string_equal(o.subject.name, "Kangmei pharmacy");
	assert_int_equal(o.place.lat_e7, 236817000);
	assert_int_equal(o.ncategories, 1);
	assert_string_equal(o.categories[0], "FAKE_BILL");
	bundle_obs_clear(&o);
	/* A prefix of 6 digits finds it too. */
	{
		char pre[7];

		memcpy(pre, id[2], 6);
		pre[6] = '\0';
		OK(store_show(b, pre, &info, &o));
		assert_int_equal(info.seq, 3);
		bundle_obs_clear(&o);
	}
	agent_close(b);
	{
		sqlite3_stmt *st;
		const char *mode;

		assert_int_equal(sqlite3_prepare_v2(f->a->db, "PRAGMA journal_mode",
		    -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		mode = (const char *)sqlite3_column_text(st, 0);
		assert_string_equal(mode, "wal");
		sqlite3_finalize(st);
	}
}

/* ---- evidence ------------------------------------------------------------------ */

struct sink {
	FILE *f;
};

static fw_err
sink_write(void *ctx, const uint8_t *p, size_t n)
{
	struct sink *s = ctx;

	return fwrite(p, 1, n, s->f) == n ? FW_OK : FW_ERR_IO;
}

/* Decrypt blob hex with the office identity into out. */
static void
decrypt_blob(struct fx *f, const char *hex, const char *out)
{
	char path[4096];
	uint8_t buf[8192];
	struct age_dec *d;
	struct sink s;
	size_t n;
	FILE *in;

	OK(store_blob_path(f->a, hex, path, sizeof path));
	assert_non_null(in = fopen(path, "rb"));
	assert_non_null(s.f = fopen(out, "wb"));
	OK(age_dec_new(&d, (const uint8_t (*)[AGE_KEY_LEN])f->office_id, 1,
	    sink_write, &s));
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		OK(age_dec_update(d, buf, n));
	OK(age_dec_final(d));
	age_dec_free(d);
	fclose(in);
	fclose(s.f);
}

static void
files_equal(const char *a, const char *b)
{
	uint8_t ha[SHA256_LEN], hb[SHA256_LEN];
	uint64_t na, nb;

	OK(sha256_file(a, ha, &na));
	OK(sha256_file(b, hb, &nb));
	assert_int_equal(na, nb);
	assert_memory_equal(ha, hb, SHA256_LEN);
}

static void
test_attach_age(void **state)
{
	struct fx *f = *state;
	char photo[300], audio[300], back[300], id[FW_ID_HEX + 1];
	char path[4096], hex[SHA256_HEX + 1], nid[FW_ID_HEX + 1];
	uint8_t dig[SHA256_LEN];
	struct store_file sf[2];
	struct store_obs_info info;
	struct fw_obs o;
	uint64_t size;

	PATHF(photo, "%s/shelf.jpg", f->root);
	PATHF(audio, "%s/talk.m4a", f->root);
	PATHF(back, "%s/back", f->root);
	write_file(photo, 200000, 7);		/* several age chunks */
	write_file(audio, 1000, 9);
	capture(f, "Kangmei pharmacy", NULL, 0, id);
	sf[0] = (struct store_file){photo, -1, NULL};
	sf[1] = (struct store_file){audio, -1, NULL};
	OK(store_attach(f->a, id, NULL, sf, 2, 1, nid));
	assert_string_equal(nid, "");		/* unsealed: joined it */
	/* --move: the plaintext is gone, only the age files stay. */
	assert_false(exists(photo));
	assert_false(exists(audio));
	write_file(photo, 200000, 7);		/* the same bytes again, to compare */
	write_file(audio, 1000, 9);
	OK(store_show(f->a, id, &info, &o));
	assert_int_equal(o.nevidence, 2);
	assert_int_equal(o.evidence[0].kind, FW_EV_PHOTO);
	assert_string_equal(o.evidence[0].media_type, "image/jpeg");
	assert_int_equal(o.evidence[1].kind, FW_EV_AUDIO);
	assert_string_equal(o.evidence[1].media_type, "audio/mp4");
	assert_int_equal(o.evidence[0].size, 200000);
	/* The address is the hash of the stored age file. */
	OK(store_blob_path(f->a, o.evidence[0].blob, path, sizeof path));
	OK(sha256_file(path, dig, &size));
	hex_encode(dig, SHA256_LEN, hex);
	assert_string_equal(hex, o.evidence[0].blob);
	assert_int_equal(size, o.evidence[0].blob_size);
	OK(store_blob_size(f->a, o.evidence[0].blob, &size));
	assert_int_equal(size, o.evidence[0].blob_size);
	/* The plaintext hash, and the decryption, give the file back. */
	OK(sha256_file(photo, dig, NULL));
	hex_encode(dig, SHA256_LEN, hex);
	assert_string_equal(hex, o.evidence[0].sha256);
	decrypt_blob(f, o.evidence[0].blob, back);
	files_equal(back, photo);
	decrypt_blob(f, o.evidence[1].blob, back);
	files_equal(back, audio);
	bundle_obs_clear(&o);
	/* Nothing in tmp/, two files in blobs/. */
	PATHF(path, "%s/tmp", f->data);
	assert_int_equal(dir_entries(path), 0);
	PATHF(path, "%s/blobs", f->data);
	assert_int_equal(dir_entries(path), 2);
}

static void
test_attach_refusals(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1], doc[300], odd[300], nid[FW_ID_HEX + 1];
	struct store_file sf;

	PATHF(doc, "%s/note.txt", f->root);
	PATHF(odd, "%s/blob.xyz", f->root);
	write_file(doc, 100, 1);
	write_file(odd, 100, 1);
	capture(f, "Renmin hospital", NULL, 0, id);
	sf = (struct store_file){odd, -1, NULL};
	EXPECT(store_attach(f->a, id, NULL, &sf, 1, 0, nid), FW_ERR_FIELD_VALUE,
	    "unknown extension without --kind");
	sf.kind = FW_EV_DOCUMENT;
	OK(store_attach(f->a, id, NULL, &sf, 1, 0, nid));	/* with --kind it goes */
	sf = (struct store_file){"/nonexistent/x.jpg", -1, NULL};
	EXPECT(store_attach(f->a, id, NULL, &sf, 1, 0, nid), FW_ERR_NOT_FOUND, "missing file");
	sf = (struct store_file){doc, -1, NULL};
	EXPECT(store_attach(f->a, "0123456789abcdef0123456789abcdef", NULL,
	    &sf, 1, 0, nid),
	    FW_ERR_NOT_FOUND, "unknown observation");
	EXPECT(store_attach(f->a, "xyz", NULL, &sf, 1, 0, nid), FW_ERR_INVALID, "bad id");
	EXPECT(store_attach(f->a, id, "a note", &sf, 1, 0, nid), FW_ERR_INVALID,
	    "--what while unsealed");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM evidence"), 1);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs"), 1);
	/* The refused file was not even encrypted. */
	{
		char path[4096];

		PATHF(path, "%s/blobs", f->data);
		assert_int_equal(dir_entries(path), 1);
	}
}

/* ---- sealing ------------------------------------------------------------------ */

struct collected {
	struct fw_bundle *b[8];
	size_t n;
	struct ed25519_key *pub;
};

static fw_err
collect(void *ctx, const struct store_bundle *sb)
{
	struct collected *c = ctx;
	struct fw_bundle *b;

	assert_true(c->n < 8);
	OK(bundle_open(sb->container.data, sb->container.len, &b));
	OK(bundle_verify(b, c->pub));
	assert_string_equal(b->id, sb->id);
	assert_int_equal(b->m->bundle_seq, sb->seq);
	assert_int_equal(b->m->nobs, sb->nobs);
	c->b[c->n++] = b;
	return FW_OK;
}

static void
test_seal_chain(void **state)
{
	struct fx *f = *state;
	char id[5][FW_ID_HEX + 1], bid[SHA256_HEX + 1], h[SHA256_HEX + 1];
	char photo[300];
	struct collected c = {{NULL}, 0, f->pub};
	struct store_file sf;
	struct store_counts cnt;
	int sealed;

	PATHF(photo, "%s/p.png", f->root);
	write_file(photo, 5000, 3);
	sf = (struct store_file){photo, -1, NULL};
	OK(store_seal(f->a, 0, 0, bid, &sealed));
	assert_int_equal(sealed, 0);		/* nothing pending */
	assert_string_equal(bid, "");
	capture(f, "A pharmacy", &sf, 1, id[0]);
	capture(f, "B pharmacy", NULL, 0, id[1]);
	capture(f, "C clinic", NULL, 0, id[2]);
	OK(store_counts(f->a, &cnt));
	assert_int_equal(cnt.pending_obs, 3);
	assert_true(cnt.pending_bytes > 5000);
	/* At most two per bundle: 2, then 1 + the two captured later. */
	OK(store_seal(f->a, 2, UINT64_MAX, bid, &sealed));
	assert_int_equal(sealed, 1);
	capture(f, "D hospital", NULL, 0, id[3]);
	capture(f, "E hospital", NULL, 0, id[4]);
	OK(store_seal(f->a, 16, UINT64_MAX, bid, &sealed));
	assert_int_equal(sealed, 1);
	OK(store_counts(f->a, &cnt));
	assert_int_equal(cnt.pending_obs, 0);
	assert_int_equal(cnt.unreceipted_bundles, 2);
	OK(store_bundles_unreceipted(f->a, collect, &c));
	assert_int_equal(c.n, 2);
	assert_int_equal(c.b[0]->m->nobs, 2);
	assert_int_equal(c.b[1]->m->nobs, 3);
	assert_int_equal(c.b[0]->m->bundle_seq, 1);
	assert_int_equal(c.b[1]->m->bundle_seq, 2);
	assert_string_equal(c.b[0]->m->obs[0].id, id[0]);
	assert_int_equal(c.b[0]->m->obs[0].seq, 1);
	assert_string_equal(c.b[0]->m->obs[0].prev,
	    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_int_equal(c.b[0]->m->obs[0].nevidence, 1);
	/* The chain crosses the bundle boundary. */
	OK(bundle_obs_hash(&c.b[0]->m->obs[1], h));
	assert_string_equal(c.b[1]->m->obs[0].prev, h);
	assert_int_equal(c.b[1]->m->obs[0].seq, 3);
	assert_string_equal(c.b[1]->m->obs[2].id, id[4]);
	assert_string_equal(c.b[1]->m->device, f->a->device_id);
	for (size_t i = 0; i < c.n; i++)
		bundle_free(c.b[i]);
}

static void
test_seal_max_bytes(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1], bid[SHA256_HEX + 1], p1[300], p2[300];
	struct store_file sf;
	struct store_counts cnt;
	int sealed;

	PATHF(p1, "%s/1.jpg", f->root);
	PATHF(p2, "%s/2.jpg", f->root);
	write_file(p1, 10000, 1);
	write_file(p2, 10000, 2);
	sf = (struct store_file){p1, -1, NULL};
	capture(f, "A", &sf, 1, id);
	sf = (struct store_file){p2, -1, NULL};
	capture(f, "B", &sf, 1, id);
	OK(store_seal(f->a, 256, 1000, bid, &sealed));	/* under one blob */
	assert_int_equal(sealed, 1);
	OK(store_counts(f->a, &cnt));
	assert_int_equal(cnt.pending_obs, 1);
	OK(store_seal(f->a, 256, 1000, bid, &sealed));
	OK(store_counts(f->a, &cnt));
	assert_int_equal(cnt.pending_obs, 0);
	assert_int_equal(cnt.unreceipted_bundles, 2);
}

/* ---- receipts and purge -------------------------------------------------------- */

static void
receipt_for(struct fx *f, const char *bid, const char *const *ids, size_t n)
{
	char buf[4096];
	size_t o;

	o = (size_t)snprintf(buf, sizeof buf, "{\"state\":\"committed\","
	    "\"receipt\":{\"version\":1,\"bundle\":\"%s\",\"device\":\"%s\","
	    "\"observations\":[", bid, f->a->device_id);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"%s\"",
		    i > 0 ? "," : "", ids[i]);
	o += (size_t)snprintf(buf + o, sizeof buf - o, "],\"received\":"
	    "\"2026-11-25T08:00:00Z\",\"audit_seq\":1,\"audit_hash\":\"%064d\"},"
	    "\"signature\":\"AAAA\"}", 0);
	OK(store_receipt(f->a, bid, (const uint8_t *)buf, o, NULL));
}

static void
test_receipt_purge(void **state)
{
	static const char other[] = "{\"receipt\":{\"bundle\":\"x\","
	    "\"observations\":[]}}";
	struct fx *f = *state;
	char id[2][FW_ID_HEX + 1], bid[SHA256_HEX + 1], photo[300];
	char path[4096], blob[SHA256_HEX + 1];
	const char *ids[2];
	struct store_obs_info info;
	struct store_counts cnt;
	struct store_bundle sb;
	struct store_file sf;
	struct fw_obs o;
	size_t n;
	int sealed;

	PATHF(photo, "%s/p.jpg", f->root);
	write_file(photo, 3000, 5);
	sf = (struct store_file){photo, -1, NULL};
	capture(f, "Kangmei pharmacy", &sf, 1, id[0]);
	capture(f, "Renmin hospital", NULL, 0, id[1]);
	OK(store_show(f->a, id[0], &info, &o));
	memcpy(blob, o.evidence[0].blob, sizeof blob);
	bundle_obs_clear(&o);
	OK(store_seal(f->a, 0, 0, bid, &sealed));
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs WHERE status = 1"), 2);
	/* A receipt for another bundle, or naming it wrongly, is refused. */
	EXPECT(store_receipt(f->a, bid, (const uint8_t *)other, strlen(other),
	    NULL),
	    FW_ERR_FIELD_VALUE, "receipt of another bundle");
	EXPECT(store_receipt(f->a, bid, (const uint8_t *)"{\"rec", 5, NULL),
	    FW_ERR_JSON, "truncated receipt");
	ids[0] = id[0];
	ids[1] = id[1];
	receipt_for(f, bid, ids, 2);
	receipt_for(f, bid, ids, 2);		/* idempotent */
	EXPECT(store_bundle_next(f->a, 0, &sb), FW_ERR_NOT_FOUND,
	    "no unreceipted bundle left");
	OK(store_counts(f->a, &cnt));
	assert_int_equal(cnt.receipted_obs, 2);
	assert_int_equal(cnt.unreceipted_bundles, 0);
	/* Before the retention time nothing goes. */
	OK(store_purge(f->a, (int64_t)time(NULL), &n));
	assert_int_equal(n, 0);
	OK(store_blob_path(f->a, blob, path, sizeof path));
	assert_true(exists(path));
	OK(store_purge(f->a, (int64_t)time(NULL) + f->a->cfg.retention + 1, &n));
	assert_int_equal(n, 2);
	assert_false(exists(path));
	OK(store_show(f->a, id[0], &info, &o));
	assert_int_equal(info.status, STORE_PURGED);
	assert_true(info.receipted > 0);
	assert_null(o.what);
	assert_null(o.subject.name);
	assert_int_equal(o.nevidence, 0);
	bundle_obs_clear(&o);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs WHERE what IS NOT NULL"
	    " OR place_text IS NOT NULL OR subject_name IS NOT NULL"), 0);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs WHERE hash IS NULL"), 0);
	/* The chain goes on after a purge: the hash was kept. */
	capture(f, "Third", NULL, 0, id[0]);
	OK(store_seal(f->a, 0, 0, bid, &sealed));
	assert_int_equal(sealed, 1);
}

/* One observation with one evidence file (made at root/name, its path in
 * path), sealed alone into bundle bid; sf describes the file. */
static void
capture_sealed(struct fx *f, const char *name, char path[300],
    struct store_file *sf, char id[FW_ID_HEX + 1], char bid[SHA256_HEX + 1])
{
	int sealed;

	assert_true((size_t)snprintf(path, 300, "%s/%s", f->root, name) < 300);
	write_file(path, 5000, 3);
	*sf = (struct store_file){path, -1, NULL};
	capture(f, "Kangmei pharmacy", sf, 1, id);
	OK(store_seal(f->a, 0, 0, bid, &sealed));
	assert_int_equal(sealed, 1);
}

/* A receipt whose refused list names observations of the bundle. */
static void
receipt_refusing(struct fx *f, const char *bid, const char *ok,
    const char *refused)
{
	char buf[2048];
	size_t nref;
	int n;

	n = snprintf(buf, sizeof buf, "{\"receipt\":{\"version\":1,\"bundle\":"
	    "\"%s\",\"device\":\"%s\",\"observations\":[\"%s\"],\"refused\":"
	    "[{\"observation\":\"%s\",\"error\":\"not_appointed\",\"message\":"
	    "\"the term of S-0001 ended\"}]},\"signature\":\"AAAA\"}", bid,
	    f->a->device_id, ok, refused);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	OK(store_receipt(f->a, bid, (const uint8_t *)buf, (size_t)n, &nref));
	assert_int_equal(nref, 1);
	/* Again: nothing new is refused. */
	OK(store_receipt(f->a, bid, (const uint8_t *)buf, (size_t)n, &nref));
	assert_int_equal(nref, 0);
}

/* Evidence for a sealed observation goes in a new one that supplements it;
 * a refused observation is kept, marked with the reason. */
static void
test_attach_supplement(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1], s1[FW_ID_HEX + 1], s2[FW_ID_HEX + 1];
	char s3[FW_ID_HEX + 1], bid[SHA256_HEX + 1], doc[300], text[128];
	const char *ids[1];
	struct store_obs_info info;
	struct store_file sf;
	struct fw_obs o;
	size_t n;
	int sealed;

	capture_sealed(f, "receipt.pdf", doc, &sf, id, bid);
	OK(store_attach(f->a, id, NULL, &sf, 1, 0, s1));
	assert_int_equal(strlen(s1), FW_ID_HEX);
	assert_string_not_equal(s1, id);
	/* The original is untouched; the new one carries its subject. */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM evidence e JOIN obs o ON"
	    " o.seq = e.obs_seq WHERE o.status = 1"), 1);
	OK(store_show(f->a, s1, &info, &o));
	assert_int_equal(info.status, STORE_CAPTURED);
	assert_string_equal(info.supplements, id);
	assert_string_equal(o.supplements, id);
	assert_string_equal(o.subject.name, "Kangmei pharmacy");
	assert_string_equal(o.categories[0], "FAKE_BILL");
	assert_string_equal(o.place.text, "Qingcheng district, Xinhua road 3");
	assert_int_equal(o.place.lat_e7, 236817000);
	assert_non_null(strstr(o.what, id));
	assert_int_equal(o.nevidence, 1);
	assert_int_equal(o.seq, 2);
	bundle_obs_clear(&o);
	/* With its own words; a supplement of a supplement is one too. */
	OK(store_attach(f->a, id, "the pharmacy's receipt", &sf, 1, 0, s2));
	OK(store_show(f->a, s2, &info, &o));
	assert_string_equal(o.what, "the pharmacy's receipt");
	bundle_obs_clear(&o);
	/* Both go out in the next bundle, the field in its manifest. */
	ids[0] = id;
	receipt_for(f, bid, ids, 1);
	OK(store_seal(f->a, 0, 0, bid, &sealed));
	assert_int_equal(sealed, 1);
	PATHF(text, "SELECT COUNT(*) FROM obs WHERE supplements = '%s' AND"
	    " status = 1", id);
	assert_int_equal(count(f, text), 2);
	/* The office takes s1 and refuses s2: s2 stays, with the reason. */
	receipt_refusing(f, bid, s1, s2);
	OK(store_show(f->a, s2, &info, &o));
	assert_int_equal(info.status, STORE_REFUSED);
	assert_string_equal(store_status_name(info.status), "refused");
	assert_string_equal(info.refusal,
	    "not_appointed: the term of S-0001 ended");
	{
		struct store_counts cnt;
		OK(store_counts(f->a, &cnt));
		assert_int_equal(cnt.refused_obs, 1);
		assert_int_equal(cnt.receipted_obs, 2);
	}
	assert_true(info.receipted > 0);
	assert_int_equal(o.nevidence, 1);
	bundle_obs_clear(&o);
	/* Past retention the receipted ones go; the refused one stays. */
	OK(store_purge(f->a, (int64_t)time(NULL) + f->a->cfg.retention + 1, &n));
	assert_int_equal(n, 2);
	OK(store_show(f->a, s2, &info, &o));
	assert_int_equal(info.status, STORE_REFUSED);
	assert_non_null(o.what);
	bundle_obs_clear(&o);
	/* A purged observation has nothing left to supplement. */
	EXPECT(store_attach(f->a, id, NULL, &sf, 1, 0, s3), FW_ERR_FORBIDDEN,
	    "attach to a purged observation");
	assert_string_equal(s3, "");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs"), 3);
	/* A refused one can be supplemented (sent again with more). */
	OK(store_attach(f->a, s2, NULL, &sf, 1, 0, s3));
	OK(store_show(f->a, s3, &info, &o));
	assert_string_equal(o.supplements, s2);
	bundle_obs_clear(&o);
}

/* Each command is a short process: what it committed is checkpointed
 * into agent.db when it closes, so that the WAL neither grows from one
 * command to the next nor has to be read back by the next one. */
static void
test_wal_closed(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1], wal[4096];
	struct stat st;

	PATHF(wal, "%s/agent.db-wal", f->data);
	for (int i = 0; i < 5; i++) {
		capture(f, "Kangmei pharmacy", NULL, 0, id);
		agent_close(f->a);
		f->a = NULL;
		assert_true(stat(wal, &st) == -1 || st.st_size == 0);
		OK(agent_open(f->data, NULL, &f->a));
	}
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs"), 5);
}

/* A store of schema 1 (before supplements and refusals) is upgraded in
 * place, its observations kept. */
static void
test_schema_upgrade(void **state)
{
	struct fx *f = *state;
	struct agent_config cfg;
	struct utimbuf old = {1000, 1000};
	char id[FW_ID_HEX + 1], s1[FW_ID_HEX + 1], bid[SHA256_HEX + 1], doc[300];
	char orphan[4096];
	struct store_file sf;
	int sealed;

	PATHF(doc, "%s/a.jpg", f->root);
	write_file(doc, 100, 3);
	sf = (struct store_file){doc, -1, NULL};
	capture(f, "Kangmei pharmacy", NULL, 0, id);
	assert_int_equal(sqlite3_exec(f->a->db, "ALTER TABLE obs DROP COLUMN"
	    " supplements; ALTER TABLE obs DROP COLUMN refusal; DROP TABLE doomed;"
	    " UPDATE meta SET value = 1 WHERE key = 'schema'", NULL, NULL, NULL),
	    SQLITE_OK);
	agent_close(f->a);
	/* Schema 1 could leave orphan blobs: the upgrade walks blobs/ once. */
	PATHF(orphan, "%s/blobs/%064d", f->data, 1);
	write_file(orphan, 10, 1);
	assert_int_equal(utime(orphan, &old), 0);
	OK(config_defaults(&cfg));
	OK(agent_open(f->data, &cfg, &f->a));
	config_free(&cfg);
	assert_int_equal(count(f, "SELECT value FROM meta WHERE key = 'schema'"),
	    2);
	assert_false(exists(orphan));
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs WHERE supplements"
	    " IS NULL AND refusal IS NULL"), 1);
	OK(store_seal(f->a, 0, 0, bid, &sealed));
	OK(store_attach(f->a, id, NULL, &sf, 1, 0, s1));
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs"), 2);
}

static void
test_purge_keeps_shared_blob(void **state)
{
	struct fx *f = *state;
	char id[2][FW_ID_HEX + 1], bid[SHA256_HEX + 1], photo[300];
	char path[4096], sql[512];
	const char *ids[1];
	struct store_obs_info info;
	struct store_file sf;
	struct fw_obs o;
	size_t n;

	capture_sealed(f, "p.jpg", photo, &sf, id[0], bid);
	capture(f, "Later", NULL, 0, id[1]);
	OK(store_show(f->a, id[0], &info, &o));
	/* The second (unreceipted) observation names the same blob. */
	PATHF(sql, "INSERT INTO evidence SELECT 2, 0, kind,"
	    " media_type, size, sha256, blob, blob_size, captured FROM evidence"
	    " WHERE obs_seq = 1");
	assert_int_equal(sqlite3_exec(f->a->db, sql, NULL, NULL, NULL), SQLITE_OK);
	OK(store_blob_path(f->a, o.evidence[0].blob, path, sizeof path));
	bundle_obs_clear(&o);
	ids[0] = id[0];
	receipt_for(f, bid, ids, 1);
	OK(store_purge(f->a, INT64_MAX / 2, &n));
	assert_int_equal(n, 1);
	assert_true(exists(path));		/* still needed by seq 2 */
	/* agent_open's orphan sweep leaves it too: a row names it. */
	{
		struct agent *b;
		struct utimbuf old = {0, 0};

		assert_int_equal(utime(path, &old), 0);
		OK(agent_open(f->data, NULL, &b));
		agent_close(b);
		assert_true(exists(path));
	}
}

/* What a crash leaves is finished at the next open without walking
 * blobs/: a blob whose row was committed is moved in from tmp/, stale
 * temporary files go, and the files a purge doomed are deleted. */
static void
test_orphans_cleaned(void **state)
{
	struct fx *f = *state;
	char tmpf[4096], lockedf[4096], young[4096], unnamed[4096];
	char kept[4096], moved[4096], doomed[4096], shared[4096], sql[512];
	char id[2][FW_ID_HEX + 1], photo[300];
	struct utimbuf old = {1000, 1000};
	struct store_obs_info info;
	struct store_file sf;
	struct fw_obs o;
	struct agent *b;
	int fd;

	PATHF(photo, "%s/p.jpg", f->root);
	write_file(photo, 3000, 5);
	sf = (struct store_file){photo, -1, NULL};
	capture(f, "Kangmei pharmacy", &sf, 1, id[0]);
	capture(f, "Renmin hospital", &sf, 1, id[1]);
	/* id[0]'s blob: its rename into blobs/ was lost in a power cut. */
	OK(store_show(f->a, id[0], &info, &o));
	PATHF(kept, "%s/blobs/%s", f->data, o.evidence[0].blob);
	PATHF(moved, "%s/tmp/%s", f->data, o.evidence[0].blob);
	bundle_obs_clear(&o);
	assert_int_equal(rename(kept, moved), 0);
	/* Between the commit and the rename, readers find it in tmp/. */
	{
		char path[4096];
		OK(store_show(f->a, id[0], &info, &o));
		OK(store_blob_path(f->a, o.evidence[0].blob, path, sizeof path));
		assert_string_equal(path, moved);
		bundle_obs_clear(&o);
	}
	/* id[1]'s blob was doomed by a purge that a crash cut short, once
	 * its row was gone; a doomed blob a row still names stays. */
	OK(store_show(f->a, id[1], &info, &o));
	PATHF(doomed, "%s/blobs/%s", f->data, o.evidence[0].blob);
	PATHF(sql, "DELETE FROM evidence WHERE blob = '%s'; INSERT INTO doomed"
	    " VALUES ('%s'), ('%064d')", o.evidence[0].blob, o.evidence[0].blob, 7);
	bundle_obs_clear(&o);
	assert_int_equal(sqlite3_exec(f->a->db, sql, NULL, NULL, NULL), SQLITE_OK);
	PATHF(shared, "%s/blobs/%064d", f->data, 7);
	write_file(shared, 10, 1);
	assert_int_equal(sqlite3_exec(f->a->db, "INSERT INTO evidence SELECT"
	    " obs_seq, 9, kind, media_type, size, sha256, printf('%064d', 7),"
	    " blob_size, captured FROM evidence LIMIT 1", NULL, NULL, NULL),
	    SQLITE_OK);
	PATHF(tmpf, "%s/tmp/deadbeef", f->data);
	PATHF(lockedf, "%s/tmp/inuse", f->data);
	PATHF(young, "%s/tmp/%064d", f->data, 2);
	PATHF(unnamed, "%s/tmp/%064d", f->data, 3);
	write_file(tmpf, 10, 1);
	write_file(lockedf, 10, 1);
	write_file(young, 10, 1);
	write_file(unnamed, 10, 1);
	assert_int_equal(utime(tmpf, &old), 0);
	assert_int_equal(utime(lockedf, &old), 0);
	assert_int_equal(utime(unnamed, &old), 0);
	/* A writer still holds this one. */
	fd = open(lockedf, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	OK(agent_open(f->data, NULL, &b));
	agent_close(b);
	assert_true(exists(kept));		/* moved in: its row names it */
	assert_false(exists(moved));
	assert_false(exists(doomed));		/* the purge finished */
	assert_true(exists(shared));		/* a row names it again */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM doomed WHERE blob !="
	    " printf('%064d', 7)"), 0);
	assert_false(exists(tmpf));
	assert_false(exists(unnamed));		/* stale, no row */
	assert_true(exists(young));		/* may be a blob whose row is coming */
	assert_true(exists(lockedf));
	close(fd);
}

/* ---- recusal and refusals ------------------------------------------------------ */

static void
test_recusal(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1];
	struct obs_in in;

	OK(store_conflict_add(f->a, "  Kangmei   PHARMACY ", "my cousin owns it"));
	EXPECT(store_conflict_add(f->a, "kangmei pharmacy", NULL), FW_ERR_EXISTS,
	    "same subject twice");
	OK(store_conflict_add(f->a, "H4401-0007", NULL));
	obs_init(&in, "kangmei pharmacy", "x");
	EXPECT(store_observe(f->a, &in.o, NULL, 0, 0, id), FW_ERR_POLICY,
	    "recusal by name");
	assert_non_null(strstr(fw_errmsg(), "QY art 8(5)"));
	assert_non_null(strstr(fw_errmsg(), "GP art 9(3)"));
	obs_init(&in, "Kangmei\tPharmacy", "x");
	EXPECT(store_observe(f->a, &in.o, NULL, 0, 0, id), FW_ERR_POLICY,
	    "recusal by name, other spacing");
	obs_init(&in, "Some other name", "x");
	in.o.subject.institution = (char *)"h4401-0007";
	EXPECT(store_observe(f->a, &in.o, NULL, 0, 0, id), FW_ERR_POLICY,
	    "recusal by institution code");
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs"), 0);
	OK(store_conflict_remove(f->a, "KANGMEI PHARMACY"));
	EXPECT(store_conflict_remove(f->a, "KANGMEI PHARMACY"), FW_ERR_NOT_FOUND,
	    "removed twice");
	obs_init(&in, "kangmei pharmacy", "x");
	OK(store_observe(f->a, &in.o, NULL, 0, 0, id));
}

static fw_err
observe_argv(struct observe_req *r, const char *first, ...)
{
	char *argv[40];
	int argc = 0;
	va_list ap;
	const char *s;

	argv[argc++] = (char *)"observe";
	va_start(ap, first);
	for (s = first; s != NULL && argc < 39; s = va_arg(ap, const char *))
		argv[argc++] = (char *)s;
	va_end(ap);
	argv[argc] = NULL;
	return cmd_observe_args(argc, argv, r);
}

#define END ((const char *)NULL)
#define BASE "--subject-kind", "pharmacy", "--subject", "Kangmei", \
	"--place", "Xinhua road 3", "--what", "card swiped"

static void
test_bad_inputs(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1], *big;
	struct observe_req r;
	struct obs_in in;

	/* A good one, several categories, both coordinate forms. */
	OK(observe_argv(&r, BASE, "--category", "FAKE_BILL", "CARD_LOAN",
	    "--lat", "23.6817", "--lon=-113.05610004", "--accuracy", "15",
	    "--when", "2026-11-24T10:00:00Z", "--severity", "major", END));
	assert_int_equal(r.o.ncategories, 2);
	assert_int_equal(r.o.place.lat_e7, 236817000);
	assert_int_equal(r.o.place.lon_e7, -1130561000);
	assert_int_equal(r.o.place.accuracy_m, 15);
	assert_int_equal(r.o.severity, FW_SEV_MAJOR);
	assert_int_equal(r.o.captured, 1795514400);
	OK(store_observe(f->a, &r.o, r.files, r.nfiles, 0, id));
	cmd_observe_req_free(&r);
	OK(observe_argv(&r, BASE, "--category", "FAKE_BILL,CARD_LOAN", END));
	assert_int_equal(r.o.ncategories, 2);
	cmd_observe_req_free(&r);

	/* Unknown category: refused by the store against the taxonomy. */
	OK(observe_argv(&r, BASE, "--category", "NO_SUCH", END));
	EXPECT(store_observe(f->a, &r.o, NULL, 0, 0, id), FW_ERR_FIELD_VALUE,
	    "unknown category");
	assert_non_null(strstr(fw_errmsg(), "'NO_SUCH' is not in the enrolled "
	    "taxonomy"));
	cmd_observe_req_free(&r);
	/* Each refusal with its own code. */
	EXPECT(observe_argv(&r, "--subject-kind", "bakery", "--subject", "x",
	    "--place", "p", "--what", "w", "--category", "FAKE_BILL", END),
	    FW_ERR_FIELD_VALUE, "bad subject kind");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--lat", "23.5",
	    END), FW_ERR_FIELD_MISSING, "lat without lon");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--lon", "113",
	    END), FW_ERR_FIELD_MISSING, "lon without lat");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--when",
	    "2026-02-30T10:00:00Z", END), FW_ERR_FIELD_VALUE, "bad date");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--when",
	    "yesterday", END), FW_ERR_FIELD_VALUE, "bad time");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--when",
	    "2999-01-01T00:00:00Z", END), FW_ERR_FIELD_VALUE, "future time");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--lat", "91",
	    "--lon", "0", END), FW_ERR_FIELD_RANGE, "lat out of range");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--lat", "1e3",
	    "--lon", "0", END), FW_ERR_FIELD_VALUE, "lat not decimal");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--accuracy",
	    "-3", END), FW_ERR_FIELD_RANGE, "negative accuracy");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--severity",
	    "huge", END), FW_ERR_FIELD_VALUE, "bad severity");
	EXPECT(observe_argv(&r, BASE, END), FW_ERR_FIELD_MISSING,
	    "no category");
	EXPECT(observe_argv(&r, BASE, "--category", "A", "A", END),
	    FW_ERR_FIELD_VALUE, "category twice");
	EXPECT(observe_argv(&r, "--subject", "x", "--place", "p", "--what", "w",
	    "--category", "FAKE_BILL", END), FW_ERR_FIELD_MISSING,
	    "no subject kind");
	EXPECT(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--bogus", "1",
	    END), FW_ERR_INVALID, "unknown option");
	assert_non_null(big = malloc(FW_MAX_WHAT + 2));
	memset(big, 'w', FW_MAX_WHAT + 1);
	big[FW_MAX_WHAT + 1] = '\0';
	EXPECT(observe_argv(&r, "--subject-kind", "clinic", "--subject", "x",
	    "--place", "p", "--category", "FAKE_BILL", "--what", big, END),
	    FW_ERR_FIELD_LENGTH, "what too long");
	/* The store refuses it too, whoever calls it. */
	obs_init(&in, "x", big);
	EXPECT(store_observe(f->a, &in.o, NULL, 0, 0, id), FW_ERR_FIELD_LENGTH,
	    "what too long (store)");
	free(big);
	OK(observe_argv(&r, BASE, "--category", "FAKE_BILL", "--institution",
	    "bad code!", END));
	EXPECT(store_observe(f->a, &r.o, NULL, 0, 0, id), FW_ERR_FIELD_VALUE,
	    "bad institution code");
	cmd_observe_req_free(&r);
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs"), 1);
}

static void
test_parse_e7(void **state)
{
	static const struct {
		const char *s;
		fw_err e;
		int32_t v;
	} t[] = {
		{"0", FW_OK, 0}, {"-0.0000001", FW_OK, -1}, {"23.6817", FW_OK, 236817000},
		{"180", FW_OK, 1800000000}, {"-180.0000000", FW_OK, -1800000000},
		{"1.00000005", FW_OK, 10000001}, {"1.00000004999", FW_OK, 10000000},
		{"-1.00000005", FW_OK, -10000001}, {"+12.5", FW_OK, 125000000},
		{"180.00000001", FW_OK, 1800000000},
		{"180.0000001", FW_ERR_FIELD_RANGE, 0}, {"1000", FW_ERR_FIELD_RANGE, 0},
		{"12.", FW_ERR_FIELD_VALUE, 0}, {".5", FW_ERR_FIELD_VALUE, 0},
		{"", FW_ERR_FIELD_VALUE, 0}, {"-", FW_ERR_FIELD_VALUE, 0},
		{"1,5", FW_ERR_FIELD_VALUE, 0}, {" 1", FW_ERR_FIELD_VALUE, 0},
		{"0x10", FW_ERR_FIELD_VALUE, 0}, {"nan", FW_ERR_FIELD_VALUE, 0},
	};
	int32_t v;

	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		v = 0;
		EXPECT(store_parse_e7("lon", t[i].s, 1800000000, &v), t[i].e, t[i].s);
		if (t[i].e == FW_OK && v != t[i].v)
			fail_msg("%s: got %d, want %d", t[i].s, v, t[i].v);
	}
}

/* ---- revocation, export, feed ----------------------------------------------------- */

static void
test_revoked_export(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1], bid[SHA256_HEX + 1], photo[300], out[300];
	char path[4096], name[128];
	struct store_bundle sb;
	struct store_file sf;
	size_t nb, nblobs;
	int sealed;

	PATHF(photo, "%s/p.jpg", f->root);
	PATHF(out, "%s/usb", f->root);
	write_file(photo, 70000, 5);
	sf = (struct store_file){photo, -1, NULL};
	capture(f, "A", &sf, 1, id);
	OK(store_seal(f->a, 0, 0, bid, &sealed));
	capture(f, "B", NULL, 0, id);		/* pending at revocation */
	OK(store_revoked(f->a, "device lost"));
	assert_true(f->a->revoked);
	assert_null(f->a->key);
	assert_false(exists(f->a->key_path));
	EXPECT(store_seal(f->a, 0, 0, bid, &sealed), FW_ERR_REVOKED,
	    "seal after revocation");
	EXPECT(store_observe(f->a, &(struct obs_in){0}.o, NULL, 0, 0, id),
	    FW_ERR_REVOKED, "capture after revocation");
	/* Reopening keeps the state. */
	agent_close(f->a);
	OK(agent_open(f->data, NULL, &f->a));
	assert_true(f->a->revoked);
	assert_null(f->a->key);
	/* The bundle sealed before still goes out on a stick. */
	OK(cmd_export(f->a, out, &nb, &nblobs, NULL));
	assert_int_equal(nb, 1);
	assert_int_equal(nblobs, 1);
	OK(store_bundle_next(f->a, 0, &sb));
	PATHF(name, "%s/00000001-%s.fwb", out, sb.id);
	buf_free(&sb.container);
	assert_true(exists(name));
	assert_int_equal(dir_entries(out), 2);
	/* Its blob is the stored age file, byte for byte. */
	{
		char src[4096];
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(f->a->db, "SELECT blob FROM "
		    "evidence", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		OK(store_blob_path(f->a, (const char *)sqlite3_column_text(st, 0),
		    src, sizeof src));
		PATHF(path, "%s/%s", out,
		    (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		files_equal(src, path);
	}
	/* The pending observation stays, encrypted, unsigned. */
	assert_int_equal(count(f, "SELECT COUNT(*) FROM obs WHERE status = 0"), 1);
}

static void
test_export_layout(void **state)
{
	struct fx *f = *state;
	char id[FW_ID_HEX + 1], p1[300], p2[300], out[300], path[4096];
	struct store_file sf[2];
	struct store_obs_info info;
	struct fw_obs o;
	size_t nb, nblobs;
	json_t *list = json_array();

	PATHF(p1, "%s/a.jpg", f->root);
	PATHF(p2, "%s/b.wav", f->root);
	PATHF(out, "%s/usb/stick", f->root);
	write_file(p1, 1000, 1);
	write_file(p2, 2000, 2);
	sf[0] = (struct store_file){p1, -1, NULL};
	sf[1] = (struct store_file){p2, -1, NULL};
	capture(f, "A", sf, 2, id);
	OK(cmd_export(f->a, out, &nb, &nblobs, list));
	assert_int_equal(nb, 1);
	assert_int_equal(nblobs, 2);
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(dir_entries(out), 3);
	OK(store_show(f->a, id, &info, &o));
	assert_int_equal(info.status, STORE_SEALED);
	for (size_t i = 0; i < o.nevidence; i++) {
		uint8_t dig[SHA256_LEN];
		char hex[SHA256_HEX + 1];

		PATHF(path, "%s/%s", out, o.evidence[i].blob);
		OK(sha256_file(path, dig, NULL));
		hex_encode(dig, SHA256_LEN, hex);
		assert_string_equal(hex, o.evidence[i].blob);
	}
	PATHF(path, "%s/00000001-%s.fwb", out, info.bundle);
	assert_true(exists(path));
	bundle_obs_clear(&o);
	/* Again: the same files, nothing sealed twice. */
	OK(cmd_export(f->a, out, &nb, &nblobs, NULL));
	assert_int_equal(nb, 1);
	assert_int_equal(dir_entries(out), 3);
	json_decref(list);
}

struct feedc {
	size_t n;
	const char *done;
};

static fw_err
feed_count(void *ctx, uint64_t cursor, json_t *msg, const char *done_obs)
{
	struct feedc *c = ctx;

	(void)cursor;
	assert_true(json_is_object(msg));
	c->n++;
	c->done = done_obs != NULL ? "yes" : NULL;
	return FW_OK;
}

static void
test_feed_tasks(void **state)
{
	struct fx *f = *state;
	static const char task[] = "{\"cursor\":3,\"kind\":\"task\",\"created\":"
	    "\"2026-11-25T08:00:00Z\",\"body\":{\"task\":\"T-17\",\"title\":"
	    "\"Visit\",\"text\":\"Check the pharmacy\"}}";
	static const char fb[] = "{\"cursor\":4,\"kind\":\"feedback\",\"body\":"
	    "{\"observation\":\"x\",\"case\":\"C1\",\"status\":\"opened\","
	    "\"text\":\"thanks\"}}";
	char id[FW_ID_HEX + 1];
	struct feedc c = {0, NULL};
	uint64_t cur;

	OK(store_feed_cursor(f->a, &cur));
	assert_int_equal(cur, 0);
	OK(store_feed_add(f->a, 3, "task", (const uint8_t *)task, strlen(task)));
	OK(store_feed_add(f->a, 3, "task", (const uint8_t *)task, strlen(task)));
	OK(store_feed_add(f->a, 4, "feedback", (const uint8_t *)fb, strlen(fb)));
	EXPECT(store_feed_add(f->a, 5, "notice", (const uint8_t *)"[1", 2),
	    FW_ERR_JSON, "bad message");
	EXPECT(store_feed_add(f->a, 0, "notice", (const uint8_t *)"{}", 2),
	    FW_ERR_FIELD_RANGE, "cursor 0");
	OK(store_feed_cursor(f->a, &cur));
	assert_int_equal(cur, 4);
	capture(f, "A", NULL, 0, id);
	EXPECT(store_task_done(f->a, "T-99", id), FW_ERR_NOT_FOUND, "unknown task");
	OK(store_task_done(f->a, "T-17", id));
	OK(store_feed_list(f->a, "task", feed_count, &c));
	assert_int_equal(c.n, 1);
	assert_non_null(c.done);
	c.n = 0;
	OK(store_feed_list(f->a, "feedback", feed_count, &c));
	assert_int_equal(c.n, 1);
}

static void
test_sync_state(void **state)
{
	struct fx *f = *state;
	struct store_sync_state s, t;

	OK(store_sync_state_get(f->a, &s));
	assert_int_equal(s.last_attempt, 0);
	s.last_attempt = 1000;
	s.last_ok = 1;
	s.next_attempt = 2000;
	PATHF(s.last_result, "ok: 1 bundle");
	OK(store_sync_state_put(f->a, &s));
	OK(store_clock_note(f->a, (int64_t)time(NULL) + 3600));
	OK(store_sync_state_get(f->a, &t));
	assert_int_equal(t.last_attempt, 1000);
	assert_int_equal(t.next_attempt, 2000);
	assert_string_equal(t.last_result, "ok: 1 bundle");
	assert_true(t.has_clock_offset);
	assert_true(t.clock_offset >= 3599 && t.clock_offset <= 3601);
}

static void
test_config(void **state)
{
	struct fx *f = *state;
	struct agent_config c;
	char path[400];
	FILE *fp;
	int found;

	memset(&c, 0, sizeof c);
	PATHF(path, "%s/agent.conf", f->root);
	OK(config_load(&c, path, &found));
	assert_int_equal(found, 0);
	assert_int_equal(c.retention, 7 * 86400);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "[sync]\ninterval = 5m\nbandwidth = 64K\n"
	    "bundle_max_observations = 10\n[store]\nretention = 1d\n");
	fclose(fp);
	OK(config_load(&c, path, &found));
	assert_int_equal(found, 1);
	assert_int_equal(c.sync_interval, 300);
	assert_int_equal(c.bandwidth, 65536);
	assert_int_equal(c.bundle_max_obs, 10);
	assert_int_equal(c.retention, 86400);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "[sync]\nbundle_max_observations = 1000\n");
	fclose(fp);
	EXPECT(config_load(&c, path, NULL), FW_ERR_CONFIG, "out of range");
	config_free(&c);
	assert_string_equal(config_path("/x.conf"), "/x.conf");
	assert_string_equal(config_data_dir(NULL, "/d"), "/d");
}

/* ---- disk full ---------------------------------------------------------------------- */

static void
test_disk_full(void **state)
{
	struct fx *f = *state;
	char mnt[300], big[300], path[4096], id[FW_ID_HEX + 1];
	struct fx g;
	struct store_file sf;
	struct obs_in in;

	PATHF(mnt, "%s/small", f->root);
	PATHF(big, "%s/video.mp4", f->root);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") != 0) {
		printf("skip: test_disk_full: cannot mount a tmpfs (%s); "
		    "run as root to test a full disk\n", strerror(errno));
		skip();
	}
	memset(&g, 0, sizeof g);
	PATHF(g.root, "%s", mnt);
	PATHF(g.data, "%s/data", mnt);
	enroll(&g, NULL);
	write_file(big, 1 << 20, 4);		/* outside the tmpfs */
	capture(&g, "fits", NULL, 0, id);	/* the database itself fits */
	sf = (struct store_file){big, -1, NULL};
	obs_init(&in, "Kangmei", "video of the counter");
	EXPECT(store_observe(g.a, &in.o, &sf, 1, 1, id), FW_ERR_NOSPACE,
	    "observe with a file bigger than the disk");
	assert_non_null(strstr(fw_errmsg(), "no space"));
	assert_true(exists(big));		/* --move kept the source */
	assert_string_equal(id, "");
	assert_int_equal(count(&g, "SELECT COUNT(*) FROM obs"), 1);
	assert_int_equal(count(&g, "SELECT COUNT(*) FROM evidence"), 0);
	PATHF(path, "%s/tmp", g.data);
	assert_int_equal(dir_entries(path), 0);
	PATHF(path, "%s/blobs", g.data);
	assert_int_equal(dir_entries(path), 0);
	/* attach to the captured one: the same, the observation unchanged. */
	{
		struct store_obs_info info;
		struct fw_obs o;
		char first[FW_ID_HEX + 1], nid[FW_ID_HEX + 1];
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(g.a->db, "SELECT id FROM obs",
		    -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		PATHF(first, "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		EXPECT(store_attach(g.a, first, NULL, &sf, 1, 1, nid), FW_ERR_NOSPACE,
		    "attach bigger than the disk");
		OK(store_show(g.a, first, &info, &o));
		assert_int_equal(o.nevidence, 0);
		bundle_obs_clear(&o);
		PATHF(path, "%s/tmp", g.data);
		assert_int_equal(dir_entries(path), 0);
	}
	agent_close(g.a);
	ed25519_free(g.pub);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capture_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seal_max_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receipt_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_supplement, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_schema_upgrade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wal_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_keeps_shared_blob, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_orphans_cleaned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recusal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
		cmocka_unit_test(test_parse_e7),
		cmocka_unit_test_setup_teardown(test_revoked_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feed_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
	};

	log_init("test_agent_store", 1, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

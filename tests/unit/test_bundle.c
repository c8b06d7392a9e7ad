/*
 * test_bundle.c: the bundle codec (common/bundle.c) against the wire rules
 * of proto/PROTOCOL.md, "Manifest" and "Bundle".
 *
 * Valid input first: a manifest of several observations with evidence is
 * sealed with a fresh key, opened, verified and re-encoded to the same
 * bytes, and the canonical bytes of a fixed observation are compared with
 * a literal checked against Python's json.dumps.  Then bad input, each
 * case with the one fw_err the protocol names for it: most cases mutate a
 * valid manifest's JSON tree (a table of path, key, new value, expected
 * error), the rest edit its text or the container's bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fw.h"

#define DEVICE	"0123456789abcdef0123456789abcdef"
#define ZERO64	"0000000000000000000000000000000000000000000000000000000000000000"
#define HEX64A	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX64B	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define O	"observations/0"
#define P	O "/place"
#define S	O "/subject"
#define E	O "/evidence/0"
#define HEAD	(4 + ED25519_SIG_LEN)

#define EXPECT(got, want, label) do {					\
	fw_err got_ = (got), want_ = (want);				\
	if (got_ != want_)						\
		fail_msg("%s: got %s, want %s (%s)", (label),		\
		    fw_strerror(got_), fw_strerror(want_), fw_errmsg());	\
} while (0)

/* ---- fixtures --------------------------------------------------------- */

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static void
fill_evidence(struct fw_evidence *ev, unsigned i, unsigned j)
{
	static const char *const types[] = {
		"image/jpeg", "audio/ogg", "video/mp4", "application/pdf",
	};

	ev->kind = (enum fw_evidence_kind)((i + j) % FW_EV_COUNT_);
	ev->media_type = xstrdup(types[ev->kind]);
	ev->size = 1000 + j;
	snprintf(ev->sha256, sizeof ev->sha256, "%064x", 0x5a000u + i * 100 + j);
	snprintf(ev->blob, sizeof ev->blob, "%064x", 0xb10b00u + i * 100 + j);
	ev->blob_size = 2000 + j;
	ev->captured = 1700000000 + 600 * i + j;
}

/* Observation i of a fixture; seq and prev are the manifest's to set. */
static void
fill_obs(struct fw_obs *o, unsigned i, unsigned nev)
{
	char cat[16];
	unsigned j;

	memset(o, 0, sizeof *o);
	snprintf(o->id, sizeof o->id, "%032x", 0x51000u + i);
	o->captured = 1700000000 + 600 * i;
	o->place.text = xstrdup("\xe6\xb8\x85\xe8\xbf\x9c\xe5\xb8\x82 "
	    "Renmin Rd 12/3");
	o->place.has_geo = 1;
	o->place.lat_e7 = 236820000 + (int32_t)i;
	o->place.lon_e7 = 1130560000 - (int32_t)i;
	o->place.has_accuracy = 1;
	o->place.accuracy_m = 10 + i;
	o->subject.kind = (enum fw_subject_kind)(i % FW_SUBJ_COUNT_);
	o->subject.name = xstrdup("Kangning Pharmacy");
	o->subject.institution = xstrdup("P-4401.02");
	o->categories = calloc(2, sizeof *o->categories);
	assert_non_null(o->categories);
	o->ncategories = 2;
	o->categories[0] = xstrdup("overbilling");
	snprintf(cat, sizeof cat, "cat_%u", i);
	o->categories[1] = xstrdup(cat);
	o->what = xstrdup("Card swiped twice.\nStaff said: \"system error\".");
	o->severity = (enum fw_severity)(i % FW_SEV_COUNT_);
	o->task = xstrdup("T-2024_001");
	o->nevidence = nev;
	if (nev > 0) {
		o->evidence = calloc(nev, sizeof *o->evidence);
		assert_non_null(o->evidence);
	}
	for (j = 0; j < nev; j++)
		fill_evidence(&o->evidence[j], i, j);
}

/* Chain obs[i].prev to obs[i-1] for every i >= from. */
static void
rechain(struct fw_manifest *m, size_t from)
{
	size_t i;

	for (i = from > 0 ? from : 1; i < m->nobs; i++)
		assert_int_equal(bundle_obs_hash(&m->obs[i - 1], m->obs[i].prev),
		    FW_OK);
}

static struct fw_manifest *
make_manifest(const char *device, size_t nobs, unsigned nev,
    uint64_t first_seq)
{
	struct fw_manifest *m = calloc(1, sizeof *m);
	size_t i;

	assert_non_null(m);
	m->version = FW_PROTO_VERSION;
	snprintf(m->device, sizeof m->device, "%s", device);
	m->bundle_seq = 7;
	m->created = 1700003600;
	m->obs = calloc(nobs, sizeof *m->obs);
	assert_non_null(m->obs);
	m->nobs = nobs;
	for (i = 0; i < nobs; i++) {
		fill_obs(&m->obs[i], (unsigned)i, nev);
		m->obs[i].seq = first_seq + i;
	}
	/* Odd observations add evidence to the one before them. */
	for (i = 1; i < nobs; i += 2)
		memcpy(m->obs[i].supplements, m->obs[i - 1].id,
		    sizeof m->obs[i].supplements);
	/* The first link is to what the caller already holds. */
	snprintf(m->obs[0].prev, sizeof m->obs[0].prev, "%s",
	    first_seq == 1 ? ZERO64 : HEX64A);
	rechain(m, 1);
	return m;
}

static void
encode(const struct fw_manifest *m, struct buf *out)
{
	buf_init(out, FW_MAX_MANIFEST);
	EXPECT(bundle_manifest_encode(m, out), FW_OK, "encode");
}

/* The valid manifest's tree, for the mutation tables. */
static json_t *
base_tree(size_t nobs, unsigned nev)
{
	struct fw_manifest *m = make_manifest(DEVICE, nobs, nev, 1);
	struct buf b;
	json_t *t;

	encode(m, &b);
	assert_int_equal(jsonx_load(b.data, b.len, &t), FW_OK);
	buf_free(&b);
	bundle_manifest_free(m);
	return t;
}

static fw_err
parse_bytes(const void *p, size_t n)
{
	struct fw_manifest *m = (struct fw_manifest *)1;
	fw_err e = bundle_manifest_parse(p, n, &m);

	if (e == FW_OK)
		assert_non_null(m);
	else
		assert_null(m);
	bundle_manifest_free(m);
	return e;
}

static char *
dump_tree(const json_t *t)
{
	char *s = json_dumps(t, JSON_COMPACT);

	assert_non_null(s);
	return s;
}

static fw_err
parse_tree(const json_t *t)
{
	char *s = dump_tree(t);
	fw_err e = parse_bytes(s, strlen(s));

	free(s);
	return e;
}

static json_t *
at(json_t *root, const char *path)
{
	char tmp[128], *tok, *save = NULL;
	json_t *v = root;

	snprintf(tmp, sizeof tmp, "%s", path);
	for (tok = strtok_r(tmp, "/", &save); tok != NULL && v != NULL;
	    tok = strtok_r(NULL, "/", &save))
		v = json_is_array(v) ? json_array_get(v, strtoul(tok, NULL, 10)) :
		    json_object_get(v, tok);
	if (v == NULL)
		fail_msg("no %s in the fixture", path);
	return v;
}

/* Set (or with v NULL delete) key of the object or array at path. */
static void
set_at(json_t *root, const char *path, const char *key, json_t *v)
{
	json_t *c = at(root, path);

	if (json_is_array(c))
		assert_int_equal(json_array_set_new(c, strtoul(key, NULL, 10), v),
		    0);
	else if (v == NULL)
		assert_int_equal(json_object_del(c, key), 0);
	else
		assert_int_equal(json_object_set_new(c, key, v), 0);
}

static json_t *
jval(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (v == NULL)
		fail_msg("bad test value %s: %s", text, je.text);
	return v;
}

/* Copy of s with the first `from` replaced by `to` (which must be found). */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *hit = strstr(s, from);
	size_t pre, n;
	char *r;

	if (hit == NULL) {
		fail_msg("'%s' not in the fixture", from);
		return NULL;	/* not reached: fail_msg jumps out */
	}
	pre = (size_t)(hit - s);
	n = strlen(s) - strlen(from) + strlen(to);
	r = malloc(n + 1);
	assert_non_null(r);
	memcpy(r, s, pre);
	memcpy(r + pre, to, strlen(to));
	strcpy(r + pre + strlen(to), hit + strlen(from));
	return r;
}

/* Parse the fixture's text with one substring replaced. */
static fw_err
parse_replaced(size_t nobs, const char *from, const char *to)
{
	json_t *t = base_tree(nobs, 1);
	char *s = dump_tree(t), *r = replace(s, from, to);
	fw_err e = parse_bytes(r, strlen(r));

	free(r);
	free(s);
	json_decref(t);
	return e;
}

struct mut {
	const char *path;	/* container of the field */
	const char *key;	/* field (or array index) */
	const char *value;	/* JSON text; NULL deletes the field */
	fw_err want;
};

static void
run_muts(const struct mut *muts, size_t n, size_t nobs)
{
	char label[256];
	json_t *t;
	size_t i;

	for (i = 0; i < n; i++) {
		t = base_tree(nobs, 2);
		set_at(t, muts[i].path, muts[i].key,
		    muts[i].value != NULL ? jval(muts[i].value) : NULL);
		snprintf(label, sizeof label, "%s/%s = %s", muts[i].path,
		    muts[i].key, muts[i].value != NULL ? muts[i].value : "(deleted)");
		EXPECT(parse_tree(t), muts[i].want, label);
		json_decref(t);
	}
}

#define RUN_MUTS(t, nobs) run_muts((t), sizeof(t) / sizeof((t)[0]), (nobs))

/* magic | sig by k over man | deflate(man), whatever man holds. */
static void
container(const void *man, size_t n, const struct ed25519_key *k,
    struct buf *out)
{
	uint8_t sig[ED25519_SIG_LEN];

	memset(sig, 0, sizeof sig);
	if (k != NULL)
		assert_int_equal(ed25519_sign(k, man, n, sig), FW_OK);
	buf_init(out, 64u << 20);
	assert_int_equal(buf_add(out, "FWB1", 4), FW_OK);
	assert_int_equal(buf_add(out, sig, sizeof sig), FW_OK);
	assert_int_equal(compress_deflate(man, n, out), FW_OK);
}

static struct ed25519_key *
new_key(char id[ED25519_DEVICE_ID_LEN + 1])
{
	struct ed25519_key *k;

	assert_int_equal(ed25519_generate(&k), FW_OK);
	if (id != NULL)
		assert_int_equal(ed25519_device_id(k, id), FW_OK);
	return k;
}

/* Seal a fixture of nobs observations with a fresh key. */
static struct ed25519_key *
sealed(size_t nobs, unsigned nev, struct buf *out, char bid[SHA256_HEX + 1])
{
	char kid[ED25519_DEVICE_ID_LEN + 1];
	struct ed25519_key *k = new_key(kid);
	struct fw_manifest *m = make_manifest(kid, nobs, nev, 1);

	buf_init(out, FW_MAX_BUNDLE);
	EXPECT(bundle_seal(m, k, out, bid), FW_OK, "seal");
	bundle_manifest_free(m);
	return k;
}

static fw_err
open_bytes(const void *p, size_t n)
{
	struct fw_bundle *b = (struct fw_bundle *)1;
	fw_err e = bundle_open(p, n, &b);

	if (e == FW_OK)
		assert_non_null(b);
	else
		assert_null(b);
	bundle_free(b);
	return e;
}

/* ---- valid input ------------------------------------------------------ */

static void
test_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < FW_SUBJ_COUNT_; i++)
		assert_int_equal(bundle_subject_kind_parse(
		    bundle_subject_kind_name((enum fw_subject_kind)i)), i);
	for (i = 0; i < FW_EV_COUNT_; i++)
		assert_int_equal(bundle_evidence_kind_parse(
		    bundle_evidence_kind_name((enum fw_evidence_kind)i)), i);
	for (i = 0; i < FW_SEV_COUNT_; i++)
		assert_int_equal(bundle_severity_parse(
		    bundle_severity_name((enum fw_severity)i)), i);
	assert_string_equal(bundle_subject_kind_name(FW_SUBJ_INSURANCE_AGENCY),
	    "insurance_agency");
	assert_string_equal(bundle_evidence_kind_name(FW_EV_DOCUMENT),
	    "document");
	assert_string_equal(bundle_severity_name(FW_SEV_MAJOR), "major");
	assert_null(bundle_subject_kind_name(FW_SUBJ_COUNT_));
	assert_null(bundle_evidence_kind_name((enum fw_evidence_kind)-1));
	assert_int_equal(bundle_subject_kind_parse("Pharmacy"), -1);
	assert_int_equal(bundle_severity_parse(""), -1);
	assert_int_equal(bundle_evidence_kind_parse(NULL), -1);
}

static void
test_time(void **state)
{
	static const struct { const char *s; int64_t t; } good[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2000-02-29T00:00:00Z", 951782400},
		{"2023-11-14T22:13:20Z", 1700000000},
		{"2024-02-29T23:59:59Z", 1709251199},
		{"2100-03-01T00:00:00Z", 4107542400},
		{"9999-12-31T23:59:59Z", INT64_C(253402300799)},
	};
	char out[21], want[32];
	struct tm tm;
	time_t tt;
	int64_t t, back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		EXPECT(bundle_time_parse(good[i].s, &t), FW_OK, good[i].s);
		assert_true(t == good[i].t);
		bundle_time_format(good[i].t, out);
		assert_string_equal(out, good[i].s);
	}
	/* Against the C library over the whole range. */
	for (t = 0; t <= INT64_C(253402300799); t += INT64_C(7919) * 86400 + 4441) {
		tt = (time_t)t;
		assert_non_null(gmtime_r(&tt, &tm));
		strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
		bundle_time_format(t, out);
		assert_string_equal(out, want);
		assert_int_equal(bundle_time_parse(out, &back), FW_OK);
		assert_true(back == t);
	}
	/* Out of range is clamped. */
	bundle_time_format(-1, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	bundle_time_format(INT64_MAX, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	EXPECT(bundle_time_parse(NULL, &t), FW_ERR_FIELD_VALUE, "NULL");
}

/*
 * The canonical bytes of one fixed observation.  The literal was checked
 * against python3 -c 'json.dumps(o, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)' and its SHA-256 against hashlib.
 */
static void
test_obs_canonical_literal(void **state)
{
	static const char want[] =
	    "{\"captured\":\"2023-11-14T22:13:20Z\","
	    "\"categories\":[\"overbilling\",\"card_misuse\"],"
	    "\"evidence\":[{\"blob\":\"" HEX64B "\",\"blob_size\":123789,"
	    "\"captured\":\"2023-11-14T22:13:30Z\",\"kind\":\"photo\","
	    "\"media_type\":\"image/jpeg\",\"sha256\":\"" HEX64A "\","
	    "\"size\":123456}],"
	    "\"id\":\"0123456789abcdef0123456789abcdef\","
	    "\"place\":{\"accuracy_m\":15,\"lat_e7\":236820000,"
	    "\"lon_e7\":1130560000,\"text\":\"\xe5\xb9\xbf\xe4\xb8\x9c\xe7\x9c\x81"
	    "\xe6\xb8\x85\xe8\xbf\x9c\xe5\xb8\x82 Main St/2\\n\\\"north\\\" gate\"},"
	    "\"prev\":\"" ZERO64 "\",\"seq\":1,\"severity\":\"major\","
	    "\"subject\":{\"institution\":\"P-4401.02\",\"kind\":\"pharmacy\","
	    "\"name\":\"Kangning Pharmacy \\\\ \xe5\xba\xb7\xe5\xae\x81\xe8\x8d\xaf"
	    "\xe6\x88\xbf\"},"
	    "\"task\":\"T-2024_001\","
	    "\"what\":\"Card swiped twice.\\tReceipt shows 2 items; paid for 1."
	    "\\nStaff said: \\\"system error\\\".\"}";
	char *cats[] = {"overbilling", "card_misuse"};
	struct fw_evidence ev = {
		.kind = FW_EV_PHOTO, .media_type = "image/jpeg", .size = 123456,
		.sha256 = HEX64A, .blob = HEX64B, .blob_size = 123789,
		.captured = 1700000010,
	};
	struct fw_obs o = {
		.id = "0123456789abcdef0123456789abcdef", .seq = 1,
		.prev = ZERO64, .captured = 1700000000,
		.place = {
			.text = "\xe5\xb9\xbf\xe4\xb8\x9c\xe7\x9c\x81\xe6\xb8\x85"
			    "\xe8\xbf\x9c\xe5\xb8\x82 Main St/2\n\"north\" gate",
			.has_geo = 1, .lat_e7 = 236820000, .lon_e7 = 1130560000,
			.has_accuracy = 1, .accuracy_m = 15,
		},
		.subject = {
			.kind = FW_SUBJ_PHARMACY,
			.name = "Kangning Pharmacy \\ \xe5\xba\xb7\xe5\xae\x81"
			    "\xe8\x8d\xaf\xe6\x88\xbf",
			.institution = "P-4401.02",
		},
		.categories = cats, .ncategories = 2,
		.what = "Card swiped twice.\tReceipt shows 2 items; paid for 1.\n"
		    "Staff said: \"system error\".",
		.severity = FW_SEV_MAJOR, .task = "T-2024_001",
		.evidence = &ev, .nevidence = 1,
	};
	char hash[SHA256_HEX + 1];
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 16);
	EXPECT(bundle_obs_canonical(&o, &b), FW_OK, "canonical");
	assert_int_equal(b.len, sizeof want - 1);
	assert_string_equal((char *)b.data, want);
	EXPECT(bundle_obs_hash(&o, hash), FW_OK, "hash");
	assert_string_equal(hash,
	    "8c0c0b827ed53947a10701c83914c4884b89ba9308939d58fe94c6b57599a93e");
	/* Optional fields absent are omitted, never null. */
	o.task = NULL;
	o.subject.institution = NULL;
	o.place.has_geo = 0;
	o.place.has_accuracy = 0;
	o.nevidence = 0;
	buf_reset(&b);
	EXPECT(bundle_obs_canonical(&o, &b), FW_OK, "canonical, no options");
	assert_null(strstr((char *)b.data, "task"));
	assert_null(strstr((char *)b.data, "supplements"));
	assert_null(strstr((char *)b.data, "institution"));
	assert_null(strstr((char *)b.data, "lat_e7"));
	assert_null(strstr((char *)b.data, "accuracy_m"));
	assert_null(strstr((char *)b.data, "null"));
	assert_non_null(strstr((char *)b.data, "\"evidence\":[]"));
	buf_free(&b);
}

static void
assert_obs_equal(const struct fw_obs *a, const struct fw_obs *b)
{
	size_t i;

	assert_string_equal(a->id, b->id);
	assert_true(a->seq == b->seq);
	assert_string_equal(a->prev, b->prev);
	assert_true(a->captured == b->captured);
	assert_string_equal(a->place.text, b->place.text);
	assert_int_equal(a->place.has_geo, b->place.has_geo);
	assert_int_equal(a->place.lat_e7, b->place.lat_e7);
	assert_int_equal(a->place.lon_e7, b->place.lon_e7);
	assert_int_equal(a->place.accuracy_m, b->place.accuracy_m);
	assert_int_equal(a->subject.kind, b->subject.kind);
	assert_string_equal(a->subject.name, b->subject.name);
	assert_string_equal(a->subject.institution, b->subject.institution);
	assert_int_equal(a->ncategories, b->ncategories);
	for (i = 0; i < a->ncategories; i++)
		assert_string_equal(a->categories[i], b->categories[i]);
	assert_string_equal(a->what, b->what);
	assert_int_equal(a->severity, b->severity);
	assert_string_equal(a->task, b->task);
	assert_string_equal(a->supplements, b->supplements);
	assert_int_equal(a->nevidence, b->nevidence);
	for (i = 0; i < a->nevidence; i++) {
		assert_int_equal(a->evidence[i].kind, b->evidence[i].kind);
		assert_string_equal(a->evidence[i].media_type,
		    b->evidence[i].media_type);
		assert_true(a->evidence[i].size == b->evidence[i].size);
		assert_string_equal(a->evidence[i].sha256, b->evidence[i].sha256);
		assert_string_equal(a->evidence[i].blob, b->evidence[i].blob);
		assert_true(a->evidence[i].blob_size == b->evidence[i].blob_size);
		assert_true(a->evidence[i].captured == b->evidence[i].captured);
	}
}

static void
test_manifest_roundtrip(void **state)
{
	struct fw_manifest *m = make_manifest(DEVICE, 4, 3, 1), *p;
	struct buf a, b;
	size_t i;

	(void)state;
	encode(m, &a);
	EXPECT(bundle_manifest_parse(a.data, a.len, &p), FW_OK, "parse");
	assert_int_equal(p->version, 1);
	assert_string_equal(p->device, DEVICE);
	assert_true(p->bundle_seq == 7);
	assert_true(p->created == 1700003600);
	assert_int_equal(p->nobs, 4);
	for (i = 0; i < 4; i++)
		assert_obs_equal(&m->obs[i], &p->obs[i]);
	encode(p, &b);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	/* The manifest is itself in canonical form. */
	assert_int_equal(a.data[0], '{');
	assert_non_null(strstr((char *)a.data,
	    "{\"bundle_seq\":7,\"created\":\"2023-11-14T23:13:20Z\","
	    "\"device\":\"" DEVICE "\",\"observations\":[{"));
	assert_non_null(strstr((char *)a.data, "],\"version\":1}"));
	buf_free(&a);
	buf_free(&b);
	bundle_manifest_free(m);
	bundle_manifest_free(p);
}

static void
test_seal_open_verify(void **state)
{
	char kid[ED25519_DEVICE_ID_LEN + 1], bid[SHA256_HEX + 1];
	char bid2[SHA256_HEX + 1], mid[SHA256_HEX + 1];
	uint8_t pub[ED25519_PUB_LEN];
	struct ed25519_key *k = new_key(kid), *pk;
	struct fw_manifest *m = make_manifest(kid, 5, 3, 1);
	struct fw_bundle *b;
	struct buf out, out2, re;
	size_t i;

	(void)state;
	buf_init(&out, FW_MAX_BUNDLE);
	EXPECT(bundle_seal(m, k, &out, bid), FW_OK, "seal");
	assert_memory_equal(out.data, "FWB1", 4);
	EXPECT(bundle_open(out.data, out.len, &b), FW_OK, "open");
	EXPECT(bundle_verify(b, k), FW_OK, "verify");
	/* The id is the SHA-256 of the exact manifest bytes. */
	assert_string_equal(b->id, bid);
	assert_int_equal(sha256_hex(b->manifest.data, b->manifest.len, mid),
	    FW_OK);
	assert_string_equal(mid, bid);
	assert_memory_equal(b->sig, out.data + 4, ED25519_SIG_LEN);
	assert_int_equal(b->m->nobs, 5);
	for (i = 0; i < 5; i++)
		assert_obs_equal(&m->obs[i], &b->m->obs[i]);
	/* Re-encoding the parsed manifest gives the signed bytes again. */
	encode(b->m, &re);
	assert_int_equal(re.len, b->manifest.len);
	assert_memory_equal(re.data, b->manifest.data, re.len);
	/* Sealing is deterministic (Ed25519 and zlib both are). */
	buf_init(&out2, FW_MAX_BUNDLE);
	EXPECT(bundle_seal(m, k, &out2, bid2), FW_OK, "seal again");
	assert_string_equal(bid, bid2);
	assert_int_equal(out.len, out2.len);
	assert_memory_equal(out.data, out2.data, out.len);
	/* A public-only key verifies too, as the server holds it. */
	assert_int_equal(ed25519_public(k, pub), FW_OK);
	assert_int_equal(ed25519_from_public(pub, &pk), FW_OK);
	EXPECT(bundle_verify(b, pk), FW_OK, "verify with public key");
	ed25519_free(pk);
	bundle_free(b);
	buf_free(&out);
	buf_free(&out2);
	buf_free(&re);
	bundle_manifest_free(m);
	ed25519_free(k);
}

/* Bounds that must be accepted: every limit exactly. */
static void
test_limits_accepted(void **state)
{
	struct fw_manifest *m;
	struct buf b;
	char *what;

	(void)state;
	m = make_manifest(DEVICE, FW_MAX_OBSERVATIONS, 1, 1);
	encode(m, &b);
	EXPECT(parse_bytes(b.data, b.len), FW_OK, "256 observations");
	buf_free(&b);
	bundle_manifest_free(m);

	m = make_manifest(DEVICE, 1, FW_MAX_EVIDENCE, 1);
	encode(m, &b);
	EXPECT(parse_bytes(b.data, b.len), FW_OK, "32 evidence");
	buf_free(&b);
	bundle_manifest_free(m);

	/* Text at its maximum, codes at theirs, an arbitrary first link. */
	m = make_manifest(DEVICE, 2, 0, FW_MAX_SEQ - 1);
	what = malloc(FW_MAX_WHAT + 1);
	assert_non_null(what);
	memset(what, 'w', FW_MAX_WHAT);
	what[FW_MAX_WHAT] = '\0';
	free(m->obs[0].what);
	m->obs[0].what = what;
	free(m->obs[0].task);
	m->obs[0].task = xstrdup("abcdefghijklmnopqrstuvwxyz0123._");
	m->obs[0].place.lat_e7 = -900000000;
	m->obs[0].place.lon_e7 = 1800000000;
	m->obs[0].place.accuracy_m = 10000000;
	m->obs[1].place.has_geo = 0;
	m->obs[1].place.has_accuracy = 0;
	free(m->obs[1].subject.institution);
	m->obs[1].subject.institution = NULL;
	m->bundle_seq = FW_MAX_SEQ;
	rechain(m, 1);
	encode(m, &b);
	EXPECT(parse_bytes(b.data, b.len), FW_OK, "maximal fields");
	buf_free(&b);
	bundle_manifest_free(m);
}

/* Every count at its maximum at once: the largest manifest there is must
 * pass the parser's bounds and survive sealing (compression ratio). */
static void
test_max_manifest(void **state)
{
	char kid[ED25519_DEVICE_ID_LEN + 1], bid[SHA256_HEX + 1], cat[16];
	struct ed25519_key *k = new_key(kid);
	struct fw_manifest *m = make_manifest(kid, FW_MAX_OBSERVATIONS,
	    FW_MAX_EVIDENCE, 1);
	struct fw_bundle *b;
	struct fw_obs *o;
	struct buf c;
	size_t i, j;

	(void)state;
	for (i = 0; i < m->nobs; i++) {
		o = &m->obs[i];
		for (j = 0; j < o->ncategories; j++)
			free(o->categories[j]);
		free(o->categories);
		o->categories = calloc(FW_MAX_CATEGORIES, sizeof *o->categories);
		assert_non_null(o->categories);
		o->ncategories = FW_MAX_CATEGORIES;
		for (j = 0; j < FW_MAX_CATEGORIES; j++) {
			snprintf(cat, sizeof cat, "c%zu", j);
			o->categories[j] = xstrdup(cat);
		}
	}
	rechain(m, 1);
	buf_init(&c, FW_MAX_BUNDLE);
	EXPECT(bundle_seal(m, k, &c, bid), FW_OK, "seal the largest");
	EXPECT(bundle_open(c.data, c.len, &b), FW_OK, "open the largest");
	EXPECT(bundle_verify(b, k), FW_OK, "verify the largest");
	assert_int_equal(b->m->nobs, FW_MAX_OBSERVATIONS);
	assert_int_equal(b->m->obs[255].nevidence, FW_MAX_EVIDENCE);
	bundle_free(b);
	buf_free(&c);
	bundle_manifest_free(m);
	ed25519_free(k);
}

/* ---- bad manifests ---------------------------------------------------- */

static void
test_missing_fields(void **state)
{
	static const struct mut muts[] = {
		{"", "version", NULL, FW_ERR_FIELD_MISSING},
		{"", "device", NULL, FW_ERR_FIELD_MISSING},
		{"", "bundle_seq", NULL, FW_ERR_FIELD_MISSING},
		{"", "created", NULL, FW_ERR_FIELD_MISSING},
		{"", "observations", NULL, FW_ERR_FIELD_MISSING},
		{O, "id", NULL, FW_ERR_FIELD_MISSING},
		{O, "seq", NULL, FW_ERR_FIELD_MISSING},
		{O, "prev", NULL, FW_ERR_FIELD_MISSING},
		{O, "captured", NULL, FW_ERR_FIELD_MISSING},
		{O, "place", NULL, FW_ERR_FIELD_MISSING},
		{O, "subject", NULL, FW_ERR_FIELD_MISSING},
		{O, "categories", NULL, FW_ERR_FIELD_MISSING},
		{O, "what", NULL, FW_ERR_FIELD_MISSING},
		{O, "severity", NULL, FW_ERR_FIELD_MISSING},
		{O, "evidence", NULL, FW_ERR_FIELD_MISSING},
		{P, "text", NULL, FW_ERR_FIELD_MISSING},
		{S, "kind", NULL, FW_ERR_FIELD_MISSING},
		{S, "name", NULL, FW_ERR_FIELD_MISSING},
		{E, "kind", NULL, FW_ERR_FIELD_MISSING},
		{E, "media_type", NULL, FW_ERR_FIELD_MISSING},
		{E, "size", NULL, FW_ERR_FIELD_MISSING},
		{E, "sha256", NULL, FW_ERR_FIELD_MISSING},
		{E, "blob", NULL, FW_ERR_FIELD_MISSING},
		{E, "blob_size", NULL, FW_ERR_FIELD_MISSING},
		{E, "captured", NULL, FW_ERR_FIELD_MISSING},
		/* Optional ones may go. */
		{O, "task", NULL, FW_OK},
		{S, "institution", NULL, FW_OK},
		{P, "accuracy_m", NULL, FW_OK},
	};

	(void)state;
	RUN_MUTS(muts, 1);
}

static void
test_mistyped_fields(void **state)
{
	static const struct mut muts[] = {
		{"", "version", "\"1\"", FW_ERR_FIELD_TYPE},
		{"", "version", "1.0", FW_ERR_FIELD_TYPE},
		{"", "device", "5", FW_ERR_FIELD_TYPE},
		{"", "bundle_seq", "\"7\"", FW_ERR_FIELD_TYPE},
		{"", "bundle_seq", "7.0", FW_ERR_FIELD_TYPE},
		{"", "created", "1700000000", FW_ERR_FIELD_TYPE},
		{"", "observations", "{}", FW_ERR_FIELD_TYPE},
		{"observations", "0", "5", FW_ERR_FIELD_TYPE},
		{"observations", "0", "[]", FW_ERR_FIELD_TYPE},
		{O, "id", "5", FW_ERR_FIELD_TYPE},
		{O, "seq", "\"1\"", FW_ERR_FIELD_TYPE},
		{O, "seq", "1.0", FW_ERR_FIELD_TYPE},
		{O, "seq", "true", FW_ERR_FIELD_TYPE},
		{O, "prev", "[]", FW_ERR_FIELD_TYPE},
		{O, "captured", "5", FW_ERR_FIELD_TYPE},
		{O, "place", "\"here\"", FW_ERR_FIELD_TYPE},
		{O, "subject", "[]", FW_ERR_FIELD_TYPE},
		{O, "categories", "\"overbilling\"", FW_ERR_FIELD_TYPE},
		{O "/categories", "0", "5", FW_ERR_FIELD_TYPE},
		{O "/categories", "1", "null", FW_ERR_FIELD_TYPE},
		{O, "what", "5", FW_ERR_FIELD_TYPE},
		{O, "severity", "1", FW_ERR_FIELD_TYPE},
		{O, "task", "5", FW_ERR_FIELD_TYPE},
		{O, "task", "null", FW_ERR_FIELD_TYPE},
		{O, "evidence", "{}", FW_ERR_FIELD_TYPE},
		{O "/evidence", "0", "\"photo\"", FW_ERR_FIELD_TYPE},
		{P, "text", "5", FW_ERR_FIELD_TYPE},
		{P, "lat_e7", "23.682", FW_ERR_FIELD_TYPE},
		{P, "lon_e7", "\"113\"", FW_ERR_FIELD_TYPE},
		{P, "accuracy_m", "2.0", FW_ERR_FIELD_TYPE},
		{S, "kind", "5", FW_ERR_FIELD_TYPE},
		{S, "name", "[]", FW_ERR_FIELD_TYPE},
		{S, "institution", "true", FW_ERR_FIELD_TYPE},
		{E, "kind", "1", FW_ERR_FIELD_TYPE},
		{E, "media_type", "5", FW_ERR_FIELD_TYPE},
		{E, "size", "\"1000\"", FW_ERR_FIELD_TYPE},
		{E, "size", "1000.0", FW_ERR_FIELD_TYPE},
		{E, "sha256", "5", FW_ERR_FIELD_TYPE},
		{E, "blob", "null", FW_ERR_FIELD_TYPE},
		{E, "blob_size", "\"2000\"", FW_ERR_FIELD_TYPE},
		{E, "captured", "{}", FW_ERR_FIELD_TYPE},
	};

	(void)state;
	RUN_MUTS(muts, 1);
}

static void
test_unknown_fields(void **state)
{
	static const struct mut muts[] = {
		{"", "zz", "1", FW_ERR_FIELD_UNKNOWN},
		{O, "zz", "1", FW_ERR_FIELD_UNKNOWN},
		{P, "zz", "1", FW_ERR_FIELD_UNKNOWN},
		{S, "zz", "1", FW_ERR_FIELD_UNKNOWN},
		{E, "zz", "1", FW_ERR_FIELD_UNKNOWN},
		{"observations/1/evidence/1", "Kind", "\"photo\"",
		    FW_ERR_FIELD_UNKNOWN},
		/* null is not "absent": it is unknown or mistyped. */
		{O, "extra", "null", FW_ERR_FIELD_UNKNOWN},
	};

	(void)state;
	RUN_MUTS(muts, 2);
}

static void
test_duplicate_keys(void **state)
{
	(void)state;
	EXPECT(parse_replaced(1, "\"device\":", "\"device\":\"x\",\"device\":"),
	    FW_ERR_FIELD_DUPLICATE, "root");
	EXPECT(parse_replaced(1, "\"what\":", "\"what\":\"x\",\"what\":"),
	    FW_ERR_FIELD_DUPLICATE, "observation");
	EXPECT(parse_replaced(1, "\"text\":", "\"text\":\"x\",\"text\":"),
	    FW_ERR_FIELD_DUPLICATE, "place");
	EXPECT(parse_replaced(1, "\"media_type\":",
	    "\"media_type\":\"a/b\",\"media_type\":"),
	    FW_ERR_FIELD_DUPLICATE, "evidence");
}

static json_t *
jstr_n(char c, size_t n)
{
	char *s = malloc(n + 1);
	json_t *v;

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	v = json_string(s);
	free(s);
	assert_non_null(v);
	return v;
}

static void
test_lengths(void **state)
{
	static const struct {
		const char *path, *key;
		size_t n;
		fw_err want;
	} cases[] = {
		{O, "what", FW_MAX_WHAT + 1, FW_ERR_FIELD_LENGTH},
		{O, "what", FW_MAX_WHAT, FW_OK},
		{O, "what", 0, FW_ERR_FIELD_LENGTH},
		{S, "name", FW_MAX_NAME + 1, FW_ERR_FIELD_LENGTH},
		{S, "name", FW_MAX_NAME, FW_OK},
		{S, "name", 0, FW_ERR_FIELD_LENGTH},
		{P, "text", FW_MAX_PLACE + 1, FW_ERR_FIELD_LENGTH},
		{P, "text", FW_MAX_PLACE, FW_OK},
		{P, "text", 0, FW_ERR_FIELD_LENGTH},
		{S, "institution", FW_MAX_CODE + 1, FW_ERR_FIELD_LENGTH},
		{S, "institution", FW_MAX_CODE, FW_OK},
		{S, "institution", 0, FW_ERR_FIELD_LENGTH},
		{O, "task", FW_MAX_CODE + 1, FW_ERR_FIELD_LENGTH},
		{O, "task", 0, FW_ERR_FIELD_LENGTH},
		{O "/categories", "0", FW_MAX_CODE + 1, FW_ERR_FIELD_LENGTH},
		{O "/categories", "0", 0, FW_ERR_FIELD_LENGTH},
		{O, "id", FW_ID_HEX + 1, FW_ERR_FIELD_LENGTH},
		{O, "id", FW_ID_HEX - 1, FW_ERR_FIELD_LENGTH},
		{O, "prev", SHA256_HEX - 1, FW_ERR_FIELD_LENGTH},
		{O, "supplements", FW_ID_HEX + 1, FW_ERR_FIELD_LENGTH},
		{O, "supplements", 0, FW_ERR_FIELD_LENGTH},
		{"", "device", ED25519_DEVICE_ID_LEN + 1, FW_ERR_FIELD_LENGTH},
		{E, "sha256", SHA256_HEX + 1, FW_ERR_FIELD_LENGTH},
		{E, "blob", 0, FW_ERR_FIELD_LENGTH},
	};
	char label[128];
	json_t *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		t = base_tree(1, 1);
		set_at(t, cases[i].path, cases[i].key, jstr_n('a', cases[i].n));
		snprintf(label, sizeof label, "%s/%s of %zu bytes", cases[i].path,
		    cases[i].key, cases[i].n);
		EXPECT(parse_tree(t), cases[i].want, label);
		json_decref(t);
	}
	/* Media types: 3..FW_MAX_MEDIA_TYPE. */
	t = base_tree(1, 1);
	set_at(t, E, "media_type", json_string("a/"));
	EXPECT(parse_tree(t), FW_ERR_FIELD_LENGTH, "media type of 2 bytes");
	json_decref(t);
	t = base_tree(1, 1);
	{
		char mt[FW_MAX_MEDIA_TYPE + 2];

		memset(mt, 'x', sizeof mt - 1);
		mt[sizeof mt - 1] = '\0';
		mt[5] = '/';
		set_at(t, E, "media_type", json_string(mt));
		EXPECT(parse_tree(t), FW_ERR_FIELD_LENGTH, "long media type");
		mt[FW_MAX_MEDIA_TYPE] = '\0';
		set_at(t, E, "media_type", json_string(mt));
		EXPECT(parse_tree(t), FW_OK, "media type at the limit");
	}
	json_decref(t);
}

static void
test_counts(void **state)
{
	static const struct mut muts[] = {
		{"", "observations", "[]", FW_ERR_FIELD_LENGTH},
		{O, "categories", "[]", FW_ERR_FIELD_LENGTH},
		{O, "categories", "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
		    "\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\"]", FW_OK},
		{O, "categories", "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
		    "\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]",
		    FW_ERR_FIELD_LENGTH},
		{O, "evidence", "[]", FW_OK},
	};
	json_t *t, *arr, *one;
	size_t i;

	(void)state;
	RUN_MUTS(muts, 1);

	/* One observation over the limit: LIMIT, before any is parsed. */
	t = base_tree(1, 1);
	arr = at(t, "observations");
	one = json_array_get(arr, 0);
	for (i = 1; i <= FW_MAX_OBSERVATIONS; i++)
		assert_int_equal(json_array_append_new(arr, json_deep_copy(one)),
		    0);
	EXPECT(parse_tree(t), FW_ERR_LIMIT, "257 observations");
	json_decref(t);

	t = base_tree(1, 1);
	arr = at(t, O "/evidence");
	one = json_array_get(arr, 0);
	for (i = 1; i <= FW_MAX_EVIDENCE; i++)
		assert_int_equal(json_array_append_new(arr, json_deep_copy(one)),
		    0);
	EXPECT(parse_tree(t), FW_ERR_LIMIT, "33 evidence");
	json_decref(t);
}

static void
test_ranges(void **state)
{
	static const struct mut muts[] = {
		{O, "seq", "0", FW_ERR_FIELD_RANGE},
		{O, "seq", "-1", FW_ERR_FIELD_RANGE},
		{O, "seq", "9007199254740992", FW_ERR_FIELD_RANGE},	/* 2^53 */
		{O, "seq", "9007199254740991", FW_OK},		/* 2^53 - 1 */
		{O, "seq", "9223372036854775807", FW_ERR_FIELD_RANGE},
		{"", "bundle_seq", "0", FW_ERR_FIELD_RANGE},
		{"", "bundle_seq", "9007199254740992", FW_ERR_FIELD_RANGE},
		{"", "bundle_seq", "9007199254740991", FW_OK},
		{P, "lat_e7", "900000001", FW_ERR_FIELD_RANGE},
		{P, "lat_e7", "-900000001", FW_ERR_FIELD_RANGE},
		{P, "lon_e7", "1800000001", FW_ERR_FIELD_RANGE},
		{P, "lon_e7", "-1800000000", FW_OK},
		{P, "accuracy_m", "-1", FW_ERR_FIELD_RANGE},
		{P, "accuracy_m", "10000001", FW_ERR_FIELD_RANGE},
		{P, "accuracy_m", "0", FW_OK},
		{E, "size", "-1", FW_ERR_FIELD_RANGE},
		{E, "size", "0", FW_OK},
		{E, "size", "4294967296", FW_OK},		/* FW_MAX_BLOB */
		{E, "size", "4294967297", FW_ERR_FIELD_RANGE},
		{E, "blob_size", "0", FW_ERR_FIELD_RANGE},
		{E, "blob_size", "4294967297", FW_ERR_FIELD_RANGE},
	};

	(void)state;
	RUN_MUTS(muts, 1);
	/* 2^63 does not fit jansson's integer: a range error at load. */
	EXPECT(parse_replaced(1, "\"seq\":1,", "\"seq\":9223372036854775808,"),
	    FW_ERR_FIELD_RANGE, "seq 2^63");
	EXPECT(parse_replaced(1, "\"seq\":1,",
	    "\"seq\":18446744073709551617,"), FW_ERR_FIELD_RANGE, "seq 2^64+1");
	EXPECT(parse_replaced(1, "\"seq\":1,", "\"seq\":1e3,"),
	    FW_ERR_FIELD_TYPE, "seq 1e3");
}

static void
test_sequence_and_chain(void **state)
{
	static const struct mut muts[] = {
		/* Non-contiguous. */
		{"observations/1", "seq", "3", FW_ERR_SEQUENCE},
		{"observations/2", "seq", "2", FW_ERR_SEQUENCE},
		{"observations/2", "seq", "5", FW_ERR_SEQUENCE},
		/* seq 1 links to nothing: its prev is all zeros. */
		{O, "prev", "\"" HEX64A "\"", FW_ERR_CHAIN},
		{"observations/1", "prev", "\"" ZERO64 "\"", FW_ERR_CHAIN},
		{"observations/2", "prev", "\"" HEX64B "\"", FW_ERR_CHAIN},
		/* A changed observation breaks the link of the next. */
		{O, "what", "\"changed after the fact\"", FW_ERR_CHAIN},
		{"observations/1/evidence/0", "size", "1", FW_ERR_CHAIN},
		/* The last one's content is covered by the signature only. */
		{"observations/2", "what", "\"changed\"", FW_OK},
		/* Uppercase hex is not the canonical form. */
		{O, "prev", "\"" "0000000000000000000000000000000000000000000000"
		    "00000000000000000A" "\"", FW_ERR_FIELD_VALUE},
	};

	(void)state;
	RUN_MUTS(muts, 3);
}

static void
test_duplicate_values(void **state)
{
	json_t *t;

	(void)state;
	/* The same id twice in one manifest. */
	t = base_tree(3, 1);
	set_at(t, "observations/2", "id",
	    json_deep_copy(json_object_get(at(t, O), "id")));
	EXPECT(parse_tree(t), FW_ERR_FIELD_VALUE, "duplicate id");
	json_decref(t);
	/* The same blob twice in one observation; across observations is
	 * fine (a photo may be evidence of two observations). */
	t = base_tree(1, 2);
	set_at(t, O "/evidence/1", "blob",
	    json_deep_copy(json_object_get(at(t, E), "blob")));
	EXPECT(parse_tree(t), FW_ERR_FIELD_VALUE, "duplicate blob");
	json_decref(t);
	t = base_tree(2, 1);
	set_at(t, "observations/1/evidence/0", "blob",
	    json_deep_copy(json_object_get(at(t, E), "blob")));
	EXPECT(parse_tree(t), FW_OK, "same blob in two observations");
	json_decref(t);
	/* The same category twice. */
	t = base_tree(1, 1);
	set_at(t, O, "categories", jval("[\"a\",\"b\",\"a\"]"));
	EXPECT(parse_tree(t), FW_ERR_FIELD_VALUE, "duplicate category");
	json_decref(t);
}

static void
test_values(void **state)
{
	static const struct mut muts[] = {
		{"", "device", "\"0123456789ABCDEF0123456789abcdef\"",
		    FW_ERR_FIELD_VALUE},
		{"", "device", "\"0123456789abcdef0123456789abcdeg\"",
		    FW_ERR_FIELD_VALUE},
		{O, "id", "\"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"", FW_ERR_FIELD_VALUE},
		{E, "sha256", "\" " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaa\"", FW_ERR_FIELD_VALUE},
		{S, "kind", "\"Pharmacy\"", FW_ERR_FIELD_VALUE},
		{S, "kind", "\"shop\"", FW_ERR_FIELD_VALUE},
		{S, "kind", "\"insurance_agency\"", FW_OK},
		{O, "severity", "\"minor\"", FW_ERR_FIELD_VALUE},
		{O, "severity", "\"normal\"", FW_OK},
		{E, "kind", "\"picture\"", FW_ERR_FIELD_VALUE},
		{E, "kind", "\"document\"", FW_OK},
		{S, "institution", "\"a b\"", FW_ERR_FIELD_VALUE},
		{S, "institution", "\"a/b\"", FW_ERR_FIELD_VALUE},
		{O, "task", "\"t\\u00e9\"", FW_ERR_FIELD_VALUE},
		{O, "supplements", "\"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\"",
		    FW_ERR_FIELD_VALUE},
		{O, "supplements", "\"0123456789ABCDEF0123456789abcdef\"",
		    FW_ERR_FIELD_VALUE},
		{O, "supplements", "\"0123456789abcdef0123456789abcdef\"", FW_OK},
		{O "/categories", "0", "\"a,b\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"image/JPEG\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"imagejpeg\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"image/\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"/jpeg\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"a/b/c\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"image/jpeg; q=1\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"image/svg+xml\"", FW_OK},
		{E, "media_type", "\"application/vnd.a-b_c!#$&^\"", FW_OK},
	};

	(void)state;
	RUN_MUTS(muts, 1);
}

/* An observation cannot add evidence to itself. */
static void
test_supplements_self(void **state)
{
	json_t *t = base_tree(1, 1);
	json_t *id = json_object_get(json_object_get(t, "observations") ?
	    json_array_get(json_object_get(t, "observations"), 0) : NULL, "id");

	(void)state;
	assert_non_null(id);
	set_at(t, O, "supplements", json_string(json_string_value(id)));
	EXPECT(parse_tree(t), FW_ERR_FIELD_VALUE, "supplements itself");
	assert_non_null(strstr(fw_errmsg(), "'supplements'"));
	json_decref(t);
}

static void
test_geo(void **state)
{
	json_t *t;

	(void)state;
	t = base_tree(1, 1);
	set_at(t, P, "lon_e7", NULL);
	EXPECT(parse_tree(t), FW_ERR_FIELD_MISSING, "lat without lon");
	assert_non_null(strstr(fw_errmsg(), "'lon_e7'"));
	json_decref(t);
	t = base_tree(1, 1);
	set_at(t, P, "lat_e7", NULL);
	EXPECT(parse_tree(t), FW_ERR_FIELD_MISSING, "lon without lat");
	assert_non_null(strstr(fw_errmsg(), "'lat_e7'"));
	json_decref(t);
	t = base_tree(1, 1);
	set_at(t, P, "lat_e7", NULL);
	set_at(t, P, "lon_e7", NULL);
	EXPECT(parse_tree(t), FW_OK, "neither");
	json_decref(t);
}

static void
test_utf8_and_controls(void **state)
{
	static const struct mut muts[] = {
		{O, "what", "\"a\\u0001b\"", FW_ERR_FIELD_VALUE},
		{O, "what", "\"a\\rb\"", FW_ERR_FIELD_VALUE},
		{O, "what", "\"a\\u007fb\"", FW_ERR_FIELD_VALUE},
		{O, "what", "\"a\\u001fb\"", FW_ERR_FIELD_VALUE},
		{O, "what", "\"lines\\nand\\ttabs \\u0080 \\u2028 ok\"", FW_OK},
		{S, "name", "\"a\\u0007\"", FW_ERR_FIELD_VALUE},
		{S, "name", "\"a\\nb\"", FW_OK},
		{P, "text", "\"a\\bb\"", FW_ERR_FIELD_VALUE},
		/* Non-text strings allow no control character at all. */
		{S, "institution", "\"a\\nb\"", FW_ERR_FIELD_VALUE},
		{E, "media_type", "\"image/\\tjpeg\"", FW_ERR_FIELD_VALUE},
		{O, "captured", "\"2024-01-01T00:00:00Z\\n\"", FW_ERR_FIELD_VALUE},
	};

	(void)state;
	RUN_MUTS(muts, 1);
	EXPECT(parse_replaced(1, "Card swiped", "Card \xc0\xaf"), FW_ERR_UTF8,
	    "overlong");
	EXPECT(parse_replaced(1, "Card swiped", "Card \xed\xa0\x80"),
	    FW_ERR_UTF8, "surrogate");
	EXPECT(parse_replaced(1, "Card swiped", "Card \xff"), FW_ERR_UTF8,
	    "0xff");
	EXPECT(parse_replaced(1, "Card swiped", "Card \xf4\x90\x80\x80"),
	    FW_ERR_UTF8, "past U+10FFFF");
	EXPECT(parse_replaced(1, "\"what\":", "\"wh\xe2\x82\":"), FW_ERR_UTF8,
	    "in a key");
	EXPECT(parse_replaced(1, "Card swiped", "Card \\ud800"), FW_ERR_JSON,
	    "escaped lone surrogate");
	/* \u0000 is refused by the loader, as a control character. */
	EXPECT(parse_replaced(1, "Card swiped", "Card \\u0000"),
	    FW_ERR_FIELD_VALUE, "NUL in text");
	EXPECT(parse_replaced(1, "\"pharmacy\"", "\"pharmacy\\u0000\""),
	    FW_ERR_FIELD_VALUE, "NUL in a kind");
}

static void
test_bad_times(void **state)
{
	static const char *const bad[] = {
		"2024-02-30T00:00:00Z",		/* Feb 30 */
		"2023-02-29T00:00:00Z",		/* not a leap year */
		"1900-02-29T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2024-01-01T24:00:00Z",
		"2024-01-01T00:60:00Z",
		"2024-01-01T00:00:60Z",		/* no leap seconds */
		"2024-01-01T00:00:00z",		/* lowercase z */
		"2024-01-01t00:00:00Z",
		"2024-01-01T08:00:00+08:00",	/* offset */
		"2024-01-01T00:00:00",
		"2024-01-01 00:00:00Z",
		"2024-01-01T00:00:00.5Z",
		"1969-12-31T23:59:59Z",
		"2024-13-01T00:00:00Z",
		"2024-00-10T00:00:00Z",
		"2024-01-00T00:00:00Z",
		"2024-1-01T00:00:00Z",
		"+024-01-01T00:00:00Z",
		"2024-01-01T0:00:00ZZ",
		"",
		"10000-01-01T00:00:00Z",
	};
	static const char *const paths[][2] = {
		{"", "created"}, {O, "captured"}, {E, "captured"},
	};
	char label[128];
	json_t *t;
	size_t i, j;
	int64_t v;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		EXPECT(bundle_time_parse(bad[i], &v), FW_ERR_FIELD_VALUE, bad[i]);
		for (j = 0; j < 3; j++) {
			t = base_tree(1, 1);
			set_at(t, paths[j][0], paths[j][1], json_string(bad[i]));
			snprintf(label, sizeof label, "%s/%s = %s", paths[j][0],
			    paths[j][1], bad[i]);
			EXPECT(parse_tree(t), FW_ERR_FIELD_VALUE, label);
			json_decref(t);
		}
	}
	t = base_tree(1, 1);
	set_at(t, O, "captured", json_string("2024-02-29T23:59:59Z"));
	EXPECT(parse_tree(t), FW_OK, "leap day");
	json_decref(t);
}

static void
test_version(void **state)
{
	static const struct mut muts[] = {
		{"", "version", "2", FW_ERR_VERSION},
		{"", "version", "0", FW_ERR_VERSION},
		{"", "version", "-1", FW_ERR_VERSION},
		{"", "version", "9223372036854775807", FW_ERR_VERSION},
	};
	json_t *t;

	(void)state;
	RUN_MUTS(muts, 1);
	/* A later version is named as such even with fields we lack. */
	t = base_tree(1, 1);
	set_at(t, "", "version", json_integer(2));
	set_at(t, "", "signature_v2", json_string("x"));
	EXPECT(parse_tree(t), FW_ERR_VERSION, "version 2 with a new field");
	json_decref(t);
}

static void
test_not_a_manifest(void **state)
{
	uint8_t *big;
	size_t i;

	(void)state;
	EXPECT(parse_bytes("", 0), FW_ERR_EMPTY, "empty");
	EXPECT(parse_bytes("[]", 2), FW_ERR_JSON, "array");
	EXPECT(parse_bytes("[{\"version\":1}]", 15), FW_ERR_JSON, "array");
	EXPECT(parse_bytes("{}", 2), FW_ERR_FIELD_MISSING, "empty object");
	EXPECT(parse_bytes("FWB1", 4), FW_ERR_JSON, "not JSON");
	EXPECT(parse_bytes("{\"version\":1} {}", 16), FW_ERR_JSON, "trailing");
	EXPECT(parse_bytes("{\"version\":1", 12), FW_ERR_JSON, "cut");
	big = malloc(FW_MAX_MANIFEST + 1);
	assert_non_null(big);
	memset(big, ' ', FW_MAX_MANIFEST + 1);
	big[0] = '{';
	big[FW_MAX_MANIFEST] = '}';
	EXPECT(parse_bytes(big, FW_MAX_MANIFEST + 1), FW_ERR_LIMIT, "too big");
	free(big);
	/* Tiny values in bulk are refused before jansson builds them. */
	big = malloc(1u << 20);
	assert_non_null(big);
	memcpy(big, "{\"version\":1,\"x\":[", 18);
	for (i = 18; i + 3 < (1u << 20); i += 3)
		memcpy(big + i, "{},", 3);
	memcpy(big + i - 1, "]}", 2);
	EXPECT(parse_bytes(big, i + 1), FW_ERR_LIMIT, "many objects");
	for (i = 18; i + 2 < (1u << 20); i += 2)
		memcpy(big + i, "0,", 2);
	memcpy(big + i - 1, "]}", 2);
	EXPECT(parse_bytes(big, i + 1), FW_ERR_LIMIT, "many integers");
	free(big);
}

static void
test_messages(void **state)
{
	json_t *t;

	(void)state;
	t = base_tree(3, 2);
	set_at(t, "observations/2", "seq", json_integer(0));
	EXPECT(parse_tree(t), FW_ERR_FIELD_RANGE, "seq 0");
	assert_string_equal(fw_errmsg(),
	    "observation 2: field 'seq' is 0, expected 1..9007199254740991");
	json_decref(t);

	t = base_tree(2, 2);
	set_at(t, "observations/1/evidence/1", "media_type",
	    json_string("image/JPEG"));
	EXPECT(parse_tree(t), FW_ERR_FIELD_VALUE, "media type");
	assert_non_null(strstr(fw_errmsg(),
	    "observation 1: evidence 1: field 'media_type'"));
	json_decref(t);

	t = base_tree(1, 1);
	set_at(t, O, "captured", json_string("2024-02-30T00:00:00Z"));
	EXPECT(parse_tree(t), FW_ERR_FIELD_VALUE, "Feb 30");
	assert_string_equal(fw_errmsg(),
	    "observation 0: field 'captured': time: day 30 is not in 2024-02");
	json_decref(t);

	t = base_tree(1, 1);
	set_at(t, P, "z\xc3\xa9\x01", json_integer(1));
	EXPECT(parse_tree(t), FW_ERR_FIELD_UNKNOWN, "control in a key");
	assert_string_equal(fw_errmsg(),
	    "observation 0: place: unknown field 'z\xc3\xa9?'");
	json_decref(t);
	t = base_tree(1, 1);
	set_at(t, P, "z\xc3\xa9\n", json_integer(1));
	EXPECT(parse_tree(t), FW_ERR_FIELD_UNKNOWN, "odd key");
	assert_string_equal(fw_errmsg(),
	    "observation 0: place: unknown field 'z\xc3\xa9?'");
	json_decref(t);
}

/* ---- the encoder refuses what the parser would ------------------------ */

static void
test_encoder_refuses(void **state)
{
	char kid[ED25519_DEVICE_ID_LEN + 1], bid[SHA256_HEX + 1];
	struct fw_manifest *m;
	struct ed25519_key *k;
	struct buf b;
	char *old;

	(void)state;
	m = make_manifest(DEVICE, 3, 1, 1);
	buf_init(&b, FW_MAX_MANIFEST);
	EXPECT(bundle_obs_check(&m->obs[1]), FW_OK, "valid");

	m->obs[1].subject.kind = FW_SUBJ_COUNT_;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_VALUE, "kind");
	m->obs[1].subject.kind = FW_SUBJ_CLINIC;
	m->obs[1].seq = 0;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_RANGE, "seq 0");
	m->obs[1].seq = FW_MAX_SEQ + 1;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_RANGE, "seq 2^53");
	m->obs[1].seq = UINT64_MAX;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_RANGE, "seq 2^64-1");
	m->obs[1].seq = 2;
	m->obs[1].captured = -1;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_VALUE, "time -1");
	m->obs[1].captured = INT64_C(253402300800);
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_VALUE, "year 10000");
	m->obs[1].captured = 1700000000;
	old = m->obs[1].what;
	m->obs[1].what = NULL;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_MISSING, "no what");
	m->obs[1].what = "bad \xc0\xaf";
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_UTF8, "bad UTF-8");
	m->obs[1].what = "bell \a";
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_VALUE, "control");
	m->obs[1].what = old;
	m->obs[1].ncategories = 0;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_LENGTH, "no category");
	m->obs[1].ncategories = 2;
	m->obs[1].evidence[0].size = FW_MAX_BLOB + 1;
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_RANGE, "blob size");
	m->obs[1].evidence[0].size = 1;
	memset(m->obs[1].id, 'a', sizeof m->obs[1].id);
	EXPECT(bundle_obs_check(&m->obs[1]), FW_ERR_FIELD_LENGTH, "no NUL");
	m->obs[1].id[FW_ID_HEX] = '\0';
	EXPECT(bundle_obs_check(&m->obs[1]), FW_OK, "valid again");

	/* A changed observation no longer chains: encode refuses. */
	EXPECT(bundle_manifest_encode(m, &b), FW_ERR_CHAIN, "broken chain");
	assert_int_equal(b.len, 0);
	rechain(m, 1);
	EXPECT(bundle_manifest_encode(m, &b), FW_OK, "rechained");
	buf_reset(&b);
	m->version = 2;
	EXPECT(bundle_manifest_encode(m, &b), FW_ERR_VERSION, "version 2");
	m->version = 1;
	m->obs[2].seq = 9;
	EXPECT(bundle_manifest_encode(m, &b), FW_ERR_SEQUENCE, "sequence");
	m->obs[2].seq = 3;

	/* Seal with the key of another device. */
	k = new_key(kid);
	EXPECT(bundle_seal(m, k, &b, bid), FW_ERR_KEY, "other device");
	assert_int_equal(b.len, 0);
	ed25519_free(k);
	buf_free(&b);
	bundle_manifest_free(m);
}

/* ---- bad containers --------------------------------------------------- */

static void
test_signature_other_key(void **state)
{
	char ida[ED25519_DEVICE_ID_LEN + 1], idb[ED25519_DEVICE_ID_LEN + 1];
	struct ed25519_key *a = new_key(ida), *kb = new_key(idb);
	struct fw_manifest *m = make_manifest(ida, 2, 1, 1);
	struct fw_bundle *b;
	struct buf man, c;

	(void)state;
	/* Device A's manifest signed by B's key. */
	encode(m, &man);
	container(man.data, man.len, kb, &c);
	EXPECT(bundle_open(c.data, c.len, &b), FW_OK, "open");
	EXPECT(bundle_verify(b, a), FW_ERR_SIGNATURE, "forged");
	assert_non_null(strstr(fw_errmsg(), "does not verify"));
	EXPECT(bundle_verify(b, kb), FW_ERR_SIGNATURE, "B for A's manifest");
	assert_non_null(strstr(fw_errmsg(), "device mismatch"));
	bundle_free(b);
	buf_free(&c);
	/* No signature at all. */
	container(man.data, man.len, NULL, &c);
	EXPECT(bundle_open(c.data, c.len, &b), FW_OK, "open unsigned");
	EXPECT(bundle_verify(b, a), FW_ERR_SIGNATURE, "zero signature");
	bundle_free(b);
	buf_free(&c);
	buf_free(&man);
	bundle_manifest_free(m);
	ed25519_free(a);
	ed25519_free(kb);
}

static void
test_device_mismatch(void **state)
{
	char bid[SHA256_HEX + 1];
	struct buf c;
	struct ed25519_key *k = sealed(2, 1, &c, bid), *other = new_key(NULL);
	struct fw_bundle *b;

	(void)state;
	EXPECT(bundle_open(c.data, c.len, &b), FW_OK, "open");
	EXPECT(bundle_verify(b, other), FW_ERR_SIGNATURE, "other device");
	assert_non_null(strstr(fw_errmsg(), "device mismatch"));
	EXPECT(bundle_verify(b, k), FW_OK, "own device");
	bundle_free(b);
	buf_free(&c);
	ed25519_free(k);
	ed25519_free(other);
}

static void
test_bit_flips(void **state)
{
	char bid[SHA256_HEX + 1];
	struct buf c;
	struct ed25519_key *k = sealed(3, 2, &c, bid);
	struct fw_bundle *b;
	struct buf man;
	size_t i, opened = 0, failed = 0, same = 0;
	unsigned bit;
	fw_err e;

	(void)state;
	EXPECT(bundle_open(c.data, c.len, &b), FW_OK, "pristine");
	buf_init(&man, FW_MAX_MANIFEST);
	assert_int_equal(buf_add(&man, b->manifest.data, b->manifest.len),
	    FW_OK);
	bundle_free(b);
	for (i = 0; i < c.len; i++) {
		for (bit = 0; bit < 8; bit++) {
			c.data[i] ^= (uint8_t)(1u << bit);
			e = bundle_open(c.data, c.len, &b);
			if (i < 4)
				EXPECT(e, FW_ERR_BAD_MAGIC, "magic");
			else if (i < HEAD) {
				/* The signature is only looked at by verify. */
				EXPECT(e, FW_OK, "signature region");
				EXPECT(bundle_verify(b, k), FW_ERR_SIGNATURE, "sig");
			} else if (e == FW_OK) {
				/* Deflate has bits that change nothing: the padding
				 * after the last block, and the distance of a match
				 * inside a run ("0000": 1 back or 2 back give the
				 * same bytes).  The manifest, which is what is signed
				 * and named, is then unchanged.  Any flip that
				 * inflates to other bytes must fail the signature. */
				if (b->manifest.len == man.len && memcmp(
				    b->manifest.data, man.data, man.len) == 0) {
					EXPECT(bundle_verify(b, k), FW_OK, "same bytes");
					assert_string_equal(b->id, bid);
					same++;
				} else
					EXPECT(bundle_verify(b, k), FW_ERR_SIGNATURE,
					    "body");
				opened++;
			} else {
				if (e == FW_ERR_INTERNAL || e == FW_ERR_NOMEM)
					fail_msg("byte %zu bit %u: %s", i, bit,
					    fw_errmsg());
				failed++;
			}
			bundle_free(b);
			c.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(opened + failed, (c.len - HEAD) * 8);
	/* Nearly every flip is refused outright. */
	assert_true(same <= opened && opened * 10 < failed);
	/* Unflipped, it still opens. */
	EXPECT(open_bytes(c.data, c.len), FW_OK, "pristine");
	buf_free(&man);
	buf_free(&c);
	ed25519_free(k);
}

static void
test_truncations(void **state)
{
	char bid[SHA256_HEX + 1], label[64];
	struct buf c;
	struct ed25519_key *k = sealed(3, 2, &c, bid);
	uint8_t *copy;
	size_t n;

	(void)state;
	for (n = 0; n < c.len; n++) {
		/* A fresh copy of exactly n bytes, so that ASan sees any read
		 * past the end. */
		copy = malloc(n > 0 ? n : 1);
		assert_non_null(copy);
		memcpy(copy, c.data, n);
		snprintf(label, sizeof label, "%zu of %zu bytes", n, c.len);
		EXPECT(open_bytes(copy, n), n == 0 ? FW_ERR_EMPTY :
		    FW_ERR_TRUNCATED, label);
		free(copy);
	}
	EXPECT(open_bytes(c.data, c.len), FW_OK, "whole");
	buf_free(&c);
	ed25519_free(k);
}

static void
test_bomb(void **state)
{
	static const size_t sizes[] = {1u << 20, 64u << 20};
	struct buf c;
	uint8_t *zeros;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		zeros = calloc(1, sizes[i]);
		assert_non_null(zeros);
		container(zeros, sizes[i], NULL, &c);
		assert_true(c.len < FW_MAX_BUNDLE);
		EXPECT(open_bytes(c.data, c.len), FW_ERR_INFLATE_LIMIT, "bomb");
		buf_free(&c);
		free(zeros);
	}
}

static void
test_container_misc(void **state)
{
	char bid[SHA256_HEX + 1];
	struct buf c, d;
	struct ed25519_key *k = sealed(1, 1, &c, bid);
	uint8_t *big;

	(void)state;
	EXPECT(open_bytes("", 0), FW_ERR_EMPTY, "empty");
	EXPECT(open_bytes("hello", 5), FW_ERR_TRUNCATED, "short");
	/* Header only. */
	EXPECT(open_bytes(c.data, HEAD), FW_ERR_TRUNCATED, "header only");
	/* Another magic. */
	c.data[3] = '2';
	EXPECT(open_bytes(c.data, c.len), FW_ERR_BAD_MAGIC, "FWB2");
	c.data[3] = '1';
	/* Bytes after the zlib stream. */
	assert_int_equal(buf_add(&c, "x", 1), FW_OK);
	EXPECT(open_bytes(c.data, c.len), FW_ERR_INFLATE, "trailing byte");
	c.len--;
	/* A body that is not zlib at all. */
	buf_init(&d, 1024);
	assert_int_equal(buf_add(&d, c.data, HEAD), FW_OK);
	assert_int_equal(buf_addstr(&d, "{\"version\":1}"), FW_OK);
	EXPECT(open_bytes(d.data, d.len), FW_ERR_INFLATE, "raw JSON body");
	buf_free(&d);
	/* Well-formed containers of bad manifests. */
	container("", 0, k, &d);
	EXPECT(open_bytes(d.data, d.len), FW_ERR_EMPTY, "empty manifest");
	buf_free(&d);
	container("not json", 8, k, &d);
	EXPECT(open_bytes(d.data, d.len), FW_ERR_JSON, "not JSON");
	buf_free(&d);
	container("{\"version\":2}", 13, k, &d);
	EXPECT(open_bytes(d.data, d.len), FW_ERR_VERSION, "version 2");
	buf_free(&d);
	/* Over the size limit. */
	big = calloc(1, FW_MAX_BUNDLE + 1);
	assert_non_null(big);
	memcpy(big, c.data, c.len);
	EXPECT(open_bytes(big, FW_MAX_BUNDLE + 1), FW_ERR_LIMIT, "too big");
	free(big);
	buf_free(&c);
	ed25519_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_obs_canonical_literal),
		cmocka_unit_test(test_manifest_roundtrip),
		cmocka_unit_test(test_seal_open_verify),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_max_manifest),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_mistyped_fields),
		cmocka_unit_test(test_unknown_fields),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_sequence_and_chain),
		cmocka_unit_test(test_duplicate_values),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_supplements_self),
		cmocka_unit_test(test_geo),
		cmocka_unit_test(test_utf8_and_controls),
		cmocka_unit_test(test_bad_times),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_not_a_manifest),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_encoder_refuses),
		cmocka_unit_test(test_signature_other_key),
		cmocka_unit_test(test_device_mismatch),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_container_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

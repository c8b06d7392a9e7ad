/*
 * test_cctv_age.c: the C2SP CCTV age conformance vectors, run through our
 * decryptor (common/age.c).
 *
 * The vectors live beside the project, in ../shared/vectors/cctv-age
 * (README.md there describes the format), or wherever FW_CCTV_DIR points.
 * Each in-scope vector (X25519, binary) is one cmocka case: its outcome
 * class and the SHA-256 of all plaintext released must match the vector,
 * fed whole and again in odd-sized pieces.  Out-of-scope vectors (armor,
 * scrypt, post-quantum hybrid) are counted as skipped, but are still fed to
 * the decryptor, which must refuse them cleanly.  The last line on stdout
 * is "summary: cctv-age: N passed, N failed, N skipped".
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fw.h"

#define CCTV_DEFAULT	"../shared/vectors/cctv-age"
#define CCTV_MAX_FILES	1024
#define CCTV_FILE_CAP	(16u << 20)
#define CCTV_INFLATE_CAP (64u << 20)
#define CCTV_MAX_IDS	8
#define CCTV_NAME_MAX	128

enum vec_kind { VEC_IN, VEC_OUT, VEC_UNKNOWN };

struct vector {
	char name[CCTV_NAME_MAX];
	char path[4096];
	enum vec_kind kind;
	const char *why;	/* why out of scope */
};

static char cctv_dir[4096];
static int n_passed, n_failed, n_skipped;

/* What one vector says, from its header lines. */
struct vec_header {
	char expect[32];
	char payload[SHA256_HEX + 1];
	int has_payload;
	uint8_t ids[CCTV_MAX_IDS][AGE_KEY_LEN];
	size_t nids;
	int other_ids;		/* identities of types we do not implement */
	int passphrase, armored, compressed, unknown;
	char unknown_key[64];
	const uint8_t *body;	/* the age file itself, inside the file data */
	size_t body_len;
};

/* Copy src into dst, cut to fit. */
static void
copy_str(char *dst, size_t dstsz, const char *src)
{
	size_t n = strnlen(src, dstsz - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
hdr_value(struct vec_header *h, const char *key, const char *val)
{
	if (strcmp(key, "expect") == 0)
		copy_str(h->expect, sizeof h->expect, val);
	else if (strcmp(key, "payload") == 0) {
		copy_str(h->payload, sizeof h->payload, val);
		h->has_payload = 1;
	} else if (strcmp(key, "identity") == 0) {
		if (strncmp(val, "AGE-SECRET-KEY-1", 16) == 0 &&
		    h->nids < CCTV_MAX_IDS &&
		    age_identity_parse(val, h->ids[h->nids]) == FW_OK)
			h->nids++;
		else
			h->other_ids = 1;
	} else if (strcmp(key, "passphrase") == 0)
		h->passphrase = 1;
	else if (strcmp(key, "armored") == 0)
		h->armored = strcmp(val, "yes") == 0;
	else if (strcmp(key, "compressed") == 0)
		h->compressed = 1;
	else if (strcmp(key, "file key") != 0 && strcmp(key, "comment") != 0 &&
	    !h->unknown) {
		h->unknown = 1;
		copy_str(h->unknown_key, sizeof h->unknown_key, key);
	}
}

/* Parse "key: value" lines up to the empty line; 0 if malformed. */
static int
hdr_parse(const uint8_t *data, size_t len, struct vec_header *h)
{
	size_t off = 0;

	memset(h, 0, sizeof *h);
	while (off < len) {
		const uint8_t *lf = memchr(data + off, '\n', len - off);
		char line[1024], *sep;
		size_t n;

		if (lf == NULL)
			return 0;
		n = (size_t)(lf - (data + off));
		if (n == 0) {
			h->body = lf + 1;
			h->body_len = len - off - 1;
			return 1;
		}
		if (n >= sizeof line)
			return 0;
		memcpy(line, data + off, n);
		line[n] = '\0';
		off += n + 1;
		if ((sep = strstr(line, ": ")) == NULL)
			return 0;
		*sep = '\0';
		hdr_value(h, line, sep + 2);
	}
	return 0;
}

static fw_err
expect_class(const char *expect)
{
	static const struct {
		const char *name;
		fw_err e;
	} map[] = {
		{"success", FW_OK},
		{"no match", FW_ERR_AGE_NO_MATCH},
		{"HMAC failure", FW_ERR_AGE_HMAC},
		{"header failure", FW_ERR_AGE_HEADER},
		{"payload failure", FW_ERR_AGE_PAYLOAD},
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(expect, map[i].name) == 0)
			return map[i].e;
	return FW_ERR_COUNT_;
}

static fw_err
sink_sha(void *ctx, const uint8_t *p, size_t n)
{
	return sha256_update(ctx, p, n);
}

/*
 * Decrypt in with ids, in pieces of the sizes in `pieces` (cycled; NULL
 * feeds everything at once).  *hex gets the SHA-256 of what was released.
 */
static fw_err
run_decrypt(const uint8_t *in, size_t len, const uint8_t (*ids)[AGE_KEY_LEN],
    size_t nids, const size_t *pieces, size_t npieces, char hex[SHA256_HEX + 1],
    char *msg, size_t msgsz)
{
	struct sha256 *s;
	struct age_dec *d;
	uint8_t dig[SHA256_LEN];
	size_t off = 0, k = 0;
	fw_err e;

	assert_int_equal(sha256_new(&s), FW_OK);
	e = age_dec_new(&d, ids, nids, sink_sha, s);
	assert_int_equal(e, FW_OK);
	while (e == FW_OK && off < len) {
		size_t n = pieces == NULL ? len : pieces[k++ % npieces];
		if (n > len - off)
			n = len - off;
		e = age_dec_update(d, in + off, n);
		off += n;
	}
	if (e == FW_OK)
		e = age_dec_final(d);
	snprintf(msg, msgsz, "%s", fw_errmsg());
	age_dec_free(d);
	assert_int_equal(sha256_final(s, dig), FW_OK);
	sha256_free(s);
	hex_encode(dig, sizeof dig, hex);
	return e;
}

static const size_t odd_pieces[] = {1, 7, 3, 64, 13, 65537, 2, 4099, 65535, 31};

/* Load, parse and (if compressed) inflate one vector. */
static int
load_vector(const struct vector *v, uint8_t **data, struct buf *inflated,
    struct vec_header *h)
{
	size_t len;

	buf_init(inflated, CCTV_INFLATE_CAP);
	if (file_read_all(v->path, CCTV_FILE_CAP, data, &len) != FW_OK) {
		printf("FAIL cctv-age/%s: cannot read: %s\n", v->name, fw_errmsg());
		return 0;
	}
	if (!hdr_parse(*data, len, h)) {
		printf("FAIL cctv-age/%s: malformed vector header\n", v->name);
		return 0;
	}
	if (h->compressed && !h->unknown) {
		if (compress_inflate(h->body, h->body_len, CCTV_INFLATE_CAP, 0,
		    inflated) != FW_OK) {
			printf("FAIL cctv-age/%s: cannot inflate: %s\n", v->name,
			    fw_errmsg());
			return 0;
		}
		h->body = inflated->data;
		h->body_len = inflated->len;
	}
	return 1;
}

/* Out-of-scope vectors: refused as unsupported, no match or bad header. */
static int
check_refused(const struct vector *v, struct vec_header *h)
{
	uint8_t fresh[1][AGE_KEY_LEN];
	char hex[SHA256_HEX + 1], msg[FW_ERRMSG_MAX];
	const uint8_t (*ids)[AGE_KEY_LEN] = (const uint8_t (*)[AGE_KEY_LEN])h->ids;
	size_t nids = h->nids;
	fw_err e;

	if (nids == 0) {
		assert_int_equal(age_keygen(fresh[0]), FW_OK);
		ids = (const uint8_t (*)[AGE_KEY_LEN])fresh;
		nids = 1;
	}
	e = run_decrypt(h->body, h->body_len, ids, nids, odd_pieces,
	    sizeof odd_pieces / sizeof odd_pieces[0], hex, msg, sizeof msg);
	if (e == FW_ERR_AGE_UNSUPPORTED || e == FW_ERR_AGE_NO_MATCH ||
	    e == FW_ERR_AGE_HEADER) {
		printf("skip cctv-age/%s: out of scope (%s), refused as %s\n",
		    v->name, v->why, fw_strerror(e));
		return 1;
	}
	printf("FAIL cctv-age/%s (out of scope): expected a refusal "
	    "(age_unsupported, age_no_match or age_header), got %s (%s)\n",
	    v->name, fw_strerror(e), msg);
	return 0;
}

static int
out_of_scope(const struct vector *v, const struct vec_header *h,
    const char **why)
{
	if (strncmp(v->name, "armor", 5) == 0 || h->armored)
		*why = "ASCII armor";
	else if (strncmp(v->name, "scrypt", 6) == 0 || h->passphrase)
		*why = "scrypt passphrase";
	else if (strncmp(v->name, "hybrid", 6) == 0 || h->other_ids)
		*why = "post-quantum hybrid";
	else
		return 0;
	return 1;
}

/* One in-scope vector, whole and in pieces. */
static int
check_vector(const struct vector *v, struct vec_header *h)
{
	char hex[SHA256_HEX + 1], msg[FW_ERRMSG_MAX];
	const uint8_t (*ids)[AGE_KEY_LEN] = (const uint8_t (*)[AGE_KEY_LEN])h->ids;
	fw_err want = expect_class(h->expect), got;

	if (want == FW_ERR_COUNT_) {
		printf("FAIL cctv-age/%s: unknown expect '%s'\n", v->name, h->expect);
		return 0;
	}
	if (h->nids == 0) {	/* e.g. "empty": any identity will do */
		assert_int_equal(age_keygen(h->ids[0]), FW_OK);
		h->nids = 1;
	}
	for (int split = 0; split < 2; split++) {
		got = run_decrypt(h->body, h->body_len, ids, h->nids,
		    split ? odd_pieces : NULL,
		    sizeof odd_pieces / sizeof odd_pieces[0], hex, msg, sizeof msg);
		if (got != want) {
			printf("FAIL cctv-age/%s (%s): expected %s, got %s: %s\n",
			    v->name, split ? "odd pieces" : "whole",
			    fw_strerror(want), fw_strerror(got),
			    got == FW_OK ? "success" : msg);
			return 0;
		}
		if (h->has_payload && strcmp(hex, h->payload) != 0) {
			printf("FAIL cctv-age/%s (%s): %s as expected, but released "
			    "plaintext SHA-256 %s, expected %s (%s)\n", v->name,
			    split ? "odd pieces" : "whole", fw_strerror(got), hex,
			    h->payload, got == FW_OK ? "success" : msg);
			return 0;
		}
	}
	return 1;
}

/* state: an in-scope vector.  Counts before asserting: a failed assert
 * jumps out. */
static void
test_vector(void **state)
{
	const struct vector *v = *state;
	struct vec_header h;
	struct buf inflated;
	uint8_t *data = NULL;
	int ok;

	ok = load_vector(v, &data, &inflated, &h) && check_vector(v, &h);
	if (ok)
		n_passed++;
	else
		n_failed++;
	fflush(stdout);
	free(data);
	buf_free(&inflated);
	assert_true(ok);
}

/* state: the list of out-of-scope vectors, NULL-name terminated. */
static void
test_out_of_scope_refused(void **state)
{
	const struct vector *const *vs = *state;
	int bad = 0;

	for (size_t i = 0; vs[i] != NULL; i++) {
		struct vec_header h;
		struct buf inflated;
		uint8_t *data = NULL;
		int ok;

		ok = load_vector(vs[i], &data, &inflated, &h) &&
		    check_refused(vs[i], &h);
		if (ok)
			n_skipped++;
		else {
			n_failed++;
			bad++;
		}
		free(data);
		buf_free(&inflated);
	}
	fflush(stdout);
	assert_int_equal(bad, 0);
}

/* Sort a vector by its header: in scope, out of scope, or unknown key. */
static void
classify(struct vector *v)
{
	struct vec_header h;
	uint8_t *data = NULL;
	size_t len;

	v->kind = VEC_IN;
	if (file_read_all(v->path, CCTV_FILE_CAP, &data, &len) != FW_OK ||
	    !hdr_parse(data, len, &h))
		v->kind = VEC_IN;	/* test_vector reports the failure */
	else if (h.unknown) {
		v->kind = VEC_UNKNOWN;
		printf("skip cctv-age/%s: unknown key '%s'\n", v->name,
		    h.unknown_key);
	} else if (out_of_scope(v, &h, &v->why))
		v->kind = VEC_OUT;
	free(data);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vector *)a)->name,
	    ((const struct vector *)b)->name);
}

/* The vectors' folder: FW_CCTV_DIR (the cctv-age folder or its testdata),
 * else ../shared/vectors/cctv-age/testdata.  0 if absent. */
static int
find_dir(void)
{
	const char *env = getenv("FW_CCTV_DIR");
	const char *base = env != NULL && *env != '\0' ? env : CCTV_DEFAULT;
	struct stat st;

	snprintf(cctv_dir, sizeof cctv_dir, "%s/testdata", base);
	if (stat(cctv_dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 1;
	snprintf(cctv_dir, sizeof cctv_dir, "%s", base);
	return env != NULL && *env != '\0' && stat(cctv_dir, &st) == 0 &&
	    S_ISDIR(st.st_mode);
}

static size_t
list_vectors(struct vector *vs, size_t max)
{
	DIR *dir;
	struct dirent *de;
	size_t n = 0;

	if ((dir = opendir(cctv_dir)) == NULL)
		return 0;
	while (n < max && (de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= CCTV_NAME_MAX)
			continue;
		copy_str(vs[n].name, sizeof vs[n].name, de->d_name);
		if (snprintf(vs[n].path, sizeof vs[n].path, "%s/%s", cctv_dir,
		    de->d_name) < (int)sizeof vs[n].path)
			n++;
	}
	closedir(dir);
	qsort(vs, n, sizeof vs[0], name_cmp);
	return n;
}

int
main(void)
{
	static struct vector vs[CCTV_MAX_FILES];
	static const struct vector *out[CCTV_MAX_FILES + 1];
	static struct CMUnitTest tests[CCTV_MAX_FILES + 1];
	size_t n, nt = 0, nout = 0;
	int rc;

	if (!find_dir()) {
		printf("cctv-age: skipped: %s not found (a clone outside the "
		    "workplace)\n", CCTV_DEFAULT);
		return 0;
	}
	n = list_vectors(vs, CCTV_MAX_FILES);
	for (size_t i = 0; i < n; i++) {
		classify(&vs[i]);
		if (vs[i].kind == VEC_UNKNOWN)
			n_skipped++;
		else if (vs[i].kind == VEC_OUT)
			out[nout++] = &vs[i];
		else
			tests[nt++] = (struct CMUnitTest){ .name = vs[i].name,
			    .test_func = test_vector, .initial_state = &vs[i] };
	}
	out[nout] = NULL;
	if (nout > 0)
		tests[nt++] = (struct CMUnitTest){
		    .name = "out-of-scope vectors are refused cleanly",
		    .test_func = test_out_of_scope_refused, .initial_state = out };
	rc = _cmocka_run_group_tests("cctv-age", tests, nt, NULL, NULL);
	if (n == 0) {
		printf("cctv-age: no vectors in %s\n", cctv_dir);
		rc = 1;
	}
	printf("summary: cctv-age: %d passed, %d failed, %d skipped\n",
	    n_passed, n_failed, n_skipped);
	fflush(stdout);
	return rc;
}

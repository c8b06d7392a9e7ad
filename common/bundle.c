/*
 * bundle.c: the bundle codec (proto/PROTOCOL.md, "Manifest" and "Bundle").
 *
 * The agent seals its observations into a bundle; the server opens, verifies
 * and parses it.  Both directions go through one jansson tree and one set of
 * field checks: encoding builds the tree from the structs, runs the parser's
 * checks over it, and only then writes the canonical bytes, so the encoder
 * can never emit a manifest the parser refuses.  An observation's hash (the
 * next one's "prev") is the SHA-256 of its canonical bytes as built from
 * the struct, whichever side computes it.
 *
 * Messages name the place: "observation 3: evidence 0: field 'size' ...",
 * with observations and evidence counted from 0 as in the JSON arrays.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw.h"

#define BUNDLE_MAGIC		"FWB1"
#define BUNDLE_MAGIC_LEN	4
#define BUNDLE_HEAD		(BUNDLE_MAGIC_LEN + ED25519_SIG_LEN)

/* 9999-12-31T23:59:59Z, the last time the 4-digit year can carry. */
#define BUNDLE_TIME_MAX		INT64_C(253402300799)
#define BUNDLE_TIME_LEN		20
#define WHERE_MAX		64

/*
 * What the largest valid manifest makes jansson build, with room to spare:
 * per observation 1 object, 11 keys, 11 values, place and subject (7 keys,
 * 7 values), the categories and 32 evidence objects of 7 keys and 7 values
 * each (533 in all); 11 at the top.  Unknown and repeated keys are refused,
 * so nothing valid comes near these bounds.
 */
#define OBS_ITEMS	(48 + FW_MAX_CATEGORIES + 16 * FW_MAX_EVIDENCE)
#define MANIFEST_ITEMS	(16 + FW_MAX_OBSERVATIONS * OBS_ITEMS)
#define MANIFEST_CONTAINERS \
	(4 + FW_MAX_OBSERVATIONS * (5 + FW_MAX_EVIDENCE))

static const char *const subject_names[FW_SUBJ_COUNT_] = {
	"pharmacy", "hospital", "clinic", "insurance_agency", "insured_person",
	"other",
};
static const char *const evidence_names[FW_EV_COUNT_] = {
	"photo", "audio", "video", "document",
};
static const char *const severity_names[FW_SEV_COUNT_] = {
	"normal", "major",
};

static const char *const manifest_keys[] = {
	"version", "device", "bundle_seq", "created", "clock_offset",
	"observations", NULL,
};
static const char *const obs_keys[] = {
	"id", "seq", "prev", "captured", "boot_id", "uptime_ms", "place",
	"subject", "categories", "what", "severity", "task", "supplements",
	"evidence", NULL,
};
static const char *const place_keys[] = {
	"text", "lat_e7", "lon_e7", "accuracy_m", NULL,
};
static const char *const subject_keys[] = {
	"kind", "name", "institution", NULL,
};
static const char *const evidence_keys[] = {
	"kind", "media_type", "size", "sha256", "blob", "blob_size", "captured",
	NULL,
};

/* ---- names ------------------------------------------------------------ */

static int
name_find(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *
bundle_subject_kind_name(enum fw_subject_kind k)
{
	return (unsigned)k < FW_SUBJ_COUNT_ ? subject_names[k] : NULL;
}

const char *
bundle_evidence_kind_name(enum fw_evidence_kind k)
{
	return (unsigned)k < FW_EV_COUNT_ ? evidence_names[k] : NULL;
}

const char *
bundle_severity_name(enum fw_severity s)
{
	return (unsigned)s < FW_SEV_COUNT_ ? severity_names[s] : NULL;
}

int
bundle_subject_kind_parse(const char *s)
{
	return name_find(subject_names, FW_SUBJ_COUNT_, s);
}

int
bundle_evidence_kind_parse(const char *s)
{
	return name_find(evidence_names, FW_EV_COUNT_, s);
}

int
bundle_severity_parse(const char *s)
{
	return name_find(severity_names, FW_SEV_COUNT_, s);
}

/* ---- times ------------------------------------------------------------ */

static int
is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned
days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/*
 * Days since 1970-01-01 of a valid date with y >= 1970 (H. Hinnant's
 * days_from_civil): exact integer arithmetic, no timegm and no time zone.
 */
static int64_t
days_from_civil(unsigned y, unsigned m, unsigned d)
{
	unsigned era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

/* The inverse for z >= 0. */
static void
civil_from_days(int64_t z, unsigned *y, unsigned *m, unsigned *d)
{
	unsigned era, doe, yoe, doy, mp;

	z += 719468;
	era = (unsigned)(z / 146097);
	doe = (unsigned)(z - (int64_t)era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at s; 0 if one is not a digit. */
static int
digits(const char *s, int n, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 1;
}

fw_err
bundle_time_parse(const char *s, int64_t *out)
{
	unsigned y, mo, d, h, mi, se;

	if (s == NULL || strnlen(s, BUNDLE_TIME_LEN + 1) != BUNDLE_TIME_LEN ||
	    s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z' ||
	    !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "time is not of the form YYYY-MM-DDTHH:MM:SSZ");
	if (y < 1970)
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "time: year %u is before 1970", y);
	if (mo < 1 || mo > 12)
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "time: month %02u is not 01..12", mo);
	if (d < 1 || d > days_in_month(y, mo))
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "time: day %02u is not in %04u-%02u", d, y, mo);
	if (h > 23 || mi > 59 || se > 59)
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "time: %02u:%02u:%02u is not within 00:00:00..23:59:59",
		    h, mi, se);
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return FW_OK;
}

static void
put_num(char *p, unsigned v, int width)
{
	while (width-- > 0) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Times outside 1970..9999 are clamped: the encoder refuses them before
 * they get here, so a clamp only ever shows in a log line. */
void
bundle_time_format(int64_t t, char out[21])
{
	unsigned y, m, d, secs;

	if (t < 0)
		t = 0;
	if (t > BUNDLE_TIME_MAX)
		t = BUNDLE_TIME_MAX;
	civil_from_days(t / 86400, &y, &m, &d);
	secs = (unsigned)(t % 86400);
	memcpy(out, "0000-00-00T00:00:00Z", 21);
	put_num(out, y, 4);
	put_num(out + 5, m, 2);
	put_num(out + 8, d, 2);
	put_num(out + 11, secs / 3600, 2);
	put_num(out + 14, secs / 60 % 60, 2);
	put_num(out + 17, secs % 60, 2);
}

/* ---- field checks shared by parser and encoder ------------------------ */

static int
code_ok(const char *s)
{
	size_t i;
	char c;

	/* s is at most FW_MAX_CODE bytes, checked by the caller. */
	for (i = 0; s[i] != '\0'; i++) {
		c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* "type/subtype", both non-empty, of RFC 6838's restricted-name
 * characters in lower case. */
static int
media_type_ok(const char *s)
{
	size_t i, slash = 0, nslash = 0;
	char c;

	for (i = 0; s[i] != '\0'; i++) {
		c = s[i];
		if (c == '/') {
			nslash++;
			slash = i;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("!#$&^_.+-", c) != NULL))
			return 0;
	}
	return nslash == 1 && slash > 0 && s[slash + 1] != '\0';
}

static int
is_zero_hash(const char *s)
{
	size_t i;

	for (i = 0; i < SHA256_HEX; i++)
		if (s[i] != '0')
			return 0;
	return s[i] == '\0';
}

static fw_err
dupstr(const char *s, char **out, const char *w, const char *key)
{
	if ((*out = strdup(s)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "%s: no memory for field '%s'", w,
		    key);
	return FW_OK;
}

/* ---- parse: JSON tree to structs -------------------------------------- */

static fw_err
get_hex(const json_t *o, const char *key, size_t len, char *out,
    const char *w)
{
	const char *s;
	fw_err e;

	if ((e = jsonx_get_str(o, key, 0, 0, len, len, &s, w)) != FW_OK)
		return e;
	if (!hex_is_lower(s, len))
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "%s: field '%s' is not %zu lowercase hex digits", w, key, len);
	memcpy(out, s, len + 1);
	return FW_OK;
}

static fw_err
get_time(const json_t *o, const char *key, int64_t *t, const char *w)
{
	const char *s;
	fw_err e;

	if ((e = jsonx_get_str(o, key, 0, 0, 0, SIZE_MAX, &s, w)) != FW_OK)
		return e;
	if ((e = bundle_time_parse(s, t)) != FW_OK)
		return fw_errctx(e, "%s: field '%s'", w, key);
	return FW_OK;
}

static fw_err
check_code(const char *s, const char *name, const char *w)
{
	if (s != NULL && !code_ok(s))
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "%s: field '%s' has a character outside [A-Za-z0-9._-]", w,
		    name);
	return FW_OK;
}

/* Optional or required code, copied; *out stays NULL when absent. */
static fw_err
get_code(const json_t *o, const char *key, int opt, char **out,
    const char *w)
{
	const char *s;
	fw_err e;

	if ((e = jsonx_get_str(o, key, opt, 0, 1, FW_MAX_CODE, &s, w)) != FW_OK ||
	    (e = check_code(s, key, w)) != FW_OK || s == NULL)
		return e;
	return dupstr(s, out, w, key);
}

static fw_err
get_text(const json_t *o, const char *key, size_t maxlen, char **out,
    const char *w)
{
	const char *s;
	fw_err e;

	if ((e = jsonx_get_str(o, key, 0, 1, 1, maxlen, &s, w)) != FW_OK)
		return e;
	return dupstr(s, out, w, key);
}

static fw_err
get_enum(const json_t *o, const char *key, const char *const *names, int n,
    int *out, const char *w)
{
	char list[160];
	const char *s;
	size_t used = 0;
	fw_err e;
	int i;

	if ((e = jsonx_get_str(o, key, 0, 0, 0, SIZE_MAX, &s, w)) != FW_OK)
		return e;
	if ((*out = name_find(names, n, s)) >= 0)
		return FW_OK;
	list[0] = '\0';
	for (i = 0; i < n && used < sizeof list; i++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
		    i ? "|" : "", names[i]);
	return fw_seterr(FW_ERR_FIELD_VALUE, "%s: field '%s' is not one of %s",
	    w, key, list);
}

static fw_err
place_from_json(const json_t *o, const char *wobs, struct fw_place *p)
{
	char w[WHERE_MAX];
	int64_t lat = 0, lon = 0, acc = 0;
	int has_lat, has_lon;
	fw_err e;

	snprintf(w, sizeof w, "%s: place", wobs);
	if ((e = jsonx_check_keys(o, place_keys, w)) != FW_OK ||
	    (e = get_text(o, "text", FW_MAX_PLACE, &p->text, w)) != FW_OK ||
	    (e = jsonx_get_int(o, "lat_e7", 1, -900000000, 900000000, &lat,
	    &has_lat, w)) != FW_OK ||
	    (e = jsonx_get_int(o, "lon_e7", 1, -1800000000, 1800000000, &lon,
	    &has_lon, w)) != FW_OK ||
	    (e = jsonx_get_int(o, "accuracy_m", 1, 0, 10000000, &acc,
	    &p->has_accuracy, w)) != FW_OK)
		return e;
	if (has_lat != has_lon)
		return fw_seterr(FW_ERR_FIELD_MISSING,
		    "%s: field '%s' missing (lat_e7 and lon_e7 come together)",
		    w, has_lat ? "lon_e7" : "lat_e7");
	p->has_geo = has_lat;
	p->lat_e7 = (int32_t)lat;
	p->lon_e7 = (int32_t)lon;
	p->accuracy_m = (uint32_t)acc;
	return FW_OK;
}

static fw_err
subject_from_json(const json_t *o, const char *wobs, struct fw_subject *s)
{
	char w[WHERE_MAX];
	int kind;
	fw_err e;

	snprintf(w, sizeof w, "%s: subject", wobs);
	if ((e = jsonx_check_keys(o, subject_keys, w)) != FW_OK ||
	    (e = get_enum(o, "kind", subject_names, FW_SUBJ_COUNT_, &kind,
	    w)) != FW_OK)
		return e;
	s->kind = (enum fw_subject_kind)kind;
	if ((e = get_text(o, "name", FW_MAX_NAME, &s->name, w)) != FW_OK)
		return e;
	return get_code(o, "institution", 1, &s->institution, w);
}

static fw_err
categories_from_json(const json_t *o, const char *w, struct fw_obs *ob)
{
	char name[48];
	const json_t *a;
	const char *s;
	size_t n, i, j;
	fw_err e;

	if ((e = jsonx_get_array(o, "categories", 0, 1, FW_MAX_CATEGORIES, &a,
	    w)) != FW_OK)
		return e;
	n = json_array_size(a);
	if ((ob->categories = calloc(n, sizeof *ob->categories)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "%s: no memory for categories", w);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof name, "categories[%zu]", i);
		if ((e = jsonx_check_str(json_array_get(a, i), name, 0, 1,
		    FW_MAX_CODE, &s, w)) != FW_OK ||
		    (e = check_code(s, name, w)) != FW_OK)
			return e;
		for (j = 0; j < i; j++)
			if (strcmp(ob->categories[j], s) == 0)
				return fw_seterr(FW_ERR_FIELD_VALUE,
				    "%s: field '%s' repeats '%s'", w, name, s);
		if ((e = dupstr(s, &ob->categories[i], w, name)) != FW_OK)
			return e;
		ob->ncategories = i + 1;
	}
	return FW_OK;
}

static fw_err
evidence_from_json(const json_t *o, const char *w, struct fw_evidence *ev)
{
	const char *mt;
	int64_t size, bsize;
	int kind;
	fw_err e;

	if ((e = jsonx_check_keys(o, evidence_keys, w)) != FW_OK ||
	    (e = get_enum(o, "kind", evidence_names, FW_EV_COUNT_, &kind,
	    w)) != FW_OK ||
	    (e = jsonx_get_str(o, "media_type", 0, 0, 3, FW_MAX_MEDIA_TYPE, &mt,
	    w)) != FW_OK)
		return e;
	if (!media_type_ok(mt))
		return fw_seterr(FW_ERR_FIELD_VALUE,
		    "%s: field 'media_type' is not type/subtype of "
		    "[a-z0-9!#$&^_.+-]", w);
	ev->kind = (enum fw_evidence_kind)kind;
	if ((e = dupstr(mt, &ev->media_type, w, "media_type")) != FW_OK ||
	    (e = jsonx_get_int(o, "size", 0, 0, (int64_t)FW_MAX_BLOB, &size,
	    NULL, w)) != FW_OK ||
	    (e = get_hex(o, "sha256", SHA256_HEX, ev->sha256, w)) != FW_OK ||
	    (e = get_hex(o, "blob", SHA256_HEX, ev->blob, w)) != FW_OK ||
	    (e = jsonx_get_int(o, "blob_size", 0, 1, (int64_t)FW_MAX_BLOB,
	    &bsize, NULL, w)) != FW_OK ||
	    (e = get_time(o, "captured", &ev->captured, w)) != FW_OK)
		return e;
	ev->size = (uint64_t)size;
	ev->blob_size = (uint64_t)bsize;
	return FW_OK;
}

static fw_err
evidence_list_from_json(const json_t *o, const char *wobs, struct fw_obs *ob)
{
	char w[WHERE_MAX];
	const json_t *a;
	size_t n, i, j;
	fw_err e;

	if ((e = jsonx_get_array(o, "evidence", 0, 0, SIZE_MAX, &a,
	    wobs)) != FW_OK)
		return e;
	n = json_array_size(a);
	if (n > FW_MAX_EVIDENCE)
		return fw_seterr(FW_ERR_LIMIT,
		    "%s: %zu evidence items, at most %d allowed", wobs, n,
		    FW_MAX_EVIDENCE);
	if (n == 0)
		return FW_OK;
	if ((ob->evidence = calloc(n, sizeof *ob->evidence)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "%s: no memory for evidence", wobs);
	for (i = 0; i < n; i++) {
		/* Counted first so that bundle_obs_clear frees a partial one. */
		ob->nevidence = i + 1;
		snprintf(w, sizeof w, "%s: evidence %zu", wobs, i);
		if ((e = evidence_from_json(json_array_get(a, i), w,
		    &ob->evidence[i])) != FW_OK)
			return e;
		for (j = 0; j < i; j++)
			if (strcmp(ob->evidence[j].blob, ob->evidence[i].blob) == 0)
				return fw_seterr(FW_ERR_FIELD_VALUE,
				    "%s: field 'blob' repeats evidence %zu", w, j);
	}
	return FW_OK;
}

/* One observation, checked on its own (links to others are the manifest's
 * to check).  On error o may be partly filled: bundle_obs_clear frees it. */
/* The boot clock at capture: boot_id and uptime_ms come together. */
static fw_err
boot_from_json(const json_t *o, const char *w, struct fw_obs *ob)
{
	int has_id = json_object_get(o, "boot_id") != NULL;
	int has_up = json_object_get(o, "uptime_ms") != NULL;
	int64_t up;
	fw_err e;

	if (has_id != has_up)
		return fw_seterr(FW_ERR_FIELD_MISSING, "%s: field '%s' without '%s'", w,
		    has_id ? "boot_id" : "uptime_ms", has_id ? "uptime_ms" : "boot_id");
	if (!has_id)
		return FW_OK;
	if ((e = get_hex(o, "boot_id", FW_ID_HEX, ob->boot_id, w)) != FW_OK ||
	    (e = jsonx_get_int(o, "uptime_ms", 0, 0, (int64_t)FW_MAX_SEQ, &up, NULL,
	    w)) != FW_OK)
		return e;
	ob->has_boot = 1;
	ob->uptime_ms = (uint64_t)up;
	return FW_OK;
}

static fw_err
obs_from_json(const json_t *o, const char *w, struct fw_obs *ob)
{
	const json_t *sub;
	int64_t seq;
	int sev;
	fw_err e;

	if ((e = jsonx_check_keys(o, obs_keys, w)) != FW_OK ||
	    (e = get_hex(o, "id", FW_ID_HEX, ob->id, w)) != FW_OK ||
	    (e = jsonx_get_int(o, "seq", 0, 1, (int64_t)FW_MAX_SEQ, &seq, NULL,
	    w)) != FW_OK ||
	    (e = get_hex(o, "prev", SHA256_HEX, ob->prev, w)) != FW_OK)
		return e;
	ob->seq = (uint64_t)seq;
	if (ob->seq == 1 && !is_zero_hash(ob->prev))
		return fw_seterr(FW_ERR_CHAIN,
		    "%s: field 'prev' of seq 1 is not 64 zeros", w);
	if ((e = get_time(o, "captured", &ob->captured, w)) != FW_OK ||
	    (e = jsonx_get_object(o, "place", 0, &sub, w)) != FW_OK ||
	    (e = place_from_json(sub, w, &ob->place)) != FW_OK ||
	    (e = jsonx_get_object(o, "subject", 0, &sub, w)) != FW_OK ||
	    (e = subject_from_json(sub, w, &ob->subject)) != FW_OK ||
	    (e = categories_from_json(o, w, ob)) != FW_OK ||
	    (e = get_text(o, "what", FW_MAX_WHAT, &ob->what, w)) != FW_OK ||
	    (e = get_enum(o, "severity", severity_names, FW_SEV_COUNT_, &sev,
	    w)) != FW_OK)
		return e;
	ob->severity = (enum fw_severity)sev;
	if ((e = get_code(o, "task", 1, &ob->task, w)) != FW_OK ||
	    (e = boot_from_json(o, w, ob)) != FW_OK)
		return e;
	if (json_object_get(o, "supplements") != NULL) {
		if ((e = get_hex(o, "supplements", FW_ID_HEX, ob->supplements,
		    w)) != FW_OK)
			return e;
		if (strcmp(ob->supplements, ob->id) == 0)
			return fw_seterr(FW_ERR_FIELD_VALUE, "%s: field 'supplements' "
			    "names the observation itself", w);
	}
	return evidence_list_from_json(o, w, ob);
}

static fw_err obs_hash_raw(const struct fw_obs *, char *, const char *);

/* Links of observation i to the ones before it: seq +1, prev = hash of the
 * one before (prevhash), id not seen yet. */
static fw_err
obs_link(const struct fw_manifest *m, size_t i, const char *prevhash,
    const char *w)
{
	const struct fw_obs *o = &m->obs[i], *p = &m->obs[i - 1];
	size_t j;

	if (o->seq != p->seq + 1)
		return fw_seterr(FW_ERR_SEQUENCE,
		    "%s: seq %" PRIu64 " does not follow seq %" PRIu64
		    " of observation %zu", w, o->seq, p->seq, i - 1);
	if (strcmp(o->prev, prevhash) != 0)
		return fw_seterr(FW_ERR_CHAIN,
		    "%s: field 'prev' is not the hash of observation %zu", w,
		    i - 1);
	/* Quadratic, bounded by FW_MAX_OBSERVATIONS^2 / 2 comparisons. */
	for (j = 0; j < i; j++)
		if (strcmp(m->obs[j].id, o->id) == 0)
			return fw_seterr(FW_ERR_FIELD_VALUE,
			    "%s: field 'id' repeats observation %zu", w, j);
	return FW_OK;
}

static fw_err
observations_from_json(const json_t *root, struct fw_manifest *m)
{
	char w[WHERE_MAX], prevhash[SHA256_HEX + 1];
	const json_t *a;
	size_t n, i;
	fw_err e;

	if ((e = jsonx_get_array(root, "observations", 0, 1, SIZE_MAX, &a,
	    "manifest")) != FW_OK)
		return e;
	n = json_array_size(a);
	if (n > FW_MAX_OBSERVATIONS)
		return fw_seterr(FW_ERR_LIMIT,
		    "manifest: %zu observations, at most %d allowed", n,
		    FW_MAX_OBSERVATIONS);
	if ((m->obs = calloc(n, sizeof *m->obs)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "manifest: no memory for observations");
	for (i = 0; i < n; i++) {
		m->nobs = i + 1;
		snprintf(w, sizeof w, "observation %zu", i);
		if ((e = obs_from_json(json_array_get(a, i), w,
		    &m->obs[i])) != FW_OK)
			return e;
		if (i > 0 && (e = obs_link(m, i, prevhash, w)) != FW_OK)
			return e;
		if (i + 1 < n &&
		    (e = obs_hash_raw(&m->obs[i], prevhash, w)) != FW_OK)
			return e;
	}
	return FW_OK;
}

static void manifest_clear(struct fw_manifest *);

/* Fill the zeroed *m from root; on error the caller clears m. */
static fw_err
manifest_from_json(const json_t *root, struct fw_manifest *m)
{
	int64_t ver, seq;
	fw_err e;

	if (!json_is_object(root))
		return fw_seterr(FW_ERR_JSON, "manifest: is %s, expected an object",
		    jsonx_type_name(root));
	/* The version first: a later version may well have other fields. */
	if ((e = jsonx_get_int(root, "version", 0, INT64_MIN, INT64_MAX, &ver,
	    NULL, "manifest")) != FW_OK)
		return e;
	if (ver != FW_PROTO_VERSION)
		return fw_seterr(FW_ERR_VERSION,
		    "manifest: version %" PRId64 " is not supported, expected %d",
		    ver, FW_PROTO_VERSION);
	m->version = FW_PROTO_VERSION;
	if ((e = jsonx_check_keys(root, manifest_keys, "manifest")) != FW_OK ||
	    (e = get_hex(root, "device", ED25519_DEVICE_ID_LEN, m->device,
	    "manifest")) != FW_OK ||
	    (e = jsonx_get_int(root, "bundle_seq", 0, 1, (int64_t)FW_MAX_SEQ,
	    &seq, NULL, "manifest")) != FW_OK ||
	    (e = get_time(root, "created", &m->created, "manifest")) != FW_OK)
		return e;
	m->bundle_seq = (uint64_t)seq;
	if ((e = jsonx_get_int(root, "clock_offset", 1, -FW_MAX_CLOCK_OFFSET,
	    FW_MAX_CLOCK_OFFSET, &m->clock_offset, &m->has_clock_offset,
	    "manifest")) != FW_OK)
		return e;
	return observations_from_json(root, m);
}

fw_err
bundle_manifest_parse(const uint8_t *p, size_t n, struct fw_manifest **out)
{
	struct fw_manifest *m;
	json_t *root;
	fw_err e;

	*out = NULL;
	if (n == 0)
		return fw_seterr(FW_ERR_EMPTY, "manifest: empty");
	if (p == NULL)
		return fw_seterr(FW_ERR_INVALID, "manifest: no input buffer");
	if (n > FW_MAX_MANIFEST)
		return fw_seterr(FW_ERR_LIMIT,
		    "manifest: %zu bytes, at most %u allowed", n, FW_MAX_MANIFEST);
	if ((e = jsonx_load_bounded(p, n, MANIFEST_ITEMS, MANIFEST_CONTAINERS,
	    &root)) != FW_OK)
		return fw_errctx(e, "manifest");
	if ((m = calloc(1, sizeof *m)) == NULL) {
		json_decref(root);
		return fw_seterr(FW_ERR_NOMEM, "manifest: out of memory");
	}
	e = manifest_from_json(root, m);
	json_decref(root);
	if (e != FW_OK) {
		bundle_manifest_free(m);
		return e;
	}
	*out = m;
	return FW_OK;
}

/* ---- encode: structs to JSON tree ------------------------------------- */

/*
 * A builder with a sticky error, so that building an object reads as the
 * list of its fields: after the first failure every call is a no-op.
 */
struct jb {
	fw_err e;
	const char *w;
};

static void
jb_set(struct jb *b, json_t *obj, const char *key, json_t *v)
{
	if (b->e != FW_OK) {
		json_decref(v);
		return;
	}
	/* json_object_set_new consumes v, even when it fails. */
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		b->e = fw_seterr(FW_ERR_NOMEM,
		    "%s: out of memory building field '%s'", b->w, key);
}

static void
jb_str(struct jb *b, json_t *obj, const char *key, const char *s)
{
	if (b->e != FW_OK)
		return;
	if (s == NULL)
		b->e = fw_seterr(FW_ERR_FIELD_MISSING, "%s: field '%s' missing",
		    b->w, key);
	else if (!jsonx_utf8_valid(s, strlen(s)))
		b->e = fw_seterr(FW_ERR_UTF8, "%s: field '%s' is not valid UTF-8",
		    b->w, key);
	else
		jb_set(b, obj, key, json_string(s));
}

/* A fixed-size hex array that may lack its terminator. */
static void
jb_hex(struct jb *b, json_t *obj, const char *key, const char *s,
    size_t size)
{
	if (b->e == FW_OK && strnlen(s, size) == size)
		b->e = fw_seterr(FW_ERR_FIELD_LENGTH,
		    "%s: field '%s' is not terminated", b->w, key);
	jb_str(b, obj, key, s);
}

static void
jb_int(struct jb *b, json_t *obj, const char *key, int64_t v)
{
	if (b->e == FW_OK)
		jb_set(b, obj, key, json_integer((json_int_t)v));
}

static void
jb_uint(struct jb *b, json_t *obj, const char *key, uint64_t v,
    uint64_t max)
{
	if (b->e == FW_OK && v > max)
		b->e = fw_seterr(FW_ERR_FIELD_RANGE,
		    "%s: field '%s' is %" PRIu64 ", expected at most %" PRIu64,
		    b->w, key, v, max);
	jb_int(b, obj, key, (int64_t)(v > max ? 0 : v));
}

static void
jb_time(struct jb *b, json_t *obj, const char *key, int64_t t)
{
	char s[BUNDLE_TIME_LEN + 1];

	if (b->e != FW_OK)
		return;
	if (t < 0 || t > BUNDLE_TIME_MAX) {
		b->e = fw_seterr(FW_ERR_FIELD_VALUE,
		    "%s: field '%s' is %" PRId64 ", expected a time in "
		    "1970..9999", b->w, key, t);
		return;
	}
	bundle_time_format(t, s);
	jb_str(b, obj, key, s);
}

static void
jb_enum(struct jb *b, json_t *obj, const char *key, const char *name)
{
	if (b->e == FW_OK && name == NULL)
		b->e = fw_seterr(FW_ERR_FIELD_VALUE,
		    "%s: field '%s' is outside its enum", b->w, key);
	jb_str(b, obj, key, name);
}

static json_t *
jb_new(struct jb *b, json_t *(*make)(void))
{
	json_t *v;

	if (b->e != FW_OK)
		return NULL;
	if ((v = make()) == NULL)
		b->e = fw_seterr(FW_ERR_NOMEM, "%s: out of memory", b->w);
	return v;
}

static void
jb_append(struct jb *b, json_t *arr, json_t *v)
{
	if (b->e != FW_OK) {
		json_decref(v);
		return;
	}
	if (v == NULL || json_array_append_new(arr, v) != 0)
		b->e = fw_seterr(FW_ERR_NOMEM, "%s: out of memory", b->w);
}

static json_t *
place_to_json(struct jb *b, const struct fw_place *p)
{
	json_t *o = jb_new(b, json_object);

	jb_str(b, o, "text", p->text);
	if (p->has_geo) {
		jb_int(b, o, "lat_e7", p->lat_e7);
		jb_int(b, o, "lon_e7", p->lon_e7);
	}
	if (p->has_accuracy)
		jb_int(b, o, "accuracy_m", p->accuracy_m);
	return o;
}

static json_t *
subject_to_json(struct jb *b, const struct fw_subject *s)
{
	json_t *o = jb_new(b, json_object);

	jb_enum(b, o, "kind", bundle_subject_kind_name(s->kind));
	jb_str(b, o, "name", s->name);
	if (s->institution != NULL)
		jb_str(b, o, "institution", s->institution);
	return o;
}

static json_t *
evidence_to_json(struct jb *b, const struct fw_evidence *ev)
{
	json_t *o = jb_new(b, json_object);

	jb_enum(b, o, "kind", bundle_evidence_kind_name(ev->kind));
	jb_str(b, o, "media_type", ev->media_type);
	jb_uint(b, o, "size", ev->size, FW_MAX_BLOB);
	jb_hex(b, o, "sha256", ev->sha256, sizeof ev->sha256);
	jb_hex(b, o, "blob", ev->blob, sizeof ev->blob);
	jb_uint(b, o, "blob_size", ev->blob_size, FW_MAX_BLOB);
	jb_time(b, o, "captured", ev->captured);
	return o;
}

static json_t *
categories_to_json(struct jb *b, const struct fw_obs *ob)
{
	json_t *a = jb_new(b, json_array);
	size_t i;

	for (i = 0; i < ob->ncategories && b->e == FW_OK; i++) {
		if (ob->categories[i] == NULL)
			b->e = fw_seterr(FW_ERR_FIELD_MISSING,
			    "%s: field 'categories[%zu]' missing", b->w, i);
		else
			jb_append(b, a, json_string(ob->categories[i]));
	}
	return a;
}

/* Counts come from our own callers, but are bounded here all the same so
 * that a corrupt struct cannot make us walk far. */
static fw_err
obs_counts_ok(const struct fw_obs *ob, const char *w)
{
	if (ob->ncategories > FW_MAX_CATEGORIES)
		return fw_seterr(FW_ERR_FIELD_LENGTH,
		    "%s: field 'categories' has %zu elements, expected 1..%d", w,
		    ob->ncategories, FW_MAX_CATEGORIES);
	if (ob->nevidence > FW_MAX_EVIDENCE)
		return fw_seterr(FW_ERR_LIMIT,
		    "%s: %zu evidence items, at most %d allowed", w,
		    ob->nevidence, FW_MAX_EVIDENCE);
	if ((ob->ncategories > 0 && ob->categories == NULL) ||
	    (ob->nevidence > 0 && ob->evidence == NULL))
		return fw_seterr(FW_ERR_INVALID, "%s: counted array is NULL", w);
	return FW_OK;
}

/* The tree of one observation, unchecked beyond what JSON can hold. */
static fw_err
obs_to_json(const struct fw_obs *ob, const char *w, json_t **out)
{
	struct jb b = {FW_OK, w};
	json_t *o, *ev;
	size_t i;

	*out = NULL;
	if ((b.e = obs_counts_ok(ob, w)) != FW_OK)
		return b.e;
	o = jb_new(&b, json_object);
	jb_hex(&b, o, "id", ob->id, sizeof ob->id);
	jb_uint(&b, o, "seq", ob->seq, FW_MAX_SEQ);
	jb_hex(&b, o, "prev", ob->prev, sizeof ob->prev);
	jb_time(&b, o, "captured", ob->captured);
	if (ob->has_boot) {
		jb_hex(&b, o, "boot_id", ob->boot_id, sizeof ob->boot_id);
		jb_uint(&b, o, "uptime_ms", ob->uptime_ms, FW_MAX_SEQ);
	}
	jb_set(&b, o, "place", place_to_json(&b, &ob->place));
	jb_set(&b, o, "subject", subject_to_json(&b, &ob->subject));
	jb_set(&b, o, "categories", categories_to_json(&b, ob));
	jb_str(&b, o, "what", ob->what);
	jb_enum(&b, o, "severity", bundle_severity_name(ob->severity));
	if (ob->task != NULL)
		jb_str(&b, o, "task", ob->task);
	if (ob->supplements[0] != '\0')
		jb_hex(&b, o, "supplements", ob->supplements, sizeof ob->supplements);
	ev = jb_new(&b, json_array);
	for (i = 0; i < ob->nevidence && b.e == FW_OK; i++)
		jb_append(&b, ev, evidence_to_json(&b, &ob->evidence[i]));
	jb_set(&b, o, "evidence", ev);
	if (b.e != FW_OK) {
		json_decref(o);
		return b.e;
	}
	*out = o;
	return FW_OK;
}

static fw_err
manifest_to_json(const struct fw_manifest *m, json_t **out)
{
	struct jb b = {FW_OK, "manifest"};
	char w[WHERE_MAX];
	json_t *o, *arr, *ob;
	size_t i;

	*out = NULL;
	if (m->nobs > FW_MAX_OBSERVATIONS)
		return fw_seterr(FW_ERR_LIMIT,
		    "manifest: %zu observations, at most %d allowed", m->nobs,
		    FW_MAX_OBSERVATIONS);
	if (m->nobs > 0 && m->obs == NULL)
		return fw_seterr(FW_ERR_INVALID, "manifest: obs is NULL");
	o = jb_new(&b, json_object);
	jb_int(&b, o, "version", m->version);
	jb_hex(&b, o, "device", m->device, sizeof m->device);
	jb_uint(&b, o, "bundle_seq", m->bundle_seq, FW_MAX_SEQ);
	jb_time(&b, o, "created", m->created);
	if (m->has_clock_offset)
		jb_int(&b, o, "clock_offset", m->clock_offset);
	arr = jb_new(&b, json_array);
	for (i = 0; i < m->nobs && b.e == FW_OK; i++) {
		snprintf(w, sizeof w, "observation %zu", i);
		if ((b.e = obs_to_json(&m->obs[i], w, &ob)) == FW_OK)
			jb_append(&b, arr, ob);
	}
	jb_set(&b, o, "observations", arr);
	if (b.e != FW_OK) {
		json_decref(o);
		return b.e;
	}
	*out = o;
	return FW_OK;
}

/* ---- canonical bytes, hashes, checks ---------------------------------- */

static void
buf_cut(struct buf *b, size_t len)
{
	if (b->data != NULL) {
		b->len = len;
		b->data[len] = '\0';
	}
}

static fw_err
obs_hash_raw(const struct fw_obs *ob, char *out, const char *w)
{
	struct buf cb;
	json_t *j;
	fw_err e;

	buf_init(&cb, FW_MAX_MANIFEST);
	if ((e = obs_to_json(ob, w, &j)) != FW_OK)
		return e;
	if ((e = jsonx_dump_canonical(j, &cb)) == FW_OK &&
	    (e = sha256_hex(cb.data, cb.len, out)) != FW_OK)
		fw_errctx(e, "%s: hash", w);
	json_decref(j);
	buf_free(&cb);
	return e;
}

/* The tree of ob after the parser's own checks have passed over it. */
static fw_err
obs_build_checked(const struct fw_obs *ob, json_t **out)
{
	struct fw_obs tmp;
	json_t *j;
	fw_err e;

	*out = NULL;
	if (ob == NULL)
		return fw_seterr(FW_ERR_INVALID, "observation: NULL");
	if ((e = obs_to_json(ob, "observation", &j)) != FW_OK)
		return e;
	memset(&tmp, 0, sizeof tmp);
	e = obs_from_json(j, "observation", &tmp);
	bundle_obs_clear(&tmp);
	if (e != FW_OK) {
		json_decref(j);
		return e;
	}
	*out = j;
	return FW_OK;
}

fw_err
bundle_obs_check(const struct fw_obs *o)
{
	json_t *j;
	fw_err e;

	if ((e = obs_build_checked(o, &j)) == FW_OK)
		json_decref(j);
	return e;
}

fw_err
bundle_obs_canonical(const struct fw_obs *o, struct buf *out)
{
	json_t *j;
	fw_err e;

	if ((e = obs_build_checked(o, &j)) != FW_OK)
		return e;
	e = jsonx_dump_canonical(j, out);
	json_decref(j);
	return e;
}

fw_err
bundle_obs_hash(const struct fw_obs *o, char out[SHA256_HEX + 1])
{
	struct buf cb;
	fw_err e;

	buf_init(&cb, FW_MAX_MANIFEST);
	if ((e = bundle_obs_canonical(o, &cb)) == FW_OK)
		e = sha256_hex(cb.data, cb.len, out);
	buf_free(&cb);
	return e;
}

fw_err
bundle_manifest_encode(const struct fw_manifest *m, struct buf *out)
{
	struct fw_manifest tmp;
	size_t start = out->len;
	json_t *j;
	fw_err e;

	if (m == NULL)
		return fw_seterr(FW_ERR_INVALID, "manifest: NULL");
	if ((e = manifest_to_json(m, &j)) != FW_OK)
		return e;
	/* What we write must be what we would read. */
	memset(&tmp, 0, sizeof tmp);
	e = manifest_from_json(j, &tmp);
	manifest_clear(&tmp);
	if (e == FW_OK)
		e = jsonx_dump_canonical(j, out);
	json_decref(j);
	if (e == FW_OK && out->len - start > FW_MAX_MANIFEST) {
		buf_cut(out, start);
		e = fw_seterr(FW_ERR_LIMIT, "manifest: over %u bytes",
		    FW_MAX_MANIFEST);
	}
	return e;
}

void
bundle_obs_clear(struct fw_obs *o)
{
	size_t i;

	if (o == NULL)
		return;
	free(o->place.text);
	free(o->subject.name);
	free(o->subject.institution);
	for (i = 0; o->categories != NULL && i < o->ncategories; i++)
		free(o->categories[i]);
	free(o->categories);
	free(o->what);
	free(o->task);
	for (i = 0; o->evidence != NULL && i < o->nevidence; i++)
		free(o->evidence[i].media_type);
	free(o->evidence);
	memset(o, 0, sizeof *o);
}

static void
manifest_clear(struct fw_manifest *m)
{
	size_t i;

	for (i = 0; m->obs != NULL && i < m->nobs; i++)
		bundle_obs_clear(&m->obs[i]);
	free(m->obs);
	memset(m, 0, sizeof *m);
}

void
bundle_manifest_free(struct fw_manifest *m)
{
	if (m == NULL)
		return;
	manifest_clear(m);
	free(m);
}

/* ---- the container ---------------------------------------------------- */

/*
 * The ratio limit is checked as the inflater streams, so whether a very
 * compressible manifest passes depends on zlib's block layout: rather than
 * predict it, seal inflates its own output under the limits bundle_open
 * applies, and refuses what the server would.
 */
static fw_err
seal_selfcheck(const uint8_t *z, size_t zn, const struct buf *man)
{
	struct buf back;
	fw_err e;

	buf_init(&back, FW_MAX_MANIFEST);
	e = compress_inflate(z, zn, FW_MAX_MANIFEST, FW_MAX_INFLATE_RATIO, &back);
	if (e == FW_ERR_INFLATE_LIMIT)
		e = fw_seterr(FW_ERR_LIMIT,
		    "bundle: manifest compresses past the ratio limit of %d",
		    FW_MAX_INFLATE_RATIO);
	else if (e == FW_OK && (back.len != man->len ||
	    memcmp(back.data, man->data, man->len) != 0))
		e = fw_seterr(FW_ERR_INTERNAL, "bundle: inflate does not round-trip");
	buf_free(&back);
	return e;
}

static fw_err
seal_write(const struct buf *man, const uint8_t *sig, struct buf *out)
{
	size_t start = out->len;
	fw_err e;

	if ((e = buf_add(out, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN)) != FW_OK ||
	    (e = buf_add(out, sig, ED25519_SIG_LEN)) != FW_OK ||
	    (e = compress_deflate(man->data, man->len, out)) != FW_OK)
		goto fail;
	if (out->len - start > FW_MAX_BUNDLE) {
		e = fw_seterr(FW_ERR_LIMIT, "bundle: %zu bytes, at most %u allowed",
		    out->len - start, FW_MAX_BUNDLE);
		goto fail;
	}
	if ((e = seal_selfcheck(out->data + start + BUNDLE_HEAD,
	    out->len - start - BUNDLE_HEAD, man)) != FW_OK)
		goto fail;
	return FW_OK;
fail:
	buf_cut(out, start);
	return e;
}

fw_err
bundle_seal(const struct fw_manifest *m, const struct ed25519_key *k,
    struct buf *out, char id[SHA256_HEX + 1])
{
	char kid[ED25519_DEVICE_ID_LEN + 1];
	uint8_t sig[ED25519_SIG_LEN];
	struct buf man;
	fw_err e;

	if (m == NULL || k == NULL || out == NULL || id == NULL)
		return fw_seterr(FW_ERR_INVALID, "bundle_seal: NULL argument");
	if ((e = ed25519_device_id(k, kid)) != FW_OK)
		return e;
	if (strncmp(kid, m->device, sizeof kid) != 0)
		return fw_seterr(FW_ERR_KEY,
		    "bundle: the key is device %s, the manifest names another", kid);
	buf_init(&man, FW_MAX_MANIFEST);
	if ((e = bundle_manifest_encode(m, &man)) == FW_OK &&
	    (e = ed25519_sign(k, man.data, man.len, sig)) == FW_OK &&
	    (e = seal_write(&man, sig, out)) == FW_OK)
		e = sha256_hex(man.data, man.len, id);
	buf_free(&man);
	return e;
}

/* Inflate errors as a bundle reader sees them: an empty body is a
 * truncated bundle, bytes after the stream are corrupt compression. */
static fw_err
open_inflate(const uint8_t *z, size_t zn, struct buf *man)
{
	fw_err e;

	if (zn == 0)
		return fw_seterr(FW_ERR_TRUNCATED, "bundle: no compressed manifest");
	e = compress_inflate(z, zn, FW_MAX_MANIFEST, FW_MAX_INFLATE_RATIO, man);
	if (e == FW_ERR_INVALID)
		return fw_seterr(FW_ERR_INFLATE,
		    "bundle: bytes after the end of the zlib stream");
	if (e == FW_ERR_EMPTY)
		return fw_seterr(FW_ERR_TRUNCATED, "bundle: no compressed manifest");
	if (e != FW_OK)
		return fw_errctx(e, "bundle");
	return FW_OK;
}

fw_err
bundle_open(const uint8_t *p, size_t n, struct fw_bundle **out)
{
	struct fw_bundle *b;
	fw_err e;

	*out = NULL;
	if (n == 0)
		return fw_seterr(FW_ERR_EMPTY, "bundle: empty");
	if (p == NULL)
		return fw_seterr(FW_ERR_INVALID, "bundle: no input buffer");
	if (n < BUNDLE_HEAD)
		return fw_seterr(FW_ERR_TRUNCATED,
		    "bundle: %zu bytes, a bundle has more than %d", n, BUNDLE_HEAD);
	if (memcmp(p, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN) != 0)
		return fw_seterr(FW_ERR_BAD_MAGIC, "bundle: does not start with %s",
		    BUNDLE_MAGIC);
	if (n > FW_MAX_BUNDLE)
		return fw_seterr(FW_ERR_LIMIT, "bundle: %zu bytes, at most %u allowed",
		    n, FW_MAX_BUNDLE);
	if ((b = calloc(1, sizeof *b)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "bundle: out of memory");
	buf_init(&b->manifest, FW_MAX_MANIFEST);
	memcpy(b->sig, p + BUNDLE_MAGIC_LEN, ED25519_SIG_LEN);
	if ((e = open_inflate(p + BUNDLE_HEAD, n - BUNDLE_HEAD,
	    &b->manifest)) != FW_OK ||
	    (e = sha256_hex(b->manifest.data, b->manifest.len, b->id)) != FW_OK ||
	    (e = bundle_manifest_parse(b->manifest.data, b->manifest.len,
	    &b->m)) != FW_OK) {
		bundle_free(b);
		return e;
	}
	*out = b;
	return FW_OK;
}

fw_err
bundle_verify(const struct fw_bundle *b, const struct ed25519_key *k)
{
	char kid[ED25519_DEVICE_ID_LEN + 1];
	fw_err e;

	if (b == NULL || b->m == NULL || k == NULL)
		return fw_seterr(FW_ERR_INVALID, "bundle_verify: NULL argument");
	if ((e = ed25519_device_id(k, kid)) != FW_OK)
		return e;
	if (strcmp(kid, b->m->device) != 0)
		return fw_seterr(FW_ERR_SIGNATURE,
		    "bundle: device mismatch: the manifest names device %s, the "
		    "key is device %s", b->m->device, kid);
	e = ed25519_verify(k, b->manifest.data, b->manifest.len, b->sig);
	if (e == FW_ERR_SIGNATURE)
		return fw_seterr(FW_ERR_SIGNATURE,
		    "bundle: signature does not verify with the key of device %s",
		    kid);
	return e;
}

void
bundle_free(struct fw_bundle *b)
{
	if (b == NULL)
		return;
	buf_free(&b->manifest);
	bundle_manifest_free(b->m);
	free(b);
}

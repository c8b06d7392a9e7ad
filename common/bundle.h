/*
 * bundle.h: the bundle codec (proto/PROTOCOL.md, sections "Manifest" and
 * "Bundle").
 *
 * A manifest is a JSON object of observations.  A bundle is the container
 *     "FWB1" | Ed25519 signature (64 bytes) | zlib stream of the manifest
 * where the signature covers the exact uncompressed manifest bytes and the
 * bundle id is the lowercase hex SHA-256 of those bytes.
 *
 * Parsing checks every field against the limits of fw.h and refuses, with a
 * specific fw_err and a message naming the field, anything missing,
 * mistyped, unknown, duplicated, out of range or too long.  Parsing never
 * trusts the input for a size: every allocation is bounded by the limits.
 */
#ifndef FW_BUNDLE_H
#define FW_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ed25519.h"
#include "err.h"
#include "sha256.h"

enum fw_subject_kind {
	FW_SUBJ_PHARMACY,
	FW_SUBJ_HOSPITAL,
	FW_SUBJ_CLINIC,
	FW_SUBJ_INSURANCE_AGENCY,
	FW_SUBJ_INSURED_PERSON,
	FW_SUBJ_OTHER,
	FW_SUBJ_COUNT_
};

enum fw_evidence_kind {
	FW_EV_PHOTO,
	FW_EV_AUDIO,
	FW_EV_VIDEO,
	FW_EV_DOCUMENT,
	FW_EV_COUNT_
};

enum fw_severity { FW_SEV_NORMAL, FW_SEV_MAJOR, FW_SEV_COUNT_ };

#define FW_ID_HEX 32	/* observation ids: 16 random bytes, lowercase hex */

struct fw_evidence {
	enum fw_evidence_kind kind;
	char *media_type;		/* "image/jpeg" */
	uint64_t size;			/* plaintext bytes */
	char sha256[SHA256_HEX + 1];	/* of the plaintext */
	char blob[SHA256_HEX + 1];	/* SHA-256 of the stored age file */
	uint64_t blob_size;		/* bytes of the stored age file */
	int64_t captured;		/* Unix seconds, UTC */
};

struct fw_place {
	char *text;
	int has_geo;			/* lat_e7 and lon_e7 come together */
	int32_t lat_e7, lon_e7;		/* degrees * 10^7 */
	int has_accuracy;
	uint32_t accuracy_m;
};

struct fw_subject {
	enum fw_subject_kind kind;
	char *name;
	char *institution;		/* NULL if absent */
};

struct fw_obs {
	char id[FW_ID_HEX + 1];
	uint64_t seq;			/* 1 .. FW_MAX_SEQ, per device */
	char prev[SHA256_HEX + 1];	/* hash of obs seq-1; zeros for seq 1 */
	int64_t captured;		/* device clock, Unix seconds */
	int has_boot;			/* boot_id and uptime_ms present */
	char boot_id[FW_ID_HEX + 1];	/* the device's boot, lowercase hex */
	uint64_t uptime_ms;		/* boot clock at capture */
	struct fw_place place;
	struct fw_subject subject;
	char **categories;
	size_t ncategories;
	char *what;
	enum fw_severity severity;
	char *task;			/* NULL if absent */
	char supplements[FW_ID_HEX + 1];	/* "" or the id of an earlier
					   observation this one adds to */
	struct fw_evidence *evidence;
	size_t nevidence;
};

struct fw_manifest {
	int version;			/* FW_PROTO_VERSION */
	char device[ED25519_DEVICE_ID_LEN + 1];
	uint64_t bundle_seq;		/* 1 .. FW_MAX_SEQ, per device */
	int64_t created;		/* device clock, Unix seconds */
	int has_clock_offset;
	int64_t clock_offset;		/* server clock - device clock, seconds,
					   as last measured by the device */
	struct fw_obs *obs;
	size_t nobs;
};

struct fw_bundle {
	char id[SHA256_HEX + 1];
	uint8_t sig[ED25519_SIG_LEN];
	struct buf manifest;		/* exact signed bytes */
	struct fw_manifest *m;		/* parsed */
};

/* Names on the wire ("pharmacy", "photo", "major") and back: NULL for a
 * value outside the enum, -1 for an unknown name. */
const char *bundle_subject_kind_name(enum fw_subject_kind k);
const char *bundle_evidence_kind_name(enum fw_evidence_kind k);
const char *bundle_severity_name(enum fw_severity s);
int bundle_subject_kind_parse(const char *s);	/* -1 if unknown */
int bundle_evidence_kind_parse(const char *s);
int bundle_severity_parse(const char *s);

/* Times: exactly "YYYY-MM-DDTHH:MM:SSZ", years 1970..9999, a real
 * calendar date, 00:00:00..23:59:59; anything else FW_ERR_FIELD_VALUE.
 * format clamps t to that range (the encoder refuses times outside it). */
fw_err bundle_time_parse(const char *s, int64_t *out);
void bundle_time_format(int64_t t, char out[21]);

/* Canonical bytes of one observation (sorted keys, no whitespace; see the
 * spec) and their SHA-256, which the next observation's "prev" carries. */
fw_err bundle_obs_canonical(const struct fw_obs *o, struct buf *out);
fw_err bundle_obs_hash(const struct fw_obs *o, char out[SHA256_HEX + 1]);
/* Check every field of o against the limits (used before encoding too). */
fw_err bundle_obs_check(const struct fw_obs *o);

/* Manifest JSON: encode (canonical form) and strict parse.  The parser
 * checks that seqs are contiguous and that each prev links to the
 * observation before it inside the manifest; the link of the first one is
 * the caller's to check against what it already holds.  The encoder runs
 * the parser's checks over what it built, so it never writes a manifest the
 * parser refuses; on error out is left as it was.  Messages count
 * observations and evidence from 0: "observation 3: evidence 0: ...". */
fw_err bundle_manifest_encode(const struct fw_manifest *m, struct buf *out);
fw_err bundle_manifest_parse(const uint8_t *p, size_t n,
    struct fw_manifest **out);
void bundle_manifest_free(struct fw_manifest *m);
void bundle_obs_clear(struct fw_obs *o);	/* frees o's members */

/* Seal: encode m, sign with the device key (whose id must equal
 * m->device, else FW_ERR_KEY), compress and append the container to out;
 * id gets the bundle id.  FW_ERR_LIMIT if the container would pass
 * FW_MAX_BUNDLE or its inflation the ratio limit bundle_open applies (seal
 * checks by inflating its own output).  On error out is left as it was. */
fw_err bundle_seal(const struct fw_manifest *m, const struct ed25519_key *k,
    struct buf *out, char id[SHA256_HEX + 1]);
/* Open a container: magic, signature, bounded inflation (FW_MAX_MANIFEST,
 * FW_MAX_INFLATE_RATIO), id, parse.  The signature is not yet checked:
 * the caller finds the device key by b->m->device, then calls
 * bundle_verify.  Errors in this order: FW_ERR_EMPTY (n == 0),
 * FW_ERR_TRUNCATED (n < 68, or no zlib body, or a cut stream),
 * FW_ERR_BAD_MAGIC, FW_ERR_LIMIT (n > FW_MAX_BUNDLE), then inflation's
 * (FW_ERR_INFLATE also for bytes after the stream, FW_ERR_INFLATE_LIMIT)
 * and the manifest parser's.  The container is malleable where zlib
 * ignores bits (the padding after the last block): the id and signature
 * cover the manifest bytes, never the container's. */
fw_err bundle_open(const uint8_t *p, size_t n, struct fw_bundle **out);
/* FW_OK if the signature is k's over the manifest bytes and k's device id
 * is the manifest's device; FW_ERR_SIGNATURE otherwise (the message says
 * "device mismatch" for the second). */
fw_err bundle_verify(const struct fw_bundle *b, const struct ed25519_key *k);
void bundle_free(struct fw_bundle *b);

#endif

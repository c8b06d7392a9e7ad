/*
 * err.h: the one error type of fundwatch.
 *
 * Every public function of common/, agent/ and server/ that can fail returns an
 * fw_err.  Each code has a stable wire name (fw_strerror) used verbatim as the
 * "error" field of the protocol's JSON errors (proto/PROTOCOL.md, section
 * "Errors"), and an HTTP status.  A failing function may also leave a detail
 * message for the calling thread (fw_seterr / fw_errmsg) that says what was
 * wrong, where, and what was expected; the message never contains a secret.
 */
#ifndef FW_ERR_H
#define FW_ERR_H

#include <stddef.h>

/* X(enum, wire name, HTTP status, description).  Append only: never renumber. */
#define FW_ERR_LIST(X)                                                        \
	X(FW_OK, "ok", 200, "success")                                        \
	X(FW_ERR_NOMEM, "no_memory", 503, "out of memory")                   \
	X(FW_ERR_IO, "io", 500, "input/output error")                         \
	X(FW_ERR_NOSPACE, "insufficient_storage", 507, "no space left on device")         \
	X(FW_ERR_INVALID, "invalid_argument", 400, "invalid argument")        \
	X(FW_ERR_INTERNAL, "internal", 500, "internal error")                 \
	X(FW_ERR_CRYPTO, "crypto", 500, "cryptographic library failure")      \
	X(FW_ERR_CONFIG, "config", 500, "bad configuration")                  \
	X(FW_ERR_EXISTS, "exists", 409, "already exists")                     \
	X(FW_ERR_NOT_FOUND, "not_found", 404, "not found")                    \
	X(FW_ERR_EMPTY, "empty_input", 400, "empty input")                    \
	X(FW_ERR_TRUNCATED, "truncated", 400, "input truncated")              \
	X(FW_ERR_LIMIT, "limit_exceeded", 413, "protocol limit exceeded")     \
	X(FW_ERR_BAD_MAGIC, "bad_format", 400, "not a fundwatch bundle")      \
	X(FW_ERR_INFLATE, "bad_compression", 400, "corrupt compressed data")  \
	X(FW_ERR_INFLATE_LIMIT, "inflate_limit", 413,                         \
	  "decompressed size or ratio over the limit")                        \
	X(FW_ERR_JSON, "bad_json", 400, "malformed JSON")                     \
	X(FW_ERR_UTF8, "bad_utf8", 400, "invalid UTF-8")                      \
	X(FW_ERR_FIELD_MISSING, "field_missing", 400, "required field missing") \
	X(FW_ERR_FIELD_TYPE, "field_type", 400, "field has the wrong type")   \
	X(FW_ERR_FIELD_UNKNOWN, "field_unknown", 400, "unknown field")        \
	X(FW_ERR_FIELD_DUPLICATE, "field_duplicate", 400, "duplicated field") \
	X(FW_ERR_FIELD_RANGE, "field_range", 400, "field value out of range") \
	X(FW_ERR_FIELD_LENGTH, "field_length", 400, "field too long or too short") \
	X(FW_ERR_FIELD_VALUE, "field_value", 400, "field value not allowed")  \
	X(FW_ERR_VERSION, "unsupported_version", 400,                         \
	  "unsupported protocol version")                                      \
	X(FW_ERR_SEQUENCE, "sequence", 400, "sequence numbers not contiguous") \
	X(FW_ERR_CHAIN, "chain_broken", 400, "observation hash chain broken") \
	X(FW_ERR_SIGNATURE, "bad_signature", 401, "signature does not verify") \
	X(FW_ERR_KEY, "bad_key", 400, "malformed or wrong-type key")          \
	X(FW_ERR_KEY_PERMS, "key_permissions", 500,                           \
	  "private key file readable by group or others")                      \
	X(FW_ERR_HASH_MISMATCH, "hash_mismatch", 400,                         \
	  "content does not match its SHA-256")                                \
	X(FW_ERR_AGE_HEADER, "age_header", 400, "malformed age header")       \
	X(FW_ERR_AGE_NO_MATCH, "age_no_match", 400,                           \
	  "no age identity matches a recipient stanza")                        \
	X(FW_ERR_AGE_HMAC, "age_hmac", 400, "age header MAC does not verify") \
	X(FW_ERR_AGE_PAYLOAD, "age_payload", 400, "age payload corrupt or truncated") \
	X(FW_ERR_AGE_UNSUPPORTED, "age_unsupported", 400,                     \
	  "unsupported age feature")                                           \
	X(FW_ERR_AUTH, "unauthenticated", 401, "request not authenticated")   \
	X(FW_ERR_CLOCK_SKEW, "clock_skew", 401, "request time outside the window") \
	X(FW_ERR_REPLAY, "replay", 401, "request nonce already used")         \
	X(FW_ERR_UNKNOWN_DEVICE, "unknown_device", 403, "device not enrolled") \
	X(FW_ERR_REVOKED, "device_revoked", 403, "device revoked")            \
	X(FW_ERR_NOT_APPOINTED, "not_appointed", 403,                         \
	  "supervisor appointment not active at capture time")                 \
	X(FW_ERR_ENROLL_CODE, "bad_enrollment_code", 403,                     \
	  "enrollment code unknown, used or expired")                          \
	X(FW_ERR_FORBIDDEN, "forbidden", 403, "not permitted")                \
	X(FW_ERR_CONFLICT, "conflict", 409,                                   \
	  "same id already stored with different content")                     \
	X(FW_ERR_OFFSET, "bad_offset", 409, "upload offset does not match")   \
	X(FW_ERR_INCOMPLETE, "incomplete", 409, "blobs still missing")        \
	X(FW_ERR_METHOD, "method_not_allowed", 405, "method not allowed")     \
	X(FW_ERR_RATE, "rate_limited", 429, "too many requests")              \
	X(FW_ERR_POLICY, "policy", 422, "refused by the policy profile")      \
	X(FW_ERR_UNAVAILABLE, "unavailable", 503, "service unavailable")

#define FW_ERR_ENUM_(e, name, status, desc) e,
typedef enum fw_err { FW_ERR_LIST(FW_ERR_ENUM_) FW_ERR_COUNT_ } fw_err;
#undef FW_ERR_ENUM_

/* Wire name of e ("bad_signature"); "unknown" for a value outside the enum. */
const char *fw_strerror(fw_err e);
/* One-line English description of the class of error. */
const char *fw_errdesc(fw_err e);
/* HTTP status the server answers with for e. */
int fw_err_http_status(fw_err e);
/* Code for a wire name, or FW_ERR_INTERNAL for an unknown name. */
fw_err fw_err_from_name(const char *name);

/*
 * Record a detail message for the calling thread and return e, so that
 * callers write `return fw_seterr(FW_ERR_FIELD_RANGE, "observation %zu: 'seq' is 0, expected >= 1", i);`.
 * The message is truncated to FW_ERRMSG_MAX - 1 bytes.
 */
#define FW_ERRMSG_MAX 512
fw_err fw_seterr(fw_err e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current detail message with "prefix: " and return e. */
fw_err fw_errctx(fw_err e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The calling thread's last detail message; the description of the last
 * code if none was set.  Valid until the next fw_seterr on this thread. */
const char *fw_errmsg(void);
/* Forget the last detail message. */
void fw_errclear(void);

#endif

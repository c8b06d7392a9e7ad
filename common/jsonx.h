/*
 * jsonx.h: strict JSON helpers over jansson.
 *
 * Loading maps jansson's error codes onto fw_err (duplicate key ->
 * FW_ERR_FIELD_DUPLICATE, invalid UTF-8 -> FW_ERR_UTF8, integer or real
 * overflow -> FW_ERR_FIELD_RANGE, "\u0000" in a string or key ->
 * FW_ERR_FIELD_VALUE (a control character, as the getters say of the others),
 * nesting deeper than jansson's 2048 -> FW_ERR_LIMIT, anything else, escaped
 * lone surrogates included -> FW_ERR_JSON) and names the byte position.
 * Getters check type, presence and bounds and name the field in the error
 * ("observation 3: field 'seq' is 0, expected 1..9007199254740991").
 * Canonical dump: sorted keys, no whitespace, no reals, raw UTF-8, '/' not
 * escaped; strings escape only '"', '\\' and the controls that have a
 * two-character escape (\b \t \n \f \r); any other control character
 * is refused, since jansson writes "\u001F" where Python writes "\u001f".
 * The result equals Python's json.dumps(v, sort_keys=True,
 * separators=(',', ':'), ensure_ascii=False).
 * Every message is printable UTF-8: bytes taken from the input (keys,
 * jansson's "near '...'") are sanitized before they are formatted.
 */
#ifndef FW_JSONX_H
#define FW_JSONX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

/* Parse n bytes holding one object or array (trailing whitespace only);
 * FW_ERR_EMPTY for n == 0.  *out is the caller's to json_decref. */
fw_err jsonx_load(const void *p, size_t n, json_t **out);
/* The same, but first a scan of the raw bytes (no allocation) refuses with
 * FW_ERR_LIMIT a document of more than max_items values and keys or more
 * than max_containers objects and arrays.  jansson spends ~80 bytes of heap
 * per byte of "{}" (8 MiB of them cost 650 MB): parsers facing the network
 * bound the tree by what their schema can hold, not only by n. */
fw_err jsonx_load_bounded(const void *p, size_t n, size_t max_items,
    size_t max_containers, json_t **out);
/* Canonical dump of v (objects, arrays, strings, integers, true/false/null)
 * appended to out.  FW_ERR_FIELD_TYPE if v holds a real, FW_ERR_FIELD_VALUE
 * for a control character that needs a \u escape, FW_ERR_LIMIT for nesting
 * past 64 or past out's cap (out is then left as it was). */
fw_err jsonx_dump_canonical(const json_t *v, struct buf *out);

/* Refuse keys of obj not in the NULL-terminated list. */
fw_err jsonx_check_keys(const json_t *obj, const char *const *allowed,
    const char *where);
/* JSON type of v for messages ("string", "real", "missing" for NULL). */
const char *jsonx_type_name(const json_t *v);
/* True if p[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF). */
int jsonx_utf8_valid(const char *p, size_t n);

/* String field: required unless opt; length in bytes within [minlen,maxlen]
 * (FW_ERR_FIELD_LENGTH); no control characters (U+0000..U+001F, U+007F)
 * except, if text, '\n' and '\t' (FW_ERR_FIELD_VALUE).  *out points into
 * obj (NULL if absent and opt).  where prefixes the message (may be NULL). */
fw_err jsonx_get_str(const json_t *obj, const char *key, int opt, int text,
    size_t minlen, size_t maxlen, const char **out, const char *where);
/* The same checks on a value v that is not an object member (an array
 * element): name is what the message calls it ("categories[2]"). */
fw_err jsonx_check_str(const json_t *v, const char *name, int text,
    size_t minlen, size_t maxlen, const char **out, const char *where);
/* Integer field within [min,max]; a real is FW_ERR_FIELD_TYPE.  *present
 * (may be NULL) says if found; *out is left alone if absent. */
fw_err jsonx_get_int(const json_t *obj, const char *key, int opt,
    int64_t min, int64_t max, int64_t *out, int *present, const char *where);
/* Array field with element count within [minn,maxn]. */
fw_err jsonx_get_array(const json_t *obj, const char *key, int opt,
    size_t minn, size_t maxn, const json_t **out, const char *where);
fw_err jsonx_get_object(const json_t *obj, const char *key, int opt,
    const json_t **out, const char *where);

/* The protocol's error body {"error": fw_strerror(e), "message": msg}
 * appended to out (canonical form). */
fw_err jsonx_error_body(fw_err e, const char *msg, struct buf *out);

#endif

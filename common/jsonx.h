/*
 * jsonx.h: strict JSON helpers over jansson.
 *
 * Loading maps jansson's error codes onto fw_err (duplicate key ->
 * FW_ERR_FIELD_DUPLICATE, invalid UTF-8 -> FW_ERR_UTF8, integer overflow ->
 * FW_ERR_FIELD_RANGE, anything else -> FW_ERR_JSON) and names the position.
 * Getters check type, presence and bounds and name the field in the error
 * ("observation 3: field 'seq' is 0, expected >= 1").
 * Canonical dump: sorted keys, no whitespace, no reals, raw UTF-8; strings
 * escape only '"', '\\', '\n', '\t' (other control characters are refused
 * by the getters before they get there).
 */
#ifndef FW_JSONX_H
#define FW_JSONX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

fw_err jsonx_load(const void *p, size_t n, json_t **out);
/* Canonical dump of v (objects, arrays, strings, integers, true/false/null)
 * appended to out.  FW_ERR_FIELD_TYPE if v holds a real. */
fw_err jsonx_dump_canonical(const json_t *v, struct buf *out);

/* Refuse keys of obj not in the NULL-terminated list. */
fw_err jsonx_check_keys(const json_t *obj, const char *const *allowed,
    const char *where);
/* String field: required unless opt; length in bytes within [minlen,maxlen];
 * no control characters except, if text, '\n' and '\t'.  *out points into
 * obj (NULL if absent and opt). */
fw_err jsonx_get_str(const json_t *obj, const char *key, int opt, int text,
    size_t minlen, size_t maxlen, const char **out, const char *where);
/* Integer field within [min,max]. *present (may be NULL) says if found. */
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

/*
 * hex.h: lowercase hex and RFC 4648 base64 (padded, and unpadded as age
 * uses), strict in what they accept: no whitespace, canonical padding bits.
 */
#ifndef FW_HEX_H
#define FW_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* out gets 2n+1 bytes (NUL-terminated lowercase hex). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly n bytes from 2n lowercase or uppercase hex digits;
 * FW_ERR_INVALID on a wrong length or a non-hex digit. */
fw_err hex_decode(const char *in, size_t inlen, uint8_t *out, size_t n);
/* True if s is exactly len lowercase hex digits. */
int hex_is_lower(const char *s, size_t len);

/* Base64 with padding; out gets base64_enclen(n)+1 bytes. */
size_t base64_enclen(size_t n);
void base64_encode(const uint8_t *in, size_t n, char *out);
/* Unpadded variant (age); out gets base64_enclen_raw(n)+1 bytes. */
size_t base64_enclen_raw(size_t n);
void base64_encode_raw(const uint8_t *in, size_t n, char *out);
/* Decode; padded selects which form is required.  Refuses characters
 * outside the alphabet, wrong padding and non-zero trailing bits
 * (non-canonical encodings).  *outlen is set to the decoded length;
 * FW_ERR_LIMIT if it would exceed cap. */
fw_err base64_decode(const char *in, size_t inlen, int padded,
    uint8_t *out, size_t cap, size_t *outlen);

#endif

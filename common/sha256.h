/*
 * sha256.h: streaming SHA-256 (OpenSSL EVP).
 */
#ifndef FW_SHA256_H
#define FW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHA256_LEN 32
#define SHA256_HEX (2 * SHA256_LEN)

struct sha256;	/* opaque */

fw_err sha256_new(struct sha256 **out);
fw_err sha256_update(struct sha256 *s, const void *p, size_t n);
/* Writes the digest and resets s for reuse. */
fw_err sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN]);
void sha256_free(struct sha256 *s);
/* One-shot. */
fw_err sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
/* One-shot to lowercase hex (out gets SHA256_HEX + 1 bytes). */
fw_err sha256_hex(const void *p, size_t n, char out[SHA256_HEX + 1]);
/* Hash a whole file by streaming it; *size gets its length if non-NULL. */
fw_err sha256_file(const char *path, uint8_t out[SHA256_LEN], uint64_t *size);

#endif

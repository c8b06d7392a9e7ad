/*
 * age.h: age v1 (https://age-encryption.org/v1) streaming encryption and
 * decryption for X25519 recipients, binary (unarmored) files.
 *
 * Both directions are push-style and use constant memory whatever the size
 * of the file: the caller feeds bytes with _update, the object emits output
 * through a write callback.  The decryptor releases a 64 KiB chunk of
 * plaintext only after its Poly1305 tag verified, so a corrupt or truncated
 * file may release a verified prefix and then fail, never unverified bytes.
 *
 * Error classes (distinct, as the C2SP CCTV suite requires):
 *   FW_ERR_AGE_HEADER       the header does not parse (or version unknown);
 *                           a malformed X25519 stanza (argument count,
 *                           share or body length, non-canonical base64), a
 *                           low-order share, an scrypt stanza beside others;
 *                           the 16-byte payload nonce missing or short (age
 *                           reads it with the header; CCTV stream_no_nonce)
 *   FW_ERR_AGE_UNSUPPORTED  the header parses, has no X25519 stanza, and has
 *                           a stanza of a native age type we do not
 *                           implement (scrypt, mlkem768x25519, p256tag,
 *                           mlkem768p256tag); also an ASCII-armored file
 *   FW_ERR_AGE_NO_MATCH     no X25519 stanza unwraps with our identities, or
 *                           the stanzas are all of unknown types (CCTV
 *                           x25519_lowercase expects "no match" there)
 *   FW_ERR_AGE_HMAC         the header MAC does not verify
 *   FW_ERR_AGE_PAYLOAD      STREAM chunk missing, corrupt, short, empty
 *                           final chunk, no final chunk, trailing data
 *
 * Bounds: a header over AGE_HEADER_MAX bytes is FW_ERR_AGE_HEADER; memory
 * is one header buffer (freed when the header ends) and two 64 KiB chunk
 * buffers.
 */
#ifndef FW_AGE_H
#define FW_AGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AGE_KEY_LEN 32
#define AGE_CHUNK (64u << 10)
#define AGE_HEADER_MAX (64u << 10)	/* bytes of header, MAC line included */
#define AGE_MAX_IDENTITIES 64		/* per decryptor */

/* Output sink: must consume all n bytes or return an error, which aborts
 * the stream and is returned by the pending call. */
typedef fw_err (*age_write_fn)(void *ctx, const uint8_t *p, size_t n);

/* Keys.  An identity is "AGE-SECRET-KEY-1..." (Bech32, upper case), a
 * recipient "age1..." (Bech32, lower case).  Parsers refuse mixed case,
 * bad checksums, wrong HRPs and wrong lengths with FW_ERR_KEY. */
fw_err age_keygen(uint8_t identity[AGE_KEY_LEN]);
fw_err age_identity_parse(const char *s, uint8_t identity[AGE_KEY_LEN]);
/* An identity file as age-keygen writes it: '#' comment lines, blank
 * lines, and exactly one AGE-SECRET-KEY-1 line.  FW_ERR_KEY_PERMS if group
 * or others may read it (expected 0600), FW_ERR_KEY if it is not a regular
 * file, is over 4 KiB, or holds no or several identities or another line;
 * FW_ERR_NOT_FOUND / FW_ERR_IO from opening and reading. */
fw_err age_identity_load(const char *path, uint8_t identity[AGE_KEY_LEN]);
fw_err age_identity_format(const uint8_t identity[AGE_KEY_LEN], char *out,
    size_t outsz);	/* outsz >= 75 */
fw_err age_recipient_parse(const char *s, uint8_t recipient[AGE_KEY_LEN]);
fw_err age_recipient_format(const uint8_t recipient[AGE_KEY_LEN], char *out,
    size_t outsz);	/* outsz >= 63 */
fw_err age_recipient_of(const uint8_t identity[AGE_KEY_LEN],
    uint8_t recipient[AGE_KEY_LEN]);

struct age_enc;
/* Writes the header at once through w. */
fw_err age_enc_new(struct age_enc **out, const uint8_t recipient[AGE_KEY_LEN],
    age_write_fn w, void *ctx);
fw_err age_enc_update(struct age_enc *e, const void *p, size_t n);
/* Writes the final chunk; the object is spent after it. */
fw_err age_enc_final(struct age_enc *e);
void age_enc_free(struct age_enc *e);	/* wipes keys */

struct age_dec;
/* identities: n private X25519 keys, copied; 1 <= n <= AGE_MAX_IDENTITIES,
 * else FW_ERR_INVALID.  After an error every later call returns it again. */
fw_err age_dec_new(struct age_dec **out, const uint8_t (*identities)[AGE_KEY_LEN],
    size_t n, age_write_fn w, void *ctx);
fw_err age_dec_update(struct age_dec *d, const void *p, size_t n);
/* End of input: FW_OK only if the last chunk was a verified final chunk. */
fw_err age_dec_final(struct age_dec *d);
void age_dec_free(struct age_dec *d);

/* Whole-descriptor conveniences built on the above (read until EOF). */
fw_err age_encrypt_fd(int in, int out, const uint8_t recipient[AGE_KEY_LEN]);
fw_err age_decrypt_fd(int in, int out, const uint8_t identity[AGE_KEY_LEN]);

#endif

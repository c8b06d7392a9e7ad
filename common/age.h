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
 *   FW_ERR_AGE_HEADER       the header does not parse (or version unknown)
 *   FW_ERR_AGE_UNSUPPORTED  the header parses but uses a recipient type we
 *                           do not implement, and nothing else matched
 *   FW_ERR_AGE_NO_MATCH     no X25519 stanza unwraps with our identities
 *   FW_ERR_AGE_HMAC         the header MAC does not verify
 *   FW_ERR_AGE_PAYLOAD      nonce or STREAM chunk missing, corrupt, short,
 *                           misplaced final chunk, trailing data
 */
#ifndef FW_AGE_H
#define FW_AGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define AGE_KEY_LEN 32
#define AGE_CHUNK (64u << 10)

/* Output sink: must consume all n bytes or return an error, which aborts
 * the stream and is returned by the pending call. */
typedef fw_err (*age_write_fn)(void *ctx, const uint8_t *p, size_t n);

/* Keys.  An identity is "AGE-SECRET-KEY-1..." (Bech32, upper case), a
 * recipient "age1..." (Bech32, lower case).  Parsers refuse mixed case,
 * bad checksums, wrong HRPs and wrong lengths with FW_ERR_KEY. */
fw_err age_keygen(uint8_t identity[AGE_KEY_LEN]);
fw_err age_identity_parse(const char *s, uint8_t identity[AGE_KEY_LEN]);
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
/* identities: n private X25519 keys, copied. */
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

/*
 * ed25519.h: Ed25519 keys, signatures and key files (OpenSSL EVP).
 *
 * Private keys live in PKCS#8 PEM files of mode 0600; loading one that the
 * group or others can read is refused (FW_ERR_KEY_PERMS), as ssh does.
 * Public keys travel as 32 raw bytes (base64 on the wire) or SPKI PEM.
 * A device id is the lowercase hex of the first 16 bytes of the SHA-256 of
 * the raw public key (32 characters).
 */
#ifndef FW_ED25519_H
#define FW_ED25519_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ED25519_SEED_LEN 32
#define ED25519_PUB_LEN 32
#define ED25519_SIG_LEN 64
#define ED25519_DEVICE_ID_LEN 32	/* hex characters */

struct ed25519_key;	/* opaque; holds a private key, or a public one only */

fw_err ed25519_generate(struct ed25519_key **out);
/* Private key from its 32-byte seed (RFC 8032's "secret key"); for test
 * vectors and key import. */
fw_err ed25519_from_seed(const uint8_t seed[ED25519_SEED_LEN],
    struct ed25519_key **out);
/* Load a private key file (PEM PKCS#8), checking its mode. */
fw_err ed25519_load_private(const char *path, struct ed25519_key **out);
/* Save the private key durably with mode 0600; refuses to overwrite. */
fw_err ed25519_save_private(const struct ed25519_key *k, const char *path);
/* Public key from 32 raw bytes / from a PEM SPKI file. */
fw_err ed25519_from_public(const uint8_t pub[ED25519_PUB_LEN],
    struct ed25519_key **out);
fw_err ed25519_load_public(const char *path, struct ed25519_key **out);
fw_err ed25519_save_public(const struct ed25519_key *k, const char *path);
fw_err ed25519_public(const struct ed25519_key *k, uint8_t pub[ED25519_PUB_LEN]);
/* out gets ED25519_DEVICE_ID_LEN + 1 bytes. */
fw_err ed25519_device_id(const struct ed25519_key *k, char *out);
fw_err ed25519_device_id_raw(const uint8_t pub[ED25519_PUB_LEN], char *out);
/* Sign msg with a private key. */
fw_err ed25519_sign(const struct ed25519_key *k, const void *msg, size_t n,
    uint8_t sig[ED25519_SIG_LEN]);
/* FW_OK if sig is k's signature of msg, FW_ERR_SIGNATURE otherwise. */
fw_err ed25519_verify(const struct ed25519_key *k, const void *msg, size_t n,
    const uint8_t sig[ED25519_SIG_LEN]);
void ed25519_free(struct ed25519_key *k);

#endif

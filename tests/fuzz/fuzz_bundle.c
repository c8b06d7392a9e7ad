/*
 * fuzz_bundle.c: libFuzzer harness for the bundle container: bundle_open
 * (magic, bounded inflation, id, manifest parse) then bundle_verify with
 * one fixed key, as the server does with a device's key.
 *
 * The key is made from a fixed seed so that the seeds in
 * tests/fuzz/corpus/bundle/ (sealed with it) reach signature checking
 * and the mutations of their manifest reach the parser.  abort() marks a
 * broken invariant: an opened bundle's id must be the SHA-256 of its
 * manifest bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A test key, known to anyone: never a device's. */
static const uint8_t fuzz_seed[ED25519_SEED_LEN] =
    "fundwatch fuzz_bundle test seed!";
static struct ed25519_key *fuzz_key;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[SHA256_HEX + 1];
	struct fw_bundle *b = NULL;
	fw_err e;

	if (fuzz_key == NULL && ed25519_from_seed(fuzz_seed, &fuzz_key) != FW_OK)
		abort();
	if (bundle_open(data, size, &b) != FW_OK) {
		if (b != NULL)
			abort();
		return 0;
	}
	if (sha256_hex(b->manifest.data, b->manifest.len, id) != FW_OK ||
	    strcmp(id, b->id) != 0)
		abort();
	e = bundle_verify(b, fuzz_key);
	if (e != FW_OK && e != FW_ERR_SIGNATURE)
		abort();
	bundle_free(b);
	return 0;
}

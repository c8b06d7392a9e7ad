/*
 * fuzz_manifest.c: libFuzzer harness for the manifest parser
 * (bundle_manifest_parse), the JSON the server reads after inflation.
 *
 * Any input must be refused with an error or parsed; a parsed manifest
 * must re-encode, the re-encoding must parse, and encoding that again must
 * give the same bytes: the canonical form is a fixed point.  abort() marks
 * a broken invariant.  Seeds: tests/fuzz/corpus/manifest/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_manifest *m = NULL, *m2 = NULL;
	struct buf a, b;

	if (bundle_manifest_parse(data, size, &m) != FW_OK) {
		if (m != NULL)
			abort();
		return 0;
	}
	buf_init(&a, FW_MAX_MANIFEST);
	buf_init(&b, FW_MAX_MANIFEST);
	if (bundle_manifest_encode(m, &a) != FW_OK ||
	    bundle_manifest_parse(a.data, a.len, &m2) != FW_OK ||
	    bundle_manifest_encode(m2, &b) != FW_OK)
		abort();
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	/* Canonical form is never longer than what it was parsed from. */
	if (a.len > size)
		abort();
	buf_free(&a);
	buf_free(&b);
	bundle_manifest_free(m);
	bundle_manifest_free(m2);
	return 0;
}

/*
 * fuzz_compress.c: libFuzzer harness for compress_inflate.
 *
 * Any input must give a specific error with the output untouched, or a
 * result within the cap that deflates and inflates back to itself.  The
 * cap is small so that bombs are cheap to find and to refuse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "fw.h"

#define FUZZ_CAP	(256u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(const struct buf *out)
{
	struct buf z, back;

	buf_init(&z, 2 * FUZZ_CAP);
	buf_init(&back, FUZZ_CAP);
	if (compress_deflate(out->data, out->len, &z) != FW_OK)
		abort();
	if (compress_inflate(z.data, z.len, out->len, 0, &back) != FW_OK)
		abort();
	if (back.len != out->len ||
	    (out->len > 0 && memcmp(back.data, out->data, out->len) != 0))
		abort();
	buf_free(&z);
	buf_free(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	fw_err e;

	buf_init(&out, 4 * FUZZ_CAP);
	if (buf_addstr(&out, "keep") != FW_OK)
		abort();
	e = compress_inflate(data, size, FUZZ_CAP, FW_MAX_INFLATE_RATIO, &out);
	switch (e) {
	case FW_OK:
		if (out.len < 4 || out.len - 4 > FUZZ_CAP ||
		    memcmp(out.data, "keep", 4) != 0)
			abort();
		memmove(out.data, out.data + 4, out.len - 4);
		out.len -= 4;
		check_round_trip(&out);
		break;
	case FW_ERR_EMPTY:
	case FW_ERR_INFLATE:
	case FW_ERR_TRUNCATED:
	case FW_ERR_INVALID:
	case FW_ERR_INFLATE_LIMIT:
		/* Refused: the output is as it was. */
		if (out.len != 4 || memcmp(out.data, "keep", 5) != 0)
			abort();
		break;
	default:
		abort();
	}
	buf_free(&out);
	return 0;
}

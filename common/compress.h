/*
 * compress.h: zlib-format deflate and inflate with caps.
 *
 * Inflation is bounded twice: the output never exceeds `cap` bytes, and past
 * the first FW_INFLATE_RATIO_FREE bytes of output the ratio output/input
 * consumed never exceeds `max_ratio`.  Memory allocated is at most cap plus
 * zlib's fixed window: a 1 KiB -> 1 GiB bomb is refused having allocated no
 * more than the cap.
 */
#ifndef FW_COMPRESS_H
#define FW_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/* Append the zlib stream (level 9) of in to out (out's cap applies). */
fw_err compress_deflate(const void *in, size_t n, struct buf *out);
/* Inflate exactly one complete zlib stream that spans all of in.
 * FW_ERR_EMPTY on empty input, FW_ERR_INFLATE on corrupt data or a checksum
 * mismatch, FW_ERR_TRUNCATED if the stream ends early, FW_ERR_INVALID for
 * bytes after the stream's end, FW_ERR_INFLATE_LIMIT past cap or ratio. */
fw_err compress_inflate(const void *in, size_t n, size_t cap,
    unsigned max_ratio, struct buf *out);

#endif

/*
 * compress.c: zlib-format deflate and capped inflate (compress.h).
 *
 * Inflation is where hostile input meets memory, so it never lets zlib
 * write into the caller's buffer: zlib fills a fixed window, the two
 * limits (cap and ratio) are checked, and only then is the window appended
 * to the output.  The output buffer's own cap is lowered to the inflate cap
 * for the call, so that its doubling growth cannot allocate past it
 * either.  On any failure the output is put back as it was.
 *
 * max_ratio 0 means no ratio limit (the cap still applies); callers facing
 * the network pass FW_MAX_INFLATE_RATIO.
 */
#include <limits.h>
#include <string.h>
#define ZLIB_CONST
#include <zlib.h>

#include "buf.h"
#include "compress.h"
#include "fw.h"

#define COMPRESS_WINDOW	(16u << 10)	/* zlib's output window, on the stack */
#define COMPRESS_FEED	(1u << 30)	/* input per call: avail_in is a uInt */

/* Feed the next slice of in to zs when it has used up the last one. */
static void
compress_feed(z_stream *zs, const uint8_t *in, size_t n, size_t *fed)
{
	size_t chunk;

	if (zs->avail_in > 0 || *fed == n)
		return;
	chunk = n - *fed;
	if (chunk > COMPRESS_FEED)
		chunk = COMPRESS_FEED;
	zs->next_in = in + *fed;
	zs->avail_in = (uInt)chunk;
	*fed += chunk;
}

/* Put out back to the length it had before a failed call. */
static void
compress_undo(struct buf *out, size_t len)
{
	out->len = len;
	if (out->data != NULL)
		out->data[len] = 0;
}

fw_err
compress_deflate(const void *in, size_t n, struct buf *out)
{
	uint8_t window[COMPRESS_WINDOW];
	size_t fed = 0, got, orig = out->len, iter, maxiter;
	z_stream zs;
	fw_err e = FW_OK;
	int ret, flush;

	memset(&zs, 0, sizeof zs);
	if (deflateInit(&zs, 9) != Z_OK)
		return fw_seterr(FW_ERR_NOMEM, "deflate: cannot initialise zlib");
	/* Each pass fills the window or uses up one slice of input. */
	maxiter = deflateBound(&zs, n) / COMPRESS_WINDOW + n / COMPRESS_FEED + 8;
	for (iter = 0; iter < maxiter; iter++) {
		compress_feed(&zs, in, n, &fed);
		flush = fed == n ? Z_FINISH : Z_NO_FLUSH;
		zs.next_out = window;
		zs.avail_out = sizeof window;
		ret = deflate(&zs, flush);
		if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
			e = fw_seterr(FW_ERR_INTERNAL, "deflate: zlib error %d", ret);
			break;
		}
		got = sizeof window - zs.avail_out;
		if ((e = buf_add(out, window, got)) == FW_ERR_LIMIT)
			e = fw_seterr(FW_ERR_LIMIT,
			    "deflate: output passed the cap of %zu bytes", out->cap);
		if (e != FW_OK)
			break;
		if (ret == Z_STREAM_END)
			break;
	}
	if (e == FW_OK && iter == maxiter)
		e = fw_seterr(FW_ERR_INTERNAL, "deflate: zlib made no progress");
	deflateEnd(&zs);
	if (e != FW_OK)
		compress_undo(out, orig);
	return e;
}

/* The two limits, checked before the window is appended. */
static fw_err
compress_check(size_t total, size_t consumed, size_t cap, unsigned max_ratio)
{
	if (total > cap)
		return fw_seterr(FW_ERR_INFLATE_LIMIT,
		    "inflate: output passed the cap of %zu bytes", cap);
	if (max_ratio == 0 || total <= FW_INFLATE_RATIO_FREE)
		return FW_OK;
	if (consumed <= SIZE_MAX / max_ratio && total > consumed * max_ratio)
		return fw_seterr(FW_ERR_INFLATE_LIMIT,
		    "inflate: %zu bytes out of %zu in passes the ratio limit of %u",
		    total, consumed, max_ratio);
	return FW_OK;
}

/* What a zlib return code other than Z_OK/Z_STREAM_END means for us. */
static fw_err
compress_zerr(const z_stream *zs, int ret, size_t consumed, size_t n)
{
	switch (ret) {
	case Z_BUF_ERROR:
		/* No progress possible: with a fresh output window that
		 * only happens when the input has run out. */
		return fw_seterr(FW_ERR_TRUNCATED,
		    "inflate: input ends after %zu bytes before the end of the stream", n);
	case Z_DATA_ERROR:
		return fw_seterr(FW_ERR_INFLATE, "inflate: corrupt data near input byte %zu: %s",
		    consumed, zs->msg != NULL ? zs->msg : "data error");
	case Z_NEED_DICT:
		return fw_seterr(FW_ERR_INFLATE,
		    "inflate: stream needs a preset dictionary");
	case Z_MEM_ERROR:
		return fw_seterr(FW_ERR_NOMEM, "inflate: out of memory");
	default:
		return fw_seterr(FW_ERR_INTERNAL, "inflate: zlib error %d", ret);
	}
}

/* The inflate loop proper; out's cap already lowered to the limit. */
static fw_err
compress_inflate_loop(z_stream *zs, const uint8_t *in, size_t n, size_t cap,
    unsigned max_ratio, struct buf *out)
{
	uint8_t window[COMPRESS_WINDOW];
	size_t fed = 0, total = 0, consumed, got, iter, maxiter;
	fw_err e;
	int ret;

	/* inflate stops only when the window is full, the slice of input
	 * is used up, or the stream ends: so each pass adds a window to the
	 * output (at most cap / window times before the cap trips) or ends
	 * a slice of input. */
	maxiter = cap / COMPRESS_WINDOW + n / COMPRESS_FEED + 8;
	for (iter = 0; iter < maxiter; iter++) {
		compress_feed(zs, in, n, &fed);
		zs->next_out = window;
		zs->avail_out = sizeof window;
		ret = inflate(zs, Z_NO_FLUSH);
		consumed = fed - zs->avail_in;
		if (ret != Z_OK && ret != Z_STREAM_END)
			return compress_zerr(zs, ret, consumed, n);
		got = sizeof window - zs->avail_out;
		total += got;
		if ((e = compress_check(total, consumed, cap, max_ratio)) != FW_OK)
			return e;
		if ((e = buf_add(out, window, got)) == FW_ERR_LIMIT)
			return fw_seterr(FW_ERR_INFLATE_LIMIT,
			    "inflate: output passed the buffer's cap of %zu bytes",
			    out->cap);
		if (e != FW_OK)
			return e;
		if (ret == Z_STREAM_END) {
			if (consumed < n)
				return fw_seterr(FW_ERR_INVALID,
				    "inflate: %zu bytes after the end of the stream",
				    n - consumed);
			return FW_OK;
		}
	}
	return fw_seterr(FW_ERR_INTERNAL, "inflate: zlib made no progress");
}

fw_err
compress_inflate(const void *in, size_t n, size_t cap, unsigned max_ratio,
    struct buf *out)
{
	size_t orig = out->len, outcap = out->cap;
	z_stream zs;
	fw_err e;

	if (n == 0)
		return fw_seterr(FW_ERR_EMPTY, "inflate: empty input");
	memset(&zs, 0, sizeof zs);
	if (inflateInit(&zs) != Z_OK)
		return fw_seterr(FW_ERR_NOMEM, "inflate: cannot initialise zlib");
	if (cap < outcap - orig)
		out->cap = orig + cap;
	e = compress_inflate_loop(&zs, in, n, cap, max_ratio, out);
	inflateEnd(&zs);
	out->cap = outcap;
	if (e != FW_OK)
		compress_undo(out, orig);
	return e;
}

/*
 * buf.h: a growing byte buffer with a cap fixed at creation (after curl's
 * dynbuf).  Nothing in fundwatch grows without a bound: appending past the
 * cap fails with FW_ERR_LIMIT and leaves the buffer as it was.
 */
#ifndef FW_BUF_H
#define FW_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct buf {
	uint8_t *data;	/* NUL-terminated past len for convenience */
	size_t len;
	size_t alloc;
	size_t cap;	/* largest len allowed */
};

void buf_init(struct buf *b, size_t cap);
void buf_free(struct buf *b);		/* frees data, keeps cap; reusable */
void buf_reset(struct buf *b);		/* len = 0, keeps memory */
fw_err buf_add(struct buf *b, const void *p, size_t n);
fw_err buf_addstr(struct buf *b, const char *s);
fw_err buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Make room for n more bytes; returns a pointer to them or NULL (LIMIT/NOMEM
 * in fw_errmsg).  Commit with buf_commit(b, used). */
uint8_t *buf_reserve(struct buf *b, size_t n);
void buf_commit(struct buf *b, size_t n);
/* Hand the data to the caller (who frees it) and reset b. */
uint8_t *buf_take(struct buf *b, size_t *len);

#endif

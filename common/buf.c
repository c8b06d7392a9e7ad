/*
 * buf.c: capped growing buffers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = 0;
}

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	size_t want, na;
	uint8_t *p;

	if (n > b->cap || b->len > b->cap - n) {
		fw_seterr(FW_ERR_LIMIT, "buffer: %zu more bytes would pass the cap of %zu",
		    n, b->cap);
		return NULL;
	}
	want = b->len + n + 1;
	if (want <= b->alloc)
		return b->data + b->len;
	na = b->alloc ? b->alloc : 256;
	while (na < want)
		na = na > SIZE_MAX / 2 ? want : na * 2;
	if (b->cap < SIZE_MAX && na > b->cap + 1)
		na = b->cap + 1;
	if ((p = realloc(b->data, na)) == NULL) {
		fw_seterr(FW_ERR_NOMEM, "buffer: cannot grow to %zu bytes", na);
		return NULL;
	}
	b->data = p;
	b->alloc = na;
	return b->data + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
	b->data[b->len] = 0;
}

fw_err
buf_add(struct buf *b, const void *p, size_t n)
{
	uint8_t *dst = buf_reserve(b, n);

	if (dst == NULL)
		return n > b->cap || b->len > b->cap - n ? FW_ERR_LIMIT : FW_ERR_NOMEM;
	if (n > 0)
		memcpy(dst, p, n);
	buf_commit(b, n);
	return FW_OK;
}

fw_err
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

fw_err
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	uint8_t *dst;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return fw_seterr(FW_ERR_INVALID, "buffer: bad format");
	if ((dst = buf_reserve(b, (size_t)n)) == NULL)
		return (size_t)n > b->cap - b->len ? FW_ERR_LIMIT : FW_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf((char *)dst, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_commit(b, (size_t)n);
	return FW_OK;
}

uint8_t *
buf_take(struct buf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

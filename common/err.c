/*
 * err.c: names, statuses and per-thread detail messages of fw_err.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

struct err_info {
	const char *name;
	int status;
	const char *desc;
};

#define FW_ERR_INFO_(e, name, status, desc) {name, status, desc},
static const struct err_info err_table[] = {FW_ERR_LIST(FW_ERR_INFO_)};
#undef FW_ERR_INFO_

static _Thread_local char err_msg[FW_ERRMSG_MAX];
static _Thread_local fw_err err_last;

static const struct err_info *
err_lookup(fw_err e)
{
	if ((unsigned)e >= FW_ERR_COUNT_)
		return NULL;
	return &err_table[e];
}

const char *
fw_strerror(fw_err e)
{
	const struct err_info *i = err_lookup(e);
	return i ? i->name : "unknown";
}

const char *
fw_errdesc(fw_err e)
{
	const struct err_info *i = err_lookup(e);
	return i ? i->desc : "unknown error";
}

int
fw_err_http_status(fw_err e)
{
	const struct err_info *i = err_lookup(e);
	return i ? i->status : 500;
}

fw_err
fw_err_from_name(const char *name)
{
	for (unsigned i = 0; name != NULL && i < FW_ERR_COUNT_; i++)
		if (strcmp(err_table[i].name, name) == 0)
			return (fw_err)i;
	return FW_ERR_INTERNAL;
}

fw_err
fw_seterr(fw_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof err_msg, fmt, ap);
	va_end(ap);
	err_last = e;
	return e;
}

fw_err
fw_errctx(fw_err e, const char *fmt, ...)
{
	char old[FW_ERRMSG_MAX];
	size_t n, m;
	va_list ap;

	if (err_msg[0] == '\0' || err_last != e)
		snprintf(old, sizeof old, "%s", fw_errdesc(e));
	else
		memcpy(old, err_msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof err_msg, fmt, ap);
	va_end(ap);
	n = strlen(err_msg);
	if (n + 2 < sizeof err_msg) {
		memcpy(err_msg + n, ": ", 2);
		n += 2;
		m = strlen(old);
		if (m > sizeof err_msg - n - 1)
			m = sizeof err_msg - n - 1;
		memcpy(err_msg + n, old, m);
		err_msg[n + m] = '\0';
	}
	err_last = e;
	return e;
}

const char *
fw_errmsg(void)
{
	if (err_msg[0] == '\0')
		return fw_errdesc(err_last);
	return err_msg;
}

void
fw_errclear(void)
{
	err_msg[0] = '\0';
	err_last = FW_OK;
}

/* SPDX-License-Identifier: MIT */
/*
 * err.c - formatting into struct err. Truncation is marked with "..." rather than failing:
 * an error message must always be recordable.
 */
#include "config.h"

#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
mark_truncated(char *buf, size_t size, int n)
{
	if (n >= 0 && (size_t)n < size)
		return;
	if (size >= 4)
		memcpy(buf + size - 4, "...", 4);
}

void
err_clear(struct err *e)
{
	if (e == NULL)
		return;
	e->cls = ERR_NONE;
	e->sys_errno = 0;
	e->msg[0] = '\0';
}

static void err_vset(struct err *e, enum err_class cls, const char *fmt, va_list ap)
        PRINTF_LIKE(3, 0);

static void
err_vset(struct err *e, enum err_class cls, const char *fmt, va_list ap)
{
	int n;

	e->cls = cls;
	e->sys_errno = 0;
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	mark_truncated(e->msg, sizeof(e->msg), n);
}

int
err_set(struct err *e, enum err_class cls, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	err_vset(e, cls, fmt, ap);
	va_end(ap);
	return -1;
}

int
err_sys(struct err *e, enum err_class cls, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t len;
	int n;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	err_vset(e, cls, fmt, ap);
	va_end(ap);
	len = strlen(e->msg);
	n = snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", strerror(saved));
	mark_truncated(e->msg, sizeof(e->msg), n < 0 ? n : (int)(len + (size_t)n));
	e->sys_errno = saved;
	return -1;
}

int
err_prefix(struct err *e, const char *fmt, ...)
{
	char head[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;
	int n;

	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	mark_truncated(head, sizeof(head), n);
	memcpy(old, e->msg, sizeof(old));
	n = snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old);
	mark_truncated(e->msg, sizeof(e->msg), n);
	return -1;
}

const char *
err_class_name(enum err_class cls)
{
	switch (cls) {
	case ERR_NONE:
		return "none";
	case ERR_INVALID:
		return "invalid";
	case ERR_UNSUPPORTED:
		return "unsupported";
	case ERR_TRANSIENT:
		return "transient";
	case ERR_DB:
		return "db";
	case ERR_CONFIG:
		return "config";
	case ERR_BUG:
		return "bug";
	}
	return "?";
}

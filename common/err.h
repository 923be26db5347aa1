/* SPDX-License-Identifier: MIT */
/*
 * err.h - the one error type of the project.
 *
 * A fallible function takes `struct err *err` last, returns -1 or NULL, and fills `err` only on
 * failure. The class decides a message's fate in worker/ (reject, retry, store FAILURE); the
 * text names the field or object and the reason. No allocation: an err lives on the caller's
 * stack and is copied by value.
 */
#ifndef JANITOR_ERR_H
#define JANITOR_ERR_H

#include <stddef.h>

#include "compat.h"

enum err_class {
	ERR_NONE = 0,    /* no error recorded */
	ERR_INVALID,     /* bad input: reject, store FAILURE, never retry */
	ERR_UNSUPPORTED, /* well-formed but not something we do (pickle, unknown task) */
	ERR_TRANSIENT,   /* connection lost, lock timeout: retry with backoff */
	ERR_DB,          /* the database refused: FAILURE with the server's message */
	ERR_CONFIG,      /* configuration or usage error */
	ERR_BUG,         /* an invariant broke: FAILURE and an error log line */
};

#define ERR_MSG_MAX 512

struct err {
	enum err_class cls;
	int sys_errno;         /* errno captured by err_sys(), 0 otherwise */
	char msg[ERR_MSG_MAX]; /* NUL-terminated, truncated with "..." when too long */
};

/* Reset to "no error". */
void err_clear(struct err *e);

/* Record an error; returns -1 so a caller can `return err_set(...)`. NULL e is allowed. */
int err_set(struct err *e, enum err_class cls, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Like err_set, appending ": strerror(errno)" and keeping errno in sys_errno. */
int err_sys(struct err *e, enum err_class cls, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Prefix the existing message with "prefix: " (adds context on the way up). Returns -1. */
int err_prefix(struct err *e, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* Constant name of a class ("invalid", "transient", ...). */
const char *err_class_name(enum err_class cls);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the result backend interface of worker/: store a task's state meta, read it back,
 * and wait for a READY state. One vtable per backend, chosen by URL scheme ("redis://",
 * "rediss://"; rpc:// and django-db later). Is not: the meta encoder (protocol/ builds the
 * JSON with proto_result_new) nor a broker.
 *
 * Threads: a struct backend is one connection used by one thread at a time; each executor
 * thread opens its own.
 * Ownership: backend_open returns a handle freed by backend_close; get/wait return an owned
 * cJSON meta tree (cJSON_Delete). Every other argument is borrowed.
 * Errors: ERR_CONFIG for a bad URL, ERR_TRANSIENT when the connection is lost or a wait timed
 * out (the message says which), ERR_INVALID for a stored value that is not a result meta.
 */
#ifndef JANITOR_BACKEND_H
#define JANITOR_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "compat.h"
#include "err.h"

struct backend; /* one connection, backend-private */

struct backend_ops {
	const char *name; /* "redis" */
	/* result_expires: seconds a stored meta lives (0 = forever: plain SET). */
	struct backend *(*open)(const char *url, int64_t result_expires, struct err *err);
	void (*close)(struct backend *be); /* accepts NULL */
	/*
	 * Store meta (an object built by proto_result_new) for task_id as Celery does: unless a
	 * SUCCESS is already stored (then nothing is written and *skipped is set when non-NULL),
	 * write it with the expiry and PUBLISH it to the task's channel in one transaction
	 * (Redis: GET, then MULTI SETEX+PUBLISH EXEC on celery-task-meta-<id>).
	 */
	int (*store)(struct backend *be, const char *task_id, const cJSON *meta, bool *skipped,
	             struct err *err);
	/*
	 * store for n results at once, with the same guard and transaction per result, in two
	 * round trips (all the GETs pipelined, then all the MULTI/EXEC blocks pipelined).
	 */
	int (*store_many)(struct backend *be, const char *const *task_ids,
	                  const cJSON *const *metas, size_t n, struct err *err);
	/* The stored meta, or NULL with err->cls == ERR_NONE when nothing is stored (PENDING). */
	cJSON *(*get)(struct backend *be, const char *task_id, struct err *err);
	/*
	 * Wait up to timeout seconds (< 0 = forever) for a READY meta (SUCCESS, FAILURE, REVOKED):
	 * subscribe to the task's channel first, then read the key, then wait for messages (Redis:
	 * SUBSCRIBE celery-task-meta-<id> + GET), as AsyncResult.get() does. The connection is
	 * usable for other calls afterwards. NULL with ERR_TRANSIENT "timed out" on timeout.
	 */
	cJSON *(*wait)(struct backend *be, const char *task_id, double timeout, struct err *err);
};

/* Redis result backend (backend_redis.c). */
extern const struct backend_ops backend_redis_ops;

/* The backend for url's scheme, or NULL with ERR_CONFIG/ERR_UNSUPPORTED naming the scheme. */
MUSTCHECK const struct backend_ops *backend_ops_for_url(const char *url, struct err *err);

/* "celery-task-meta-" + task_id into a heap string. */
char *backend_key(const char *task_id);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * exec_io.c - an executor's broker and result-backend calls that survive a lost connection:
 * each reconnects with capped exponential backoff (the Redis restart case) and retries until it
 * succeeds, fails for a non-transient reason (logged once, here), or a cold shutdown stops it.
 * Also builds result metas with protocol/.
 */
#include "config.h"

#include "exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec_int.h"
#include "log.h"
#include "xalloc.h"

#define BACKOFF_MAX 10.0

static void
backoff(double *delay, const volatile int *stop)
{
	struct timespec ts;
	double d = *delay;

	if (*stop)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - floor(d)) * 1e9);
	nanosleep(&ts, NULL);
	*delay = fmin(d * 2, BACKOFF_MAX);
}

static int
broker_ready(const struct exec_settings *s, struct exec_conn *conn, const volatile int *stop)
{
	double delay = 0.2;
	int warned = 0;

	while (conn->broker == NULL) {
		struct err e;

		if (*stop)
			return -1;
		err_clear(&e);
		conn->broker = conn->bops->open(s->broker_url, &s->bopt, &e);
		if (conn->broker != NULL)
			break;
		if (!warned++)
			tlog(LOG_LVL_WARN, conn, "broker connection lost, reconnecting: %s", e.msg);
		backoff(&delay, stop);
	}
	return 0;
}

static void
broker_drop(struct exec_conn *conn)
{
	conn->bops->close(conn->broker);
	conn->broker = NULL;
}

static int
backend_ready(const struct exec_settings *s, struct exec_conn *conn, const volatile int *stop)
{
	double delay = 0.2;
	int warned = 0;

	while (conn->backend == NULL) {
		struct err e;

		if (*stop)
			return -1;
		err_clear(&e);
		conn->backend = conn->beops->open(s->backend_url, s->result_expires, &e);
		if (conn->backend != NULL)
			break;
		if (!warned++)
			tlog(LOG_LVL_WARN, conn, "result backend connection lost, reconnecting: %s",
			     e.msg);
		backoff(&delay, stop);
	}
	return 0;
}

/* ack / reject(requeue) / restore with reconnects. */
void
exec_broker_op(const struct exec_settings *s, struct exec_conn *conn, enum exec_bop op,
               const char *tag, const volatile int *stop)
{
	for (;;) {
		struct err e;
		int rc = -1;

		if (broker_ready(s, conn, stop) < 0)
			return;
		err_clear(&e);
		switch (op) {
		case EXEC_ACK:
			rc = conn->bops->ack(conn->broker, tag, &e);
			break;
		case EXEC_REQUEUE:
			rc = conn->bops->reject(conn->broker, tag, true, &e);
			break;
		case EXEC_RESTORE:
			rc = conn->bops->restore(conn->broker, tag, &e);
			break;
		}
		if (rc == 0)
			return;
		if (e.cls != ERR_TRANSIENT) {
			tlog(LOG_LVL_ERROR, conn, "broker: %s (delivery %s)", e.msg, tag);
			return;
		}
		broker_drop(conn);
	}
}

int
exec_publish(const struct exec_settings *s, struct exec_conn *conn, const struct proto_task *t,
             const char *exchange, const char *routing_key, const volatile int *stop)
{
	struct proto_msg m;
	struct err e;

	err_clear(&e);
	proto_msg_init(&m);
	if (proto_task_encode(t, PROTO_SER_JSON, -1, &m, &e) < 0) {
		tlog(LOG_LVL_ERROR, conn, "cannot encode task %s[%s]: %s", t->task, t->id, e.msg);
		proto_msg_cleanup(&m);
		return -1;
	}
	for (;;) {
		if (broker_ready(s, conn, stop) < 0)
			break;
		err_clear(&e);
		if (conn->bops->publish(conn->broker, &m, exchange, routing_key, &e) == 0) {
			proto_msg_cleanup(&m);
			return 0;
		}
		if (e.cls != ERR_TRANSIENT) {
			tlog(LOG_LVL_ERROR, conn, "cannot publish %s[%s]: %s", t->task, t->id,
			     e.msg);
			break;
		}
		broker_drop(conn);
	}
	proto_msg_cleanup(&m);
	return -1;
}

void
exec_store(const struct exec_settings *s, struct exec_conn *conn, const char *task_id,
           const cJSON *meta, const volatile int *stop)
{
	if (conn->beops == NULL)
		return;
	for (;;) {
		struct err e;

		if (backend_ready(s, conn, stop) < 0)
			return;
		err_clear(&e);
		if (conn->beops->store(conn->backend, task_id, meta, NULL, &e) == 0)
			return;
		if (e.cls != ERR_TRANSIENT) {
			tlog(LOG_LVL_ERROR, conn, "cannot store result of %s: %s", task_id, e.msg);
			return;
		}
		conn->beops->close(conn->backend);
		conn->backend = NULL;
	}
}

void
exec_store_many(const struct exec_settings *s, struct exec_conn *conn, const char *const *ids,
                const cJSON *const *metas, size_t n, const volatile int *stop)
{
	if (conn->beops == NULL || n == 0)
		return;
	for (;;) {
		struct err e;

		if (backend_ready(s, conn, stop) < 0)
			return;
		err_clear(&e);
		if (conn->beops->store_many(conn->backend, ids, metas, n, &e) == 0)
			return;
		if (e.cls != ERR_TRANSIENT) {
			tlog(LOG_LVL_ERROR, conn, "cannot store %zu results: %s", n, e.msg);
			return;
		}
		conn->beops->close(conn->backend);
		conn->backend = NULL;
	}
}

void
exec_ack_many(const struct exec_settings *s, struct exec_conn *conn, const char *const *tags,
              size_t n, const volatile int *stop)
{
	if (n == 0)
		return;
	for (;;) {
		struct err e;

		if (broker_ready(s, conn, stop) < 0)
			return;
		err_clear(&e);
		if (conn->bops->ack_many(conn->broker, tags, n, &e) == 0)
			return;
		if (e.cls != ERR_TRANSIENT) {
			tlog(LOG_LVL_ERROR, conn, "broker: %s (%zu acks)", e.msg, n);
			return;
		}
		broker_drop(conn);
	}
}

/* The meta of one state (owned), or NULL (logged). exc_* only for exception states. */
cJSON *
exec_meta_new(struct exec_conn *conn, const struct proto_task *t, const char *task_id,
              enum proto_state st, const char *custom, const cJSON *result,
              const struct exec_outcome *o, const cJSON *children)
{
	struct proto_result pr;
	cJSON *meta, *args = NULL;
	struct err e;

	memset(&pr, 0, sizeof(pr));
	pr.task_id = task_id;
	pr.state = st;
	pr.custom_state = custom;
	pr.result = result;
	pr.children = children;
	pr.now_usec = (int64_t)(exec_now() * 1e6);
	pr.group_id = t != NULL ? t->group : NULL;
	pr.parent_id = t != NULL ? t->parent_id : NULL;
	if (t != NULL && conn->extended_worker != NULL) {
		pr.extended = true;
		pr.name = t->task;
		pr.args = t->args;
		pr.kwargs = t->kwargs;
		pr.worker = conn->extended_worker;
		pr.retries = t->retries;
		pr.queue = t->routing_key;
	}
	if (o != NULL) {
		args = cJSON_CreateArray();
		if (o->exc_is_num)
			cJSON_AddItemToArray(args, cJSON_CreateNumber(o->exc_num));
		else if (o->exc_msg[0] != '\0')
			cJSON_AddItemToArray(args, cJSON_CreateString(o->exc_msg));
		pr.exc_type = o->exc_type;
		pr.exc_module = o->exc_module;
		pr.exc_args = args;
	}
	err_clear(&e);
	meta = proto_result_new(&pr, PROTO_RESULT_BACKEND, &e);
	if (meta == NULL)
		tlog(LOG_LVL_ERROR, conn, "cannot encode result of %s: %s", task_id, e.msg);
	cJSON_Delete(args);
	return meta;
}

/* Store one state now. */
void
exec_store_state(const struct exec_settings *s, struct exec_conn *conn, const struct proto_task *t,
                 const char *task_id, enum proto_state st, const char *custom, const cJSON *result,
                 const struct exec_outcome *o, const cJSON *children, const volatile int *stop)
{
	cJSON *meta;

	if (conn->beops == NULL)
		return;
	meta = exec_meta_new(conn, t, task_id, st, custom, result, o, children);
	if (meta != NULL)
		exec_store(s, conn, task_id, meta, stop);
	cJSON_Delete(meta);
}

void
exec_store_failure(const struct exec_settings *s, struct exec_conn *conn,
                   const struct proto_task *t, enum proto_state st, const char *exc_type,
                   const char *exc_module, const char *msg)
{
	struct exec_outcome o;
	static const volatile int never = 0;

	exec_outcome_init(&o);
	exec_outcome_fail(&o, EXEC_FAILURE, exc_type, exc_module, "%s", msg);
	exec_store_state(s, conn, t, t->id, st, NULL, NULL, &o, NULL, &never);
}

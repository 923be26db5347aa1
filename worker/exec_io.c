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

#include "clock.h"
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

/*
 * The one retry loop of this file: make sure the connection is open (reconnecting with
 * backoff), try the call, and on a transient failure drop the connection and go round again.
 * Returns 0, or -1 when the call failed for good (err says why) or *stop ended the wait
 * (err's class is ERR_NONE then: nothing to log).
 */
enum io_side {
	IO_BROKER,
	IO_BACKEND,
};

struct io_call {
	enum io_side side;
	int (*attempt)(struct exec_conn *conn, const void *arg, struct err *err);
	const void *arg;
};

static int
io_retry(const struct exec_settings *s, struct exec_conn *conn, const struct io_call *c,
         const volatile int *stop, struct err *err)
{
	for (;;) {
		int ready = c->side == IO_BROKER ? broker_ready(s, conn, stop)
		                                 : backend_ready(s, conn, stop);

		err_clear(err);
		if (ready < 0)
			return -1;
		if (c->attempt(conn, c->arg, err) == 0)
			return 0;
		if (err->cls != ERR_TRANSIENT)
			return -1;
		if (c->side == IO_BROKER) {
			broker_drop(conn);
		} else {
			conn->beops->close(conn->backend);
			conn->backend = NULL;
		}
	}
}

struct bop_arg {
	enum exec_bop op;
	const char *tag;
};

static int
bop_attempt(struct exec_conn *conn, const void *arg, struct err *err)
{
	const struct bop_arg *a = arg;

	switch (a->op) {
	case EXEC_ACK:
		return conn->bops->ack(conn->broker, a->tag, err);
	case EXEC_REQUEUE:
		return conn->bops->reject(conn->broker, a->tag, true, err);
	case EXEC_RESTORE:
		return conn->bops->restore(conn->broker, a->tag, err);
	}
	return err_set(err, ERR_BUG, "unknown broker operation");
}

/* ack / reject(requeue) / restore with reconnects. */
void
exec_broker_op(const struct exec_settings *s, struct exec_conn *conn, enum exec_bop op,
               const char *tag, const volatile int *stop)
{
	struct bop_arg a = { op, tag };
	struct io_call c = { IO_BROKER, bop_attempt, &a };
	struct err e;

	if (io_retry(s, conn, &c, stop, &e) < 0 && e.cls != ERR_NONE)
		tlog(LOG_LVL_ERROR, conn, "broker: %s (delivery %s)", e.msg, tag);
}

struct publish_arg {
	const struct proto_msg *m;
	const char *exchange, *routing_key;
};

static int
publish_attempt(struct exec_conn *conn, const void *arg, struct err *err)
{
	const struct publish_arg *a = arg;

	return conn->bops->publish(conn->broker, a->m, a->exchange, a->routing_key, err);
}

int
exec_publish(const struct exec_settings *s, struct exec_conn *conn, const struct proto_task *t,
             const char *exchange, const char *routing_key, const volatile int *stop)
{
	struct proto_msg m;
	struct publish_arg a = { &m, exchange, routing_key };
	struct io_call c = { IO_BROKER, publish_attempt, &a };
	struct err e;
	int rc;

	err_clear(&e);
	proto_msg_init(&m);
	if (proto_task_encode(t, PROTO_SER_JSON, -1, &m, &e) < 0) {
		tlog(LOG_LVL_ERROR, conn, "cannot encode task %s[%s]: %s", t->task, t->id, e.msg);
		proto_msg_cleanup(&m);
		return -1;
	}
	rc = io_retry(s, conn, &c, stop, &e);
	if (rc < 0 && e.cls != ERR_NONE)
		tlog(LOG_LVL_ERROR, conn, "cannot publish %s[%s]: %s", t->task, t->id, e.msg);
	proto_msg_cleanup(&m);
	return rc;
}

struct store_arg {
	const char *const *ids;
	const cJSON *const *metas;
	size_t n;
};

static int
store_attempt(struct exec_conn *conn, const void *arg, struct err *err)
{
	const struct store_arg *a = arg;

	return conn->beops->store_many(conn->backend, a->ids, a->metas, a->n, err);
}

void
exec_store(const struct exec_settings *s, struct exec_conn *conn, const char *task_id,
           const cJSON *meta, const volatile int *stop)
{
	exec_store_many(s, conn, &task_id, &meta, 1, stop);
}

void
exec_store_many(const struct exec_settings *s, struct exec_conn *conn, const char *const *ids,
                const cJSON *const *metas, size_t n, const volatile int *stop)
{
	struct store_arg a = { ids, metas, n };
	struct io_call c = { IO_BACKEND, store_attempt, &a };
	struct err e;

	if (conn->beops == NULL || n == 0)
		return;
	if (io_retry(s, conn, &c, stop, &e) < 0 && e.cls != ERR_NONE)
		tlog(LOG_LVL_ERROR, conn, "cannot store %zu result(s), first %s: %s", n, ids[0],
		     e.msg);
}

struct acks_arg {
	const char *const *tags;
	size_t n;
};

static int
acks_attempt(struct exec_conn *conn, const void *arg, struct err *err)
{
	const struct acks_arg *a = arg;

	return conn->bops->ack_many(conn->broker, a->tags, a->n, err);
}

void
exec_ack_many(const struct exec_settings *s, struct exec_conn *conn, const char *const *tags,
              size_t n, const volatile int *stop)
{
	struct acks_arg a = { tags, n };
	struct io_call c = { IO_BROKER, acks_attempt, &a };
	struct err e;

	if (n == 0)
		return;
	if (io_retry(s, conn, &c, stop, &e) < 0 && e.cls != ERR_NONE)
		tlog(LOG_LVL_ERROR, conn, "broker: %s (%zu acks)", e.msg, n);
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
	pr.now_usec = (int64_t)(clock_real() * 1e6);
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

/* SPDX-License-Identifier: MIT */
/*
 * exec_task.c - one request's lifecycle in an executor thread, as Celery's trace does it:
 * early ack, expiry, STARTED, run, then on success callbacks and the next chain step are
 * published before SUCCESS is stored; on failure FAILURE is stored, remaining chain steps are
 * failed and errbacks are published; transient database errors are republished with
 * retries+1 and an eta; late ack last. Broker and backend calls survive a lost connection:
 * they reconnect with backoff (the Redis restart case) until a cold shutdown.
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

#define MAINT_MODULE "janitor.exceptions"
#define MAINT_ERROR  "MaintenanceError"

static const char *
task_name(const struct proto_task *t)
{
	return t->shadow != NULL ? t->shadow : t->task;
}

/* ---- canvas ---- */

static cJSON *
as_list(const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v))
		return NULL;
	if (cJSON_IsArray(v))
		return cJSON_Duplicate(v, 1);
	{
		cJSON *a = cJSON_CreateArray();

		cJSON_AddItemToArray(a, cJSON_Duplicate(v, 1));
		return a;
	}
}

static char *
opt_str(const cJSON *opts, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(opts, key);

	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

/*
 * Publish signature sig as a child of t: new args are prepended (unless immutable), parent_id
 * = t's id, root_id = t's root; chain_rest becomes the child's embed chain. Adds the child's
 * result tuple to children (when non-NULL). Returns 0 or -1 (logged).
 */
static int
send_signature(const struct exec_settings *s, struct exec_conn *conn, const struct proto_task *t,
               const cJSON *sig, const cJSON *prepend, const cJSON *chain_rest, cJSON *children,
               const volatile int *stop)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(sig, "task");
	const cJSON *sargs = cJSON_GetObjectItemCaseSensitive(sig, "args");
	const cJSON *skw = cJSON_GetObjectItemCaseSensitive(sig, "kwargs");
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(sig, "options");
	const cJSON *prio = cJSON_GetObjectItemCaseSensitive(opts, "priority");
	const cJSON *it;
	struct proto_task *nt;
	char idbuf[37], *queue;
	int rc;

	if (!cJSON_IsString(name)) {
		tlog(LOG_LVL_ERROR, conn, "Task %s[%s]: callback without a task name ignored",
		     task_name(t), t->id);
		return -1;
	}
	nt = proto_task_new();
	nt->version = PROTO_V2;
	nt->task = xstrdup(name->valuestring);
	nt->id = opt_str(opts, "task_id");
	if (nt->id == NULL) {
		broker_uuid4(idbuf);
		nt->id = xstrdup(idbuf);
	}
	nt->lang = xstrdup("py");
	cJSON_Delete(nt->args);
	nt->args = cJSON_CreateArray();
	if (prepend != NULL && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sig, "immutable")))
		cJSON_AddItemToArray(nt->args, cJSON_Duplicate(prepend, 1));
	cJSON_ArrayForEach(it, sargs) {
		cJSON_AddItemToArray(nt->args, cJSON_Duplicate(it, 1));
	}
	cJSON_Delete(nt->kwargs);
	nt->kwargs = cJSON_IsObject(skw) ? cJSON_Duplicate(skw, 1) : cJSON_CreateObject();
	if (nt->extra_headers == NULL)
		nt->extra_headers = cJSON_CreateObject();
	nt->root_id = xstrdup(t->root_id != NULL ? t->root_id : t->id);
	nt->parent_id = xstrdup(t->id);
	nt->group = opt_str(opts, "group_id");
	nt->utc = true;
	nt->origin = xasprintf("gen%d@%s", (int)getpid(), s->hostname);
	nt->argsrepr = proto_repr(nt->args);
	nt->kwargsrepr = proto_repr(nt->kwargs);
	nt->reply_to = opt_str(opts, "reply_to");
	nt->callbacks = as_list(cJSON_GetObjectItemCaseSensitive(opts, "link"));
	nt->errbacks = as_list(cJSON_GetObjectItemCaseSensitive(opts, "link_error"));
	nt->chain = chain_rest != NULL ? cJSON_Duplicate(chain_rest, 1) : NULL;
	if (cJSON_IsNumber(prio)) {
		nt->has_priority = true;
		nt->priority = (int)prio->valuedouble;
	}
	queue = opt_str(opts, "queue");
	rc = exec_publish(s, conn, nt, "", queue != NULL ? queue : "celery", stop);
	if (rc == 0 && children != NULL) {
		cJSON *tuple = cJSON_CreateArray(), *idn = cJSON_CreateArray();

		cJSON_AddItemToArray(idn, cJSON_CreateString(nt->id));
		cJSON_AddItemToArray(idn, cJSON_CreateNull());
		cJSON_AddItemToArray(tuple, idn);
		cJSON_AddItemToArray(tuple, cJSON_CreateNull());
		cJSON_AddItemToArray(children, tuple);
	}
	free(queue);
	proto_task_free(nt);
	return rc;
}

/* On success: link callbacks, then the next chain step (the LAST element). */
static cJSON *
send_success_children(const struct exec_settings *s, struct exec_conn *conn,
                      const struct proto_task *t, const cJSON *retval, const volatile int *stop)
{
	cJSON *children = cJSON_CreateArray();
	const cJSON *cb;
	int n = cJSON_GetArraySize(t->chain);

	cJSON_ArrayForEach(cb, t->callbacks) {
		(void)send_signature(s, conn, t, cb, retval, NULL, children, stop);
	}
	if (n > 0) {
		cJSON *rest = cJSON_Duplicate(t->chain, 1);
		cJSON *next = cJSON_DetachItemFromArray(rest, n - 1);

		(void)send_signature(s, conn, t, next, retval, rest, children, stop);
		cJSON_Delete(next);
		cJSON_Delete(rest);
	}
	return children;
}

/* On failure: fail the remaining chain steps, then errbacks with (task_id,). */
static void
send_failure_children(const struct exec_settings *s, struct exec_conn *conn,
                      const struct proto_task *t, const struct exec_outcome *o,
                      const volatile int *stop)
{
	const cJSON *it;
	cJSON *idv = cJSON_CreateString(t->id);

	cJSON_ArrayForEach(it, t->chain) {
		const cJSON *opts = cJSON_GetObjectItemCaseSensitive(it, "options");
		const cJSON *tid = cJSON_GetObjectItemCaseSensitive(opts, "task_id");

		if (cJSON_IsString(tid))
			exec_store_state(s, conn, NULL, tid->valuestring, PROTO_STATE_FAILURE, NULL,
			                 NULL, o, NULL, stop);
	}
	cJSON_ArrayForEach(it, t->errbacks) {
		(void)send_signature(s, conn, t, it, idv, NULL, NULL, stop);
	}
	cJSON_Delete(idv);
}

/* Republish as a retry: same id, retries+1, eta now+delay, parent_id = own id if unset. */
static int
send_retry(const struct exec_settings *s, struct exec_conn *conn, const struct exec_request *r,
           const volatile int *stop)
{
	struct proto_task *nt = proto_task_dup(r->task);
	int rc;

	nt->retries++;
	nt->has_eta = true;
	nt->eta = proto_time_utc((int64_t)((clock_real() + s->retry_delay) * 1e6));
	if (nt->parent_id == NULL)
		nt->parent_id = xstrdup(r->task->id);
	if (r->exchange != NULL && *r->exchange != '\0')
		rc = exec_publish(s, conn, nt, r->exchange, r->routing_key, stop);
	else
		rc = exec_publish(s, conn, nt, "",
		                  r->routing_key != NULL ? r->routing_key : r->queue, stop);
	proto_task_free(nt);
	return rc;
}

/* ---- running ---- */

struct progress_ctx {
	const struct exec_settings *s;
	struct exec_conn *conn;
	const struct proto_task *t;
	const volatile int *stop;
	double last;
};

static void
on_progress(void *ctx, int64_t done, int64_t total)
{
	struct progress_ctx *pc = ctx;
	cJSON *meta;
	double now = clock_real();

	if (now - pc->last < 0.5 && done < total)
		return;
	pc->last = now;
	meta = cJSON_CreateObject();
	cJSON_AddNumberToObject(meta, "current", (double)done);
	cJSON_AddNumberToObject(meta, "total", (double)total);
	exec_store_state(pc->s, pc->conn, pc->t, pc->t->id, PROTO_STATE_CUSTOM, "PROGRESS", meta,
	                 NULL, NULL, pc->stop);
	cJSON_Delete(meta);
}

/* The task kwargs minus what is not an operation option. Owned. */
static cJSON *
op_kwargs(const cJSON *kwargs)
{
	cJSON *k = cJSON_Duplicate(kwargs, 1);

	cJSON_DeleteItemFromObjectCaseSensitive(k, "database");
	cJSON_DeleteItemFromObjectCaseSensitive(k, "operations");
	cJSON_DeleteItemFromObjectCaseSensitive(k, "all");
	return k;
}

static int
failed_transient(const cJSON *opres)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(opres, "error_class");

	return cJSON_IsString(c) && strcmp(c->valuestring, err_class_name(ERR_TRANSIENT)) == 0;
}

/* Turn the child's report into an outcome. */
/* Long: one branch per way a child can end (hard, soft, signal, error, result). */
static void
classify(const struct child_job *job, struct child_run *cr, const struct exec_request *r,
         struct exec_outcome *o)
{
	if (cr->hard_fired) {
		exec_outcome_fail(o, EXEC_FAILURE, "TimeLimitExceeded", "billiard.exceptions", "%s",
		                  "");
		o->exc_num = job->hard;
		o->exc_is_num = true;
	} else if (cr->soft_fired) {
		exec_outcome_fail(o, EXEC_FAILURE, "SoftTimeLimitExceeded", "billiard.exceptions",
		                  "%s", "");
	} else if (cr->signo != 0) {
		exec_outcome_fail(o, EXEC_LOST, "WorkerLostError", "billiard.exceptions",
		                  "Worker exited prematurely: signal %d (%s) Job: 0.", cr->signo,
		                  strsignal(cr->signo));
	} else if (cr->got_error) {
		exec_outcome_fail(o, cr->err.cls == ERR_TRANSIENT ? EXEC_RETRY : EXEC_FAILURE,
		                  MAINT_ERROR, MAINT_MODULE, "%s", cr->err.msg);
	} else if (!cr->got_result || cr->result == NULL) {
		exec_outcome_fail(o, EXEC_LOST, "WorkerLostError", "billiard.exceptions",
		                  "Worker exited prematurely: exitcode %d Job: 0.", cr->exit_code);
	} else if (r->target.kind == EXEC_OP) {
		cJSON *res =
		        cJSON_DetachItemFromObjectCaseSensitive(cr->result, job->list[0]->name);
		const cJSON *emsg = cJSON_GetObjectItemCaseSensitive(res, "error");

		if (cr->nfailed > 0 || res == NULL) {
			exec_outcome_fail(o, failed_transient(res) ? EXEC_RETRY : EXEC_FAILURE,
			                  MAINT_ERROR, MAINT_MODULE, "%s: %s", job->list[0]->name,
			                  cJSON_IsString(emsg) ? emsg->valuestring : "failed");
			cJSON_Delete(res);
		} else {
			o->state = EXEC_SUCCESS;
			o->result = res;
		}
	} else if (r->target.kind == EXEC_RUN && cr->nfailed > 0) {
		char msg[ERR_MSG_MAX] = "";
		size_t i, len = 0;
		int transient = 0;

		for (i = 0; i < job->n; i++) {
			const cJSON *opres =
			        cJSON_GetObjectItemCaseSensitive(cr->result, job->list[i]->name);
			const cJSON *emsg = cJSON_GetObjectItemCaseSensitive(opres, "error");

			if (ops_result_status(opres) != OPS_FAILED)
				continue;
			transient |= failed_transient(opres);
			if (len < sizeof(msg))
				len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s: %s",
				                        len ? "; " : "", job->list[i]->name,
				                        cJSON_IsString(emsg) ? emsg->valuestring
				                                             : "failed");
		}
		exec_outcome_fail(o, transient ? EXEC_RETRY : EXEC_FAILURE, MAINT_ERROR,
		                  MAINT_MODULE, "%s", msg);
	} else {
		o->state = EXEC_SUCCESS;
		o->result = cr->result;
		cr->result = NULL;
	}
}

/*
 * Check the database alias and options in the parent (bad input never costs a fork), then
 * run the work in a child and classify what came back. Long: each refusal names its reason.
 */
static void
run_maintenance(const struct exec_settings *s, struct exec_conn *conn, struct exec_request *r,
                struct exec_outcome *o, const volatile int *stop)
{
	const struct proto_task *t = r->task;
	const cJSON *dbk = cJSON_GetObjectItemCaseSensitive(t->kwargs, "database");
	const char *alias = cJSON_IsString(dbk) ? dbk->valuestring : "default";
	const struct ops_entry **list = NULL;
	struct child_job job;
	struct child_run cr;
	struct ops_options opt;
	struct progress_ctx pc = { s, conn, t, stop, 0 };
	cJSON *kw = NULL;
	struct err e;
	size_t i;

	memset(&job, 0, sizeof(job));
	memset(&cr, 0, sizeof(cr));
	err_clear(&e);
	if (dbk != NULL && !cJSON_IsString(dbk) && !cJSON_IsNull(dbk)) {
		exec_outcome_fail(o, EXEC_FAILURE, "ValueError", "builtins",
		                  "database: expected an alias from configuration");
		return;
	}
	for (i = 0; i < s->ndatabases && job.db_url == NULL; i++) {
		if (strcmp(s->databases[i].key, alias) == 0)
			job.db_url = s->databases[i].value;
	}
	if (job.db_url == NULL) {
		exec_outcome_fail(o, EXEC_FAILURE, MAINT_ERROR, MAINT_MODULE,
		                  "database alias '%.100s' is not configured", alias);
		return;
	}
	kw = op_kwargs(t->kwargs);
	job.kwargs = kw;
	job.maintenance = s->maintenance;
	job.nmaintenance = s->nmaintenance;
	job.task_id = t->id;
	job.hostname = s->hostname;
	/* Check the options here so bad input never costs a process. */
	if (exec_job_options(&job, &opt, &e) < 0) {
		exec_outcome_fail(o, EXEC_FAILURE, "ValueError", "builtins", "%s", e.msg);
		goto out;
	}
	job.kind = r->target.kind;
	if (r->target.kind == EXEC_OP) {
		list = xcalloc(2, sizeof(*list));
		list[0] = r->target.op;
		job.n = 1;
	} else if (r->target.kind == EXEC_RUN) {
		list = exec_run_list(t->args, t->kwargs, &job.n, &e);
		if (list == NULL) {
			exec_outcome_fail(o, EXEC_FAILURE, "ValueError", "builtins", "%s", e.msg);
			goto out;
		}
	}
	job.list = list;
	job.soft = t->has_soft_time_limit ? t->soft_time_limit : s->soft_time_limit;
	job.hard = t->has_time_limit ? t->time_limit : s->time_limit;
	cr.progress = on_progress;
	cr.progress_ctx = &pc;
	err_clear(&cr.err);
	child_run(&job, &cr);
	classify(&job, &cr, r, o);
	cJSON_Delete(cr.result);
out:
	free(list);
	cJSON_Delete(kw);
}

static void
run_task(const struct exec_settings *s, struct exec_conn *conn, struct exec_request *r,
         struct exec_outcome *o, const volatile int *stop)
{
	struct err e;

	err_clear(&e);
	switch (r->target.kind) {
	case EXEC_ACCUMULATE:
		o->result = exec_accumulate(r->task->args, r->task->kwargs, &e);
		if (o->result == NULL)
			exec_outcome_fail(o, EXEC_FAILURE, "IndexError", "builtins", "%s", e.msg);
		else
			o->state = EXEC_SUCCESS;
		return;
	case EXEC_OP:
	case EXEC_RUN:
	case EXEC_REPORT:
		run_maintenance(s, conn, r, o, stop);
		return;
	}
}

static void
log_exc(struct exec_conn *conn, enum log_level lvl, const struct proto_task *t, const char *what,
        const struct exec_outcome *o)
{
	if (o->exc_is_num)
		tlog(lvl, conn, "Task %s[%s] %s: %s(%g)", task_name(t), t->id, what, o->exc_type,
		     o->exc_num);
	else if (o->exc_msg[0] == '\0')
		tlog(lvl, conn, "Task %s[%s] %s: %s()", task_name(t), t->id, what, o->exc_type);
	else
		tlog(lvl, conn, "Task %s[%s] %s: %s('%s')", task_name(t), t->id, what, o->exc_type,
		     o->exc_msg);
}

/*
 * After the run: retry, callbacks, log line; returns the final meta to store (owned, NULL =
 * nothing to store) and may ack/requeue itself (r->acked).
 */
static cJSON *
finish(const struct exec_settings *s, struct exec_conn *conn, struct exec_request *r,
       struct exec_outcome *o, double runtime, const volatile int *stop)
{
	const struct proto_task *t = r->task;
	cJSON *meta = NULL;

	if (o->state == EXEC_RETRY) {
		if (t->retries < s->max_retries && send_retry(s, conn, r, stop) == 0) {
			tlog(LOG_LVL_INFO, conn, "Task %s[%s] retry: Retry in %gs: %s('%s')",
			     task_name(t), t->id, s->retry_delay, o->exc_type, o->exc_msg);
			return exec_meta_new(conn, t, t->id, PROTO_STATE_RETRY, NULL, NULL, o,
			                     NULL);
		}
		o->state = EXEC_FAILURE;
	}
	switch (o->state) {
	case EXEC_SUCCESS: {
		cJSON *children = NULL;

		if (t->callbacks != NULL || cJSON_GetArraySize(t->chain) > 0)
			children = send_success_children(s, conn, t, o->result, stop);
		if (log_enabled(LOG_LVL_INFO)) {
			char *repr = proto_repr(o->result);

			tlog(LOG_LVL_INFO, conn, "Task %s[%s] succeeded in %.6gs: %s", task_name(t),
			     t->id, runtime, repr != NULL ? repr : "None");
			free(repr);
		}
		if (!t->ignore_result)
			meta = exec_meta_new(conn, t, t->id, PROTO_STATE_SUCCESS, NULL, o->result,
			                     NULL, children);
		cJSON_Delete(children);
		return meta;
	}
	case EXEC_REVOKED:
		tlog(LOG_LVL_INFO, conn, "Discarding revoked task: %s[%s]", task_name(t), t->id);
		return exec_meta_new(conn, t, t->id, PROTO_STATE_REVOKED, NULL, NULL, o, NULL);
	case EXEC_LOST:
		/* acks_late: redelivered, no FAILURE stored (task_reject_on_worker_lost) - but only
		 * once: a message that was already redelivered and kills its process again is a
		 * poison message, and requeueing it forever would crash-loop every worker. */
		if (r->acks_late && !t->redelivered) {
			log_exc(conn, LOG_LVL_ERROR, t, "lost, message restored", o);
			exec_broker_op(s, conn, EXEC_REQUEUE, r->delivery_tag, stop);
			r->acked = true;
			return NULL;
		}
		/* early ack (the message is gone) or a second loss: store the failure */
		__attribute__((fallthrough));
	case EXEC_FAILURE:
	case EXEC_RETRY:
		log_exc(conn, LOG_LVL_ERROR, t, "raised unexpected", o);
		meta = exec_meta_new(conn, t, t->id, PROTO_STATE_FAILURE, NULL, NULL, o, NULL);
		/* Celery stores the failure before the errbacks run. */
		if (meta != NULL && conn->beops != NULL)
			exec_store(s, conn, t->id, meta, stop);
		cJSON_Delete(meta);
		send_failure_children(s, conn, t, o, stop);
		return NULL;
	}
	return NULL;
}

/* Acknowledge every request of rs[0..n) that still needs it and whose turn it is. */
static void
ack_batch(const struct exec_settings *s, struct exec_conn *conn, struct exec_request **rs, size_t n,
          bool late, const volatile int *stop)
{
	const char **tags = xcalloc(n + 1, sizeof(char *));
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (!rs[i]->acked && (late || !rs[i]->acks_late)) {
			tags[k++] = rs[i]->delivery_tag;
			rs[i]->acked = true;
		}
	}
	if (k == 1)
		exec_broker_op(s, conn, EXEC_ACK, tags[0], stop);
	else
		exec_ack_many(s, conn, tags, k, stop);
	free(tags);
}

/*
 * The lifecycle over a batch: 1. early acks (one MULTI); 2. per request: expiry, STARTED, run,
 * retry/callbacks/log; 3. the final metas stored in two round trips; 4. late acks. Batches of
 * more than one are cheap inline tasks (celery.accumulate) grouped by the pool; a maintenance
 * request always comes alone.
 */
void
exec_handle_batch(const struct exec_settings *s, struct exec_conn *conn, struct exec_request **rs,
                  size_t n, const volatile int *stop)
{
	cJSON **metas = xcalloc(n + 1, sizeof(cJSON *));
	const char **ids = xcalloc(n + 1, sizeof(char *));
	size_t i, nm = 0;

	ack_batch(s, conn, rs, n, false, stop);
	for (i = 0; i < n; i++) {
		struct exec_request *r = rs[i];
		const struct proto_task *t = r->task;
		struct exec_outcome o;
		double t0, runtime = 0;

		exec_outcome_init(&o);
		if (t->has_expires && (double)t->expires.usec / 1e6 < clock_real()) {
			exec_outcome_fail(&o, EXEC_REVOKED, "TaskRevokedError", "celery.exceptions",
			                  "expired");
		} else {
			if (s->track_started) {
				cJSON *m = cJSON_CreateObject();

				cJSON_AddNumberToObject(m, "pid", (double)getpid());
				cJSON_AddStringToObject(m, "hostname", s->hostname);
				exec_store_state(s, conn, t, t->id, PROTO_STATE_STARTED, NULL, m,
				                 NULL, NULL, stop);
				cJSON_Delete(m);
			}
			t0 = clock_mono();
			run_task(s, conn, r, &o, stop);
			runtime = clock_mono() - t0;
		}
		metas[nm] = finish(s, conn, r, &o, runtime, stop);
		if (metas[nm] != NULL)
			ids[nm++] = t->id;
		exec_outcome_cleanup(&o);
	}
	if (nm == 1)
		exec_store(s, conn, ids[0], metas[0], stop);
	else
		exec_store_many(s, conn, ids, (const cJSON *const *)metas, nm, stop);
	ack_batch(s, conn, rs, n, true, stop);
	for (i = 0; i < nm; i++)
		cJSON_Delete(metas[i]);
	free(metas);
	free(ids);
}

void
exec_handle(const struct exec_settings *s, struct exec_conn *conn, struct exec_request *r,
            const volatile int *stop)
{
	exec_handle_batch(s, conn, &r, 1, stop);
}

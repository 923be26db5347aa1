/* SPDX-License-Identifier: MIT */
/*
 * exec.h - running one task request: the task registry (maintenance.<op>, maintenance.run,
 * maintenance.report, celery.accumulate, configured aliases), the execution of a request in
 * an executor thread (maintenance work in a forked child), and what follows completion
 * (result meta, callbacks/errbacks/chain, retry republish). Is not: the consuming loop, the
 * pool or signals (cmd_worker.c).
 *
 * Threads: every function here runs in one executor thread with that thread's own broker and
 * backend connections; struct exec_settings is shared read-only.
 * Ownership: struct exec_request owns its task and strings (exec_request_free); outcomes own
 * their trees (exec_outcome_cleanup). Everything else is borrowed.
 */
#ifndef JANITOR_EXEC_H
#define JANITOR_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "backend.h"
#include "broker.h"
#include "cfg.h"
#include "compat.h"
#include "err.h"
#include "ops.h"
#include "proto.h"

/* Values the executors need, copied from the configuration at start. Read-only. */
struct exec_settings {
	const char *hostname;    /* node name */
	const char *broker_url;  /* for reconnecting */
	const char *backend_url; /* NULL = results are not stored */
	struct broker_options bopt;
	int64_t result_expires;         /* seconds, 0 = never */
	const struct cfg_kv *databases; /* alias -> URL */
	size_t ndatabases;
	const struct cfg_kv *aliases; /* task name -> janitor name */
	size_t naliases;
	const struct cfg_kv *maintenance; /* [maintenance] engine options, applied before kwargs */
	size_t nmaintenance;
	bool acks_late;
	const char *acks_late_tasks; /* comma-separated task names acked late (NULL = none) */
	bool track_started;
	bool result_extended;   /* Celery's result_extended */
	double soft_time_limit; /* seconds, 0 = none (a message's timelimit wins) */
	double time_limit;      /* seconds, 0 = none */
	int max_retries;
	double retry_delay; /* seconds */
};

enum exec_kind {
	EXEC_OP,         /* maintenance.<op>: one operation */
	EXEC_RUN,        /* maintenance.run: several operations */
	EXEC_REPORT,     /* maintenance.report */
	EXEC_ACCUMULATE, /* celery.accumulate: returns its arguments */
};

/* What a task name resolves to. */
struct exec_target {
	enum exec_kind kind;
	const struct ops_entry *op; /* EXEC_OP only */
};

/* Is name one of the comma-separated names in list (spaces around names ignored)? */
bool exec_name_listed(const char *list, const char *name);

/* Resolve a task name (aliases first). 0, or -1 when not registered (absent is no error). */
int exec_resolve(const struct exec_settings *s, const char *name, struct exec_target *out);

/* One consumed task request. */
struct exec_request {
	struct proto_task *task; /* owned */
	char *delivery_tag;      /* owned */
	char *queue;             /* owned: where it came from */
	char *exchange;          /* owned: delivery_info.exchange */
	char *routing_key;       /* owned: delivery_info.routing_key */
	struct exec_target target;
	bool acks_late;            /* this request acks after completion */
	bool acked;                /* already acked */
	double eta;                /* epoch seconds when it may run; 0 = now */
	double touched;            /* last unacked_index refresh of a held ETA, epoch seconds */
	double received;           /* epoch seconds */
	struct exec_request *next; /* list link, owned by whichever list holds it */
};

void exec_request_free(struct exec_request *r);

enum exec_state {
	EXEC_SUCCESS,
	EXEC_FAILURE,
	EXEC_RETRY,   /* a transient failure to be retried (if retries are left) */
	EXEC_REVOKED, /* expired before it ran */
	EXEC_LOST,    /* the child died (signal): WorkerLostError / redelivery */
};

struct exec_outcome {
	enum exec_state state;
	cJSON *result;     /* SUCCESS: the return value; owned */
	char exc_type[64]; /* FAILURE/RETRY/REVOKED/LOST */
	char exc_module[64];
	char exc_msg[ERR_MSG_MAX]; /* the exception's one argument ("" = no argument) */
	double exc_num;            /* TimeLimitExceeded's argument (seconds) */
	bool exc_is_num;
};

void exec_outcome_init(struct exec_outcome *o);
void exec_outcome_cleanup(struct exec_outcome *o);
/* Set a failure (state FAILURE unless st says otherwise). */
void exec_outcome_fail(struct exec_outcome *o, enum exec_state st, const char *type,
                       const char *module, const char *fmt, ...) PRINTF_LIKE(5, 6);

/* Connections of one executor thread. Reopened by the caller after ERR_TRANSIENT. */
struct exec_conn {
	char proc[32]; /* log process name, "ForkPoolWorker-1" */
	const struct broker_ops *bops;
	struct broker *broker;           /* may be NULL while disconnected */
	const struct backend_ops *beops; /* NULL = no result backend */
	struct backend *backend;         /* may be NULL while disconnected */
	const char *extended_worker;     /* node name when results are extended, else NULL */
};

/*
 * Run a request to its end: early ack, expiry check, STARTED, the task itself (maintenance in
 * a forked child with the time limits), then result, callbacks, retry and late ack. Logs the
 * received/succeeded/failed lines. Broker/backend connection losses are retried with backoff
 * until *stop is set (cold shutdown).
 */
void exec_handle(const struct exec_settings *s, struct exec_conn *conn, struct exec_request *r,
                 const volatile int *stop);

/*
 * The same over rs[0..n), sharing round trips: early acks in one MULTI, final results stored
 * together, late acks in one MULTI. The pool groups only inline tasks (exec_is_inline).
 */
void exec_handle_batch(const struct exec_settings *s, struct exec_conn *conn,
                       struct exec_request **rs, size_t n, const volatile int *stop);

/* A task that runs in the executor thread itself (no child, no database): batchable. */
static inline bool
exec_is_inline(const struct exec_request *r)
{
	return r->target.kind == EXEC_ACCUMULATE;
}

/* Store a final state for a request that never reached an executor (NotRegistered, expired). */
void exec_store_failure(const struct exec_settings *s, struct exec_conn *conn,
                        const struct proto_task *t, enum proto_state st, const char *exc_type,
                        const char *exc_module, const char *msg);

/* celery.accumulate (pure, for tests): args, or args[index] when kwargs has "index". */
cJSON *exec_accumulate(const cJSON *args, const cJSON *kwargs, struct err *err);

/* The list of operations maintenance.run was asked for (kwargs operations / all, or args[0]);
 * heap array and *n, or NULL with ERR_INVALID naming the bad operation. */
const struct ops_entry **exec_run_list(const cJSON *args, const cJSON *kwargs, size_t *n,
                                       struct err *err);

#endif

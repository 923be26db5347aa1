/* SPDX-License-Identifier: MIT */
/*
 * exec_int.h - internals shared by exec.c (the forked child), exec_io.c (reconnecting calls)
 * and exec_task.c (a request's lifecycle). Private to worker/.
 */
#ifndef JANITOR_EXEC_INT_H
#define JANITOR_EXEC_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "exec.h"
#include "log.h"

/*
 * What the child is asked to do. Borrowed pointers. The child is a fresh janitor process
 * (posix_spawn of /proc/self/exe, hidden command "__exec-child"), so the job crosses to it as
 * JSON on its stdin: the database URL never appears on an argv, and nothing allocates between
 * fork and exec in the threaded worker (an allocator lock held by another thread would hang
 * a plain forked child).
 */
struct child_job {
	enum exec_kind kind;                 /* EXEC_OP, EXEC_RUN or EXEC_REPORT */
	const char *db_url;                  /* from configuration, never from the message */
	const struct ops_entry *const *list; /* operations (not for EXEC_REPORT) */
	size_t n;
	const cJSON *kwargs;              /* the operation options of the task (may be NULL) */
	const struct cfg_kv *maintenance; /* [maintenance] options, applied before kwargs */
	size_t nmaintenance;
	const char *task_id;  /* for the execution-log row */
	const char *hostname; /* for the execution-log row */
	double soft;          /* seconds, 0 = none: the child cancels its statement */
	double hard;          /* seconds, 0 = none: the parent SIGKILLs the child */
};

/* The engine options of a job: defaults, then [maintenance], then the task's kwargs, then the
 * bookkeeping fields. Strings are borrowed from the job. ERR_INVALID/ERR_CONFIG naming the key. */
int exec_job_options(const struct child_job *job, struct ops_options *opt, struct err *err);

/* What came back. Caller storage, zeroed before child_run. */
struct child_run {
	pid_t pid;
	int got_result; /* "R" line */
	int got_error;  /* "E" line or fork failure: err set */
	int soft_fired;
	int hard_fired;
	int backend_pid; /* the child's PostgreSQL backend ("B" line), 0 = none or SQLite */
	int signo;       /* the child died of this signal; 0 = exited */
	int exit_code;   /* when it exited */
	int nfailed;
	cJSON *result; /* owned */
	struct err err;
	void (*progress)(void *ctx, int64_t done, int64_t total); /* parent side; may be NULL */
	void *progress_ctx;
};

/* Log from an executor with its process name ("ForkPoolWorker-1"). */
#define tlog(lvl, conn, ...)                                         \
	do {                                                         \
		if (log_enabled(lvl))                                \
			log_write((lvl), (conn)->proc, __VA_ARGS__); \
	} while (0)

/* ---- exec_io.c: calls that reconnect with backoff until done or *stop ---- */

enum exec_bop {
	EXEC_ACK,
	EXEC_REQUEUE,
	EXEC_RESTORE
};

/* ack, reject with requeue, or restore one delivery; failures are logged. */
void exec_broker_op(const struct exec_settings *s, struct exec_conn *conn, enum exec_bop op,
                    const char *tag, const volatile int *stop);
/* Encode t as protocol v2 JSON and publish it; 0 or -1 (logged). */
int exec_publish(const struct exec_settings *s, struct exec_conn *conn, const struct proto_task *t,
                 const char *exchange, const char *routing_key, const volatile int *stop);
void exec_store(const struct exec_settings *s, struct exec_conn *conn, const char *task_id,
                const cJSON *meta, const volatile int *stop);
void exec_store_many(const struct exec_settings *s, struct exec_conn *conn, const char *const *ids,
                     const cJSON *const *metas, size_t n, const volatile int *stop);
void exec_ack_many(const struct exec_settings *s, struct exec_conn *conn, const char *const *tags,
                   size_t n, const volatile int *stop);
/* The meta of one state (owned) or NULL (logged); exc_* from o for exception states. */
cJSON *exec_meta_new(struct exec_conn *conn, const struct proto_task *t, const char *task_id,
                     enum proto_state st, const char *custom, const cJSON *result,
                     const struct exec_outcome *o, const cJSON *children);
/* exec_meta_new + exec_store. */
void exec_store_state(const struct exec_settings *s, struct exec_conn *conn,
                      const struct proto_task *t, const char *task_id, enum proto_state st,
                      const char *custom, const cJSON *result, const struct exec_outcome *o,
                      const cJSON *children, const volatile int *stop);

/* Spawn the child, hand it the job, collect its lines until it exits (see exec.c). */
void child_run(const struct child_job *job, struct child_run *cr);

#endif

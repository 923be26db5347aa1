/* SPDX-License-Identifier: MIT */
/*
 * ops.h - the maintenance engine: a table of operations over a struct db.
 *
 * Is: the nine operations (vacuum, reindex, cleanup, logs, sessions, views, stats, bloat,
 * backup), the report utilities, the run bookkeeping (timing, cross-worker lock, execution-log
 * row, result shape, dry-run). Is not: Celery; it knows nothing of tasks, brokers or results.
 *
 * Threads: a run uses one struct db from one thread; another thread may db_cancel() it.
 * Ownership: every function returning cJSON * hands the tree to the caller (cJSON_Delete).
 * Results follow ../shared/design.md: each operation object has "status" ("completed",
 * "skipped" with "reason", or "failed" with "error"), "operation", and its own fields; a run
 * adds "metadata" {timestamp, duration_seconds, dry_run, database}.
 */
#ifndef JANITOR_OPS_H
#define JANITOR_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "compat.h"
#include "db.h"
#include "err.h"

enum ops_flag {
	OPS_WRITES = 1 << 0, /* changes data or files (dry-run must not) */
	OPS_NO_TXN = 1 << 1, /* must run outside a transaction (VACUUM, CONCURRENTLY) */
	OPS_LONG = 1 << 2,   /* may run for minutes: reports progress */
};

enum ops_status {
	OPS_COMPLETED,
	OPS_SKIPPED,
	OPS_FAILED,
};

/* Options of a run. Paths and connection strings come only from configuration; a task message
 * can set only the fields ops_options_apply_json accepts (dry_run, retention days, batches). */
struct ops_options {
	bool dry_run;
	bool log_execution;       /* write the core_taskexecutionlog row (default true) */
	int failed_archive_days;  /* 365 */
	int failed_delete_days;   /* 730 */
	int failed_batch;         /* 1000 */
	int audit_days;           /* 90 */
	int tasklog_days;         /* 30 */
	int logs_batch;           /* 10000 */
	int sessions_batch;       /* 10000 */
	int lock_timeout_ms;      /* 5000; 0 = none */
	int statement_timeout_ms; /* 0 = none */
	const char *backup_dir;   /* borrowed; default "/var/backups/janitor" */
	int backup_keep;          /* backups kept after rotation, 7 */
	const char *pg_dump;      /* borrowed; NULL = find pg_dump on PATH */
	/* Django table and column names (borrowed; defaults are Django's). */
	const char *auditlog_table, *auditlog_ts;   /* core_auditlog, timestamp */
	const char *tasklog_table, *tasklog_ts;     /* core_taskexecutionlog, created_at */
	const char *failed_table, *failed_ts;       /* core_failedtask, created_at */
	const char *session_table, *session_expire; /* django_session, expire_date */
	/* For the execution-log row (borrowed, may be NULL). */
	const char *task_id;
	const char *worker_hostname;
	int64_t now_override; /* seconds since epoch for tests; 0 = the real clock */
};

/* Progress of a long operation: done of total units (total 0 = unknown), what is a label. */
typedef void (*ops_progress_fn)(void *ctx, int64_t done, int64_t total, const char *what);

struct ops_ctx {
	struct db *db;                 /* borrowed */
	const struct ops_options *opt; /* borrowed */
	ops_progress_fn progress;      /* may be NULL */
	void *progress_ctx;
};

struct ops_entry {
	const char *name;  /* "vacuum": the task name suffix and the --operation value */
	const char *title; /* "Vacuum & Analyze" */
	unsigned flags;    /* enum ops_flag */
	/* Returns the operation's result object (status completed/skipped) or NULL with err set
	 * when it failed; the engine turns that into a "failed" object. An operation sets run
	 * when one function serves both databases, or run_pg and run_sqlite when they differ
	 * (the engine picks by db_kind, so no operation repeats that switch). */
	cJSON *(*run)(struct ops_ctx *ctx, struct err *err);
	cJSON *(*run_pg)(struct ops_ctx *ctx, struct err *err);
	cJSON *(*run_sqlite)(struct ops_ctx *ctx, struct err *err);
};

/* Run one operation's function for ctx->db (its run, else run_pg or run_sqlite) with none of
 * ops_run's bookkeeping: no lock, no timing, no execution-log row. For ops_run and tests.
 * Returns the result object, or NULL with err set. */
cJSON *ops_entry_run(const struct ops_entry *e, struct ops_ctx *ctx, struct err *err) MUSTCHECK;

/* The operations in the spec's order, NULL-terminated. */
extern const struct ops_entry *const ops_table[];

/* NULL when no operation has that name (absent is no error). */
const struct ops_entry *ops_lookup(const char *name);
/* "vacuum, reindex, ..." for usage messages (constant). */
const char *ops_names(void);

void ops_options_init(struct ops_options *opt);
/* Apply a task's kwargs: dry_run and the numeric retention/batch keys only. Unknown keys and
 * wrong types are ERR_INVALID naming the key. */
int ops_options_apply_json(struct ops_options *opt, const cJSON *kwargs, struct err *err) MUSTCHECK;
/* (The kwargs "database", "operations" and "all" are the caller's and are ignored here.) */
/* Set one option from configuration text ([maintenance] key = value): every field above by its
 * name, plus "now" (now_override, for tests). String values are borrowed (the caller keeps them
 * alive). ERR_CONFIG naming the key. */
int ops_options_set(struct ops_options *opt, const char *key, const char *value, struct err *err)
        MUSTCHECK;

/* Run the listed operations in order, each under the cross-worker lock, and return the spec's
 * whole response (one key per operation plus "metadata"). Every operation runs even after one
 * fails; *nfailed counts the failed ones. Writes one execution-log row unless told not to.
 * Never NULL. */
cJSON *ops_run(struct db *db, const struct ops_entry *const *list, size_t n,
               const struct ops_options *opt, ops_progress_fn progress, void *progress_ctx,
               int *nfailed);

/* The maintenance report: database size, table sizes, indexes with usage, unused indexes,
 * connections, long-running queries, blocking locks, an estimate of maintenance time. */
cJSON *ops_report(struct db *db, const struct ops_options *opt, struct err *err) MUSTCHECK;

/* Create a demo SQLite database at path (Django's core_* and django_session tables with old
 * and new sample rows) unless a file is already there; *created says which. ERR_CONFIG/ERR_DB. */
int ops_demo_create(const char *path, bool *created, struct err *err) MUSTCHECK;

/* status of an operation object, parsed from its "status" field. */
enum ops_status ops_result_status(const cJSON *result);
const char *ops_status_name(enum ops_status st);

#endif

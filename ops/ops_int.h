/* SPDX-License-Identifier: MIT */
/*
 * ops_int.h - what the operation files share inside ops/ (never included outside ops/):
 * the entries of the table and the helpers of the engine core (result objects, batching,
 * retention cut-offs, catalog checks, SQL templates with quoted identifiers). Ownership as in
 * ops.h; helpers taking a struct err fill it only on failure.
 */
#ifndef JANITOR_OPS_INT_H
#define JANITOR_OPS_INT_H

#include "ops.h"

extern const struct ops_entry ops_vacuum_entry;
extern const struct ops_entry ops_reindex_entry;
extern const struct ops_entry ops_cleanup_entry;
extern const struct ops_entry ops_logs_entry;
extern const struct ops_entry ops_sessions_entry;
extern const struct ops_entry ops_views_entry;
extern const struct ops_entry ops_stats_entry;
extern const struct ops_entry ops_bloat_entry;
extern const struct ops_entry ops_backup_entry;

/* ---- result objects (ops.c) ---- */

/* A new {"status": "completed", "operation": name} object. */
cJSON *ops_result_new(const char *name);
/* A new {"status": "skipped", "operation": name, "reason": reason} object. */
cJSON *ops_result_skipped(const char *name, const char *reason);
/* A new {"status": "failed", "operation": name, "error": error} object. */
cJSON *ops_result_failed(const char *name, const char *error);
/* "table X does not exist": the reason a part is skipped for a missing table. */
cJSON *ops_result_missing_table(const char *name, const char *table);

/* ---- clock and cut-offs (ops.c) ---- */

/* The run's "now" in seconds since the epoch (opt->now_override or the real clock). */
int64_t ops_now(const struct ops_ctx *ctx);
/* now - days, formatted as this database's datetime parameter (db_format_time). */
void ops_cutoff(const struct ops_ctx *ctx, int days, char *buf, size_t size);
/* Calls ctx->progress when set. */
void ops_progress(const struct ops_ctx *ctx, int64_t done, int64_t total, const char *what);

/* ---- SQL templates (ops_batch.c) ---- */

/* Expands "{0}", "{1}", ... in tmpl to idents[i] quoted by db_quote_ident; nothing else is
 * substituted, so values stay bound parameters. Returns a heap string, or NULL with ERR_BUG
 * for a reference past n or an identifier the driver cannot quote. */
char *ops_sql_expand(struct db *db, const char *tmpl, const char *const *idents, size_t n,
                     struct err *err) MUSTCHECK;
/* Runs a query returning one integer in row 0, column 0 (count(*)); NULL counts as 0. */
int ops_query_int(struct db *db, const char *sql, int nparams, const char *const *params,
                  int64_t *out, struct err *err) MUSTCHECK;

/* ---- batched retention (ops_batch.c) ---- */

/* One batched statement: run `sql` ($1 = cut-off, $2 = batch size, further params after)
 * again and again, each in its own transaction, until it touches fewer rows than the batch.
 * Templates use {0} = table, {1} = date column, {2} = key column, {3}... = extra columns. */
struct ops_batch_spec {
	const char *what;          /* progress label, e.g. "core_auditlog" */
	const char *sql_pg;        /* template for PostgreSQL */
	const char *sql_sqlite;    /* template for SQLite */
	const char *count_sql;     /* template counting what the statement would touch
	                              ($1 = cut-off); used for dry-run and progress totals */
	const char *const *idents; /* identifiers for {n} */
	size_t nidents;
	const char *cutoff; /* bound as $1 */
	int batch;          /* rows per transaction, > 0 */
};

struct ops_batch_stats {
	int64_t rows;    /* rows touched (or, in dry-run, that would be) */
	int64_t batches; /* transactions committed */
	double seconds;  /* wall time */
};

/* Real run: batches with one transaction each, progress after each commit. Dry run: one
 * count, nothing written. On failure the current batch is rolled back, the ones before stay
 * committed and are counted in *st. */
int ops_batch_run(const struct ops_ctx *ctx, const struct ops_batch_spec *spec,
                  struct ops_batch_stats *st, struct err *err) MUSTCHECK;

#endif

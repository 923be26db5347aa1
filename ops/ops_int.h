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

/* A batched statement, run again and again, each time in its own transaction.
 *
 * Single-statement mode (range_sql NULL): sql_pg / sql_sqlite is run until it touches fewer
 * rows than the batch. Parameters: $1 = cut-off, $2 = batch size, $3 = param3.
 *
 * Range mode (first_sql, bound_sql, range_sql set; for deletes keyed by the date column): each
 * batch reads the date of the (batch+1)-th row still to delete and deletes the date range
 * below it, so no transaction touches more than the batch. Parameters:
 *   first_sql  $1 cut-off                          -> the lowest date below it (or no row)
 *   bound_sql  $1 cut-off, $2 batch, $3 lower      -> the date of the row at OFFSET $2 among
 *                                                     those in [lower, cut-off) (or no row)
 *   range_sql  $1 upper (exclusive), $2 lower (inclusive): the DELETE
 *   sql_pg / sql_sqlite  $1 cut-off, $2 batch, $3 lower: batch rows in [lower, cut-off) in
 *                        date order, for the batch whose whole range is one repeated date.
 * first/bound/range serve both databases: written without casts, PostgreSQL infers each
 * parameter's type from the column it is compared with.
 *
 * Templates name identifiers only as {0} = table, {1} = date column, {2} = key column,
 * {3}... = further columns (ops_sql_expand). */
struct ops_batch_spec {
	const char *what;          /* progress label and part name, e.g. "core_auditlog" */
	const char *sql_pg;        /* batch statement for PostgreSQL */
	const char *sql_sqlite;    /* batch statement for SQLite */
	const char *count_sql;     /* counts what a whole real run would touch ($1 =
	                              cut-off); the dry-run answer and the progress total */
	const char *first_sql;     /* range mode only (both databases), else NULL */
	const char *bound_sql;     /* range mode only (both databases) */
	const char *range_sql;     /* range mode only (both databases) */
	const char *const *idents; /* identifiers for {n}; idents[0] is the table */
	size_t nidents;
	const char *cutoff; /* bound as $1 */
	const char *param3; /* bound as $3 in single-statement mode, may be NULL */
	int batch;          /* rows per transaction, > 0 */
};

/* Fills every SQL field of spec for the plain retention delete, range mode: rows of {0} whose
 * date {1} is before the cut-off, {2} the key (logs, sessions). */
void ops_batch_by_date(struct ops_batch_spec *spec);

struct ops_batch_stats {
	int64_t rows;             /* rows touched (or, in dry-run, that would be) */
	int64_t batches;          /* transactions committed (0 in dry-run) */
	double max_batch_seconds; /* the longest batch transaction, BEGIN to COMMIT */
	double seconds;           /* wall time */
};

/* Real run: batches with one transaction each, progress after each commit. Dry run: one
 * count, nothing written. On failure the current batch is rolled back, the ones before stay
 * committed and are counted in *st. */
int ops_batch_run(const struct ops_ctx *ctx, const struct ops_batch_spec *spec,
                  struct ops_batch_stats *st, struct err *err) MUSTCHECK;

/* One retention part: if table idents[0] is missing, a {"status": "skipped", "reason": "table X
 * does not exist"} object and *missing = true; otherwise ops_batch_run and {"table", count_key:
 * rows, "cutoff", "batches", "batch_size", "seconds", "max_batch_seconds"} with *rows added to.
 * NULL with err set when the database failed. */
cJSON *ops_batch_part(const struct ops_ctx *ctx, const struct ops_batch_spec *spec,
                      const char *count_key, bool *missing, int64_t *rows, struct err *err);

/* ---- maintenance operations (part B: ops_maint.c, ops_stats.c, ops_bloat.c, ops_report.c) ---- */

/* How ops_rows_json types each column: 's' string, 'n' number, 'b' boolean ("t"/"1"/"true"),
 * '-' left out. Columns past the end of the type string are strings; SQL NULL is JSON null. */
cJSON *ops_rows_json(const struct db_rows *rows, const char *types);
/* One row of rows as an object typed the same way. */
cJSON *ops_row_json(const struct db_rows *rows, int row, const char *types);
/* schema.name quoted by db_quote_ident (schema NULL: the name alone). Caller frees. */
char *ops_qualified_ident(struct db *db, const char *schema, const char *name);
/* A constant SQL prefix followed by the quoted qualified name read from the catalog,
 * e.g. "VACUUM (ANALYZE) " + "public"."t". Caller frees. */
char *ops_sql_with_ident(struct db *db, const char *prefix, const char *schema, const char *name);
/* Add a number / string (NULL = JSON null) member; cJSON allocates through xmalloc. */
void ops_add_num(cJSON *obj, const char *key, double v);
void ops_add_str(cJSON *obj, const char *key, const char *v);
/* {"status": "not_applicable", "reason": reason} for report sections without an equivalent. */
cJSON *ops_not_applicable(const char *reason);
/* Is SQLite's dbstat virtual table compiled in? (false on PostgreSQL) */
bool ops_sqlite_has_dbstat(struct db *db);

/* The largest tables (limit 0 = all), each {table_name, total_bytes, table_bytes, index_bytes,
 * rows, ...}: the stats operation and the report's table_sizes. */
cJSON *ops_table_sizes(struct db *db, int limit, struct err *err) MUSTCHECK;
/* Adds "method", "threshold_pct", "tables" (over min_pct wasted space) and the database-level
 * figures to the object into: the bloat operation and the report's bloat section. */
int ops_bloat_fill(struct db *db, double min_pct, cJSON *into, struct err *err) MUSTCHECK;
/* Report sections, exposed for the tests (threshold in seconds). */
cJSON *ops_report_long_queries(struct db *db, int threshold_s, struct err *err) MUSTCHECK;
cJSON *ops_report_blocking_locks(struct db *db, struct err *err) MUSTCHECK;

#endif

/* SPDX-License-Identifier: MIT */
/*
 * ops_report.c - the maintenance report (`janitor report`, `maintenance.report`): database
 * size, table sizes, indexes with usage, unused indexes, connections, long-running queries,
 * blocking locks, bloat candidates and an estimate of maintenance time. Read-only.
 * On SQLite the server-side sections become {"status": "not_applicable", "reason": ...} and
 * the file-level facts (journal mode, WAL size, whether a writer holds the lock) replace them.
 */
#include "config.h"

#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db_int.h"
#include "ops_int.h"
#include "xalloc.h"

enum {
	LONG_QUERY_SECONDS = 60
};

/* Default rates for the estimate (bytes or rows per second): deliberately below what this
 * project measured with a warm cache (maintenance-ops.md 7.3), as cold data reads at disk
 * speed. A history-based rate would replace them. */
static const struct {
	const char *op;
	const char *basis; /* what the size is: "all", "index", "retention" (rows), "fixed" */
	double rate;
} est_rates[] = {
	{ "vacuum", "all", 100e6 },       { "reindex", "index", 50e6 },
	{ "cleanup", "retention", 5e5 },  { "logs", "retention", 5e5 },
	{ "sessions", "retention", 5e5 }, { "views", "fixed", 0 },
	{ "stats", "fixed", 0 },          { "bloat", "all", 1e9 },
	{ "backup", "all", 50e6 },
};

static const char sql_pg_version[] = "SELECT current_setting('server_version')";
static const char sql_pg_dbsize[] = "SELECT pg_database_size(current_database())";
static const char sql_pg_indexes[] =
        "SELECT s.schemaname, s.relname AS table_name, s.indexrelname AS index_name,"
        " am.amname AS method, i.indisunique AS is_unique, i.indisprimary AS is_primary,"
        " i.indisvalid AS is_valid, pg_relation_size(s.indexrelid) AS bytes,"
        " s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,"
        " pg_get_indexdef(s.indexrelid) AS definition "
        "FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid "
        "JOIN pg_class ic ON ic.oid = s.indexrelid JOIN pg_am am ON am.oid = ic.relam "
        "ORDER BY bytes DESC, 1, 2, 3";
static const char pg_indexes_types[] = "ssssbbbnnnns";
/* Never scanned, and not enforcing a constraint (unique, primary, exclusion). */
static const char sql_pg_unused[] =
        "SELECT s.schemaname, s.relname AS table_name, s.indexrelname AS index_name, s.idx_scan,"
        " pg_relation_size(s.indexrelid) AS bytes, pg_get_indexdef(s.indexrelid) AS definition "
        "FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid "
        "WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND i.indisvalid"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid) "
        "ORDER BY bytes DESC, 1, 2, 3";
static const char sql_pg_stats_reset[] =
        "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()";
static const char sql_pg_conn_total[] =
        "SELECT count(*) AS total, current_setting('max_connections')::int AS max_connections,"
        " current_setting('superuser_reserved_connections')::int AS reserved "
        "FROM pg_stat_activity WHERE backend_type = 'client backend'";
static const char sql_pg_conn_states[] =
        "SELECT datname, usename, application_name, state, count(*) AS count "
        "FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "GROUP BY 1, 2, 3, 4 ORDER BY count(*) DESC, 1, 2, 3, 4";
/* $1 = threshold in seconds. Ages in seconds; xact_age matters as much as query_age (an old
 * transaction holds back VACUUM and REINDEX CONCURRENTLY). */
static const char sql_pg_long[] =
        "SELECT pid, usename, datname, application_name, state,"
        " extract(epoch FROM now() - query_start) AS query_age_seconds,"
        " extract(epoch FROM now() - xact_start) AS xact_age_seconds,"
        " wait_event_type, wait_event, left(query, 200) AS query "
        "FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " AND state <> 'idle' AND (now() - query_start > make_interval(secs => $1::float8)"
        " OR now() - xact_start > make_interval(secs => $1::float8)) "
        "ORDER BY xact_start NULLS LAST, pid";
static const char pg_long_types[] = "nssssnnsss";
/* pg_blocking_pids also sees queueing behind a waiter, which pg_locks self-joins miss. */
static const char sql_pg_blocking[] =
        "SELECT a.pid AS blocked_pid, a.usename AS blocked_user,"
        " extract(epoch FROM now() - a.query_start) AS waiting_seconds,"
        " a.wait_event_type, a.wait_event, left(a.query, 200) AS blocked_query,"
        " b.pid AS blocking_pid, b.usename AS blocking_user, b.state AS blocking_state,"
        " extract(epoch FROM now() - b.xact_start) AS blocking_xact_seconds,"
        " left(b.query, 200) AS blocking_query "
        "FROM pg_stat_activity a CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS bp(pid) "
        "JOIN pg_stat_activity b ON b.pid = bp.pid "
        "WHERE cardinality(pg_blocking_pids(a.pid)) > 0 ORDER BY a.pid, b.pid";
static const char pg_blocking_types[] = "nsnsssnssns";

/* The last successful real runs of one operation ($1), from the execution log the engine
 * writes (core_taskexecutionlog, task name database_maintenance): its duration_seconds. */
static const char sql_pg_history[] =
        "SELECT (result -> $1 ->> 'duration_seconds')::float8 FROM core_taskexecutionlog "
        "WHERE task_name = 'database_maintenance' AND NOT dry_run "
        "AND result -> $1 ->> 'status' = 'completed' "
        "AND result -> $1 ->> 'duration_seconds' IS NOT NULL ORDER BY id DESC LIMIT 5";
static const char sql_lite_history[] =
        "SELECT json_extract(result, '$.' || ?1 || '.duration_seconds') FROM core_taskexecutionlog "
        "WHERE task_name = 'database_maintenance' AND NOT dry_run "
        "AND json_extract(result, '$.' || ?1 || '.status') = 'completed' "
        "AND json_extract(result, '$.' || ?1 || '.duration_seconds') IS NOT NULL "
        "ORDER BY id DESC LIMIT 5";
static const char history_table[] = "core_taskexecutionlog";

static const char sql_lite_dbsize[] =
        "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size";
static const char sql_lite_indexes[] =
        "SELECT m.tbl_name AS table_name, l.name AS index_name, l.\"unique\" AS is_unique,"
        " l.origin, l.partial FROM sqlite_schema m, pragma_index_list(m.name) l "
        "WHERE m.type = 'table' ORDER BY 1, 2";
static const char sql_lite_journal[] = "PRAGMA journal_mode";

static int
add_query(struct db *db, cJSON *into, const char *key, const char *sql, const char *types,
          struct err *err)
{
	struct db_rows *rows = db_query(db, sql, 0, NULL, err);

	if (rows == NULL)
		return err_prefix(err, "report %s", key);
	cJSON_AddItemToObject(into, key, ops_rows_json(rows, types));
	db_rows_free(rows);
	return 0;
}

cJSON *
ops_report_long_queries(struct db *db, int threshold_s, struct err *err)
{
	char secs[24];
	const char *params[1] = { secs };
	struct db_rows *rows;
	cJSON *o;

	if (db_kind(db) == DB_SQLITE)
		return ops_not_applicable("SQLite has no server: other processes' queries are "
		                          "not visible");
	snprintf(secs, sizeof secs, "%d", threshold_s);
	rows = db_query(db, sql_pg_long, 1, params, err);
	if (rows == NULL)
		return NULL;
	o = cJSON_CreateObject();
	ops_add_num(o, "threshold_seconds", threshold_s);
	cJSON_AddItemToObject(o, "queries", ops_rows_json(rows, pg_long_types));
	db_rows_free(rows);
	return o;
}

/* SQLite: can we take the write lock right now? BEGIN IMMEDIATE with no busy wait. */
static int
lite_writer_active(struct db *db, const struct ops_options *opt, bool *active, struct err *err)
{
	struct err busy;

	if (db_set_timeouts(db, 0, 0, err) < 0)
		return -1;
	err_clear(&busy);
	*active = db_begin(db, &busy) < 0;
	if (!*active)
		db_rollback(db);
	return db_set_timeouts(db, opt->lock_timeout_ms, opt->statement_timeout_ms, err);
}

cJSON *
ops_report_blocking_locks(struct db *db, struct err *err)
{
	struct db_rows *rows;
	cJSON *arr;

	if (db_kind(db) == DB_SQLITE)
		return ops_not_applicable(
		        "SQLite has no lock table: see connections.writer_active");
	rows = db_query(db, sql_pg_blocking, 0, NULL, err);
	if (rows == NULL)
		return NULL;
	arr = ops_rows_json(rows, pg_blocking_types);
	db_rows_free(rows);
	return arr;
}

static int
pg_connections(struct db *db, cJSON *rep, struct err *err)
{
	struct db_rows *rows = db_query(db, sql_pg_conn_total, 0, NULL, err);
	cJSON *c;

	if (rows == NULL)
		return -1;
	c = ops_row_json(rows, 0, "nnn");
	db_rows_free(rows);
	cJSON_AddItemToObject(rep, "connections", c);
	return add_query(db, c, "by_state", sql_pg_conn_states, "ssssn", err);
}

static int
pg_unused(struct db *db, cJSON *rep, struct err *err)
{
	struct db_rows *rows = db_query(db, sql_pg_stats_reset, 0, NULL, err);
	cJSON *u = cJSON_CreateObject();

	cJSON_AddItemToObject(rep, "unused_indexes", u);
	if (rows == NULL)
		return -1;
	ops_add_str(u, "stats_since", db_rows_count(rows) == 1 ? db_rows_get(rows, 0, 0) : NULL);
	ops_add_str(u, "note",
	            "idx_scan = 0 since stats_since (null: never reset); advice only, "
	            "indexes used only on replicas show 0 here");
	db_rows_free(rows);
	return add_query(db, u, "indexes", sql_pg_unused, "sssnns", err);
}

static int
pg_sections(struct db *db, const struct ops_options *opt UNUSED, cJSON *rep, struct err *err)
{
	cJSON *s;

	if (add_query(db, rep, "indexes", sql_pg_indexes, pg_indexes_types, err) < 0 ||
	    pg_unused(db, rep, err) < 0 || pg_connections(db, rep, err) < 0)
		return -1;
	s = ops_report_long_queries(db, LONG_QUERY_SECONDS, err);
	if (s == NULL)
		return -1;
	cJSON_AddItemToObject(rep, "long_running_queries", s);
	s = ops_report_blocking_locks(db, err);
	if (s == NULL)
		return -1;
	cJSON_AddItemToObject(rep, "blocking_locks", s);
	return 0;
}

static double
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (double)st.st_size : 0;
}

static int
lite_sections(struct db *db, const struct ops_options *opt, cJSON *rep, struct err *err)
{
	struct db_rows *rows = NULL;
	cJSON *c = cJSON_CreateObject(), *idx;
	char *wal = xasprintf("%s-wal", db_target(db));
	bool writer = false;
	int rc = -1;

	cJSON_AddItemToObject(rep, "connections", c);
	if (add_query(db, rep, "indexes", sql_lite_indexes, "ssbsb", err) < 0)
		goto out;
	cJSON_ArrayForEach(idx, cJSON_GetObjectItem(rep, "indexes"))
		ops_add_str(idx, "usage", "not_applicable");
	cJSON_AddItemToObject(rep, "unused_indexes",
	                      ops_not_applicable("SQLite keeps no index usage counters"));
	ops_add_str(c, "status", "not_applicable");
	ops_add_str(c, "reason", "SQLite has no server connections; file facts instead");
	rows = db_query(db, sql_lite_journal, 0, NULL, err);
	if (rows == NULL || lite_writer_active(db, opt, &writer, err) < 0)
		goto out;
	ops_add_str(c, "journal_mode", db_rows_count(rows) == 1 ? db_rows_get(rows, 0, 0) : NULL);
	ops_add_num(c, "wal_bytes", file_size(wal));
	cJSON_AddItemToObject(c, "writer_active", cJSON_CreateBool(writer));
	cJSON_AddItemToObject(rep, "long_running_queries", ops_report_long_queries(db, 0, err));
	cJSON_AddItemToObject(rep, "blocking_locks", ops_report_blocking_locks(db, err));
	rc = 0;
out:
	db_rows_free(rows);
	free(wal);
	return rc;
}

/* Sum a numeric field over the table_sizes array, all tables or only the named ones. */
static double
sum_tables(const cJSON *tables, const char *field, const char *const *only, size_t nonly)
{
	const cJSON *t;
	double sum = 0;
	size_t k;

	cJSON_ArrayForEach(t, tables) {
		const cJSON *name = cJSON_GetObjectItem(t, "table_name");
		const cJSON *v = cJSON_GetObjectItem(t, field);
		bool take = nonly == 0;

		for (k = 0; k < nonly && cJSON_IsString(name); k++) {
			const char *dot = strrchr(name->valuestring, '.');
			const char *base = dot != NULL ? dot + 1 : name->valuestring;

			if (only[k] != NULL &&
			    (strcmp(base, only[k]) == 0 || strcmp(name->valuestring, only[k]) == 0))
				take = true;
		}
		if (take && cJSON_IsNumber(v))
			sum += v->valuedouble;
	}
	return sum;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median duration of the last (up to 5) successful real runs of op; false when none. */
static bool
history_median(struct db *db, const char *op, double *out)
{
	const char *params[1] = { op };
	struct err ignored;
	struct db_rows *rows;
	double v[5];
	int i, n = 0;

	err_clear(&ignored);
	rows = db_query(db, db_kind(db) == DB_SQLITE ? sql_lite_history : sql_pg_history, 1, params,
	                &ignored);
	if (rows == NULL) /* a log with another shape: no history, not a failed report */
		return false;
	for (i = 0; i < db_rows_count(rows) && n < 5; i++)
		if (db_rows_get(rows, i, 0) != NULL)
			v[n++] = strtod(db_rows_get(rows, i, 0), NULL);
	db_rows_free(rows);
	if (n == 0)
		return false;
	qsort(v, (size_t)n, sizeof v[0], cmp_double);
	*out = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return true;
}

/* Per operation: the median of its recent real runs when the execution log has them,
 * otherwise size / default rate; one second minimum (connection, catalog reads). */
static cJSON *
estimate(struct db *db, const cJSON *tables, const struct ops_options *opt)
{
	const char *retention[] = { opt->auditlog_table, opt->tasklog_table, opt->failed_table,
		                    opt->session_table };
	cJSON *e = cJSON_CreateObject(), *per = cJSON_CreateObject(), *how = cJSON_CreateObject();
	double total = 0, all = sum_tables(tables, "total_bytes", NULL, 0);
	double index = sum_tables(tables, "index_bytes", NULL, 0);
	double rows = sum_tables(tables, "rows", retention, ARRAY_LEN(retention));
	bool has_log = false;
	struct err ignored;
	size_t k;

	err_clear(&ignored);
	if (db_table_exists(db, history_table, &has_log, &ignored) < 0)
		has_log = false;
	for (k = 0; k < ARRAY_LEN(est_rates); k++) {
		const char *b = est_rates[k].basis;
		double size = strcmp(b, "all") == 0         ? all
		              : strcmp(b, "index") == 0     ? index
		              : strcmp(b, "retention") == 0 ? rows
		                                            : 0;
		double secs = est_rates[k].rate > 0 ? size / est_rates[k].rate : 0;
		bool hist = has_log && history_median(db, est_rates[k].op, &secs);

		secs = secs < 1 ? 1 : secs;
		ops_add_num(per, est_rates[k].op, secs);
		ops_add_str(how, est_rates[k].op, hist ? "history" : "default rate");
		total += secs;
	}
	ops_add_num(e, "total_seconds", total);
	cJSON_AddItemToObject(e, "per_operation", per);
	cJSON_AddItemToObject(e, "basis", how);
	ops_add_str(e, "method",
	            "median duration of the last 5 successful runs from core_taskexecutionlog "
	            "where present, else default rates over current sizes (vacuum 100 MB/s, "
	            "reindex 50 MB/s of index, backup 50 MB/s, retention 500k rows/s over all "
	            "their rows); at least 1 s each");
	return e;
}

static int
add_version(struct db *db, cJSON *rep, struct err *err)
{
	struct db_rows *rows = db_query(db, sql_pg_version, 0, NULL, err);

	if (rows == NULL)
		return err_prefix(err, "report server_version");
	ops_add_str(rep, "server_version",
	            db_rows_count(rows) == 1 ? db_rows_get(rows, 0, 0) : NULL);
	db_rows_free(rows);
	return 0;
}

static int
common_sections(struct db *db, const struct ops_options *opt, cJSON *rep, struct err *err)
{
	bool lite = db_kind(db) == DB_SQLITE;
	cJSON *tables, *bloat;
	int64_t size;

	ops_add_str(rep, "database", db_name(db));
	ops_add_str(rep, "engine", lite ? "sqlite" : "postgresql");
	if (!lite && add_version(db, rep, err) < 0)
		return -1;
	if (ops_query_int(db, lite ? sql_lite_dbsize : sql_pg_dbsize, 0, NULL, &size, err) < 0)
		return err_prefix(err, "report database_size");
	ops_add_num(rep, "database_size", (double)size);
	tables = ops_table_sizes(db, 0, err);
	if (tables == NULL)
		return err_prefix(err, "report table_sizes");
	cJSON_AddItemToObject(rep, "table_sizes", tables);
	bloat = cJSON_CreateObject();
	cJSON_AddItemToObject(rep, "bloat", bloat);
	if (ops_bloat_fill(db, 10.0, bloat, err) < 0)
		return err_prefix(err, "report bloat");
	cJSON_AddItemToObject(rep, "estimate", estimate(db, tables, opt));
	return 0;
}

cJSON *
ops_report(struct db *db, const struct ops_options *opt, struct err *err)
{
	cJSON *rep = cJSON_CreateObject();

	if (common_sections(db, opt, rep, err) < 0)
		goto fail;
	if ((db_kind(db) == DB_SQLITE ? lite_sections(db, opt, rep, err)
	                              : pg_sections(db, opt, rep, err)) < 0)
		goto fail;
	return rep;
fail:
	cJSON_Delete(rep);
	return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * ops_stats.c - the stats operation: the 20 largest tables with total, table and index bytes
 * and rows. PostgreSQL reads the size functions and pg_stat_user_tables; SQLite reads the
 * dbstat virtual table when it is compiled in, and only the file's page counts otherwise.
 * ops_table_sizes is also the report's "table_sizes" section. Read-only: dry-run is the same.
 */
#include "config.h"

#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_int.h"

enum {
	STATS_TOP = 20
};

/* $1 = limit (NULL = all). est_rows -1 means never analyzed: fall back to n_live_tup. */
static const char sql_pg_sizes[] =
        "SELECT format('%I.%I', n.nspname, c.relname) AS table_name,"
        " pg_total_relation_size(c.oid) AS total_bytes, pg_table_size(c.oid) AS table_bytes,"
        " pg_indexes_size(c.oid) AS index_bytes,"
        " CASE WHEN c.reltuples < 0 THEN coalesce(s.n_live_tup, 0)"
        " ELSE c.reltuples::bigint END AS rows,"
        " s.n_live_tup, s.n_dead_tup, s.last_vacuum, s.last_autovacuum, s.last_analyze,"
        " s.last_autoanalyze "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.relkind IN ('r', 'm', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
        "ORDER BY total_bytes DESC NULLS LAST, table_name LIMIT $1::bigint";
static const char pg_sizes_types[] = "snnnnnnssss";
static const char sql_pg_dbsize[] = "SELECT pg_database_size(current_database())";

static const char sql_lite_sizes[] =
        "SELECT m.tbl_name AS table_name, sum(s.pgsize) AS total_bytes,"
        " sum(CASE WHEN m.type = 'table' THEN s.pgsize ELSE 0 END) AS table_bytes,"
        " sum(CASE WHEN m.type = 'index' THEN s.pgsize ELSE 0 END) AS index_bytes "
        "FROM dbstat s JOIN sqlite_schema m ON m.name = s.name "
        "WHERE s.aggregate = 1 AND m.tbl_name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "GROUP BY m.tbl_name ORDER BY total_bytes DESC, table_name LIMIT ?1";
static const char sql_lite_names[] =
        "SELECT name AS table_name FROM sqlite_schema WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name LIMIT ?1";
static const char sql_lite_dbsize[] =
        "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size";
static const char sql_lite_count[] = "SELECT count(*) FROM ";

/* Rows of each SQLite table: count(*) over the name read from the catalog, quoted. */
static int
lite_add_rows(struct db *db, cJSON *tables, struct err *err)
{
	cJSON *t;

	cJSON_ArrayForEach(t, tables) {
		const char *name = cJSON_GetObjectItem(t, "table_name")->valuestring;
		char *sql = ops_sql_with_ident(db, sql_lite_count, NULL, name);
		int64_t n;
		int rc = ops_query_int(db, sql, 0, NULL, &n, err);

		free(sql);
		if (rc < 0)
			return -1;
		ops_add_num(t, "rows", (double)n);
	}
	return 0;
}

static cJSON *
lite_sizes(struct db *db, const char *limit, struct err *err)
{
	bool dbstat = ops_sqlite_has_dbstat(db);
	const char *params[1] = { limit };
	struct db_rows *rows =
	        db_query(db, dbstat ? sql_lite_sizes : sql_lite_names, 1, params, err);
	cJSON *tables;

	if (rows == NULL)
		return NULL;
	tables = ops_rows_json(rows, "snnn");
	db_rows_free(rows);
	if (lite_add_rows(db, tables, err) < 0) {
		cJSON_Delete(tables);
		return NULL;
	}
	return tables;
}

cJSON *
ops_table_sizes(struct db *db, int limit, struct err *err)
{
	char lim[24];
	const char *params[1] = { limit > 0 ? lim : NULL };
	struct db_rows *rows;
	cJSON *tables;

	snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : -1);
	if (db_kind(db) == DB_SQLITE)
		return lite_sizes(db, lim, err);
	rows = db_query(db, sql_pg_sizes, 1, params, err);
	if (rows == NULL)
		return NULL;
	tables = ops_rows_json(rows, pg_sizes_types);
	db_rows_free(rows);
	return tables;
}

static cJSON *
run(struct ops_ctx *ctx, struct err *err)
{
	bool lite = db_kind(ctx->db) == DB_SQLITE;
	cJSON *tables, *res;
	int64_t dbsize;

	ops_progress(ctx, 0, 1, "table sizes");
	if (ops_query_int(ctx->db, lite ? sql_lite_dbsize : sql_pg_dbsize, 0, NULL, &dbsize, err) <
	    0)
		return NULL;
	tables = ops_table_sizes(ctx->db, STATS_TOP, err);
	if (tables == NULL)
		return NULL;
	ops_progress(ctx, 1, 1, "stats done");
	res = ops_result_new("stats");
	ops_add_str(res, "message", "Statistics generated");
	ops_add_num(res, "database_bytes", (double)dbsize);
	ops_add_str(res, "method",
	            !lite ? "pg_total_relation_size + pg_stat_user_tables"
	            : ops_sqlite_has_dbstat(ctx->db) ? "dbstat"
	                                             : "page counts (dbstat not available)");
	ops_add_num(res, "tables_listed", cJSON_GetArraySize(tables));
	cJSON_AddItemToObject(res, "tables", tables);
	return res;
}

const struct ops_entry ops_stats_entry = {
	.name = "stats",
	.title = "Generate statistics",
	.flags = 0,
	.run = run,
};

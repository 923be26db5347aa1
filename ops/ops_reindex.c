/* SPDX-License-Identifier: MIT */
/*
 * ops_reindex.c - the reindex operation. PostgreSQL: first drop the invalid `_ccnew`/`_ccold`
 * leftovers of earlier failed concurrent rebuilds, then `REINDEX INDEX CONCURRENTLY` one index
 * per statement (progress and failures per index), then clean up again after any failure.
 * Invalid indexes without those suffixes come from a failed CREATE INDEX CONCURRENTLY: they
 * belong to migrations, so they are reported, never dropped. SQLite: one `REINDEX`.
 */
#include "config.h"

#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ops_int.h"
#include "strbuf.h"

/* Invalid indexes; leftover = the name a concurrent rebuild gives its copies. */
static const char sql_pg_invalid[] =
        "SELECT n.nspname, c.relname, t.relname AS table_name, "
        "c.relname ~ '_cc(new|old)[0-9]*$' AS leftover, pg_relation_size(c.oid) AS bytes "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid ORDER BY 1, 2";
static const char sql_pg_drop[] = "DROP INDEX CONCURRENTLY IF EXISTS ";
/* Valid user indexes; exclusion-constraint indexes cannot be rebuilt concurrently. */
static const char sql_pg_indexes[] =
        "SELECT n.nspname, c.relname, t.relname AS table_name, pg_relation_size(c.oid) AS bytes "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname !~ '^pg_toast' "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
        "WHERE k.conindid = i.indexrelid AND k.contype = 'x') "
        "ORDER BY t.relname, c.relname";
static const char sql_pg_reindex_conc[] = "REINDEX INDEX CONCURRENTLY ";
static const char sql_pg_reindex[] = "REINDEX INDEX ";
static const char sql_lite_reindex[] = "REINDEX";
static const char sql_lite_indexes[] =
        "SELECT name, tbl_name AS table_name FROM sqlite_schema WHERE type = 'index' ORDER BY name";

static cJSON *
index_object(struct db *db, const struct db_rows *rows, int i, int bytes_col)
{
	cJSON *o = cJSON_CreateObject();
	char *q = ops_qualified_ident(db, db_rows_get(rows, i, 0), db_rows_get(rows, i, 1));

	ops_add_str(o, "index", q);
	ops_add_str(o, "table", db_rows_get(rows, i, 2));
	ops_add_num(o, "bytes", strtod(db_rows_get(rows, i, bytes_col), NULL));
	free(q);
	return o;
}

/* Drop the leftovers, report the other invalid indexes. Fills *leftovers and *invalid.
 * A drop that fails is reported on its entry and counted in *nfailed. */
static int
pg_clean_leftovers(struct ops_ctx *ctx, cJSON *leftovers, cJSON *invalid, int *nfailed,
                   struct err *err)
{
	struct db_rows *rows = db_query(ctx->db, sql_pg_invalid, 0, NULL, err);
	int i;

	if (rows == NULL)
		return -1;
	for (i = 0; i < db_rows_count(rows); i++) {
		cJSON *o = index_object(ctx->db, rows, i, 4);
		char *sql;
		struct err e;

		if (strcmp(db_rows_get(rows, i, 3), "t") != 0) {
			ops_add_str(o, "action", "reported (not a reindex leftover; not dropped)");
			cJSON_AddItemToArray(invalid, o);
			continue;
		}
		cJSON_AddItemToArray(leftovers, o);
		sql = ops_sql_with_ident(ctx->db, sql_pg_drop, db_rows_get(rows, i, 0),
		                         db_rows_get(rows, i, 1));
		ops_add_str(o, "statement", sql);
		err_clear(&e);
		if (ctx->opt->dry_run)
			ops_add_str(o, "action", "would drop");
		else if (db_exec(ctx->db, sql, 0, NULL, NULL, &e) < 0) {
			ops_add_str(o, "action", "drop failed");
			ops_add_str(o, "error", e.msg);
			(*nfailed)++;
		} else
			ops_add_str(o, "action", "dropped");
		free(sql);
	}
	db_rows_free(rows);
	return 0;
}

/* Rebuild one index alone; returns 0 or -1 with e (the index failed). */
static int
pg_reindex_one(struct ops_ctx *ctx, const struct db_rows *rows, int i, cJSON *o, struct err *e)
{
	const char *prefix =
	        db_server_version(ctx->db) >= 120000 ? sql_pg_reindex_conc : sql_pg_reindex;
	char *sql = ops_sql_with_ident(ctx->db, prefix, db_rows_get(rows, i, 0),
	                               db_rows_get(rows, i, 1));
	double t0 = clock_mono();
	int rc = 0;

	ops_add_str(o, "statement", sql);
	if (ctx->opt->dry_run) {
		ops_add_str(o, "status", "would rebuild");
	} else if (db_exec(ctx->db, sql, 0, NULL, NULL, e) < 0) {
		ops_add_str(o, "status", "failed");
		ops_add_str(o, "error", e->msg);
		rc = -1;
	} else {
		ops_add_str(o, "status", "rebuilt");
		ops_add_num(o, "duration_seconds", clock_mono() - t0);
	}
	free(sql);
	return rc;
}

static cJSON *
pg_result(const struct ops_ctx *ctx, int n, cJSON **indexes, cJSON **leftovers, cJSON **invalid)
{
	cJSON *res = ops_result_new("reindex");

	ops_add_str(res, "message",
	            ctx->opt->dry_run
	                    ? "dry run: would REINDEX INDEX CONCURRENTLY each index listed"
	                    : "Reindex completed successfully");
	ops_add_num(res, "indexes_rebuilt", ctx->opt->dry_run ? 0 : n);
	cJSON_AddItemToObject(res, "indexes", *indexes);
	cJSON_AddItemToObject(res, "leftovers", *leftovers);
	cJSON_AddItemToObject(res, "invalid_indexes", *invalid);
	*indexes = *leftovers = *invalid = NULL;
	return res;
}

/* Steps: 1. clean leftovers; 2. rebuild each index; 3. after a failure, clean the new
 * leftover it left behind (a failed concurrent rebuild leaves an invalid `_ccnew`). */
static cJSON *
run_pg(struct ops_ctx *ctx, struct err *err)
{
	struct db_rows *rows = NULL;
	cJSON *res = NULL, *indexes = cJSON_CreateArray(), *leftovers = cJSON_CreateArray();
	cJSON *invalid = cJSON_CreateArray();
	struct strbuf failures;
	int i, n = 0, nfailed = 0, ndrop_failed = 0;

	sb_init(&failures);
	if (pg_clean_leftovers(ctx, leftovers, invalid, &ndrop_failed, err) < 0)
		goto fail;
	rows = db_query(ctx->db, sql_pg_indexes, 0, NULL, err);
	if (rows == NULL)
		goto fail;
	n = db_rows_count(rows);
	for (i = 0; i < n; i++) {
		cJSON *o = index_object(ctx->db, rows, i, 3);
		struct err e;

		cJSON_AddItemToArray(indexes, o);
		ops_progress(ctx, i, n, cJSON_GetObjectItem(o, "index")->valuestring);
		err_clear(&e);
		if (pg_reindex_one(ctx, rows, i, o, &e) < 0)
			sb_addf(&failures, "%s%s: %s", nfailed++ ? "; " : "",
			        cJSON_GetObjectItem(o, "index")->valuestring, e.msg);
	}
	ops_progress(ctx, n, n, "reindex done");
	if (nfailed > 0) {
		cJSON_Delete(invalid);
		invalid = cJSON_CreateArray();
		if (pg_clean_leftovers(ctx, leftovers, invalid, &ndrop_failed, err) < 0)
			goto fail;
		err_set(err, ERR_DB, "reindex failed on %d of %d indexes: %s", nfailed, n,
		        failures.buf);
		goto fail;
	}
	if (ndrop_failed > 0) {
		err_set(err, ERR_DB, "reindex: %d invalid leftover index(es) could not be dropped",
		        ndrop_failed);
		goto fail;
	}
	res = pg_result(ctx, n, &indexes, &leftovers, &invalid);
fail:
	cJSON_Delete(indexes);
	cJSON_Delete(leftovers);
	cJSON_Delete(invalid);
	db_rows_free(rows);
	sb_cleanup(&failures);
	return res;
}

static cJSON *
run_sqlite(struct ops_ctx *ctx, struct err *err)
{
	struct db_rows *rows = db_query(ctx->db, sql_lite_indexes, 0, NULL, err);
	cJSON *res = NULL;
	double t0 = clock_mono();

	if (rows == NULL)
		return NULL;
	if (!ctx->opt->dry_run) {
		ops_progress(ctx, 0, 1, sql_lite_reindex);
		if (db_exec(ctx->db, sql_lite_reindex, 0, NULL, NULL, err) < 0)
			goto fail;
		ops_progress(ctx, 1, 1, "reindex done");
	}
	res = ops_result_new("reindex");
	ops_add_str(res, "message",
	            ctx->opt->dry_run ? "dry run: would REINDEX every index"
	                              : "Reindex completed successfully");
	ops_add_str(res, "statement", sql_lite_reindex);
	ops_add_num(res, "indexes_rebuilt", ctx->opt->dry_run ? 0 : db_rows_count(rows));
	if (!ctx->opt->dry_run)
		ops_add_num(res, "duration_seconds", clock_mono() - t0);
	cJSON_AddItemToObject(res, "indexes", ops_rows_json(rows, "ss"));
fail:
	db_rows_free(rows);
	return res;
}

const struct ops_entry ops_reindex_entry = {
	.name = "reindex",
	.title = "Reindex DATABASE",
	.flags = OPS_WRITES | OPS_NO_TXN | OPS_LONG,
	.run_pg = run_pg,
	.run_sqlite = run_sqlite,
};

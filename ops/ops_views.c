/* SPDX-License-Identifier: MIT */
/*
 * ops_views.c - the views operation: refresh every materialized view in dependency order,
 * `CONCURRENTLY` where PostgreSQL allows it (populated, with a plain non-partial unique btree
 * index), the plain form otherwise, saying which and why. SQLite has no materialized views:
 * the operation is skipped, listing the plain views for information.
 */
#include "config.h"

#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ops_int.h"
#include "strbuf.h"

/* Dependency depth (a view reading another view comes later), populated flag, and whether a
 * unique index usable by REFRESH ... CONCURRENTLY exists. */
static const char sql_pg_matviews[] =
        "WITH RECURSIVE mv AS ("
        " SELECT c.oid, n.nspname, c.relname, c.relispopulated"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm'"
        "), edge AS ("
        " SELECT DISTINCT r.ev_class AS mv_oid, d.refobjid AS dep_oid FROM pg_rewrite r"
        " JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid"
        " JOIN mv m1 ON m1.oid = r.ev_class JOIN mv m2 ON m2.oid = d.refobjid"
        " WHERE d.refobjid <> r.ev_class"
        "), lvl (oid, depth) AS ("
        " SELECT oid, 0 FROM mv UNION ALL"
        " SELECT e.mv_oid, l.depth + 1 FROM lvl l JOIN edge e ON e.dep_oid = l.oid"
        " WHERE l.depth < 50"
        ") SELECT m.nspname, m.relname, m.relispopulated,"
        " EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
        " JOIN pg_am am ON am.oid = ic.relam WHERE i.indrelid = m.oid AND i.indisunique"
        " AND i.indisvalid AND i.indimmediate AND am.amname = 'btree'"
        " AND i.indpred IS NULL AND i.indexprs IS NULL) AS has_unique_index,"
        " max(l.depth) AS refresh_order"
        " FROM lvl l JOIN mv m USING (oid)"
        " GROUP BY m.oid, m.nspname, m.relname, m.relispopulated ORDER BY 5, 1, 2";
static const char sql_pg_refresh_conc[] = "REFRESH MATERIALIZED VIEW CONCURRENTLY ";
static const char sql_pg_refresh[] = "REFRESH MATERIALIZED VIEW ";
static const char sql_lite_views[] =
        "SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name";

/* Pick the form for view i and say why. */
static bool
choose_concurrent(const struct db_rows *rows, int i, const char **why)
{
	if (strcmp(db_rows_get(rows, i, 2), "t") != 0) {
		*why = "not populated: concurrent refresh is impossible, plain refresh used";
		return false;
	}
	if (strcmp(db_rows_get(rows, i, 3), "t") != 0) {
		*why = "no unique index without WHERE on plain columns: plain refresh used "
		       "(blocks readers); create a unique index to allow CONCURRENTLY";
		return false;
	}
	*why = "populated with a unique index";
	return true;
}

static int
refresh_one(struct ops_ctx *ctx, const struct db_rows *rows, int i, cJSON *o, struct err *e)
{
	const char *why;
	bool conc = choose_concurrent(rows, i, &why);
	char *sql = ops_sql_with_ident(ctx->db, conc ? sql_pg_refresh_conc : sql_pg_refresh,
	                               db_rows_get(rows, i, 0), db_rows_get(rows, i, 1));
	double t0 = clock_mono();
	int rc = 0;

	ops_add_str(o, "mode", conc ? "concurrent" : "plain");
	ops_add_str(o, "reason", why);
	ops_add_str(o, "statement", sql);
	if (ctx->opt->dry_run) {
		ops_add_str(o, "status", "would refresh");
	} else if (db_exec(ctx->db, sql, 0, NULL, NULL, e) < 0) {
		ops_add_str(o, "status", "failed");
		ops_add_str(o, "error", e->msg);
		rc = -1;
	} else {
		ops_add_str(o, "status", "refreshed");
		ops_add_num(o, "duration_seconds", clock_mono() - t0);
	}
	free(sql);
	return rc;
}

static cJSON *
run_pg(struct ops_ctx *ctx, struct err *err)
{
	struct db_rows *rows = NULL;
	cJSON *res = NULL, *views = cJSON_CreateArray();
	struct strbuf failures;
	int i, n, nfailed = 0, nconc = 0;

	sb_init(&failures);
	rows = db_query(ctx->db, sql_pg_matviews, 0, NULL, err);
	if (rows == NULL)
		goto fail;
	n = db_rows_count(rows);
	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		char *q = ops_qualified_ident(ctx->db, db_rows_get(rows, i, 0),
		                              db_rows_get(rows, i, 1));
		struct err e;

		ops_add_str(o, "view", q);
		cJSON_AddItemToArray(views, o);
		ops_progress(ctx, i, n, q);
		err_clear(&e);
		if (refresh_one(ctx, rows, i, o, &e) < 0)
			sb_addf(&failures, "%s%s: %s", nfailed++ ? "; " : "", q, e.msg);
		else if (strcmp(cJSON_GetObjectItem(o, "mode")->valuestring, "concurrent") == 0)
			nconc++;
		free(q);
	}
	ops_progress(ctx, n, n, "views done");
	if (nfailed > 0) {
		err_set(err, ERR_DB, "views: refresh failed on %d of %d materialized views: %s",
		        nfailed, n, failures.buf);
		goto fail;
	}
	res = ops_result_new("views");
	ops_add_str(res, "message",
	            n == 0              ? "no materialized views"
	            : ctx->opt->dry_run ? "dry run: would refresh the materialized views listed"
	                                : "Materialized views refreshed");
	ops_add_num(res, "views_refreshed", ctx->opt->dry_run ? 0 : n);
	ops_add_num(res, "concurrent", nconc);
	ops_add_num(res, "plain", n - nconc);
	cJSON_AddItemToObject(res, "views", views);
	views = NULL;
fail:
	cJSON_Delete(views);
	db_rows_free(rows);
	sb_cleanup(&failures);
	return res;
}

static cJSON *
run_sqlite(struct ops_ctx *ctx, struct err *err)
{
	struct db_rows *rows = db_query(ctx->db, sql_lite_views, 0, NULL, err);
	cJSON *res;

	if (rows == NULL)
		return NULL;
	res = ops_result_skipped("views", "not applicable on SQLite");
	cJSON_AddItemToObject(res, "plain_views", ops_rows_json(rows, "s"));
	db_rows_free(rows);
	return res;
}

const struct ops_entry ops_views_entry = {
	.name = "views",
	.title = "Update materialized views",
	.flags = OPS_WRITES | OPS_LONG,
	.run_pg = run_pg,
	.run_sqlite = run_sqlite,
};

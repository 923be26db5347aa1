/* SPDX-License-Identifier: MIT */
/*
 * ops_vacuum.c - the vacuum operation. PostgreSQL: one `VACUUM (ANALYZE, SKIP_LOCKED)` per user
 * table, each alone and outside any transaction, with dead tuples before/after and the
 * server's warnings per table. SQLite: VACUUM, ANALYZE, PRAGMA optimize, with pages freed.
 * Is not: VACUUM FULL (it rewrites under ACCESS EXCLUSIVE and is never run by default).
 */
#include "config.h"

#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ops_int.h"
#include "strbuf.h"

/* Candidates, most dead tuples first (the order that helps most if a run is cut short).
 * Heap size from relpages: pg_relation_size would wait behind an ACCESS EXCLUSIVE lock. */
static const char sql_pg_tables[] = "SELECT s.schemaname, s.relname, s.n_live_tup, s.n_dead_tup,"
                                    " c.relpages::bigint * current_setting('block_size')::bigint "
                                    "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                                    "ORDER BY s.n_dead_tup DESC, s.schemaname, s.relname";
static const char sql_pg_dead_after[] = "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables "
                                        "WHERE schemaname = $1 AND relname = $2";
/* SKIP_LOCKED (PG 12+): a table whose lock is taken is skipped with a WARNING, not waited for. */
static const char sql_pg_vacuum[] = "VACUUM (ANALYZE, SKIP_LOCKED) ";
static const char sql_pg_vacuum_old[] = "VACUUM (ANALYZE) ";

static const char sql_lite_pages[] =
        "SELECT page_count, freelist_count, page_size "
        "FROM pragma_page_count, pragma_freelist_count, pragma_page_size";
static const char sql_lite_tables[] =
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name";
static const char *const lite_steps[] = { "VACUUM", "ANALYZE", "PRAGMA optimize" };
static const char sql_lite_journal[] = "PRAGMA journal_mode";
/* VACUUM rewrote the whole file into the WAL: give the space back once no reader pins it. */
static const char sql_lite_checkpoint[] = "PRAGMA wal_checkpoint(TRUNCATE)";

/* Collects the notices of one statement (the "skipping ..." warnings). */
struct notices {
	cJSON *list; /* array of "SEVERITY: message" strings, owned */
	int warnings;
};

static void
on_notice(void *arg, const char *severity, const char *message)
{
	struct notices *n = arg;
	struct strbuf sb;
	size_t len;
	char *line;

	sb_init(&sb);
	sb_addf(&sb, "%s: %s", severity, message);
	line = sb_detach(&sb, &len);
	while (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	cJSON_AddItemToArray(n->list, cJSON_CreateString(line));
	free(line);
	if (strcmp(severity, "WARNING") == 0)
		n->warnings++;
}

/* Steps for one table: VACUUM it alone (autocommit), then read its counters back.
 * Returns 0 with the table's object filled, or -1 with err (the table failed). */
static int
pg_vacuum_table(struct ops_ctx *ctx, const struct db_rows *rows, int i, cJSON *t, int *warnings,
                struct err *err)
{
	const char *schema = db_rows_get(rows, i, 0), *name = db_rows_get(rows, i, 1);
	const char *prefix =
	        db_server_version(ctx->db) >= 120000 ? sql_pg_vacuum : sql_pg_vacuum_old;
	const char *params[2] = { schema, name };
	struct notices n = { .list = cJSON_CreateArray(), .warnings = 0 };
	struct db_rows *after = NULL;
	char *sql = ops_sql_with_ident(ctx->db, prefix, schema, name);
	double t0 = clock_mono();
	int rc = -1;

	db_set_notice_fn(ctx->db, on_notice, &n);
	if (db_exec(ctx->db, sql, 0, NULL, NULL, err) < 0)
		goto out;
	ops_add_num(t, "duration_seconds", clock_mono() - t0);
	after = db_query(ctx->db, sql_pg_dead_after, 2, params, err);
	if (after == NULL)
		goto out;
	if (db_rows_count(after) == 1) {
		ops_add_num(t, "live_tuples_after", strtod(db_rows_get(after, 0, 0), NULL));
		ops_add_num(t, "dead_tuples_after", strtod(db_rows_get(after, 0, 1), NULL));
	}
	rc = 0;
out:
	db_set_notice_fn(ctx->db, NULL, NULL);
	*warnings += n.warnings;
	cJSON_AddItemToObject(t, "warnings", n.list);
	db_rows_free(after);
	free(sql);
	return rc;
}

static cJSON *
table_object(struct db *db, const struct db_rows *rows, int i)
{
	cJSON *t = cJSON_CreateObject();
	char *q = ops_qualified_ident(db, db_rows_get(rows, i, 0), db_rows_get(rows, i, 1));

	ops_add_str(t, "table", q);
	ops_add_num(t, "dead_tuples_before", strtod(db_rows_get(rows, i, 3), NULL));
	ops_add_num(t, "live_tuples_before", strtod(db_rows_get(rows, i, 2), NULL));
	ops_add_num(t, "heap_bytes", strtod(db_rows_get(rows, i, 4), NULL));
	free(q);
	return t;
}

/* The operation's object; takes ownership of tables. */
static cJSON *
pg_result(const struct ops_ctx *ctx, int n, int warnings, double dead_before, double dead_after,
          cJSON *tables)
{
	cJSON *res = ops_result_new("vacuum");

	if (ctx->opt->dry_run)
		ops_add_str(res, "message", "dry run: would VACUUM (ANALYZE) the tables listed");
	else if (warnings > 0)
		ops_add_str(res, "message",
		            "VACUUM ANALYZE completed with warnings (see the tables' warnings)");
	else
		ops_add_str(res, "message", "VACUUM ANALYZE completed successfully");
	ops_add_num(res, "tables_vacuumed", ctx->opt->dry_run ? 0 : n);
	ops_add_num(res, "warnings", warnings);
	ops_add_num(res, "dead_tuples_before", dead_before);
	if (!ctx->opt->dry_run)
		ops_add_num(res, "dead_tuples_after", dead_after);
	cJSON_AddItemToObject(res, "tables", tables);
	return res;
}

/* A failed table does not stop the others; the run fails at the end naming each one. */
static cJSON *
run_pg(struct ops_ctx *ctx, struct err *err)
{
	struct db_rows *rows = NULL;
	cJSON *res = NULL, *tables = cJSON_CreateArray();
	struct strbuf failures;
	int i, n, nfailed = 0, warnings = 0;
	double dead_before = 0, dead_after = 0;

	sb_init(&failures);
	rows = db_query(ctx->db, sql_pg_tables, 0, NULL, err);
	if (rows == NULL)
		goto fail;
	n = db_rows_count(rows);
	for (i = 0; i < n; i++) {
		cJSON *t = table_object(ctx->db, rows, i);
		struct err e;

		cJSON_AddItemToArray(tables, t);
		dead_before += cJSON_GetObjectItem(t, "dead_tuples_before")->valuedouble;
		ops_progress(ctx, i, n, cJSON_GetObjectItem(t, "table")->valuestring);
		if (ctx->opt->dry_run) {
			char *sql =
			        ops_sql_with_ident(ctx->db, sql_pg_vacuum, db_rows_get(rows, i, 0),
			                           db_rows_get(rows, i, 1));
			ops_add_str(t, "statement", sql);
			free(sql);
			continue;
		}
		err_clear(&e);
		if (pg_vacuum_table(ctx, rows, i, t, &warnings, &e) < 0) {
			ops_add_str(t, "error", e.msg);
			sb_addf(&failures, "%s%s: %s", nfailed++ ? "; " : "",
			        cJSON_GetObjectItem(t, "table")->valuestring, e.msg);
			continue;
		}
		if (cJSON_GetObjectItem(t, "dead_tuples_after") != NULL)
			dead_after += cJSON_GetObjectItem(t, "dead_tuples_after")->valuedouble;
	}
	ops_progress(ctx, n, n, "vacuum done");
	if (nfailed > 0) {
		err_set(err, ERR_DB, "vacuum failed on %d of %d tables: %s", nfailed, n,
		        failures.buf);
		goto fail;
	}
	res = pg_result(ctx, n, warnings, dead_before, dead_after, tables);
	tables = NULL;
fail:
	cJSON_Delete(tables);
	db_rows_free(rows);
	sb_cleanup(&failures);
	return res;
}

/* page_count, freelist_count, page_size of the SQLite file. */
static int
lite_pages(struct db *db, int64_t out[3], struct err *err)
{
	struct db_rows *rows = db_query(db, sql_lite_pages, 0, NULL, err);
	int k;

	if (rows == NULL)
		return -1;
	if (db_rows_count(rows) != 1) {
		db_rows_free(rows);
		return err_set(err, ERR_BUG, "vacuum: no page counts from SQLite");
	}
	for (k = 0; k < 3; k++)
		out[k] = strtoll(db_rows_get(rows, 0, k), NULL, 10);
	db_rows_free(rows);
	return 0;
}

static void
add_pages(cJSON *res, const char *prefix, const int64_t p[3])
{
	char key[64];

	snprintf(key, sizeof key, "%s_pages", prefix);
	ops_add_num(res, key, (double)p[0]);
	snprintf(key, sizeof key, "%s_freelist_pages", prefix);
	ops_add_num(res, key, (double)p[1]);
	snprintf(key, sizeof key, "%s_bytes", prefix);
	ops_add_num(res, key, (double)(p[0] * p[2]));
}

/* WAL mode only: checkpoint and truncate the WAL, reporting a busy result (a reader that
 * keeps a transaction open pins the WAL; worth surfacing, not a failure). */
static int
lite_checkpoint(struct db *db, cJSON *res, struct err *err)
{
	struct db_rows *mode = db_query(db, sql_lite_journal, 0, NULL, err), *cp = NULL;
	cJSON *o;
	int rc = -1;

	if (mode == NULL)
		return -1;
	ops_add_str(res, "journal_mode", db_rows_count(mode) == 1 ? db_rows_get(mode, 0, 0) : NULL);
	if (db_rows_count(mode) != 1 || strcmp(db_rows_get(mode, 0, 0), "wal") != 0) {
		rc = 0;
		goto out;
	}
	cp = db_query(db, sql_lite_checkpoint, 0, NULL, err);
	if (cp == NULL)
		goto out;
	o = ops_row_json(cp, 0, "nnn");
	cJSON_AddItemToObject(res, "wal_checkpoint", o);
	rc = 0;
out:
	db_rows_free(mode);
	db_rows_free(cp);
	return rc;
}

static cJSON *
run_sqlite(struct ops_ctx *ctx, struct err *err)
{
	struct db_rows *names = NULL;
	cJSON *res = NULL;
	int64_t before[3], after[3];
	size_t k;
	double t0 = clock_mono();

	if (db_in_transaction(ctx->db)) {
		err_set(err, ERR_BUG, "vacuum: cannot VACUUM from within a transaction");
		goto fail;
	}
	if (lite_pages(ctx->db, before, err) < 0)
		goto fail;
	names = db_query(ctx->db, sql_lite_tables, 0, NULL, err);
	if (names == NULL)
		goto fail;
	for (k = 0; k < ARRAY_LEN(lite_steps) && !ctx->opt->dry_run; k++) {
		ops_progress(ctx, (int64_t)k, (int64_t)ARRAY_LEN(lite_steps), lite_steps[k]);
		if (db_exec(ctx->db, lite_steps[k], 0, NULL, NULL, err) < 0) {
			err_prefix(err, "%s", lite_steps[k]);
			goto fail;
		}
	}
	res = ops_result_new("vacuum");
	add_pages(res, "before", before);
	ops_add_num(res, "page_size", (double)before[2]);
	cJSON_AddItemToObject(res, "tables", ops_rows_json(names, "s"));
	if (ctx->opt->dry_run) {
		cJSON *st = cJSON_CreateArray();

		for (k = 0; k < ARRAY_LEN(lite_steps); k++)
			cJSON_AddItemToArray(st, cJSON_CreateString(lite_steps[k]));
		cJSON_AddItemToObject(res, "statements", st);
		ops_add_num(res, "pages_freeable", (double)before[1]);
		ops_add_str(res, "message", "dry run: would VACUUM, ANALYZE and PRAGMA optimize");
		goto out;
	}
	if (lite_pages(ctx->db, after, err) < 0) {
		cJSON_Delete(res);
		res = NULL;
		goto fail;
	}
	if (lite_checkpoint(ctx->db, res, err) < 0) {
		cJSON_Delete(res);
		res = NULL;
		goto fail;
	}
	add_pages(res, "after", after);
	ops_add_num(res, "pages_freed", (double)(before[0] - after[0]));
	ops_add_num(res, "bytes_freed", (double)((before[0] - after[0]) * before[2]));
	ops_add_num(res, "duration_seconds", clock_mono() - t0);
	ops_add_str(res, "message", "VACUUM, ANALYZE and PRAGMA optimize completed successfully");
out:
fail:
	db_rows_free(names);
	return res;
}

const struct ops_entry ops_vacuum_entry = {
	.name = "vacuum",
	.title = "Vacuum & Analyze",
	.flags = OPS_WRITES | OPS_NO_TXN | OPS_LONG,
	.run_pg = run_pg,
	.run_sqlite = run_sqlite,
};

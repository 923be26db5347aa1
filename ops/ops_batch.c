/* SPDX-License-Identifier: MIT */
/*
 * ops_batch.c - the shared mechanics of the retention operations: SQL templates whose only
 * substitutions are quoted identifiers, one-integer queries, and the batched statement loop
 * (one transaction per batch, a fixed cut-off, dry-run counting, progress after each commit).
 * It knows no table names; cleanup, logs and sessions pass theirs in an ops_batch_spec.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops_int.h"
#include "strbuf.h"
#include "xalloc.h"

/* Reads "{N}" at p; returns the characters consumed (0 if p is not a reference). */
static size_t
parse_ref(const char *p, size_t *index)
{
	size_t i = 1, v = 0;

	if (p[0] != '{' || !isdigit((unsigned char)p[1]))
		return 0;
	while (isdigit((unsigned char)p[i]) && i < 6)
		v = v * 10 + (size_t)(p[i++] - '0');
	if (p[i] != '}')
		return 0;
	*index = v;
	return i + 1;
}

char *
ops_sql_expand(struct db *db, const char *tmpl, const char *const *idents, size_t n,
               struct err *err)
{
	struct strbuf sb;
	const char *p;
	char *q;
	size_t idx = 0, used;

	sb_init(&sb);
	for (p = tmpl; *p != '\0'; p += used) {
		used = parse_ref(p, &idx);
		if (used == 0) {
			sb_addc(&sb, *p);
			used = 1;
			continue;
		}
		if (idx >= n || idents[idx] == NULL) {
			err_set(err, ERR_BUG, "sql template: {%zu} has no identifier", idx);
			goto fail;
		}
		q = db_quote_ident(db, idents[idx]);
		if (q == NULL) {
			err_set(err, ERR_INVALID, "identifier %s: cannot be quoted", idents[idx]);
			goto fail;
		}
		sb_adds(&sb, q);
		free(q);
	}
	q = sb_detach(&sb, NULL);
	sb_cleanup(&sb);
	return q;
fail:
	sb_cleanup(&sb);
	return NULL;
}

int
ops_query_int(struct db *db, const char *sql, int nparams, const char *const *params, int64_t *out,
              struct err *err)
{
	struct db_rows *rows;
	const char *v;
	char *end = NULL;
	int rc = -1;

	*out = 0;
	rows = db_query(db, sql, nparams, params, err);
	if (rows == NULL)
		return -1;
	if (db_rows_count(rows) < 1 || db_rows_ncols(rows) < 1) {
		err_set(err, ERR_BUG, "query returned no row");
		goto out;
	}
	v = db_rows_get(rows, 0, 0);
	if (v != NULL) {
		errno = 0;
		*out = strtoll(v, &end, 10);
		if (errno != 0 || end == v) {
			err_set(err, ERR_BUG, "query returned %s, not an integer", v);
			goto out;
		}
	}
	rc = 0;
out:
	db_rows_free(rows);
	return rc;
}

static double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
count_matching(const struct ops_ctx *ctx, const struct ops_batch_spec *spec, int64_t *n,
               struct err *err)
{
	const char *params[1] = { spec->cutoff };
	char *sql;
	int rc;

	sql = ops_sql_expand(ctx->db, spec->count_sql, spec->idents, spec->nidents, err);
	if (sql == NULL)
		return -1;
	rc = ops_query_int(ctx->db, sql, 1, params, n, err);
	free(sql);
	return rc;
}

/* The progress total, cheaply: PostgreSQL's planner estimate ("Plan Rows" of the scan under
 * the count), SQLite's exact count (an index range scan). 0 (unknown) when it cannot tell;
 * a progress total is never worth failing the operation for. */
static int64_t
estimate_matching(const struct ops_ctx *ctx, const struct ops_batch_spec *spec)
{
	const char *params[1] = { spec->cutoff };
	const cJSON *plan, *child;
	struct db_rows *rows = NULL;
	struct err err;
	char *sql = NULL, *explain = NULL;
	struct strbuf sb;
	int64_t n = 0;
	cJSON *doc = NULL;

	if (db_kind(ctx->db) == DB_SQLITE)
		return count_matching(ctx, spec, &n, &err) == 0 ? n : 0;
	sql = ops_sql_expand(ctx->db, spec->count_sql, spec->idents, spec->nidents, &err);
	if (sql == NULL)
		goto out;
	sb_init(&sb);
	sb_adds(&sb, "EXPLAIN (FORMAT JSON) ");
	sb_adds(&sb, sql);
	explain = sb_detach(&sb, NULL);
	sb_cleanup(&sb);
	rows = db_query(ctx->db, explain, 1, params, &err);
	if (rows == NULL || db_rows_count(rows) < 1)
		goto out;
	doc = cJSON_Parse(db_rows_get(rows, 0, 0));
	plan = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(doc, 0), "Plan");
	child = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(plan, "Plans"), 0);
	plan = cJSON_GetObjectItemCaseSensitive(child != NULL ? child : plan, "Plan Rows");
	if (cJSON_IsNumber(plan))
		n = (int64_t)plan->valuedouble;
out:
	cJSON_Delete(doc);
	db_rows_free(rows);
	free(explain);
	free(sql);
	return n;
}

/* One batch in its own transaction; *n gets the rows it touched. */
static int
one_batch(struct db *db, const char *sql, const char *const *params, int nparams, int64_t *n,
          struct err *err)
{
	if (db_begin(db, err) < 0)
		return -1;
	if (db_exec(db, sql, nparams, params, n, err) < 0)
		goto fail;
	if (db_commit(db, err) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	return -1;
}

/*
 * 1. Dry run: count what the statement would touch with the same cut-off, and stop.
 * 2. With a progress callback, count once for the total (an index range scan on the date).
 * 3. Loop: BEGIN; the batch statement ($1 cut-off, $2 batch); COMMIT; report; stop after a
 *    short batch. A cancel between batches stops the loop (db_exec fails "canceled").
 * The cut-off is fixed by the caller, so a long run never chases now() forward.
 */
int
ops_batch_run(const struct ops_ctx *ctx, const struct ops_batch_spec *spec,
              struct ops_batch_stats *st, struct err *err)
{
	char batch[24];
	const char *params[3] = { spec->cutoff, batch, spec->param3 };
	const char *tmpl = db_kind(ctx->db) == DB_POSTGRES ? spec->sql_pg : spec->sql_sqlite;
	double t0 = mono_seconds(), tb;
	int64_t total = 0, n = 0;
	char *sql = NULL;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (spec->batch <= 0)
		return err_set(err, ERR_INVALID, "%s: batch size must be positive", spec->what);
	if (ctx->opt->dry_run) {
		if (count_matching(ctx, spec, &total, err) < 0)
			goto out;
		st->rows = total;
		rc = 0;
		goto out;
	}
	if (ctx->progress != NULL) {
		total = estimate_matching(ctx, spec);
		ops_progress(ctx, 0, total, spec->what);
	}
	sql = ops_sql_expand(ctx->db, tmpl, spec->idents, spec->nidents, err);
	if (sql == NULL)
		goto out;
	snprintf(batch, sizeof(batch), "%d", spec->batch);
	do {
		tb = mono_seconds();
		if (one_batch(ctx->db, sql, params, spec->param3 != NULL ? 3 : 2, &n, err) < 0)
			goto out;
		tb = mono_seconds() - tb;
		if (tb > st->max_batch_seconds)
			st->max_batch_seconds = tb;
		st->rows += n;
		st->batches++;
		ops_progress(ctx, st->rows, total > st->rows ? total : st->rows, spec->what);
	} while (n >= spec->batch);
	rc = 0;
out:
	st->seconds = mono_seconds() - t0;
	free(sql);
	return rc;
}

cJSON *
ops_batch_part(const struct ops_ctx *ctx, const struct ops_batch_spec *spec, const char *count_key,
               bool *missing, int64_t *rows, struct err *err)
{
	struct ops_batch_stats st;
	bool exists = false;
	cJSON *part;

	*missing = false;
	if (db_table_exists(ctx->db, spec->idents[0], &exists, err) < 0)
		return NULL;
	if (!exists) {
		*missing = true;
		part = ops_result_missing_table(spec->what, spec->idents[0]);
		cJSON_DeleteItemFromObjectCaseSensitive(part, "operation");
		return part;
	}
	if (ops_batch_run(ctx, spec, &st, err) < 0) {
		*rows += st.rows;
		err_prefix(err, "%s (after %lld rows in %lld batches)", spec->idents[0],
		           (long long)st.rows, (long long)st.batches);
		return NULL;
	}
	*rows += st.rows;
	part = cJSON_CreateObject();
	cJSON_AddStringToObject(part, "table", spec->idents[0]);
	cJSON_AddNumberToObject(part, count_key, (double)st.rows);
	cJSON_AddStringToObject(part, "cutoff", spec->cutoff);
	cJSON_AddNumberToObject(part, "batches", (double)st.batches);
	cJSON_AddNumberToObject(part, "batch_size", spec->batch);
	cJSON_AddNumberToObject(part, "seconds", (double)(int64_t)(st.seconds * 1e6) / 1e6);
	cJSON_AddNumberToObject(part, "max_batch_seconds",
	                        (double)(int64_t)(st.max_batch_seconds * 1e6) / 1e6);
	return part;
}

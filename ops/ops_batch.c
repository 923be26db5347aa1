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

#include "clock.h"
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

/* The statements of one run, expanded once. */
struct batch_sql {
	char *step;  /* owned: the single statement, or range mode's tie statement */
	char *first; /* owned: range mode only */
	char *bound; /* owned: range mode only */
	char *range; /* owned: range mode only */
};

static void
batch_sql_cleanup(struct batch_sql *q)
{
	free(q->step);
	free(q->first);
	free(q->bound);
	free(q->range);
}

static int
batch_sql_init(struct db *db, const struct ops_batch_spec *spec, struct batch_sql *q,
               struct err *err)
{
	const char *step = db_kind(db) == DB_POSTGRES ? spec->sql_pg : spec->sql_sqlite;

	memset(q, 0, sizeof(*q));
	q->step = ops_sql_expand(db, step, spec->idents, spec->nidents, err);
	if (q->step == NULL || spec->range_sql == NULL)
		return q->step == NULL ? -1 : 0;
	q->first = ops_sql_expand(db, spec->first_sql, spec->idents, spec->nidents, err);
	q->bound = q->first == NULL
	                   ? NULL
	                   : ops_sql_expand(db, spec->bound_sql, spec->idents, spec->nidents, err);
	q->range = q->bound == NULL
	                   ? NULL
	                   : ops_sql_expand(db, spec->range_sql, spec->idents, spec->nidents, err);
	return q->range == NULL ? -1 : 0;
}

/* Runs a query returning at most one value; *out gets a heap copy of row 0, column 0, or NULL
 * for no row (or SQL NULL). */
static int
query_key(struct db *db, const char *sql, int nparams, const char *const *params, char **out,
          struct err *err)
{
	struct db_rows *rows;
	const char *v;

	*out = NULL;
	rows = db_query(db, sql, nparams, params, err);
	if (rows == NULL)
		return -1;
	v = db_rows_count(rows) > 0 && db_rows_ncols(rows) > 0 ? db_rows_get(rows, 0, 0) : NULL;
	if (v != NULL)
		*out = xstrdup(v);
	db_rows_free(rows);
	return 0;
}

/*
 * One range-mode batch, one transaction. *lower is the inclusive lower date of what is
 * left to delete (NULL before the first batch; owned, replaced as the run advances); *last is
 * set once nothing is left after this batch; *n gets the rows deleted.
 *  1. First batch only: lower = the lowest date below the cut-off; none means nothing to do.
 *  2. upper = the date of the (batch+1)-th row from lower (an index-only scan of batch+1
 *     entries). None: fewer than batch+1 rows are left, and this is the last batch.
 *  3. DELETE lower <= date < min(upper, cut-off): at most batch rows, since the row at upper
 *     and any that tie with it stay; the row exactly at the cut-off stays.
 *  4. Nothing deleted although upper exists: the batch+1 next rows all share one date. Delete
 *     batch of them in date order (the single-statement form) and keep lower.
 * Why: the single statement (ctid = ANY(ARRAY(SELECT ctid ... ORDER BY date LIMIT n))) reads
 * each row three times: by the index scan that picks the ctids, by the TID scan that deletes
 * it, and once more when the next batch's index scan steps over the now dead index entry
 * (every batch restarts at the oldest entry, so 500k deleted rows leave 500k dead entries to
 * visit again). The range form starts each batch at lower, past the dead entries, and deletes
 * straight from the index range scan. Measured with bench/delete_throughput.sh (500k of 1M
 * audit rows, batch 10,000, 2 cores, median of 7, methods taking turns): PostgreSQL 0.33 s
 * range vs 0.64 s ctid form vs 0.28 s one DELETE (0.84 of it); SQLite 0.73 s range vs 1.12 s
 * id IN (SELECT ... LIMIT n) vs 0.74 s one DELETE. The bound is cheap only where the pages are
 * all-visible, as autovacuum leaves old rows: on a table loaded and never vacuumed it visits
 * the heap, and PostgreSQL measured 0.47 s range vs 0.57 s ctid form vs 0.32 s one DELETE.
 * Tried and rejected (same-run figures): the range form without the lower bound, 0.75 s vs
 * 0.55 s (it walks the dead entries again); one statement per batch that returns the next
 * bound from a CTE (WITH d AS (DELETE ... RETURNING 1) SELECT count(*), bound), 0.48 s vs
 * 0.36 s (the RETURNING rows cost more than the round trip saved); a bitmap heap scan for the
 * DELETE (enable_indexscan off), 3.7 s; explicit BEGIN/COMMIT around bound and DELETE on
 * PostgreSQL, no measurable difference. SQLite with syncs off (the CPU part): range 0.75 s vs
 * 1.02 s for the IN form, whose ephemeral table and rowid probes make the difference.
 * PostgreSQL runs each statement in autocommit, as its own transaction (reference 3.4): the
 * DELETE is the batch's transaction, and BEGIN/COMMIT would only add two round trips (each
 * statement in READ COMMITTED takes its own snapshot either way). SQLite takes BEGIN IMMEDIATE
 * around the batch, so the write lock covers the bound and the DELETE.
 * On PostgreSQL steps 2 and 3 see two snapshots: rows committed between them
 * with a date inside [lower, upper), i.e. back-dated below the cut-off, are deleted with the
 * batch and make it larger by their number. Rows committed behind lower after their range was
 * deleted are left to the next run. SQLite's BEGIN IMMEDIATE excludes both.
 */
static int
range_batch(struct db *db, const struct batch_sql *q, const char *cutoff, const char *batch,
            char **lower, bool *last, int64_t *n, struct err *err)
{
	const char *params[3] = { cutoff, NULL, NULL };
	bool txn = db_kind(db) == DB_SQLITE;
	char *upper = NULL;

	*n = 0;
	if (txn && db_begin(db, err) < 0)
		return -1;
	if (*lower == NULL) {
		if (query_key(db, q->first, 1, params, lower, err) < 0)
			goto fail;
		*last = *lower == NULL;
		if (*last)
			goto commit;
	}
	params[1] = batch;
	params[2] = *lower;
	if (query_key(db, q->bound, 3, params, &upper, err) < 0)
		goto fail;
	*last = upper == NULL;
	params[0] = upper != NULL ? upper : cutoff;
	params[1] = *lower;
	if (db_exec(db, q->range, 2, params, n, err) < 0)
		goto fail;
	if (*n == 0 && upper != NULL) {
		params[0] = cutoff;
		params[1] = batch;
		params[2] = *lower;
		if (db_exec(db, q->step, 3, params, n, err) < 0)
			goto fail;
	} else if (upper != NULL) {
		free(*lower);
		*lower = upper;
		upper = NULL;
	}
commit:
	if (txn && db_commit(db, err) < 0)
		goto fail;
	free(upper);
	return 0;
fail:
	if (txn)
		db_rollback(db);
	free(upper);
	return -1;
}

/*
 * SQLite in journal_mode=DELETE creates, syncs and unlinks the rollback journal at every
 * commit, a file system metadata commit each time: over 50 batches that cost more than the
 * deleting (500k rows in the range form: 1.62 s vs 0.90 s with PERSIST, median of 3, same
 * run). PERSIST keeps the file and
 * zeroes its header instead: the same syncs of the same pages, so the same durability, and
 * other connections in DELETE mode read a zeroed header as "no hot journal". TRUNCATE (a size
 * change per commit) measured no better than DELETE. The mode is per connection: it is set
 * only when the connection is in DELETE mode (WAL and the rest are left alone), and restored
 * after the run, which also removes the file. Returns whether it was changed; a mode it cannot
 * read or change is left as it is, since the batches are correct in any mode.
 */
static bool
persist_journal(struct db *db)
{
	struct err err;
	char *mode = NULL;
	bool changed = false;

	if (db_kind(db) != DB_SQLITE)
		return false;
	if (query_key(db, "PRAGMA journal_mode", 0, NULL, &mode, &err) < 0)
		return false;
	if (mode != NULL && strcmp(mode, "delete") == 0) {
		free(mode);
		if (query_key(db, "PRAGMA journal_mode = PERSIST", 0, NULL, &mode, &err) < 0)
			return false;
		changed = mode != NULL && strcmp(mode, "persist") == 0;
	}
	free(mode);
	return changed;
}

static int
restore_journal(struct db *db, struct err *err)
{
	char *mode = NULL;

	if (query_key(db, "PRAGMA journal_mode = DELETE", 0, NULL, &mode, err) < 0)
		return -1;
	free(mode);
	return 0;
}

/* Range-mode templates for "delete every row whose date is before the cut-off" (logs,
 * sessions; range_batch says why, with the figures): the date of the (batch+1)-th row left,
 * then one DELETE of the date range below it. The first/bound/range
 * templates serve both databases; {1} has Django's db_index, which makes the bound an index-only
 * scan and the DELETE an index range scan. */
static const char date_first[] = "SELECT {1} FROM {0} WHERE {1} < $1 ORDER BY {1} LIMIT 1";
static const char date_bound[] = "SELECT {1} FROM {0} WHERE {1} >= $3 AND {1} < $1 "
                                 "ORDER BY {1} LIMIT 1 OFFSET $2";
static const char date_range[] = "DELETE FROM {0} WHERE {1} >= $2 AND {1} < $1";
/* The batch of rows that all share one date (range_batch step 4). PostgreSQL: ctid =
 * ANY(ARRAY(subquery)) makes the subquery an InitPlan and the DELETE a TID scan; IN (SELECT ...)
 * plans a seq-scan semi-join per batch (5x slower, reference 3.4); id = ANY(ARRAY(...)) probes
 * the primary key per row and measured about 2x slower than the ctid form over 500k rows here.
 * The ctids never leave the statement that read them. */
static const char date_ties_pg[] = "DELETE FROM {0} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {0} "
                                   "WHERE {1} >= $3 AND {1} < $1 ORDER BY {1} LIMIT $2))";
static const char date_ties_sqlite[] = "DELETE FROM {0} WHERE {2} IN (SELECT {2} FROM {0} "
                                       "WHERE {1} >= $3 AND {1} < $1 ORDER BY {1} LIMIT $2)";
static const char date_count[] = "SELECT count(*) FROM {0} WHERE {1} < $1";

void
ops_batch_by_date(struct ops_batch_spec *spec)
{
	spec->sql_pg = date_ties_pg;
	spec->sql_sqlite = date_ties_sqlite;
	spec->count_sql = date_count;
	spec->first_sql = date_first;
	spec->bound_sql = date_bound;
	spec->range_sql = date_range;
}

/*
 * 1. Dry run: count what the statement would touch with the same cut-off, and stop.
 * 2. With a progress callback, count once for the total (an index range scan on the date).
 * 3. Loop, one transaction per batch: the single statement until a short batch, or in range
 *    mode range_batch until nothing is left; report after each commit. A cancel between
 *    batches stops the loop (db_exec fails "canceled").
 * The cut-off is fixed by the caller, so a long run never chases now() forward.
 */
int
ops_batch_run(const struct ops_ctx *ctx, const struct ops_batch_spec *spec,
              struct ops_batch_stats *st, struct err *err)
{
	char batch[24];
	const char *params[3] = { spec->cutoff, batch, spec->param3 };
	double t0 = clock_mono(), tb;
	int64_t total = 0, n = 0;
	struct batch_sql q = { 0 };
	struct err ignored; /* a failed restore after a failed batch: the batch's error wins */
	char *lower = NULL;
	bool last = false, journal = false;
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
	if (batch_sql_init(ctx->db, spec, &q, err) < 0)
		goto out;
	snprintf(batch, sizeof(batch), "%d", spec->batch);
	journal = persist_journal(ctx->db);
	do {
		tb = clock_mono();
		if (q.range != NULL)
			rc = range_batch(ctx->db, &q, spec->cutoff, batch, &lower, &last, &n, err);
		else
			rc = one_batch(ctx->db, q.step, params, spec->param3 != NULL ? 3 : 2, &n,
			               err);
		if (rc < 0)
			goto out;
		if (q.range == NULL)
			last = n < spec->batch;
		tb = clock_mono() - tb;
		if (tb > st->max_batch_seconds)
			st->max_batch_seconds = tb;
		st->rows += n;
		st->batches++;
		ops_progress(ctx, st->rows, total > st->rows ? total : st->rows, spec->what);
	} while (!last);
out:
	if (journal && restore_journal(ctx->db, rc == 0 ? err : &ignored) < 0)
		rc = -1;
	st->seconds = clock_mono() - t0;
	batch_sql_cleanup(&q);
	free(lower);
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

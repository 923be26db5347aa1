/* SPDX-License-Identifier: MIT */
/*
 * ops_run.c - one run of the engine: timeouts, each operation under its cross-worker lock with
 * its timing, the spec's response document with "metadata", and the core_taskexecutionlog row
 * (inserted as "running" before the first operation, finished after the last, so a crashed run
 * leaves a visible "running" row). Operations never see any of this.
 */
#include "config.h"

#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ops_int.h"
#include "xalloc.h"

#define TASK_NAME "database_maintenance"

/* The execution-log statements; {0} = the table. Timestamps and JSON are bound as text. */
static const char log_insert_pg[] =
        "INSERT INTO {0} (task_id, task_name, status, created_at, started_at, dry_run, "
        "error_message, worker_hostname) "
        "VALUES ($1, $2, 'running', $3::timestamptz, $3::timestamptz, $4::boolean, '', $5) "
        "RETURNING id";
static const char log_insert_sqlite[] =
        "INSERT INTO {0} (task_id, task_name, status, created_at, started_at, dry_run, "
        "error_message, worker_hostname) "
        "VALUES ($1, $2, 'running', $3, $3, $4, '', $5) RETURNING id";
static const char log_finish_pg[] =
        "UPDATE {0} SET status = $2, finished_at = $3::timestamptz, "
        "duration_seconds = $4::float8, rows_affected = $5::bigint, result = $6::jsonb, "
        "error_message = $7 WHERE id = $1::bigint";
static const char log_finish_sqlite[] =
        "UPDATE {0} SET status = $2, finished_at = $3, duration_seconds = $4, "
        "rows_affected = $5, result = $6, error_message = $7 WHERE id = $1";

struct run_state {
	struct ops_ctx ctx;
	char *log_id;         /* owned: id of our execution-log row, NULL = none */
	const char *log_note; /* why there is no row (constant), NULL = written */
	char log_error[ERR_MSG_MAX];
};

static int64_t
wall_us(const struct ops_options *opt)
{
	struct timespec ts;

	if (opt->now_override != 0)
		return opt->now_override * 1000000;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Runs a log statement; the log is bookkeeping, so failures are reported, never fatal. */
static struct db_rows *
log_stmt(struct run_state *rs, const char *pg, const char *lite, int n, const char *const *params,
         struct err *err)
{
	struct db *db = rs->ctx.db;
	const char *ident[1] = { rs->ctx.opt->tasklog_table };
	struct db_rows *rows;
	char *sql;

	sql = ops_sql_expand(db, db_kind(db) == DB_POSTGRES ? pg : lite, ident, 1, err);
	if (sql == NULL)
		return NULL;
	rows = db_query(db, sql, n, params, err);
	free(sql);
	return rows;
}

static void
log_start(struct run_state *rs, int64_t start_us)
{
	const struct ops_options *opt = rs->ctx.opt;
	char start[DB_TIME_MAX];
	const char *params[5] = { opt->task_id != NULL ? opt->task_id : "", TASK_NAME, start,
		                  opt->dry_run ? "1" : "0",
		                  opt->worker_hostname != NULL ? opt->worker_hostname : "" };
	struct db_rows *rows;
	struct err err;
	bool exists = false;

	err_clear(&err);
	if (!opt->log_execution) {
		rs->log_note = "disabled";
		return;
	}
	if (db_table_exists(rs->ctx.db, opt->tasklog_table, &exists, &err) < 0)
		goto fail;
	if (!exists) {
		rs->log_note = "skipped: table does not exist";
		return;
	}
	db_format_time_us(rs->ctx.db, start_us, start, sizeof(start));
	rows = log_stmt(rs, log_insert_pg, log_insert_sqlite, 5, params, &err);
	if (rows == NULL)
		goto fail;
	if (db_rows_count(rows) == 1 && db_rows_get(rows, 0, 0) != NULL)
		rs->log_id = xstrdup(db_rows_get(rows, 0, 0));
	db_rows_free(rows);
	return;
fail:
	rs->log_note = "failed";
	snprintf(rs->log_error, sizeof(rs->log_error), "%s", err.msg);
}

static const char *
run_status(const cJSON *doc, size_t n, int nfailed)
{
	const cJSON *it;
	size_t skipped = 0;

	if (nfailed > 0)
		return "failed";
	cJSON_ArrayForEach(it, doc)
		if (strcmp(it->string, "metadata") != 0 && ops_result_status(it) == OPS_SKIPPED)
			skipped++;
	return n > 0 && skipped == n ? "skipped" : "completed";
}

/* Sum of rows_deleted / rows_processed over the operations, for rows_affected. */
static int64_t
rows_affected(const cJSON *doc)
{
	static const char *const keys[] = { "rows_deleted", "rows_processed" };
	const cJSON *it, *v;
	int64_t sum = 0;
	size_t k;

	cJSON_ArrayForEach(it, doc) {
		for (k = 0; k < ARRAY_LEN(keys); k++) {
			v = cJSON_GetObjectItemCaseSensitive(it, keys[k]);
			if (cJSON_IsNumber(v)) {
				sum += (int64_t)v->valuedouble;
				break;
			}
		}
	}
	return sum;
}

static void
failed_names(const cJSON *doc, char *buf, size_t size)
{
	const cJSON *it;
	size_t len = 0;
	int n;

	buf[0] = '\0';
	cJSON_ArrayForEach(it, doc) {
		if (strcmp(it->string, "metadata") == 0 || ops_result_status(it) != OPS_FAILED)
			continue;
		n = snprintf(buf + len, size - len, "%s%s: %s", len > 0 ? "; " : "", it->string,
		             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "error")));
		if (n < 0 || (size_t)n >= size - len)
			return;
		len += (size_t)n;
	}
}

static void
log_finish(struct run_state *rs, cJSON *doc, size_t n, int nfailed, double seconds)
{
	char id_done[DB_TIME_MAX], dur[32], rows[24], errors[ERR_MSG_MAX];
	const char *params[7] = { rs->log_id, run_status(doc, n, nfailed), id_done, dur, rows, NULL,
		                  errors };
	struct db_rows *res = NULL;
	char *json = NULL;
	struct err err;

	if (rs->log_id == NULL)
		return;
	err_clear(&err);
	db_format_time_us(rs->ctx.db, wall_us(rs->ctx.opt) + (int64_t)(seconds * 1e6), id_done,
	                  sizeof(id_done));
	snprintf(dur, sizeof(dur), "%.6f", seconds);
	snprintf(rows, sizeof(rows), "%lld", (long long)rows_affected(doc));
	failed_names(doc, errors, sizeof(errors));
	json = cJSON_PrintUnformatted(doc);
	params[5] = json;
	/* A cancel must not keep the bookkeeping from being written. */
	db_cancel_clear(rs->ctx.db);
	res = log_stmt(rs, log_finish_pg, log_finish_sqlite, 7, params, &err);
	if (res == NULL)
		cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(doc, "metadata"),
		                        "execution_log_error", err.msg);
	db_rows_free(res);
	free(json);
}

cJSON *
ops_entry_run(const struct ops_entry *e, struct ops_ctx *ctx, struct err *err)
{
	cJSON *(*fn)(struct ops_ctx *, struct err *) = e->run;

	if (fn == NULL) {
		switch (db_kind(ctx->db)) {
		case DB_POSTGRES:
			fn = e->run_pg;
			break;
		case DB_SQLITE:
			fn = e->run_sqlite;
			break;
		}
	}
	if (fn == NULL) {
		err_set(err, ERR_BUG, "%s: no function for this database", e->name);
		return NULL;
	}
	return fn(ctx, err);
}

/* Runs one entry under its lock. Returns the operation's object, never NULL. */
static cJSON *
run_one(struct run_state *rs, const struct ops_entry *e)
{
	char lock_name[64];
	bool locked = false;
	struct err err;
	cJSON *res;
	double t0 = clock_mono();

	err_clear(&err);
	snprintf(lock_name, sizeof(lock_name), "op-%s", e->name);
	if (db_try_lock(rs->ctx.db, lock_name, &locked, &err) < 0) {
		res = ops_result_failed(e->name, err.msg);
		goto out;
	}
	if (!locked) {
		res = ops_result_skipped(e->name, "locked");
		goto out;
	}
	res = ops_entry_run(e, &rs->ctx, &err);
	if (db_in_transaction(rs->ctx.db))
		db_rollback(rs->ctx.db); /* an operation must not leave one open */
	db_unlock(rs->ctx.db, lock_name);
	if (res == NULL) {
		if (err.cls == ERR_NONE)
			err_set(&err, ERR_BUG, "%s failed without a reason", e->name);
		res = ops_result_failed(e->name, err.msg);
		cJSON_AddStringToObject(res, "error_class", err_class_name(err.cls));
	}
out:
	cJSON_AddNumberToObject(res, "duration_seconds",
	                        round((clock_mono() - t0) * 1000.0) / 1000.0);
	if (cJSON_GetObjectItemCaseSensitive(res, "dry_run") == NULL)
		cJSON_AddBoolToObject(res, "dry_run", rs->ctx.opt->dry_run);
	return res;
}

static cJSON *
metadata(struct run_state *rs, int64_t start_us, double seconds)
{
	cJSON *m = cJSON_CreateObject();
	time_t t = (time_t)(start_us / 1000000);
	char ts[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(m, "timestamp", ts);
	cJSON_AddNumberToObject(m, "duration_seconds", round(seconds * 1000.0) / 1000.0);
	cJSON_AddBoolToObject(m, "dry_run", rs->ctx.opt->dry_run);
	cJSON_AddStringToObject(m, "database", db_name(rs->ctx.db));
	cJSON_AddStringToObject(m, "engine",
	                        db_kind(rs->ctx.db) == DB_POSTGRES ? "postgresql" : "sqlite");
	if (rs->log_id != NULL)
		cJSON_AddStringToObject(m, "execution_log_id", rs->log_id);
	if (rs->log_note != NULL)
		cJSON_AddStringToObject(m, "execution_log", rs->log_note);
	if (rs->log_error[0] != '\0')
		cJSON_AddStringToObject(m, "execution_log_error", rs->log_error);
	return m;
}

/*
 * 1. Clear a stale cancel, set the session timeouts (a failure fails every operation).
 * 2. Insert the "running" log row.
 * 3. Each operation in order under its lock; a failure does not stop the next.
 * 4. metadata, then finish the log row with the whole document.
 */
cJSON *
ops_run(struct db *db, const struct ops_entry *const *list, size_t n, const struct ops_options *opt,
        ops_progress_fn progress, void *progress_ctx, int *nfailed)
{
	struct run_state rs = {
		.ctx = { .db = db, .opt = opt, .progress = progress, .progress_ctx = progress_ctx },
	};
	int64_t start_us = wall_us(opt);
	double t0 = clock_mono(), seconds;
	cJSON *doc = cJSON_CreateObject(), *res;
	struct err err;
	bool timeouts_ok;
	size_t i;

	*nfailed = 0;
	err_clear(&err);
	db_cancel_clear(db);
	timeouts_ok =
	        db_set_timeouts(db, opt->lock_timeout_ms, opt->statement_timeout_ms, &err) == 0;
	if (timeouts_ok)
		log_start(&rs, start_us);
	for (i = 0; i < n; i++) {
		if (timeouts_ok)
			res = run_one(&rs, list[i]);
		else
			res = ops_result_failed(list[i]->name, err.msg);
		if (ops_result_status(res) == OPS_FAILED)
			(*nfailed)++;
		cJSON_AddItemToObject(doc, list[i]->name, res);
	}
	seconds = clock_mono() - t0;
	cJSON_AddItemToObject(doc, "metadata", metadata(&rs, start_us, seconds));
	log_finish(&rs, doc, n, *nfailed, seconds);
	free(rs.log_id);
	return doc;
}

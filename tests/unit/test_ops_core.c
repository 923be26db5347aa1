/* SPDX-License-Identifier: MIT */
/*
 * test_ops_core.c - the engine core on real SQLite files in a temp directory: the driver,
 * option parsing, SQL templates, the retention operations (boundaries, batches committing
 * separately, dry-run), the execution-log row, the cross-worker lock, the lock timeout,
 * cancel, and the response shape. PostgreSQL is covered by tests/integration/ops_core_pg.sh.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "db.h"
#include "db_int.h"
#include "ops.h"
#include "ops_int.h"
#include "test_file.h"
#include "xalloc.h"

#define NOW 1764000000 /* 2025-11-24 16:00:00 UTC */
#define DAY 86400

struct fixture {
	char dir[64];
	char path[128];
	char url[160];
	struct db *db;
	struct ops_options opt;
};

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char *ddl = test_read_file(TEST_SRCDIR "/tests/sql/django-sqlite.sql");
	struct err err;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_ops_core.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/app.sqlite3", fx->dir);
	snprintf(fx->url, sizeof(fx->url), "sqlite:///%s", fx->path);
	fx->db = db_open_ex(fx->url, DB_OPEN_CREATE, &err);
	assert_non_null(fx->db);
	assert_int_equal(db_exec_script(fx->db, ddl, &err), 0);
	free(ddl);
	ops_options_init(&fx->opt);
	fx->opt.now_override = NOW;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char path[400];
	struct dirent *de;
	DIR *d;

	db_close(fx->db);
	d = opendir(fx->dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx->dir, de->d_name);
		assert_int_equal(unlink(path), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

static int64_t
count(struct db *db, const char *sql)
{
	struct err err;
	int64_t n = -1;

	assert_int_equal(ops_query_int(db, sql, 0, NULL, &n, &err), 0);
	return n;
}

static void
add_audit(struct db *db, int64_t when)
{
	char ts[DB_TIME_MAX];
	const char *p[1] = { ts };
	struct err err;

	db_format_time(db, when, ts, sizeof(ts));
	assert_int_equal(
	        db_exec(db,
	                "INSERT INTO core_auditlog (timestamp, actor, action, object_type, "
	                "object_id, changes) VALUES ($1, 'a', 'update', 'order', '1', '{}')",
	                1, p, NULL, &err),
	        0);
}

static void
add_tasklog(struct db *db, int64_t when)
{
	char ts[DB_TIME_MAX];
	const char *p[1] = { ts };
	struct err err;

	db_format_time(db, when, ts, sizeof(ts));
	assert_int_equal(db_exec(db,
	                         "INSERT INTO core_taskexecutionlog (task_id, task_name, status, "
	                         "created_at, dry_run, error_message, worker_hostname) "
	                         "VALUES ('t', 'x', 'completed', $1, 0, '', 'h')",
	                         1, p, NULL, &err),
	                 0);
}

static void
add_failed(struct db *db, int id, int64_t when, int archived)
{
	char ts[DB_TIME_MAX], sid[16], arch[4];
	const char *p[3] = { ts, sid, arch };
	struct err err;

	db_format_time(db, when, ts, sizeof(ts));
	snprintf(sid, sizeof(sid), "%d", id);
	snprintf(arch, sizeof(arch), "%d", archived);
	assert_int_equal(
	        db_exec(db,
	                "INSERT INTO core_failedtask (id, task_id, task_name, args, kwargs, "
	                "exception_type, exception_message, traceback, retry_count, "
	                "created_at, is_archived) VALUES ($2, 'task' || $2, 'n', '[]', '{}', "
	                "'E', 'm', 't', 0, $1, $3)",
	                3, p, NULL, &err),
	        0);
}

static cJSON *
run_ops(struct fixture *fx, const char *name, ops_progress_fn cb, void *ctx, int *nfailed)
{
	const struct ops_entry *list[1] = { ops_lookup(name) };

	assert_non_null(list[0]);
	return ops_run(fx->db, list, 1, &fx->opt, cb, ctx, nfailed);
}

static double
jnum(const cJSON *o, const char *path1, const char *path2, const char *path3)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);

	if (path2 != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, path2);
	if (path3 != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, path3);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static const char *
jstr(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* ---- pure parts ---- */

static void
test_ops_lookup_finds_every_table_entry(void **state)
{
	char names[256] = "";
	size_t i, len = 0;

	(void)state;
	for (i = 0; ops_table[i] != NULL; i++) {
		assert_ptr_equal(ops_lookup(ops_table[i]->name), ops_table[i]);
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i > 0 ? ", " : "",
		                        ops_table[i]->name);
	}
	assert_int_equal(i, 9);
	assert_null(ops_lookup("bogus"));
	assert_null(ops_lookup(NULL));
	assert_string_equal(ops_names(), names);
}

static void
test_ops_options_apply_json_sets_and_rejects(void **state)
{
	struct ops_options opt;
	struct err err;
	cJSON *j;

	(void)state;
	ops_options_init(&opt);
	assert_int_equal(opt.logs_batch, 10000);
	assert_int_equal(opt.failed_archive_days, 365);
	j = cJSON_Parse("{\"dry_run\": true, \"audit_days\": 7, \"logs_batch\": 10, "
	                "\"database\": \"default\"}");
	assert_int_equal(ops_options_apply_json(&opt, j, &err), 0);
	assert_true(opt.dry_run);
	assert_int_equal(opt.audit_days, 7);
	assert_int_equal(opt.logs_batch, 10);
	cJSON_Delete(j);

	j = cJSON_Parse("{\"backup_dir\": \"/etc\"}");
	assert_int_equal(ops_options_apply_json(&opt, j, &err), -1);
	assert_int_equal(err.cls, ERR_INVALID);
	assert_non_null(strstr(err.msg, "backup_dir: set in the configuration only"));
	assert_string_equal(opt.backup_dir, "/var/backups/janitor");
	cJSON_Delete(j);

	j = cJSON_Parse("{\"vaccum_days\": 3}");
	assert_int_equal(ops_options_apply_json(&opt, j, &err), -1);
	assert_string_equal(err.msg, "vaccum_days: unknown option");
	cJSON_Delete(j);

	j = cJSON_Parse("{\"audit_days\": \"9\"}");
	assert_int_equal(ops_options_apply_json(&opt, j, &err), -1);
	assert_non_null(strstr(err.msg, "audit_days: not a number"));
	cJSON_Delete(j);

	j = cJSON_Parse("{\"logs_batch\": 0}");
	assert_int_equal(ops_options_apply_json(&opt, j, &err), -1);
	assert_non_null(strstr(err.msg, "logs_batch"));
	cJSON_Delete(j);

	j = cJSON_Parse("{\"logs_batch\": 1.5}");
	assert_int_equal(ops_options_apply_json(&opt, j, &err), -1);
	cJSON_Delete(j);
	assert_int_equal(opt.logs_batch, 10);
}

static void
test_ops_options_set_from_text(void **state)
{
	struct ops_options opt;
	struct err err;

	(void)state;
	ops_options_init(&opt);
	assert_int_equal(ops_options_set(&opt, "failed_batch", "50", &err), 0);
	assert_int_equal(opt.failed_batch, 50);
	assert_int_equal(ops_options_set(&opt, "dry_run", "yes", &err), 0);
	assert_true(opt.dry_run);
	assert_int_equal(ops_options_set(&opt, "auditlog_table", "audit", &err), 0);
	assert_string_equal(opt.auditlog_table, "audit");
	assert_int_equal(ops_options_set(&opt, "failed_batch", "5x", &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_int_equal(ops_options_set(&opt, "nope", "1", &err), -1);
	assert_non_null(strstr(err.msg, "nope"));
}

static void
test_ops_status_names_round_trip(void **state)
{
	cJSON *o = ops_result_skipped("views", "not applicable on SQLite");

	(void)state;
	assert_int_equal(ops_result_status(o), OPS_SKIPPED);
	assert_string_equal(jstr(o, "reason", NULL), "not applicable on SQLite");
	assert_string_equal(ops_status_name(OPS_SKIPPED), "skipped");
	cJSON_Delete(o);
	o = ops_result_new("x");
	assert_int_equal(ops_result_status(o), OPS_COMPLETED);
	cJSON_Delete(o);
	o = cJSON_CreateObject();
	assert_int_equal(ops_result_status(o), OPS_FAILED); /* no status is never success */
	cJSON_Delete(o);
}

/* ---- driver ---- */

static void
test_db_open_rejects_bad_urls(void **state)
{
	struct fixture *fx = *state;
	char path[200];
	struct err err;
	FILE *f;

	assert_null(db_open("mysql://localhost/x", &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_null(db_open("", &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_null(db_open("sqlite:////nonexistent/dir/x.db", &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	snprintf(path, sizeof(path), "sqlite:///%s/text.db", fx->dir);
	f = fopen(path + strlen("sqlite:///"), "w");
	fputs("this is not a database, it is a text file long enough to have a header\n", f);
	fclose(f);
	assert_null(db_open(path, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_null(db_open("postgresql://127.0.0.1:1/nowhere?connect_timeout=2", &err));
	assert_int_equal(err.cls, ERR_TRANSIENT);
	assert_null(strchr(err.msg, '\n'));
}

static void
test_db_query_binds_and_quotes(void **state)
{
	struct fixture *fx = *state;
	const char *p[2] = { "b", NULL };
	const char *idents[1] = { "we\"ird" };
	struct db_rows *rows;
	struct err err;
	bool exists = true;
	char *q, *sql;

	q = db_quote_ident(fx->db, "we\"ird");
	assert_string_equal(q, "\"we\"\"ird\"");
	free(q);
	sql = ops_sql_expand(fx->db, "CREATE TABLE {0} (v text)", idents, 1, &err);
	assert_string_equal(sql, "CREATE TABLE \"we\"\"ird\" (v text)");
	assert_int_equal(db_exec(fx->db, sql, 0, NULL, NULL, &err), 0);
	free(sql);
	assert_int_equal(db_table_exists(fx->db, "we\"ird", &exists, &err), 0);
	assert_true(exists);
	assert_int_equal(db_table_exists(fx->db, "core_nothing", &exists, &err), 0);
	assert_false(exists);
	assert_null(ops_sql_expand(fx->db, "SELECT {3}", idents, 1, &err));
	assert_int_equal(err.cls, ERR_BUG);

	/* $2 before $1 in the text: parameters bind by name, not by position. */
	rows = db_query(fx->db, "SELECT $2 IS NULL, $1 || 'x'", 2, p, &err);
	assert_non_null(rows);
	assert_string_equal(db_rows_get(rows, 0, 0), "1");
	assert_string_equal(db_rows_get(rows, 0, 1), "bx");
	db_rows_free(rows);
	assert_null(db_query(fx->db, "SELECT * FROM no_such_table", 0, NULL, &err));
	assert_int_equal(err.cls, ERR_DB);
	assert_non_null(strstr(err.msg, "no_such_table"));
}

static void
test_db_cancel_is_sticky_until_cleared(void **state)
{
	struct fixture *fx = *state;
	struct err err;

	db_cancel(fx->db);
	assert_true(db_canceled(fx->db));
	assert_int_equal(db_exec(fx->db, "SELECT 1", 0, NULL, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_TRANSIENT);
	assert_string_equal(err.msg, "canceled");
	db_cancel_clear(fx->db);
	assert_int_equal(db_exec(fx->db, "SELECT 1", 0, NULL, NULL, &err), 0);
}

static void
test_db_statement_timeout_stops_a_long_query(void **state)
{
	struct fixture *fx = *state;
	struct err err;
	time_t t0 = time(NULL);

	assert_int_equal(db_set_timeouts(fx->db, 100, 200, &err), 0);
	assert_int_equal(db_exec(fx->db,
	                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	                         "WHERE i < 1000000000) SELECT count(*) FROM n",
	                         0, NULL, NULL, &err),
	                 -1);
	assert_int_equal(err.cls, ERR_TRANSIENT);
	assert_non_null(strstr(err.msg, "statement timeout"));
	assert_true(time(NULL) - t0 < 5);
}

/* ---- retention operations ---- */

static void
test_logs_deletes_older_than_cutoff_and_keeps_the_boundary(void **state)
{
	struct fixture *fx = *state;
	int nfailed = -1;
	cJSON *doc, *logs;

	add_audit(fx->db, NOW - 90 * DAY - 1); /* older: deleted */
	add_audit(fx->db, NOW - 90 * DAY);     /* exactly at the cut-off: kept */
	add_audit(fx->db, NOW - 90 * DAY + 1);
	add_audit(fx->db, NOW - 400 * DAY);
	add_tasklog(fx->db, NOW - 30 * DAY - 1);
	add_tasklog(fx->db, NOW - 30 * DAY);
	add_tasklog(fx->db, NOW);
	fx->opt.log_execution = false;
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	logs = cJSON_GetObjectItemCaseSensitive(doc, "logs");
	assert_string_equal(jstr(logs, "status", NULL), "completed");
	assert_string_equal(jstr(logs, "operation", NULL), "logs");
	assert_int_equal((int)jnum(logs, "rows_deleted", NULL, NULL), 3);
	assert_int_equal((int)jnum(logs, "details", "Audit Logs", "deleted"), 2);
	assert_int_equal((int)jnum(logs, "details", "Audit Logs", "days"), 90);
	assert_int_equal((int)jnum(logs, "details", "Task Logs", "deleted"), 1);
	assert_int_equal((int)jnum(logs, "details", "Task Logs", "days"), 30);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 2);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog WHERE timestamp = "
	                               "'2025-08-26 16:00:00'"),
	                 1);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_taskexecutionlog"), 2);
	cJSON_Delete(doc);
}

struct counter {
	int calls;
	int64_t last_done, last_total;
};

static void
count_progress(void *ctx, int64_t done, int64_t total, const char *what)
{
	struct counter *c = ctx;

	if (strcmp(what, "core_auditlog") != 0)
		return;
	c->calls++;
	c->last_done = done;
	c->last_total = total;
}

static int
count_commit(void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static void
test_logs_commits_each_batch_separately(void **state)
{
	struct fixture *fx = *state;
	struct counter c = { 0 };
	int commits = 0, nfailed = -1, i;
	cJSON *doc;

	for (i = 0; i < 95; i++)
		add_audit(fx->db, NOW - 100 * DAY - i);
	add_audit(fx->db, NOW);
	fx->opt.log_execution = false;
	fx->opt.logs_batch = 10;
	sqlite3_commit_hook(db_native(fx->db), count_commit, &commits);
	doc = run_ops(fx, "logs", count_progress, &c, &nfailed);
	sqlite3_commit_hook(db_native(fx->db), NULL, NULL);
	assert_int_equal(nfailed, 0);
	/* 9 full batches and one of 5: ten transactions, each its own commit, plus the one
	 * (empty) batch of the task-log part. */
	assert_int_equal(commits, 11);
	assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(doc, "logs"), "details",
	                           "Audit Logs", "batches"),
	                 10);
	assert_int_equal(c.calls, 11); /* the total first, then once per commit */
	assert_int_equal(c.last_done, 95);
	assert_int_equal(c.last_total, 95);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 1);
	cJSON_Delete(doc);
}

/* Remembers the largest step between two progress reports: the rows of the largest batch. */
struct steps {
	int64_t last_done, largest;
	int commits;
};

static void
step_progress(void *ctx, int64_t done, int64_t total UNUSED, const char *what)
{
	struct steps *s = ctx;

	if (strcmp(what, "core_auditlog") != 0)
		return;
	if (done - s->last_done > s->largest)
		s->largest = done - s->last_done;
	s->last_done = done;
}

static void
test_logs_batches_rows_that_share_one_date(void **state)
{
	struct fixture *fx = *state;
	struct steps st = { 0 };
	int nfailed = -1, i;
	cJSON *doc;

	/* 3 distinct dates, then 25 rows at one date (more than two batches' worth, so a whole
	 * batch range is one repeated date), then 4 more rows, the cut-off row and a new one. */
	for (i = 0; i < 3; i++)
		add_audit(fx->db, NOW - 200 * DAY - i);
	for (i = 0; i < 25; i++)
		add_audit(fx->db, NOW - 150 * DAY);
	for (i = 0; i < 4; i++)
		add_audit(fx->db, NOW - 91 * DAY - i);
	add_audit(fx->db, NOW - 90 * DAY);
	add_audit(fx->db, NOW);
	fx->opt.log_execution = false;
	fx->opt.logs_batch = 10;
	sqlite3_commit_hook(db_native(fx->db), count_commit, &st.commits);
	doc = run_ops(fx, "logs", step_progress, &st, &nfailed);
	sqlite3_commit_hook(db_native(fx->db), NULL, NULL);
	assert_int_equal(nfailed, 0);
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 32);
	assert_int_equal(st.last_done, 32);
	assert_int_equal(st.largest, 10); /* never more than a batch in one transaction */
	/* [first date, the shared date): 3 rows; the shared date twice, 10 rows each (the tie
	 * statement); the last 5 of it with the 4 after it: 9, and no row left for a bound. */
	assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(doc, "logs"), "details",
	                           "Audit Logs", "batches"),
	                 4);
	assert_int_equal(st.commits, 4 + 1); /* + the task-log part's one empty batch */
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 2);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog WHERE timestamp = "
	                               "'2025-08-26 16:00:00'"),
	                 1);
	cJSON_Delete(doc);
}

static void
test_logs_batch_of_exactly_the_rows_left(void **state)
{
	struct fixture *fx = *state;
	int nfailed = -1, i;
	cJSON *doc;

	/* 20 rows, batch 10: two full batches, and nothing left for a third. */
	for (i = 0; i < 20; i++)
		add_audit(fx->db, NOW - 100 * DAY - i);
	fx->opt.log_execution = false;
	fx->opt.logs_batch = 10;
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(doc, "logs"), "details",
	                           "Audit Logs", "batches"),
	                 2);
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 20);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 0);
	cJSON_Delete(doc);
}

static void
assert_journal_mode(struct db *db, const char *want)
{
	struct db_rows *rows;
	struct err err;

	rows = db_query(db, "PRAGMA journal_mode", 0, NULL, &err);
	assert_non_null(rows);
	assert_string_equal(db_rows_get(rows, 0, 0), want);
	db_rows_free(rows);
}

static void
test_batches_leave_the_journal_mode_as_found(void **state)
{
	struct fixture *fx = *state;
	char journal[160];
	struct err err;
	int nfailed = -1;
	cJSON *doc;

	/* DELETE mode: PERSIST while the batches run, then DELETE again and no journal file. */
	add_audit(fx->db, NOW - 100 * DAY);
	fx->opt.log_execution = false;
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 1);
	cJSON_Delete(doc);
	assert_journal_mode(fx->db, "delete");
	snprintf(journal, sizeof(journal), "%s-journal", fx->path);
	assert_int_equal(access(journal, F_OK), -1);
	/* WAL (persistent, the application's choice) is left alone. */
	db_rows_free(db_query(fx->db, "PRAGMA journal_mode = WAL", 0, NULL, &err));
	assert_journal_mode(fx->db, "wal");
	add_audit(fx->db, NOW - 100 * DAY);
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 1);
	cJSON_Delete(doc);
	assert_journal_mode(fx->db, "wal");
}

static void
test_dry_run_counts_and_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	int nfailed = -1, i;
	int64_t before;
	cJSON *doc;

	for (i = 0; i < 25; i++)
		add_audit(fx->db, NOW - 91 * DAY - i * 3600);
	add_audit(fx->db, NOW - DAY);
	add_failed(fx->db, 1, NOW - 400 * DAY, 0);
	add_failed(fx->db, 2, NOW - 800 * DAY, 1);
	before = count(fx->db, "SELECT count(*) + sum(is_archived) * 1000 FROM core_failedtask");
	fx->opt.dry_run = true;
	fx->opt.log_execution = false;
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 25);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(doc, "logs"), "dry_run")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "dry_run")));
	cJSON_Delete(doc);
	doc = run_ops(fx, "cleanup", NULL, NULL, &nfailed);
	assert_int_equal((int)jnum(doc, "cleanup", "rows_archived", NULL), 1);
	assert_int_equal((int)jnum(doc, "cleanup", "rows_deleted", NULL), 1);
	cJSON_Delete(doc);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 26);
	assert_int_equal(
	        count(fx->db, "SELECT count(*) + sum(is_archived) * 1000 FROM core_failedtask"),
	        before);
	/* The real run then does exactly what the dry run said. */
	fx->opt.dry_run = false;
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 25);
	cJSON_Delete(doc);
}

static void
test_cleanup_archives_then_deletes(void **state)
{
	struct fixture *fx = *state;
	int nfailed = -1;
	cJSON *doc;

	add_failed(fx->db, 1, NOW - 100 * DAY, 0); /* young: untouched */
	add_failed(fx->db, 2, NOW - 365 * DAY, 0); /* exactly at the archive cut-off: kept */
	add_failed(fx->db, 3, NOW - 400 * DAY, 0); /* archived */
	add_failed(fx->db, 4, NOW - 800 * DAY, 1); /* archived and old: deleted */
	add_failed(fx->db, 5, NOW - 800 * DAY, 0); /* archived, then deleted */
	add_failed(fx->db, 6, NOW - 730 * DAY, 1); /* at the delete cut-off: kept */
	fx->opt.log_execution = false;
	fx->opt.failed_batch = 1;
	doc = run_ops(fx, "cleanup", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	assert_int_equal((int)jnum(doc, "cleanup", "rows_archived", NULL), 2);
	assert_int_equal((int)jnum(doc, "cleanup", "rows_deleted", NULL), 2);
	assert_int_equal((int)jnum(doc, "cleanup", "rows_processed", NULL), 4);
	assert_int_equal(count(fx->db, "SELECT group_concat(id) FROM (SELECT id FROM "
	                               "core_failedtask WHERE is_archived ORDER BY id)"),
	                 3); /* "3,6" -> strtoll reads 3 */
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_failedtask"), 4);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_failedtask WHERE id IN (1, 2) "
	                               "AND NOT is_archived AND archived_at IS NULL"),
	                 2);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_failedtask WHERE id = 3 AND "
	                               "archived_at = '2025-11-24 16:00:00'"),
	                 1);
	cJSON_Delete(doc);
}

static void
test_sessions_deletes_expired_only(void **state)
{
	struct fixture *fx = *state;
	int nfailed = -1;
	struct err err;
	cJSON *doc;

	assert_int_equal(db_exec_script(fx->db,
	                                "INSERT INTO django_session VALUES "
	                                "('a', 'x', '2025-11-24 15:59:59'), "
	                                "('b', 'x', '2025-11-24 16:00:00'), "
	                                "('c', 'x', '2025-12-24 16:00:00.5')",
	                                &err),
	                 0);
	fx->opt.log_execution = false;
	doc = run_ops(fx, "sessions", NULL, NULL, &nfailed);
	assert_int_equal((int)jnum(doc, "sessions", "rows_deleted", NULL), 1);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM django_session"), 2);
	cJSON_Delete(doc);
}

static void
test_missing_table_skips_that_part_only(void **state)
{
	struct fixture *fx = *state;
	int nfailed = -1;
	struct err err;
	cJSON *doc;

	add_tasklog(fx->db, NOW - 31 * DAY);
	assert_int_equal(
	        db_exec_script(fx->db, "DROP TABLE core_auditlog; DROP TABLE django_session", &err),
	        0);
	fx->opt.log_execution = false;
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(doc, "logs"), "status", NULL),
	                    "completed");
	assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(
	                                 cJSON_GetObjectItemCaseSensitive(doc, "logs"), "details"),
	                         "Audit Logs", "reason"),
	                    "table core_auditlog does not exist");
	assert_int_equal((int)jnum(cJSON_GetObjectItemCaseSensitive(doc, "logs"), "details",
	                           "Task Logs", "deleted"),
	                 1);
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 1);
	cJSON_Delete(doc);
	doc = run_ops(fx, "sessions", NULL, NULL, &nfailed);
	assert_string_equal(jstr(doc, "sessions", "status"), "skipped");
	assert_string_equal(jstr(doc, "sessions", "reason"), "table django_session does not exist");
	cJSON_Delete(doc);
}

static void
test_run_writes_the_execution_log_row(void **state)
{
	struct fixture *fx = *state;
	const struct ops_entry *list[2] = { ops_lookup("cleanup"), ops_lookup("logs") };
	struct db_rows *rows;
	int nfailed = -1;
	struct err err;
	cJSON *doc, *meta, *result;

	add_audit(fx->db, NOW - 91 * DAY);
	fx->opt.task_id = "abc-123";
	fx->opt.worker_hostname = "janitor@test";
	doc = ops_run(fx->db, list, 2, &fx->opt, NULL, NULL, &nfailed);
	meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	assert_string_equal(jstr(meta, "timestamp", NULL), "2025-11-24T16:00:00Z");
	assert_string_equal(jstr(meta, "database", NULL), "app.sqlite3");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(meta, "dry_run")));
	assert_true(jnum(meta, "duration_seconds", NULL, NULL) >= 0);
	rows = db_query(fx->db,
	                "SELECT task_id, status, dry_run, rows_affected, result, worker_hostname, "
	                "started_at, finished_at IS NOT NULL, duration_seconds >= 0 "
	                "FROM core_taskexecutionlog WHERE task_name = 'database_maintenance'",
	                0, NULL, &err);
	assert_non_null(rows);
	assert_int_equal(db_rows_count(rows), 1);
	assert_string_equal(db_rows_get(rows, 0, 0), "abc-123");
	assert_string_equal(db_rows_get(rows, 0, 1), "completed");
	assert_string_equal(db_rows_get(rows, 0, 2), "0");
	assert_string_equal(db_rows_get(rows, 0, 3), "1");
	assert_string_equal(db_rows_get(rows, 0, 5), "janitor@test");
	assert_string_equal(db_rows_get(rows, 0, 6), "2025-11-24 16:00:00");
	assert_string_equal(db_rows_get(rows, 0, 7), "1");
	result = cJSON_Parse(db_rows_get(rows, 0, 4));
	assert_non_null(result);
	assert_int_equal((int)jnum(result, "logs", "rows_deleted", NULL), 1);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(result, "metadata"));
	cJSON_Delete(result);
	db_rows_free(rows);
	cJSON_Delete(doc);
}

static void
test_run_without_log_table_still_runs(void **state)
{
	struct fixture *fx = *state;
	int nfailed = -1;
	struct err err;
	cJSON *doc;

	assert_int_equal(db_exec_script(fx->db, "DROP TABLE core_taskexecutionlog", &err), 0);
	add_audit(fx->db, NOW - 91 * DAY);
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	assert_string_equal(jstr(doc, "metadata", "execution_log"),
	                    "skipped: table does not exist");
	assert_int_equal((int)jnum(doc, "logs", "rows_deleted", NULL), 1);
	cJSON_Delete(doc);
}

static void
test_concurrent_run_reports_locked(void **state)
{
	struct fixture *fx = *state;
	struct db *other;
	bool got = false;
	int nfailed = -1;
	struct err err;
	cJSON *doc;

	other = db_open(fx->url, &err);
	assert_non_null(other);
	assert_int_equal(db_try_lock(other, "op-logs", &got, &err), 0);
	assert_true(got);
	add_audit(fx->db, NOW - 91 * DAY);
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_int_equal(nfailed, 0);
	assert_string_equal(jstr(doc, "logs", "status"), "skipped");
	assert_string_equal(jstr(doc, "logs", "reason"), "locked");
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 1);
	cJSON_Delete(doc);
	/* Another operation is not blocked by this one's lock. */
	doc = run_ops(fx, "sessions", NULL, NULL, &nfailed);
	assert_string_equal(jstr(doc, "sessions", "status"), "completed");
	cJSON_Delete(doc);
	db_unlock(other, "op-logs");
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_string_equal(jstr(doc, "logs", "status"), "completed");
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 0);
	cJSON_Delete(doc);
	db_close(other);
}

static void
test_lock_held_longer_than_timeout_fails_cleanly(void **state)
{
	struct fixture *fx = *state;
	struct db *other;
	int nfailed = -1;
	struct err err;
	time_t t0;
	cJSON *doc;

	add_audit(fx->db, NOW - 91 * DAY);
	other = db_open(fx->url, &err);
	assert_non_null(other);
	assert_int_equal(db_begin(other, &err), 0); /* BEGIN IMMEDIATE: holds the write lock */
	fx->opt.lock_timeout_ms = 300;
	t0 = time(NULL);
	doc = run_ops(fx, "logs", NULL, NULL, &nfailed);
	assert_true(time(NULL) - t0 < 5);
	assert_int_equal(nfailed, 1);
	assert_string_equal(jstr(doc, "logs", "status"), "failed");
	assert_non_null(strstr(jstr(doc, "logs", "error"), "locked"));
	assert_string_equal(jstr(doc, "logs", "error_class"), "transient");
	assert_false(db_in_transaction(fx->db));
	cJSON_Delete(doc);
	db_rollback(other);
	db_close(other);
	assert_int_equal(count(fx->db, "SELECT count(*) FROM core_auditlog"), 1);
}

static void
test_demo_database_has_old_and_new_rows(void **state)
{
	struct fixture *fx = *state;
	char path[200], url[220];
	bool created = false;
	struct db *db;
	struct err err;

	snprintf(path, sizeof(path), "%s/demo.sqlite3", fx->dir);
	assert_int_equal(ops_demo_create(path, &created, &err), 0);
	assert_true(created);
	assert_int_equal(ops_demo_create(path, &created, &err), 0);
	assert_false(created); /* never overwritten */
	snprintf(url, sizeof(url), "sqlite:///%s", path);
	db = db_open(url, &err);
	assert_non_null(db);
	assert_true(count(db, "SELECT count(*) FROM core_auditlog WHERE timestamp < "
	                      "datetime('now', '-90 days')") > 0);
	assert_true(count(db, "SELECT count(*) FROM core_auditlog WHERE timestamp > "
	                      "datetime('now', '-90 days')") > 0);
	assert_true(count(db, "SELECT count(*) FROM django_session WHERE expire_date < "
	                      "datetime('now')") > 0);
	assert_true(count(db, "SELECT count(*) FROM core_failedtask WHERE created_at < "
	                      "datetime('now', '-730 days')") > 0);
	db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_lookup_finds_every_table_entry),
		cmocka_unit_test(test_ops_options_apply_json_sets_and_rejects),
		cmocka_unit_test(test_ops_options_set_from_text),
		cmocka_unit_test(test_ops_status_names_round_trip),
#define FX(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
		FX(test_db_open_rejects_bad_urls),
		FX(test_db_query_binds_and_quotes),
		FX(test_db_cancel_is_sticky_until_cleared),
		FX(test_db_statement_timeout_stops_a_long_query),
		FX(test_logs_deletes_older_than_cutoff_and_keeps_the_boundary),
		FX(test_logs_commits_each_batch_separately),
		FX(test_logs_batches_rows_that_share_one_date),
		FX(test_logs_batch_of_exactly_the_rows_left),
		FX(test_batches_leave_the_journal_mode_as_found),
		FX(test_dry_run_counts_and_changes_nothing),
		FX(test_cleanup_archives_then_deletes),
		FX(test_sessions_deletes_expired_only),
		FX(test_missing_table_skips_that_part_only),
		FX(test_run_writes_the_execution_log_row),
		FX(test_run_without_log_table_still_runs),
		FX(test_concurrent_run_reports_locked),
		FX(test_lock_held_longer_than_timeout_fails_cleanly),
		FX(test_demo_database_has_old_and_new_rows),
	};

	xalloc_install_cjson();
	return cmocka_run_group_tests_name("ops_core", tests, NULL, NULL);
}

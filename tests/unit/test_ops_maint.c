/* SPDX-License-Identifier: MIT */
/*
 * test_ops_maint.c - the maintenance operations (vacuum, reindex, views, stats, bloat, backup)
 * and the report, for real and in dry-run, on real SQLite files in a temporary directory and,
 * when JANITOR_TEST_PG_URL names a scratch PostgreSQL database (tests/integration/
 * ops_maint_pg.sh creates one), on PostgreSQL. Nothing is mocked.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "db.h"
#include "ops.h"
#include "ops_int.h"
#include "test_file.h"
#include "xalloc.h"

/* ---- fixture ---- */

struct fx {
	char dir[256];     /* temp dir: database file, backups */
	char path[300];    /* SQLite file */
	char backups[300]; /* backup directory */
	struct db *db;
	struct ops_options opt;
	int progress_calls;     /* progress callbacks seen */
	int64_t progress_total; /* the last total reported */
};

static void
count_progress(void *arg, int64_t done UNUSED, int64_t total, const char *what)
{
	struct fx *f = arg;

	assert_non_null(what);
	f->progress_calls++;
	f->progress_total = total;
}

static void
load_schema(struct db *db, const char *file)
{
	const char *src = getenv("JANITOR_SRCDIR");
	char path[512];
	char *sql;
	struct err e;

	snprintf(path, sizeof path, "%s/tests/sql/%s", src != NULL ? src : TOP_SRCDIR, file);
	sql = test_read_file(path);
	err_clear(&e);
	if (db_exec_script(db, sql, &e) < 0)
		fail_msg("schema %s: %s", file, e.msg);
	free(sql);
}

static void
exec_ok(struct db *db, const char *sql)
{
	struct err e;

	err_clear(&e);
	if (db_exec(db, sql, 0, NULL, NULL, &e) < 0)
		fail_msg("%s: %s", sql, e.msg);
}

static int64_t
query_int(struct db *db, const char *sql)
{
	struct err e;
	int64_t v = 0;

	err_clear(&e);
	if (ops_query_int(db, sql, 0, NULL, &v, &e) < 0)
		fail_msg("%s: %s", sql, e.msg);
	return v;
}

static void
fx_options(struct fx *f)
{
	ops_options_init(&f->opt);
	f->opt.log_execution = false;
	f->opt.backup_dir = f->backups;
	f->opt.backup_keep = 2;
	f->opt.lock_timeout_ms = 5000;
}

/* ?1 audit-log rows with ~100 bytes of JSON each. */
static const char sql_lite_fill[] =
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < CAST(?1 AS INTEGER)) "
        "INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, "
        "ip_address, changes) SELECT datetime('now', '-' || i || ' minutes'), 'user' || i, "
        "'update', 'order', i, '127.0.0.1', json_object('k', printf('%.100c', 'x')) FROM g";

static int
lite_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	char url[320];
	const char *nrows[1] = { "4000" };
	struct err e;

	snprintf(f->dir, sizeof f->dir, "%s/janitor-maint.XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/app.sqlite3", f->dir);
	snprintf(f->backups, sizeof f->backups, "%s/backups", f->dir);
	snprintf(url, sizeof url, "sqlite:///%s", f->path);
	err_clear(&e);
	f->db = db_open_ex(url, DB_OPEN_CREATE, &e);
	if (f->db == NULL)
		fail_msg("open %s: %s", url, e.msg);
	load_schema(f->db, "django-sqlite.sql");
	err_clear(&e);
	if (db_exec(f->db, sql_lite_fill, 1, nrows, NULL, &e) < 0)
		fail_msg("fill: %s", e.msg);
	fx_options(f);
	*state = f;
	return 0;
}

static void
rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[600];
	struct stat st;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	db_close(f->db);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static cJSON *
run_op(struct fx *f, const struct ops_entry *entry, struct err *e)
{
	struct ops_ctx ctx = {
		.db = f->db,
		.opt = &f->opt,
		.progress = count_progress,
		.progress_ctx = f,
	};

	err_clear(e);
	return ops_entry_run(entry, &ctx, e);
}

/* Run and expect success. */
static cJSON *
run_ok(struct fx *f, const struct ops_entry *entry)
{
	struct err e;
	cJSON *res = run_op(f, entry, &e);

	if (res == NULL)
		fail_msg("%s failed: %s", entry->name, e.msg);
	return res;
}

static double
num(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(obj, key);

	if (!cJSON_IsNumber(v))
		fail_msg("%s is not a number", key);
	return v->valuedouble;
}

static const char *
str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(obj, key);

	if (!cJSON_IsString(v))
		fail_msg("%s is not a string", key);
	return v->valuestring;
}

/* The element of arr whose key equals value (string compare), or NULL. */
static const cJSON *
find(const cJSON *arr, const char *key, const char *value)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		const cJSON *v = cJSON_GetObjectItem(it, key);

		if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0)
			return it;
	}
	return NULL;
}

/* Names in dir (sorted), "." entries included, joined by spaces. */
static int
count_files(const char *dir, const char *suffix, bool hidden)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), ls = strlen(suffix);

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (hidden ? de->d_name[0] == '.'
		           : (l > ls && strcmp(de->d_name + l - ls, suffix) == 0))
			n++;
	}
	closedir(d);
	return n;
}

/* ---- SQLite ---- */

static void
test_vacuum_sqlite_frees_pages_after_deletes(void **state)
{
	struct fx *f = *state;
	int64_t pages0, pages1, free0;
	cJSON *res;

	exec_ok(f->db, "DELETE FROM core_auditlog WHERE id > 800");
	pages0 = query_int(f->db, "PRAGMA page_count");
	free0 = query_int(f->db, "PRAGMA freelist_count");
	assert_true(free0 > 100);
	res = run_ok(f, &ops_vacuum_entry);
	pages1 = query_int(f->db, "PRAGMA page_count");
	assert_string_equal(str(res, "status"), "completed");
	assert_true(pages1 < pages0);
	assert_int_equal((int64_t)num(res, "pages_freed"), pages0 - pages1);
	assert_true(num(res, "pages_freed") >= (double)free0);
	assert_int_equal(query_int(f->db, "PRAGMA freelist_count"), 0);
	assert_true(num(res, "bytes_freed") > 0);
	/* ANALYZE ran: the statistics table exists and has our index. */
	assert_true(query_int(f->db, "SELECT count(*) FROM sqlite_stat1 "
	                             "WHERE tbl = 'core_auditlog'") > 0);
	cJSON_Delete(res);
}

static void
test_vacuum_sqlite_dry_run_changes_nothing(void **state)
{
	struct fx *f = *state;
	int64_t free0;
	cJSON *res;

	exec_ok(f->db, "DELETE FROM core_auditlog WHERE id > 800");
	free0 = query_int(f->db, "PRAGMA freelist_count");
	f->opt.dry_run = true;
	res = run_ok(f, &ops_vacuum_entry);
	assert_int_equal(query_int(f->db, "PRAGMA freelist_count"), free0);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM sqlite_schema "
	                                  "WHERE name = 'sqlite_stat1'"),
	                 0);
	assert_int_equal((int64_t)num(res, "pages_freeable"), free0);
	assert_non_null(find(cJSON_GetObjectItem(res, "tables"), "name", "core_auditlog"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(res, "statements")), 3);
	assert_null(cJSON_GetObjectItem(res, "pages_freed"));
	cJSON_Delete(res);
}

static void
test_vacuum_sqlite_wal_checkpoints_and_truncates(void **state)
{
	struct fx *f = *state;
	char wal[320];
	struct stat st;
	struct db_rows *r;
	struct err e;
	cJSON *res;

	err_clear(&e);
	r = db_query(f->db, "PRAGMA journal_mode = WAL", 0, NULL, &e);
	assert_non_null(r);
	db_rows_free(r);
	exec_ok(f->db, "DELETE FROM core_auditlog WHERE id > 800");
	res = run_ok(f, &ops_vacuum_entry);
	assert_string_equal(str(res, "journal_mode"), "wal");
	assert_int_equal((int64_t)num(cJSON_GetObjectItem(res, "wal_checkpoint"), "busy"), 0);
	assert_true(num(res, "pages_freed") > 100);
	snprintf(wal, sizeof wal, "%s-wal", f->path);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_size, 0);
	cJSON_Delete(res);
}

static void
test_reindex_sqlite_rebuilds_every_index(void **state)
{
	struct fx *f = *state;
	int64_t nidx = query_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'");
	cJSON *res;

	f->opt.dry_run = true;
	res = run_ok(f, &ops_reindex_entry);
	assert_int_equal((int64_t)num(res, "indexes_rebuilt"), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(res, "indexes")), nidx);
	cJSON_Delete(res);
	f->opt.dry_run = false;
	res = run_ok(f, &ops_reindex_entry);
	assert_string_equal(str(res, "status"), "completed");
	assert_int_equal((int64_t)num(res, "indexes_rebuilt"), nidx);
	assert_non_null(find(cJSON_GetObjectItem(res, "indexes"), "name",
	                     "core_auditlog_timestamp_c6ef4463"));
	cJSON_Delete(res);
}

static void
test_views_sqlite_skipped_not_applicable(void **state)
{
	struct fx *f = *state;
	cJSON *res;

	exec_ok(f->db, "CREATE VIEW recent_audit AS SELECT * FROM core_auditlog WHERE id < 10");
	res = run_ok(f, &ops_views_entry);
	assert_string_equal(str(res, "status"), "skipped");
	assert_string_equal(str(res, "reason"), "not applicable on SQLite");
	assert_non_null(find(cJSON_GetObjectItem(res, "plain_views"), "name", "recent_audit"));
	cJSON_Delete(res);
}

static void
test_stats_sqlite_lists_largest_tables(void **state)
{
	struct fx *f = *state;
	cJSON *res = run_ok(f, &ops_stats_entry), *tables = cJSON_GetObjectItem(res, "tables");
	const cJSON *first = cJSON_GetArrayItem(tables, 0);

	assert_string_equal(str(res, "method"), "dbstat");
	assert_string_equal(str(first, "table_name"), "core_auditlog");
	assert_int_equal((int64_t)num(first, "rows"), 4000);
	assert_true(num(first, "table_bytes") > 4000 * 100);
	assert_true(num(first, "index_bytes") > 0);
	assert_true(num(first, "total_bytes") ==
	            num(first, "table_bytes") + num(first, "index_bytes"));
	assert_true(cJSON_GetArraySize(tables) <= 20);
	assert_true(num(res, "database_bytes") >= num(first, "total_bytes"));
	cJSON_Delete(res);
}

static void
test_bloat_sqlite_flags_table_after_scattered_deletes(void **state)
{
	struct fx *f = *state;
	cJSON *res = run_ok(f, &ops_bloat_entry);
	const cJSON *t;

	assert_null(find(cJSON_GetObjectItem(res, "tables"), "table_name", "core_auditlog"));
	cJSON_Delete(res);
	exec_ok(f->db, "DELETE FROM core_auditlog WHERE id % 3 <> 0");
	res = run_ok(f, &ops_bloat_entry);
	t = find(cJSON_GetObjectItem(res, "tables"), "table_name", "core_auditlog");
	assert_non_null(t);
	assert_true(num(t, "waste_pct") > 10);
	assert_true(num(res, "tables_flagged") >= 1);
	assert_true(num(res, "database_waste_pct") > 10);
	cJSON_Delete(res);
}

static void
test_backup_sqlite_writes_verified_copies_and_rotates(void **state)
{
	struct fx *f = *state;
	cJSON *res;
	struct stat st;
	sqlite3 *copy = NULL;
	sqlite3_stmt *q = NULL;
	int i;

	f->opt.dry_run = true;
	res = run_ok(f, &ops_backup_entry);
	assert_non_null(strstr(str(res, "path"), f->backups));
	assert_int_equal(stat(f->backups, &st), -1); /* not even the directory */
	cJSON_Delete(res);
	f->opt.dry_run = false;
	for (i = 0; i < 3; i++) {
		f->opt.now_override = 1700000000 + i * 86400;
		res = run_ok(f, &ops_backup_entry);
		assert_int_equal(stat(str(res, "path"), &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
		                         cJSON_GetObjectItem(res, "rotation"), "deleted")),
		                 i == 2 ? 1 : 0);
		if (i < 2)
			cJSON_Delete(res);
	}
	assert_int_equal(count_files(f->backups, ".sqlite3", false), 2);
	assert_int_equal(count_files(f->backups, "", true), 0);
	assert_int_equal(sqlite3_open_v2(str(res, "path"), &copy, SQLITE_OPEN_READONLY, NULL),
	                 SQLITE_OK);
	assert_int_equal(
	        sqlite3_prepare_v2(copy, "SELECT count(*) FROM core_auditlog", -1, &q, NULL),
	        SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 4000);
	sqlite3_finalize(q);
	sqlite3_close(copy);
	cJSON_Delete(res);
}

static void
test_report_sqlite_has_every_section(void **state)
{
	struct fx *f = *state;
	struct err e;
	cJSON *rep, *idx;
	sqlite3 *other = NULL;

	/* Two real runs (40 s, 44 s) and a dry run (1000 s) of vacuum in the execution log. */
	exec_ok(f->db,
	        "INSERT INTO core_taskexecutionlog (task_id, task_name, status, created_at, "
	        "dry_run, error_message, worker_hostname, result) VALUES "
	        "('a', 'database_maintenance', 'completed', '2026-01-01 00:00:00', 0, '', "
	        "'h', '{\"vacuum\": {\"status\": \"completed\", \"duration_seconds\": 40}}'), "
	        "('b', 'database_maintenance', 'completed', '2026-01-02 00:00:00', 0, '', "
	        "'h', '{\"vacuum\": {\"status\": \"completed\", \"duration_seconds\": 44}}'), "
	        "('c', 'database_maintenance', 'completed', '2026-01-03 00:00:00', 1, '', "
	        "'h', '{\"vacuum\": {\"status\": \"completed\", \"duration_seconds\": 1000}}')");
	err_clear(&e);
	rep = ops_report(f->db, &f->opt, &e);
	if (rep == NULL)
		fail_msg("report: %s", e.msg);
	assert_int_equal((int64_t)num(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "estimate"),
	                                                  "per_operation"),
	                              "vacuum"),
	                 42);
	assert_string_equal(
	        str(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "estimate"), "basis"), "vacuum"),
	        "history");
	assert_string_equal(
	        str(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "estimate"), "basis"), "backup"),
	        "default rate");
	assert_true(num(rep, "database_size") > 4000 * 100);
	assert_non_null(
	        find(cJSON_GetObjectItem(rep, "table_sizes"), "table_name", "core_auditlog"));
	idx = cJSON_GetObjectItem(rep, "indexes");
	assert_string_equal(
	        str(find(idx, "index_name", "core_auditlog_timestamp_c6ef4463"), "usage"),
	        "not_applicable");
	assert_string_equal(str(cJSON_GetObjectItem(rep, "unused_indexes"), "status"),
	                    "not_applicable");
	assert_string_equal(str(cJSON_GetObjectItem(rep, "long_running_queries"), "status"),
	                    "not_applicable");
	assert_string_equal(str(cJSON_GetObjectItem(rep, "blocking_locks"), "status"),
	                    "not_applicable");
	assert_false(cJSON_IsTrue(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "connections"), "writer_active")));
	assert_true(num(cJSON_GetObjectItem(rep, "estimate"), "total_seconds") >= 9);
	assert_non_null(cJSON_GetObjectItem(rep, "bloat"));
	cJSON_Delete(rep);
	/* Another connection holds the write lock: the probe must see it. */
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	rep = ops_report(f->db, &f->opt, &e);
	if (rep == NULL)
		fail_msg("report: %s", e.msg);
	assert_true(cJSON_IsTrue(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "connections"), "writer_active")));
	cJSON_Delete(rep);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
}

/* ---- PostgreSQL ---- */

static const char pg_test_db[] = "janitor_maint_test";

/* The URL of database name on the server of JANITOR_TEST_PG_URL (its path replaced). */
static char *
pg_url(const char *name)
{
	const char *base = getenv("JANITOR_TEST_PG_URL");
	const char *slash = strrchr(base, '/');

	return xasprintf("%.*s/%s", (int)(slash - base), base, name);
}

static void
pg_admin(const char *sql)
{
	struct err e;
	struct db *admin;

	err_clear(&e);
	admin = db_open(getenv("JANITOR_TEST_PG_URL"), &e);
	if (admin == NULL)
		fail_msg("admin connection: %s", e.msg);
	exec_ok(admin, sql);
	db_close(admin);
}

static const char sql_pg_fill[] =
        "INSERT INTO core_auditlog (\"timestamp\", actor, action, object_type, object_id, "
        "ip_address, changes) SELECT now() - i * interval '1 minute', 'user' || i, 'update', "
        "'order', i::text, '127.0.0.1', jsonb_build_object('k', repeat('x', 100)) "
        "FROM generate_series(1, 20000) AS i";

static int
pg_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	char *url = pg_url(pg_test_db);
	struct err e;

	pg_admin("DROP DATABASE IF EXISTS janitor_maint_test WITH (FORCE)");
	pg_admin("CREATE DATABASE janitor_maint_test");
	snprintf(f->dir, sizeof f->dir, "%s/janitor-maint.XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->backups, sizeof f->backups, "%s/backups", f->dir);
	err_clear(&e);
	f->db = db_open(url, &e);
	free(url);
	if (f->db == NULL)
		fail_msg("open: %s", e.msg);
	load_schema(f->db, "django-postgres.sql");
	exec_ok(f->db, sql_pg_fill);
	fx_options(f);
	/* What ops_run does before each operation: never wait forever behind a test's lock. */
	if (db_set_timeouts(f->db, f->opt.lock_timeout_ms, 120000, &e) < 0)
		fail_msg("timeouts: %s", e.msg);
	*state = f;
	return 0;
}

static int
pg_teardown(void **state)
{
	struct fx *f = *state;

	db_close(f->db);
	f->db = NULL;
	rm_tree(f->dir);
	free(f);
	pg_admin("DROP DATABASE IF EXISTS janitor_maint_test WITH (FORCE)");
	return 0;
}

/* A second session (plain libpq) for deletes, locks and open transactions. */
static PGconn *
pg_side(void)
{
	char *url = pg_url(pg_test_db);
	PGconn *c = PQconnectdb(url);

	free(url);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("side connection: %s", PQerrorMessage(c));
	return c;
}

static void
side_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* Poll sql (one integer) until it is >= want, for up to 15 s. */
static bool
wait_int(struct db *db, const char *sql, int64_t want)
{
	int i;

	for (i = 0; i < 150; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (query_int(db, sql) >= want)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static const char sql_dead[] =
        "SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables WHERE relname = 'core_auditlog'";

static void
test_vacuum_pg_removes_dead_tuples(void **state)
{
	struct fx *f = *state;
	PGconn *side = pg_side();
	const cJSON *t;
	cJSON *res;

	side_ok(side, "DELETE FROM core_auditlog WHERE id % 2 = 0");
	PQfinish(side); /* a backend flushes its statistics when it exits */
	assert_true(wait_int(f->db, sql_dead, 10000));
	f->opt.dry_run = true;
	res = run_ok(f, &ops_vacuum_entry);
	t = find(cJSON_GetObjectItem(res, "tables"), "table", "\"public\".\"core_auditlog\"");
	assert_non_null(t);
	assert_true(num(t, "dead_tuples_before") >= 10000);
	assert_string_equal(str(t, "statement"),
	                    "VACUUM (ANALYZE, SKIP_LOCKED) \"public\".\"core_auditlog\"");
	assert_int_equal((int64_t)num(res, "tables_vacuumed"), 0);
	assert_true(query_int(f->db, sql_dead) >= 10000);
	assert_int_equal(query_int(f->db, "SELECT vacuum_count FROM pg_stat_user_tables "
	                                  "WHERE relname = 'core_auditlog'"),
	                 0);
	cJSON_Delete(res);
	f->opt.dry_run = false;
	res = run_ok(f, &ops_vacuum_entry);
	t = find(cJSON_GetObjectItem(res, "tables"), "table", "\"public\".\"core_auditlog\"");
	assert_non_null(t);
	assert_true(num(t, "dead_tuples_before") >= 10000);
	assert_int_equal((int64_t)num(t, "dead_tuples_after"), 0);
	assert_int_equal((int64_t)num(t, "live_tuples_after"), 10000);
	assert_string_equal(str(res, "message"), "VACUUM ANALYZE completed successfully");
	assert_int_equal(query_int(f->db, "SELECT vacuum_count FROM pg_stat_user_tables "
	                                  "WHERE relname = 'core_auditlog'"),
	                 1);
	assert_int_equal(query_int(f->db, sql_dead), 0);
	cJSON_Delete(res);
}

static void
test_vacuum_pg_reports_locked_table_as_warning(void **state)
{
	struct fx *f = *state;
	PGconn *side = pg_side();
	const cJSON *t, *w;
	cJSON *res;

	side_ok(side, "BEGIN");
	side_ok(side, "LOCK TABLE core_auditlog IN ACCESS EXCLUSIVE MODE");
	res = run_ok(f, &ops_vacuum_entry);
	side_ok(side, "ROLLBACK");
	PQfinish(side);
	t = find(cJSON_GetObjectItem(res, "tables"), "table", "\"public\".\"core_auditlog\"");
	assert_non_null(t);
	w = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "warnings"), 0);
	assert_non_null(w);
	assert_non_null(strstr(w->valuestring, "WARNING: skipping vacuum of \"core_auditlog\""));
	assert_true(num(res, "warnings") >= 1);
	assert_non_null(strstr(str(res, "message"), "with warnings"));
	cJSON_Delete(res);
}

static const char sql_relfilenode[] =
        "SELECT relfilenode FROM pg_class WHERE relname = 'core_auditlog_timestamp_c6ef4463'";

static void
test_reindex_pg_rebuilds_each_index_and_drops_leftovers(void **state)
{
	struct fx *f = *state;
	int64_t node0 = query_int(f->db, sql_relfilenode), nvalid;
	const cJSON *it;
	cJSON *res;
	struct err e;

	exec_ok(f->db, "CREATE TABLE jm_dup (v int)");
	exec_ok(f->db, "INSERT INTO jm_dup VALUES (1), (1)");
	/* Failed concurrent builds leave INVALID indexes: one named like a reindex leftover,
	 * one like a migration's. */
	assert_int_equal(db_exec(f->db,
	                         "CREATE UNIQUE INDEX CONCURRENTLY jm_dup_v_ccnew ON "
	                         "jm_dup (v)",
	                         0, NULL, NULL, &e),
	                 -1);
	assert_int_equal(db_exec(f->db,
	                         "CREATE UNIQUE INDEX CONCURRENTLY jm_dup_v_uniq ON "
	                         "jm_dup (v)",
	                         0, NULL, NULL, &e),
	                 -1);
	nvalid =
	        query_int(f->db, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = "
	                         "i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
	                         "i.indisvalid AND n.nspname = 'public'");
	f->opt.dry_run = true;
	res = run_ok(f, &ops_reindex_entry);
	assert_string_equal(str(find(cJSON_GetObjectItem(res, "leftovers"), "index",
	                             "\"public\".\"jm_dup_v_ccnew\""),
	                        "action"),
	                    "would drop");
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM pg_class WHERE relname = "
	                                  "'jm_dup_v_ccnew'"),
	                 1);
	assert_int_equal(query_int(f->db, sql_relfilenode), node0);
	assert_int_equal((int64_t)num(res, "indexes_rebuilt"), 0);
	cJSON_Delete(res);
	f->opt.dry_run = false;
	res = run_ok(f, &ops_reindex_entry);
	assert_string_equal(str(find(cJSON_GetObjectItem(res, "leftovers"), "index",
	                             "\"public\".\"jm_dup_v_ccnew\""),
	                        "action"),
	                    "dropped");
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM pg_class WHERE relname = "
	                                  "'jm_dup_v_ccnew'"),
	                 0);
	assert_non_null(find(cJSON_GetObjectItem(res, "invalid_indexes"), "index",
	                     "\"public\".\"jm_dup_v_uniq\""));
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM pg_class WHERE relname = "
	                                  "'jm_dup_v_uniq'"),
	                 1);
	assert_int_equal((int64_t)num(res, "indexes_rebuilt"), nvalid);
	assert_int_equal(f->progress_total, nvalid); /* one step per index */
	assert_true(f->progress_calls >= 2 * nvalid);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(res, "indexes"))
		assert_string_equal(str(it, "status"), "rebuilt");
	assert_true(query_int(f->db, sql_relfilenode) != node0);
	cJSON_Delete(res);
}

static void
test_views_pg_concurrent_or_plain_saying_why(void **state)
{
	struct fx *f = *state;
	const cJSON *views;
	cJSON *res;

	exec_ok(f->db, "CREATE MATERIALIZED VIEW mv_actions AS SELECT action, count(*) AS n "
	               "FROM core_auditlog GROUP BY action");
	exec_ok(f->db, "CREATE UNIQUE INDEX mv_actions_action ON mv_actions (action)");
	exec_ok(f->db, "CREATE MATERIALIZED VIEW mv_total AS SELECT count(*) AS n "
	               "FROM core_auditlog");
	exec_ok(f->db, "CREATE MATERIALIZED VIEW mv_empty AS SELECT 1 AS x WITH NO DATA");
	exec_ok(f->db, "UPDATE core_auditlog SET action = 'delete' WHERE id <= 10");
	f->opt.dry_run = true;
	res = run_ok(f, &ops_views_entry);
	views = cJSON_GetObjectItem(res, "views");
	assert_string_equal(str(find(views, "view", "\"public\".\"mv_actions\""), "mode"),
	                    "concurrent");
	assert_string_equal(str(find(views, "view", "\"public\".\"mv_total\""), "mode"), "plain");
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM mv_actions WHERE action = "
	                                  "'delete'"),
	                 0);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM pg_matviews WHERE "
	                                  "matviewname = 'mv_empty' AND ispopulated"),
	                 0);
	cJSON_Delete(res);
	f->opt.dry_run = false;
	res = run_ok(f, &ops_views_entry);
	views = cJSON_GetObjectItem(res, "views");
	assert_string_equal(str(find(views, "view", "\"public\".\"mv_actions\""), "status"),
	                    "refreshed");
	assert_non_null(strstr(str(find(views, "view", "\"public\".\"mv_total\""), "reason"),
	                       "no unique index"));
	assert_non_null(strstr(str(find(views, "view", "\"public\".\"mv_empty\""), "reason"),
	                       "not populated"));
	assert_int_equal((int64_t)num(res, "concurrent"), 1);
	assert_int_equal((int64_t)num(res, "plain"), 2);
	assert_int_equal(query_int(f->db, "SELECT n FROM mv_actions WHERE action = 'delete'"), 10);
	assert_int_equal(query_int(f->db, "SELECT count(*) FROM pg_matviews WHERE "
	                                  "matviewname = 'mv_empty' AND ispopulated"),
	                 1);
	cJSON_Delete(res);
}

static void
test_stats_pg_lists_largest_tables(void **state)
{
	struct fx *f = *state;
	const cJSON *first;
	cJSON *res;

	exec_ok(f->db, "ANALYZE core_auditlog");
	res = run_ok(f, &ops_stats_entry);
	first = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "tables"), 0);
	assert_string_equal(str(first, "table_name"), "public.core_auditlog");
	assert_int_equal((int64_t)num(first, "rows"), 20000);
	assert_true(num(first, "index_bytes") > 0);
	assert_true(num(first, "total_bytes") ==
	            num(first, "table_bytes") + num(first, "index_bytes"));
	assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(res, "tables")) <= 20);
	assert_true(num(res, "database_bytes") > num(first, "total_bytes"));
	cJSON_Delete(res);
}

static void
test_bloat_pg_flags_table_after_mass_delete(void **state)
{
	struct fx *f = *state;
	const cJSON *t;
	cJSON *res;

	exec_ok(f->db, "ANALYZE core_auditlog");
	res = run_ok(f, &ops_bloat_entry);
	assert_null(find(cJSON_GetObjectItem(res, "tables"), "table_name", "public.core_auditlog"));
	cJSON_Delete(res);
	exec_ok(f->db, "DELETE FROM core_auditlog WHERE id % 5 <> 0");
	exec_ok(f->db, "VACUUM core_auditlog");
	res = run_ok(f, &ops_bloat_entry);
	t = find(cJSON_GetObjectItem(res, "tables"), "table_name", "public.core_auditlog");
	assert_non_null(t);
	assert_true(num(t, "bloat_pct") > 50);
	assert_string_equal(str(t, "method"), "estimate");
	cJSON_Delete(res);
	exec_ok(f->db, "CREATE EXTENSION pgstattuple");
	res = run_ok(f, &ops_bloat_entry);
	t = find(cJSON_GetObjectItem(res, "tables"), "table_name", "public.core_auditlog");
	assert_non_null(t);
	assert_string_equal(str(t, "method"), "pgstattuple");
	assert_true(num(t, "exact_waste_pct") > 50);
	cJSON_Delete(res);
}

static void
test_backup_pg_writes_0600_verified_dumps_and_rotates(void **state)
{
	struct fx *f = *state;
	const char *keep_dir = getenv("JANITOR_TEST_BACKUP_DIR");
	struct stat st;
	cJSON *res;
	int i;

	/* The integration script restores what this test leaves in JANITOR_TEST_BACKUP_DIR. */
	if (keep_dir != NULL)
		snprintf(f->backups, sizeof f->backups, "%s", keep_dir);
	f->opt.dry_run = true;
	res = run_ok(f, &ops_backup_entry);
	assert_non_null(strstr(str(res, "path"), f->backups));
	assert_int_equal(stat(str(res, "path"), &st), -1);
	assert_int_equal(count_files(f->backups, ".dump", false), 0);
	cJSON_Delete(res);
	f->opt.dry_run = false;
	for (i = 0; i < 3; i++) {
		const cJSON *v;

		f->opt.now_override = 1700000000 + i * 86400;
		res = run_ok(f, &ops_backup_entry);
		assert_int_equal(stat(str(res, "path"), &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		v = cJSON_GetObjectItem(res, "verified");
		assert_int_equal((int64_t)num(v, "tables_with_data"), 14);
		assert_non_null(strstr(str(v, "dumped_from"), "15"));
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(
		                         cJSON_GetObjectItem(res, "rotation"), "deleted")),
		                 i == 2 ? 1 : 0);
		cJSON_Delete(res);
	}
	assert_int_equal(count_files(f->backups, ".dump", false), 2);
	assert_int_equal(count_files(f->backups, "", true), 0);
}

static void
test_backup_pg_failing_pg_dump_leaves_no_file(void **state)
{
	struct fx *f = *state;
	PGconn *side;
	struct err e;
	cJSON *res;

	f->opt.pg_dump = "/nonexistent/bin/pg_dump";
	res = run_op(f, &ops_backup_entry, &e);
	assert_null(res);
	assert_int_equal(e.cls, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "/nonexistent/bin/pg_dump"));
	assert_int_equal(count_files(f->backups, ".dump", false), 0);
	assert_int_equal(count_files(f->backups, "", true), 0);
	/* A real pg_dump that fails: the table is locked past the lock wait timeout. */
	f->opt.pg_dump = NULL;
	f->opt.lock_timeout_ms = 300;
	side = pg_side();
	side_ok(side, "BEGIN");
	side_ok(side, "LOCK TABLE core_auditlog IN ACCESS EXCLUSIVE MODE");
	res = run_op(f, &ops_backup_entry, &e);
	side_ok(side, "ROLLBACK");
	PQfinish(side);
	assert_null(res);
	assert_int_equal(e.cls, ERR_DB);
	assert_non_null(strstr(e.msg, "pg_dump: error:"));
	assert_int_equal(count_files(f->backups, ".dump", false), 0);
	assert_int_equal(count_files(f->backups, "", true), 0);
}

/* A stand-in pg_dump that records its argv and PGPASSWORD, then fails like pg_dump does. */
static const char fake_pg_dump[] =
        "#!/bin/sh\n"
        "printf '%s\\n' \"$0\" \"$@\" > \"$(dirname \"$0\")/argv.txt\"\n"
        "printf '%s\\n' \"$PGPASSWORD\" > \"$(dirname \"$0\")/password.txt\"\n"
        "echo 'pg_dump: error: connection to server failed: fake' >&2\n"
        "exit 1\n";

static void
test_backup_pg_password_only_in_child_environment(void **state)
{
	struct fx *f = *state;
	char script[400], argv_txt[400], pw_txt[400], *url, *argv_seen, *pw_seen;
	const char *base = getenv("JANITOR_TEST_PG_URL");
	const char *at = strchr(base, '@'), *slash = strrchr(base, '/');
	struct db *withpw;
	FILE *out;
	struct err e;
	cJSON *res;

	/* Same server and database, with a password in the URL (trust auth ignores it). */
	url = xasprintf("postgresql://postgres:s3cret-pw@%.*s/%s", (int)(slash - at - 1), at + 1,
	                pg_test_db);
	err_clear(&e);
	withpw = db_open(url, &e);
	free(url);
	if (withpw == NULL)
		fail_msg("open with password: %s", e.msg);
	db_close(f->db);
	f->db = withpw;
	snprintf(script, sizeof script, "%s/pg_dump", f->dir);
	snprintf(argv_txt, sizeof argv_txt, "%s/argv.txt", f->dir);
	snprintf(pw_txt, sizeof pw_txt, "%s/password.txt", f->dir);
	out = fopen(script, "w");
	assert_non_null(out);
	fputs(fake_pg_dump, out);
	fclose(out);
	assert_int_equal(chmod(script, 0700), 0);
	f->opt.pg_dump = script;
	res = run_op(f, &ops_backup_entry, &e);
	assert_null(res);
	assert_int_equal(e.cls, ERR_DB);
	assert_string_equal(e.msg, "pg_dump: error: connection to server failed: fake");
	argv_seen = test_read_file(argv_txt);
	pw_seen = test_read_file(pw_txt);
	assert_non_null(strstr(argv_seen, "--format=custom"));
	assert_null(strstr(argv_seen, "s3cret-pw"));
	assert_string_equal(pw_seen, "s3cret-pw\n");
	assert_int_equal(count_files(f->backups, ".dump", false), 0);
	assert_int_equal(count_files(f->backups, "", true), 0);
	free(argv_seen);
	free(pw_seen);
}

/* An element of arr whose numeric key equals v. */
static bool
has_num(const cJSON *arr, const char *key, double v)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		const cJSON *x = cJSON_GetObjectItem(it, key);

		if (cJSON_IsNumber(x) && x->valuedouble == v)
			return true;
	}
	return false;
}

/* Poll the long-query section (1 s threshold) until pid shows, for up to 15 s. */
static bool
wait_long_query(struct db *db, int pid)
{
	int i;

	for (i = 0; i < 150; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		struct err e;
		cJSON *s = ops_report_long_queries(db, 1, &e);
		bool found;

		assert_non_null(s);
		found = has_num(cJSON_GetObjectItem(s, "queries"), "pid", pid);
		cJSON_Delete(s);
		if (found)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static bool
wait_blocked(struct db *db, int blocked, int blocker)
{
	int i;

	for (i = 0; i < 150; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		struct err e;
		cJSON *s = ops_report_blocking_locks(db, &e);
		bool found;

		assert_non_null(s);
		found = has_num(s, "blocked_pid", blocked) && has_num(s, "blocking_pid", blocker);
		if (!found && i == 149) {
			char *txt = cJSON_PrintUnformatted(s);

			print_message("blocking_locks: %s (want %d blocked by %d)\n", txt, blocked,
			              blocker);
			free(txt);
		}
		cJSON_Delete(s);
		if (found)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

static void
test_report_pg_has_every_section(void **state)
{
	struct fx *f = *state;
	PGconn *holder = pg_side(), *waiter = pg_side();
	const cJSON *idx;
	struct err e;
	cJSON *rep;
	PGresult *r;

	err_clear(&e);
	rep = ops_report(f->db, &f->opt, &e);
	if (rep == NULL)
		fail_msg("report: %s", e.msg);
	assert_true(num(rep, "database_size") > 0);
	assert_non_null(find(cJSON_GetObjectItem(rep, "table_sizes"), "table_name",
	                     "public.core_auditlog"));
	idx = find(cJSON_GetObjectItem(rep, "indexes"), "index_name",
	           "core_auditlog_timestamp_c6ef4463");
	assert_non_null(idx);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(idx, "idx_scan")));
	assert_non_null(
	        find(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "unused_indexes"), "indexes"),
	             "index_name", "core_taskexecutionlog_task_id_589a1f54_like"));
	assert_true(num(cJSON_GetObjectItem(rep, "connections"), "total") >= 3);
	assert_true(cJSON_IsArray(
	        cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "long_running_queries"), "queries")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(rep, "blocking_locks")));
	assert_true(num(cJSON_GetObjectItem(rep, "estimate"), "total_seconds") >= 9);
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "bloat"), "tables"));
	cJSON_Delete(rep);
	/* An open transaction becomes a long-running one; a lock waiter shows its blocker. */
	side_ok(holder, "BEGIN");
	side_ok(holder, "LOCK TABLE core_failedtask IN ACCESS EXCLUSIVE MODE");
	assert_true(wait_long_query(f->db, PQbackendPID(holder)));
	assert_int_equal(PQsendQuery(waiter, "BEGIN; LOCK TABLE core_failedtask IN "
	                                     "ACCESS SHARE MODE"),
	                 1);
	assert_true(wait_blocked(f->db, PQbackendPID(waiter), PQbackendPID(holder)));
	side_ok(holder, "ROLLBACK");
	while ((r = PQgetResult(waiter)) != NULL)
		PQclear(r);
	PQfinish(waiter);
	PQfinish(holder);
}

static int
pg_tests(void)
{
	const struct CMUnitTest pg[] = {
		cmocka_unit_test_setup_teardown(test_vacuum_pg_removes_dead_tuples, pg_setup,
		                                pg_teardown),
		cmocka_unit_test_setup_teardown(test_vacuum_pg_reports_locked_table_as_warning,
		                                pg_setup, pg_teardown),
		cmocka_unit_test_setup_teardown(
		        test_reindex_pg_rebuilds_each_index_and_drops_leftovers, pg_setup,
		        pg_teardown),
		cmocka_unit_test_setup_teardown(test_views_pg_concurrent_or_plain_saying_why,
		                                pg_setup, pg_teardown),
		cmocka_unit_test_setup_teardown(test_stats_pg_lists_largest_tables, pg_setup,
		                                pg_teardown),
		cmocka_unit_test_setup_teardown(test_bloat_pg_flags_table_after_mass_delete,
		                                pg_setup, pg_teardown),
		cmocka_unit_test_setup_teardown(
		        test_backup_pg_writes_0600_verified_dumps_and_rotates, pg_setup,
		        pg_teardown),
		cmocka_unit_test_setup_teardown(test_backup_pg_failing_pg_dump_leaves_no_file,
		                                pg_setup, pg_teardown),
		cmocka_unit_test_setup_teardown(test_backup_pg_password_only_in_child_environment,
		                                pg_setup, pg_teardown),
		cmocka_unit_test_setup_teardown(test_report_pg_has_every_section, pg_setup,
		                                pg_teardown),
	};

	return cmocka_run_group_tests_name("ops_maint_postgresql", pg, NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest lite[] = {
		cmocka_unit_test_setup_teardown(test_vacuum_sqlite_frees_pages_after_deletes,
		                                lite_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vacuum_sqlite_dry_run_changes_nothing,
		                                lite_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vacuum_sqlite_wal_checkpoints_and_truncates,
		                                lite_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_reindex_sqlite_rebuilds_every_index,
		                                lite_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_views_sqlite_skipped_not_applicable,
		                                lite_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_stats_sqlite_lists_largest_tables, lite_setup,
		                                fx_teardown),
		cmocka_unit_test_setup_teardown(
		        test_bloat_sqlite_flags_table_after_scattered_deletes, lite_setup,
		        fx_teardown),
		cmocka_unit_test_setup_teardown(
		        test_backup_sqlite_writes_verified_copies_and_rotates, lite_setup,
		        fx_teardown),
		cmocka_unit_test_setup_teardown(test_report_sqlite_has_every_section, lite_setup,
		                                fx_teardown),
	};
	int rc;

	xalloc_install_cjson();
	rc = cmocka_run_group_tests_name("ops_maint_sqlite", lite, NULL, NULL);
	if (getenv("JANITOR_TEST_PG_URL") != NULL)
		rc += pg_tests();
	return rc;
}

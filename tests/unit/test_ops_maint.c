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
#include "xalloc.h"

/* ---- fixture ---- */

struct fx {
	char dir[256];     /* temp dir: database file, backups */
	char path[300];    /* SQLite file */
	char backups[300]; /* backup directory */
	struct db *db;
	struct ops_options opt;
};

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = xmalloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
load_schema(struct db *db, const char *file)
{
	const char *src = getenv("JANITOR_SRCDIR");
	char path[512];
	char *sql;
	struct err e;

	snprintf(path, sizeof path, "%s/tests/fixtures/ops_maint/%s",
	         src != NULL ? src : TOP_SRCDIR, file);
	sql = read_file(path);
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

/* n audit-log rows with ~300 bytes of JSON each. */
static const char sql_lite_fill[] =
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d) "
        "INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, "
        "ip_address, changes) SELECT datetime('now', '-' || i || ' minutes'), 'user' || i, "
        "'update', 'order', i, '127.0.0.1', json_object('k', printf('%%.100c', 'x')) FROM g";

static int
lite_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	char url[320], sql[1024];
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
	snprintf(sql, sizeof sql, sql_lite_fill, 4000);
	exec_ok(f->db, sql);
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
	struct ops_ctx ctx = { .db = f->db, .opt = &f->opt };

	err_clear(e);
	return entry->run(&ctx, e);
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

	err_clear(&e);
	rep = ops_report(f->db, &f->opt, &e);
	if (rep == NULL)
		fail_msg("report: %s", e.msg);
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

static int
pg_tests(void)
{
	return 0;
}

int
main(void)
{
	const struct CMUnitTest lite[] = {
		cmocka_unit_test_setup_teardown(test_vacuum_sqlite_frees_pages_after_deletes,
		                                lite_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vacuum_sqlite_dry_run_changes_nothing,
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

/* SPDX-License-Identifier: MIT */
/*
 * ops_demo.c - a demo SQLite database for the README's first command: Django's tables that the
 * retention operations touch (DDL as Django 3.2 generates it) and sample rows, old and new, so
 * `janitor run --all` has something to archive, delete and report. Not used by the worker.
 */
#include "config.h"

#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ops_int.h"
#include "xalloc.h"

static const char demo_schema[] =
        "CREATE TABLE \"django_migrations\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"app\" varchar(255) NOT NULL, \"name\" varchar(255) NOT NULL, \"applied\" datetime NOT NULL);\n"
        "CREATE TABLE \"django_session\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL);\n"
        "CREATE INDEX \"django_session_expire_date_a5c62663\" ON \"django_session\" (\"expire_date\");\n"
        "CREATE TABLE \"core_auditlog\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"timestamp\" datetime NOT NULL, \"actor\" varchar(150) NOT NULL, \"action\" varchar(64) NOT NULL, \"object_type\" varchar(100) NOT NULL, \"object_id\" varchar(64) NOT NULL, \"ip_address\" char(39) NULL, \"changes\" text NOT NULL CHECK ((JSON_VALID(\"changes\") OR \"changes\" IS NULL)));\n"
        "CREATE TABLE \"core_failedtask\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"task_id\" varchar(255) NOT NULL UNIQUE, \"task_name\" varchar(255) NOT NULL, \"args\" text NOT NULL CHECK ((JSON_VALID(\"args\") OR \"args\" IS NULL)), \"kwargs\" text NOT NULL CHECK ((JSON_VALID(\"kwargs\") OR \"kwargs\" IS NULL)), \"exception_type\" varchar(255) NOT NULL, \"exception_message\" text NOT NULL, \"traceback\" text NOT NULL, \"retry_count\" integer unsigned NOT NULL CHECK (\"retry_count\" >= 0), \"created_at\" datetime NOT NULL, \"is_archived\" bool NOT NULL, \"archived_at\" datetime NULL);\n"
        "CREATE TABLE \"core_taskexecutionlog\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"task_id\" varchar(255) NOT NULL, \"task_name\" varchar(255) NOT NULL, \"status\" varchar(16) NOT NULL, \"created_at\" datetime NOT NULL, \"started_at\" datetime NULL, \"finished_at\" datetime NULL, \"duration_seconds\" real NULL, \"dry_run\" bool NOT NULL, \"rows_affected\" bigint NULL, \"result\" text NULL CHECK ((JSON_VALID(\"result\") OR \"result\" IS NULL)), \"error_message\" text NOT NULL, \"worker_hostname\" varchar(255) NOT NULL);\n"
        "CREATE INDEX \"core_failedtask_arch_created\" ON \"core_failedtask\" (\"is_archived\", \"created_at\");\n"
        "CREATE INDEX \"core_auditlog_timestamp_c6ef4463\" ON \"core_auditlog\" (\"timestamp\");\n"
        "CREATE INDEX \"core_failedtask_task_name_4605eb34\" ON \"core_failedtask\" (\"task_name\");\n"
        "CREATE INDEX \"core_failedtask_created_at_63544e1a\" ON \"core_failedtask\" (\"created_at\");\n"
        "CREATE INDEX \"core_taskexecutionlog_task_id_589a1f54\" ON \"core_taskexecutionlog\" (\"task_id\");\n"
        "CREATE INDEX \"core_taskexecutionlog_task_name_02768b46\" ON \"core_taskexecutionlog\" (\"task_name\");\n"
        "CREATE INDEX \"core_taskexecutionlog_created_at_3f71ef28\" ON \"core_taskexecutionlog\" (\"created_at\");\n";

/* Sample rows spread over the past 800 days (dates as Django writes them in SQLite): 3000
 * audit-log rows, 1200 execution-log rows, 400 failed tasks, 500 sessions (half expired). */
static const char demo_rows[] =
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
        "INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, "
        "ip_address, changes) SELECT strftime('%Y-%m-%d %H:%M:%S', 'now', "
        "'-' || (i % 200) || ' days', '-' || (i % 86400) || ' seconds'), 'user' || (i % 17), "
        "'update', 'order', CAST(i AS text), '10.0.0.' || (i % 250), '{\"status\": \"paid\"}' "
        "FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
        "INSERT INTO core_taskexecutionlog (task_id, task_name, status, created_at, started_at, "
        "finished_at, duration_seconds, dry_run, rows_affected, result, error_message, "
        "worker_hostname) SELECT 'demo-' || i, 'reports.daily', 'completed', "
        "strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (i % 90) || ' days'), "
        "strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (i % 90) || ' days'), "
        "strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (i % 90) || ' days'), 1.5, 0, 10, "
        "'{}', '', 'demo-host' FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
        "INSERT INTO core_failedtask (task_id, task_name, args, kwargs, exception_type, "
        "exception_message, traceback, retry_count, created_at, is_archived, archived_at) "
        "SELECT 'failed-' || i, 'payments.charge', '[]', '{}', 'TimeoutError', 'gateway timeout', "
        "'Traceback (most recent call last): ...', i % 3, "
        "strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (i * 2) || ' days'), "
        "CASE WHEN i * 2 > 400 AND i % 2 = 0 THEN 1 ELSE 0 END, "
        "CASE WHEN i * 2 > 400 AND i % 2 = 0 THEN strftime('%Y-%m-%d %H:%M:%S', 'now', "
        "'-' || (i * 2 - 365) || ' days') END FROM n;\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) "
        "INSERT INTO django_session (session_key, session_data, expire_date) "
        "SELECT printf('demo%036d', i), 'e30:demo', strftime('%Y-%m-%d %H:%M:%S', 'now', "
        "(CASE WHEN i % 2 = 0 THEN '-' ELSE '+' END) || (i % 30 + 1) || ' days') FROM n;\n";

int
ops_demo_create(const char *path, bool *created, struct err *err)
{
	struct db *db = NULL;
	struct stat st;
	char *url = NULL;
	int rc = -1;

	*created = false;
	if (stat(path, &st) == 0)
		return 0; /* an existing file is used as it is, never overwritten */
	if (errno != ENOENT)
		return err_sys(err, ERR_CONFIG, "demo database %s", path);
	url = xasprintf("sqlite:///%s", path);
	db = db_open_ex(url, DB_OPEN_CREATE, err);
	if (db == NULL)
		goto out;
	if (db_exec_script(db, "BEGIN", err) < 0 || db_exec_script(db, demo_schema, err) < 0 ||
	    db_exec_script(db, demo_rows, err) < 0 || db_exec_script(db, "COMMIT", err) < 0) {
		err_prefix(err, "demo database %s", path);
		goto out;
	}
	*created = true;
	rc = 0;
out:
	db_close(db);
	free(url);
	return rc;
}

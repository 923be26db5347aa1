/* SPDX-License-Identifier: MIT */
/*
 * test_db_cancel.c - db_cancel from another thread stops the running statement (what the
 * worker does on a time limit or revoke): on SQLite always, on PostgreSQL when TEST_PG_URL is
 * set (tests/integration/ops_core_pg.sh runs this binary with it). Asserts the class and text
 * of the error, that the stop came quickly, and that the connection is usable afterwards.
 */
#include "config.h"

#include <pthread.h>
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

#include "db.h"
#include "xalloc.h"

static void *
cancel_later(void *arg)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	db_cancel(arg);
	return NULL;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
cancel_long_statement(struct db *db, const char *sql)
{
	pthread_t th;
	struct err err;
	double t0 = now_seconds();
	int rc;

	assert_int_equal(pthread_create(&th, NULL, cancel_later, db), 0);
	rc = db_exec(db, sql, 0, NULL, NULL, &err);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(rc, -1);
	assert_int_equal(err.cls, ERR_TRANSIENT);
	assert_string_equal(err.msg, "canceled");
	assert_true(now_seconds() - t0 < 5.0);
	db_cancel_clear(db);
	assert_int_equal(db_exec(db, "SELECT 1", 0, NULL, NULL, &err), 0);
}

static void
test_db_cancel_stops_sqlite_statement(void **state)
{
	struct db *db;
	struct err err;

	(void)state;
	db = db_open("sqlite://:memory:", &err);
	assert_non_null(db);
	cancel_long_statement(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	                          "WHERE i < 100000000000) SELECT count(*) FROM n");
	db_close(db);
}

static void
test_db_cancel_stops_postgres_statement(void **state)
{
	const char *url = getenv("TEST_PG_URL");
	struct db *db;
	struct err err;

	(void)state;
	if (url == NULL || url[0] == '\0')
		skip(); /* run with PostgreSQL by ops_core_pg.sh */
	db = db_open(url, &err);
	assert_non_null(db);
	cancel_long_statement(db, "SELECT pg_sleep(30)");
	/* A server-side statement timeout is not a cancel: its own message, still transient. */
	assert_int_equal(db_set_timeouts(db, 0, 200, &err), 0);
	assert_int_equal(db_exec(db, "SELECT pg_sleep(5)", 0, NULL, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_TRANSIENT);
	assert_string_equal(db_last_sqlstate(db), "57014");
	assert_string_not_equal(err.msg, "canceled");
	db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_cancel_stops_sqlite_statement),
		cmocka_unit_test(test_db_cancel_stops_postgres_statement),
	};

	xalloc_install_cjson();
	return cmocka_run_group_tests_name("db_cancel", tests, NULL, NULL);
}

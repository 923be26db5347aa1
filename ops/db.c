/* SPDX-License-Identifier: MIT */
/*
 * db.c - the driver-independent half of db.h: pick a driver by URL scheme, keep the handle's
 * common state (name, transaction flag, sticky cancel), and hold query results as text rows.
 * It does no SQL of its own beyond the driver's table_exists and BEGIN templates.
 */
#include "config.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_int.h"
#include "xalloc.h"

struct db_rows {
	int nrows; /* rows filled */
	int cap;   /* rows allocated */
	int ncols;
	char **colnames; /* owned, ncols entries */
	char **cells;    /* owned, nrows * ncols entries, NULL = SQL NULL */
};

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Splits a URL into its driver and the target that driver opens. */
static int
parse_url(const char *url, const struct db_driver **drv, const char **target, struct err *err)
{
	if (url == NULL || url[0] == '\0')
		return err_set(err, ERR_CONFIG, "no database URL (use --database or DATABASE_URL)");
	if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
		*drv = &db_pg_driver;
		*target = url;
		return 0;
	}
	if (has_prefix(url, "sqlite://")) {
		*drv = &db_sqlite_driver;
		*target = url + strlen("sqlite://");
		if ((*target)[0] == '/')
			(*target)++;
		if ((*target)[0] == '\0')
			return err_set(err, ERR_CONFIG, "database URL: sqlite:// without a path");
		return 0;
	}
	if (strstr(url, "://") == NULL && strchr(url, '=') != NULL) {
		*drv = &db_pg_driver; /* a libpq key=value connection string */
		*target = url;
		return 0;
	}
	return err_set(err, ERR_CONFIG,
	               "database URL: unsupported scheme (want postgresql:// or sqlite:///path)");
}

struct db *
db_open_ex(const char *url, unsigned flags, struct err *err)
{
	const struct db_driver *drv = NULL;
	const char *target = NULL;
	struct db *db;

	if (parse_url(url, &drv, &target, err) < 0)
		return NULL;
	db = xcalloc(1, sizeof(*db));
	db->drv = drv;
	db->target = xstrdup(target);
	atomic_init(&db->canceled, 0);
	if (drv->open(db, db->target, flags, err) < 0) {
		free(db->target);
		free(db->name);
		free(db);
		return NULL;
	}
	return db;
}

struct db *
db_open(const char *url, struct err *err)
{
	return db_open_ex(url, 0, err);
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db->drv->close(db);
	free(db->name);
	free(db->target);
	free(db);
}

enum db_kind
db_kind(const struct db *db)
{
	return db->drv->kind;
}

const char *
db_name(const struct db *db)
{
	return db->name != NULL ? db->name : "";
}

static int
check_canceled(struct db *db, struct err *err)
{
	if (atomic_load(&db->canceled))
		return err_set(err, ERR_TRANSIENT, "canceled");
	return 0;
}

int
db_exec(struct db *db, const char *sql, int nparams, const char *const *params, int64_t *affected,
        struct err *err)
{
	if (affected != NULL)
		*affected = 0;
	db->sqlstate[0] = '\0';
	if (check_canceled(db, err) < 0)
		return -1;
	return db->drv->exec(db, sql, nparams, params, affected, err);
}

struct db_rows *
db_query(struct db *db, const char *sql, int nparams, const char *const *params, struct err *err)
{
	db->sqlstate[0] = '\0';
	if (check_canceled(db, err) < 0)
		return NULL;
	return db->drv->query(db, sql, nparams, params, err);
}

int
db_exec_script(struct db *db, const char *sql, struct err *err)
{
	db->sqlstate[0] = '\0';
	if (check_canceled(db, err) < 0)
		return -1;
	return db->drv->exec_script(db, sql, err);
}

int
db_begin(struct db *db, struct err *err)
{
	if (db->in_txn)
		return err_set(err, ERR_BUG, "db_begin: a transaction is already open");
	if (db_exec(db, db->drv->begin_sql, 0, NULL, NULL, err) < 0)
		return -1;
	db->in_txn = true;
	return 0;
}

int
db_commit(struct db *db, struct err *err)
{
	if (!db->in_txn)
		return err_set(err, ERR_BUG, "db_commit: no transaction is open");
	db->in_txn = false;
	db->sqlstate[0] = '\0';
	/* Not db_exec: a cancel requested after the batch ran must not turn COMMIT into a leak. */
	return db->drv->exec(db, "COMMIT", 0, NULL, NULL, err);
}

void
db_rollback(struct db *db)
{
	struct err ignored;

	if (!db->in_txn)
		return;
	db->in_txn = false;
	/* Best effort: if the connection is gone the transaction is gone with it. */
	if (db->drv->exec(db, "ROLLBACK", 0, NULL, NULL, &ignored) < 0)
		return;
}

bool
db_in_transaction(const struct db *db)
{
	return db->in_txn;
}

char *
db_quote_ident(struct db *db, const char *name)
{
	return db->drv->quote_ident(db, name);
}

int
db_table_exists(struct db *db, const char *table, bool *exists, struct err *err)
{
	struct db_rows *rows;
	const char *params[1] = { table };

	*exists = false;
	rows = db_query(db, db->drv->table_exists_sql, 1, params, err);
	if (rows == NULL)
		return -1;
	*exists = db_rows_count(rows) > 0;
	db_rows_free(rows);
	return 0;
}

int
db_set_timeouts(struct db *db, int lock_ms, int statement_ms, struct err *err)
{
	if (lock_ms < 0 || statement_ms < 0)
		return err_set(err, ERR_INVALID, "timeouts: must not be negative");
	return db->drv->set_timeouts(db, lock_ms, statement_ms, err);
}

void
db_cancel(struct db *db)
{
	atomic_store(&db->canceled, 1);
	db->drv->cancel(db);
}

void
db_cancel_clear(struct db *db)
{
	atomic_store(&db->canceled, 0);
}

bool
db_canceled(const struct db *db)
{
	return atomic_load(&((struct db *)db)->canceled) != 0;
}

int
db_try_lock(struct db *db, const char *name, bool *acquired, struct err *err)
{
	*acquired = false;
	return db->drv->try_lock(db, name, acquired, err);
}

void
db_unlock(struct db *db, const char *name)
{
	db->drv->unlock(db, name);
}

void
db_format_time_us(const struct db *db, int64_t epoch_us, char *buf, size_t size)
{
	time_t t = (time_t)(epoch_us / 1000000);
	int us = (int)(epoch_us % 1000000);
	char base[32];
	struct tm tm;

	if (us < 0) {
		us += 1000000;
		t -= 1;
	}
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
	if (us != 0)
		snprintf(buf, size, "%s.%06d%s", base, us, db->drv->time_suffix);
	else
		snprintf(buf, size, "%s%s", base, db->drv->time_suffix);
}

void
db_format_time(const struct db *db, int64_t epoch, char *buf, size_t size)
{
	db_format_time_us(db, epoch * 1000000, buf, size);
}

const char *
db_last_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

int
db_server_version(struct db *db)
{
	return db->drv->server_version(db);
}

void
db_set_notice_fn(struct db *db, db_notice_fn fn, void *ctx)
{
	db->notice = fn;
	db->notice_ctx = ctx;
}

void *
db_native(struct db *db)
{
	return db->drv->native(db);
}

const char *
db_target(const struct db *db)
{
	return db->target;
}

/* ---- rows ---- */

struct db_rows *
db_rows_new(int ncols)
{
	struct db_rows *rows = xcalloc(1, sizeof(*rows));

	rows->ncols = ncols;
	rows->colnames = xcalloc((size_t)(ncols > 0 ? ncols : 1), sizeof(char *));
	return rows;
}

void
db_rows_set_colname(struct db_rows *rows, int col, const char *name)
{
	free(rows->colnames[col]);
	rows->colnames[col] = xstrdup(name);
}

void
db_rows_add(struct db_rows *rows, const char *const *cells)
{
	size_t base;
	int i;

	if (rows->nrows == rows->cap) {
		rows->cap = rows->cap > 0 ? rows->cap * 2 : 16;
		rows->cells = xrealloc(
		        rows->cells, (size_t)rows->cap * (size_t)rows->ncols * sizeof(char *) + 1);
	}
	base = (size_t)rows->nrows * (size_t)rows->ncols;
	for (i = 0; i < rows->ncols; i++)
		rows->cells[base + (size_t)i] = xstrdup(cells[i]);
	rows->nrows++;
}

int
db_rows_count(const struct db_rows *rows)
{
	return rows->nrows;
}

int
db_rows_ncols(const struct db_rows *rows)
{
	return rows->ncols;
}

const char *
db_rows_colname(const struct db_rows *rows, int col)
{
	if (col < 0 || col >= rows->ncols || rows->colnames[col] == NULL)
		return "";
	return rows->colnames[col];
}

const char *
db_rows_get(const struct db_rows *rows, int row, int col)
{
	if (row < 0 || row >= rows->nrows || col < 0 || col >= rows->ncols)
		return NULL;
	return rows->cells[(size_t)row * (size_t)rows->ncols + (size_t)col];
}

void
db_rows_free(struct db_rows *rows)
{
	size_t i, n;
	int c;

	if (rows == NULL)
		return;
	n = (size_t)rows->nrows * (size_t)rows->ncols;
	for (i = 0; i < n; i++)
		free(rows->cells[i]);
	for (c = 0; c < rows->ncols; c++)
		free(rows->colnames[c]);
	free(rows->cells);
	free(rows->colnames);
	free(rows);
}

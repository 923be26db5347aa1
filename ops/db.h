/* SPDX-License-Identifier: MIT */
/*
 * db.h - the database driver interface of ops/: one API over PostgreSQL (libpq) and SQLite.
 *
 * Is: connect by URL, run statements with bound text parameters, fetch rows as text, quote
 * identifiers, transactions, timeouts, cancel from another thread, small catalog helpers.
 * Is not: an ORM or a query builder; SQL templates live in the op files as constants.
 *
 * Threads: a struct db is used by one thread at a time; only db_cancel() may be called from
 * another thread while a statement runs (PQcancel / sqlite3_interrupt).
 * Ownership: db_open returns a handle the caller frees with db_close; db_query returns rows the
 * caller frees with db_rows_free; db_quote_ident returns a heap string the caller frees.
 * Values are always bound (PQexecParams / sqlite3_bind_text), never formatted into SQL.
 * Errors: ERR_CONFIG for a bad URL, ERR_TRANSIENT for connection loss, lock or statement timeout
 * and cancellation, ERR_DB for anything else the server refused (its message verbatim).
 */
#ifndef JANITOR_DB_H
#define JANITOR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "err.h"

enum db_kind {
	DB_POSTGRES,
	DB_SQLITE,
};

struct db;
struct db_rows;

/* url: "postgresql://..." / "postgres://..." (anything libpq accepts) or "sqlite:///path". */
struct db *db_open(const char *url, struct err *err) MUSTCHECK;
void db_close(struct db *db);
enum db_kind db_kind(const struct db *db);
/* Database name without credentials ("app", or the SQLite file's base name): safe to log. */
const char *db_name(const struct db *db);

/* Run one statement; params are text (NULL = SQL NULL). *affected gets the row count if asked. */
int db_exec(struct db *db, const char *sql, int nparams, const char *const *params,
	    int64_t *affected, struct err *err) MUSTCHECK;
/* Run a query and return all rows as text. */
struct db_rows *db_query(struct db *db, const char *sql, int nparams, const char *const *params,
			 struct err *err) MUSTCHECK;
int db_rows_count(const struct db_rows *rows);
int db_rows_ncols(const struct db_rows *rows);
const char *db_rows_colname(const struct db_rows *rows, int col);
/* NULL for SQL NULL; valid until db_rows_free. */
const char *db_rows_get(const struct db_rows *rows, int row, int col);
void db_rows_free(struct db_rows *rows);

int db_begin(struct db *db, struct err *err) MUSTCHECK;
int db_commit(struct db *db, struct err *err) MUSTCHECK;
void db_rollback(struct db *db);

/* "name" quoted for this database (PQescapeIdentifier / SQLite %w). Caller frees. */
char *db_quote_ident(struct db *db, const char *name);
/* Does a table (or view) of that name exist in the default schema? */
int db_table_exists(struct db *db, const char *table, bool *exists, struct err *err) MUSTCHECK;
/* Session timeouts in milliseconds (0 = none): lock_timeout/statement_timeout on PostgreSQL,
 * busy_timeout (lock) and a progress-handler deadline (statement) on SQLite. */
int db_set_timeouts(struct db *db, int lock_ms, int statement_ms, struct err *err) MUSTCHECK;
/* Thread-safe: ask the running statement to stop. It then fails with ERR_TRANSIENT "canceled". */
void db_cancel(struct db *db);

#endif

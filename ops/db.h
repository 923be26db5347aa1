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

/* url: "postgresql://..." / "postgres://..." / a libpq "key=value" string (anything libpq
 * accepts), or "sqlite:///relative/path", "sqlite:////absolute/path", "sqlite://:memory:"
 * (Django's dj-database-url convention: the path is what follows "sqlite:///"). A SQLite file
 * must already exist unless DB_OPEN_CREATE is given. ERR_CONFIG for a bad URL or a missing
 * file, ERR_TRANSIENT when the server cannot be reached. */
struct db *db_open(const char *url, struct err *err) MUSTCHECK;

enum db_open_flag {
	DB_OPEN_CREATE = 1 << 0, /* SQLite: create the file when missing */
};
struct db *db_open_ex(const char *url, unsigned flags, struct err *err) MUSTCHECK;
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

/* Run several ';'-separated statements without parameters (DDL scripts, fixtures). */
int db_exec_script(struct db *db, const char *sql, struct err *err) MUSTCHECK;
bool db_in_transaction(const struct db *db);

/* "name" quoted for this database (PQescapeIdentifier / SQLite %w). Caller frees. */
char *db_quote_ident(struct db *db, const char *name);
/* Does a table (or view) of that name exist in the default schema? */
int db_table_exists(struct db *db, const char *table, bool *exists, struct err *err) MUSTCHECK;
/* Session timeouts in milliseconds (0 = none): lock_timeout/statement_timeout on PostgreSQL,
 * busy_timeout (lock) and a progress-handler deadline (statement) on SQLite. */
int db_set_timeouts(struct db *db, int lock_ms, int statement_ms, struct err *err) MUSTCHECK;
/* Thread-safe: ask the running statement to stop. It then fails with ERR_TRANSIENT "canceled".
 * The request is sticky: every later statement fails the same way until db_cancel_clear (so a
 * cancel that lands between two batches still stops the run). ops_run clears it on entry. */
void db_cancel(struct db *db);
void db_cancel_clear(struct db *db);
bool db_canceled(const struct db *db);

/* Cross-worker lock named `name` on this database, never waiting: PostgreSQL session advisory
 * lock (namespace 'JANI', key = hash of name; scoped to the database by the server), SQLite an
 * flock on "<file>.janitor-<name>.lock" beside the database (always granted for :memory:).
 * *acquired is false when someone else holds it. Released by db_unlock or db_close. */
int db_try_lock(struct db *db, const char *name, bool *acquired, struct err *err) MUSTCHECK;
void db_unlock(struct db *db, const char *name);

/* A UTC instant (seconds since the epoch) as the text parameter this database compares with
 * its Django datetime columns: "YYYY-MM-DD HH:MM:SS+00" (PostgreSQL, for $n::timestamptz) or
 * "YYYY-MM-DD HH:MM:SS" (SQLite, Django's text format). size >= DB_TIME_MAX. The _us form
 * takes microseconds and adds ".ffffff" when they are not zero, as Django writes them. */
#define DB_TIME_MAX 40
void db_format_time(const struct db *db, int64_t epoch, char *buf, size_t size);
void db_format_time_us(const struct db *db, int64_t epoch_us, char *buf, size_t size);

/* SQLSTATE of the last PostgreSQL error ("" when none or on SQLite). */
const char *db_last_sqlstate(const struct db *db);
/* Server version as an integer: PQserverVersion (150004) / sqlite3_libversion_number. */
int db_server_version(struct db *db);

/* PostgreSQL notices and warnings (VACUUM VERBOSE, "skipping ...") go to fn instead of stderr;
 * fn NULL drops them. severity is non-localized ("WARNING", "INFO"). SQLite has none. */
typedef void (*db_notice_fn)(void *ctx, const char *severity, const char *message);
void db_set_notice_fn(struct db *db, db_notice_fn fn, void *ctx);

#endif

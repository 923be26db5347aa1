/* SPDX-License-Identifier: MIT */
/*
 * db_int.h - what the two drivers (db_pg.c, db_sqlite.c) share with db.c, and the few native
 * escapes the operation files in ops/ may need (the backup API, pg_dump's connection string).
 * Never included outside ops/. Ownership as in db.h.
 */
#ifndef JANITOR_DB_INT_H
#define JANITOR_DB_INT_H

#include <stdatomic.h>

#include "db.h"

/* One driver: a const vtable chosen by URL scheme (style B7). */
struct db_driver {
	enum db_kind kind;
	/* target: the libpq connection string or the SQLite path. Fills db->impl and db->name. */
	int (*open)(struct db *db, const char *target, unsigned flags, struct err *err);
	void (*close)(struct db *db);
	int (*exec)(struct db *db, const char *sql, int nparams, const char *const *params,
	            int64_t *affected, struct err *err);
	struct db_rows *(*query)(struct db *db, const char *sql, int nparams,
	                         const char *const *params, struct err *err);
	int (*exec_script)(struct db *db, const char *sql, struct err *err);
	char *(*quote_ident)(struct db *db, const char *name);
	const char *table_exists_sql; /* $1 = name; returns one row when it exists */
	const char *begin_sql;        /* "BEGIN" / "BEGIN IMMEDIATE" */
	int (*set_timeouts)(struct db *db, int lock_ms, int statement_ms, struct err *err);
	void (*cancel)(struct db *db);
	int (*try_lock)(struct db *db, const char *name, bool *acquired, struct err *err);
	void (*unlock)(struct db *db, const char *name);
	const char *time_suffix; /* appended to "YYYY-MM-DD HH:MM:SS[.ffffff]" */
	int (*server_version)(struct db *db);
	void *(*native)(struct db *db); /* PGconn * / sqlite3 * */
};

struct db {
	const struct db_driver *drv;
	char *name;          /* owned: database name, safe to log */
	char *target;        /* owned: connection string or path (may hold a password) */
	void *impl;          /* owned by the driver */
	bool in_txn;         /* a db_begin is open */
	atomic_int canceled; /* set by db_cancel from any thread; sticky until cleared */
	char sqlstate[6];    /* SQLSTATE of the last PostgreSQL error, "" otherwise */
	db_notice_fn notice; /* may be NULL */
	void *notice_ctx;
};

extern const struct db_driver db_pg_driver;
extern const struct db_driver db_sqlite_driver;

/* Rows under construction: drivers append cells row by row. Cells are copied. */
struct db_rows *db_rows_new(int ncols);
void db_rows_set_colname(struct db_rows *rows, int col, const char *name);
/* Appends a row of ncols cells (NULL entries = SQL NULL). */
void db_rows_add(struct db_rows *rows, const char *const *cells);

/* Native escapes for operations that need the driver's own API. Borrowed, valid until
 * db_close. db_native: the PGconn * or sqlite3 * of the handle. db_target: the connection
 * string or file path; it may contain a password, so it must never reach argv or a log. */
void *db_native(struct db *db);
const char *db_target(const struct db *db);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * db_sqlite.c - the SQLite driver: one sqlite3 connection, statements prepared and stepped with
 * text parameters bound by name ($1, $2, ... as in the PostgreSQL templates) or position (?),
 * busy_timeout as the lock timeout, a progress-handler deadline as the statement timeout,
 * sqlite3_interrupt as cancel, and flock on a sidecar file as the cross-worker lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db_int.h"
#include "strbuf.h"
#include "xalloc.h"

#define MAX_LOCKS 16

struct held_lock {
	char *name; /* owned; NULL = free slot */
	int fd;
};

struct lite {
	sqlite3 *h;          /* owned */
	int statement_ms;    /* 0 = none */
	int64_t deadline_ms; /* monotonic deadline of the running statement, 0 = none */
	bool timed_out;      /* the progress handler stopped the statement */
	bool memory;         /* ":memory:": no sidecar lock files */
	struct held_lock locks[MAX_LOCKS];
};

static struct lite *
lite_of(struct db *db)
{
	return db->impl;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Called every few thousand VM steps: non-zero stops the statement with SQLITE_INTERRUPT. */
static int
progress(void *arg)
{
	struct lite *l = arg;

	if (l->deadline_ms != 0 && mono_ms() > l->deadline_ms) {
		l->timed_out = true;
		return 1;
	}
	return 0;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

static int
lite_open(struct db *db, const char *target, unsigned flags, struct err *err)
{
	struct lite *l = xcalloc(1, sizeof(*l));
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
	char *msg = NULL;
	int rc;

	if (flags & DB_OPEN_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(target, &l->h, oflags, NULL);
	if (rc != SQLITE_OK) {
		err_set(err, ERR_CONFIG, "sqlite %s: %s", target,
		        l->h != NULL ? sqlite3_errmsg(l->h) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(l->h, 1);
	sqlite3_busy_timeout(l->h, 5000);
	sqlite3_progress_handler(l->h, 1000, progress, l);
	/* Prove it is a database now (a text file opens fine and fails at the first read). */
	if (sqlite3_exec(l->h, "SELECT count(*) FROM sqlite_master; PRAGMA foreign_keys = ON", NULL,
	                 NULL, &msg) != SQLITE_OK) {
		err_set(err, ERR_CONFIG, "sqlite %s: %s", target, msg != NULL ? msg : "unreadable");
		goto fail;
	}
	l->memory = strcmp(target, ":memory:") == 0 || target[0] == '\0';
	db->name = xstrdup(base_name(target));
	db->impl = l;
	return 0;
fail:
	sqlite3_free(msg);
	sqlite3_close(l->h);
	free(l);
	return -1;
}

static void
lite_close(struct db *db)
{
	struct lite *l = db->impl;
	int i;

	if (l == NULL)
		return;
	for (i = 0; i < MAX_LOCKS; i++) {
		if (l->locks[i].name == NULL)
			continue;
		close(l->locks[i].fd);
		free(l->locks[i].name);
	}
	sqlite3_close(l->h);
	free(l);
	db->impl = NULL;
}

static int
lite_error(struct db *db, int rc, struct err *err)
{
	struct lite *l = lite_of(db);
	int prim = rc & 0xff;

	if (prim == SQLITE_INTERRUPT) {
		if (l->timed_out)
			return err_set(err, ERR_TRANSIENT,
			               "canceling statement due to statement timeout");
		return err_set(err, ERR_TRANSIENT, "canceled");
	}
	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		return err_set(err, ERR_TRANSIENT, "%s", sqlite3_errmsg(l->h));
	return err_set(err, ERR_DB, "%s", sqlite3_errmsg(l->h));
}

/* Binds params[i] to "$<i+1>" when the statement names it so, else to position i+1. */
static int
bind_all(sqlite3_stmt *st, int nparams, const char *const *params)
{
	char name[16];
	int i, idx, rc;

	for (i = 0; i < nparams; i++) {
		snprintf(name, sizeof(name), "$%d", i + 1);
		idx = sqlite3_bind_parameter_index(st, name);
		if (idx == 0)
			idx = i + 1;
		if (idx > sqlite3_bind_parameter_count(st))
			continue; /* a parameter the template does not use */
		if (params[i] == NULL)
			rc = sqlite3_bind_null(st, idx);
		else
			rc = sqlite3_bind_text(st, idx, params[i], -1, SQLITE_STATIC);
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

static void
arm_deadline(struct lite *l)
{
	l->timed_out = false;
	l->deadline_ms = l->statement_ms > 0 ? mono_ms() + l->statement_ms : 0;
}

static sqlite3_stmt *
prepare(struct db *db, const char *sql, int nparams, const char *const *params, struct err *err)
{
	struct lite *l = lite_of(db);
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(l->h, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = bind_all(st, nparams, params);
	if (rc != SQLITE_OK) {
		lite_error(db, rc, err);
		sqlite3_finalize(st);
		return NULL;
	}
	arm_deadline(l);
	return st;
}

static int
lite_exec(struct db *db, const char *sql, int nparams, const char *const *params, int64_t *affected,
          struct err *err)
{
	sqlite3_stmt *st = prepare(db, sql, nparams, params, err);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		continue;
	if (rc != SQLITE_DONE) {
		lite_error(db, rc, err);
		sqlite3_finalize(st);
		return -1;
	}
	if (affected != NULL)
		*affected = sqlite3_changes64(lite_of(db)->h);
	sqlite3_finalize(st);
	return 0;
}

static struct db_rows *
lite_query(struct db *db, const char *sql, int nparams, const char *const *params, struct err *err)
{
	sqlite3_stmt *st = prepare(db, sql, nparams, params, err);
	struct db_rows *rows = NULL;
	const char **cells = NULL;
	int c, ncols, rc;

	if (st == NULL)
		return NULL;
	ncols = sqlite3_column_count(st);
	rows = db_rows_new(ncols);
	cells = xcalloc((size_t)(ncols > 0 ? ncols : 1), sizeof(char *));
	for (c = 0; c < ncols; c++)
		db_rows_set_colname(rows, c, sqlite3_column_name(st, c));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (c = 0; c < ncols; c++)
			cells[c] = (const char *)sqlite3_column_text(st, c);
		db_rows_add(rows, cells);
	}
	if (rc != SQLITE_DONE) {
		lite_error(db, rc, err);
		db_rows_free(rows);
		rows = NULL;
	}
	free(cells);
	sqlite3_finalize(st);
	return rows;
}

static int
lite_exec_script(struct db *db, const char *sql, struct err *err)
{
	struct lite *l = lite_of(db);
	char *msg = NULL;
	int rc;

	arm_deadline(l);
	rc = sqlite3_exec(l->h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_INTERRUPT || msg == NULL)
			lite_error(db, rc, err);
		else
			err_set(err, ERR_DB, "%s", msg);
	}
	sqlite3_free(msg);
	return rc == SQLITE_OK ? 0 : -1;
}

static char *
lite_quote_ident(struct db *db UNUSED, const char *name)
{
	/* %w doubles embedded double quotes: the identifier quoting SQLite's own code uses. */
	char *q = sqlite3_mprintf("\"%w\"", name);
	char *out = xstrdup(q);

	sqlite3_free(q);
	return out;
}

static int
lite_set_timeouts(struct db *db, int lock_ms, int statement_ms, struct err *err UNUSED)
{
	struct lite *l = lite_of(db);

	sqlite3_busy_timeout(l->h, lock_ms);
	l->statement_ms = statement_ms;
	return 0;
}

static void
lite_cancel(struct db *db)
{
	struct lite *l = db->impl;

	if (l != NULL)
		sqlite3_interrupt(l->h);
}

static int
free_slot(struct lite *l)
{
	int i;

	for (i = 0; i < MAX_LOCKS; i++)
		if (l->locks[i].name == NULL)
			return i;
	return -1;
}

static int
lite_try_lock(struct db *db, const char *name, bool *acquired, struct err *err)
{
	struct lite *l = lite_of(db);
	struct strbuf path;
	int slot, fd = -1, rc = -1;

	sb_init(&path);
	if (l->memory) {
		*acquired = true;
		rc = 0;
		goto out;
	}
	slot = free_slot(l);
	if (slot < 0) {
		err_set(err, ERR_BUG, "lock %s: too many locks held", name);
		goto out;
	}
	sb_addf(&path, "%s.janitor-%s.lock", db->target, name);
	fd = open(path.buf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_sys(err, ERR_CONFIG, "lock file %s", path.buf);
		goto out;
	}
	/* flock locks belong to the open file description, so even two handles in one process
	 * exclude each other; the kernel drops the lock when the process dies. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			err_sys(err, ERR_CONFIG, "lock file %s", path.buf);
			goto out;
		}
		*acquired = false;
		rc = 0;
		goto out;
	}
	l->locks[slot].name = xstrdup(name);
	l->locks[slot].fd = fd;
	fd = -1;
	*acquired = true;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	sb_cleanup(&path);
	return rc;
}

static void
lite_unlock(struct db *db, const char *name)
{
	struct lite *l = lite_of(db);
	int i;

	/* The file stays: unlinking it would let a third worker lock a fresh inode while the
	 * second still waits on the old one. */
	for (i = 0; i < MAX_LOCKS; i++) {
		if (l->locks[i].name == NULL || strcmp(l->locks[i].name, name) != 0)
			continue;
		close(l->locks[i].fd);
		free(l->locks[i].name);
		l->locks[i].name = NULL;
		return;
	}
}

static int
lite_server_version(struct db *db UNUSED)
{
	return sqlite3_libversion_number();
}

static void *
lite_native(struct db *db)
{
	return lite_of(db)->h;
}

const struct db_driver db_sqlite_driver = {
	.kind = DB_SQLITE,
	.open = lite_open,
	.close = lite_close,
	.exec = lite_exec,
	.query = lite_query,
	.exec_script = lite_exec_script,
	.quote_ident = lite_quote_ident,
	.table_exists_sql = "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') "
	                    "AND name = $1",
	.begin_sql = "BEGIN IMMEDIATE",
	.set_timeouts = lite_set_timeouts,
	.cancel = lite_cancel,
	.try_lock = lite_try_lock,
	.unlock = lite_unlock,
	.time_suffix = "",
	.server_version = lite_server_version,
	.native = lite_native,
};

/* SPDX-License-Identifier: MIT */
/*
 * db_pg.c - the PostgreSQL driver (libpq): one connection in autocommit, statements through
 * PQexecParams with text parameters, errors classified by SQLSTATE (never by message text,
 * which follows lc_messages), cancel through a PGcancel object made once at connect.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db_int.h"
#include "xalloc.h"

/* Namespace of our advisory locks: 'JANI' as a 32-bit integer. */
#define LOCK_NAMESPACE "1245794889"

struct pg {
	PGconn *conn;     /* owned */
	PGcancel *cancel; /* owned; PQcancel on it is thread-safe */
};

static PGconn *
conn_of(struct db *db)
{
	return ((struct pg *)db->impl)->conn;
}

/* Copies msg into err on one line: libpq messages end in "\n" and may span lines. */
static int
set_one_line(struct err *err, enum err_class cls, const char *prefix, const char *msg)
{
	char line[ERR_MSG_MAX];
	size_t i, n = 0;

	for (i = 0; msg != NULL && msg[i] != '\0' && n + 2 < sizeof(line); i++) {
		if (msg[i] == '\n') {
			if (msg[i + 1] == '\0')
				break;
			line[n++] = ';';
			line[n++] = ' ';
			continue;
		}
		line[n++] = msg[i];
	}
	line[n] = '\0';
	return err_set(err, cls, "%s%s", prefix, line);
}

static void
notice_receiver(void *arg, const PGresult *res)
{
	struct db *db = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (db->notice != NULL)
		db->notice(db->notice_ctx, sev != NULL ? sev : "NOTICE", msg != NULL ? msg : "");
}

static int
pg_open(struct db *db, const char *target, unsigned flags UNUSED, struct err *err)
{
	static const char *const keys[] = { "dbname", "fallback_application_name",
		                            "connect_timeout", NULL };
	const char *vals[] = { target, "janitor", "10", NULL };
	struct pg *pg = xcalloc(1, sizeof(*pg));
	int rc = -1;

	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (pg->conn == NULL) {
		err_set(err, ERR_TRANSIENT, "postgresql: cannot allocate a connection");
		goto fail;
	}
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		/* libpq's message names the host and the reason; it never contains the password. */
		set_one_line(err, ERR_TRANSIENT, "postgresql: ", PQerrorMessage(pg->conn));
		goto fail;
	}
	pg->cancel = PQgetCancel(pg->conn);
	PQsetNoticeReceiver(pg->conn, notice_receiver, db);
	db->name = xstrdup(PQdb(pg->conn));
	db->impl = pg;
	rc = 0;
	return rc;
fail:
	PQfinish(pg->conn);
	free(pg);
	return rc;
}

static void
pg_close(struct db *db)
{
	struct pg *pg = db->impl;

	if (pg == NULL)
		return;
	PQfreeCancel(pg->cancel);
	PQfinish(pg->conn);
	free(pg);
	db->impl = NULL;
}

static bool
transient_state(const char *st)
{
	static const char *const states[] = {
		"55P03", "57014", "40001", "40P01", "57P01", "57P03"
	};
	size_t i;

	if (strncmp(st, "08", 2) == 0)
		return true;
	for (i = 0; i < ARRAY_LEN(states); i++)
		if (strcmp(st, states[i]) == 0)
			return true;
	return false;
}

/* Classifies a failed result (or a NULL one) and records the SQLSTATE. */
static int
result_error(struct db *db, const PGresult *res, struct err *err)
{
	PGconn *conn = conn_of(db);
	const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (st != NULL)
		snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", st);
	if (PQstatus(conn) != CONNECTION_OK)
		return set_one_line(err, ERR_TRANSIENT, "connection lost: ", PQerrorMessage(conn));
	if (msg == NULL)
		return set_one_line(err, ERR_DB, "", PQerrorMessage(conn));
	if (st != NULL && strcmp(st, "57014") == 0 && atomic_load(&db->canceled))
		return err_set(err, ERR_TRANSIENT, "canceled");
	if (st != NULL && transient_state(st))
		return err_set(err, ERR_TRANSIENT, "%s", msg);
	return err_set(err, ERR_DB, "%s", msg);
}

static PGresult *
run(struct db *db, const char *sql, int nparams, const char *const *params, struct err *err)
{
	PGresult *res = PQexecParams(conn_of(db), sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	result_error(db, res, err);
	PQclear(res);
	return NULL;
}

static int
pg_exec(struct db *db, const char *sql, int nparams, const char *const *params, int64_t *affected,
        struct err *err)
{
	PGresult *res = run(db, sql, nparams, params, err);

	if (res == NULL)
		return -1;
	if (affected != NULL)
		*affected = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

static struct db_rows *
pg_query(struct db *db, const char *sql, int nparams, const char *const *params, struct err *err)
{
	PGresult *res = run(db, sql, nparams, params, err);
	struct db_rows *rows;
	const char **cells;
	int r, c, ncols;

	if (res == NULL)
		return NULL;
	ncols = PQnfields(res);
	rows = db_rows_new(ncols);
	cells = xcalloc((size_t)(ncols > 0 ? ncols : 1), sizeof(char *));
	for (c = 0; c < ncols; c++)
		db_rows_set_colname(rows, c, PQfname(res, c));
	for (r = 0; r < PQntuples(res); r++) {
		for (c = 0; c < ncols; c++)
			cells[c] = PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
		db_rows_add(rows, cells);
	}
	free(cells);
	PQclear(res);
	return rows;
}

static int
pg_exec_script(struct db *db, const char *sql, struct err *err)
{
	PGresult *res = PQexec(conn_of(db), sql);
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
		rc = result_error(db, res, err);
	PQclear(res);
	return rc;
}

static char *
pg_quote_ident(struct db *db, const char *name)
{
	char *q = PQescapeIdentifier(conn_of(db), name, strlen(name));
	char *out;

	if (q == NULL)
		return NULL; /* invalid encoding: callers treat NULL as "cannot name it" */
	out = xstrdup(q);
	PQfreemem(q);
	return out;
}

static int
pg_set_timeouts(struct db *db, int lock_ms, int statement_ms, struct err *err)
{
	char lock[16], stmt[16];
	const char *params[2] = { lock, stmt };

	snprintf(lock, sizeof(lock), "%d", lock_ms);
	snprintf(stmt, sizeof(stmt), "%d", statement_ms);
	return pg_exec(db,
	               "SELECT set_config('lock_timeout', $1, false), "
	               "set_config('statement_timeout', $2, false)",
	               2, params, NULL, err);
}

static void
pg_cancel(struct db *db)
{
	struct pg *pg = db->impl;
	char buf[256];

	if (pg == NULL || pg->cancel == NULL)
		return;
	/* A failed cancel only means the statement runs on; the sticky flag still stops the run
	 * at its next statement. */
	if (!PQcancel(pg->cancel, buf, sizeof(buf)))
		return;
}

/* 32-bit FNV-1a of the lock name, as a signed decimal for $2::int. */
static void
lock_key(const char *name, char *buf, size_t size)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	snprintf(buf, size, "%d", (int)(int32_t)h);
}

static int
pg_try_lock(struct db *db, const char *name, bool *acquired, struct err *err)
{
	char key[16];
	const char *params[2] = { LOCK_NAMESPACE, key };
	PGresult *res;

	lock_key(name, key, sizeof(key));
	res = run(db, "SELECT pg_try_advisory_lock($1::int, $2::int)", 2, params, err);
	if (res == NULL)
		return -1;
	*acquired = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

static void
pg_unlock(struct db *db, const char *name)
{
	char key[16];
	const char *params[2] = { LOCK_NAMESPACE, key };
	struct err ignored;

	lock_key(name, key, sizeof(key));
	/* A lost connection released the lock already; nothing else can fail usefully. */
	if (pg_exec(db, "SELECT pg_advisory_unlock($1::int, $2::int)", 2, params, NULL, &ignored) <
	    0)
		return;
}

static int
pg_server_version(struct db *db)
{
	return PQserverVersion(conn_of(db));
}

static void *
pg_native(struct db *db)
{
	return conn_of(db);
}

const struct db_driver db_pg_driver = {
	.kind = DB_POSTGRES,
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.query = pg_query,
	.exec_script = pg_exec_script,
	.quote_ident = pg_quote_ident,
	.table_exists_sql = "SELECT 1 FROM pg_catalog.pg_class c "
	                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	                    "WHERE c.relname = $1 AND n.nspname = ANY (current_schemas(false)) "
	                    "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
	.begin_sql = "BEGIN",
	.set_timeouts = pg_set_timeouts,
	.cancel = pg_cancel,
	.try_lock = pg_try_lock,
	.unlock = pg_unlock,
	.time_suffix = "+00",
	.server_version = pg_server_version,
	.native = pg_native,
};

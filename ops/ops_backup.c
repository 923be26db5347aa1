/* SPDX-License-Identifier: MIT */
/*
 * ops_backup.c - the backup operation. PostgreSQL: `pg_dump -Fc` into the backup directory;
 * SQLite: the online backup API into the same kind of file. Both write a temporary file
 * created 0600 in the target directory, verify it, fsync it, link it to its final name
 * (never overwriting), fsync the directory, then remove backups beyond the retention count.
 * The password reaches pg_dump only through the child's environment, never argv; a missing or
 * failing pg_dump fails the operation with pg_dump's own words and leaves no file behind.
 * Is not: restore, remote storage, encryption, killing pg_dump on revoke (worker/ does that).
 */
#include "config.h"

#include "ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "clock.h"
#include "db_int.h"
#include "ops_int.h"
#include "strbuf.h"
#include "xalloc.h"

extern char **environ;

enum {
	CHILD_OUTPUT_MAX = 1 << 20, /* bytes of pg_dump/pg_restore output kept */
	LITE_STEP_PAGES = 256,      /* pages per sqlite3_backup_step */
	LITE_MAX_RESTARTS = 3,      /* then copy in one step holding the read lock */
	LITE_BUSY_TRIES = 2000,     /* x 5 ms sleeps while the source is locked */
};

static const char pg_ext[] = ".dump";
static const char lite_ext[] = ".sqlite3";
static const char sql_lite_quick_check[] = "PRAGMA quick_check";
static const char sql_lite_count_tables[] =
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table'";

/* libpq connection options handed to pg_dump as environment variables. */
static const struct {
	const char *keyword, *env;
} pg_env_map[] = {
	{ "host", "PGHOST" },
	{ "hostaddr", "PGHOSTADDR" },
	{ "port", "PGPORT" },
	{ "user", "PGUSER" },
	{ "password", "PGPASSWORD" },
	{ "passfile", "PGPASSFILE" },
	{ "dbname", "PGDATABASE" },
	{ "sslmode", "PGSSLMODE" },
	{ "sslcert", "PGSSLCERT" },
	{ "sslkey", "PGSSLKEY" },
	{ "sslrootcert", "PGSSLROOTCERT" },
	{ "connect_timeout", "PGCONNECT_TIMEOUT" },
	{ "service", "PGSERVICE" },
};

/* Where this run writes: all owned. */
struct backup_paths {
	char *dir;    /* the backup directory */
	char *prefix; /* "<db>-": every backup of this database starts so */
	const char *ext;
	char *final; /* <dir>/<db>-<yyyymmddThhmmssZ><ext> */
	char *tmp;   /* <dir>/.<db>-<stamp><ext>.partial-<pid> */
};

static void
paths_cleanup(struct backup_paths *p)
{
	free(p->dir);
	free(p->prefix);
	free(p->final);
	free(p->tmp);
}

/* The database name made safe for a file name; SQLite's file extension dropped. */
static char *
file_stem(struct db *db)
{
	char *s = xstrdup(db_name(db)), *dot, *c;

	if (db_kind(db) == DB_SQLITE && (dot = strrchr(s, '.')) != NULL && dot != s)
		*dot = '\0';
	for (c = s; *c != '\0'; c++)
		if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
		    !(*c >= '0' && *c <= '9') && *c != '_' && *c != '-')
			*c = '_';
	return s;
}

static void
paths_init(struct backup_paths *p, struct db *db, const struct ops_options *opt)
{
	time_t now = opt->now_override != 0 ? (time_t)opt->now_override : time(NULL);
	char stamp[32];
	struct tm tm;
	char *stem = file_stem(db);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	p->dir = xstrdup(opt->backup_dir != NULL ? opt->backup_dir : "/var/backups/janitor");
	p->ext = db_kind(db) == DB_SQLITE ? lite_ext : pg_ext;
	p->prefix = xasprintf("%s-", stem);
	p->final = xasprintf("%s/%s%s%s", p->dir, p->prefix, stamp, p->ext);
	p->tmp = xasprintf("%s/.%s%s%s.partial-%ld", p->dir, p->prefix, stamp, p->ext,
	                   (long)getpid());
	free(stem);
}

static int
ensure_dir(const char *dir, struct err *err)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return err_set(err, ERR_CONFIG, "backup: %s is not a directory", dir);
	}
	return err_sys(err, ERR_CONFIG, "backup: cannot create directory %s", dir);
}

/* Create the temporary file ourselves, 0600, so whatever writes it keeps that mode. */
static int
create_tmp(const char *path, struct err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_sys(err, ERR_CONFIG, "backup: cannot create %s", path);
	close(fd);
	return 0;
}

static int
fsync_path(const char *path, int flags, struct err *err)
{
	int fd = open(path, flags | O_CLOEXEC), rc;

	if (fd < 0)
		return err_sys(err, ERR_TRANSIENT, "backup: cannot open %s", path);
	rc = fsync(fd);
	close(fd);
	if (rc < 0)
		return err_sys(err, ERR_TRANSIENT, "backup: fsync %s", path);
	return 0;
}

/* fsync the file, give it its final name without ever replacing a file, fsync the directory. */
static int
publish(const struct backup_paths *p, struct err *err)
{
	if (fsync_path(p->tmp, O_RDONLY, err) < 0)
		return -1;
	if (link(p->tmp, p->final) < 0)
		return err_sys(err, ERR_CONFIG, "backup: cannot create %s", p->final);
	if (unlink(p->tmp) < 0)
		return err_sys(err, ERR_TRANSIENT, "backup: cannot remove %s", p->tmp);
	return fsync_path(p->dir, O_RDONLY | O_DIRECTORY, err);
}

/* ---- child processes (pg_dump, pg_restore) ---- */

/* environ without the variables we set, then ours from the live connection's options.
 * The password exists only in this array, which goes to posix_spawn and nowhere else. */
static char **
pg_child_env(struct db *db)
{
	PQconninfoOption *opts = PQconninfo(db_native(db)), *o;
	size_t n = 0, i, k, cap;
	char **env;

	for (i = 0; environ[i] != NULL; i++)
		n++;
	cap = n + ARRAY_LEN(pg_env_map) + 2;
	env = xcalloc(cap, sizeof *env);
	n = 0;
	for (i = 0; environ[i] != NULL; i++) {
		bool ours = false;

		for (k = 0; k < ARRAY_LEN(pg_env_map); k++) {
			size_t len = strlen(pg_env_map[k].env);

			if (strncmp(environ[i], pg_env_map[k].env, len) == 0 &&
			    environ[i][len] == '=')
				ours = true;
		}
		if (!ours)
			env[n++] = xstrdup(environ[i]);
	}
	for (o = opts; o != NULL && o->keyword != NULL; o++)
		for (k = 0; k < ARRAY_LEN(pg_env_map); k++)
			if (o->val != NULL && o->val[0] != '\0' &&
			    strcmp(o->keyword, pg_env_map[k].keyword) == 0)
				env[n++] = xasprintf("%s=%s", pg_env_map[k].env, o->val);
	PQconninfoFree(opts);
	return env;
}

static void
env_free(char **env)
{
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		explicit_bzero(env[i], strlen(env[i]));
		free(env[i]);
	}
	free(env);
}

static void
read_all(int fd, struct strbuf *out)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (out->len < CHILD_OUTPUT_MAX)
			sb_add(out, buf, (size_t)r);
	}
}

/* Run argv (PATH searched) with envp, stdout and stderr into out. *status = exit status.
 * Fails only when the program cannot be started (ERR_CONFIG, e.g. not installed). */
static int
run_child(char *const argv[], char *const envp[], struct strbuf *out, int *status, struct err *err)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], rc, wst;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_sys(err, ERR_TRANSIENT, "backup: pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		errno = rc;
		return err_sys(err, ERR_CONFIG,
		               "backup: cannot run %s (install postgresql-client or set the "
		               "pg_dump path)",
		               argv[0]);
	}
	read_all(pfd[0], out);
	close(pfd[0]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	*status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	return 0;
}

static void
trim(struct strbuf *sb)
{
	while (sb->len > 0 && (sb->buf[sb->len - 1] == '\n' || sb->buf[sb->len - 1] == ' '))
		sb->buf[--sb->len] = '\0';
}

/* pg_restore beside an explicitly configured pg_dump, else from PATH. Caller frees. */
static char *
pg_restore_path(const char *pg_dump)
{
	const char *slash = strrchr(pg_dump, '/');

	if (slash == NULL)
		return xstrdup("pg_restore");
	return xasprintf("%.*s/pg_restore", (int)(slash - pg_dump), pg_dump);
}

static int
pg_dump_to(struct db *db, const struct ops_options *opt, const char *pg_dump, const char *tmp,
           struct err *err)
{
	char lockw[48], fmt[] = "--format=custom", nopw[] = "--no-password", file[] = "--file";
	char *argv[] = { (char *)pg_dump, fmt, nopw, lockw, file, (char *)tmp, NULL };
	char **env = pg_child_env(db);
	struct strbuf out;
	int status = 0, rc = -1;

	sb_init(&out);
	snprintf(lockw, sizeof lockw, "--lock-wait-timeout=%dms",
	         opt->lock_timeout_ms > 0 ? opt->lock_timeout_ms : 30000);
	if (run_child(argv, env, &out, &status, err) < 0)
		goto out;
	trim(&out);
	if (status != 0) {
		err_set(err, ERR_DB, "%s", out.len > 0 ? out.buf : "pg_dump failed");
		goto out;
	}
	rc = 0;
out:
	env_free(env);
	sb_cleanup(&out);
	return rc;
}

/* From `pg_restore --list`: TABLE DATA entries and the two version lines of the header. */
static void
toc_summary(char *toc, cJSON *v)
{
	char *line = toc, *nl, *colon;
	int ndata = 0;

	for (; line != NULL && *line != '\0'; line = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		colon = strchr(line, ':');
		if (strstr(line, " TABLE DATA ") != NULL)
			ndata++;
		else if (strstr(line, "Dumped from database version") != NULL && colon != NULL)
			ops_add_str(v, "dumped_from", colon + 2);
		else if (strstr(line, "Dumped by pg_dump version") != NULL && colon != NULL)
			ops_add_str(v, "dumped_by", colon + 2);
	}
	ops_add_num(v, "tables_with_data", ndata);
}

/* Steps: `pg_restore --list` reads the table of contents (one TABLE DATA line per table,
 * the versions in the header); `pg_restore -f /dev/null` then reads and decompresses every
 * data block, which catches a truncated file that --list alone accepts. */
static int
pg_verify(const char *pg_dump, const char *tmp, cJSON *v, struct err *err)
{
	char *restore = pg_restore_path(pg_dump);
	char list[] = "--list", devnull[] = "--file=/dev/null";
	char *list_argv[] = { restore, list, (char *)tmp, NULL };
	char *read_argv[] = { restore, devnull, (char *)tmp, NULL };
	struct strbuf out;
	int status = 0, rc = -1;

	sb_init(&out);
	if (run_child(list_argv, environ, &out, &status, err) < 0)
		goto out;
	if (status != 0) {
		trim(&out);
		err_set(err, ERR_DB, "backup verification failed: %s", out.buf);
		goto out;
	}
	toc_summary(out.buf, v);
	sb_reset(&out);
	if (run_child(read_argv, environ, &out, &status, err) < 0)
		goto out;
	if (status != 0) {
		trim(&out);
		err_set(err, ERR_DB, "backup verification failed: %s", out.buf);
		goto out;
	}
	ops_add_str(v, "method", "pg_restore --list and a full read");
	rc = 0;
out:
	free(restore);
	sb_cleanup(&out);
	return rc;
}

static int
pg_backup(struct ops_ctx *ctx, const struct backup_paths *p, cJSON *v, struct err *err)
{
	const char *pg_dump = ctx->opt->pg_dump != NULL ? ctx->opt->pg_dump : "pg_dump";

	ops_progress(ctx, 0, 2, "pg_dump");
	if (pg_dump_to(ctx->db, ctx->opt, pg_dump, p->tmp, err) < 0)
		return -1;
	ops_progress(ctx, 1, 2, "pg_restore verification");
	return pg_verify(pg_dump, p->tmp, v, err);
}

/* ---- SQLite: the online backup API ---- */

static int
lite_err(sqlite3 *h, const char *what, struct err *err)
{
	return err_set(err, ERR_DB, "backup: %s: %s", what,
	               h != NULL ? sqlite3_errmsg(h) : "out of memory");
}

/* Step through the copy; a write by another connection restarts it, so after
 * LITE_MAX_RESTARTS restarts copy the rest in one step (holding the read lock). */
static int
lite_copy(struct ops_ctx *ctx, sqlite3 *src, sqlite3 *dst, struct err *err)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc, restarts = 0, busy = 0, last_remaining = -1, step = LITE_STEP_PAGES;

	if (b == NULL)
		return lite_err(dst, "backup_init", err);
	do {
		rc = sqlite3_backup_step(b, step);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			if (++busy > LITE_BUSY_TRIES)
				break;
			sqlite3_sleep(5);
			continue;
		}
		if (last_remaining >= 0 && sqlite3_backup_remaining(b) > last_remaining &&
		    ++restarts >= LITE_MAX_RESTARTS)
			step = -1;
		last_remaining = sqlite3_backup_remaining(b);
		ops_progress(ctx, sqlite3_backup_pagecount(b) - last_remaining,
		             sqlite3_backup_pagecount(b), "sqlite backup");
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	/* finish returns the same code the last step did; dst's error code is checked below. */
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return err_set(err,
		               rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? ERR_TRANSIENT : ERR_DB,
		               "backup: copy failed: %s", sqlite3_errstr(rc));
	if (sqlite3_errcode(dst) != SQLITE_OK && sqlite3_errcode(dst) != SQLITE_DONE)
		return lite_err(dst, "copy", err);
	return 0;
}

/* Open the copy read-only: quick_check must say ok; count its tables. */
static int
lite_verify(const char *path, cJSON *v, struct err *err)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		lite_err(h, "open the copy", err);
		goto out;
	}
	if (sqlite3_prepare_v2(h, sql_lite_quick_check, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		lite_err(h, "quick_check", err);
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		err_set(err, ERR_DB, "backup verification failed: quick_check: %s",
		        (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(h, sql_lite_count_tables, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		lite_err(h, "count tables", err);
		goto out;
	}
	ops_add_num(v, "tables", sqlite3_column_int(st, 0));
	ops_add_str(v, "method", "PRAGMA quick_check on the copy");
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}

static int
lite_backup(struct ops_ctx *ctx, const struct backup_paths *p, cJSON *v, struct err *err)
{
	sqlite3 *dst = NULL;
	int rc = -1;

	if (sqlite3_open_v2(p->tmp, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		lite_err(dst, "open the temporary file", err);
		goto out;
	}
	if (lite_copy(ctx, db_native(ctx->db), dst, err) < 0)
		goto out;
	if (sqlite3_close(dst) != SQLITE_OK) {
		lite_err(dst, "close the copy", err);
		goto out;
	}
	dst = NULL;
	rc = lite_verify(p->tmp, v, err);
out:
	sqlite3_close(dst);
	return rc;
}

/* ---- retention ---- */

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is name "<prefix><yyyymmddThhmmssZ><ext>", a finished backup of this database? */
static bool
is_backup_name(const struct backup_paths *p, const char *name)
{
	size_t lp = strlen(p->prefix), le = strlen(p->ext), ln = strlen(name);
	const size_t lstamp = 16;

	return ln == lp + lstamp + le && strncmp(name, p->prefix, lp) == 0 &&
	       strcmp(name + lp + lstamp, p->ext) == 0 && name[lp + 8] == 'T' &&
	       name[lp + 15] == 'Z';
}

/* Keep the newest `keep` backups (names sort by time), never fewer than one. */
static int
rotate(const struct backup_paths *p, int keep, cJSON *deleted, struct err *err)
{
	DIR *d = opendir(p->dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int rc = -1;

	if (d == NULL)
		return err_sys(err, ERR_TRANSIENT, "backup: cannot list %s", p->dir);
	while ((de = readdir(d)) != NULL) {
		if (!is_backup_name(p, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(de->d_name);
	}
	qsort(names, n, sizeof *names, cmp_names);
	if (keep < 1)
		keep = 1;
	for (i = 0; i + (size_t)keep < n; i++) {
		char *path = xasprintf("%s/%s", p->dir, names[i]);
		int r = unlink(path);

		free(path);
		if (r < 0 && errno != ENOENT) {
			err_sys(err, ERR_TRANSIENT, "backup: cannot remove old backup %s",
			        names[i]);
			goto out;
		}
		cJSON_AddItemToArray(deleted, cJSON_CreateString(names[i]));
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

/* ---- the operation ---- */

static cJSON *
dry_run_result(const struct ops_ctx *ctx, const struct backup_paths *p)
{
	cJSON *res = ops_result_new("backup");
	char *msg = xasprintf("dry run: would write %s; nothing written", p->final);

	ops_add_str(res, "message", msg);
	free(msg);
	ops_add_str(res, "path", p->final);
	if (db_kind(ctx->db) == DB_POSTGRES)
		ops_add_str(res, "pg_dump",
		            ctx->opt->pg_dump != NULL ? ctx->opt->pg_dump : "pg_dump (PATH)");
	ops_add_num(res, "keep", ctx->opt->backup_keep);
	return res;
}

static cJSON *
done_result(const struct ops_ctx *ctx, const struct backup_paths *p, cJSON *v, double t0)
{
	cJSON *res = ops_result_new("backup");
	struct stat st;
	char *msg = xasprintf("Backup written to %s and verified", p->final);

	ops_add_str(res, "message", msg);
	free(msg);
	ops_add_str(res, "path", p->final);
	if (stat(p->final, &st) == 0)
		ops_add_num(res, "bytes", (double)st.st_size);
	ops_add_str(res, "format",
	            db_kind(ctx->db) == DB_POSTGRES ? "pg_dump custom" : "sqlite backup API");
	ops_add_num(res, "duration_seconds", clock_mono() - t0);
	cJSON_AddItemToObject(res, "verified", v);
	return res;
}

/* Steps: 1. paths; 2. dry-run stops here; 3. temp file 0600; 4. dump/copy; 5. verify;
 * 6. publish under the final name; 7. rotate. Any failure before 6 removes the temp file. */
static cJSON *
run(struct ops_ctx *ctx, struct err *err)
{
	struct backup_paths p = { 0 };
	cJSON *res = NULL, *v = cJSON_CreateObject(), *deleted = cJSON_CreateArray(), *rot;
	double t0 = clock_mono();
	bool tmp_made = false;

	paths_init(&p, ctx->db, ctx->opt);
	if (ctx->opt->dry_run) {
		res = dry_run_result(ctx, &p);
		goto out;
	}
	if (ensure_dir(p.dir, err) < 0 || create_tmp(p.tmp, err) < 0)
		goto out;
	tmp_made = true;
	if ((db_kind(ctx->db) == DB_POSTGRES ? pg_backup(ctx, &p, v, err)
	                                     : lite_backup(ctx, &p, v, err)) < 0)
		goto out;
	if (publish(&p, err) < 0)
		goto out;
	tmp_made = false;
	if (rotate(&p, ctx->opt->backup_keep, deleted, err) < 0)
		goto out;
	res = done_result(ctx, &p, v, t0);
	v = NULL;
	rot = cJSON_CreateObject();
	ops_add_num(rot, "keep", ctx->opt->backup_keep);
	cJSON_AddItemToObject(rot, "deleted", deleted);
	deleted = NULL;
	cJSON_AddItemToObject(res, "rotation", rot);
out:
	if (tmp_made)
		unlink(p.tmp);
	cJSON_Delete(v);
	cJSON_Delete(deleted);
	paths_cleanup(&p);
	return res;
}

const struct ops_entry ops_backup_entry = {
	.name = "backup",
	.title = "Create database backup",
	.flags = OPS_WRITES | OPS_NO_TXN | OPS_LONG,
	.run = run,
};

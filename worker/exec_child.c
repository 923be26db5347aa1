/* SPDX-License-Identifier: MIT */
/*
 * exec_child.c - maintenance work runs in a child process, one per task.
 *
 * Why a child per maintenance task (and threads for the pool): an executor is a thread so the
 * main loop keeps consuming, timing ETAs and restoring while a 30-minute VACUUM runs, and so
 * cheap tasks (celery.accumulate) cost no process. The database work itself runs in a child
 * for that one task: a crash in a driver or an operation kills only the child (the thread sees
 * the signal and stores WorkerLostError, or restores the message with acks_late), and a hard
 * time limit is a real SIGKILL that cannot leave a half-stopped thread behind.
 * Rejected: a prefork pool of long-lived children (as Celery does) - more code for the same
 * isolation, and a child per maintenance task costs a few ms against operations of seconds.
 * Tried and rejected: a plain fork() from the executor thread. The worker is multi-threaded,
 * and a forked child that allocates can inherit an allocator lock held by another thread at
 * the moment of the fork; under AddressSanitizer that hung children for real. So the child is
 * a fresh image: posix_spawn of /proc/self/exe with the hidden command "__exec-child", which
 * allocates nothing between fork and exec.
 *
 * Parent -> child: the job as one JSON document on the child's stdin (the database URL is a
 * secret and never appears on an argv). Child -> parent, on its stdout, one line each:
 * "B <pid>" the PostgreSQL backend serving it; "P <done> <total>" progress; "R <nfailed>
 * <json>" result; "E <class> <message>" error; "S" the soft time limit cancelled the work.
 *
 * A child killed by the hard time limit or by a crash leaves its PostgreSQL backend behind,
 * still running the statement (or waiting on a lock) and holding the operation's advisory
 * lock: the server only notices a dead client when it next talks to it. So the parent, which
 * knows the backend pid from the "B" line, terminates that backend and waits for it to go
 * before the task is classified, requeued or retried: a time limit stops the work on the
 * server too, and a redelivered task finds the lock free.
 */
#include "config.h"

#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "db.h"
#include "exec_int.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

extern char **environ;

#define JOB_MAX (1024 * 1024) /* bytes of job JSON the child accepts */

int
exec_job_options(const struct child_job *job, struct ops_options *opt, struct err *err)
{
	size_t i;

	ops_options_init(opt);
	for (i = 0; i < job->nmaintenance; i++) {
		if (ops_options_set(opt, job->maintenance[i].key, job->maintenance[i].value, err) <
		    0)
			return err_prefix(err, "[maintenance]");
	}
	if (job->kwargs != NULL && ops_options_apply_json(opt, job->kwargs, err) < 0)
		return -1;
	opt->task_id = job->task_id;
	opt->worker_hostname = job->hostname;
	return 0;
}

/* ---- the job on the wire ---- */

static char *
job_encode(const struct child_job *job)
{
	cJSON *o = cJSON_CreateObject(), *ops = cJSON_AddArrayToObject(o, "ops");
	cJSON *maint = cJSON_AddObjectToObject(o, "maintenance");
	char *text;
	size_t i;

	cJSON_AddNumberToObject(o, "kind", (double)job->kind);
	cJSON_AddNumberToObject(o, "ppid", (double)getpid());
	cJSON_AddStringToObject(o, "db_url", job->db_url);
	for (i = 0; i < job->n; i++)
		cJSON_AddItemToArray(ops, cJSON_CreateString(job->list[i]->name));
	for (i = 0; i < job->nmaintenance; i++)
		cJSON_AddStringToObject(maint, job->maintenance[i].key, job->maintenance[i].value);
	if (job->kwargs != NULL)
		cJSON_AddItemToObject(o, "kwargs", cJSON_Duplicate(job->kwargs, 1));
	if (job->task_id != NULL)
		cJSON_AddStringToObject(o, "task_id", job->task_id);
	if (job->hostname != NULL)
		cJSON_AddStringToObject(o, "hostname", job->hostname);
	cJSON_AddNumberToObject(o, "soft", job->soft);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

static const char *
str_item(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The decoded job borrows from tree; list and maintenance are owned by the caller. */
static int
job_decode(const cJSON *tree, struct child_job *job, const struct ops_entry ***list,
           struct cfg_kv **maint, struct err *err)
{
	const cJSON *ops = cJSON_GetObjectItemCaseSensitive(tree, "ops");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(tree, "maintenance"), *it;
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(tree, "kind");
	const cJSON *soft = cJSON_GetObjectItemCaseSensitive(tree, "soft");
	size_t n = 0;

	memset(job, 0, sizeof(*job));
	job->db_url = str_item(tree, "db_url");
	if (job->db_url == NULL || !cJSON_IsNumber(kind) || !cJSON_IsArray(ops))
		return err_set(err, ERR_BUG, "child: malformed job");
	job->kind = (enum exec_kind)kind->valueint;
	*list = xcalloc((size_t)cJSON_GetArraySize(ops) + 1, sizeof(**list));
	cJSON_ArrayForEach(it, ops) {
		const struct ops_entry *e = cJSON_IsString(it) ? ops_lookup(it->valuestring) : NULL;

		if (e == NULL)
			return err_set(err, ERR_BUG, "child: unknown operation in job");
		(*list)[n++] = e;
	}
	job->list = *list;
	job->n = n;
	*maint = xcalloc((size_t)cJSON_GetArraySize(m) + 1, sizeof(**maint));
	cJSON_ArrayForEach(it, m) {
		if (!cJSON_IsString(it))
			return err_set(err, ERR_BUG, "child: malformed maintenance option");
		(*maint)[job->nmaintenance].key = it->string;
		(*maint)[job->nmaintenance++].value = it->valuestring;
	}
	job->maintenance = *maint;
	job->kwargs = cJSON_GetObjectItemCaseSensitive(tree, "kwargs");
	job->task_id = str_item(tree, "task_id");
	job->hostname = str_item(tree, "hostname");
	job->soft = cJSON_IsNumber(soft) ? soft->valuedouble : 0;
	return 0;
}

/* ---- the child ---- */

struct watchdog {
	struct db *db;
	double soft; /* seconds */
	volatile int fired;
};

static void *
watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct timespec ts;

	ts.tv_sec = (time_t)w->soft;
	ts.tv_nsec = (long)((w->soft - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	w->fired = 1;
	db_cancel(w->db);
	return NULL;
}

static void
write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

static void
child_progress(void *ctx, int64_t done, int64_t total, const char *what UNUSED)
{
	int fd = *(int *)ctx;
	char line[64];
	int n = snprintf(line, sizeof(line), "P %lld %lld\n", (long long)done, (long long)total);

	write_all(fd, line, (size_t)n);
}

static void
child_error(int fd, const struct err *e)
{
	char *line = xasprintf("E %d %s\n", (int)e->cls, e->msg);
	char *p;

	for (p = line + 2; p[1] != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	write_all(fd, line, strlen(line));
	free(line);
}

static char *
read_stdin(struct err *err)
{
	struct strbuf sb;
	char chunk[4096];
	ssize_t n;

	sb_init(&sb);
	while ((n = read(0, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || sb.len + (size_t)n > JOB_MAX) {
			sb_cleanup(&sb);
			return (void)err_set(err, ERR_BUG, "child: cannot read the job"), NULL;
		}
		sb_add(&sb, chunk, (size_t)n);
	}
	return sb_detach(&sb, NULL);
}

/* Run the job on an open database, writing the result lines to fd. */
static void
child_work(int fd, const struct child_job *job, const struct ops_options *opt, struct db *db)
{
	struct watchdog w = { 0 };
	struct err err;
	pthread_t th;
	cJSON *res;
	char *json, *line;
	int nfailed = 0;

	err_clear(&err);
	if (job->soft > 0) {
		w.db = db;
		w.soft = job->soft;
		if (pthread_create(&th, NULL, watchdog_main, &w) == 0)
			pthread_detach(th);
	}
	if (job->kind == EXEC_REPORT)
		res = ops_report(db, opt, &err);
	else
		res = ops_run(db, job->list, job->n, opt, child_progress, &fd, &nfailed);
	if (w.fired) {
		write_all(fd, "S\n", 2);
	} else if (res == NULL) {
		child_error(fd, &err);
	} else {
		json = cJSON_PrintUnformatted(res);
		line = xasprintf("R %d %s\n", nfailed, json);
		write_all(fd, line, strlen(line));
		free(line);
		cJSON_free(json);
	}
	cJSON_Delete(res);
}

/* PostgreSQL: tell the parent which backend serves us (see the file comment). */
static void
report_backend(int fd, struct db *db)
{
	struct db_rows *rows;
	struct err err;
	char line[32];
	int n;

	if (db_kind(db) != DB_POSTGRES)
		return;
	err_clear(&err);
	rows = db_query(db, "SELECT pg_backend_pid()", 0, NULL, &err);
	if (rows != NULL && db_rows_count(rows) == 1 && db_rows_get(rows, 0, 0) != NULL) {
		n = snprintf(line, sizeof(line), "B %s\n", db_rows_get(rows, 0, 0));
		write_all(fd, line, (size_t)n);
	}
	db_rows_free(rows);
}

/*
 * `janitor __exec-child`: the child's whole life. 1. die with the executor thread that
 * spawned us; 2. read and decode the job; 3. open the database; 4. run and report on stdout.
 * Exits 0 whenever it could report; the parent classifies what it read.
 */
int
cmd_exec_child(int argc UNUSED, char **argv UNUSED)
{
	const struct ops_entry **list = NULL;
	struct cfg_kv *maint = NULL;
	struct child_job job;
	struct ops_options opt;
	struct db *db = NULL;
	cJSON *tree = NULL;
	const cJSON *ppid;
	char *text;
	struct err err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_IGN); /* the worker decides about shutdown, not a ^C */
	err_clear(&err);
	text = read_stdin(&err);
	tree = text != NULL ? cJSON_Parse(text) : NULL;
	free(text);
	ppid = cJSON_GetObjectItemCaseSensitive(tree, "ppid");
	if (cJSON_IsNumber(ppid) && (pid_t)ppid->valuedouble != getppid())
		goto out; /* the spawning worker died before PR_SET_PDEATHSIG took effect */
	if (tree == NULL) {
		if (err.cls == ERR_NONE)
			err_set(&err, ERR_BUG, "child: the job is not JSON");
		child_error(1, &err);
		goto out;
	}
	if (job_decode(tree, &job, &list, &maint, &err) < 0 ||
	    exec_job_options(&job, &opt, &err) < 0) {
		child_error(1, &err);
		goto out;
	}
	db = db_open(job.db_url, &err);
	if (db == NULL) {
		child_error(1, &err);
		goto out;
	}
	report_backend(1, db);
	child_work(1, &job, &opt, db);
out:
	db_close(db);
	free(list);
	free(maint);
	cJSON_Delete(tree);
	return 0;
}

/* ---- the parent side ---- */

/* Handle one line from the child. */
static void
child_line(char *line, struct child_run *cr)
{
	if (line[0] == 'P') {
		long long done = 0, total = 0;

		if (sscanf(line + 1, "%lld %lld", &done, &total) == 2 && cr->progress != NULL)
			cr->progress(cr->progress_ctx, done, total);
	} else if (line[0] == 'R') {
		char *end;
		long nf = strtol(line + 1, &end, 10);

		cr->nfailed = (int)nf;
		cJSON_Delete(cr->result);
		cr->result = cJSON_Parse(end);
		cr->got_result = 1;
	} else if (line[0] == 'E') {
		char *end;
		long cls = strtol(line + 1, &end, 10);

		err_set(&cr->err, (enum err_class)cls, "%s", *end == ' ' ? end + 1 : end);
		cr->got_error = 1;
	} else if (line[0] == 'S') {
		cr->soft_fired = 1;
	} else if (line[0] == 'B') {
		cr->backend_pid = (int)strtol(line + 1, NULL, 10);
	}
}

/* posix_spawn the child with stdin from *to_child and stdout into *from_child. */
static int
spawn_child(pid_t *pid, int *to_child, int *from_child, struct err *err)
{
	static char arg0[] = "janitor", arg1[] = "__exec-child";
	char *argv[] = { arg0, arg1, NULL };
	posix_spawn_file_actions_t fa;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, rc;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		err_sys(err, ERR_TRANSIENT, "pipe");
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	rc = posix_spawn(pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		err_sys(err, ERR_TRANSIENT, "spawn the task process");
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	return 0;
fail:
	if (in[0] >= 0) {
		close(in[0]);
		close(in[1]);
	}
	if (out[0] >= 0) {
		close(out[0]);
		close(out[1]);
	}
	return -1;
}

/* Read the child's lines until EOF, killing it at the hard deadline (0 = none). */
static void
collect(int fd, pid_t pid, double deadline, struct child_run *cr)
{
	struct strbuf buf;

	sb_init(&buf);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int tmo = -1, pr;
		char chunk[4096];
		ssize_t n;
		char *nl;

		if (deadline > 0) {
			double left = deadline - clock_real();

			if (left <= 0) {
				kill(pid, SIGKILL);
				cr->hard_fired = 1;
				break;
			}
			tmo = (int)(left * 1000) + 1;
		}
		pr = poll(&pfd, 1, tmo);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		sb_add(&buf, chunk, (size_t)n);
		while ((nl = memchr(buf.buf, '\n', buf.len)) != NULL) {
			size_t used = (size_t)(nl - buf.buf) + 1;

			*nl = '\0';
			child_line(buf.buf, cr);
			memmove(buf.buf, buf.buf + used, buf.len - used + 1);
			buf.len -= used;
		}
	}
	sb_cleanup(&buf);
}

/*
 * End the backend a dead child left behind, waiting (PostgreSQL 14+: up to 5 s) until it is
 * gone. Failures are logged, not fatal: the backend then ends when the server next notices its
 * client is gone.
 */
static void
terminate_orphan(const char *db_url, int pid)
{
	static const char sql_wait[] = "SELECT pg_terminate_backend($1::int, 5000)";
	static const char sql_plain[] = "SELECT pg_terminate_backend($1::int)";
	char spid[16];
	const char *params[1] = { spid };
	struct err err;
	struct db *db;

	snprintf(spid, sizeof(spid), "%d", pid);
	err_clear(&err);
	db = db_open(db_url, &err);
	if (db == NULL || db_exec(db, db_server_version(db) >= 140000 ? sql_wait : sql_plain, 1,
	                          params, NULL, &err) < 0)
		log_warn("could not end PostgreSQL backend %d left by a lost task process: %s", pid,
		         err.msg);
	db_close(db);
}

/*
 * 1. spawn the child; 2. write the job to its stdin and close it (SIGPIPE is ignored by the
 * worker, so a child that died early is an EPIPE here, then a WorkerLostError); 3. collect its
 * lines with the hard deadline; 4. waitpid and record how it ended.
 */
void
child_run(const struct child_job *job, struct child_run *cr)
{
	double deadline = job->hard > 0 ? clock_real() + job->hard : 0;
	int to_child, from_child, status = 0;
	char *text;
	pid_t pid;

	if (spawn_child(&pid, &to_child, &from_child, &cr->err) < 0) {
		cr->got_error = 1;
		return;
	}
	cr->pid = pid;
	text = job_encode(job);
	write_all(to_child, text, strlen(text));
	cJSON_free(text);
	close(to_child);
	collect(from_child, pid, deadline, cr);
	close(from_child);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		cr->signo = WTERMSIG(status);
	else if (WIFEXITED(status))
		cr->exit_code = WEXITSTATUS(status);
	if (cr->backend_pid > 0 && (cr->signo != 0 || cr->hard_fired))
		terminate_orphan(job->db_url, cr->backend_pid);
}

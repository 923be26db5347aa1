/* SPDX-License-Identifier: MIT */
/*
 * exec.c - what a task name means and how its work runs: the registry, celery.accumulate,
 * the operation list of maintenance.run, and the forked child that runs maintenance work.
 *
 * Why a child per maintenance task (and threads for the pool): an executor is a thread so the
 * main loop keeps consuming, timing ETAs and restoring while a 30-minute VACUUM runs, and so
 * cheap tasks (celery.accumulate) cost no process. The database work itself runs in a child
 * forked for that one task: a crash in a driver or an operation kills only the child (the
 * thread sees the signal and stores WorkerLostError, or restores the message with acks_late),
 * and a hard time limit is a real SIGKILL that cannot leave a half-stopped thread behind.
 * Rejected: a prefork pool of long-lived children (as Celery does) - more code for the same
 * isolation, and a fork per maintenance task costs ~1 ms against operations of seconds.
 * The child opens its own database connection, so no handle crosses a fork.
 * Child -> parent pipe protocol, one line each: "P <done> <total>" progress; "R <nfailed>
 * <json>" result; "E <class> <message>" error; "S" the soft time limit cancelled the work.
 */
#include "config.h"

#include "exec.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "exec_int.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

struct builtin {
	const char *name;
	enum exec_kind kind;
};

static const struct builtin builtins[] = {
	{ "maintenance.run", EXEC_RUN },
	{ "maintenance.report", EXEC_REPORT },
	{ "celery.accumulate", EXEC_ACCUMULATE },
};

#define OP_PREFIX "maintenance."

double
exec_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
exec_resolve(const struct exec_settings *s, const char *name, struct exec_target *out)
{
	size_t i;

	for (i = 0; i < s->naliases; i++) {
		if (strcmp(s->aliases[i].key, name) == 0) {
			name = s->aliases[i].value;
			break;
		}
	}
	for (i = 0; i < ARRAY_LEN(builtins); i++) {
		if (strcmp(builtins[i].name, name) == 0) {
			out->kind = builtins[i].kind;
			out->op = NULL;
			return 0;
		}
	}
	if (strncmp(name, OP_PREFIX, strlen(OP_PREFIX)) == 0) {
		const struct ops_entry *e = ops_lookup(name + strlen(OP_PREFIX));

		if (e != NULL) {
			out->kind = EXEC_OP;
			out->op = e;
			return 0;
		}
	}
	return -1;
}

void
exec_request_free(struct exec_request *r)
{
	if (r == NULL)
		return;
	proto_task_free(r->task);
	free(r->delivery_tag);
	free(r->queue);
	free(r->exchange);
	free(r->routing_key);
	free(r);
}

void
exec_outcome_init(struct exec_outcome *o)
{
	memset(o, 0, sizeof(*o));
}

void
exec_outcome_cleanup(struct exec_outcome *o)
{
	if (o == NULL)
		return;
	cJSON_Delete(o->result);
	o->result = NULL;
}

void
exec_outcome_fail(struct exec_outcome *o, enum exec_state st, const char *type, const char *module,
                  const char *fmt, ...)
{
	va_list ap;

	o->state = st;
	snprintf(o->exc_type, sizeof(o->exc_type), "%s", type);
	snprintf(o->exc_module, sizeof(o->exc_module), "%s", module);
	va_start(ap, fmt);
	vsnprintf(o->exc_msg, sizeof(o->exc_msg), fmt, ap);
	va_end(ap);
}

cJSON *
exec_accumulate(const cJSON *args, const cJSON *kwargs, struct err *err)
{
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(kwargs, "index");
	const cJSON *item;

	if (idx == NULL || cJSON_IsNull(idx))
		return cJSON_Duplicate(args, 1);
	if (!cJSON_IsNumber(idx) || idx->valuedouble != floor(idx->valuedouble))
		return (void)err_set(err, ERR_INVALID, "kwargs.index: expected an integer"), NULL;
	{
		int n = cJSON_GetArraySize(args), i = (int)idx->valuedouble;

		if (i < 0)
			i += n; /* Python indexing */
		if (i < 0 || i >= n)
			return (void)err_set(err, ERR_INVALID, "tuple index out of range"), NULL;
		item = cJSON_GetArrayItem(args, i);
	}
	return cJSON_Duplicate(item, 1);
}

const struct ops_entry **
exec_run_list(const cJSON *args, const cJSON *kwargs, size_t *n, struct err *err)
{
	const cJSON *ops = cJSON_GetObjectItemCaseSensitive(kwargs, "operations");
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(kwargs, "all");
	const struct ops_entry **list;
	const cJSON *it;
	size_t i, cap = 0;

	*n = 0;
	if ((ops == NULL || cJSON_IsNull(ops)) && cJSON_GetArraySize(args) > 0)
		ops = cJSON_GetArrayItem(args, 0);
	if (cJSON_IsTrue(all) || ops == NULL || cJSON_IsNull(ops) ||
	    (cJSON_IsString(ops) && strcmp(ops->valuestring, "all") == 0)) {
		while (ops_table[cap] != NULL)
			cap++;
		list = xcalloc(cap + 1, sizeof(*list));
		for (i = 0; i < cap; i++)
			list[i] = ops_table[i];
		*n = cap;
		return list;
	}
	if (!cJSON_IsArray(ops))
		return (void)err_set(err, ERR_INVALID,
		                     "operations: expected a list of operation names"),
		       NULL;
	list = xcalloc((size_t)cJSON_GetArraySize(ops) + 1, sizeof(*list));
	cJSON_ArrayForEach(it, ops) {
		const struct ops_entry *e = cJSON_IsString(it) ? ops_lookup(it->valuestring) : NULL;

		if (e == NULL) {
			err_set(err, ERR_INVALID, "operations: unknown operation '%s' (known: %s)",
			        cJSON_IsString(it) ? it->valuestring : "?", ops_names());
			free(list);
			*n = 0;
			return NULL;
		}
		list[(*n)++] = e;
	}
	return list;
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

/* The child's whole life: never returns. */
static NORETURN void
child_main(int fd, const struct child_job *job)
{
	struct err err;
	struct db *db;
	struct watchdog w = { 0 };
	pthread_t th;
	cJSON *res;
	char *json, *line;
	int nfailed = 0;

	/* Die with the executor thread that forked us (cold shutdown, worker crash). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGINT, SIG_IGN); /* the worker decides about shutdown, not a ^C */
	err_clear(&err);
	db = db_open(job->db_url, &err);
	if (db == NULL) {
		child_error(fd, &err);
		_exit(0);
	}
	if (job->soft > 0) {
		w.db = db;
		w.soft = job->soft;
		if (pthread_create(&th, NULL, watchdog_main, &w) == 0)
			pthread_detach(th);
	}
	if (job->kind == EXEC_REPORT) {
		res = ops_report(db, &job->opt, &err);
		if (res == NULL) {
			if (w.fired)
				write_all(fd, "S\n", 2);
			else
				child_error(fd, &err);
			_exit(0);
		}
	} else {
		res = ops_run(db, job->list, job->n, &job->opt, child_progress, &fd, &nfailed);
	}
	if (w.fired) {
		write_all(fd, "S\n", 2);
		_exit(0);
	}
	json = cJSON_PrintUnformatted(res);
	line = xasprintf("R %d %s\n", nfailed, json);
	write_all(fd, line, strlen(line));
	_exit(0);
}

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
	}
}

/*
 * Fork the child, then read its pipe until EOF, killing it at the hard limit.
 * Numbered steps: 1. pipe + fork; 2. poll with the time left to the hard deadline, feeding
 * complete lines to child_line; 3. at the deadline SIGKILL; 4. waitpid and classify.
 */
void
child_run(const struct child_job *job, struct child_run *cr)
{
	int fds[2];
	pid_t pid;
	struct strbuf buf;
	double deadline = job->hard > 0 ? exec_now() + job->hard : 0;
	int status = 0;

	if (pipe(fds) < 0) {
		err_sys(&cr->err, ERR_TRANSIENT, "pipe");
		cr->got_error = 1;
		return;
	}
	pid = fork();
	if (pid < 0) {
		err_sys(&cr->err, ERR_TRANSIENT, "fork");
		cr->got_error = 1;
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(fds[1], job);
	}
	close(fds[1]);
	cr->pid = pid;
	sb_init(&buf);
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int tmo = -1, pr;
		char chunk[4096];
		ssize_t n;
		char *nl;

		if (deadline > 0) {
			double left = deadline - exec_now();

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
		n = read(fds[0], chunk, sizeof(chunk));
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
	close(fds[0]);
	sb_cleanup(&buf);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		cr->signo = WTERMSIG(status);
	else if (WIFEXITED(status))
		cr->exit_code = WEXITSTATUS(status);
}

/* SPDX-License-Identifier: MIT */
/*
 * cmd_worker.c - `janitor worker`: the consuming main loop, the executor pool and signals.
 *
 * The main thread owns one broker connection: it BRPOPs (at most 1 s, so signals, ETAs and
 * restores are served), decodes, rejects what cannot run (NotRegistered, invalid, expired),
 * holds ETA requests in a sorted list (refreshing their unacked_index score so no visibility
 * restore duplicates them), and hands ready requests to N executor threads. The prefetch limit
 * is client-side as in kombu: concurrency x multiplier requests in the pool, plus one per held
 * ETA. Executors own their own broker and backend connections (see exec.h).
 * Shutdown: SIGTERM/SIGINT = warm (stop consuming, restore what was not started, let running
 * tasks finish, exit 0); a second one or SIGQUIT = cold (restore, kill children, exit at once).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "broker.h"
#include "cfg.h"
#include "cli.h"
#include "clock.h"
#include "exec.h"
#include "log.h"
#include "proto.h"
#include "xalloc.h"

/* The one shutdown flag (style B6): 0 running, 1 warm, 2 cold. */
static volatile sig_atomic_t worker_shutdown;

#define RESTORE_EVERY 100.0 /* seconds between visibility restores, as a Python worker */
#define EXEC_BATCH    32    /* inline tasks an executor takes at once */
#define CONSUME_MAX   64    /* messages taken per broker round trip */

static void
on_signal(int sig)
{
	if (sig == SIGQUIT || worker_shutdown >= 1)
		worker_shutdown = 2;
	else
		worker_shutdown = 1;
}

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv;           /* work queued or stopping */
	pthread_cond_t done_cv;           /* a request finished */
	struct exec_request *head, *tail; /* ready, not started (owned) */
	size_t queued, running;
	size_t running_late; /* running acks_late requests: still unacked */
	int stopping;
	volatile int cold; /* passed to executors as their stop flag */
	const struct exec_settings *s;
	const struct broker_ops *bops;
	const struct backend_ops *beops;
	pthread_t *threads;
	size_t nthreads;
	char **active_tags; /* per thread: the acks_late tag being run, or NULL (owned copy) */
};

struct executor {
	struct pool *p;
	size_t index;
};

/* An executor thread: take one maintenance request or a run of inline tasks, handle it on
 * this thread's own connections, account for it. */
static void *
executor_main(void *arg)
{
	struct executor *ex = arg;
	struct pool *p = ex->p;
	struct exec_conn conn;

	memset(&conn, 0, sizeof(conn));
	snprintf(conn.proc, sizeof(conn.proc), "ForkPoolWorker-%zu", ex->index + 1);
	conn.bops = p->bops;
	conn.beops = p->beops;
	conn.extended_worker = p->s->result_extended ? p->s->hostname : NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct exec_request *batch[EXEC_BATCH];
		bool late[EXEC_BATCH];
		size_t n = 0, i;

		while (p->head == NULL && !p->stopping)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (p->head == NULL)
			break;
		/* One maintenance request, or a run of consecutive inline tasks. */
		do {
			struct exec_request *r = p->head;

			if (n > 0 && !exec_is_inline(r))
				break;
			p->head = r->next;
			if (p->head == NULL)
				p->tail = NULL;
			r->next = NULL;
			p->queued--;
			batch[n++] = r;
		} while (p->head != NULL && exec_is_inline(batch[0]) && n < EXEC_BATCH);
		p->running += n;
		for (i = 0; i < n; i++)
			p->running_late += batch[i]->acks_late;
		pthread_cond_broadcast(&p->done_cv); /* prefetch slots of early acks are free */
		if (n == 1 && batch[0]->acks_late)
			p->active_tags[ex->index] = xstrdup(batch[0]->delivery_tag);
		pthread_mutex_unlock(&p->mu);

		exec_handle_batch(p->s, &conn, batch, n, &p->cold);
		for (i = 0; i < n; i++) {
			late[i] = batch[i]->acks_late;
			exec_request_free(batch[i]);
		}

		pthread_mutex_lock(&p->mu);
		for (i = 0; i < n; i++)
			p->running_late -= late[i];
		free(p->active_tags[ex->index]);
		p->active_tags[ex->index] = NULL;
		p->running -= n;
		pthread_cond_broadcast(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	conn.bops->close(conn.broker);
	if (conn.beops != NULL)
		conn.beops->close(conn.backend);
	free(ex);
	return NULL;
}

static void
pool_push(struct pool *p, struct exec_request *r)
{
	pthread_mutex_lock(&p->mu);
	r->next = NULL;
	if (p->tail != NULL)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	p->queued++;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
}

/*
 * Deliveries not yet acknowledged, which kombu's prefetch limit counts: queued requests and
 * running acks_late ones (an early-ack request is acked as it starts, as in Celery's prefork
 * pool, so it no longer holds a prefetch slot).
 */
static size_t
pool_unacked(struct pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->queued + p->running_late;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Requests received and not finished. */
static size_t
pool_inflight(struct pool *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->queued + p->running;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* Wait up to secs for a request to finish. */
static void
pool_wait_done(struct pool *p, double secs)
{
	struct timespec ts;
	double until;

	clock_gettime(CLOCK_REALTIME, &ts);
	until = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + secs;
	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - floor(until)) * 1e9);
	pthread_mutex_lock(&p->mu);
	pthread_cond_timedwait(&p->done_cv, &p->mu, &ts);
	pthread_mutex_unlock(&p->mu);
}

/* ---- the main loop's state ---- */

struct loop {
	const struct cfg *cfg;
	struct exec_settings s;
	struct exec_conn conn; /* main thread: conn.broker consumes */
	struct pool pool;
	char **queues;
	size_t nqueues;
	struct exec_request *held; /* ETA requests sorted by eta (owned) */
	size_t nheld;
	size_t prefetch;    /* 0 = unlimited */
	size_t concurrency; /* executor threads */
};

static void
held_insert(struct loop *L, struct exec_request *r)
{
	struct exec_request **pp = &L->held;

	while (*pp != NULL && (*pp)->eta <= r->eta)
		pp = &(*pp)->next;
	r->next = *pp;
	*pp = r;
	L->nheld++;
}

/* Connect (or reconnect) the consuming connection and declare the queues. */
static int
main_connect(struct loop *L)
{
	double delay = 0.5;
	int warned = 0;

	while (worker_shutdown == 0) {
		struct err e;
		size_t i;

		err_clear(&e);
		L->conn.broker = L->conn.bops->open(L->s.broker_url, &L->s.bopt, &e);
		for (i = 0; L->conn.broker != NULL && i < L->nqueues; i++) {
			if (L->conn.bops->declare_queue(L->conn.broker, L->queues[i], NULL, NULL,
			                                &e) < 0) {
				L->conn.bops->close(L->conn.broker);
				L->conn.broker = NULL;
			}
		}
		if (L->conn.broker != NULL) {
			if (warned)
				log_warn("Connected to the broker again");
			return 0;
		}
		if (e.cls != ERR_TRANSIENT) {
			log_error("broker: %s", e.msg);
			return -1;
		}
		if (!warned++)
			log_warn("consumer: Cannot connect to the broker: %s. Trying again with "
			         "backoff.",
			         e.msg);
		{
			struct timespec ts = { (time_t)delay,
				               (long)((delay - floor(delay)) * 1e9) };

			nanosleep(&ts, NULL);
		}
		delay = fmin(delay * 2, 10);
	}
	return -1;
}

static void
main_drop(struct loop *L)
{
	L->conn.bops->close(L->conn.broker);
	L->conn.broker = NULL;
}

static void
main_ack(struct loop *L, const char *tag, bool requeue)
{
	struct err e;

	err_clear(&e);
	if (L->conn.broker == NULL)
		return;
	if (L->conn.bops->reject(L->conn.broker, tag, requeue, &e) < 0) {
		log_warn("broker: %s (delivery %s)", e.msg, tag);
		if (e.cls == ERR_TRANSIENT)
			main_drop(L);
	}
}

static const char *
tname(const struct proto_task *t)
{
	return t->shadow != NULL ? t->shadow : t->task;
}

/* One message from the broker: decode, reject, hold or hand over. Takes ownership of d. */
static void
on_delivery(struct loop *L, struct broker_delivery *d)
{
	struct exec_request *r = NULL;
	struct proto_task *t;
	struct err e;
	double now = clock_real();

	err_clear(&e);
	t = proto_task_decode(&d->msg, NULL, &e);
	if (t == NULL) {
		log_error("Received invalid task message: %s\nThe message has been ignored and "
		          "discarded.",
		          e.msg);
		main_ack(L, d->delivery_tag, false);
		goto out;
	}
	r = xcalloc(1, sizeof(*r));
	r->task = t;
	r->delivery_tag = d->delivery_tag;
	d->delivery_tag = NULL;
	r->queue = d->queue;
	d->queue = NULL;
	r->exchange = d->exchange;
	d->exchange = NULL;
	r->routing_key = d->routing_key;
	d->routing_key = NULL;
	r->received = now;
	r->acks_late = L->s.acks_late || exec_name_listed(L->s.acks_late_tasks, t->task);
	if (exec_resolve(&L->s, t->task, &r->target) < 0) {
		char msg[300];

		log_error("Received unregistered task of type '%s'.\nThe message has been ignored "
		          "and discarded.",
		          t->task);
		main_ack(L, r->delivery_tag, false);
		snprintf(msg, sizeof(msg), "%s", t->task);
		exec_store_failure(&L->s, &L->conn, t, PROTO_STATE_FAILURE, "NotRegistered",
		                   "celery.exceptions", msg);
		goto out;
	}
	if (t->has_expires && (double)t->expires.usec / 1e6 < now) {
		log_info("Discarding revoked task: %s[%s]", tname(t), t->id);
		main_ack(L, r->delivery_tag, false);
		exec_store_failure(&L->s, &L->conn, t, PROTO_STATE_REVOKED, "TaskRevokedError",
		                   "celery.exceptions", "expired");
		goto out;
	}
	log_info("Task %s[%s] received", tname(t), t->id);
	if (t->has_eta && (double)t->eta.usec / 1e6 > now) {
		r->eta = (double)t->eta.usec / 1e6;
		r->touched = now;
		held_insert(L, r);
		r = NULL;
		goto out;
	}
	pool_push(&L->pool, r);
	r = NULL;
out:
	exec_request_free(r);
	broker_delivery_cleanup(d);
}

/* Move due ETA requests to the pool; refresh the unacked_index score of the others. */
static void
service_held(struct loop *L, double now)
{
	double every = fmin(60.0, L->s.bopt.visibility_timeout / 4);
	struct exec_request *r;

	while (L->held != NULL && L->held->eta <= now) {
		r = L->held;
		L->held = r->next;
		L->nheld--;
		pool_push(&L->pool, r);
	}
	for (r = L->held; r != NULL && L->conn.broker != NULL; r = r->next) {
		struct err e;

		if (now - r->touched < every)
			continue;
		err_clear(&e);
		if (L->conn.bops->touch(L->conn.broker, r->delivery_tag, &e) < 0) {
			log_warn("broker: %s (held delivery %s)", e.msg, r->delivery_tag);
			if (e.cls == ERR_TRANSIENT)
				main_drop(L);
			return;
		}
		r->touched = now;
	}
}

static void
restore_visible(struct loop *L)
{
	size_t n = 0;
	struct err e;

	err_clear(&e);
	if (L->conn.broker == NULL)
		return;
	if (L->conn.bops->restore_visible(L->conn.broker, &n, &e) < 0) {
		log_warn("restore of unacknowledged messages: %s", e.msg);
		if (e.cls == ERR_TRANSIENT)
			main_drop(L);
	} else if (n > 0) {
		log_warn("Restored %zu unacknowledged message(s) older than the visibility "
		         "timeout",
		         n);
	}
}

/* Give back everything received but not started: held ETAs and the pool's queue. */
static void
restore_unstarted(struct loop *L)
{
	struct exec_request *list, *r;
	size_t n = 0;

	pthread_mutex_lock(&L->pool.mu);
	list = L->pool.head;
	L->pool.head = L->pool.tail = NULL;
	L->pool.queued = 0;
	pthread_mutex_unlock(&L->pool.mu);
	if (L->held != NULL) {
		for (r = L->held; r->next != NULL; r = r->next)
			;
		r->next = list;
		list = L->held;
		L->held = NULL;
		L->nheld = 0;
	}
	for (r = list; r != NULL; r = r->next)
		n++;
	if (n > 0)
		log_warn("Restoring %zu unacknowledged message(s)", n);
	while (list != NULL) {
		struct err e;

		r = list;
		list = r->next;
		err_clear(&e);
		if (L->conn.broker != NULL &&
		    L->conn.bops->restore(L->conn.broker, r->delivery_tag, &e) < 0)
			log_error("restore %s: %s", r->delivery_tag, e.msg);
		exec_request_free(r);
	}
}

/* The main loop proper; returns when a shutdown was asked for. */
static void
consume_loop(struct loop *L)
{
	double last_restore = 0;

	while (worker_shutdown == 0) {
		struct broker_delivery d[CONSUME_MAX];
		struct err e;
		double now = clock_real(), tmo = 1.0;
		size_t room, i;
		int rc;

		if (L->conn.broker == NULL && main_connect(L) < 0)
			return;
		service_held(L, now);
		if (now - last_restore >= RESTORE_EVERY) {
			restore_visible(L);
			last_restore = now;
		}
		if (L->conn.broker == NULL)
			continue;
		if (L->prefetch > 0 && pool_unacked(&L->pool) >= L->prefetch) {
			pool_wait_done(&L->pool,
			               L->held != NULL ? fmin(1.0, L->held->eta - now) : 1.0);
			continue;
		}
		room = CONSUME_MAX;
		if (L->prefetch > 0)
			room = L->prefetch - pool_unacked(&L->pool);
		if (room > CONSUME_MAX)
			room = CONSUME_MAX;
		err_clear(&e);
		rc = L->conn.bops->consume(L->conn.broker, (const char *const *)L->queues,
		                           L->nqueues, tmo, d, room, &e);
		if (rc < 0) {
			log_warn("consumer: Connection to broker lost: %s. Trying to re-establish "
			         "the connection...",
			         e.msg);
			main_drop(L);
			continue;
		}
		for (i = 0; i < (size_t)rc; i++)
			on_delivery(L, &d[i]);
	}
}

/* Node name: default janitor@<host>; %h (host), %n (first label), %d (domain) expand. */
static char *
node_name(const char *tmpl)
{
	char host[256] = "localhost", out[512];
	const char *dot, *p;
	size_t o = 0;

	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (tmpl == NULL)
		return xasprintf("janitor@%s", host);
	dot = strchr(host, '.');
	for (p = tmpl; *p != '\0' && o + 1 < sizeof(out); p++) {
		const char *ins = NULL;
		int len = 0;

		if (p[0] == '%' && p[1] == 'h') {
			ins = host;
			len = (int)strlen(host);
		} else if (p[0] == '%' && p[1] == 'n') {
			ins = host;
			len = dot != NULL ? (int)(dot - host) : (int)strlen(host);
		} else if (p[0] == '%' && p[1] == 'd') {
			ins = dot != NULL ? dot + 1 : "";
			len = (int)strlen(ins);
		}
		if (ins != NULL) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s", len, ins);
			p++;
		} else {
			out[o++] = *p;
		}
		if (o >= sizeof(out))
			o = sizeof(out) - 1;
	}
	out[o] = '\0';
	return xstrdup(strchr(out, '@') != NULL ? out : host);
}

static int
write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f);
}

/* Warm: let running tasks finish (cold on a second signal). Returns 1 if it went cold. */
static int
drain(struct loop *L)
{
	size_t i;

	pthread_mutex_lock(&L->pool.mu);
	L->pool.stopping = 1;
	pthread_cond_broadcast(&L->pool.work_cv);
	pthread_mutex_unlock(&L->pool.mu);
	while (pool_inflight(&L->pool) > 0) {
		if (worker_shutdown >= 2) {
			log_warn("worker: Cold shutdown (MainProcess)");
			L->pool.cold = 1;
			if (L->conn.broker == NULL)
				(void)main_connect(L);
			pthread_mutex_lock(&L->pool.mu);
			for (i = 0; i < L->pool.nthreads; i++) {
				struct err e;

				err_clear(&e);
				if (L->pool.active_tags[i] != NULL && L->conn.broker != NULL)
					(void)L->conn.bops->restore(L->conn.broker,
					                            L->pool.active_tags[i], &e);
			}
			pthread_mutex_unlock(&L->pool.mu);
			return 1;
		}
		pool_wait_done(&L->pool, 0.2);
	}
	for (i = 0; i < L->pool.nthreads; i++)
		pthread_join(L->pool.threads[i], NULL);
	return 0;
}

static int
pool_start(struct loop *L, size_t n)
{
	size_t i;

	pthread_mutex_init(&L->pool.mu, NULL);
	pthread_cond_init(&L->pool.work_cv, NULL);
	pthread_cond_init(&L->pool.done_cv, NULL);
	L->pool.s = &L->s;
	L->pool.bops = L->conn.bops;
	L->pool.beops = L->conn.beops;
	L->pool.threads = xcalloc(n, sizeof(pthread_t));
	L->pool.active_tags = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++) {
		struct executor *ex = xcalloc(1, sizeof(*ex));

		ex->p = &L->pool;
		ex->index = i;
		if (pthread_create(&L->pool.threads[i], NULL, executor_main, ex) != 0) {
			free(ex);
			log_error("cannot start executor thread %zu", i + 1);
			return -1;
		}
		L->pool.nthreads++;
	}
	return 0;
}

static void
loop_cleanup(struct loop *L)
{
	size_t i;

	for (i = 0; i < L->nqueues; i++)
		free(L->queues[i]);
	free(L->queues);
	if (L->conn.bops != NULL)
		L->conn.bops->close(L->conn.broker);
	if (L->conn.beops != NULL)
		L->conn.beops->close(L->conn.backend);
	free(L->pool.threads);
	free(L->pool.active_tags);
	free((char *)L->s.hostname);
}

/* The values the loop and executors need, copied from the configuration (style B6). */
static void
settings_from_cfg(struct loop *L, const struct cfg *cfg)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	snprintf(L->conn.proc, sizeof(L->conn.proc), "MainProcess");
	L->s.hostname = node_name(cfg->hostname);
	L->s.broker_url = cfg->broker_url;
	L->s.backend_url = cfg->result_backend;
	broker_options_init(&L->s.bopt);
	L->s.bopt.visibility_timeout = cfg->visibility_timeout;
	L->s.result_expires = (int64_t)cfg->result_expires;
	L->s.databases = cfg->databases;
	L->s.ndatabases = cfg->ndatabases;
	L->s.maintenance = cfg->maintenance;
	L->s.nmaintenance = cfg->nmaintenance;
	L->s.aliases = cfg->aliases;
	L->s.naliases = cfg->naliases;
	L->s.acks_late = cfg->acks_late;
	L->s.acks_late_tasks = cfg->acks_late_tasks;
	L->s.track_started = cfg->track_started;
	L->s.result_extended = cfg->result_extended;
	L->conn.extended_worker = cfg->result_extended ? L->s.hostname : NULL;
	L->s.soft_time_limit = cfg->soft_time_limit;
	L->s.time_limit = cfg->time_limit;
	L->s.max_retries = cfg->max_retries;
	L->s.retry_delay = cfg->retry_delay;
	L->queues = cfg_queue_list(cfg, &L->nqueues);
	L->concurrency =
	        cfg->concurrency > 0 ? (size_t)cfg->concurrency : (size_t)(ncpu > 0 ? ncpu : 1);
	L->prefetch = L->concurrency * (size_t)cfg->prefetch_multiplier;
}

int
cmd_worker(int argc, char **argv)
{
	struct cfg cfg;
	struct loop L;
	struct err e;
	struct sigaction sa;
	enum log_level lvl = LOG_LVL_WARN;
	int rc, status = 1, pid_written = 0;

	memset(&L, 0, sizeof(L));
	err_clear(&e);
	rc = cfg_load(&cfg, argc, argv, stdout, &e);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "janitor worker: %s\n", e.msg);
		cfg_cleanup(&cfg);
		return rc < 0 ? 2 : 0;
	}
	if (log_level_parse(cfg.loglevel, &lvl) < 0 || log_open(cfg.logfile, lvl) < 0) {
		fprintf(stderr, "janitor worker: cannot open log %s: %s\n",
		        cfg.logfile != NULL ? cfg.logfile : "stderr", strerror(errno));
		cfg_cleanup(&cfg);
		return 2;
	}
	L.cfg = &cfg;
	L.conn.bops = broker_ops_for_url(cfg.broker_url, &e);
	if (L.conn.bops == NULL)
		goto usage;
	if (cfg.result_backend != NULL) {
		L.conn.beops = backend_ops_for_url(cfg.result_backend, &e);
		if (L.conn.beops == NULL)
			goto usage;
	}
	settings_from_cfg(&L, &cfg);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cfg.pidfile != NULL) {
		if (write_pidfile(cfg.pidfile) < 0) {
			log_error("cannot write pidfile %s: %s", cfg.pidfile, strerror(errno));
			goto out;
		}
		pid_written = 1;
	}
	if (main_connect(&L) < 0)
		goto out;
	restore_visible(&L);
	if (pool_start(&L, L.concurrency) < 0)
		goto out;
	log_info("Connected to %s", L.conn.bops->name);
	log_info("%s ready.", L.s.hostname);
	consume_loop(&L);
	log_warn("worker: Warm shutdown (MainProcess)");
	if (L.conn.broker == NULL)
		(void)main_connect(&L);
	restore_unstarted(&L);
	if (drain(&L)) {
		fflush(NULL);
		_exit(1);
	}
	status = 0;
	goto out;
usage:
	fprintf(stderr, "janitor worker: %s\n", e.msg);
	status = 2;
out:
	if (pid_written)
		unlink(cfg.pidfile);
	loop_cleanup(&L);
	cfg_cleanup(&cfg);
	log_close();
	return status;
}

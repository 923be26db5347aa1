/* SPDX-License-Identifier: MIT */
/*
 * cfg.h - the worker's configuration: one table of settings (cfg.c) loaded with design.md's
 * precedence, command-line flags > environment (CELERY_BROKER_URL, CELERY_RESULT_BACKEND,
 * DATABASE_URL) > config file (INI via ini.h: [worker], [databases], [aliases], [maintenance]) >
 * Celery's defaults. Is not: the logic that uses the values; executors get values as parameters.
 *
 * Threads: loaded once by the main thread, then read-only. Ownership: struct cfg is caller
 * storage (cfg_cleanup frees its strings); lookups return const views valid until cleanup.
 * Errors: ERR_CONFIG naming the key or flag and the reason.
 */
#ifndef JANITOR_CFG_H
#define JANITOR_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "compat.h"
#include "err.h"

/* One "name = value" pair of [databases] or [aliases]. Owned strings. */
struct cfg_kv {
	char *key;
	char *value;
};

struct cfg {
	char *broker_url;          /* secret; default redis://localhost:6379/0 */
	char *result_backend;      /* secret; NULL = none (results not stored) */
	char *queues;              /* comma-separated; "celery" */
	int concurrency;           /* executors; 0 = number of CPUs */
	char *hostname;            /* node name; NULL = janitor@<host> */
	int prefetch_multiplier;   /* 4; 0 = unlimited */
	bool acks_late;            /* ack after completion */
	char *acks_late_tasks;     /* comma-separated task names acked late; NULL = none */
	double visibility_timeout; /* seconds; 3600 */
	double soft_time_limit;    /* seconds; 0 = none */
	double time_limit;         /* seconds; 0 = none */
	double result_expires;     /* seconds; 86400; 0 = never */
	bool track_started;        /* store STARTED */
	bool result_extended;      /* Celery's result_extended: name, args, ... in results */
	int max_retries;           /* transient-error retries; 3 */
	double retry_delay;        /* seconds before a retry runs; 180 (Celery's default) */
	char *loglevel;            /* "WARNING" */
	char *logfile;             /* NULL = stderr */
	char *pidfile;             /* NULL = none */
	char *config_file;         /* the file that was read, NULL = none */
	struct cfg_kv *databases;  /* alias -> URL (secret) */
	size_t ndatabases;
	struct cfg_kv *aliases; /* task name -> janitor task name */
	size_t naliases;
	struct cfg_kv *maintenance; /* [maintenance] key -> value, for ops_options_set */
	size_t nmaintenance;
};

/*
 * Fill *c from defaults, the config file (--config FILE, else /etc/janitor/janitor.conf when
 * it exists), the environment and argv (argv[0] is the subcommand name). Returns 0, 1 when
 * --help or --print-config was handled (printed to out; exit 0), or -1 with ERR_CONFIG.
 * On -1 *c still needs cfg_cleanup.
 */
MUSTCHECK int cfg_load(struct cfg *c, int argc, char **argv, FILE *out, struct err *err);
void cfg_cleanup(struct cfg *c);

/* The URL of a database alias, or NULL when not configured (absent is no error). */
const char *cfg_database_lookup(const struct cfg *c, const char *alias);
/* The janitor task an alias maps to, or NULL. */
const char *cfg_alias_lookup(const struct cfg *c, const char *name);

/* Every setting as "key = value", secrets masked (--print-config). */
void cfg_print(const struct cfg *c, FILE *f);

/* Split the queue list ("a, b,c") into a heap array of heap strings; *n set. */
char **cfg_queue_list(const struct cfg *c, size_t *n);

/* Mask a URL's password: "redis://:****@host/0". Heap string. */
char *cfg_mask_url(const char *url);

#endif

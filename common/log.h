/* SPDX-License-Identifier: MIT */
/*
 * log.h - the log facade. Lines are written in Celery's format,
 *   [2026-11-29 00:02:23,599: INFO/MainProcess] message
 * so log scrapers built for a Celery worker keep working. The macros test the level before
 * evaluating their arguments. The sink and level are the one logging global, set only by
 * worker/ (log_open); protocol/ never logs. Thread-safe: one fwrite per line.
 */
#ifndef JANITOR_LOG_H
#define JANITOR_LOG_H

#include <stdio.h>

#include "compat.h"

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

struct log_state {
	FILE *sink; /* not owned when it is stderr */
	enum log_level level;
	int owns_sink; /* 1 when log_open opened a file */
};

/* The one logging global (style B6). Defaults: stderr, WARN. */
extern struct log_state log_global;

/* Parse "debug", "INFO", "warning", "error", "critical" (Celery's names). -1 if unknown. */
int log_level_parse(const char *name, enum log_level *out) MUSTCHECK;
/* Open path for appending (NULL = stderr) and set the level. -1 and errno on failure. */
int log_open(const char *path, enum log_level level) MUSTCHECK;
void log_close(void);

/* process: "MainProcess", "Worker-1", ... as Celery prints it. */
void log_write(enum log_level lvl, const char *process, const char *fmt, ...) PRINTF_LIKE(3, 4);

#define log_enabled(lvl) ((lvl) <= log_global.level)
#define log_at(lvl, ...)                                              \
	do {                                                          \
		if (log_enabled(lvl))                                 \
			log_write((lvl), "MainProcess", __VA_ARGS__); \
	} while (0)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)

#endif

/* SPDX-License-Identifier: MIT */
/*
 * log.c - Celery-format log lines. Each line is formatted into a local buffer and written with
 * one fwrite, so lines from executor threads never interleave.
 */
#include "config.h"

#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

struct log_state log_global = { NULL, LOG_LVL_WARN, 0 };

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "ERROR",
	[LOG_LVL_WARN] = "WARNING",
	[LOG_LVL_INFO] = "INFO",
	[LOG_LVL_DEBUG] = "DEBUG",
};

struct level_name {
	const char *name;
	enum log_level lvl;
};

/* Celery's level names, and the aliases Python's logging accepts. */
static const struct level_name level_map[] = {
	{ "debug", LOG_LVL_DEBUG }, { "info", LOG_LVL_INFO },   { "warning", LOG_LVL_WARN },
	{ "warn", LOG_LVL_WARN },   { "error", LOG_LVL_ERROR }, { "critical", LOG_LVL_ERROR },
	{ "fatal", LOG_LVL_ERROR },
};

int
log_level_parse(const char *name, enum log_level *out)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(level_map); i++) {
		if (strcasecmp(name, level_map[i].name) == 0) {
			*out = level_map[i].lvl;
			return 0;
		}
	}
	return -1;
}

int
log_open(const char *path, enum log_level level)
{
	FILE *f = stderr;

	if (path != NULL && strcmp(path, "-") != 0) {
		f = fopen(path, "a");
		if (f == NULL)
			return -1;
		setvbuf(f, NULL, _IOLBF, 0);
	}
	log_close();
	log_global.sink = f;
	log_global.owns_sink = f != stderr;
	log_global.level = level;
	return 0;
}

void
log_close(void)
{
	if (log_global.owns_sink && log_global.sink != NULL)
		fclose(log_global.sink);
	log_global.sink = NULL;
	log_global.owns_sink = 0;
}

void
log_write(enum log_level lvl, const char *process, const char *fmt, ...)
{
	char line[4096];
	struct timeval tv;
	struct tm tm;
	size_t n;
	va_list ap;
	int k;
	FILE *f = log_global.sink != NULL ? log_global.sink : stderr;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S", &tm);
	k = snprintf(line + n, sizeof(line) - n, ",%03ld: %s/%s] ", (long)(tv.tv_usec / 1000),
	             level_names[lvl], process);
	n += (size_t)k;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (k < 0)
		k = 0;
	n += (size_t)k;
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, n, f);
}

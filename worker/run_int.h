/* SPDX-License-Identifier: MIT */
/*
 * run_int.h - what the files of `janitor run` / `janitor report` share: the INI reader for
 * --config and the output for people (aligned text, a progress bar on a TTY). Only for
 * cmd_run.c, run_ini.c and run_out.c.
 */
#ifndef JANITOR_RUN_INT_H
#define JANITOR_RUN_INT_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "ops.h"

/* A parsed INI file: every "section.key = value" kept in memory (strings stay valid until
 * run_ini_free, so ops_options can borrow them). */
struct run_ini;

/* Reads path. ERR_CONFIG with "path:line: reason" for a line that is not a section, a
 * key = value or a comment (# or ;). */
struct run_ini *run_ini_load(const char *path, struct err *err);
void run_ini_free(struct run_ini *ini);
/* The value of key in section, NULL when absent. */
const char *run_ini_get(const struct run_ini *ini, const char *section, const char *key);
/* Applies every key of [maintenance] with ops_options_set. */
int run_ini_apply(const struct run_ini *ini, struct ops_options *opt, struct err *err);

/* Progress bar state for ops_run's callback; draws on f only when f is a TTY. */
struct run_progress {
	FILE *f;
	bool tty;
	bool drawn; /* a bar is on the line and must be cleared */
};

void run_progress_cb(void *ctx, int64_t done, int64_t total, const char *what);
void run_progress_clear(struct run_progress *p);

/* Text rendering of ops_run's document and of the report. */
void run_print_text(FILE *f, const cJSON *doc);
void run_print_report_text(FILE *f, const cJSON *report);

#endif

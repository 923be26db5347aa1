/* SPDX-License-Identifier: MIT */
/*
 * run_int.h - what the files of `janitor run` / `janitor report` share: the output for
 * people (aligned text, a progress bar on a TTY). Only for cmd_run.c and run_out.c.
 */
#ifndef JANITOR_RUN_INT_H
#define JANITOR_RUN_INT_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "ops.h"

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

/* SPDX-License-Identifier: MIT */
/*
 * exec_int.h - internals shared by exec.c (the forked child) and exec_task.c (a request's
 * lifecycle). Private to worker/.
 */
#ifndef JANITOR_EXEC_INT_H
#define JANITOR_EXEC_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "exec.h"

/* What the child is asked to do. Borrowed pointers, valid across the fork. */
struct child_job {
	enum exec_kind kind;                 /* EXEC_OP, EXEC_RUN or EXEC_REPORT */
	const char *db_url;                  /* from configuration, never from the message */
	const struct ops_entry *const *list; /* operations (not for EXEC_REPORT) */
	size_t n;
	struct ops_options opt;
	double soft; /* seconds, 0 = none: the child cancels its statement */
	double hard; /* seconds, 0 = none: the parent SIGKILLs the child */
};

/* What came back. Caller storage, zeroed before child_run. */
struct child_run {
	pid_t pid;
	int got_result; /* "R" line */
	int got_error;  /* "E" line or fork failure: err set */
	int soft_fired;
	int hard_fired;
	int signo;     /* the child died of this signal; 0 = exited */
	int exit_code; /* when it exited */
	int nfailed;
	cJSON *result; /* owned */
	struct err err;
	void (*progress)(void *ctx, int64_t done, int64_t total); /* parent side; may be NULL */
	void *progress_ctx;
};

/* Fork, run the job in the child, collect its lines until it exits (see exec.c). */
void child_run(const struct child_job *job, struct child_run *cr);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * ini.h - the one INI reader of janitor (/etc/janitor/janitor.conf): [section] headers,
 * key = value lines, # and ; comments. Both `janitor worker` (cfg.c) and `janitor run`
 * (cmd_run.c) read the same file through it, so one file configures both:
 *   [worker] settings of the daemon, [databases] alias = URL, [aliases] task = janitor task,
 *   [maintenance] engine options (ops_options_set keys: backup_dir, retention days, ...).
 * Is not: the meaning of the keys; callers validate them.
 *
 * Ownership: ini_load returns a tree the caller frees with ini_free; strings returned by
 * ini_get and ini_entry stay valid until then (so ops_options can borrow them).
 */
#ifndef JANITOR_INI_H
#define JANITOR_INI_H

#include <stddef.h>

#include "compat.h"
#include "err.h"

/* Read by both commands when no --config is given and it exists. */
#define INI_DEFAULT_FILE "/etc/janitor/janitor.conf"

struct ini;

/* One entry, in file order; line is its line number for error messages. */
struct ini_entry {
	const char *section; /* "" before the first header */
	const char *key;
	const char *value;
	int line;
};

/* Reads path. ERR_CONFIG with "path:line: reason" for a line that is not a section, a
 * key = value or a comment, or when the file cannot be read. */
struct ini *ini_load(const char *path, struct err *err) MUSTCHECK;
void ini_free(struct ini *ini);
/* The file's path as given to ini_load. */
const char *ini_path(const struct ini *ini);
size_t ini_count(const struct ini *ini);
/* Entry i (< ini_count) as a view valid until ini_free. */
struct ini_entry ini_entry(const struct ini *ini, size_t i);
/* The last value of key in section, NULL when absent. */
const char *ini_get(const struct ini *ini, const char *section, const char *key);

#endif

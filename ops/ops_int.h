/* SPDX-License-Identifier: MIT */
/*
 * ops_int.h - what the operation files share inside ops/ (never included outside ops/):
 * the entries of the table and the helpers of the engine core (result objects, batching,
 * retention cut-offs, catalog checks). Ownership as in ops.h.
 */
#ifndef JANITOR_OPS_INT_H
#define JANITOR_OPS_INT_H

#include "ops.h"

extern const struct ops_entry ops_vacuum_entry;
extern const struct ops_entry ops_reindex_entry;
extern const struct ops_entry ops_cleanup_entry;
extern const struct ops_entry ops_logs_entry;
extern const struct ops_entry ops_sessions_entry;
extern const struct ops_entry ops_views_entry;
extern const struct ops_entry ops_stats_entry;
extern const struct ops_entry ops_bloat_entry;
extern const struct ops_entry ops_backup_entry;

/* A new {"status": "completed", "operation": name} object. */
cJSON *ops_result_new(const char *name);
/* A new {"status": "skipped", "operation": name, "reason": reason} object. */
cJSON *ops_result_skipped(const char *name, const char *reason);

#endif

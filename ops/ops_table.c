/* SPDX-License-Identifier: MIT */
/*
 * ops_table.c - the operation table, in the spec's order (the order `--all` runs them).
 * A new operation is one file, one line here, and its tests.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

const struct ops_entry *const ops_table[] = {
	&ops_vacuum_entry,   &ops_reindex_entry,
	&ops_cleanup_entry,  &ops_logs_entry,
	&ops_sessions_entry, &ops_views_entry,
	&ops_stats_entry,    &ops_bloat_entry,
	&ops_backup_entry,   NULL,
};

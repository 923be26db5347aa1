/* SPDX-License-Identifier: MIT */
/*
 * ops_backup.c - placeholder for the backup operation until the maintenance work lands.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("backup", "not implemented yet");
}

const struct ops_entry ops_backup_entry = {
	.name = "backup",
	.title = "Backup",
	.flags = 0,
	.run = run,
};

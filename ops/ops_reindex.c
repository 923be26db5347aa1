/* SPDX-License-Identifier: MIT */
/*
 * ops_reindex.c - placeholder for the reindex operation until the maintenance work lands.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("reindex", "not implemented yet");
}

const struct ops_entry ops_reindex_entry = {
	.name = "reindex",
	.title = "Reindex",
	.flags = 0,
	.run = run,
};

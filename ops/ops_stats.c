/* SPDX-License-Identifier: MIT */
/*
 * ops_stats.c - placeholder for the stats operation until the maintenance work lands.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("stats", "not implemented yet");
}

const struct ops_entry ops_stats_entry = {
	.name = "stats",
	.title = "Stats",
	.flags = 0,
	.run = run,
};

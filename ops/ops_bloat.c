/* SPDX-License-Identifier: MIT */
/*
 * ops_bloat.c - placeholder for the bloat operation until the maintenance work lands.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("bloat", "not implemented yet");
}

const struct ops_entry ops_bloat_entry = {
	.name = "bloat",
	.title = "Bloat",
	.flags = 0,
	.run = run,
};

/* SPDX-License-Identifier: MIT */
/* ops_cleanup.c - placeholder (being written). */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("cleanup", "not implemented yet");
}

const struct ops_entry ops_cleanup_entry = {
	.name = "cleanup",
	.title = "Clean failed tasks",
	.flags = OPS_WRITES | OPS_LONG,
	.run = run,
};

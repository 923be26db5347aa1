/* SPDX-License-Identifier: MIT */
/* ops_logs.c - placeholder (being written). */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("logs", "not implemented yet");
}

const struct ops_entry ops_logs_entry = {
	.name = "logs",
	.title = "Clean audit/task logs",
	.flags = OPS_WRITES | OPS_LONG,
	.run = run,
};

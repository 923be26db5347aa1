/* SPDX-License-Identifier: MIT */
/* ops_sessions.c - placeholder (being written). */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("sessions", "not implemented yet");
}

const struct ops_entry ops_sessions_entry = {
	.name = "sessions",
	.title = "Clean expired sessions",
	.flags = OPS_WRITES | OPS_LONG,
	.run = run,
};

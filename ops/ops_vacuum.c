/* SPDX-License-Identifier: MIT */
/*
 * ops_vacuum.c - placeholder for the vacuum operation until the maintenance work lands.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("vacuum", "not implemented yet");
}

const struct ops_entry ops_vacuum_entry = {
	.name = "vacuum",
	.title = "Vacuum",
	.flags = 0,
	.run = run,
};

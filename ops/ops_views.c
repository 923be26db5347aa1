/* SPDX-License-Identifier: MIT */
/*
 * ops_views.c - placeholder for the views operation until the maintenance work lands.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx UNUSED, struct err *err UNUSED)
{
	return ops_result_skipped("views", "not implemented yet");
}

const struct ops_entry ops_views_entry = {
	.name = "views",
	.title = "Views",
	.flags = 0,
	.run = run,
};

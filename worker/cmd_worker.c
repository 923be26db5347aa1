/* SPDX-License-Identifier: MIT */
/*
 * cmd_worker.c - `janitor worker` (placeholder until the worker lands).
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "compat.h"

int
cmd_worker(int argc UNUSED, char **argv UNUSED)
{
	fprintf(stderr, "janitor worker: not built yet\n");
	return 2;
}

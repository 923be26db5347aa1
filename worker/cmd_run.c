/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.c - `janitor run` and `janitor report` (placeholder until the engine lands).
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "compat.h"

int
cmd_run(int argc UNUSED, char **argv UNUSED)
{
	fprintf(stderr, "janitor run: not built yet\n");
	return 2;
}

int
cmd_report(int argc UNUSED, char **argv UNUSED)
{
	fprintf(stderr, "janitor report: not built yet\n");
	return 2;
}

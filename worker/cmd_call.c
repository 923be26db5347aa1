/* SPDX-License-Identifier: MIT */
/*
 * cmd_call.c - `janitor call` (placeholder until the worker lands).
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "compat.h"

int
cmd_call(int argc UNUSED, char **argv UNUSED)
{
	fprintf(stderr, "janitor call: not built yet\n");
	return 2;
}

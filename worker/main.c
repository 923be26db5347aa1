/* SPDX-License-Identifier: MIT */
/*
 * main.c - the janitor binary: picks a subcommand from a table and hands it the arguments.
 * No option of its own besides --version and --help.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "compat.h"
#include "xalloc.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "worker", cmd_worker, "consume Celery task messages and run maintenance" },
	{ "run", cmd_run, "run maintenance operations once and print the result" },
	{ "call", cmd_call, "publish a Celery task message (like `celery call`)" },
	{ "report", cmd_report, "print the maintenance report" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: janitor COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`janitor COMMAND --help` describes a command's options.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	xalloc_install_cjson();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("janitor %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	/* Not in the table: never shown, only the worker starts it (exec_child.c). */
	if (strcmp(argv[1], "__exec-child") == 0)
		return cmd_exec_child(argc - 1, argv + 1);
	for (i = 0; i < ARRAY_LEN(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "janitor: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the janitor subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand) and returns the process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef JANITOR_CLI_H
#define JANITOR_CLI_H

int cmd_run(int argc, char **argv);    /* janitor run: operations once, text or JSON */
int cmd_report(int argc, char **argv); /* janitor report: the maintenance report */
int cmd_worker(int argc, char **argv); /* janitor worker: the Celery-compatible daemon */
int cmd_call(int argc, char **argv);   /* janitor call: publish a task like `celery call` */
/* janitor __exec-child (hidden): the process one maintenance task runs in (exec_child.c). */
int cmd_exec_child(int argc, char **argv);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * test_worker_cfg.c - unit tests for the worker's configuration table (defaults, file,
 * environment and flag precedence, errors, masking) and the pure task helpers of exec.c
 * (registry with aliases, celery.accumulate, maintenance.run's operation list).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfg.h"
#include "exec.h"
#include "xalloc.h"

static FILE *
devnull(void)
{
	return fopen("/dev/null", "w");
}

/* cfg_load on a writable copy of args (getopt may permute it). */
static int
load(struct cfg *c, struct err *e, int argc, const char *const *args)
{
	FILE *f = devnull();
	char **argv = xcalloc((size_t)argc + 1, sizeof(char *));
	int i, rc;

	for (i = 0; i < argc; i++)
		argv[i] = xstrdup(args[i]);
	rc = cfg_load(c, argc, argv, f, e);
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	fclose(f);
	return rc;
}

static void
test_cfg_load_defaults_are_celerys(void **state)
{
	const char *argv[] = { "worker", NULL };
	struct cfg c;
	struct err e;

	(void)state;
	unsetenv("CELERY_BROKER_URL");
	unsetenv("CELERY_RESULT_BACKEND");
	unsetenv("DATABASE_URL");
	err_clear(&e);
	assert_int_equal(load(&c, &e, 1, argv), 0);
	assert_string_equal(c.queues, "celery");
	assert_int_equal(c.prefetch_multiplier, 4);
	assert_true(c.visibility_timeout == 3600);
	assert_true(c.result_expires == 86400);
	assert_false(c.acks_late);
	assert_int_equal(c.concurrency, 0);
	assert_null(c.result_backend);
	cfg_cleanup(&c);
}

static void
test_cfg_load_precedence_flag_env_file(void **state)
{
	char path[] = "/tmp/janitor-cfg-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	const char *argv[] = { "worker", "--config",    path,         "-c",
		               "3",      "--acks-late", "--database", "reports=sqlite:///r.db",
		               NULL };
	struct cfg c;
	struct err e;

	(void)state;
	fprintf(f, "# comment\n[worker]\nconcurrency = 9\nprefetch-multiplier = 2\n"
	           "broker_url = redis://file/0\n[databases]\ndefault = sqlite:///f.db\n"
	           "[aliases]\ncore.tasks.database_maintenance = maintenance.run\n");
	fclose(f);
	setenv("CELERY_BROKER_URL", "redis://env/1", 1);
	err_clear(&e);
	assert_int_equal(load(&c, &e, 8, argv), 0);
	assert_int_equal(c.concurrency, 3);                 /* flag beats file */
	assert_int_equal(c.prefetch_multiplier, 2);         /* file beats default */
	assert_string_equal(c.broker_url, "redis://env/1"); /* env beats file */
	assert_true(c.acks_late);
	assert_string_equal(cfg_database_lookup(&c, "default"), "sqlite:///f.db");
	assert_string_equal(cfg_database_lookup(&c, "reports"), "sqlite:///r.db");
	assert_null(cfg_database_lookup(&c, "other"));
	assert_string_equal(cfg_alias_lookup(&c, "core.tasks.database_maintenance"),
	                    "maintenance.run");
	cfg_cleanup(&c);
	unsetenv("CELERY_BROKER_URL");
	unlink(path);
}

static void
test_cfg_load_rejects_unknown_key_and_bad_values(void **state)
{
	char path[] = "/tmp/janitor-cfg-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	const char *argv[] = { "worker", "--config", path, NULL };
	const char *argv2[] = { "worker", "-c", "many", NULL };
	const char *argv3[] = { "worker", "--no-such-flag", NULL };
	struct cfg c;
	struct err e;

	(void)state;
	fprintf(f, "[worker]\nconcurency = 2\n");
	fclose(f);
	err_clear(&e);
	assert_int_equal(load(&c, &e, 3, argv), -1);
	assert_int_equal(e.cls, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "unknown key 'concurency'"));
	cfg_cleanup(&c);
	unlink(path);
	assert_int_equal(load(&c, &e, 3, argv2), -1);
	assert_non_null(strstr(e.msg, "concurrency"));
	cfg_cleanup(&c);
	assert_int_equal(load(&c, &e, 2, argv3), -1);
	assert_non_null(strstr(e.msg, "--no-such-flag"));
	cfg_cleanup(&c);
}

/* One file configures both commands: [maintenance] keys are kept for the executors and
 * checked at load, so a typo fails at start rather than at the first task. */
static void
test_cfg_load_maintenance_section_checked_and_kept(void **state)
{
	char path[] = "/tmp/janitor-cfg-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	const char *argv[] = { "worker", "--config", path, NULL };
	struct cfg c;
	struct err e;

	(void)state;
	fprintf(f, "[maintenance]\nbackup_dir = /srv/backups\naudit_days = 30\n");
	fclose(f);
	err_clear(&e);
	assert_int_equal(load(&c, &e, 3, argv), 0);
	assert_int_equal(c.nmaintenance, 2);
	assert_string_equal(c.maintenance[0].key, "backup_dir");
	assert_string_equal(c.maintenance[0].value, "/srv/backups");
	assert_string_equal(c.maintenance[1].value, "30");
	cfg_cleanup(&c);
	f = fopen(path, "w");
	fprintf(f, "[worker]\nqueues = celery\n[maintenance]\naudit_dayz = 30\n");
	fclose(f);
	assert_int_equal(load(&c, &e, 3, argv), -1);
	assert_int_equal(e.cls, ERR_CONFIG);
	assert_non_null(strstr(e.msg, ":4:"));
	assert_non_null(strstr(e.msg, "audit_dayz"));
	cfg_cleanup(&c);
	f = fopen(path, "w");
	fprintf(f, "[wroker]\nqueues = celery\n");
	fclose(f);
	assert_int_equal(load(&c, &e, 3, argv), -1);
	assert_non_null(strstr(e.msg, "unknown section [wroker]"));
	cfg_cleanup(&c);
	unlink(path);
}

static void
test_exec_name_listed_matches_whole_names(void **state)
{
	(void)state;
	assert_true(exec_name_listed("maintenance.logs", "maintenance.logs"));
	assert_true(
	        exec_name_listed(" maintenance.vacuum , maintenance.logs ", "maintenance.logs"));
	assert_false(exec_name_listed("maintenance.logs", "maintenance.log"));
	assert_false(exec_name_listed("maintenance.logsx", "maintenance.logs"));
	assert_false(exec_name_listed("", "maintenance.logs"));
	assert_false(exec_name_listed(NULL, "maintenance.logs"));
}

static void
test_cfg_database_url_without_alias_is_default(void **state)
{
	const char *argv[] = { "worker", "--database", "postgresql://u:pw@h/db?sslmode=require",
		               NULL };
	struct cfg c;
	struct err e;

	(void)state;
	err_clear(&e);
	setenv("DATABASE_URL", "sqlite:///env.db", 1);
	assert_int_equal(load(&c, &e, 3, argv), 0);
	assert_string_equal(cfg_database_lookup(&c, "default"),
	                    "postgresql://u:pw@h/db?sslmode=require");
	cfg_cleanup(&c);
	unsetenv("DATABASE_URL");
}

static void
test_cfg_mask_url_hides_password(void **state)
{
	char *m;

	(void)state;
	m = cfg_mask_url("redis://:secret@host:6379/0");
	assert_string_equal(m, "redis://:****@host:6379/0");
	free(m);
	m = cfg_mask_url("postgresql://u:pw@h/db");
	assert_string_equal(m, "postgresql://u:****@h/db");
	free(m);
	m = cfg_mask_url("redis://host/0");
	assert_string_equal(m, "redis://host/0");
	free(m);
	m = cfg_mask_url("postgresql://h/db?user=u&password=pw&sslmode=require");
	assert_string_equal(m, "postgresql://h/db?user=u&password=****&sslmode=require");
	free(m);
	m = cfg_mask_url("postgresql://a:b@h/db?password=longersecret");
	assert_string_equal(m, "postgresql://a:****@h/db?password=****");
	free(m);
	m = cfg_mask_url("host=h password=pw dbname=x");
	assert_string_equal(m, "****");
	free(m);
}

static void
test_cfg_queue_list_splits_and_trims(void **state)
{
	struct cfg c;
	char **q;
	size_t n, i;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.queues = xstrdup(" a, b ,,c");
	q = cfg_queue_list(&c, &n);
	assert_int_equal(n, 3);
	assert_string_equal(q[0], "a");
	assert_string_equal(q[1], "b");
	assert_string_equal(q[2], "c");
	for (i = 0; i < n; i++)
		free(q[i]);
	free(q);
	free(c.queues);
}

static void
test_exec_resolve_names_and_aliases(void **state)
{
	char key[] = "core.tasks.database_maintenance", val[] = "maintenance.run";
	struct cfg_kv alias = { key, val };
	struct exec_settings s;
	struct exec_target t;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.aliases = &alias;
	s.naliases = 1;
	assert_int_equal(exec_resolve(&s, "maintenance.vacuum", &t), 0);
	assert_int_equal(t.kind, EXEC_OP);
	assert_string_equal(t.op->name, "vacuum");
	assert_int_equal(exec_resolve(&s, "core.tasks.database_maintenance", &t), 0);
	assert_int_equal(t.kind, EXEC_RUN);
	assert_int_equal(exec_resolve(&s, "celery.accumulate", &t), 0);
	assert_int_equal(t.kind, EXEC_ACCUMULATE);
	assert_int_equal(exec_resolve(&s, "maintenance.report", &t), 0);
	assert_int_equal(t.kind, EXEC_REPORT);
	assert_int_equal(exec_resolve(&s, "maintenance.nope", &t), -1);
	assert_int_equal(exec_resolve(&s, "vacuum", &t), -1);
}

static void
test_exec_accumulate_returns_args_or_index(void **state)
{
	cJSON *args = cJSON_Parse("[1, \"x\", 3]"), *kw = cJSON_Parse("{}");
	cJSON *kwi = cJSON_Parse("{\"index\": -1}"), *bad = cJSON_Parse("{\"index\": 7}");
	cJSON *r;
	struct err e;

	(void)state;
	err_clear(&e);
	r = exec_accumulate(args, kw, &e);
	assert_true(cJSON_Compare(r, args, 1));
	cJSON_Delete(r);
	r = exec_accumulate(args, kwi, &e);
	assert_int_equal((int)r->valuedouble, 3);
	cJSON_Delete(r);
	assert_null(exec_accumulate(args, bad, &e));
	assert_int_equal(e.cls, ERR_INVALID);
	cJSON_Delete(args);
	cJSON_Delete(kw);
	cJSON_Delete(kwi);
	cJSON_Delete(bad);
}

static void
test_exec_run_list_from_kwargs_args_or_all(void **state)
{
	cJSON *noargs = cJSON_Parse("[]"), *args = cJSON_Parse("[[\"logs\", \"vacuum\"]]");
	cJSON *kw = cJSON_Parse("{\"operations\": [\"sessions\"]}"), *empty = cJSON_Parse("{}");
	cJSON *bad = cJSON_Parse("{\"operations\": [\"drop_everything\"]}");
	const struct ops_entry **l;
	size_t n, all = 0;
	struct err e;

	(void)state;
	err_clear(&e);
	l = exec_run_list(noargs, kw, &n, &e);
	assert_int_equal(n, 1);
	assert_string_equal(l[0]->name, "sessions");
	free(l);
	l = exec_run_list(args, empty, &n, &e);
	assert_int_equal(n, 2);
	assert_string_equal(l[0]->name, "logs");
	assert_string_equal(l[1]->name, "vacuum");
	free(l);
	while (ops_table[all] != NULL)
		all++;
	l = exec_run_list(noargs, empty, &n, &e);
	assert_int_equal(n, all);
	free(l);
	assert_null(exec_run_list(noargs, bad, &n, &e));
	assert_int_equal(e.cls, ERR_INVALID);
	assert_non_null(strstr(e.msg, "drop_everything"));
	cJSON_Delete(noargs);
	cJSON_Delete(args);
	cJSON_Delete(kw);
	cJSON_Delete(empty);
	cJSON_Delete(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfg_load_defaults_are_celerys),
		cmocka_unit_test(test_cfg_load_precedence_flag_env_file),
		cmocka_unit_test(test_cfg_load_rejects_unknown_key_and_bad_values),
		cmocka_unit_test(test_cfg_load_maintenance_section_checked_and_kept),
		cmocka_unit_test(test_exec_name_listed_matches_whole_names),
		cmocka_unit_test(test_cfg_database_url_without_alias_is_default),
		cmocka_unit_test(test_cfg_mask_url_hides_password),
		cmocka_unit_test(test_cfg_queue_list_splits_and_trims),
		cmocka_unit_test(test_exec_resolve_names_and_aliases),
		cmocka_unit_test(test_exec_accumulate_returns_args_or_index),
		cmocka_unit_test(test_exec_run_list_from_kwargs_args_or_all),
	};

	xalloc_install_cjson();
	return cmocka_run_group_tests_name("worker_cfg", tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the run bookkeeping of the engine, once for every operation: lookup in the table,
 * options and their JSON/INI overrides, result objects, the cross-worker lock, timeouts,
 * timing, "metadata", and the core_taskexecutionlog row. Operations only do their own work.
 */
#include "config.h"

#include "ops.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops_int.h"
#include "strbuf.h"
#include "xalloc.h"

/* ---- lookup ---- */

const struct ops_entry *
ops_lookup(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; ops_table[i] != NULL; i++)
		if (strcmp(ops_table[i]->name, name) == 0)
			return ops_table[i];
	return NULL;
}

const char *
ops_names(void)
{
	/* Kept equal to ops_table by test_ops_names_matches_table. */
	return "vacuum, reindex, cleanup, logs, sessions, views, stats, bloat, backup";
}

/* ---- options ---- */

void
ops_options_init(struct ops_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->log_execution = true;
	opt->failed_archive_days = 365;
	opt->failed_delete_days = 730;
	opt->failed_batch = 1000;
	opt->audit_days = 90;
	opt->tasklog_days = 30;
	opt->logs_batch = 10000;
	opt->sessions_batch = 10000;
	opt->lock_timeout_ms = 5000;
	opt->statement_timeout_ms = 0;
	opt->backup_dir = "/var/backups/janitor";
	opt->backup_keep = 7;
	opt->auditlog_table = "core_auditlog";
	opt->auditlog_ts = "timestamp";
	opt->tasklog_table = "core_taskexecutionlog";
	opt->tasklog_ts = "created_at";
	opt->failed_table = "core_failedtask";
	opt->failed_ts = "created_at";
	opt->session_table = "django_session";
	opt->session_expire = "expire_date";
}

enum opt_type {
	OPT_INT,
	OPT_BOOL,
	OPT_STR,
};

/* One settable option: integer fields are bounded; `task` marks what a task message may set. */
struct opt_row {
	const char *key;
	enum opt_type type;
	size_t off;
	int min, max;
	bool task;
};

#define OFF(f) offsetof(struct ops_options, f)

static const struct opt_row opt_rows[] = {
	{ "dry_run", OPT_BOOL, OFF(dry_run), 0, 1, true },
	{ "log_execution", OPT_BOOL, OFF(log_execution), 0, 1, false },
	{ "failed_archive_days", OPT_INT, OFF(failed_archive_days), 1, 36500, true },
	{ "failed_delete_days", OPT_INT, OFF(failed_delete_days), 1, 36500, true },
	{ "failed_batch", OPT_INT, OFF(failed_batch), 1, 1000000, true },
	{ "audit_days", OPT_INT, OFF(audit_days), 1, 36500, true },
	{ "tasklog_days", OPT_INT, OFF(tasklog_days), 1, 36500, true },
	{ "logs_batch", OPT_INT, OFF(logs_batch), 1, 1000000, true },
	{ "sessions_batch", OPT_INT, OFF(sessions_batch), 1, 1000000, true },
	{ "lock_timeout_ms", OPT_INT, OFF(lock_timeout_ms), 0, 86400000, false },
	{ "statement_timeout_ms", OPT_INT, OFF(statement_timeout_ms), 0, INT_MAX, false },
	{ "backup_keep", OPT_INT, OFF(backup_keep), 1, 10000, false },
	{ "backup_dir", OPT_STR, OFF(backup_dir), 0, 0, false },
	{ "pg_dump", OPT_STR, OFF(pg_dump), 0, 0, false },
	{ "auditlog_table", OPT_STR, OFF(auditlog_table), 0, 0, false },
	{ "auditlog_ts", OPT_STR, OFF(auditlog_ts), 0, 0, false },
	{ "tasklog_table", OPT_STR, OFF(tasklog_table), 0, 0, false },
	{ "tasklog_ts", OPT_STR, OFF(tasklog_ts), 0, 0, false },
	{ "failed_table", OPT_STR, OFF(failed_table), 0, 0, false },
	{ "failed_ts", OPT_STR, OFF(failed_ts), 0, 0, false },
	{ "session_table", OPT_STR, OFF(session_table), 0, 0, false },
	{ "session_expire", OPT_STR, OFF(session_expire), 0, 0, false },
};

/* Keys of a maintenance task's kwargs that the caller (worker/) handles, not the options. */
static const char *const caller_keys[] = { "database", "operations", "all" };

static const struct opt_row *
find_row(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(opt_rows); i++)
		if (strcmp(opt_rows[i].key, key) == 0)
			return &opt_rows[i];
	return NULL;
}

static bool
is_caller_key(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(caller_keys); i++)
		if (strcmp(caller_keys[i], key) == 0)
			return true;
	return false;
}

static int
set_int(struct ops_options *opt, const struct opt_row *row, double v, struct err *err)
{
	if (v != floor(v) || v < row->min || v > row->max)
		return err_set(err, ERR_INVALID, "%s: must be an integer from %d to %d", row->key,
		               row->min, row->max);
	*(int *)((char *)opt + row->off) = (int)v;
	return 0;
}

int
ops_options_apply_json(struct ops_options *opt, const cJSON *kwargs, struct err *err)
{
	const struct opt_row *row;
	const cJSON *it;

	if (kwargs == NULL || cJSON_IsNull(kwargs))
		return 0;
	if (!cJSON_IsObject(kwargs))
		return err_set(err, ERR_INVALID, "kwargs: not an object");
	cJSON_ArrayForEach(it, kwargs) {
		if (is_caller_key(it->string))
			continue;
		row = find_row(it->string);
		if (row == NULL)
			return err_set(err, ERR_INVALID, "%s: unknown option", it->string);
		if (!row->task) /* paths, table names, timeouts: the operator's, never a message's
		                 */
			return err_set(err, ERR_INVALID,
			               "%s: set in the configuration only, not by a task",
			               row->key);
		if (row->type == OPT_BOOL) {
			if (!cJSON_IsBool(it))
				return err_set(err, ERR_INVALID, "%s: not a boolean", row->key);
			*(bool *)((char *)opt + row->off) = cJSON_IsTrue(it);
			continue;
		}
		if (!cJSON_IsNumber(it))
			return err_set(err, ERR_INVALID, "%s: not a number", row->key);
		if (set_int(opt, row, it->valuedouble, err) < 0)
			return -1;
	}
	return 0;
}

static int
parse_bool_text(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t i;

	for (i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int
ops_options_set(struct ops_options *opt, const char *key, const char *value, struct err *err)
{
	const struct opt_row *row = find_row(key);
	char *end = NULL;
	long long v;

	if (strcmp(key, "now") == 0) { /* tests: a fixed clock, seconds since the epoch */
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v <= 0)
			return err_set(err, ERR_CONFIG, "now: not a positive integer: %s", value);
		opt->now_override = v;
		return 0;
	}
	if (row == NULL)
		return err_set(err, ERR_CONFIG, "%s: unknown maintenance option", key);
	switch (row->type) {
	case OPT_STR:
		*(const char **)((char *)opt + row->off) = value;
		return 0;
	case OPT_BOOL:
		if (parse_bool_text(value, (bool *)((char *)opt + row->off)) < 0)
			return err_set(err, ERR_CONFIG, "%s: not a boolean: %s", key, value);
		return 0;
	case OPT_INT:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0')
			return err_set(err, ERR_CONFIG, "%s: not an integer: %s", key, value);
		if (set_int(opt, row, (double)v, err) < 0) {
			err->cls = ERR_CONFIG;
			return -1;
		}
		return 0;
	}
	return err_set(err, ERR_BUG, "%s: bad option type", key);
}

/* ---- results ---- */

static cJSON *
result_with(const char *name, const char *status)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddStringToObject(o, "operation", name);
	return o;
}

cJSON *
ops_result_new(const char *name)
{
	return result_with(name, "completed");
}

cJSON *
ops_result_skipped(const char *name, const char *reason)
{
	cJSON *o = result_with(name, "skipped");

	cJSON_AddStringToObject(o, "reason", reason);
	return o;
}

cJSON *
ops_result_failed(const char *name, const char *error)
{
	cJSON *o = result_with(name, "failed");

	cJSON_AddStringToObject(o, "error", error);
	return o;
}

cJSON *
ops_result_missing_table(const char *name, const char *table)
{
	char reason[300];

	snprintf(reason, sizeof(reason), "table %s does not exist", table);
	return ops_result_skipped(name, reason);
}

static const char *const status_names[] = {
	[OPS_COMPLETED] = "completed",
	[OPS_SKIPPED] = "skipped",
	[OPS_FAILED] = "failed",
};

const char *
ops_status_name(enum ops_status st)
{
	if ((size_t)st >= ARRAY_LEN(status_names))
		return "failed";
	return status_names[st];
}

enum ops_status
ops_result_status(const cJSON *result)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "status"));

	if (s != NULL && strcmp(s, "completed") == 0)
		return OPS_COMPLETED;
	if (s != NULL && strcmp(s, "skipped") == 0)
		return OPS_SKIPPED;
	return OPS_FAILED; /* missing or unknown status is never success */
}

/* ---- clock ---- */

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
ops_now(const struct ops_ctx *ctx)
{
	if (ctx->opt->now_override != 0)
		return ctx->opt->now_override;
	return wall_us() / 1000000;
}

void
ops_cutoff(const struct ops_ctx *ctx, int days, char *buf, size_t size)
{
	db_format_time(ctx->db, ops_now(ctx) - (int64_t)days * 86400, buf, size);
}

void
ops_progress(const struct ops_ctx *ctx, int64_t done, int64_t total, const char *what)
{
	if (ctx->progress != NULL)
		ctx->progress(ctx->progress_ctx, done, total, what);
}

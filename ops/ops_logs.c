/* SPDX-License-Identifier: MIT */
/*
 * ops_logs.c - the logs operation: delete audit-log rows older than audit_days and task
 * execution-log rows older than tasklog_days, logs_batch rows per transaction, reported per
 * table under "details" as the spec does ("Audit Logs", "Task Logs"). A missing table skips
 * its part only. Batching, dry-run and progress are ops_batch.c's.
 */
#include "config.h"

#include "ops.h"

#include <stddef.h>

#include "ops_int.h"

struct logs_part {
	const char *label;                  /* key under "details" */
	size_t table_off, ts_off, days_off; /* offsets into struct ops_options */
};

static const struct logs_part parts[] = {
	{ "Audit Logs", offsetof(struct ops_options, auditlog_table),
	  offsetof(struct ops_options, auditlog_ts), offsetof(struct ops_options, audit_days) },
	{ "Task Logs", offsetof(struct ops_options, tasklog_table),
	  offsetof(struct ops_options, tasklog_ts), offsetof(struct ops_options, tasklog_days) },
};

#define OPT_STR(opt, off) (*(const char *const *)((const char *)(opt) + (off)))
#define OPT_INT(opt, off) (*(const int *)((const char *)(opt) + (off)))

static cJSON *
run(struct ops_ctx *ctx, struct err *err)
{
	cJSON *res = ops_result_new("logs"), *details = cJSON_CreateObject(), *part;
	char cutoff[DB_TIME_MAX];
	int64_t rows = 0;
	size_t i, nmissing = 0;
	bool missing;

	cJSON_AddItemToObject(res, "details", details);
	for (i = 0; i < ARRAY_LEN(parts); i++) {
		const char *idents[3] = { OPT_STR(ctx->opt, parts[i].table_off),
			                  OPT_STR(ctx->opt, parts[i].ts_off), "id" };
		int days = OPT_INT(ctx->opt, parts[i].days_off);
		struct ops_batch_spec spec = {
			.what = idents[0],
			.idents = idents,
			.nidents = 3,
			.cutoff = cutoff,
			.batch = ctx->opt->logs_batch,
		};

		ops_batch_by_date(&spec);
		ops_cutoff(ctx, days, cutoff, sizeof(cutoff));
		part = ops_batch_part(ctx, &spec, "deleted", &missing, &rows, err);
		if (part == NULL)
			goto fail;
		cJSON_AddNumberToObject(part, "days", days);
		cJSON_AddItemToObject(details, parts[i].label, part);
		nmissing += missing;
	}
	if (nmissing == ARRAY_LEN(parts)) {
		cJSON_Delete(res);
		return ops_result_skipped("logs", "tables do not exist");
	}
	cJSON_AddNumberToObject(res, "rows_deleted", (double)rows);
	return res;
fail:
	cJSON_Delete(res);
	return NULL;
}

const struct ops_entry ops_logs_entry = {
	.name = "logs",
	.title = "Clean audit/task logs",
	.flags = OPS_WRITES | OPS_LONG,
	.run = run,
};

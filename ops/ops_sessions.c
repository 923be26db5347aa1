/* SPDX-License-Identifier: MIT */
/*
 * ops_sessions.c - the sessions operation: delete expired django_session rows (expire_date
 * before the run's start), sessions_batch rows per transaction, keyed by session_key. Unlike
 * Django's clearsessions (one unbatched DELETE), no transaction outlives one batch.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

static cJSON *
run(struct ops_ctx *ctx, struct err *err)
{
	const char *idents[3] = { ctx->opt->session_table, ctx->opt->session_expire,
		                  "session_key" };
	char cutoff[DB_TIME_MAX];
	struct ops_batch_spec spec = {
		.what = idents[0],
		.idents = idents,
		.nidents = 3,
		.cutoff = cutoff,
		.batch = ctx->opt->sessions_batch,
	};
	int64_t rows = 0;
	bool missing;
	cJSON *part, *res;

	ops_batch_by_date(&spec);
	ops_cutoff(ctx, 0, cutoff, sizeof(cutoff));
	part = ops_batch_part(ctx, &spec, "deleted", &missing, &rows, err);
	if (part == NULL)
		return NULL;
	if (missing) {
		cJSON_Delete(part);
		return ops_result_missing_table("sessions", idents[0]);
	}
	res = ops_result_new("sessions");
	cJSON_AddNumberToObject(res, "rows_deleted", (double)rows);
	cJSON_AddItemToObject(res, "details", part);
	return res;
}

const struct ops_entry ops_sessions_entry = {
	.name = "sessions",
	.title = "Clean expired sessions",
	.flags = OPS_WRITES | OPS_LONG,
	.run = run,
};

/* SPDX-License-Identifier: MIT */
/*
 * ops_cleanup.c - the cleanup operation on core_failedtask, in two batched steps:
 *   1. archive (is_archived, archived_at = run start) rows older than failed_archive_days;
 *   2. delete archived rows older than failed_delete_days, both measured from created_at
 *      (the reference's reading of the spec: a row goes 730 days after the failure).
 * failed_batch rows per transaction. Step 1 skips rows the application has locked.
 */
#include "config.h"

#include "ops.h"

#include "ops_int.h"

/* {0} table, {1} created_at, {2} id, {3} is_archived, {4} archived_at. The PostgreSQL archive
 * step keeps the id form: FOR UPDATE SKIP LOCKED may follow an update chain, and the id names
 * the row whatever version was locked. */
static const char archive_pg[] =
        "UPDATE {0} SET {3} = true, {4} = $3::timestamptz WHERE {2} = ANY (ARRAY("
        "SELECT {2} FROM {0} WHERE NOT {3} AND {1} < $1::timestamptz ORDER BY {1} "
        "LIMIT $2::int FOR UPDATE SKIP LOCKED))";
static const char archive_sqlite[] = "UPDATE {0} SET {3} = 1, {4} = $3 WHERE {2} IN ("
                                     "SELECT {2} FROM {0} WHERE NOT {3} AND {1} < $1 "
                                     "ORDER BY {1} LIMIT $2)";
static const char archive_count[] = "SELECT count(*) FROM {0} WHERE NOT {3} AND {1} < $1";
/* Step 2 in range mode (ops_batch.c), restricted to archived rows: the bound is an index-only
 * scan of (is_archived, created_at), the DELETE a range scan of it; the ties statement uses
 * ctid as ops_batch.c explains. */
static const char delete_first[] =
        "SELECT {1} FROM {0} WHERE {3} AND {1} < $1 ORDER BY {1} LIMIT 1";
static const char delete_bound[] = "SELECT {1} FROM {0} WHERE {3} AND {1} >= $3 AND {1} < $1 "
                                   "ORDER BY {1} LIMIT 1 OFFSET $2";
static const char delete_range[] = "DELETE FROM {0} WHERE {3} AND {1} >= $2 AND {1} < $1";
static const char delete_pg[] = "DELETE FROM {0} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {0} "
                                "WHERE {3} AND {1} >= $3 AND {1} < $1 ORDER BY {1} LIMIT $2))";
static const char delete_sqlite[] = "DELETE FROM {0} WHERE {2} IN (SELECT {2} FROM {0} "
                                    "WHERE {3} AND {1} >= $3 AND {1} < $1 ORDER BY {1} "
                                    "LIMIT $2)";
/* Step 2 also takes what step 1 archives in the same run: every row older than the delete
 * cut-off is (or is about to be) archived, so the dry-run count drops the is_archived test. */
static const char delete_count[] = "SELECT count(*) FROM {0} WHERE {1} < $1";

static cJSON *
run(struct ops_ctx *ctx, struct err *err)
{
	const char *idents[5] = { ctx->opt->failed_table, ctx->opt->failed_ts, "id", "is_archived",
		                  "archived_at" };
	char archive_cut[DB_TIME_MAX], delete_cut[DB_TIME_MAX], now[DB_TIME_MAX];
	struct ops_batch_spec archive = {
		.what = "archive",
		.sql_pg = archive_pg,
		.sql_sqlite = archive_sqlite,
		.count_sql = archive_count,
		.idents = idents,
		.nidents = 5,
		.cutoff = archive_cut,
		.param3 = now,
		.batch = ctx->opt->failed_batch,
	};
	struct ops_batch_spec del = archive;
	int64_t archived = 0, deleted = 0;
	cJSON *res = NULL, *details = NULL, *part;
	bool missing;

	ops_cutoff(ctx, ctx->opt->failed_archive_days, archive_cut, sizeof(archive_cut));
	ops_cutoff(ctx, ctx->opt->failed_delete_days, delete_cut, sizeof(delete_cut));
	ops_cutoff(ctx, 0, now, sizeof(now));
	del.what = "delete";
	del.sql_pg = delete_pg;
	del.sql_sqlite = delete_sqlite;
	del.count_sql = delete_count;
	del.first_sql = delete_first;
	del.bound_sql = delete_bound;
	del.range_sql = delete_range;
	del.cutoff = delete_cut;
	del.param3 = NULL;

	part = ops_batch_part(ctx, &archive, "archived", &missing, &archived, err);
	if (part == NULL)
		return NULL;
	if (missing) {
		cJSON_Delete(part);
		return ops_result_missing_table("cleanup", idents[0]);
	}
	res = ops_result_new("cleanup");
	details = cJSON_AddObjectToObject(res, "details");
	cJSON_AddNumberToObject(part, "days", ctx->opt->failed_archive_days);
	cJSON_AddItemToObject(details, "Archived Failed Tasks", part);
	part = ops_batch_part(ctx, &del, "deleted", &missing, &deleted, err);
	if (part == NULL)
		goto fail;
	cJSON_AddNumberToObject(part, "days", ctx->opt->failed_delete_days);
	cJSON_AddItemToObject(details, "Deleted Failed Tasks", part);
	cJSON_AddNumberToObject(res, "rows_processed", (double)(archived + deleted));
	cJSON_AddNumberToObject(res, "rows_archived", (double)archived);
	cJSON_AddNumberToObject(res, "rows_deleted", (double)deleted);
	cJSON_AddItemToObject(res, "errors", cJSON_CreateArray());
	return res;
fail:
	cJSON_Delete(res);
	return NULL;
}

const struct ops_entry ops_cleanup_entry = {
	.name = "cleanup",
	.title = "Clean failed tasks",
	.flags = OPS_WRITES | OPS_LONG,
	.run = run,
};

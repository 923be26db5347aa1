/* SPDX-License-Identifier: MIT */
/*
 * ops_maint.c - small helpers the maintenance operations share: catalog rows to JSON, quoted
 * qualified names after a constant SQL prefix, one-value queries, progress and timing.
 * Is not: an operation; it holds no SQL of its own beyond what callers pass in.
 */
#include "config.h"

#include "ops.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops_int.h"
#include "strbuf.h"

static bool
text_is_true(const char *v)
{
	return strcmp(v, "t") == 0 || strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
}

static cJSON *
cell_json(const char *v, char type)
{
	char *end = NULL;
	double d;

	if (v == NULL)
		return cJSON_CreateNull();
	switch (type) {
	case 'n':
		d = strtod(v, &end);
		if (end == v || *end != '\0')
			return cJSON_CreateString(v);
		return cJSON_CreateNumber(d);
	case 'b':
		return cJSON_CreateBool(text_is_true(v));
	default:
		return cJSON_CreateString(v);
	}
}

cJSON *
ops_row_json(const struct db_rows *rows, int row, const char *types)
{
	cJSON *obj = cJSON_CreateObject();
	size_t ntypes = types != NULL ? strlen(types) : 0;
	int col;

	for (col = 0; col < db_rows_ncols(rows); col++) {
		char type = (size_t)col < ntypes ? types[col] : 's';

		if (type == '-')
			continue;
		cJSON_AddItemToObject(obj, db_rows_colname(rows, col),
		                      cell_json(db_rows_get(rows, row, col), type));
	}
	return obj;
}

cJSON *
ops_rows_json(const struct db_rows *rows, const char *types)
{
	cJSON *arr = cJSON_CreateArray();
	int row;

	for (row = 0; row < db_rows_count(rows); row++)
		cJSON_AddItemToArray(arr, ops_row_json(rows, row, types));
	return arr;
}

char *
ops_qualified_ident(struct db *db, const char *schema, const char *name)
{
	struct strbuf sb;
	char *q;

	sb_init(&sb);
	if (schema != NULL) {
		q = db_quote_ident(db, schema);
		sb_adds(&sb, q);
		sb_addc(&sb, '.');
		free(q);
	}
	q = db_quote_ident(db, name);
	sb_adds(&sb, q);
	free(q);
	q = sb_detach(&sb, NULL);
	return q;
}

char *
ops_sql_with_ident(struct db *db, const char *prefix, const char *schema, const char *name)
{
	struct strbuf sb;
	char *q = ops_qualified_ident(db, schema, name);

	sb_init(&sb);
	sb_adds(&sb, prefix);
	sb_adds(&sb, q);
	free(q);
	q = sb_detach(&sb, NULL);
	return q;
}

void
ops_add_num(cJSON *obj, const char *key, double v)
{
	cJSON_AddItemToObject(obj, key, cJSON_CreateNumber(v));
}

void
ops_add_str(cJSON *obj, const char *key, const char *v)
{
	cJSON_AddItemToObject(obj, key, v != NULL ? cJSON_CreateString(v) : cJSON_CreateNull());
}

cJSON *
ops_not_applicable(const char *reason)
{
	cJSON *obj = cJSON_CreateObject();

	ops_add_str(obj, "status", "not_applicable");
	ops_add_str(obj, "reason", reason);
	return obj;
}

/* Fails with "no such table: dbstat" when SQLite was built without it: that failure is the
 * answer, so its error is deliberately dropped. */
static const char sql_has_dbstat[] = "SELECT count(*) FROM dbstat WHERE 0";

bool
ops_sqlite_has_dbstat(struct db *db)
{
	struct err ignored;
	int64_t n;

	if (db_kind(db) != DB_SQLITE)
		return false;
	err_clear(&ignored);
	return ops_query_int(db, sql_has_dbstat, 0, NULL, &n, &ignored) == 0;
}

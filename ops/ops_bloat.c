/* SPDX-License-Identifier: MIT */
/*
 * ops_bloat.c - the bloat operation: tables with more than 10 % wasted space.
 * PostgreSQL: an estimate from planner statistics (column widths with alignment, fillfactor,
 * TOAST), confirmed with the exact pgstattuple() when the extension is installed. SQLite:
 * free pages (freelist_count) for the file and unused bytes per table from dbstat.
 * Read-only: dry-run does the same. Tables under BLOAT_MIN_BYTES are left out on PostgreSQL,
 * where a few pages always look bloated.
 */
#include "config.h"

#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_int.h"

enum {
	BLOAT_MIN_BYTES = 1 << 20,       /* PostgreSQL: smaller tables are left out */
	BLOAT_LITE_MIN_BYTES = 64 << 10, /* SQLite: likewise */
};

static const double bloat_threshold_pct = 10.0;

/* Expected pages if densely packed vs relpages (as of the last VACUUM/ANALYZE). Steps:
 * 1. per column: null fraction, average width (+0.5 B lost to the integer avg_width of
 *    variable-length columns), alignment (short varlena values are unaligned);
 * 2. walk the columns in order to get the aligned data width;
 * 3. tuple = 23 B header + null bitmap, MAXALIGNed, + data MAXALIGNed + 4 B line pointer;
 * 4. expected pages = rows / tuples per page at the fillfactor (capped at 291 per 8 kB),
 *    + TOAST tuples / 4.
 * stats_ok is false when the table was never analyzed or a column lacks pg_stats. */
static const char sql_pg_estimate[] =
        "WITH RECURSIVE rel AS ("
        " SELECT c.oid, n.nspname, c.relname, c.reltuples, c.relpages,"
        " coalesce(tc.relpages, 0) AS toast_pages, coalesce(tc.reltuples, 0) AS toast_tuples,"
        " coalesce((SELECT substr(o, 12)::int FROM unnest(c.reloptions) AS o"
        " WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor,"
        " current_setting('block_size')::int AS bs"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid"
        " WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname !~ '^pg_toast'"
        "), col AS ("
        " SELECT r.oid, row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum) AS k,"
        " s.attname IS NOT NULL AS has_stats, coalesce(s.null_frac, 0) AS nf,"
        " coalesce(s.avg_width, 0) + CASE WHEN a.attlen = -1 THEN 0.5 ELSE 0 END AS w,"
        " CASE WHEN a.attlen = -1 AND coalesce(s.avg_width, 0) < 127 THEN 1"
        " ELSE CASE t.typalign WHEN 'd' THEN 8 WHEN 'i' THEN 4 WHEN 's' THEN 2 ELSE 1 END"
        " END AS al"
        " FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0"
        " AND NOT a.attisdropped JOIN pg_type t ON t.oid = a.atttypid"
        " LEFT JOIN pg_stats s ON s.schemaname = r.nspname AND s.tablename = r.relname"
        " AND s.attname = a.attname AND NOT s.inherited"
        "), walk (oid, k, off) AS ("
        " SELECT oid, 0::bigint, 0::numeric FROM rel UNION ALL"
        " SELECT c.oid, c.k, w.off + (1 - c.nf::numeric) * (ceil(w.off / c.al) * c.al - w.off + c.w)"
        " FROM walk w JOIN col c ON c.oid = w.oid AND c.k = w.k + 1"
        "), att AS ("
        " SELECT c.oid, count(*) AS natts, count(*) FILTER (WHERE c.has_stats) AS natts_stats,"
        " bool_or(c.nf > 0) AS has_nulls,"
        " (SELECT max(off) FROM walk w WHERE w.oid = c.oid) AS data_width"
        " FROM col c GROUP BY c.oid"
        "), est AS ("
        " SELECT r.*, a.natts, a.natts_stats,"
        " ((23 + CASE WHEN a.has_nulls THEN (a.natts + 7) / 8 ELSE 0 END + 7) / 8) * 8"
        " + ceil(a.data_width / 8) * 8 + 4 AS tuple_bytes"
        " FROM rel r JOIN att a USING (oid)"
        "), result AS ("
        " SELECT e.*, ceil(greatest(reltuples, 0)::numeric"
        " / greatest(least(floor((bs - 24) * fillfactor / 100.0 / tuple_bytes),"
        " floor((bs - 24) / 28.0)), 1)) + ceil(toast_tuples::numeric / 4) AS expected_pages"
        " FROM est e"
        ") SELECT format('%I.%I', nspname, relname) AS table_name,"
        " (relpages + toast_pages)::bigint * bs AS real_bytes,"
        " greatest(relpages + toast_pages - expected_pages, 0)::bigint * bs AS bloat_bytes,"
        " round(100.0 * greatest(relpages + toast_pages - expected_pages, 0)"
        " / nullif(relpages + toast_pages, 0), 1) AS bloat_pct,"
        " reltuples >= 0 AND natts_stats = natts AS stats_ok"
        " FROM result WHERE (relpages + toast_pages)::bigint * bs >= $1::bigint"
        " ORDER BY bloat_bytes DESC, table_name";
static const char sql_pg_has_pgstattuple[] =
        "SELECT count(*) FROM pg_extension WHERE extname = 'pgstattuple'";
/* Exact waste = dead tuples + free space; reads the whole table. $1 = the qualified name. */
static const char sql_pg_exact[] =
        "SELECT table_len, dead_tuple_len + free_space AS waste_bytes,"
        " round(100.0 * (dead_tuple_len + free_space) / nullif(table_len, 0), 1) AS waste_pct"
        " FROM pgstattuple($1::regclass)";

static const char sql_lite_pages[] =
        "SELECT page_count, freelist_count, page_size "
        "FROM pragma_page_count, pragma_freelist_count, pragma_page_size";
/* Per table (its own b-tree; indexes are rebuilt by reindex), tables of at least ?1 bytes:
 * a table of one or two pages is always "mostly unused". */
static const char sql_lite_tables[] =
        "SELECT m.name AS table_name, s.pgsize AS bytes, s.unused AS unused_bytes,"
        " round(100.0 * s.unused / s.pgsize, 1) AS waste_pct "
        "FROM dbstat s JOIN sqlite_schema m ON m.name = s.name "
        "WHERE s.aggregate = 1 AND m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "AND s.pgsize >= ?1 ORDER BY unused_bytes DESC, table_name";
static const char sql_lite_unused[] =
        "SELECT coalesce(sum(unused), 0) FROM dbstat WHERE aggregate = 1";

/* Confirm one estimate with pgstattuple; adds exact_* fields. Returns the exact percent. */
static int
pg_exact(struct db *db, const char *table, cJSON *t, double *pct, struct err *err)
{
	const char *params[1] = { table };
	struct db_rows *rows = db_query(db, sql_pg_exact, 1, params, err);
	const char *v;

	if (rows == NULL)
		return -1;
	v = db_rows_count(rows) == 1 ? db_rows_get(rows, 0, 2) : NULL;
	*pct = v != NULL ? strtod(v, NULL) : 0;
	if (db_rows_count(rows) == 1) {
		ops_add_num(t, "exact_waste_bytes", strtod(db_rows_get(rows, 0, 1), NULL));
		ops_add_num(t, "exact_waste_pct", *pct);
	}
	db_rows_free(rows);
	return 0;
}

/* A table is a candidate when its estimate is over the threshold, or when its statistics are
 * missing and pgstattuple can tell exactly. With pgstattuple the exact figure decides. */
static int
pg_check_table(struct db *db, const struct db_rows *rows, int i, bool exact, double min_pct,
               cJSON *flagged, struct err *err)
{
	cJSON *t = ops_row_json(rows, i, "snnnb");
	bool stats_ok = strcmp(db_rows_get(rows, i, 4), "t") == 0;
	const char *pv = db_rows_get(rows, i, 3);
	double est = pv != NULL ? strtod(pv, NULL) : 0, pct = est;

	if (!(stats_ok && est > min_pct) && !(exact && !stats_ok))
		goto drop;
	if (exact && pg_exact(db, db_rows_get(rows, i, 0), t, &pct, err) < 0) {
		cJSON_Delete(t);
		return -1;
	}
	if (pct <= min_pct)
		goto drop;
	ops_add_str(t, "method", exact ? "pgstattuple" : "estimate");
	cJSON_AddItemToArray(flagged, t);
	return 0;
drop:
	cJSON_Delete(t);
	return 0;
}

static int
pg_fill(struct db *db, double min_pct, cJSON *into, struct err *err)
{
	char minb[24];
	const char *params[1] = { minb };
	struct db_rows *rows = NULL;
	cJSON *flagged = cJSON_CreateArray();
	int64_t has_ext;
	int i, rc = -1;

	snprintf(minb, sizeof minb, "%d", BLOAT_MIN_BYTES);
	if (ops_query_int(db, sql_pg_has_pgstattuple, 0, NULL, &has_ext, err) < 0)
		goto fail;
	rows = db_query(db, sql_pg_estimate, 1, params, err);
	if (rows == NULL)
		goto fail;
	for (i = 0; i < db_rows_count(rows); i++)
		if (pg_check_table(db, rows, i, has_ext > 0, min_pct, flagged, err) < 0)
			goto fail;
	ops_add_str(into, "method",
	            has_ext > 0 ? "estimate confirmed by pgstattuple" : "estimate (pg_stats)");
	ops_add_num(into, "threshold_pct", min_pct);
	ops_add_num(into, "min_table_bytes", BLOAT_MIN_BYTES);
	ops_add_num(into, "tables_checked", db_rows_count(rows));
	cJSON_AddItemToObject(into, "tables", flagged);
	flagged = NULL;
	rc = 0;
fail:
	cJSON_Delete(flagged);
	db_rows_free(rows);
	return rc;
}

/* File level: free pages. Table level: dbstat unused bytes over the threshold. */
static int
lite_fill(struct db *db, double min_pct, cJSON *into, struct err *err)
{
	struct db_rows *pages = db_query(db, sql_lite_pages, 0, NULL, err), *rows = NULL;
	cJSON *flagged = cJSON_CreateArray();
	double npages, nfree, psize, unused = 0;
	int i, rc = -1;

	if (pages == NULL || db_rows_count(pages) != 1)
		goto fail;
	npages = strtod(db_rows_get(pages, 0, 0), NULL);
	nfree = strtod(db_rows_get(pages, 0, 1), NULL);
	psize = strtod(db_rows_get(pages, 0, 2), NULL);
	if (ops_sqlite_has_dbstat(db)) {
		char minb[24];
		const char *params[1] = { minb };
		int64_t u;

		snprintf(minb, sizeof minb, "%d", BLOAT_LITE_MIN_BYTES);
		rows = db_query(db, sql_lite_tables, 1, params, err);
		if (rows == NULL || ops_query_int(db, sql_lite_unused, 0, NULL, &u, err) < 0)
			goto fail;
		unused = (double)u;
		for (i = 0; i < db_rows_count(rows); i++)
			if (strtod(db_rows_get(rows, i, 3), NULL) > min_pct)
				cJSON_AddItemToArray(flagged, ops_row_json(rows, i, "snnn"));
	}
	ops_add_str(into, "method", rows != NULL ? "freelist + dbstat" : "freelist");
	ops_add_num(into, "threshold_pct", min_pct);
	ops_add_num(into, "page_count", npages);
	ops_add_num(into, "freelist_count", nfree);
	ops_add_num(into, "free_pct", npages > 0 ? 100.0 * nfree / npages : 0);
	ops_add_num(into, "database_waste_pct",
	            npages > 0 ? 100.0 * (nfree * psize + unused) / (npages * psize) : 0);
	cJSON_AddItemToObject(into, "tables", flagged);
	flagged = NULL;
	rc = 0;
fail:
	if (pages != NULL && db_rows_count(pages) != 1)
		err_set(err, ERR_BUG, "bloat: no page counts from SQLite");
	cJSON_Delete(flagged);
	db_rows_free(pages);
	db_rows_free(rows);
	return rc;
}

int
ops_bloat_fill(struct db *db, double min_pct, cJSON *into, struct err *err)
{
	switch (db_kind(db)) {
	case DB_POSTGRES:
		return pg_fill(db, min_pct, into, err);
	case DB_SQLITE:
		return lite_fill(db, min_pct, into, err);
	}
	return err_set(err, ERR_BUG, "bloat: unknown database kind");
}

static cJSON *
run(struct ops_ctx *ctx, struct err *err)
{
	cJSON *res = ops_result_new("bloat");
	const cJSON *dbw;
	int n;

	ops_progress(ctx, 0, 1, "bloat");
	if (ops_bloat_fill(ctx->db, bloat_threshold_pct, res, err) < 0) {
		cJSON_Delete(res);
		return NULL;
	}
	ops_progress(ctx, 1, 1, "bloat done");
	n = cJSON_GetArraySize(cJSON_GetObjectItem(res, "tables"));
	dbw = cJSON_GetObjectItem(res, "database_waste_pct");
	if (n > 0)
		ops_add_str(res, "message", "tables over 10 % wasted space listed: vacuum them");
	else if (cJSON_IsNumber(dbw) && dbw->valuedouble > bloat_threshold_pct)
		ops_add_str(res, "message",
		            "no table over 10 % wasted space, but the file is: free pages and "
		            "half-empty index pages (VACUUM or REINDEX reclaim them)");
	else
		ops_add_str(res, "message", "no table over 10 % wasted space");
	ops_add_num(res, "tables_flagged", n);
	return res;
}

const struct ops_entry ops_bloat_entry = {
	.name = "bloat",
	.title = "Check table bloat",
	.flags = 0,
	.run = run,
};

/* SPDX-License-Identifier: MIT */
/*
 * run_out.c - output of `janitor run` and `janitor report` for people: one aligned line per
 * operation with its status, time and a summary, a footer from "metadata", and a progress bar
 * redrawn in place when stderr is a terminal. JSON output is cJSON's and lives in cmd_run.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "strbuf.h"
#include "xalloc.h"

#define BAR_WIDTH 30

void
run_progress_cb(void *ctx, int64_t done, int64_t total, const char *what)
{
	struct run_progress *p = ctx;
	int filled = 0, i;
	char bar[BAR_WIDTH + 1];

	if (!p->tty)
		return;
	if (total > 0)
		filled = (int)(done * BAR_WIDTH / total);
	if (filled > BAR_WIDTH)
		filled = BAR_WIDTH;
	for (i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	if (total > 0)
		fprintf(p->f, "\r\033[K  %-24.24s [%s] %3d%% %lld/%lld", what, bar,
		        (int)(done * 100 / total), (long long)done, (long long)total);
	else
		fprintf(p->f, "\r\033[K  %-24.24s %lld", what, (long long)done);
	fflush(p->f);
	p->drawn = true;
}

void
run_progress_clear(struct run_progress *p)
{
	if (!p->tty || !p->drawn)
		return;
	fprintf(p->f, "\r\033[K");
	fflush(p->f);
	p->drawn = false;
}

static double
num(const cJSON *obj, const char *key, bool *found)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*found = cJSON_IsNumber(v);
	return *found ? v->valuedouble : 0;
}

/* " (Audit Logs: 5234 deleted > 90 d, Task Logs: 1823 deleted > 30 d)" from "details". */
static void
add_details(struct strbuf *sb, const cJSON *details, bool dry)
{
	static const char *const counts[] = { "deleted", "archived" };
	const cJSON *part;
	bool found, first = true, fdays;
	double n, days;
	size_t k;

	cJSON_ArrayForEach(part, details) {
		if (!cJSON_IsObject(part))
			continue;
		for (k = 0; k < ARRAY_LEN(counts); k++) {
			n = num(part, counts[k], &found);
			if (!found)
				continue;
			days = num(part, "days", &fdays);
			sb_addf(sb, "%s%s: %.0f %s%s", first ? " (" : ", ", part->string, n,
			        dry ? "to be " : "", counts[k]);
			if (fdays)
				sb_addf(sb, " > %.0f d", days);
			first = false;
		}
		if (cJSON_GetObjectItemCaseSensitive(part, "reason") != NULL) {
			sb_addf(sb, "%s%s skipped: %s", first ? " (" : ", ", part->string,
			        cJSON_GetStringValue(
			                cJSON_GetObjectItemCaseSensitive(part, "reason")));
			first = false;
		}
	}
	if (!first)
		sb_adds(sb, ")");
}

static void
summary(struct strbuf *sb, const cJSON *op, bool dry)
{
	const char *s;
	bool found;
	double n;

	switch (ops_result_status(op)) {
	case OPS_FAILED:
		s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "error"));
		sb_adds(sb, s != NULL ? s : "failed");
		return;
	case OPS_SKIPPED:
		s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "reason"));
		sb_adds(sb, s != NULL ? s : "skipped");
		return;
	case OPS_COMPLETED:
		break;
	}
	s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "message"));
	if (s != NULL) {
		sb_adds(sb, s);
		return;
	}
	n = num(op, "rows_processed", &found);
	if (!found)
		n = num(op, "rows_deleted", &found);
	if (found)
		sb_addf(sb, "%.0f rows %s", n, dry ? "would be processed" : "processed");
	else
		sb_adds(sb, "done");
	add_details(sb, cJSON_GetObjectItemCaseSensitive(op, "details"), dry);
}

void
run_print_text(FILE *f, const cJSON *doc)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata"), *op;
	bool dry = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(meta, "dry_run")), found;
	int counts[3] = { 0, 0, 0 };
	struct strbuf sb;
	enum ops_status st;
	double secs;

	sb_init(&sb);
	fprintf(f, "%-10s %-10s %9s  %s\n", "OPERATION", "STATUS", "SECONDS", "RESULT");
	cJSON_ArrayForEach(op, doc) {
		if (op == meta)
			continue;
		st = ops_result_status(op);
		counts[st]++;
		sb_reset(&sb);
		summary(&sb, op, dry);
		secs = num(op, "duration_seconds", &found);
		fprintf(f, "%-10s %-10s %9.3f  %s\n", op->string, ops_status_name(st), secs,
		        sb.buf);
	}
	fprintf(f, "\n%d completed, %d skipped, %d failed in %.3f s on %s database %s%s\n",
	        counts[OPS_COMPLETED], counts[OPS_SKIPPED], counts[OPS_FAILED],
	        num(meta, "duration_seconds", &found),
	        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "engine")),
	        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "database")),
	        dry ? " (dry run: nothing was changed)" : "");
	sb_cleanup(&sb);
}

#define MAX_COLS 16

/* A cell as text: strings as they are, numbers and the rest as JSON. Caller frees. */
static char *
cell_text(const cJSON *v)
{
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	return cJSON_PrintUnformatted(v);
}

static bool
is_scalar(const cJSON *v)
{
	return !cJSON_IsObject(v) && !cJSON_IsArray(v);
}

/* An array of flat objects (rows from a catalog query) prints as an aligned table. */
static bool
is_table(const cJSON *v)
{
	const cJSON *row, *cell;

	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return false;
	cJSON_ArrayForEach(row, v) {
		if (!cJSON_IsObject(row) || cJSON_GetArraySize(row) > MAX_COLS)
			return false;
		cJSON_ArrayForEach(cell, row)
			if (!is_scalar(cell))
				return false;
	}
	return true;
}

static void
print_table(FILE *f, const cJSON *rows, int depth)
{
	const cJSON *first = cJSON_GetArrayItem(rows, 0), *row, *key;
	int width[MAX_COLS] = { 0 }, c;
	char *t;

	c = 0;
	cJSON_ArrayForEach(key, first)
		width[c++] = (int)strlen(key->string);
	cJSON_ArrayForEach(row, rows) {
		c = 0;
		cJSON_ArrayForEach(key, first) {
			t = cell_text(cJSON_GetObjectItemCaseSensitive(row, key->string));
			if (t != NULL && (int)strlen(t) > width[c])
				width[c] = (int)strlen(t);
			free(t);
			c++;
		}
	}
	fprintf(f, "\n%*s", depth * 2, "");
	c = 0;
	cJSON_ArrayForEach(key, first)
		fprintf(f, "%-*s  ", width[c++], key->string);
	fprintf(f, "\n");
	cJSON_ArrayForEach(row, rows) {
		fprintf(f, "%*s", depth * 2, "");
		c = 0;
		cJSON_ArrayForEach(key, first) {
			t = cell_text(cJSON_GetObjectItemCaseSensitive(row, key->string));
			fprintf(f, "%-*s  ", width[c++], t != NULL ? t : "");
			free(t);
		}
		fprintf(f, "\n");
	}
}

static void
print_value(FILE *f, const cJSON *v, int depth)
{
	const cJSON *it;
	char *s;

	if (is_table(v)) {
		print_table(f, v, depth);
		return;
	}
	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		if (cJSON_GetArraySize(v) == 0) {
			fprintf(f, " (none)\n");
			return;
		}
		fprintf(f, "\n");
		cJSON_ArrayForEach(it, v) {
			if (it->string != NULL)
				fprintf(f, "%*s%-*s", depth * 2, "", 30 - depth * 2, it->string);
			else
				fprintf(f, "%*s-", depth * 2, "");
			print_value(f, it, depth + 1);
		}
		return;
	}
	s = cell_text(v);
	fprintf(f, " %s\n", s);
	free(s);
}

void
run_print_report_text(FILE *f, const cJSON *report)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, report) {
		fprintf(f, "%-30s", it->string);
		print_value(f, it, 1);
	}
}

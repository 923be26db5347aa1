/* SPDX-License-Identifier: MIT */
/*
 * cmd_run.c - `janitor run` and `janitor report`: parse the command line, find the database
 * URL (--database > DATABASE_URL > --config's [databases] default), run the engine once and
 * print JSON (the spec's response format) or text. Exit 0 all completed or skipped, 1 one or
 * more failed or the database could not be opened, 2 usage error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ini.h"
#include "ops.h"
#include "run_int.h"
#include "xalloc.h"

#define EXIT_USAGE 2

struct run_args {
	const struct ops_entry **list; /* owned array, borrowed entries */
	size_t n;
	bool all, dry_run, json;
	const char *database, *config, *demo_db;
};

static void
run_usage(FILE *f)
{
	fprintf(f,
	        "usage: janitor run (--operation OP)... | --all [--dry-run] [--output text|json]\n"
	        "                   [--database URL] [--config FILE] [--demo-db PATH]\n"
	        "operations: %s\n"
	        "URL: postgresql://... or sqlite:///relative/path, sqlite:////absolute/path;\n"
	        "     default $DATABASE_URL, then [databases] default in --config FILE\n"
	        "     (default " INI_DEFAULT_FILE " when it exists).\n"
	        "--demo-db PATH creates a demo SQLite database there (unless the file exists)\n"
	        "     and runs against it.\n",
	        ops_names());
}

static void
report_usage(FILE *f)
{
	fprintf(f, "usage: janitor report [--database URL] [--config FILE] [--output text|json]\n");
}

static int
parse_output(const char *v, bool *json)
{
	if (strcmp(v, "json") == 0)
		*json = true;
	else if (strcmp(v, "text") == 0)
		*json = false;
	else
		return -1;
	return 0;
}

static int
add_operation(struct run_args *a, const char *name)
{
	const struct ops_entry *e = ops_lookup(name);
	size_t i;

	if (e == NULL) {
		fprintf(stderr, "janitor run: unknown operation '%s' (valid: %s)\n", name,
		        ops_names());
		return -1;
	}
	for (i = 0; i < a->n; i++)
		if (a->list[i] == e)
			return 0; /* named twice: run once */
	a->list = xrealloc(a->list, (a->n + 1) * sizeof(*a->list));
	a->list[a->n++] = e;
	return 0;
}

/* The selected operations in the table's (the spec's) order, whatever the command line's. */
static size_t
select_ops(const struct run_args *a, const struct ops_entry **out)
{
	size_t i, j, n = 0;

	for (i = 0; ops_table[i] != NULL; i++) {
		for (j = 0; j < a->n && a->list[j] != ops_table[i]; j++)
			continue;
		if (a->all || j < a->n)
			out[n++] = ops_table[i];
	}
	return n;
}

enum {
	OPT_DEMO = 256
};

/* What getopt cannot check. Returns an exit status, or -1 to go on. */
static int
check_args(int argc, char **argv, const struct run_args *a, bool report)
{
	void (*usage)(FILE *) = report ? report_usage : run_usage;

	if (optind < argc) {
		fprintf(stderr, "janitor: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (report && (a->n > 0 || a->all || a->dry_run || a->demo_db != NULL)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!report && (a->all == (a->n > 0))) {
		fprintf(stderr, "janitor run: give --all or one or more --operation OP\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return -1; /* go on */
}

static int
parse_args(int argc, char **argv, struct run_args *a, bool report)
{
	static const struct option longopts[] = {
		{ "operation", required_argument, NULL, 'o' },
		{ "all", no_argument, NULL, 'a' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'O' },
		{ "database", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "demo-db", required_argument, NULL, OPT_DEMO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	void (*usage)(FILE *) = report ? report_usage : run_usage;
	int c;

	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, report ? "O:d:c:h" : "o:anO:d:c:h", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'o':
			if (add_operation(a, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'a':
			a->all = true;
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'O':
			if (parse_output(optarg, &a->json) < 0) {
				fprintf(stderr, "janitor: --output must be text or json\n");
				return EXIT_USAGE;
			}
			break;
		case 'd':
			a->database = optarg;
			break;
		case 'c':
			a->config = optarg;
			break;
		case OPT_DEMO:
			a->demo_db = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return check_args(argc, argv, a, report);
}

/* The URL in precedence order; a --demo-db path becomes its sqlite URL (owned by *owned). */
static const char *
pick_url(const struct run_args *a, const struct ini *ini, char **owned)
{
	const char *env = getenv("DATABASE_URL");

	*owned = NULL;
	if (a->demo_db != NULL) {
		*owned = xasprintf("sqlite:///%s", a->demo_db);
		return *owned;
	}
	if (a->database != NULL)
		return a->database;
	if (env != NULL && env[0] != '\0')
		return env;
	return ini != NULL ? ini_get(ini, "databases", "default") : NULL;
}

static void
print_json(const cJSON *doc)
{
	char *s = cJSON_Print(doc);

	printf("%s\n", s);
	cJSON_free(s);
}

/* [maintenance] keys of the configuration file onto the engine's options. */
static int
apply_maintenance(const struct ini *ini, struct ops_options *opt, struct err *err)
{
	size_t i;

	for (i = 0; i < ini_count(ini); i++) {
		struct ini_entry e = ini_entry(ini, i);

		if (strcmp(e.section, "maintenance") != 0)
			continue;
		if (ops_options_set(opt, e.key, e.value, err) < 0)
			return err_prefix(err, "%s:%d: [maintenance]", ini_path(ini), e.line);
	}
	return 0;
}

/* Opens the configuration and the database; prints the one line and returns 1 on failure. */
static int
setup(const struct run_args *a, const char *cmd, struct ops_options *opt, struct ini **ini,
      struct db **db)
{
	char *owned = NULL;
	bool created = false;
	struct err err;
	int rc = 1;

	err_clear(&err);
	if (a->config != NULL || access(INI_DEFAULT_FILE, R_OK) == 0) {
		*ini = ini_load(a->config != NULL ? a->config : INI_DEFAULT_FILE, &err);
		if (*ini == NULL || apply_maintenance(*ini, opt, &err) < 0)
			goto fail;
	}
	if (a->demo_db != NULL) {
		if (ops_demo_create(a->demo_db, &created, &err) < 0)
			goto fail;
		if (created)
			fprintf(stderr, "janitor: created demo database %s\n", a->demo_db);
	}
	*db = db_open(pick_url(a, *ini, &owned), &err);
	if (*db == NULL)
		goto fail;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "janitor %s: %s\n", cmd, err.msg);
out:
	free(owned);
	return rc;
}

int
cmd_run(int argc, char **argv)
{
	struct run_args a = { 0 };
	struct run_progress prog = { .f = stderr, .tty = isatty(STDERR_FILENO) != 0 };
	struct ops_options opt;
	struct ini *ini = NULL;
	struct db *db = NULL;
	const struct ops_entry **sel = NULL;
	cJSON *doc;
	int rc, nfailed = 0;
	size_t n;

	rc = parse_args(argc, argv, &a, false);
	if (rc >= 0)
		goto out;
	ops_options_init(&opt);
	rc = setup(&a, "run", &opt, &ini, &db);
	if (rc != 0)
		goto out;
	opt.dry_run = opt.dry_run || a.dry_run;
	for (n = 0; ops_table[n] != NULL; n++)
		continue;
	sel = xcalloc(n, sizeof(*sel));
	n = select_ops(&a, sel);
	/* No callback off a TTY: the progress total would cost a count for nobody. */
	doc = ops_run(db, sel, n, &opt, prog.tty ? run_progress_cb : NULL, &prog, &nfailed);
	run_progress_clear(&prog);
	if (a.json)
		print_json(doc);
	else
		run_print_text(stdout, doc);
	cJSON_Delete(doc);
	rc = nfailed > 0 ? 1 : 0;
out:
	db_close(db);
	ini_free(ini);
	free(sel);
	free(a.list);
	return rc;
}

int
cmd_report(int argc, char **argv)
{
	struct run_args a = { 0 };
	struct ops_options opt;
	struct ini *ini = NULL;
	struct db *db = NULL;
	cJSON *report = NULL;
	struct err err;
	int rc;

	err_clear(&err);
	rc = parse_args(argc, argv, &a, true);
	if (rc >= 0)
		goto out;
	ops_options_init(&opt);
	rc = setup(&a, "report", &opt, &ini, &db);
	if (rc != 0)
		goto out;
	report = ops_report(db, &opt, &err);
	if (report == NULL) {
		fprintf(stderr, "janitor report: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	if (a.json)
		print_json(report);
	else
		run_print_report_text(stdout, report);
	rc = 0;
out:
	cJSON_Delete(report);
	db_close(db);
	ini_free(ini);
	free(a.list);
	return rc;
}

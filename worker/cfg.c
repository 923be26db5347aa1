/* SPDX-License-Identifier: MIT */
/*
 * cfg.c - the worker's settings as one table (style B6): each row names its INI key, flag,
 * environment variable, type, default, bounds, secrecy and help. Loading, --help and
 * --print-config are generic over the table.
 */
#include "config.h"

#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ini.h"
#include "log.h"
#include "ops.h"
#include "strbuf.h"
#include "xalloc.h"

#define CFG_DEFAULT_FILE INI_DEFAULT_FILE

enum cfg_type {
	CFG_STR,     /* char * */
	CFG_URL,     /* char *, a URL (masked when secret) */
	CFG_INT,     /* int, within [min, max] */
	CFG_BOOL,    /* bool; a flag takes no argument */
	CFG_SECONDS, /* double seconds, within [min, max] */
	CFG_LEVEL,   /* char *, a Celery log level name */
	CFG_DB,      /* [ALIAS=]URL appended to databases (repeatable) */
};

struct cfg_row {
	const char *key;  /* [worker] key in the file */
	const char *flag; /* long option */
	int shortopt;     /* 0 = none */
	enum cfg_type type;
	size_t off; /* offsetof into struct cfg */
	const char *def;
	double min, max;
	const char *env; /* environment variable or NULL */
	bool secret;
	const char *help;
};

#define OFF(f) offsetof(struct cfg, f)

static const struct cfg_row cfg_table[] = {
	{ "broker_url", "broker", 'b', CFG_URL, OFF(broker_url), "redis://localhost:6379/0", 0, 0,
	  "CELERY_BROKER_URL", true, "broker URL (redis://[:password@]host[:port][/db])" },
	{ "result_backend", "result-backend", 0, CFG_URL, OFF(result_backend), NULL, 0, 0,
	  "CELERY_RESULT_BACKEND", true, "result backend URL (redis://...)" },
	{ "database", "database", 0, CFG_DB, 0, NULL, 0, 0, "DATABASE_URL", true,
	  "[ALIAS=]URL of a database (repeatable; no alias = default)" },
	{ "queues", "queues", 'Q', CFG_STR, OFF(queues), "celery", 0, 0, NULL, false,
	  "comma-separated queues to consume" },
	{ "concurrency", "concurrency", 'c', CFG_INT, OFF(concurrency), "0", 0, 1024, NULL, false,
	  "operations run in parallel (0 = number of CPUs)" },
	{ "hostname", "hostname", 'n', CFG_STR, OFF(hostname), NULL, 0, 0, NULL, false,
	  "node name (default janitor@<host>; %h, %n, %d expand)" },
	{ "prefetch_multiplier", "prefetch-multiplier", 0, CFG_INT, OFF(prefetch_multiplier), "4",
	  0, 65535, NULL, false, "messages reserved per executor (0 = unlimited)" },
	{ "acks_late_tasks", "acks-late-tasks", 0, CFG_STR, OFF(acks_late_tasks), NULL, 0, 0, NULL,
	  false,
	  "comma-separated tasks acknowledged after completion (Celery's per-task acks_late)" },
	{ "acks_late", "acks-late", 0, CFG_BOOL, OFF(acks_late), "false", 0, 0, NULL, false,
	  "acknowledge after the task completes" },
	{ "visibility_timeout", "visibility-timeout", 0, CFG_SECONDS, OFF(visibility_timeout),
	  "3600", 1, 1e9, NULL, false, "seconds before an unacked message is restored" },
	{ "soft_time_limit", "soft-time-limit", 0, CFG_SECONDS, OFF(soft_time_limit), "0", 0, 1e9,
	  NULL, false, "seconds before the running statement is cancelled (0 = none)" },
	{ "time_limit", "time-limit", 0, CFG_SECONDS, OFF(time_limit), "0", 0, 1e9, NULL, false,
	  "seconds before the executor is killed (0 = none)" },
	{ "result_expires", "result-expires", 0, CFG_SECONDS, OFF(result_expires), "86400", 0, 1e9,
	  NULL, false, "seconds a stored result lives (0 = forever)" },
	{ "result_extended", "result-extended", 0, CFG_BOOL, OFF(result_extended), "false", 0, 0,
	  NULL, false, "store name, args, kwargs, worker, retries and queue with results" },
	{ "track_started", "track-started", 0, CFG_BOOL, OFF(track_started), "false", 0, 0, NULL,
	  false, "store the STARTED state" },
	{ "max_retries", "max-retries", 0, CFG_INT, OFF(max_retries), "3", 0, 1000, NULL, false,
	  "retries on transient database errors" },
	{ "retry_delay", "retry-delay", 0, CFG_SECONDS, OFF(retry_delay), "180", 0, 1e9, NULL,
	  false, "seconds before a retry runs" },
	{ "loglevel", "loglevel", 'l', CFG_LEVEL, OFF(loglevel), "WARNING", 0, 0, NULL, false,
	  "DEBUG, INFO, WARNING, ERROR or CRITICAL" },
	{ "logfile", "logfile", 0, CFG_STR, OFF(logfile), NULL, 0, 0, NULL, false,
	  "log file (default stderr)" },
	{ "pidfile", "pidfile", 0, CFG_STR, OFF(pidfile), NULL, 0, 0, NULL, false,
	  "write the process id there" },
};

#define OPT_CONFIG       1000
#define OPT_HELP         1001
#define OPT_PRINT_CONFIG 1002
#define OPT_ROW          2000

static void
kv_set(struct cfg_kv **v, size_t *n, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strcmp((*v)[i].key, key) == 0) {
			free((*v)[i].value);
			(*v)[i].value = xstrdup(value);
			return;
		}
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n].key = xstrdup(key);
	(*v)[*n].value = xstrdup(value);
	(*n)++;
}

static void
kv_free(struct cfg_kv *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

static const char *
kv_lookup(const struct cfg_kv *v, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(v[i].key, key) == 0)
			return v[i].value;
	}
	return NULL;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t i;

	for (i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return (*out = true), 0;
		if (strcasecmp(s, no[i]) == 0)
			return (*out = false), 0;
	}
	return -1;
}

/* Set one row from text. src names where the value came from, for the error message. */
/* One switch arm per row type; long because each type validates differently. */
static int
row_set(struct cfg *c, const struct cfg_row *r, const char *val, const char *src, struct err *err)
{
	char *base = (char *)c;
	char *end;

	switch (r->type) {
	case CFG_STR:
	case CFG_URL: {
		char **p = (char **)(base + r->off);

		free(*p);
		*p = *val != '\0' ? xstrdup(val) : NULL;
		return 0;
	}
	case CFG_LEVEL: {
		enum log_level lvl;
		char **p = (char **)(base + r->off);

		if (log_level_parse(val, &lvl) < 0)
			return err_set(err, ERR_CONFIG, "%s %s: unknown log level '%s'", src,
			               r->key, val);
		free(*p);
		*p = xstrdup(val);
		return 0;
	}
	case CFG_INT: {
		long v;

		errno = 0;
		v = strtol(val, &end, 10);
		if (errno != 0 || end == val || *end != '\0' || v < (long)r->min ||
		    v > (long)r->max)
			return err_set(err, ERR_CONFIG, "%s %s: expected an integer in %.0f..%.0f",
			               src, r->key, r->min, r->max);
		*(int *)(base + r->off) = (int)v;
		return 0;
	}
	case CFG_SECONDS: {
		double v;

		errno = 0;
		v = strtod(val, &end);
		if (errno != 0 || end == val || *end != '\0' || !isfinite(v) || v < r->min ||
		    v > r->max)
			return err_set(err, ERR_CONFIG, "%s %s: expected seconds in %g..%g", src,
			               r->key, r->min, r->max);
		*(double *)(base + r->off) = v;
		return 0;
	}
	case CFG_BOOL:
		if (parse_bool(val, (bool *)(base + r->off)) < 0)
			return err_set(err, ERR_CONFIG, "%s %s: expected true or false", src,
			               r->key);
		return 0;
	case CFG_DB: {
		const char *eq = strchr(val, '=');
		const char *colon = strchr(val, ':');

		/* "alias=URL" unless the '=' belongs to the URL (after its scheme). */
		if (eq != NULL && (colon == NULL || eq < colon)) {
			char *alias = xstrndup(val, (size_t)(eq - val));

			kv_set(&c->databases, &c->ndatabases, alias, eq + 1);
			free(alias);
		} else {
			kv_set(&c->databases, &c->ndatabases, "default", val);
		}
		return 0;
	}
	}
	return err_set(err, ERR_BUG, "cfg: bad row type");
}

static const struct cfg_row *
row_by_key(const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		if (strcmp(cfg_table[i].key, key) == 0)
			return &cfg_table[i];
	}
	return NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A [worker] key: file keys use '_', and '-' is accepted as its synonym. */
static int
file_row_set(struct cfg *c, const struct ini_entry *e, const char *src, struct err *err)
{
	char key[64];
	const struct cfg_row *r;
	size_t i;

	for (i = 0; e->key[i] != '\0' && i + 1 < sizeof(key); i++)
		key[i] = e->key[i] == '-' ? '_' : e->key[i];
	key[i] = '\0';
	r = row_by_key(key);
	if (r == NULL)
		return err_set(err, ERR_CONFIG, "%s unknown key '%s'", src, e->key);
	return row_set(c, r, e->value, src, err);
}

/*
 * The file: [worker] rows by key, [databases] alias = URL, [aliases] name = task, and
 * [maintenance] engine options (checked by ops_options_set here, so a typo fails at start
 * rather than at the first task). Any other section is an error.
 */
static int
load_file(struct cfg *c, const char *path, struct err *err)
{
	struct ops_options probe;
	struct ini *ini;
	char src[512];
	size_t i;
	int rc = 0;

	ini = ini_load(path, err);
	if (ini == NULL)
		return -1;
	ops_options_init(&probe);
	for (i = 0; rc == 0 && i < ini_count(ini); i++) {
		struct ini_entry e = ini_entry(ini, i);

		snprintf(src, sizeof(src), "%s:%d:", path, e.line);
		if (strcmp(e.section, "databases") == 0)
			kv_set(&c->databases, &c->ndatabases, e.key, e.value);
		else if (strcmp(e.section, "aliases") == 0)
			kv_set(&c->aliases, &c->naliases, e.key, e.value);
		else if (strcmp(e.section, "maintenance") == 0) {
			rc = ops_options_set(&probe, e.key, e.value, err);
			if (rc == 0)
				kv_set(&c->maintenance, &c->nmaintenance, e.key, e.value);
			else
				err_prefix(err, "%s [maintenance]", src);
		} else if (strcmp(e.section, "worker") == 0 || e.section[0] == '\0')
			rc = file_row_set(c, &e, src, err);
		else
			rc = err_set(err, ERR_CONFIG, "%s unknown section [%s]", src, e.section);
	}
	ini_free(ini);
	return rc;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	        "usage: janitor worker [OPTIONS]\n\n"
	        "  --config FILE            INI file (default " CFG_DEFAULT_FILE " if present)\n");
	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		const struct cfg_row *r = &cfg_table[i];
		char opt[64];

		if (r->shortopt != 0)
			snprintf(opt, sizeof(opt), "-%c, --%s%s", r->shortopt, r->flag,
			         r->type == CFG_BOOL ? "" : " V");
		else
			snprintf(opt, sizeof(opt), "--%s%s", r->flag,
			         r->type == CFG_BOOL ? "" : " V");
		fprintf(f, "  %-24s %s%s%s%s\n", opt, r->help, r->env != NULL ? " [env " : "",
		        r->env != NULL ? r->env : "", r->env != NULL ? "]" : "");
	}
	fprintf(f, "  --print-config           print the settings (secrets masked) and exit\n"
	           "  -h, --help               this help\n");
}

static void
set_defaults(struct cfg *c)
{
	size_t i;
	struct err e;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		if (cfg_table[i].def != NULL &&
		    row_set(c, &cfg_table[i], cfg_table[i].def, "default", &e) < 0)
			abort(); /* a default outside its own bounds is a bug in the table */
	}
}

/* getopt_long's tables from cfg_table: lo (heap) and the short-option string. */
static struct option *
build_options(char *shorts, size_t size)
{
	struct option *lo = xcalloc(ARRAY_LEN(cfg_table) + 4, sizeof(*lo));
	size_t i, ns = strlen(shorts);

	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		const struct cfg_row *r = &cfg_table[i];

		lo[i].name = r->flag;
		lo[i].has_arg = r->type == CFG_BOOL ? no_argument : required_argument;
		lo[i].val = r->shortopt != 0 ? r->shortopt : OPT_ROW + (int)i;
		if (r->shortopt != 0 && ns + 3 < size) {
			shorts[ns++] = (char)r->shortopt;
			if (r->type != CFG_BOOL)
				shorts[ns++] = ':';
			shorts[ns] = '\0';
		}
	}
	lo[i++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	lo[i++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	lo[i++] = (struct option){ "print-config", no_argument, NULL, OPT_PRINT_CONFIG };
	return lo;
}

/* The row a getopt value stands for, or NULL. */
static const struct cfg_row *
row_by_opt(int ch)
{
	size_t i;

	if (ch >= OPT_ROW && ch < OPT_ROW + (int)ARRAY_LEN(cfg_table))
		return &cfg_table[ch - OPT_ROW];
	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		if (cfg_table[i].shortopt == ch)
			return &cfg_table[i];
	}
	return NULL;
}

/* Pass 2 over argv: every flag but --config. *print set by --print-config. */
static int
apply_flags(struct cfg *c, int argc, char **argv, const char *shorts, const struct option *lo,
            int *print, struct err *err)
{
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct cfg_row *r;
		char src[64];

		if (ch == OPT_CONFIG)
			continue;
		if (ch == OPT_PRINT_CONFIG) {
			*print = 1;
			continue;
		}
		if (ch == '?' || ch == ':')
			return err_set(err, ERR_CONFIG, "unknown option or missing value: %s",
			               argv[optind - 1]);
		r = row_by_opt(ch);
		if (r == NULL)
			return err_set(err, ERR_BUG, "option %d has no row", ch);
		snprintf(src, sizeof(src), "--%s", r->flag);
		if (row_set(c, r, r->type == CFG_BOOL ? "true" : optarg, src, err) < 0)
			return -1;
	}
	if (optind < argc)
		return err_set(err, ERR_CONFIG, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/*
 * Precedence by order of application: 1. defaults; 2. pass 1 over argv for --config/--help
 * only; 3. the file; 4. the environment; 5. pass 2: the flags.
 */
int
cfg_load(struct cfg *c, int argc, char **argv, FILE *out, struct err *err)
{
	struct option *lo;
	char shorts[64] = "+h";
	const char *path = NULL;
	size_t i;
	int ch, rc = -1, print = 0;

	set_defaults(c);
	lo = build_options(shorts, sizeof(shorts));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		if (ch == OPT_CONFIG) {
			path = optarg;
		} else if (ch == OPT_HELP || ch == 'h') {
			usage(out);
			rc = 1;
			goto out;
		}
	}
	if (path == NULL && access(CFG_DEFAULT_FILE, R_OK) == 0)
		path = CFG_DEFAULT_FILE;
	if (path != NULL) {
		if (load_file(c, path, err) < 0)
			goto out;
		c->config_file = xstrdup(path);
	}
	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		const char *v = cfg_table[i].env != NULL ? getenv(cfg_table[i].env) : NULL;

		if (v != NULL && *v != '\0' &&
		    row_set(c, &cfg_table[i], v, cfg_table[i].env, err) < 0)
			goto out;
	}
	if (apply_flags(c, argc, argv, shorts, lo, &print, err) < 0)
		goto out;
	if (print) {
		cfg_print(c, out);
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	free(lo);
	return rc;
}

void
cfg_cleanup(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		const struct cfg_row *r = &cfg_table[i];

		if (r->type == CFG_STR || r->type == CFG_URL || r->type == CFG_LEVEL)
			free(*(char **)((char *)c + r->off));
	}
	kv_free(c->databases, c->ndatabases);
	kv_free(c->aliases, c->naliases);
	kv_free(c->maintenance, c->nmaintenance);
	free(c->config_file);
	memset(c, 0, sizeof(*c));
}

const char *
cfg_database_lookup(const struct cfg *c, const char *alias)
{
	return kv_lookup(c->databases, c->ndatabases, alias);
}

const char *
cfg_alias_lookup(const struct cfg *c, const char *name)
{
	return kv_lookup(c->aliases, c->naliases, name);
}

/* url with the value of every "password=" query parameter replaced by ****. Heap string. */
static char *
mask_query_passwords(const char *url)
{
	static const char key[] = "password=";
	const char *p = url, *q = strchr(url, '?');
	struct strbuf sb;

	sb_init(&sb);
	while (q != NULL) {
		const char *v = q + 1, *end;

		if (strncmp(v, key, sizeof(key) - 1) == 0) {
			v += sizeof(key) - 1;
			end = v + strcspn(v, "&#");
			sb_add(&sb, p, (size_t)(v - p));
			sb_adds(&sb, "****");
			p = end;
		}
		q = strchr(q + 1, '&');
	}
	sb_adds(&sb, p);
	return sb_detach(&sb, NULL);
}

char *
cfg_mask_url(const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *colon, *start;
	char *m, *masked;

	if (scheme == NULL)
		return strncmp(url, "sqlite", 6) == 0 ? xstrdup(url) : xstrdup("****");
	start = scheme + 3;
	at = strchr(start, '@');
	colon = at != NULL ? memchr(start, ':', (size_t)(at - start)) : NULL;
	if (colon == NULL)
		return mask_query_passwords(url);
	m = xasprintf("%.*s:****%s", (int)(colon - url), url, at);
	masked = mask_query_passwords(m);
	free(m);
	return masked;
}

void
cfg_print(const struct cfg *c, FILE *f)
{
	size_t i;

	fprintf(f, "[worker]\n");
	for (i = 0; i < ARRAY_LEN(cfg_table); i++) {
		const struct cfg_row *r = &cfg_table[i];
		const char *base = (const char *)c;

		switch (r->type) {
		case CFG_STR:
		case CFG_LEVEL:
		case CFG_URL: {
			const char *v = *(char *const *)(base + r->off);
			char *m = v != NULL && r->secret ? cfg_mask_url(v) : NULL;

			fprintf(f, "%s = %s\n", r->key, m != NULL ? m : v != NULL ? v : "");
			free(m);
			break;
		}
		case CFG_INT:
			fprintf(f, "%s = %d\n", r->key, *(const int *)(base + r->off));
			break;
		case CFG_BOOL:
			fprintf(f, "%s = %s\n", r->key,
			        *(const bool *)(base + r->off) ? "true" : "false");
			break;
		case CFG_SECONDS:
			fprintf(f, "%s = %g\n", r->key, *(const double *)(base + r->off));
			break;
		case CFG_DB:
			break;
		}
	}
	fprintf(f, "[databases]\n");
	for (i = 0; i < c->ndatabases; i++) {
		char *m = cfg_mask_url(c->databases[i].value);

		fprintf(f, "%s = %s\n", c->databases[i].key, m);
		free(m);
	}
	fprintf(f, "[aliases]\n");
	for (i = 0; i < c->naliases; i++)
		fprintf(f, "%s = %s\n", c->aliases[i].key, c->aliases[i].value);
	fprintf(f, "[maintenance]\n");
	for (i = 0; i < c->nmaintenance; i++)
		fprintf(f, "%s = %s\n", c->maintenance[i].key, c->maintenance[i].value);
}

char **
cfg_queue_list(const struct cfg *c, size_t *n)
{
	const char *s = c->queues != NULL ? c->queues : "celery";
	char **v = xcalloc(strlen(s) + 2, sizeof(char *));
	char *dup = xstrdup(s), *p = dup, *tok;

	*n = 0;
	while ((tok = strsep(&p, ",")) != NULL) {
		tok = trim(tok);
		if (*tok != '\0')
			v[(*n)++] = xstrdup(tok);
	}
	if (*n == 0)
		v[(*n)++] = xstrdup("celery");
	free(dup);
	return v;
}

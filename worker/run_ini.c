/* SPDX-License-Identifier: MIT */
/*
 * run_ini.c - the small INI reader behind `janitor run --config FILE`: [section] headers and
 * key = value lines, # and ; comments. It reads [databases] default and [maintenance] keys;
 * the daemon has its own configuration table (worker/cfg.c).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_int.h"
#include "xalloc.h"

struct ini_entry {
	char *section, *key, *value; /* owned */
};

struct run_ini {
	struct ini_entry *v; /* owned */
	size_t n, cap;
};

static char *
trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static void
add(struct run_ini *ini, const char *section, const char *key, const char *value)
{
	if (ini->n == ini->cap) {
		ini->cap = ini->cap ? ini->cap * 2 : 16;
		ini->v = xrealloc(ini->v, ini->cap * sizeof(*ini->v));
	}
	ini->v[ini->n].section = xstrdup(section);
	ini->v[ini->n].key = xstrdup(key);
	ini->v[ini->n].value = xstrdup(value);
	ini->n++;
}

/* One line: a comment, a [section], or key = value. */
static int
parse_line(struct run_ini *ini, char *line, char **section, const char *path, int lineno,
           struct err *err)
{
	char *s = trim(line), *eq, *end;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return err_set(err, ERR_CONFIG, "%s:%d: unclosed [section]", path, lineno);
		*end = '\0';
		free(*section);
		*section = xstrdup(trim(s + 1));
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return err_set(err, ERR_CONFIG, "%s:%d: expected key = value", path, lineno);
	*eq = '\0';
	add(ini, *section, trim(s), trim(eq + 1));
	return 0;
}

struct run_ini *
run_ini_load(const char *path, struct err *err)
{
	struct run_ini *ini = xcalloc(1, sizeof(*ini));
	char *section = xstrdup(""), *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		err_sys(err, ERR_CONFIG, "config %s", path);
		goto fail;
	}
	while (getline(&line, &cap, f) >= 0) {
		if (parse_line(ini, line, &section, path, ++lineno, err) < 0)
			goto fail;
	}
	fclose(f);
	free(line);
	free(section);
	return ini;
fail:
	if (f != NULL)
		fclose(f);
	free(line);
	free(section);
	run_ini_free(ini);
	return NULL;
}

void
run_ini_free(struct run_ini *ini)
{
	size_t i;

	if (ini == NULL)
		return;
	for (i = 0; i < ini->n; i++) {
		free(ini->v[i].section);
		free(ini->v[i].key);
		free(ini->v[i].value);
	}
	free(ini->v);
	free(ini);
}

const char *
run_ini_get(const struct run_ini *ini, const char *section, const char *key)
{
	size_t i;

	for (i = ini->n; i-- > 0;)
		if (strcmp(ini->v[i].section, section) == 0 && strcmp(ini->v[i].key, key) == 0)
			return ini->v[i].value;
	return NULL;
}

int
run_ini_apply(const struct run_ini *ini, struct ops_options *opt, struct err *err)
{
	size_t i;

	for (i = 0; i < ini->n; i++) {
		if (strcmp(ini->v[i].section, "maintenance") != 0)
			continue;
		if (ops_options_set(opt, ini->v[i].key, ini->v[i].value, err) < 0)
			return err_prefix(err, "[maintenance]");
	}
	return 0;
}

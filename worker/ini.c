/* SPDX-License-Identifier: MIT */
/*
 * ini.c - the INI reader shared by `janitor worker` and `janitor run` (see ini.h). Keeps every
 * entry in file order so callers can report the line of a bad key.
 */
#include "config.h"

#include "ini.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct ini_item {
	char *section, *key, *value; /* owned */
	int line;
};

struct ini {
	char *path;         /* owned */
	struct ini_item *v; /* owned */
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
add(struct ini *ini, const char *section, const char *key, const char *value, int line)
{
	if (ini->n == ini->cap) {
		ini->cap = ini->cap ? ini->cap * 2 : 16;
		ini->v = xrealloc(ini->v, ini->cap * sizeof(*ini->v));
	}
	ini->v[ini->n].section = xstrdup(section);
	ini->v[ini->n].key = xstrdup(key);
	ini->v[ini->n].value = xstrdup(value);
	ini->v[ini->n].line = line;
	ini->n++;
}

/* One line: a comment, a [section], or key = value. */
static int
parse_line(struct ini *ini, char *line, char **section, int lineno, struct err *err)
{
	char *s = trim(line), *eq, *end;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return err_set(err, ERR_CONFIG, "%s:%d: unclosed [section]", ini->path,
			               lineno);
		*end = '\0';
		free(*section);
		*section = xstrdup(trim(s + 1));
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return err_set(err, ERR_CONFIG, "%s:%d: expected key = value", ini->path, lineno);
	*eq = '\0';
	add(ini, *section, trim(s), trim(eq + 1), lineno);
	return 0;
}

struct ini *
ini_load(const char *path, struct err *err)
{
	struct ini *ini = xcalloc(1, sizeof(*ini));
	char *section = xstrdup(""), *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	FILE *f;

	ini->path = xstrdup(path);
	f = fopen(path, "r");
	if (f == NULL) {
		err_sys(err, ERR_CONFIG, "config file %s", path);
		goto fail;
	}
	while (getline(&line, &cap, f) >= 0) {
		if (parse_line(ini, line, &section, ++lineno, err) < 0)
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
	ini_free(ini);
	return NULL;
}

void
ini_free(struct ini *ini)
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
	free(ini->path);
	free(ini);
}

const char *
ini_path(const struct ini *ini)
{
	return ini->path;
}

size_t
ini_count(const struct ini *ini)
{
	return ini->n;
}

struct ini_entry
ini_entry(const struct ini *ini, size_t i)
{
	struct ini_entry e = { ini->v[i].section, ini->v[i].key, ini->v[i].value, ini->v[i].line };

	return e;
}

const char *
ini_get(const struct ini *ini, const char *section, const char *key)
{
	size_t i;

	for (i = ini->n; i-- > 0;)
		if (strcmp(ini->v[i].section, section) == 0 && strcmp(ini->v[i].key, key) == 0)
			return ini->v[i].value;
	return NULL;
}

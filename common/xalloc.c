/* SPDX-License-Identifier: MIT */
/*
 * xalloc.c - abort-on-OOM allocation wrappers (see xalloc.h for why).
 */
#include "config.h"

#include "xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

NORETURN static void
oom(size_t n, const char *file, int line)
{
	fprintf(stderr, "janitor: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
	abort();
}

void *
xmalloc_at(size_t n, const char *file, int line)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n, file, line);
	return p;
}

void *
xcalloc_at(size_t n, size_t size, const char *file, int line)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		oom(SIZE_MAX, file, line);
	p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom(n * size, file, line);
	return p;
}

void *
xrealloc_at(void *p, size_t n, const char *file, int line)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n, file, line);
	return q;
}

char *
xstrdup_at(const char *s, const char *file, int line)
{
	if (s == NULL)
		return NULL;
	return xstrndup_at(s, strlen(s), file, line);
}

char *
xstrndup_at(const char *s, size_t n, const char *file, int line)
{
	size_t len;
	char *p;

	if (s == NULL)
		return NULL;
	len = strnlen(s, n);
	p = xmalloc_at(len + 1, file, line);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0, __FILE__, __LINE__);
	p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static void *
cjson_malloc(size_t n)
{
	return xmalloc_at(n, "cJSON", 0);
}

void
xalloc_install_cjson(void)
{
	cJSON_Hooks hooks = { .malloc_fn = cjson_malloc, .free_fn = free };

	cJSON_InitHooks(&hooks);
}

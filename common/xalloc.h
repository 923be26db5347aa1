/* SPDX-License-Identifier: MIT */
/*
 * xalloc.h - allocation that never returns NULL: out of memory logs the size and the call site
 * to stderr and aborts, so no caller carries an untested OOM path. Also installs these as
 * cJSON's hooks (xalloc_install_cjson), so NULL from cJSON means bad input, never OOM.
 */
#ifndef JANITOR_XALLOC_H
#define JANITOR_XALLOC_H

#include <stddef.h>

#include "compat.h"

#define xmalloc(n)     xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, s)  xcalloc_at((n), (s), __FILE__, __LINE__)
#define xrealloc(p, n) xrealloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s)     xstrdup_at((s), __FILE__, __LINE__)
#define xstrndup(s, n) xstrndup_at((s), (n), __FILE__, __LINE__)

void *xmalloc_at(size_t n, const char *file, int line);
/* Checks n * size for overflow. */
void *xcalloc_at(size_t n, size_t size, const char *file, int line);
void *xrealloc_at(void *p, size_t n, const char *file, int line);
/* NULL in, NULL out. */
char *xstrdup_at(const char *s, const char *file, int line);
char *xstrndup_at(const char *s, size_t n, const char *file, int line);
/* printf into a fresh heap string. */
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Make cJSON allocate through xmalloc/free. Idempotent; call once at program start. */
void xalloc_install_cjson(void);

#endif

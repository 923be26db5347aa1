/* SPDX-License-Identifier: MIT */
/*
 * strbuf.h - a growable byte buffer (sb_). Always NUL-terminated so it can be used as a C
 * string; may also hold binary data (len counts bytes, excluding the terminator).
 * Caller storage: sb_init / sb_cleanup. sb_detach hands the heap string to the caller and
 * releases sb.
 */
#ifndef JANITOR_STRBUF_H
#define JANITOR_STRBUF_H

#include <stddef.h>

#include "compat.h"

struct strbuf {
	char *buf;  /* owned; never NULL after sb_init */
	size_t len; /* bytes used, excluding the NUL */
	size_t cap; /* bytes allocated */
};

void sb_init(struct strbuf *sb);
void sb_cleanup(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_add(struct strbuf *sb, const void *data, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, char c);
void sb_addf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Returns the heap string (caller frees) and leaves sb released, as after sb_cleanup
 * (sb_init it again to reuse it; sb_cleanup on it is harmless). */
char *sb_detach(struct strbuf *sb, size_t *len);

#endif

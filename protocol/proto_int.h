/* SPDX-License-Identifier: MIT */
/*
 * proto_int.h - helpers shared by the protocol/ codecs (not part of the contract): limit
 * defaults and typed field readers that produce "<path>.<key>: <reason>" errors.
 */
#ifndef JANITOR_PROTO_INT_H
#define JANITOR_PROTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "compat.h"
#include "err.h"
#include "proto.h"

/* Effective caps: lim may be NULL and its zero members mean the defaults. */
size_t lim_body(const struct proto_limits *lim);
int lim_depth(const struct proto_limits *lim);

/* Absent key and JSON null are the same "not there" for every reader below. */
bool field_is_null(const cJSON *item);

/*
 * Read obj[key] into a fresh string: *out = NULL when absent or null, xstrdup otherwise.
 * Error (ERR_INVALID) "<path>.<key>: must be a string" otherwise; *out untouched on error.
 */
MUSTCHECK int field_str(const cJSON *obj, const char *key, const char *path, char **out,
                        struct err *err);
/* Like field_str but absent/null is an error "<path>.<key>: missing". */
MUSTCHECK int field_str_req(const cJSON *obj, const char *key, const char *path, char **out,
                            struct err *err);
/* Integral number in [lo, hi]; *has = false when absent or null. */
MUSTCHECK int field_int(const cJSON *obj, const char *key, const char *path, int64_t lo, int64_t hi,
                        bool *has, int64_t *out, struct err *err);
/* Boolean; absent or null gives def. */
MUSTCHECK int field_bool(const cJSON *obj, const char *key, const char *path, bool def, bool *out,
                         struct err *err);
/* Number (int or float); *has = false when absent or null. */
MUSTCHECK int num_value(const cJSON *item, const char *what, bool *has, double *out,
                        struct err *err);
/* Duplicate obj[key] when it is an array (or null/absent -> NULL); other types are errors. */
MUSTCHECK int field_array_or_null(const cJSON *obj, const char *key, const char *path, cJSON **out,
                                  struct err *err);

/* Add helpers that abort on failure (only fails on OOM-like misuse, never on input). */
void add_str_or_null(cJSON *obj, const char *key, const char *s);
void add_item(cJSON *obj, const char *key, cJSON *item);
void add_elem(cJSON *array, cJSON *item);
/* cJSON_Duplicate of v, or a JSON null when v is NULL. */
cJSON *dup_or_null(const cJSON *v);
/* Print compact JSON into a heap string; never NULL. */
char *json_print(const cJSON *v, size_t *len);

/* Whether d is finite and integral and within int64 (no libm: protocol/ links without -lm). */
static inline bool
is_int64(double d)
{
	return d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(int64_t)d;
}

/*
 * Bring a freshly decoded tree to what every reader (ours and Celery's) agrees on:
 * 1. when an object repeats a key, the LAST value wins (json.loads and msgpack unpackb do
 *    that), so every field reader sees the value Python sees; O(n log n) per object;
 * 2. NaN and +-inf numbers become null: cJSON and our encoders cannot write them back, so
 *    keeping them would break decode(encode(x)) == x.
 */
void normalize_tree(cJSON *v);

/* Whether buf is well-formed UTF-8 (no overlongs, no surrogates, max U+10FFFF). */
bool proto_utf8_valid(const void *buf, size_t len);
/* A cJSON tree as msgpack (proto_msgpack.c); heap buffer. */
MUSTCHECK void *proto_msgpack_encode_tree(const cJSON *v, size_t *len, struct err *err);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * proto_field.c - typed readers over cJSON objects for the decoders, each failure naming the
 * field by its path, and the small builders the encoders share. No wire knowledge here.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"
#include "xalloc.h"

size_t
lim_body(const struct proto_limits *lim)
{
	if (lim == NULL || lim->max_body == 0)
		return PROTO_DEFAULT_MAX_BODY;
	return lim->max_body;
}

int
lim_depth(const struct proto_limits *lim)
{
	if (lim == NULL || lim->max_depth <= 0)
		return PROTO_DEFAULT_MAX_DEPTH;
	return lim->max_depth;
}

bool
field_is_null(const cJSON *item)
{
	return item == NULL || cJSON_IsNull(item);
}

int
field_str(const cJSON *obj, const char *key, const char *path, char **out, struct err *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (field_is_null(item)) {
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(item))
		return err_set(err, ERR_INVALID, "%s.%s: must be a string", path, key);
	*out = xstrdup(item->valuestring);
	return 0;
}

int
field_str_req(const cJSON *obj, const char *key, const char *path, char **out, struct err *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (field_is_null(item))
		return err_set(err, ERR_INVALID, "%s.%s: missing", path, key);
	return field_str(obj, key, path, out, err);
}

int
num_value(const cJSON *item, const char *what, bool *has, double *out, struct err *err)
{
	if (field_is_null(item)) {
		*has = false;
		return 0;
	}
	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
		return err_set(err, ERR_INVALID, "%s: must be a number", what);
	*has = true;
	*out = item->valuedouble;
	return 0;
}

int
field_int(const cJSON *obj, const char *key, const char *path, int64_t lo, int64_t hi, bool *has,
          int64_t *out, struct err *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	if (field_is_null(item)) {
		*has = false;
		return 0;
	}
	if (!cJSON_IsNumber(item))
		return err_set(err, ERR_INVALID, "%s.%s: must be an integer", path, key);
	d = item->valuedouble;
	if (!is_int64(d))
		return err_set(err, ERR_INVALID, "%s.%s: must be an integer", path, key);
	if (d < (double)lo || d > (double)hi)
		return err_set(err, ERR_INVALID, "%s.%s: out of range", path, key);
	*has = true;
	*out = (int64_t)d;
	return 0;
}

int
field_bool(const cJSON *obj, const char *key, const char *path, bool def, bool *out,
           struct err *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (field_is_null(item)) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsBool(item))
		return err_set(err, ERR_INVALID, "%s.%s: must be a boolean", path, key);
	*out = cJSON_IsTrue(item);
	return 0;
}

int
field_array_or_null(const cJSON *obj, const char *key, const char *path, cJSON **out,
                    struct err *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (field_is_null(item)) {
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsArray(item))
		return err_set(err, ERR_INVALID, "%s.%s: must be a list or null", path, key);
	*out = cJSON_Duplicate(item, 1);
	return 0;
}

void
add_item(cJSON *obj, const char *key, cJSON *item)
{
	if (item == NULL || !cJSON_AddItemToObject(obj, key, item))
		abort();
}

struct key_ref {
	cJSON *item;
	size_t pos;
};

static int
key_ref_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = strcmp(x->item->string, y->item->string);

	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void
normalize_tree(cJSON *v)
{
	struct key_ref *refs;
	size_t n = 0, i = 0;
	cJSON *c;

	if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
		v->type = cJSON_NULL;
		v->valuedouble = 0;
		v->valueint = 0;
		return;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return;
	cJSON_ArrayForEach(c, v) {
		normalize_tree(c);
		n++;
	}
	if (!cJSON_IsObject(v) || n < 2)
		return;
	/* 1. Sort the children by (key, position); 2. in each run of equal keys, delete all
	 *    but the last one. */
	refs = xcalloc(n, sizeof(*refs));
	cJSON_ArrayForEach(c, v) {
		refs[i].item = c;
		refs[i].pos = i;
		i++;
	}
	qsort(refs, n, sizeof(*refs), key_ref_cmp);
	for (i = 0; i + 1 < n; i++)
		if (strcmp(refs[i].item->string, refs[i + 1].item->string) == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(v, refs[i].item));
	free(refs);
}

void
add_elem(cJSON *array, cJSON *item)
{
	if (item == NULL || !cJSON_AddItemToArray(array, item))
		abort();
}

void
add_str_or_null(cJSON *obj, const char *key, const char *s)
{
	add_item(obj, key, s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull());
}

cJSON *
dup_or_null(const cJSON *v)
{
	cJSON *d = v != NULL ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

	if (d == NULL)
		abort();
	return d;
}

char *
json_print(const cJSON *v, size_t *len)
{
	char *s = cJSON_PrintUnformatted(v);

	if (s == NULL)
		abort();
	if (len != NULL)
		*len = strlen(s);
	return s;
}

/* SPDX-License-Identifier: MIT */
/*
 * exec.c - what a task name means: the registry (built-ins, maintenance.<op>, aliases),
 * celery.accumulate, and the operation list of maintenance.run. How maintenance work runs in
 * a child process is exec_child.c.
 */
#include "config.h"

#include "exec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec_int.h"
#include "log.h"
#include "xalloc.h"

struct builtin {
	const char *name;
	enum exec_kind kind;
};

static const struct builtin builtins[] = {
	{ "maintenance.run", EXEC_RUN },
	{ "maintenance.report", EXEC_REPORT },
	{ "celery.accumulate", EXEC_ACCUMULATE },
};

#define OP_PREFIX "maintenance."

bool
exec_name_listed(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ','), *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = end != NULL ? end : p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) == len && strncmp(p, name, len) == 0)
			return true;
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

int
exec_resolve(const struct exec_settings *s, const char *name, struct exec_target *out)
{
	size_t i;

	for (i = 0; i < s->naliases; i++) {
		if (strcmp(s->aliases[i].key, name) == 0) {
			name = s->aliases[i].value;
			break;
		}
	}
	for (i = 0; i < ARRAY_LEN(builtins); i++) {
		if (strcmp(builtins[i].name, name) == 0) {
			out->kind = builtins[i].kind;
			out->op = NULL;
			return 0;
		}
	}
	if (strncmp(name, OP_PREFIX, strlen(OP_PREFIX)) == 0) {
		const struct ops_entry *e = ops_lookup(name + strlen(OP_PREFIX));

		if (e != NULL) {
			out->kind = EXEC_OP;
			out->op = e;
			return 0;
		}
	}
	return -1;
}

void
exec_request_free(struct exec_request *r)
{
	if (r == NULL)
		return;
	proto_task_free(r->task);
	free(r->delivery_tag);
	free(r->queue);
	free(r->exchange);
	free(r->routing_key);
	free(r);
}

void
exec_outcome_init(struct exec_outcome *o)
{
	memset(o, 0, sizeof(*o));
}

void
exec_outcome_cleanup(struct exec_outcome *o)
{
	if (o == NULL)
		return;
	cJSON_Delete(o->result);
	o->result = NULL;
}

void
exec_outcome_fail(struct exec_outcome *o, enum exec_state st, const char *type, const char *module,
                  const char *fmt, ...)
{
	va_list ap;

	o->state = st;
	snprintf(o->exc_type, sizeof(o->exc_type), "%s", type);
	snprintf(o->exc_module, sizeof(o->exc_module), "%s", module);
	va_start(ap, fmt);
	vsnprintf(o->exc_msg, sizeof(o->exc_msg), fmt, ap);
	va_end(ap);
}

cJSON *
exec_accumulate(const cJSON *args, const cJSON *kwargs, struct err *err)
{
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(kwargs, "index");
	const cJSON *item;

	if (idx == NULL || cJSON_IsNull(idx))
		return cJSON_Duplicate(args, 1);
	if (!cJSON_IsNumber(idx) || idx->valuedouble != floor(idx->valuedouble))
		return (void)err_set(err, ERR_INVALID, "kwargs.index: expected an integer"), NULL;
	{
		int n = cJSON_GetArraySize(args), i = (int)idx->valuedouble;

		if (i < 0)
			i += n; /* Python indexing */
		if (i < 0 || i >= n)
			return (void)err_set(err, ERR_INVALID, "tuple index out of range"), NULL;
		item = cJSON_GetArrayItem(args, i);
	}
	return cJSON_Duplicate(item, 1);
}

const struct ops_entry **
exec_run_list(const cJSON *args, const cJSON *kwargs, size_t *n, struct err *err)
{
	const cJSON *ops = cJSON_GetObjectItemCaseSensitive(kwargs, "operations");
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(kwargs, "all");
	const struct ops_entry **list;
	const cJSON *it;
	size_t i, cap = 0;

	*n = 0;
	if ((ops == NULL || cJSON_IsNull(ops)) && cJSON_GetArraySize(args) > 0)
		ops = cJSON_GetArrayItem(args, 0);
	if (cJSON_IsTrue(all) || ops == NULL || cJSON_IsNull(ops) ||
	    (cJSON_IsString(ops) && strcmp(ops->valuestring, "all") == 0)) {
		while (ops_table[cap] != NULL)
			cap++;
		list = xcalloc(cap + 1, sizeof(*list));
		for (i = 0; i < cap; i++)
			list[i] = ops_table[i];
		*n = cap;
		return list;
	}
	if (!cJSON_IsArray(ops))
		return (void)err_set(err, ERR_INVALID,
		                     "operations: expected a list of operation names"),
		       NULL;
	list = xcalloc((size_t)cJSON_GetArraySize(ops) + 1, sizeof(*list));
	cJSON_ArrayForEach(it, ops) {
		const struct ops_entry *e = cJSON_IsString(it) ? ops_lookup(it->valuestring) : NULL;

		if (e == NULL) {
			err_set(err, ERR_INVALID, "operations: unknown operation '%s' (known: %s)",
			        cJSON_IsString(it) ? it->valuestring : "?", ops_names());
			free(list);
			*n = 0;
			return NULL;
		}
		list[(*n)++] = e;
	}
	return list;
}

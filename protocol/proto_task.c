/* SPDX-License-Identifier: MIT */
/*
 * proto_task.c - decoding task messages of protocol v2 (headers + [args, kwargs, embed]) and
 * v1 (one body dict) into struct proto_task, the way celery/worker/strategy.py and
 * celery/worker/request.py read them. Encoding lives in proto_task_encode.c.
 */
#include "config.h"

#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"
#include "xalloc.h"

struct proto_task *
proto_task_new(void)
{
	struct proto_task *t = xcalloc(1, sizeof(*t));

	t->version = PROTO_V2;
	t->utc = true;
	t->args = cJSON_CreateArray();
	t->kwargs = cJSON_CreateObject();
	t->extra_headers = cJSON_CreateObject();
	return t;
}

void
proto_task_free(struct proto_task *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->task);
	free(t->lang);
	free(t->shadow);
	cJSON_Delete(t->args);
	cJSON_Delete(t->kwargs);
	free(t->root_id);
	free(t->parent_id);
	free(t->group);
	free(t->origin);
	free(t->argsrepr);
	free(t->kwargsrepr);
	cJSON_Delete(t->extra_headers);
	free(t->correlation_id);
	free(t->reply_to);
	free(t->exchange);
	free(t->routing_key);
	cJSON_Delete(t->callbacks);
	cJSON_Delete(t->errbacks);
	cJSON_Delete(t->chain);
	cJSON_Delete(t->chord);
	free(t);
}

/* Header keys Celery's as_task_v2 writes, in its order; the rest are "extra". */
static const char v2_header_keys[][16] = {
	"lang",     "task",        "id",      "shadow",        "eta",     "expires",
	"group",    "group_index", "retries", "timelimit",     "root_id", "parent_id",
	"argsrepr", "kwargsrepr",  "origin",  "ignore_result",
};

static bool
is_known_header(const char *key)
{
	for (size_t i = 0; i < ARRAY_LEN(v2_header_keys); i++)
		if (strcmp(key, v2_header_keys[i]) == 0)
			return true;
	return strcmp(key, "redelivered") == 0;
}

/* An ISO-8601 field: absent/null leaves *has false. */
static int
field_time(const cJSON *obj, const char *key, const char *path, bool *has, struct proto_time *out,
           struct err *err)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	*has = false;
	if (field_is_null(item))
		return 0;
	if (!cJSON_IsString(item) || proto_time_parse(item->valuestring, out, err) < 0)
		return err_set(err, ERR_INVALID, "%s.%s: not an ISO-8601 datetime", path, key);
	*has = true;
	return 0;
}

/* timelimit = [hard, soft], each a number or null; the whole may be null or absent. */
static int
field_timelimit(const cJSON *obj, const char *path, struct proto_task *t, struct err *err)
{
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(obj, "timelimit");
	char what[64];

	if (field_is_null(tl))
		return 0;
	if (!cJSON_IsArray(tl) || cJSON_GetArraySize(tl) != 2)
		return err_set(err, ERR_INVALID, "%s.timelimit: must be [hard, soft]", path);
	snprintf(what, sizeof(what), "%s.timelimit[0]", path);
	if (num_value(cJSON_GetArrayItem(tl, 0), what, &t->has_time_limit, &t->time_limit, err) < 0)
		return -1;
	snprintf(what, sizeof(what), "%s.timelimit[1]", path);
	return num_value(cJSON_GetArrayItem(tl, 1), what, &t->has_soft_time_limit,
	                 &t->soft_time_limit, err);
}

/* The fields v1 bodies and v2 headers share, read from obj at path. */
static int
read_common(const cJSON *obj, const char *path, struct proto_task *t, struct err *err)
{
	bool has;

	if (field_str_req(obj, "id", path, &t->id, err) < 0 ||
	    field_str_req(obj, "task", path, &t->task, err) < 0 ||
	    field_str(obj, "lang", path, &t->lang, err) < 0 ||
	    field_str(obj, "shadow", path, &t->shadow, err) < 0 ||
	    field_time(obj, "eta", path, &t->has_eta, &t->eta, err) < 0 ||
	    field_time(obj, "expires", path, &t->has_expires, &t->expires, err) < 0 ||
	    field_int(obj, "group_index", path, 0, INT32_MAX, &t->has_group_index, &t->group_index,
	              err) < 0 ||
	    field_int(obj, "retries", path, 0, INT32_MAX, &has, &t->retries, err) < 0 ||
	    field_timelimit(obj, path, t, err) < 0 ||
	    field_str(obj, "root_id", path, &t->root_id, err) < 0 ||
	    field_str(obj, "parent_id", path, &t->parent_id, err) < 0 ||
	    field_str(obj, "argsrepr", path, &t->argsrepr, err) < 0 ||
	    field_str(obj, "kwargsrepr", path, &t->kwargsrepr, err) < 0 ||
	    field_str(obj, "origin", path, &t->origin, err) < 0 ||
	    field_bool(obj, "ignore_result", path, false, &t->ignore_result, err) < 0)
		return -1;
	if (t->id[0] == '\0')
		return err_set(err, ERR_INVALID, "%s.id: empty", path);
	if (t->task[0] == '\0')
		return err_set(err, ERR_INVALID, "%s.task: empty", path);
	return 0;
}

/* Moves args and kwargs out of the decoded body (which the caller owns and frees). */
static int
read_args(cJSON *body, cJSON *args, cJSON *kwargs, const char *apath, const char *kpath,
          struct proto_task *t, struct err *err)
{
	if (args != NULL && !cJSON_IsNull(args)) {
		if (!cJSON_IsArray(args))
			return err_set(err, ERR_INVALID, "%s: args must be a list", apath);
		cJSON_Delete(t->args);
		t->args = cJSON_DetachItemViaPointer(body, args);
	}
	if (kwargs != NULL && !cJSON_IsNull(kwargs)) {
		if (!cJSON_IsObject(kwargs))
			return err_set(err, ERR_INVALID, "%s: kwargs must be an object", kpath);
		cJSON_Delete(t->kwargs);
		t->kwargs = cJSON_DetachItemViaPointer(body, kwargs);
	}
	return 0;
}

static int
read_chord(const cJSON *obj, const char *path, struct proto_task *t, struct err *err)
{
	const cJSON *chord = cJSON_GetObjectItemCaseSensitive(obj, "chord");

	if (field_is_null(chord))
		return 0;
	if (!cJSON_IsObject(chord))
		return err_set(err, ERR_INVALID, "%s.chord: must be a signature or null", path);
	t->chord = cJSON_Duplicate(chord, 1);
	return 0;
}

static int
decode_v2(const cJSON *headers, cJSON *body, struct proto_task *t, struct err *err)
{
	const cJSON *embed, *h;

	t->version = PROTO_V2;
	if (read_common(headers, "headers", t, err) < 0)
		return -1;
	if (field_str(headers, "group", "headers", &t->group, err) < 0)
		return -1;
	cJSON_ArrayForEach(h, headers) {
		if (!is_known_header(h->string))
			add_item(t->extra_headers, h->string, cJSON_Duplicate(h, 1));
	}
	if (!cJSON_IsArray(body) || cJSON_GetArraySize(body) != 3)
		return err_set(err, ERR_INVALID,
		               "body: protocol 2 body must be [args, kwargs, embed]");
	/* Take the embed before read_args moves args and kwargs out and shifts the indexes. */
	embed = cJSON_GetArrayItem(body, 2);
	if (read_args(body, cJSON_GetArrayItem(body, 0), cJSON_GetArrayItem(body, 1), "body[0]",
	              "body[1]", t, err) < 0)
		return -1;
	if (field_is_null(embed))
		return 0;
	if (!cJSON_IsObject(embed))
		return err_set(err, ERR_INVALID, "body[2]: embed must be an object");
	if (field_array_or_null(embed, "callbacks", "body[2]", &t->callbacks, err) < 0 ||
	    field_array_or_null(embed, "errbacks", "body[2]", &t->errbacks, err) < 0 ||
	    field_array_or_null(embed, "chain", "body[2]", &t->chain, err) < 0)
		return -1;
	return read_chord(embed, "body[2]", t, err);
}

static int
decode_v1(cJSON *body, struct proto_task *t, struct err *err)
{
	t->version = PROTO_V1;
	if (read_common(body, "body", t, err) < 0 ||
	    field_bool(body, "utc", "body", true, &t->utc, err) < 0)
		return -1;
	/* "taskset" is the old name of "group"; Celery 5.2 writes both. */
	if (field_str(body, "group", "body", &t->group, err) < 0)
		return -1;
	if (t->group == NULL && field_str(body, "taskset", "body", &t->group, err) < 0)
		return -1;
	if (read_args(body, cJSON_GetObjectItemCaseSensitive(body, "args"),
	              cJSON_GetObjectItemCaseSensitive(body, "kwargs"), "body.args", "body.kwargs",
	              t, err) < 0)
		return -1;
	if (field_array_or_null(body, "callbacks", "body", &t->callbacks, err) < 0 ||
	    field_array_or_null(body, "errbacks", "body", &t->errbacks, err) < 0 ||
	    field_array_or_null(body, "chain", "body", &t->chain, err) < 0)
		return -1;
	return read_chord(body, "body", t, err);
}

static int
decode_properties(const cJSON *props, const cJSON *headers, struct proto_task *t, struct err *err)
{
	const cJSON *di;
	int64_t v;
	bool has, redelivered = false;

	if (props == NULL)
		return 0;
	if (field_str(props, "correlation_id", "properties", &t->correlation_id, err) < 0 ||
	    field_str(props, "reply_to", "properties", &t->reply_to, err) < 0 ||
	    field_int(props, "priority", "properties", 0, 255, &t->has_priority, &v, err) < 0)
		return -1;
	if (t->has_priority)
		t->priority = (int)v;
	if (field_int(props, "delivery_mode", "properties", 1, 2, &has, &v, err) < 0)
		return -1;
	t->delivery_mode = has ? (int)v : 0;
	di = cJSON_GetObjectItemCaseSensitive(props, "delivery_info");
	if (!field_is_null(di)) {
		if (!cJSON_IsObject(di))
			return err_set(err, ERR_INVALID,
			               "properties.delivery_info: must be an object");
		if (field_str(di, "exchange", "properties.delivery_info", &t->exchange, err) < 0 ||
		    field_str(di, "routing_key", "properties.delivery_info", &t->routing_key, err) <
		            0 ||
		    field_bool(di, "redelivered", "properties.delivery_info", false, &redelivered,
		               err) < 0)
			return -1;
	}
	t->redelivered = redelivered;
	if (headers != NULL) {
		if (field_bool(headers, "redelivered", "headers", false, &redelivered, err) < 0)
			return -1;
		t->redelivered = t->redelivered || redelivered;
	}
	return 0;
}

struct proto_task *
proto_task_decode(const struct proto_msg *m, const struct proto_limits *lim, struct err *err)
{
	struct proto_task *t = NULL;
	cJSON *body = NULL;
	const cJSON *headers = m->headers;
	const cJSON *comp;

	if (headers != NULL && !cJSON_IsObject(headers))
		return err_set(err, ERR_INVALID, "headers: must be an object"), NULL;
	if (m->properties != NULL && !cJSON_IsObject(m->properties))
		return err_set(err, ERR_INVALID, "properties: must be an object"), NULL;
	comp = headers != NULL ? cJSON_GetObjectItemCaseSensitive(headers, "compression") : NULL;
	if (!field_is_null(comp))
		return err_set(err, ERR_UNSUPPORTED,
		               "headers.compression: compressed bodies are not supported (%s)",
		               cJSON_IsString(comp) ? comp->valuestring : "?"),
		       NULL;
	body = proto_body_decode(m->content_type, m->content_encoding, m->body, m->body_len, lim,
	                         err);
	if (body == NULL)
		return NULL;
	t = proto_task_new();
	/* Detection as in the worker's consumer: headers.task means v2 unless the body is a
	 * dict (a v1 or "hybrid" message); a dict body with "task" is v1; anything else is an
	 * unknown message. */
	if (cJSON_IsObject(body) && cJSON_GetObjectItemCaseSensitive(body, "task") != NULL) {
		if (decode_v1(body, t, err) < 0)
			goto fail;
	} else if (headers != NULL &&
	           !field_is_null(cJSON_GetObjectItemCaseSensitive(headers, "task"))) {
		if (decode_v2(headers, body, t, err) < 0)
			goto fail;
	} else {
		err_set(err, ERR_INVALID, "message: not a task (no headers.task and no body.task)");
		goto fail;
	}
	if (decode_properties(m->properties, headers, t, err) < 0)
		goto fail;
	cJSON_Delete(body);
	return t;
fail:
	cJSON_Delete(body);
	proto_task_free(t);
	return NULL;
}

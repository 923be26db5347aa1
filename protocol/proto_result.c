/* SPDX-License-Identifier: MIT */
/*
 * proto_result.c - result-backend values as Celery 5.2's BaseBackend._get_result_meta and
 * _store_result write them (Redis/key-value shape) and as the rpc:// backend sends them, plus
 * the exception dict exception_to_python() reads back.
 */
#include "config.h"

#include "proto.h"

#include <stdlib.h>
#include <string.h>

#include "proto_int.h"
#include "xalloc.h"

static const char state_names[][10] = {
	[PROTO_STATE_PENDING] = "PENDING", [PROTO_STATE_RECEIVED] = "RECEIVED",
	[PROTO_STATE_STARTED] = "STARTED", [PROTO_STATE_SUCCESS] = "SUCCESS",
	[PROTO_STATE_FAILURE] = "FAILURE", [PROTO_STATE_RETRY] = "RETRY",
	[PROTO_STATE_REVOKED] = "REVOKED", [PROTO_STATE_CUSTOM] = "",
};

const char *
proto_state_name(enum proto_state s)
{
	if ((size_t)s >= ARRAY_LEN(state_names) || state_names[s][0] == '\0')
		return NULL;
	return state_names[s];
}

bool
proto_state_is_ready(enum proto_state s)
{
	return s == PROTO_STATE_SUCCESS || s == PROTO_STATE_FAILURE || s == PROTO_STATE_REVOKED;
}

static bool
state_is_exception(enum proto_state s)
{
	return s == PROTO_STATE_FAILURE || s == PROTO_STATE_RETRY || s == PROTO_STATE_REVOKED;
}

cJSON *
proto_exc_new(const char *exc_type, const char *exc_module, const cJSON *exc_args)
{
	cJSON *e = cJSON_CreateObject();

	add_str_or_null(e, "exc_type", exc_type);
	add_item(e, "exc_message",
	         exc_args != NULL ? cJSON_Duplicate(exc_args, 1) : cJSON_CreateArray());
	add_str_or_null(e, "exc_module", exc_module);
	return e;
}

static cJSON *
result_value(const struct proto_result *r)
{
	if (state_is_exception(r->state))
		return proto_exc_new(r->exc_type, r->exc_module, r->exc_args);
	return dup_or_null(r->result);
}

cJSON *
proto_result_new(const struct proto_result *r, enum proto_result_format fmt, struct err *err)
{
	const char *status =
	        r->state == PROTO_STATE_CUSTOM ? r->custom_state : proto_state_name(r->state);
	cJSON *meta;

	if (r->task_id == NULL || r->task_id[0] == '\0')
		return err_set(err, ERR_INVALID, "result.task_id: missing"), NULL;
	if (status == NULL || status[0] == '\0')
		return err_set(err, ERR_INVALID, "result.status: missing state name"), NULL;
	if (state_is_exception(r->state) && (r->exc_type == NULL || r->exc_type[0] == '\0'))
		return err_set(err, ERR_INVALID, "result.exc_type: missing for %s", status), NULL;
	if (r->exc_args != NULL && !cJSON_IsArray(r->exc_args))
		return err_set(err, ERR_INVALID, "result.exc_message: must be a list"), NULL;
	meta = cJSON_CreateObject();
	if (fmt == PROTO_RESULT_RPC)
		add_str_or_null(meta, "task_id", r->task_id);
	add_str_or_null(meta, "status", status);
	add_item(meta, "result", result_value(r));
	add_str_or_null(meta, "traceback", r->traceback);
	add_item(meta, "children",
	         r->children != NULL ? cJSON_Duplicate(r->children, 1) : cJSON_CreateArray());
	if (fmt == PROTO_RESULT_RPC)
		return meta;
	if (proto_state_is_ready(r->state)) {
		/* datetime.utcnow().isoformat(): naive UTC. */
		char buf[PROTO_TIME_BUFSZ];
		struct proto_time t = { .usec = r->now_usec, .offset_min = 0, .naive = true };

		add_str_or_null(meta, "date_done", proto_time_format(&t, buf, sizeof(buf)));
	} else {
		add_item(meta, "date_done", cJSON_CreateNull());
	}
	if (r->group_id != NULL)
		add_str_or_null(meta, "group_id", r->group_id);
	if (r->parent_id != NULL)
		add_str_or_null(meta, "parent_id", r->parent_id);
	if (r->extended) {
		add_str_or_null(meta, "name", r->name);
		add_item(meta, "args", dup_or_null(r->args));
		add_item(meta, "kwargs", dup_or_null(r->kwargs));
		add_str_or_null(meta, "worker", r->worker);
		add_item(meta, "retries", cJSON_CreateNumber((double)r->retries));
		add_str_or_null(meta, "queue", r->queue);
	}
	add_str_or_null(meta, "task_id", r->task_id);
	return meta;
}

cJSON *
proto_result_decode(const void *buf, size_t len, const struct proto_limits *lim, struct err *err)
{
	cJSON *meta = proto_json_decode(buf, len, lim, err);
	const cJSON *status;

	if (meta == NULL)
		return err_prefix(err, "result"), NULL;
	if (!cJSON_IsObject(meta)) {
		err_set(err, ERR_INVALID, "result: must be an object");
		goto fail;
	}
	status = cJSON_GetObjectItemCaseSensitive(meta, "status");
	if (!cJSON_IsString(status) || status->valuestring[0] == '\0') {
		err_set(err, ERR_INVALID, "result.status: must be a non-empty string");
		goto fail;
	}
	if (cJSON_GetObjectItemCaseSensitive(meta, "result") == NULL) {
		err_set(err, ERR_INVALID, "result.result: missing");
		goto fail;
	}
	return meta;
fail:
	cJSON_Delete(meta);
	return NULL;
}

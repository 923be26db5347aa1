/* SPDX-License-Identifier: MIT */
/*
 * proto_event.c - event bodies as Celery 5.2's EventDispatcher writes them: hostname, utcoffset,
 * pid, clock, the type's own fields, timestamp, type (celery/events/dispatcher.py and the
 * worker's send_event calls).
 */
#include "config.h"

#include "proto.h"

#include <math.h>
#include <string.h>

#include "proto_int.h"

/* Arrays, not pointers, so the table stays in read-only data. */
static const struct {
	char name[20];
	char routing_key[20];
} event_names[] = {
	[PROTO_EV_WORKER_ONLINE] = { "worker-online", "worker.online" },
	[PROTO_EV_WORKER_HEARTBEAT] = { "worker-heartbeat", "worker.heartbeat" },
	[PROTO_EV_WORKER_OFFLINE] = { "worker-offline", "worker.offline" },
	[PROTO_EV_TASK_RECEIVED] = { "task-received", "task.received" },
	[PROTO_EV_TASK_STARTED] = { "task-started", "task.started" },
	[PROTO_EV_TASK_SUCCEEDED] = { "task-succeeded", "task.succeeded" },
	[PROTO_EV_TASK_FAILED] = { "task-failed", "task.failed" },
	[PROTO_EV_TASK_RETRIED] = { "task-retried", "task.retried" },
	[PROTO_EV_TASK_REVOKED] = { "task-revoked", "task.revoked" },
	[PROTO_EV_TASK_REJECTED] = { "task-rejected", "task.rejected" },
};

const char *
proto_event_type_name(enum proto_event_type t)
{
	return (size_t)t < ARRAY_LEN(event_names) ? event_names[t].name : NULL;
}

const char *
proto_event_routing_key(enum proto_event_type t)
{
	return (size_t)t < ARRAY_LEN(event_names) ? event_names[t].routing_key : NULL;
}

int
proto_utcoffset(long gmtoff_seconds)
{
	/* time.timezone is seconds WEST of UTC; Python's // floors. */
	long west = -gmtoff_seconds;
	long q = west / 3600;

	if (west % 3600 != 0 && west < 0)
		q--;
	return (int)q;
}

static cJSON *
time_or_null(const struct proto_time *t)
{
	char buf[PROTO_TIME_BUFSZ];

	if (t == NULL)
		return cJSON_CreateNull();
	return cJSON_CreateString(proto_time_format(t, buf, sizeof(buf)));
}

static void
add_worker_fields(cJSON *o, const struct proto_event *ev)
{
	cJSON *la = cJSON_CreateArray();

	add_item(o, "freq", cJSON_CreateNumber(ev->freq));
	add_item(o, "active", cJSON_CreateNumber((double)ev->active));
	add_item(o, "processed", cJSON_CreateNumber((double)ev->processed));
	/* Celery rounds each load average to two places. */
	for (int i = 0; i < 3; i++) {
		double x = ev->loadavg[i] * 100.0;
		double r = x >= 0 && x < 9e15 ? (double)(int64_t)(x + 0.5) : x;

		add_elem(la, cJSON_CreateNumber(r / 100.0));
	}
	add_item(o, "loadavg", la);
	add_str_or_null(o, "sw_ident", ev->sw_ident != NULL ? ev->sw_ident : "janitor");
	add_str_or_null(o, "sw_ver", ev->sw_ver != NULL ? ev->sw_ver : "0");
	add_str_or_null(o, "sw_sys", ev->sw_sys != NULL ? ev->sw_sys : "Linux");
}

cJSON *
proto_event_new(const struct proto_event *ev, struct err *err)
{
	const char *type = proto_event_type_name(ev->type);
	cJSON *o;

	if (type == NULL)
		return err_set(err, ERR_BUG, "event.type: unknown (%d)", (int)ev->type), NULL;
	if (ev->hostname == NULL || ev->hostname[0] == '\0')
		return err_set(err, ERR_INVALID, "event.hostname: missing"), NULL;
	if (ev->type >= PROTO_EV_TASK_RECEIVED && (ev->uuid == NULL || ev->uuid[0] == '\0'))
		return err_set(err, ERR_INVALID, "event.uuid: missing for %s", type), NULL;
	o = cJSON_CreateObject();
	add_str_or_null(o, "hostname", ev->hostname);
	add_item(o, "utcoffset", cJSON_CreateNumber(ev->utcoffset));
	add_item(o, "pid", cJSON_CreateNumber((double)ev->pid));
	add_item(o, "clock", cJSON_CreateNumber((double)ev->clock));
	if (ev->type >= PROTO_EV_TASK_RECEIVED)
		add_str_or_null(o, "uuid", ev->uuid);
	switch (ev->type) {
	case PROTO_EV_WORKER_ONLINE:
	case PROTO_EV_WORKER_HEARTBEAT:
	case PROTO_EV_WORKER_OFFLINE:
		add_worker_fields(o, ev);
		break;
	case PROTO_EV_TASK_RECEIVED:
		add_str_or_null(o, "name", ev->name);
		add_str_or_null(o, "args", ev->args);
		add_str_or_null(o, "kwargs", ev->kwargs);
		add_str_or_null(o, "root_id", ev->root_id);
		add_str_or_null(o, "parent_id", ev->parent_id);
		add_item(o, "retries", cJSON_CreateNumber((double)ev->retries));
		add_item(o, "eta", time_or_null(ev->eta));
		add_item(o, "expires", time_or_null(ev->expires));
		break;
	case PROTO_EV_TASK_STARTED:
		break;
	case PROTO_EV_TASK_SUCCEEDED:
		add_str_or_null(o, "result", ev->result);
		add_item(o, "runtime", cJSON_CreateNumber(ev->runtime));
		break;
	case PROTO_EV_TASK_FAILED:
	case PROTO_EV_TASK_RETRIED:
		add_str_or_null(o, "exception", ev->exception);
		add_str_or_null(o, "traceback", ev->traceback);
		break;
	case PROTO_EV_TASK_REVOKED:
		add_item(o, "terminated", cJSON_CreateBool(ev->terminated));
		add_item(o, "signum",
		         ev->signum != 0 ? cJSON_CreateNumber(ev->signum) : cJSON_CreateNull());
		add_item(o, "expired", cJSON_CreateBool(ev->expired));
		break;
	case PROTO_EV_TASK_REJECTED:
		add_item(o, "requeue", cJSON_CreateBool(ev->requeue));
		break;
	}
	add_item(o, "timestamp", cJSON_CreateNumber(ev->timestamp));
	add_str_or_null(o, "type", type);
	return o;
}

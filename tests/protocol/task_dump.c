/* SPDX-License-Identifier: MIT */
/*
 * task_dump.c - canonical JSON view of struct proto_task and fixture loading, for the unit
 * tests and the proto_dump helper the Python cross-check drives.
 */
#include "config.h"

#include "task_dump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void
put(cJSON *o, const char *k, cJSON *v)
{
	cJSON_AddItemToObject(o, k, v);
}

static cJSON *
str_or_null(const char *s)
{
	return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *
tree_or_null(const cJSON *v)
{
	return v != NULL ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
}

cJSON *
task_dump(const struct proto_task *t)
{
	cJSON *o = cJSON_CreateObject();

	put(o, "version", cJSON_CreateNumber(t->version));
	put(o, "id", str_or_null(t->id));
	put(o, "task", str_or_null(t->task));
	put(o, "lang", str_or_null(t->lang));
	put(o, "shadow", str_or_null(t->shadow));
	put(o, "args", tree_or_null(t->args));
	put(o, "kwargs", tree_or_null(t->kwargs));
	put(o, "eta", t->has_eta ? cJSON_CreateNumber((double)t->eta.usec) : cJSON_CreateNull());
	put(o, "expires",
	    t->has_expires ? cJSON_CreateNumber((double)t->expires.usec) : cJSON_CreateNull());
	put(o, "utc", cJSON_CreateBool(t->utc));
	put(o, "retries", cJSON_CreateNumber((double)t->retries));
	put(o, "time_limit",
	    t->has_time_limit ? cJSON_CreateNumber(t->time_limit) : cJSON_CreateNull());
	put(o, "soft_time_limit",
	    t->has_soft_time_limit ? cJSON_CreateNumber(t->soft_time_limit) : cJSON_CreateNull());
	put(o, "root_id", str_or_null(t->root_id));
	put(o, "parent_id", str_or_null(t->parent_id));
	put(o, "group", str_or_null(t->group));
	put(o, "group_index",
	    t->has_group_index ? cJSON_CreateNumber((double)t->group_index) : cJSON_CreateNull());
	put(o, "origin", str_or_null(t->origin));
	put(o, "argsrepr", str_or_null(t->argsrepr));
	put(o, "kwargsrepr", str_or_null(t->kwargsrepr));
	put(o, "ignore_result", cJSON_CreateBool(t->ignore_result));
	put(o, "extra_headers", tree_or_null(t->extra_headers));
	put(o, "correlation_id", str_or_null(t->correlation_id));
	put(o, "reply_to", str_or_null(t->reply_to));
	put(o, "priority", t->has_priority ? cJSON_CreateNumber(t->priority) : cJSON_CreateNull());
	put(o, "exchange", str_or_null(t->exchange));
	put(o, "routing_key", str_or_null(t->routing_key));
	put(o, "callbacks", tree_or_null(t->callbacks));
	put(o, "errbacks", tree_or_null(t->errbacks));
	put(o, "chain", tree_or_null(t->chain));
	put(o, "chord", tree_or_null(t->chord));
	return o;
}

char *
slurp(const char *path, size_t *len, struct err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL)
		return err_sys(err, ERR_CONFIG, "open %s", path), NULL;
	do {
		if (cap - n < 4096) {
			cap = cap * 2 + 8192;
			buf = xrealloc(buf, cap);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return err_sys(err, ERR_CONFIG, "read %s", path), NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* An AMQP capture: properties hold content_type/encoding and headers; the rest are props. */
static int
load_amqp(const cJSON *fx, struct proto_msg *m, struct err *err)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(fx, "properties");
	const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(fx, "body_base64");
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(fx, "method");
	const cJSON *p, *h;
	cJSON *di;

	if (!cJSON_IsObject(props) || !cJSON_IsString(b64))
		return err_set(err, ERR_INVALID, "fixture: no properties/body_base64");
	m->body =
	        proto_base64_decode(b64->valuestring, strlen(b64->valuestring), &m->body_len, err);
	if (m->body == NULL)
		return -1;
	m->properties = cJSON_CreateObject();
	m->headers = cJSON_CreateObject();
	cJSON_ArrayForEach(p, props) {
		if (strcmp(p->string, "content_type") == 0)
			m->content_type = xstrdup(p->valuestring);
		else if (strcmp(p->string, "content_encoding") == 0)
			m->content_encoding = xstrdup(p->valuestring);
		else if (strcmp(p->string, "headers") == 0)
			cJSON_ArrayForEach(h, p) {
				cJSON_AddItemToObject(m->headers, h->string, cJSON_Duplicate(h, 1));
			}
		else
			cJSON_AddItemToObject(m->properties, p->string, cJSON_Duplicate(p, 1));
	}
	/* The AMQP consumer knows the exchange and routing key from basic.deliver. */
	di = cJSON_CreateObject();
	cJSON_AddItemToObject(di, "exchange",
	                      cJSON_Duplicate(cJSON_GetObjectItem(method, "exchange"), 1));
	cJSON_AddItemToObject(di, "routing_key",
	                      cJSON_Duplicate(cJSON_GetObjectItem(method, "routing_key"), 1));
	cJSON_AddItemToObject(m->properties, "delivery_info", di);
	return 0;
}

int
fixture_msg_load(const char *path, struct proto_msg *m, struct err *err)
{
	size_t len;
	char *text = slurp(path, &len, err);
	cJSON *fx;
	int rc;

	proto_msg_init(m);
	if (text == NULL)
		return -1;
	fx = cJSON_ParseWithLength(text, len);
	if (fx != NULL && cJSON_GetObjectItemCaseSensitive(fx, "body_base64") != NULL) {
		rc = load_amqp(fx, m, err);
		if (rc < 0)
			proto_msg_cleanup(m);
	} else {
		rc = proto_envelope_decode(text, len, NULL, m, err);
	}
	cJSON_Delete(fx);
	free(text);
	return rc;
}

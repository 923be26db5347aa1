/* SPDX-License-Identifier: MIT */
/*
 * proto_task_encode.c - struct proto_task back to a protocol v2 message shaped like Celery's
 * as_task_v2 (for `janitor call`, retries and chain links), plus deep copy and Python-style
 * repr for argsrepr/kwargsrepr.
 */
#include "config.h"

#include "proto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"
#include "strbuf.h"
#include "xalloc.h"

#define REPR_MAX 1024

static cJSON *
dup_tree(const cJSON *v)
{
	return v != NULL ? cJSON_Duplicate(v, 1) : NULL;
}

struct proto_task *
proto_task_dup(const struct proto_task *t)
{
	struct proto_task *d = xmalloc(sizeof(*d));

	*d = *t;
	d->id = xstrdup(t->id);
	d->task = xstrdup(t->task);
	d->lang = xstrdup(t->lang);
	d->shadow = xstrdup(t->shadow);
	d->args = dup_tree(t->args);
	d->kwargs = dup_tree(t->kwargs);
	d->root_id = xstrdup(t->root_id);
	d->parent_id = xstrdup(t->parent_id);
	d->group = xstrdup(t->group);
	d->origin = xstrdup(t->origin);
	d->argsrepr = xstrdup(t->argsrepr);
	d->kwargsrepr = xstrdup(t->kwargsrepr);
	d->extra_headers = dup_tree(t->extra_headers);
	d->correlation_id = xstrdup(t->correlation_id);
	d->reply_to = xstrdup(t->reply_to);
	d->exchange = xstrdup(t->exchange);
	d->routing_key = xstrdup(t->routing_key);
	d->callbacks = dup_tree(t->callbacks);
	d->errbacks = dup_tree(t->errbacks);
	d->chain = dup_tree(t->chain);
	d->chord = dup_tree(t->chord);
	return d;
}

/* ---- repr ---- */

static void
repr_str(struct strbuf *sb, const char *s)
{
	/* Python picks single quotes unless the text has ' and no ". */
	char q = strchr(s, '\'') != NULL && strchr(s, '"') == NULL ? '"' : '\'';

	sb_addc(sb, q);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\' || *p == (unsigned char)q) {
			sb_addc(sb, '\\');
			sb_addc(sb, (char)*p);
		} else if (*p == '\n') {
			sb_adds(sb, "\\n");
		} else if (*p == '\r') {
			sb_adds(sb, "\\r");
		} else if (*p == '\t') {
			sb_adds(sb, "\\t");
		} else if (*p < 0x20 || *p == 0x7f) {
			sb_addf(sb, "\\x%02x", *p);
		} else {
			sb_addc(sb, (char)*p);
		}
	}
	sb_addc(sb, q);
}

/* Python's float repr: the shortest "%.*g" that reads back the same, with ".0" if integral. */
static void
repr_number(struct strbuf *sb, double d)
{
	char buf[40];

	if (isnan(d)) {
		sb_adds(sb, "nan");
		return;
	}
	if (isinf(d)) {
		sb_adds(sb, d < 0 ? "-inf" : "inf");
		return;
	}
	if (d > -1e16 && d < 1e16 && is_int64(d)) {
		sb_addf(sb, "%.0f", d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	sb_adds(sb, buf);
}

static void
repr_value(struct strbuf *sb, const cJSON *v, int depth)
{
	const cJSON *c;
	bool first = true;

	if (sb->len > REPR_MAX)
		return;
	if (depth > PROTO_DEFAULT_MAX_DEPTH) {
		sb_adds(sb, "...");
		return;
	}
	if (cJSON_IsNull(v)) {
		sb_adds(sb, "None");
	} else if (cJSON_IsTrue(v)) {
		sb_adds(sb, "True");
	} else if (cJSON_IsFalse(v)) {
		sb_adds(sb, "False");
	} else if (cJSON_IsNumber(v)) {
		repr_number(sb, v->valuedouble);
	} else if (cJSON_IsString(v)) {
		repr_str(sb, v->valuestring);
	} else if (cJSON_IsArray(v)) {
		sb_addc(sb, '[');
		cJSON_ArrayForEach(c, v) {
			if (!first)
				sb_adds(sb, ", ");
			first = false;
			repr_value(sb, c, depth + 1);
		}
		sb_addc(sb, ']');
	} else if (cJSON_IsObject(v)) {
		sb_addc(sb, '{');
		cJSON_ArrayForEach(c, v) {
			if (!first)
				sb_adds(sb, ", ");
			first = false;
			repr_str(sb, c->string);
			sb_adds(sb, ": ");
			repr_value(sb, c, depth + 1);
		}
		sb_addc(sb, '}');
	}
}

char *
proto_repr(const cJSON *v)
{
	struct strbuf sb;
	char *out;

	sb_init(&sb);
	repr_value(&sb, v, 0);
	if (sb.len > REPR_MAX) {
		sb.len = REPR_MAX - 3;
		sb.buf[sb.len] = '\0';
		sb_adds(&sb, "...");
	}
	out = sb_detach(&sb, NULL);
	sb_cleanup(&sb);
	return out;
}

/* ---- encode ---- */

static cJSON *
time_or_null(bool has, const struct proto_time *t)
{
	char buf[PROTO_TIME_BUFSZ];

	if (!has)
		return cJSON_CreateNull();
	return cJSON_CreateString(proto_time_format(t, buf, sizeof(buf)));
}

static cJSON *
num_or_null(bool has, double v)
{
	return has ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *
encode_headers(const struct proto_task *t)
{
	cJSON *h = cJSON_CreateObject();
	cJSON *tl = cJSON_CreateArray();
	const cJSON *x;
	char *repr;

	add_str_or_null(h, "lang", t->lang != NULL ? t->lang : "py");
	add_str_or_null(h, "task", t->task);
	add_str_or_null(h, "id", t->id);
	add_str_or_null(h, "shadow", t->shadow);
	add_item(h, "eta", time_or_null(t->has_eta, &t->eta));
	add_item(h, "expires", time_or_null(t->has_expires, &t->expires));
	add_str_or_null(h, "group", t->group);
	add_item(h, "group_index", num_or_null(t->has_group_index, (double)t->group_index));
	add_item(h, "retries", cJSON_CreateNumber((double)t->retries));
	add_elem(tl, num_or_null(t->has_time_limit, t->time_limit));
	add_elem(tl, num_or_null(t->has_soft_time_limit, t->soft_time_limit));
	add_item(h, "timelimit", tl);
	add_str_or_null(h, "root_id", t->root_id);
	add_str_or_null(h, "parent_id", t->parent_id);
	/* Celery always writes the reprs; derive them when the caller did not. */
	repr = t->argsrepr == NULL ? proto_repr(t->args) : NULL;
	add_str_or_null(h, "argsrepr", repr != NULL ? repr : t->argsrepr);
	free(repr);
	repr = t->kwargsrepr == NULL ? proto_repr(t->kwargs) : NULL;
	add_str_or_null(h, "kwargsrepr", repr != NULL ? repr : t->kwargsrepr);
	free(repr);
	add_str_or_null(h, "origin", t->origin);
	add_item(h, "ignore_result", cJSON_CreateBool(t->ignore_result));
	cJSON_ArrayForEach(x, t->extra_headers) {
		if (cJSON_GetObjectItemCaseSensitive(h, x->string) == NULL)
			add_item(h, x->string, cJSON_Duplicate(x, 1));
	}
	return h;
}

static cJSON *
encode_body(const struct proto_task *t)
{
	cJSON *body = cJSON_CreateArray();
	cJSON *embed = cJSON_CreateObject();

	/* References, not copies: the body only lives until it is serialized. */
	add_elem(body, t->args != NULL ? cJSON_CreateArrayReference(t->args->child)
	                               : cJSON_CreateArray());
	add_elem(body, t->kwargs != NULL ? cJSON_CreateObjectReference(t->kwargs->child)
	                                 : cJSON_CreateObject());
	add_item(embed, "callbacks", dup_or_null(t->callbacks));
	add_item(embed, "errbacks", dup_or_null(t->errbacks));
	add_item(embed, "chain", dup_or_null(t->chain));
	add_item(embed, "chord", dup_or_null(t->chord));
	add_elem(body, embed);
	return body;
}

int
proto_task_encode(const struct proto_task *t, enum proto_serializer ser, int64_t expiration_ms,
                  struct proto_msg *out, struct err *err)
{
	cJSON *body = NULL, *props;
	void *bytes;
	size_t len = 0;
	char buf[32];

	proto_msg_init(out);
	if (t->id == NULL || t->id[0] == '\0')
		return err_set(err, ERR_INVALID, "task.id: missing");
	if (t->task == NULL || t->task[0] == '\0')
		return err_set(err, ERR_INVALID, "task.task: missing");
	if ((t->args != NULL && !cJSON_IsArray(t->args)) ||
	    (t->kwargs != NULL && !cJSON_IsObject(t->kwargs)))
		return err_set(err, ERR_INVALID, "task.args/kwargs: must be a list and an object");
	body = encode_body(t);
	bytes = proto_body_encode(body, ser, &len, err);
	cJSON_Delete(body);
	if (bytes == NULL)
		return -1;
	props = cJSON_CreateObject();
	add_str_or_null(props, "correlation_id",
	                t->correlation_id != NULL ? t->correlation_id : t->id);
	if (t->reply_to != NULL)
		add_str_or_null(props, "reply_to", t->reply_to);
	add_item(props, "delivery_mode",
	         cJSON_CreateNumber(t->delivery_mode != 0 ? t->delivery_mode : 2));
	if (expiration_ms >= 0) {
		snprintf(buf, sizeof(buf), "%lld", (long long)expiration_ms);
		add_str_or_null(props, "expiration", buf);
	}
	/* Absent stays absent (the Redis envelope then writes kombu's 0), so decode(encode(x)) ==
	 * x. */
	if (t->has_priority)
		add_item(props, "priority", cJSON_CreateNumber(t->priority));
	out->headers = encode_headers(t);
	out->properties = props;
	out->content_type = xstrdup(proto_serializer_content_type(ser));
	out->content_encoding = xstrdup(proto_serializer_content_encoding(ser));
	out->body = bytes;
	out->body_len = len;
	return 0;
}

void
proto_msg_init(struct proto_msg *m)
{
	memset(m, 0, sizeof(*m));
}

void
proto_msg_cleanup(struct proto_msg *m)
{
	cJSON_Delete(m->headers);
	cJSON_Delete(m->properties);
	free(m->content_type);
	free(m->content_encoding);
	free(m->body);
	proto_msg_init(m);
}

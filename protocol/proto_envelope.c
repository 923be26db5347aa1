/* SPDX-License-Identifier: MIT */
/*
 * proto_envelope.c - the kombu Redis transport's message envelope: the JSON object a Redis list
 * element, an `unacked` entry or a fanout PUBLISH carries, with the body base64-encoded.
 */
#include "config.h"

#include "proto.h"

#include <stdlib.h>
#include <string.h>

#include "proto_int.h"
#include "xalloc.h"

int
proto_envelope_decode(const void *buf, size_t len, const struct proto_limits *lim,
                      struct proto_msg *out, struct err *err)
{
	cJSON *env = NULL;
	const cJSON *body, *be;
	cJSON *headers, *props;
	char *ct = NULL, *ce = NULL;
	void *raw = NULL;
	size_t raw_len = 0;

	proto_msg_init(out);
	env = proto_json_decode(buf, len, lim, err);
	if (env == NULL)
		return err_prefix(err, "envelope");
	if (!cJSON_IsObject(env)) {
		err_set(err, ERR_INVALID, "envelope: must be a JSON object");
		goto fail;
	}
	body = cJSON_GetObjectItemCaseSensitive(env, "body");
	headers = cJSON_GetObjectItemCaseSensitive(env, "headers");
	props = cJSON_GetObjectItemCaseSensitive(env, "properties");
	if (!cJSON_IsString(body)) {
		err_set(err, ERR_INVALID, "envelope.body: must be a string");
		goto fail;
	}
	if (!field_is_null(headers) && !cJSON_IsObject(headers)) {
		err_set(err, ERR_INVALID, "envelope.headers: must be an object");
		goto fail;
	}
	if (!cJSON_IsObject(props)) {
		err_set(err, ERR_INVALID, "envelope.properties: must be an object");
		goto fail;
	}
	if (field_str(env, "content-type", "envelope", &ct, err) < 0 ||
	    field_str(env, "content-encoding", "envelope", &ce, err) < 0)
		goto fail;
	be = cJSON_GetObjectItemCaseSensitive(props, "body_encoding");
	if (field_is_null(be)) {
		/* No body_encoding: the body string is the serialized text itself. */
		raw_len = strlen(body->valuestring);
		raw = xstrndup(body->valuestring, raw_len);
	} else if (cJSON_IsString(be) && strcmp(be->valuestring, "base64") == 0) {
		raw = proto_base64_decode(body->valuestring, strlen(body->valuestring), &raw_len,
		                          err);
		if (raw == NULL) {
			err_prefix(err, "envelope.body");
			goto fail;
		}
	} else {
		err_set(err, ERR_UNSUPPORTED,
		        "envelope.properties.body_encoding: unsupported (only base64)");
		goto fail;
	}
	out->headers = cJSON_IsObject(headers) ? cJSON_DetachItemViaPointer(env, headers)
	                                       : cJSON_CreateObject();
	out->properties = cJSON_DetachItemViaPointer(env, props);
	out->content_type = ct;
	out->content_encoding = ce;
	out->body = raw;
	out->body_len = raw_len;
	cJSON_Delete(env);
	return 0;
fail:
	free(ct);
	free(ce);
	free(raw);
	cJSON_Delete(env);
	return -1;
}

/* Properties kombu writes itself, in the places it writes them; others ride in between. */
static bool
is_placed_property(const char *key)
{
	static const char placed[][16] = {
		"correlation_id", "reply_to",      "delivery_mode", "delivery_info",
		"priority",       "body_encoding", "delivery_tag",
	};

	for (size_t i = 0; i < ARRAY_LEN(placed); i++)
		if (strcmp(key, placed[i]) == 0)
			return true;
	return false;
}

/* The envelope only lives until it is printed: refer to the message's values, don't copy. */
static void
add_ref(cJSON *dst, const char *key, const cJSON *v)
{
	if (!cJSON_AddItemReferenceToObject(dst, key, (cJSON *)v))
		abort();
}

static void
copy_prop(cJSON *dst, const cJSON *src, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);

	if (v != NULL)
		add_ref(dst, key, v);
}

char *
proto_envelope_encode(const struct proto_msg *m, const char *exchange, const char *routing_key,
                      const char *delivery_tag, size_t *len, struct err *err)
{
	cJSON *env, *props, *di;
	const cJSON *x, *src = m->properties;
	char *b64, *text;

	if (exchange == NULL || routing_key == NULL)
		return err_set(err, ERR_INVALID,
		               "envelope.properties.delivery_info: exchange and routing_key "
		               "required"),
		       NULL;
	if (delivery_tag == NULL || delivery_tag[0] == '\0')
		return err_set(err, ERR_INVALID, "envelope.properties.delivery_tag: missing"), NULL;
	env = cJSON_CreateObject();
	b64 = proto_base64_encode(m->body, m->body_len, NULL);
	add_str_or_null(env, "body", b64);
	free(b64);
	add_str_or_null(env, "content-encoding",
	                m->content_encoding != NULL ? m->content_encoding : "utf-8");
	add_str_or_null(env, "content-type",
	                m->content_type != NULL ? m->content_type : "application/data");
	add_item(env, "headers",
	         m->headers != NULL ? cJSON_CreateObjectReference(m->headers->child)
	                            : cJSON_CreateObject());
	/* 1. kombu's order: correlation_id, reply_to, delivery_mode, then the caller's extras
	 *    (expiration, periodic_task_name, ...), then delivery_info, priority,
	 *    body_encoding, delivery_tag. */
	props = cJSON_CreateObject();
	copy_prop(props, src, "correlation_id");
	copy_prop(props, src, "reply_to");
	copy_prop(props, src, "delivery_mode");
	cJSON_ArrayForEach(x, src) {
		if (!is_placed_property(x->string))
			add_ref(props, x->string, x);
	}
	di = cJSON_CreateObject();
	add_str_or_null(di, "exchange", exchange);
	add_str_or_null(di, "routing_key", routing_key);
	add_item(props, "delivery_info", di);
	x = cJSON_GetObjectItemCaseSensitive(src, "priority");
	if (x != NULL)
		add_ref(props, "priority", x);
	else
		add_item(props, "priority", cJSON_CreateNumber(0));
	add_str_or_null(props, "body_encoding", "base64");
	add_str_or_null(props, "delivery_tag", delivery_tag);
	add_item(env, "properties", props);
	text = json_print(env, len);
	cJSON_Delete(env);
	return text;
}

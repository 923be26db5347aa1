/* SPDX-License-Identifier: MIT */
/*
 * proto_control.c - remote-control (pidbox) bodies as kombu's Mailbox writes them: the command
 * {method, arguments, destination, pattern, matcher[, ticket, reply_to]}, the dispatch rule
 * that picks the nodes, and the {node: reply} answer.
 */
#include "config.h"

#include "proto.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"
#include "xalloc.h"

void
proto_control_free(struct proto_control *c)
{
	if (c == NULL)
		return;
	free(c->method);
	cJSON_Delete(c->arguments);
	cJSON_Delete(c->destination);
	free(c->pattern);
	free(c->matcher);
	free(c->ticket);
	free(c->reply_exchange);
	free(c->reply_routing_key);
	free(c);
}

static int
decode_fields(const cJSON *b, struct proto_control *c, struct err *err)
{
	const cJSON *args, *dest, *rt;

	if (field_str_req(b, "method", "body", &c->method, err) < 0 ||
	    field_str(b, "pattern", "body", &c->pattern, err) < 0 ||
	    field_str(b, "matcher", "body", &c->matcher, err) < 0 ||
	    field_str(b, "ticket", "body", &c->ticket, err) < 0)
		return -1;
	args = cJSON_GetObjectItemCaseSensitive(b, "arguments");
	if (!field_is_null(args) && !cJSON_IsObject(args))
		return err_set(err, ERR_INVALID, "body.arguments: must be an object");
	c->arguments = cJSON_IsObject(args) ? cJSON_Duplicate(args, 1) : cJSON_CreateObject();
	dest = cJSON_GetObjectItemCaseSensitive(b, "destination");
	if (!field_is_null(dest)) {
		const cJSON *d;

		if (!cJSON_IsArray(dest))
			return err_set(err, ERR_INVALID,
			               "body.destination: must be a list or null");
		cJSON_ArrayForEach(d, dest) {
			if (!cJSON_IsString(d))
				return err_set(err, ERR_INVALID,
				               "body.destination: must hold node names");
		}
		c->destination = cJSON_Duplicate(dest, 1);
	}
	rt = cJSON_GetObjectItemCaseSensitive(b, "reply_to");
	if (!field_is_null(rt)) {
		if (!cJSON_IsObject(rt))
			return err_set(err, ERR_INVALID, "body.reply_to: must be an object");
		if (field_str_req(rt, "exchange", "body.reply_to", &c->reply_exchange, err) < 0 ||
		    field_str_req(rt, "routing_key", "body.reply_to", &c->reply_routing_key, err) <
		            0)
			return -1;
	}
	return 0;
}

struct proto_control *
proto_control_decode(const struct proto_msg *m, const struct proto_limits *lim, struct err *err)
{
	struct proto_control *c = NULL;
	cJSON *b = proto_body_decode(m->content_type, m->content_encoding, m->body, m->body_len,
	                             lim, err);

	if (b == NULL)
		return NULL;
	if (!cJSON_IsObject(b)) {
		err_set(err, ERR_INVALID, "body: a control command must be an object");
		goto fail;
	}
	c = xcalloc(1, sizeof(*c));
	if (decode_fields(b, c, err) < 0)
		goto fail;
	cJSON_Delete(b);
	return c;
fail:
	cJSON_Delete(b);
	proto_control_free(c);
	return NULL;
}

bool
proto_control_matches(const struct proto_control *c, const char *nodename)
{
	if (c->destination != NULL && cJSON_GetArraySize(c->destination) > 0) {
		const cJSON *d;

		cJSON_ArrayForEach(d, c->destination) {
			if (strcmp(d->valuestring, nodename) == 0)
				return true;
		}
		return false;
	}
	if (c->pattern != NULL && c->matcher != NULL) {
		if (strcmp(c->matcher, "glob") == 0)
			return fnmatch(c->pattern, nodename, 0) == 0;
		if (strcmp(c->matcher, "pcre") == 0) {
			regex_t re;
			regmatch_t pm[1];
			bool hit;

			/* Python's re.match anchors at the start only. */
			if (regcomp(&re, c->pattern, REG_EXTENDED) != 0)
				return false;
			hit = regexec(&re, nodename, 1, pm, 0) == 0 && pm[0].rm_so == 0;
			regfree(&re);
			return hit;
		}
		return false;
	}
	return true;
}

cJSON *
proto_control_request_new(const char *method, const cJSON *arguments, const cJSON *destination,
                          const char *ticket, const char *reply_routing_key)
{
	cJSON *b = cJSON_CreateObject();

	add_str_or_null(b, "method", method);
	add_item(b, "arguments",
	         arguments != NULL ? cJSON_Duplicate(arguments, 1) : cJSON_CreateObject());
	add_item(b, "destination", dup_or_null(destination));
	add_item(b, "pattern", cJSON_CreateNull());
	add_item(b, "matcher", cJSON_CreateNull());
	if (ticket != NULL && reply_routing_key != NULL) {
		cJSON *rt = cJSON_CreateObject();

		add_str_or_null(b, "ticket", ticket);
		add_str_or_null(rt, "exchange", "reply.celery.pidbox");
		add_str_or_null(rt, "routing_key", reply_routing_key);
		add_item(b, "reply_to", rt);
	}
	return b;
}

cJSON *
proto_control_reply_new(const char *nodename, cJSON *reply)
{
	cJSON *o = cJSON_CreateObject();

	add_item(o, nodename, reply != NULL ? reply : cJSON_CreateNull());
	return o;
}

cJSON *
proto_control_ok(const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	add_str_or_null(o, "ok", msg);
	return o;
}

cJSON *
proto_control_error(const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	add_str_or_null(o, "error", msg);
	return o;
}

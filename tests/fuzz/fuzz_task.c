/* SPDX-License-Identifier: MIT */
/*
 * fuzz_task.c - libFuzzer target for proto_task_decode. Input: one selector byte (content
 * type), the headers as JSON text, a NUL, then the raw body. Whatever decodes must encode
 * and decode again (we must read what we write).
 */
#include "config.h"

#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "xalloc.h"

static const char *const content_types[] = {
	"application/json",
	"application/x-msgpack",
	"application/x-python-serialize",
	"application/x-yaml",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_limits lim = { .max_body = 1u << 20, .max_depth = 32 };
	struct proto_msg m, out;
	struct proto_task *t, *t2;
	struct err err;
	const uint8_t *nul;
	size_t hlen;

	if (size < 1)
		return 0;
	xalloc_install_cjson();
	proto_msg_init(&m);
	m.content_type = xstrdup(content_types[data[0] % 4]);
	m.content_encoding = xstrdup(data[0] & 4 ? "binary" : "utf-8");
	data++;
	size--;
	nul = memchr(data, '\0', size);
	hlen = nul != NULL ? (size_t)(nul - data) : size;
	m.headers = proto_json_decode(data, hlen, &lim, &err);
	m.properties = cJSON_CreateObject();
	if (nul != NULL) {
		m.body_len = size - hlen - 1;
		m.body = xmalloc(m.body_len + 1);
		memcpy(m.body, nul + 1, m.body_len);
	}
	t = proto_task_decode(&m, &lim, &err);
	if (t != NULL) {
		if (proto_task_encode(t, data[-1] & 8 ? PROTO_SER_MSGPACK : PROTO_SER_JSON, -1,
		                      &out, &err) < 0) {
			fprintf(stderr, "encode of a decoded task failed: %s\n", err.msg);
			abort();
		}
		t2 = proto_task_decode(&out, NULL, &err);
		if (t2 == NULL) {
			fprintf(stderr, "re-decode of our own encoding failed: %s\n", err.msg);
			abort();
		}
		if (strcmp(t2->id, t->id) != 0 || strcmp(t2->task, t->task) != 0 ||
		    !cJSON_Compare(t2->args, t->args, 1) ||
		    !cJSON_Compare(t2->kwargs, t->kwargs, 1))
			abort();
		proto_task_free(t2);
		proto_msg_cleanup(&out);
	}
	proto_task_free(t);
	proto_msg_cleanup(&m);
	return 0;
}

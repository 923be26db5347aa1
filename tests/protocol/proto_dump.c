/* SPDX-License-Identifier: MIT */
/*
 * proto_dump.c - decode task message files (kombu Redis envelopes or AMQP captures) and print
 * one JSON line per file: {"file", "task": <canonical view>} or {"file", "error", "class"}.
 * With --reencode, print instead the kombu envelope of the task re-encoded as protocol 2 JSON.
 * Driven by tests/protocol/check-celery.sh to compare our codec with Python Celery.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_dump.h"
#include "xalloc.h"

/* Encode t as v2 JSON, wrap it in an envelope for its original route, print one line. */
static int
reencode_print(const struct proto_task *t, struct err *err)
{
	struct proto_msg out;
	char *env;
	size_t len;

	if (proto_task_encode(t, PROTO_SER_JSON, -1, &out, err) < 0)
		return -1;
	env = proto_envelope_encode(&out, t->exchange != NULL ? t->exchange : "",
	                            t->routing_key != NULL ? t->routing_key : "celery",
	                            "00000000-0000-4000-8000-000000000000", &len, err);
	proto_msg_cleanup(&out);
	if (env == NULL)
		return -1;
	puts(env);
	free(env);
	return 0;
}

int
main(int argc, char **argv)
{
	int status = 0, first = 1;
	bool reencode = argc > 1 && strcmp(argv[1], "--reencode") == 0;

	xalloc_install_cjson();
	if (reencode)
		first = 2;
	for (int i = first; i < argc; i++) {
		struct err err;
		struct proto_msg m;
		struct proto_task *t = NULL;
		cJSON *line = cJSON_CreateObject();
		char *text;

		err_clear(&err);
		cJSON_AddStringToObject(line, "file", argv[i]);
		if (fixture_msg_load(argv[i], &m, &err) == 0)
			t = proto_task_decode(&m, NULL, &err);
		if (t != NULL && reencode) {
			if (reencode_print(t, &err) < 0) {
				fprintf(stderr, "%s: %s\n", argv[i], err.msg);
				status = 1;
			}
			cJSON_Delete(line);
			proto_task_free(t);
			proto_msg_cleanup(&m);
			continue;
		}
		if (t != NULL) {
			cJSON_AddItemToObject(line, "task", task_dump(t));
		} else {
			cJSON_AddStringToObject(line, "error", err.msg);
			cJSON_AddStringToObject(line, "class", err_class_name(err.cls));
		}
		text = cJSON_PrintUnformatted(line);
		if (text == NULL || puts(text) == EOF)
			status = 1;
		free(text);
		cJSON_Delete(line);
		proto_task_free(t);
		proto_msg_cleanup(&m);
	}
	return status;
}

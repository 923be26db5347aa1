/* SPDX-License-Identifier: MIT */
/*
 * fuzz_envelope.c - libFuzzer target for the kombu Redis envelope: decode, then read the
 * message as a task and as a control command, then re-encode the envelope and decode it
 * again (the body must survive unchanged).
 */
#include "config.h"

#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "xalloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_limits lim = { .max_body = 1u << 20, .max_depth = 32 };
	struct proto_msg m, back;
	struct proto_task *t;
	struct proto_control *c;
	struct err err;
	char *env;
	size_t len;

	xalloc_install_cjson();
	if (proto_envelope_decode(data, size, &lim, &m, &err) < 0)
		return 0;
	t = proto_task_decode(&m, &lim, &err);
	proto_task_free(t);
	c = proto_control_decode(&m, &lim, &err);
	if (c != NULL)
		(void)proto_control_matches(c, "janitor@fuzz");
	proto_control_free(c);
	env = proto_envelope_encode(&m, "", "celery", "tag", &len, &err);
	if (env == NULL)
		abort();
	if (proto_envelope_decode(env, len, NULL, &back, &err) < 0)
		abort();
	if (back.body_len != m.body_len || memcmp(back.body, m.body, m.body_len) != 0)
		abort();
	proto_msg_cleanup(&back);
	free(env);
	proto_msg_cleanup(&m);
	return 0;
}

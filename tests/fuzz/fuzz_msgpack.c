/* SPDX-License-Identifier: MIT */
/*
 * fuzz_msgpack.c - libFuzzer target for msgpack -> cJSON (the bounds pre-scan and the
 * msgpack-c conversion); what decodes must re-encode, decode again and re-encode to the
 * same bytes (bytes, not cJSON_Compare, because NaN never equals itself).
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
	struct proto_limits lim = { .max_body = 1u << 20, .max_depth = 0 };
	struct err err;
	cJSON *v, *again;
	void *mp, *mp2;
	size_t len, len2;

	xalloc_install_cjson();
	v = proto_msgpack_decode(data, size, &lim, &err);
	if (v == NULL)
		return 0;
	mp = proto_body_encode(v, PROTO_SER_MSGPACK, &len, &err);
	if (mp == NULL)
		abort();
	again = proto_msgpack_decode(mp, len, NULL, &err);
	if (again == NULL)
		abort();
	mp2 = proto_body_encode(again, PROTO_SER_MSGPACK, &len2, &err);
	if (mp2 == NULL || len2 != len || memcmp(mp, mp2, len) != 0)
		abort();
	free(mp2);
	cJSON_Delete(again);
	free(mp);
	cJSON_Delete(v);
	return 0;
}

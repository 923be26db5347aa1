/* SPDX-License-Identifier: MIT */
/*
 * proto_msgpack.c - msgpack <-> cJSON at the edge, as kombu packs (use_bin_type=True) and
 * unpacks (raw=False). msgpack-c does the parsing; a bounds pre-scan runs first because
 * msgpack-c allocates a container's declared size before reading it (a 5-byte input could
 * ask for gigabytes) and has a fixed 32-level stack.
 */
#include "config.h"

#include "proto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "proto_int.h"
#include "xalloc.h"

/* msgpack-c's unpacker stack (MSGPACK_EMBED_STACK_SIZE) holds at most 32 open containers. */
#define MSGPACK_C_MAX_DEPTH 31

static uint64_t
be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Walk one value at *pos without allocating: every length must fit in what is left, every
 * container's count can be at most the bytes left (each element takes at least one), nesting
 * is bounded. Ext types are refused here: kombu never writes them.
 */
static int
scan(const unsigned char *p, size_t len, size_t *pos, int depth, int max_depth, struct err *err)
{
	size_t left, skip = 0;
	uint64_t count = 0;
	bool is_map = false, container = false;
	unsigned char c;

	if (*pos >= len)
		return err_set(err, ERR_INVALID, "truncated msgpack");
	c = p[(*pos)++];
	left = len - *pos;
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
		skip = 0;
	} else if (c >= 0x80 && c <= 0x8f) {
		container = is_map = true;
		count = c & 0x0f;
	} else if (c >= 0x90 && c <= 0x9f) {
		container = true;
		count = c & 0x0f;
	} else if (c >= 0xa0 && c <= 0xbf) {
		skip = c & 0x1f;
	} else if (c == 0xc4 || c == 0xd9) {
		if (left < 1)
			goto truncated;
		skip = 1 + be(p + *pos, 1);
	} else if (c == 0xc5 || c == 0xda) {
		if (left < 2)
			goto truncated;
		skip = 2 + be(p + *pos, 2);
	} else if (c == 0xc6 || c == 0xdb) {
		if (left < 4)
			goto truncated;
		skip = 4 + be(p + *pos, 4);
	} else if (c == 0xca) {
		skip = 4;
	} else if (c == 0xcb) {
		skip = 8;
	} else if (c >= 0xcc && c <= 0xcf) {
		skip = (size_t)1 << (c - 0xcc);
	} else if (c >= 0xd0 && c <= 0xd3) {
		skip = (size_t)1 << (c - 0xd0);
	} else if (c == 0xdc || c == 0xde) {
		if (left < 2)
			goto truncated;
		container = true;
		is_map = c == 0xde;
		count = be(p + *pos, 2);
		skip = 2;
	} else if (c == 0xdd || c == 0xdf) {
		if (left < 4)
			goto truncated;
		container = true;
		is_map = c == 0xdf;
		count = be(p + *pos, 4);
		skip = 4;
	} else if ((c >= 0xc7 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8)) {
		return err_set(err, ERR_UNSUPPORTED, "msgpack ext types are not supported");
	} else {
		return err_set(err, ERR_INVALID, "invalid msgpack byte 0x%02x", c);
	}
	if (left < skip)
		goto truncated;
	*pos += skip;
	if (!container)
		return 0;
	if (depth + 1 > max_depth)
		return err_set(err, ERR_INVALID, "nested deeper than %d levels", max_depth);
	if (is_map)
		count *= 2;
	if (count > len - *pos)
		return err_set(err, ERR_INVALID, "truncated msgpack");
	for (uint64_t i = 0; i < count; i++)
		if (scan(p, len, pos, depth + 1, max_depth, err) < 0)
			return -1;
	return 0;
truncated:
	return err_set(err, ERR_INVALID, "truncated msgpack");
}

static cJSON *
string_node(const char *s, uint32_t n, struct err *err)
{
	char *tmp;
	cJSON *node;

	if (n == 0) /* msgpack-c gives a NULL pointer for empty strings */
		return cJSON_CreateString("");
	if (memchr(s, '\0', n) != NULL)
		return err_set(err, ERR_UNSUPPORTED, "string contains a NUL byte"), NULL;
	if (!proto_utf8_valid(s, n))
		return err_set(err, ERR_INVALID, "string is not valid UTF-8"), NULL;
	tmp = xstrndup(s, n);
	node = cJSON_CreateString(tmp);
	free(tmp);
	return node;
}

static cJSON *
to_cjson(const msgpack_object *o, struct err *err)
{
	cJSON *node = NULL;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return cJSON_CreateNull();
	case MSGPACK_OBJECT_BOOLEAN:
		return cJSON_CreateBool(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return cJSON_CreateNumber((double)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return cJSON_CreateNumber((double)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return cJSON_CreateNumber(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return string_node(o->via.str.ptr, o->via.str.size, err);
	case MSGPACK_OBJECT_BIN:
		/* kombu's JSON model has no bytes; UTF-8 bytes read as the text they hold. */
		node = string_node(o->via.bin.ptr, o->via.bin.size, err);
		if (node == NULL)
			err_prefix(err, "binary value");
		return node;
	case MSGPACK_OBJECT_ARRAY:
		node = cJSON_CreateArray();
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			cJSON *child = to_cjson(&o->via.array.ptr[i], err);

			if (child == NULL)
				goto fail;
			if (!cJSON_AddItemToArray(node, child))
				abort();
		}
		return node;
	case MSGPACK_OBJECT_MAP:
		node = cJSON_CreateObject();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			cJSON *child;
			char *key;

			if (kv->key.type != MSGPACK_OBJECT_STR) {
				err_set(err, ERR_UNSUPPORTED, "map key is not a string");
				goto fail;
			}
			if (kv->key.via.str.size > 0 &&
			    (memchr(kv->key.via.str.ptr, '\0', kv->key.via.str.size) != NULL ||
			     !proto_utf8_valid(kv->key.via.str.ptr, kv->key.via.str.size))) {
				err_set(err, ERR_INVALID, "map key is not valid text");
				goto fail;
			}
			child = to_cjson(&kv->val, err);
			if (child == NULL)
				goto fail;
			key = kv->key.via.str.size > 0
			              ? xstrndup(kv->key.via.str.ptr, kv->key.via.str.size)
			              : xstrdup("");
			add_item(node, key, child);
			free(key);
		}
		return node;
	case MSGPACK_OBJECT_EXT:
		return err_set(err, ERR_UNSUPPORTED, "msgpack ext types are not supported"), NULL;
	}
	return err_set(err, ERR_INVALID, "unknown msgpack object type"), NULL;
fail:
	cJSON_Delete(node);
	return NULL;
}

cJSON *
proto_msgpack_decode(const void *buf, size_t len, const struct proto_limits *lim, struct err *err)
{
	msgpack_unpacked up;
	size_t pos = 0, off = 0;
	int max_depth = lim_depth(lim);
	cJSON *root = NULL;

	if (len > lim_body(lim))
		return err_set(err, ERR_INVALID, "too large (%zu bytes, limit %zu)", len,
		               lim_body(lim)),
		       NULL;
	if (max_depth > MSGPACK_C_MAX_DEPTH)
		max_depth = MSGPACK_C_MAX_DEPTH;
	if (scan(buf, len, &pos, 0, max_depth, err) < 0)
		return NULL;
	if (pos != len)
		return err_set(err, ERR_INVALID, "trailing data after msgpack value at offset %zu",
		               pos),
		       NULL;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		err_set(err, ERR_INVALID, "not valid msgpack");
		goto out;
	}
	root = to_cjson(&up.data, err);
	if (root != NULL)
		normalize_tree(root);
out:
	msgpack_unpacked_destroy(&up);
	return root;
}

/* msgpack-c's packer only fails when its buffer's writer does; map that to an error. */
static int
pk_rc(int rc, struct err *err)
{
	return rc < 0 ? err_set(err, ERR_BUG, "msgpack packer failed") : 0;
}

static int
pack(msgpack_packer *pk, const cJSON *v, int depth, struct err *err)
{
	if (depth > PROTO_DEFAULT_MAX_DEPTH)
		return err_set(err, ERR_INVALID, "nested deeper than %d levels",
		               PROTO_DEFAULT_MAX_DEPTH);
	if (cJSON_IsNull(v))
		return pk_rc(msgpack_pack_nil(pk), err);
	if (cJSON_IsTrue(v))
		return pk_rc(msgpack_pack_true(pk), err);
	if (cJSON_IsFalse(v))
		return pk_rc(msgpack_pack_false(pk), err);
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		/* Integral values within int64 go as integers, as Python ints would. */
		if (is_int64(d))
			return pk_rc(msgpack_pack_int64(pk, (int64_t)d), err);
		return pk_rc(msgpack_pack_double(pk, d), err);
	}
	if (cJSON_IsString(v)) {
		size_t n = strlen(v->valuestring);

		if (msgpack_pack_str(pk, n) < 0)
			return pk_rc(-1, err);
		return pk_rc(msgpack_pack_str_body(pk, v->valuestring, n), err);
	}
	if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
		const cJSON *c;
		size_t n = (size_t)cJSON_GetArraySize(v);

		if ((cJSON_IsArray(v) ? msgpack_pack_array(pk, n) : msgpack_pack_map(pk, n)) < 0)
			return pk_rc(-1, err);
		cJSON_ArrayForEach(c, v) {
			if (cJSON_IsObject(v)) {
				size_t kn = strlen(c->string);

				if (msgpack_pack_str(pk, kn) < 0 ||
				    msgpack_pack_str_body(pk, c->string, kn) < 0)
					return pk_rc(-1, err);
			}
			if (pack(pk, c, depth + 1, err) < 0)
				return -1;
		}
		return 0;
	}
	return err_set(err, ERR_INVALID, "value of cJSON type %d has no msgpack form", v->type);
}

void *
proto_msgpack_encode_tree(const cJSON *v, size_t *len, struct err *err)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *out;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (pack(&pk, v, 0, err) < 0) {
		msgpack_sbuffer_destroy(&sb);
		return NULL;
	}
	out = xmalloc(sb.size + 1);
	memcpy(out, sb.data, sb.size);
	out[sb.size] = '\0';
	*len = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return out;
}

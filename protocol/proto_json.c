/* SPDX-License-Identifier: MIT */
/*
 * proto_json.c - the serializer layer: kombu's loads() decision (content type, encoding,
 * ContentDisallowed), JSON text to cJSON with bounded size and depth, and tree to bytes.
 * msgpack itself lives in proto_msgpack.c.
 */
#include "config.h"

#include "proto.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto_int.h"
#include "strbuf.h"
#include "xalloc.h"

const char *
proto_serializer_content_type(enum proto_serializer s)
{
	switch (s) {
	case PROTO_SER_JSON:
		return "application/json";
	case PROTO_SER_MSGPACK:
		return "application/x-msgpack";
	}
	return "application/json";
}

const char *
proto_serializer_content_encoding(enum proto_serializer s)
{
	switch (s) {
	case PROTO_SER_JSON:
		return "utf-8";
	case PROTO_SER_MSGPACK:
		return "binary";
	}
	return "utf-8";
}

/* Scan JSON text for nesting depth without parsing: brackets outside strings. */
static int
json_depth_ok(const char *s, size_t len, int max_depth)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return false;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return true;
}

bool
proto_utf8_valid(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/*
 * Python's json.dumps writes float('nan') and float('inf') as the bare tokens NaN, Infinity
 * and -Infinity, which cJSON rejects. Outside strings no valid JSON has an 'N' or 'I', so
 * when one appears, return a copy where Infinity becomes 1e999 (which parses as inf) and NaN
 * becomes null (cJSON has no NaN literal; it would print NaN as null anyway). NULL when the
 * text has no such token.
 */
static char *
rewrite_nonfinite(const char *s, size_t len, size_t *out_len)
{
	struct strbuf sb;
	bool in_str = false, found = false;
	size_t i = 0;

	sb_init(&sb);
	while (i < len) {
		char c = s[i];

		if (in_str) {
			if (c == '\\' && i + 1 < len) {
				sb_add(&sb, s + i, 2);
				i += 2;
				continue;
			}
			in_str = c != '"';
		} else if (c == '"') {
			in_str = true;
		} else if (c == 'N' && len - i >= 3 && memcmp(s + i, "NaN", 3) == 0) {
			sb_adds(&sb, "null");
			i += 3;
			found = true;
			continue;
		} else if (c == 'I' && len - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) {
			sb_adds(&sb, "1e999");
			i += 8;
			found = true;
			continue;
		}
		sb_addc(&sb, c);
		i++;
	}
	if (!found) {
		sb_cleanup(&sb);
		return NULL;
	}
	{
		char *out = sb_detach(&sb, out_len);

		return out;
	}
}

cJSON *
proto_json_decode(const void *buf, size_t len, const struct proto_limits *lim, struct err *err)
{
	const char *s = buf;
	const char *end = NULL;
	cJSON *root;

	if (len > lim_body(lim))
		return err_set(err, ERR_INVALID, "too large (%zu bytes, limit %zu)", len,
		               lim_body(lim)),
		       NULL;
	if (len > 0 && memchr(s, '\0', len) != NULL)
		return err_set(err, ERR_INVALID, "not valid JSON: NUL byte"), NULL;
	if (!json_depth_ok(s, len, lim_depth(lim)))
		return err_set(err, ERR_INVALID, "nested deeper than %d levels", lim_depth(lim)),
		       NULL;
	root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (root == NULL && len > 0 &&
	    (memchr(s, 'N', len) != NULL || memchr(s, 'I', len) != NULL)) {
		size_t rlen;
		char *re = rewrite_nonfinite(s, len, &rlen);

		if (re != NULL) {
			cJSON *v = proto_json_decode(re, rlen, lim, err);

			free(re);
			return v;
		}
	}
	if (root == NULL) {
		size_t off = end != NULL && end >= s && end <= s + len ? (size_t)(end - s) : 0;

		return err_set(err, ERR_INVALID, "not valid JSON (at offset %zu)", off), NULL;
	}
	while (end < s + len && strchr(" \t\r\n", *end) != NULL)
		end++;
	if (end != s + len) {
		size_t off = (size_t)(end - s);

		cJSON_Delete(root);
		return err_set(err, ERR_INVALID, "not valid JSON: trailing data at offset %zu",
		               off),
		       NULL;
	}
	normalize_tree(root);
	return root;
}

/* kombu's registry names for the types it knows but we refuse (parenthesize_alias). */
static const struct {
	char content_type[40];
	char name[8];
} refused_types[] = {
	{ "application/x-python-serialize", "pickle" },
	{ "application/x-yaml", "yaml" },
};

static bool
encoding_is(const char *enc, const char *a, const char *b)
{
	return strcasecmp(enc, a) == 0 || (b != NULL && strcasecmp(enc, b) == 0);
}

cJSON *
proto_body_decode(const char *content_type, const char *content_encoding, const void *body,
                  size_t len, const struct proto_limits *lim, struct err *err)
{
	const char *ct =
	        content_type != NULL && *content_type != '\0' ? content_type : "application/data";
	const char *enc =
	        content_encoding != NULL && *content_encoding != '\0' ? content_encoding : "utf-8";
	bool is_json = strcmp(ct, "application/json") == 0;
	bool is_msgpack = strcmp(ct, "application/x-msgpack") == 0;

	if (!is_json && !is_msgpack) {
		for (size_t i = 0; i < ARRAY_LEN(refused_types); i++)
			if (strcmp(ct, refused_types[i].content_type) == 0)
				return err_set(err, ERR_UNSUPPORTED,
				               "Refusing to deserialize untrusted content of type "
				               "%s (%s)",
				               refused_types[i].name, ct),
				       NULL;
		if (strcmp(ct, "application/data") == 0 || strcmp(ct, "text/plain") == 0)
			return err_set(err, ERR_UNSUPPORTED,
			               "content_type: raw %s content carries no structured body",
			               ct),
			       NULL;
		return err_set(err, ERR_UNSUPPORTED,
		               "Refusing to deserialize untrusted content of type %s", ct),
		       NULL;
	}
	if (!encoding_is(enc, "utf-8", "utf8") && !encoding_is(enc, "binary", "ascii-8bit"))
		return err_set(err, ERR_UNSUPPORTED, "content_encoding: unsupported encoding '%s'",
		               enc),
		       NULL;
	if (len > lim_body(lim))
		return err_set(err, ERR_INVALID, "body: too large (%zu bytes, limit %zu)", len,
		               lim_body(lim)),
		       NULL;
	if (is_msgpack) {
		cJSON *v = proto_msgpack_decode(body, len, lim, err);

		if (v == NULL)
			err_prefix(err, "body");
		return v;
	}
	if (!proto_utf8_valid(body, len))
		return err_set(err, ERR_INVALID, "body: not valid UTF-8"), NULL;
	cJSON *v = proto_json_decode(body, len, lim, err);
	if (v == NULL)
		err_prefix(err, "body");
	return v;
}

void *
proto_body_encode(const cJSON *v, enum proto_serializer s, size_t *len, struct err *err)
{
	switch (s) {
	case PROTO_SER_JSON:
		return json_print(v, len);
	case PROTO_SER_MSGPACK:
		return proto_msgpack_encode_tree(v, len, err);
	}
	return err_set(err, ERR_BUG, "serializer: unknown (%d)", (int)s), NULL;
}

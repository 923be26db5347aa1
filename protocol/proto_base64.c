/* SPDX-License-Identifier: MIT */
/*
 * proto_base64.c - RFC 4648 base64 (standard alphabet, padded), the body_encoding of every
 * kombu Redis envelope. Decoding is strict: kombu always writes padded, unbroken text.
 */
#include "config.h"

#include "proto.h"

#include <stdint.h>
#include <stdlib.h>

#include "xalloc.h"

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
proto_base64_encode(const void *data, size_t len, size_t *out_len)
{
	const unsigned char *in = data;
	size_t n = (len + 2) / 3 * 4, o = 0;
	char *out = xmalloc(n + 1);

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	if (out_len != NULL)
		*out_len = o;
	return out;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void *
proto_base64_decode(const char *s, size_t len, size_t *out_len, struct err *err)
{
	unsigned char *out = NULL;
	size_t o = 0;

	if (len % 4 != 0)
		goto bad;
	out = xmalloc(len / 4 * 3 + 1);
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];

			/* '=' only in the last quantum, only in its last two places, and only
			 * followed by more '='. */
			if (c == '=' && i + 4 == len && k >= 2) {
				pad++;
				v[k] = 0;
				continue;
			}
			if (pad > 0)
				goto bad;
			v[k] = b64_value(c);
			if (v[k] < 0)
				goto bad;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
bad:
	free(out);
	return err_set(err, ERR_INVALID, "not valid base64"), NULL;
}

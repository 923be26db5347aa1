/* SPDX-License-Identifier: MIT */
/*
 * broker.c - what every transport shares: choosing one by URL scheme, delivery storage, ids.
 */
#include "config.h"

#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "xalloc.h"

void
broker_options_init(struct broker_options *o)
{
	memset(o, 0, sizeof(*o));
	o->visibility_timeout = 3600;
	o->connect_timeout = 5;
	o->socket_timeout = 30;
}

void
broker_delivery_init(struct broker_delivery *d)
{
	memset(d, 0, sizeof(*d));
	proto_msg_init(&d->msg);
}

void
broker_delivery_cleanup(struct broker_delivery *d)
{
	if (d == NULL)
		return;
	proto_msg_cleanup(&d->msg);
	free(d->queue);
	free(d->delivery_tag);
	free(d->exchange);
	free(d->routing_key);
	free(d->raw);
	memset(d, 0, sizeof(*d));
	proto_msg_init(&d->msg);
}

const struct broker_ops *
broker_ops_for_url(const char *url, struct err *err)
{
	if (url == NULL || *url == '\0')
		return (void)err_set(err, ERR_CONFIG, "broker URL: not set"), NULL;
	if (strncmp(url, "redis://", 8) == 0)
		return &broker_redis_ops;
	if (strncmp(url, "amqp://", 7) == 0 || strncmp(url, "pyamqp://", 9) == 0)
		return (void)err_set(err, ERR_UNSUPPORTED, "broker URL: amqp:// is not built yet"),
		       NULL;
	return (void)err_set(err, ERR_CONFIG, "broker URL: unknown scheme (expected redis://)"),
	       NULL;
}

void
broker_uuid4(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

/* SPDX-License-Identifier: MIT */
/* proto_placeholder.c - keeps libproto.a non-empty until the codecs land. */
#include "config.h"

#include "proto.h"

int proto_placeholder_unused(void);

int
proto_placeholder_unused(void)
{
	return PROTO_V2;
}

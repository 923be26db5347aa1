/* SPDX-License-Identifier: MIT */
#include "config.h"

#include "proto.h"

const char *
proto_version(void)
{
	return "celery-5.2";
}

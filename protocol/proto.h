/* SPDX-License-Identifier: MIT */
/*
 * proto.h - Celery's message protocol (placeholder: the protocol work fills this in).
 */
#ifndef JANITOR_PROTO_H
#define JANITOR_PROTO_H

const char *proto_version(void);

#endif

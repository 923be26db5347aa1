/* SPDX-License-Identifier: MIT */
/*
 * task_dump.h - test-side helpers shared by test_proto and proto_dump: a decoded task as one
 * canonical JSON object (the shape tests/protocol/celery_expect.py computes from Python), and
 * loading fixture files into struct proto_msg.
 */
#ifndef JANITOR_TASK_DUMP_H
#define JANITOR_TASK_DUMP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "proto.h"

/* The canonical view of a task; owned tree. */
cJSON *task_dump(const struct proto_task *t);

/* Read a whole file into a NUL-terminated heap buffer; NULL with err on failure. */
char *slurp(const char *path, size_t *len, struct err *err);

/*
 * Fill m from a fixture file: a Redis list element (kombu envelope) or an AMQP capture
 * ({"properties": {...}, "body_base64": ...}). Returns 0 or -1 with err.
 */
int fixture_msg_load(const char *path, struct proto_msg *m, struct err *err);

#endif

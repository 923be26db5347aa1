/* SPDX-License-Identifier: MIT */
/*
 * redis_int.h - what the Redis broker and the Redis result backend share (private to worker/):
 * parsing a redis:// URL, connecting (AUTH, SELECT), and running commands as argv with errors
 * classified. Not a public module: only broker_redis.c, backend_redis.c and their tests use it.
 *
 * Threads: a redisContext belongs to one thread. Ownership: redis_url_parse fills caller
 * storage released by redis_url_cleanup; replies returned are owned (freeReplyObject).
 * Errors: ERR_CONFIG for a bad URL, ERR_TRANSIENT for I/O errors and timeouts (the context is
 * then dead: close it and reconnect), ERR_INVALID for an error reply from the server.
 */
#ifndef JANITOR_REDIS_INT_H
#define JANITOR_REDIS_INT_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "compat.h"
#include "err.h"

/* kombu's separator between a queue name and its priority step. */
#define REDIS_SEP "\x06\x16"

struct redis_url {
	char *host;     /* owned */
	int port;       /* 6379 */
	int db;         /* 0 */
	char *username; /* owned, NULL = none */
	char *password; /* owned, NULL = none; never logged */
};

/* redis://[[user]:password@]host[:port][/db]. */
MUSTCHECK int redis_url_parse(const char *url, struct redis_url *out, struct err *err);
void redis_url_cleanup(struct redis_url *u);

/* Connect with timeouts in seconds, AUTH and SELECT. NULL with err on failure. */
MUSTCHECK redisContext *redis_open(const struct redis_url *u, double connect_timeout,
                                   double socket_timeout, struct err *err);

/* Run one command given as NUL-terminated strings (argc of them). */
MUSTCHECK redisReply *redis_cmd(redisContext *c, struct err *err, int argc, const char **argv);
/* Same with explicit lengths (binary-safe values). */
MUSTCHECK redisReply *redis_cmdv(redisContext *c, struct err *err, int argc, const char **argv,
                                 const size_t *lens);

/*
 * A pipeline: append commands, then read every reply at once. Used for MULTI ... EXEC, whose
 * last reply (the EXEC array, or nil when a WATCH failed) is returned; the others are checked.
 */
struct redis_pipe {
	redisContext *c; /* borrowed */
	int n;           /* commands appended */
	int failed;      /* an append failed */
};

void redis_pipe_init(struct redis_pipe *p, redisContext *c);
void redis_pipe_add(struct redis_pipe *p, int argc, const char **argv, const size_t *lens);
/* Read all replies; returns the last one (owned) or NULL with err. An error reply among the
 * first n-1 is ERR_INVALID. */
MUSTCHECK redisReply *redis_pipe_exec(struct redis_pipe *p, struct err *err);

/* ---- kombu's key layout (pure; broker_redis.c) ---- */

/* kombu's priority step for a message priority: clamp to 0..9, largest of 0,3,6,9 <= it. */
int redis_priority_step(int priority);
/* The list a message of that priority goes to: queue, or queue SEP step. Heap string. */
char *redis_queue_key(const char *queue, int priority);
/*
 * BRPOP keys in kombu's order: for each step 0,3,6,9, each queue in order. Returns a heap
 * array of 4*n heap strings (free each, then the array).
 */
char **redis_brpop_keys(const char *const *queues, size_t n);
/* The queue a popped key belongs to (the SEP suffix stripped). Heap string. */
char *redis_key_queue(const char *key, size_t len);
/* Round robin: move `served` to the end of order[0..n) (no-op if absent). */
void redis_rotate(char **order, size_t n, const char *served);

#endif

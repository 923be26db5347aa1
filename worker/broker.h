/* SPDX-License-Identifier: MIT */
/*
 * broker.h - the message broker interface of worker/: one vtable per transport, chosen by URL
 * scheme ("redis://", "rediss://"; AMQP later). A transport connects, declares queues as kombu
 * does, publishes a struct proto_msg to an exchange/routing key, consumes deliveries, and
 * acknowledges, rejects or restores them. Is not: a codec (protocol/ builds and parses the
 * bytes) nor a result backend (backend.h).
 *
 * Threads: a struct broker is one connection used by one thread at a time. The worker gives the
 * consuming main loop its own broker and each executor thread another (acks and publishes of
 * callbacks/retries happen on the executor's connection). Transports are stateless beyond the
 * connection, so a delivery consumed on one connection may be acked on another.
 * Ownership: broker_open returns a handle freed by broker_close; a struct broker_delivery filled
 * by consume owns its members and is released with broker_delivery_cleanup. Every other
 * argument is borrowed.
 * Errors: ERR_CONFIG for a bad URL, ERR_TRANSIENT when the connection is lost or times out (the
 * caller reconnects with backoff: close, then open again), ERR_INVALID when the server refused a
 * command, ERR_UNSUPPORTED for what a transport cannot do.
 */
#ifndef JANITOR_BROKER_H
#define JANITOR_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"
#include "err.h"
#include "proto.h"

struct broker; /* one connection, transport-private */

/* Transport options (kombu's broker_transport_options). Caller storage; borrowed. */
struct broker_options {
	double visibility_timeout; /* seconds a delivery may stay unacked before a restore; 3600 */
	double connect_timeout;    /* seconds; 0 = 5 */
	double socket_timeout;     /* seconds for a reply beyond a blocking wait; 0 = 30 */
};

void broker_options_init(struct broker_options *o);

/* One consumed message. All members owned; released by broker_delivery_cleanup. */
struct broker_delivery {
	struct proto_msg msg; /* headers, properties, body (base64 already decoded) */
	char *queue;          /* the queue it was consumed from (priority suffix stripped) */
	char *delivery_tag;   /* Redis: the envelope's UUID; AMQP: the decimal tag */
	char *exchange;       /* delivery_info.exchange as published ("" = default) */
	char *routing_key;    /* delivery_info.routing_key as published */
	bool redelivered;     /* restored after a crash or visibility timeout */
	char *raw;            /* the envelope as received (Redis), for logs at debug; may be NULL */
	size_t raw_len;
};

void broker_delivery_init(struct broker_delivery *d);
void broker_delivery_cleanup(struct broker_delivery *d);

struct broker_ops {
	const char *name; /* "redis" */
	/* Connect by URL; the URL's credentials never reach a log. NULL with err on failure. */
	struct broker *(*open)(const char *url, const struct broker_options *opt, struct err *err);
	void (*close)(struct broker *b); /* accepts NULL */
	/*
	 * Declare a queue bound to exchange (NULL or "" = the default exchange, which binds the
	 * queue to an exchange of its own name as kombu does) with routing_key (NULL = queue).
	 */
	int (*declare_queue)(struct broker *b, const char *queue, const char *exchange,
	                     const char *routing_key, struct err *err);
	/*
	 * Publish m to exchange ("" = default: routing_key is the queue) with routing_key. The
	 * priority property picks the Redis priority sub-queue. delivery_info and a fresh
	 * delivery_tag are added by the transport.
	 */
	int (*publish)(struct broker *b, const struct proto_msg *m, const char *exchange,
	               const char *routing_key, struct err *err);
	/*
	 * Wait up to timeout seconds (> 0; Redis rounds up to whole seconds, minimum 1) for up to
	 * max messages (max >= 1) from queues[0..n) in the transport's order (Redis: priority
	 * step first, then queue; the queue served last moves to the end - kombu's round robin,
	 * kept in the broker). Returns how many of out[0..max) were filled (0 on timeout), or -1.
	 * A message whose envelope cannot be parsed is dropped and logged, as kombu does. The
	 * deliveries are recorded as unacked (Redis: unacked + unacked_index in one MULTI/EXEC).
	 */
	int (*consume)(struct broker *b, const char *const *queues, size_t n, double timeout,
	               struct broker_delivery *out, size_t max, struct err *err);
	/* Acknowledge: forget the delivery (Redis: ZREM unacked_index + HDEL unacked). */
	int (*ack)(struct broker *b, const char *delivery_tag, struct err *err);
	/* Acknowledge several deliveries at once (Redis: one MULTI). */
	int (*ack_many)(struct broker *b, const char *const *delivery_tags, size_t n,
	                struct err *err);
	/* Reject: requeue=false drops it (as ack); requeue=true puts it at the back of its queue.
	 */
	int (*reject)(struct broker *b, const char *delivery_tag, bool requeue, struct err *err);
	/*
	 * Restore one delivery to the head of its queue with the redelivered flags (shutdown,
	 * executor crash with acks_late). 0 also when it was already gone.
	 */
	int (*restore)(struct broker *b, const char *delivery_tag, struct err *err);
	/*
	 * Keep a held (ETA) delivery from being restored by any consumer's visibility restore:
	 * Redis re-scores it in unacked_index with the current time. No-op where not needed.
	 */
	int (*touch)(struct broker *b, const char *delivery_tag, struct err *err);
	/*
	 * Restore every delivery older than the visibility timeout, under the transport's lock
	 * (Redis: unacked_mutex, SET NX PX and token-checked release). *restored counts them.
	 */
	int (*restore_visible)(struct broker *b, size_t *restored, struct err *err);
	/* Cheap liveness check (Redis PING); ERR_TRANSIENT when the connection is gone. */
	int (*ping)(struct broker *b, struct err *err);
};

/* Redis transport (broker_redis.c). */
extern const struct broker_ops broker_redis_ops;

/* The transport for url's scheme, or NULL with ERR_CONFIG/ERR_UNSUPPORTED naming the scheme. */
MUSTCHECK const struct broker_ops *broker_ops_for_url(const char *url, struct err *err);

/* A fresh random UUID4 string in canonical form (37 bytes with the NUL). */
void broker_uuid4(char out[37]);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * proto.h - Celery 5.2 / kombu 5.2 wire formats as pure functions over buffers.
 *
 * What it is: decoders and encoders for task messages (protocol v1 and v2, JSON and msgpack),
 * the kombu Redis envelope, result-backend values, event bodies and remote-control bodies,
 * plus the ISO-8601 and base64 helpers they need. Facts: ../shared/reference/celery-wire.md.
 * What it is not: no sockets, no clock (every time is passed in), no randomness (ids and
 * delivery tags come from the caller), no globals, no logging. Every function is reentrant and
 * may be called from any thread.
 *
 * Ownership: parameters are borrowed. `_decode` and `_new` return objects the caller owns and
 * releases with the matching `_free` (every `_free` accepts NULL); a `struct proto_msg` filled by
 * this module owns all its members and is released with proto_msg_cleanup(). cJSON trees are the
 * currency for arguments and results (msgpack is turned into cJSON at the edge); install
 * xalloc's cJSON hooks once at program start so that NULL from cJSON never means OOM.
 *
 * Errors: fallible functions take `struct err *err` last and fill it only on failure. ERR_INVALID
 * means malformed input (the message names the field: "headers.eta: not an ISO-8601 datetime");
 * ERR_UNSUPPORTED means well-formed but refused (pickle, yaml, compression). Both mean: reject
 * the message without requeue.
 */
#ifndef JANITOR_PROTO_H
#define JANITOR_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "compat.h"
#include "err.h"

/* ---- limits ------------------------------------------------------------------------------ */

/* Caps on what a decoder accepts; worker/ takes them from configuration. */
struct proto_limits {
	size_t max_body; /* bytes of a serialized body or envelope; 0 = PROTO_DEFAULT_MAX_BODY */
	int max_depth;   /* nesting of arrays/maps; 0 = PROTO_DEFAULT_MAX_DEPTH */
};

#define PROTO_DEFAULT_MAX_BODY  (64u * 1024u * 1024u)
#define PROTO_DEFAULT_MAX_DEPTH 64

/* ---- time -------------------------------------------------------------------------------- */

/* An instant as Celery writes it: UTC microseconds plus how it was (or will be) spelled. */
struct proto_time {
	int64_t usec;   /* microseconds since the Unix epoch, UTC */
	int offset_min; /* the written UTC offset in minutes (+120 for "+02:00"); 0 if naive */
	bool naive;     /* no offset was written; Celery reads naive values as UTC */
};

#define PROTO_TIME_BUFSZ 40

/*
 * Parse what celery/utils/iso8601.py accepts: YYYY-MM-DD, then any one separator and
 * HH:MM[:SS[.fraction]], then optional "Z" or +-HH:MM. Returns 0, or -1 with ERR_INVALID and
 * "not an ISO-8601 datetime" (the caller prefixes the field name). Two deliberate differences:
 * trailing text is refused (Celery's regex ignores it), and the fraction is read as a decimal
 * fraction (".5" = 500000 us; Celery reads it as a count of microseconds, which agrees only for
 * the six digits isoformat() always writes). Digits past the sixth are dropped.
 */
MUSTCHECK int proto_time_parse(const char *s, struct proto_time *out, struct err *err);

/*
 * Python's isoformat(): "2030-01-02T03:04:05.678901+00:00", microseconds only when non-zero,
 * no suffix when naive. Writes at most PROTO_TIME_BUFSZ bytes; returns buf.
 */
char *proto_time_format(const struct proto_time *t, char *buf, size_t size);

/* An aware UTC instant (offset +00:00) from microseconds since the epoch. */
struct proto_time proto_time_utc(int64_t usec);

/* ---- base64 ------------------------------------------------------------------------------ */

/* Standard alphabet, padded. Returns a NUL-terminated heap string; *out_len excludes the NUL. */
char *proto_base64_encode(const void *data, size_t len, size_t *out_len);

/* Strict decode (padding required, no whitespace). Heap buffer (NUL-terminated for
 * convenience), or NULL with ERR_INVALID "not valid base64". */
MUSTCHECK void *proto_base64_decode(const char *s, size_t len, size_t *out_len, struct err *err);

/* ---- serializers ------------------------------------------------------------------------- */

enum proto_serializer {
	PROTO_SER_JSON,    /* application/json, utf-8 */
	PROTO_SER_MSGPACK, /* application/x-msgpack, binary */
};

/* "application/json" / "application/x-msgpack". */
const char *proto_serializer_content_type(enum proto_serializer s);
/* "utf-8" / "binary". */
const char *proto_serializer_content_encoding(enum proto_serializer s);

/*
 * Decode a serialized body into a cJSON tree by content type and encoding, as kombu's loads()
 * would with accept_content = json, msgpack. Pickle, yaml and any other type fail with
 * ERR_UNSUPPORTED and Celery's wording ("Refusing to deserialize untrusted content of type
 * pickle (application/x-python-serialize)"). NULL content_type means application/data.
 */
MUSTCHECK cJSON *proto_body_decode(const char *content_type, const char *content_encoding,
                                   const void *body, size_t len, const struct proto_limits *lim,
                                   struct err *err);

/*
 * JSON text (not NUL-terminated; NUL bytes are refused) into cJSON. Accepts Python's bare
 * NaN/Infinity tokens; NaN and +-inf become null (nothing could write them back). Numbers are
 * doubles: integers beyond 2^53 lose precision. A repeated object key keeps its last value, as
 * json.loads does.
 */
MUSTCHECK cJSON *proto_json_decode(const void *buf, size_t len, const struct proto_limits *lim,
                                   struct err *err);

/* msgpack bytes into cJSON: maps need string keys; bin becomes a string if it is UTF-8. */
MUSTCHECK cJSON *proto_msgpack_decode(const void *buf, size_t len, const struct proto_limits *lim,
                                      struct err *err);

/* Serialize a tree: compact JSON, or msgpack (use_bin_type). Heap buffer, *len set. */
MUSTCHECK void *proto_body_encode(const cJSON *v, enum proto_serializer s, size_t *len,
                                  struct err *err);

/* ---- a transport-independent message ----------------------------------------------------- */

/*
 * What every transport carries: AMQP natively, Redis inside the envelope. All members owned.
 * properties holds correlation_id, reply_to, delivery_mode, priority, expiration, and on Redis
 * delivery_info {exchange, routing_key[, redelivered]}, body_encoding, delivery_tag.
 */
struct proto_msg {
	cJSON *headers;         /* object, never NULL after a successful fill */
	cJSON *properties;      /* object, never NULL after a successful fill */
	char *content_type;     /* may be NULL (= application/data) */
	char *content_encoding; /* may be NULL (= utf-8) */
	void *body;             /* raw serialized bytes (already base64-decoded), NUL-terminated */
	size_t body_len;
};

void proto_msg_init(struct proto_msg *m);
void proto_msg_cleanup(struct proto_msg *m);

/* ---- task messages ----------------------------------------------------------------------- */

enum proto_version {
	PROTO_V1 = 1, /* body dict */
	PROTO_V2 = 2, /* headers + [args, kwargs, embed] */
};

/* One request, whichever protocol it came in. Owned strings/trees; NULL = absent / null. */
struct proto_task {
	enum proto_version version;
	char *id;   /* task id, required */
	char *task; /* registered name, required */
	char *lang; /* "py" */
	char *shadow;
	cJSON *args;   /* array, never NULL after decode */
	cJSON *kwargs; /* object, never NULL after decode */
	bool has_eta;
	struct proto_time eta;
	bool has_expires;
	struct proto_time expires;
	bool utc; /* v1 "utc" flag; v2 messages are always true */
	int64_t retries;
	bool has_time_limit;
	double time_limit; /* hard limit, seconds (timelimit[0]) */
	bool has_soft_time_limit;
	double soft_time_limit; /* soft limit, seconds (timelimit[1]) */
	char *root_id;
	char *parent_id;
	char *group;
	bool has_group_index;
	int64_t group_index;
	char *origin;
	char *argsrepr;
	char *kwargsrepr;
	bool ignore_result;
	cJSON *extra_headers; /* object of unknown header keys, kept for retries; never NULL */
	/* properties */
	char *correlation_id;
	char *reply_to;
	bool has_priority;
	int priority;      /* 0..255 */
	int delivery_mode; /* 2 persistent, 1 transient; 0 = absent */
	char *exchange;    /* delivery_info.exchange (Redis) */
	char *routing_key; /* delivery_info.routing_key (Redis) */
	bool redelivered;  /* headers.redelivered or delivery_info.redelivered */
	/* embed */
	cJSON *callbacks; /* array of signatures or NULL (null) */
	cJSON *errbacks;  /* array of signatures or NULL */
	cJSON *chain;     /* array, next step LAST, or NULL */
	cJSON *chord;     /* signature object or NULL */
};

struct proto_task *proto_task_new(void);
void proto_task_free(struct proto_task *t);
/* Deep copy (for retries and chain links). */
struct proto_task *proto_task_dup(const struct proto_task *t);

/*
 * Decode a task message (v2 when headers has "task", else v1 from the body dict). Checks the
 * content type first (ContentDisallowed as above), then every field's type; errors name the
 * field ("headers.eta: not an ISO-8601 datetime", "body[1]: kwargs must be an object").
 * Returns an owned task or NULL.
 */
MUSTCHECK struct proto_task *proto_task_decode(const struct proto_msg *m,
                                               const struct proto_limits *lim, struct err *err);

/*
 * Encode as a protocol v2 message exactly shaped like Celery's as_task_v2: headers in Celery's
 * key order (extra_headers appended), properties {correlation_id (defaults to id), reply_to,
 * delivery_mode (default 2), [expiration_ms as "expiration"], [priority]}, body
 * [args, kwargs, embed]. Fills *out (call proto_msg_cleanup); -1 with ERR_INVALID when id or
 * task is missing. expiration_ms < 0 means no expiration property.
 */
MUSTCHECK int proto_task_encode(const struct proto_task *t, enum proto_serializer ser,
                                int64_t expiration_ms, struct proto_msg *out, struct err *err);

/* Python-style repr of args / kwargs as Celery puts in argsrepr (best effort, max 1024). */
char *proto_repr(const cJSON *v);

/* ---- kombu Redis envelope ---------------------------------------------------------------- */

/*
 * Parse a Redis list element / PUBLISH payload: {"body", "content-encoding", "content-type",
 * "headers", "properties": {..., "body_encoding", "delivery_tag"}}. The body is base64-decoded
 * when body_encoding is "base64". Fills *out (caller calls proto_msg_cleanup) or -1.
 */
MUSTCHECK int proto_envelope_decode(const void *buf, size_t len, const struct proto_limits *lim,
                                    struct proto_msg *out, struct err *err);

/*
 * Build the envelope in kombu's key order. properties are copied in kombu's order
 * (correlation_id, reply_to, delivery_mode, extras such as expiration, delivery_info, priority,
 * body_encoding "base64", delivery_tag); delivery_info is {exchange, routing_key} from the
 * arguments (both required: Python ack emulation crashes without them) and delivery_tag is the
 * caller's UUID. Returns a NUL-terminated heap string (*len set) or NULL.
 */
MUSTCHECK char *proto_envelope_encode(const struct proto_msg *m, const char *exchange,
                                      const char *routing_key, const char *delivery_tag,
                                      size_t *len, struct err *err);

/* ---- results ----------------------------------------------------------------------------- */

enum proto_state {
	PROTO_STATE_PENDING,
	PROTO_STATE_RECEIVED,
	PROTO_STATE_STARTED,
	PROTO_STATE_SUCCESS,
	PROTO_STATE_FAILURE,
	PROTO_STATE_RETRY,
	PROTO_STATE_REVOKED,
	PROTO_STATE_CUSTOM, /* name in proto_result.custom_state, e.g. "PROGRESS" */
};

/* "SUCCESS", ...; NULL for PROTO_STATE_CUSTOM. */
const char *proto_state_name(enum proto_state s);
/* SUCCESS, FAILURE, REVOKED: the states that get a date_done. */
bool proto_state_is_ready(enum proto_state s);

enum proto_result_format {
	PROTO_RESULT_BACKEND, /* Redis / key-value: status..date_done, [group_id, parent_id],
	                         [extended], task_id */
	PROTO_RESULT_RPC,     /* rpc://: task_id, status, result, traceback, children */
};

/* Everything the meta of one state change holds. Borrowed. */
struct proto_result {
	const char *task_id; /* required */
	enum proto_state state;
	const char *custom_state; /* required when state == PROTO_STATE_CUSTOM */
	const cJSON *result; /* return value (SUCCESS) or meta (STARTED, custom); NULL = null */
	/* exception states (FAILURE, RETRY, REVOKED): */
	const char *exc_type;   /* class __qualname__, e.g. "ValueError" (required) */
	const char *exc_module; /* "builtins", "celery.exceptions"; NULL = null */
	const cJSON *exc_args;  /* exc_message: array of args; NULL = [] */
	const char *traceback;  /* NULL = null */
	const cJSON *children;  /* NULL = [] */
	int64_t now_usec;       /* UTC microseconds: date_done for READY states */
	const char *group_id;   /* written only when non-NULL */
	const char *parent_id;  /* written only when non-NULL */
	bool extended; /* result_extended: add name, args, kwargs, worker, retries, queue */
	const char *name;
	const cJSON *args;
	const cJSON *kwargs;
	const char *worker;
	int64_t retries;
	const char *queue;
};

/* The meta object as Celery's backend writes it (key order included). Owned tree or NULL. */
MUSTCHECK cJSON *proto_result_new(const struct proto_result *r, enum proto_result_format fmt,
                                  struct err *err);

/* The exception dict {"exc_type", "exc_message", "exc_module"}; exc_args NULL = []. */
cJSON *proto_exc_new(const char *exc_type, const char *exc_module, const cJSON *exc_args);

/* Validate a stored/published result value: object with string "status" and a "result" key. */
MUSTCHECK cJSON *proto_result_decode(const void *buf, size_t len, const struct proto_limits *lim,
                                     struct err *err);

/* ---- events ------------------------------------------------------------------------------ */

enum proto_event_type {
	PROTO_EV_WORKER_ONLINE,
	PROTO_EV_WORKER_HEARTBEAT,
	PROTO_EV_WORKER_OFFLINE,
	PROTO_EV_TASK_RECEIVED,
	PROTO_EV_TASK_STARTED,
	PROTO_EV_TASK_SUCCEEDED,
	PROTO_EV_TASK_FAILED,
	PROTO_EV_TASK_RETRIED,
	PROTO_EV_TASK_REVOKED,
	PROTO_EV_TASK_REJECTED,
};

/* "worker-online", ... */
const char *proto_event_type_name(enum proto_event_type t);
/* The routing key: "worker.online", ... */
const char *proto_event_routing_key(enum proto_event_type t);

/* Fields of one event; only those of its type are written. Borrowed. */
struct proto_event {
	enum proto_event_type type;
	const char *hostname; /* node name */
	int utcoffset;        /* see proto_utcoffset() */
	int64_t pid;
	int64_t clock;    /* Lamport clock */
	double timestamp; /* epoch seconds */
	/* worker-* */
	double freq; /* heartbeat interval, seconds */
	int64_t active;
	int64_t processed;
	double loadavg[3];
	const char *sw_ident; /* NULL = "janitor" */
	const char *sw_ver;   /* NULL = PACKAGE_VERSION-less "0" */
	const char *sw_sys;   /* NULL = "Linux" */
	/* task-* */
	const char *uuid;
	const char *name;                 /* received */
	const char *args;                 /* received: argsrepr */
	const char *kwargs;               /* received: kwargsrepr */
	const char *root_id;              /* received; NULL = null */
	const char *parent_id;            /* received; NULL = null */
	int64_t retries;                  /* received */
	const struct proto_time *eta;     /* received; NULL = null */
	const struct proto_time *expires; /* received; NULL = null */
	const char *result;               /* succeeded: repr string */
	double runtime;                   /* succeeded: seconds */
	const char *exception;            /* failed, retried: repr string */
	const char *traceback;            /* failed, retried; NULL = null */
	bool terminated;                  /* revoked */
	int signum;                       /* revoked; 0 = null */
	bool expired;                     /* revoked */
	bool requeue;                     /* rejected */
};

/* The event body in Celery's key order. Owned tree or NULL (ERR_INVALID: missing hostname). */
MUSTCHECK cJSON *proto_event_new(const struct proto_event *ev, struct err *err);

/* time.timezone // 3600 for a zone gmtoff seconds EAST of UTC: hours west, floored. */
int proto_utcoffset(long gmtoff_seconds);

/* ---- remote control (pidbox) ------------------------------------------------------------- */

/* A decoded command. Owned members. */
struct proto_control {
	char *method;
	cJSON *arguments;        /* object, never NULL after decode */
	cJSON *destination;      /* array of node names or NULL */
	char *pattern;           /* NULL = none */
	char *matcher;           /* "glob" or "pcre"; NULL = none */
	char *ticket;            /* NULL for a cast (no reply wanted) */
	char *reply_exchange;    /* reply_to.exchange */
	char *reply_routing_key; /* reply_to.routing_key */
};

/* Decode a command body (JSON or msgpack per the message's content type). */
MUSTCHECK struct proto_control *
proto_control_decode(const struct proto_msg *m, const struct proto_limits *lim, struct err *err);
void proto_control_free(struct proto_control *c);

/* Whether node `nodename` must run the command (destination, else pattern+matcher, else yes).
 * "pcre" is matched with POSIX extended regex, a close subset. */
bool proto_control_matches(const struct proto_control *c, const char *nodename);

/* A request body as Celery's mailbox writes it (for `janitor` CLI inspect/control). ticket and
 * reply_routing_key NULL make a cast. `arguments` is copied; NULL = {}. */
cJSON *proto_control_request_new(const char *method, const cJSON *arguments,
                                 const cJSON *destination, const char *ticket,
                                 const char *reply_routing_key);

/* {"<nodename>": reply}; takes ownership of reply (NULL = null). */
cJSON *proto_control_reply_new(const char *nodename, cJSON *reply);
/* {"ok": msg} and {"error": msg}. */
cJSON *proto_control_ok(const char *msg);
cJSON *proto_control_error(const char *msg);

#endif

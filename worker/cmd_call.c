/* SPDX-License-Identifier: MIT */
/*
 * cmd_call.c - `janitor call`: publish one task message exactly as `celery call` does
 * (celery/bin/call.py -> app.send_task), print its id, and with --wait print its result.
 * Is not: a codec (protocol/ shapes the message) nor a transport (broker.h publishes,
 * backend.h waits); this file only turns command-line options into a struct proto_task.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "backend.h"
#include "broker.h"
#include "cli.h"
#include "compat.h"
#include "err.h"
#include "proto.h"
#include "xalloc.h"

/* What the command line asked for. Strings are borrowed from argv or the environment. */
struct call_opts {
	const char *task;        /* registered task name */
	const char *args;        /* JSON array text; "[]" */
	const char *kwargs;      /* JSON object text; "{}" */
	const char *queue;       /* routing key on the default exchange; "celery" */
	const char *countdown;   /* seconds from now, or NULL */
	const char *eta;         /* ISO-8601, or NULL */
	const char *expires;     /* seconds from now or ISO-8601, or NULL */
	const char *broker_url;  /* -b, else CELERY_BROKER_URL, else Redis on localhost */
	const char *backend_url; /* --result-backend, else CELERY_RESULT_BACKEND */
	enum proto_serializer ser;
	bool wait;
	double wait_timeout; /* seconds; < 0 = forever */
};

#define CALL_DEFAULT_BROKER "redis://localhost:6379/0"

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: janitor call TASK [-a|--args JSON] [-k|--kwargs JSON] [--queue Q]\n"
	        "                    [--countdown S] [--eta ISO] [--expires S|ISO]\n"
	        "                    [--serializer json|msgpack] [-b|--broker URL]\n"
	        "                    [--result-backend URL] [--wait [S]]\n"
	        "\n"
	        "Publishes TASK as `celery call` would and prints its id. With --wait, also waits\n"
	        "(S seconds, default forever) for the result and prints it as JSON; exits 1 when\n"
	        "the task failed or was revoked (printing \"exc_type: exc_message\") or the wait\n"
	        "timed out. Environment: CELERY_BROKER_URL, CELERY_RESULT_BACKEND.\n");
}

/* A finite, non-negative number of seconds, fully consumed. */
static int
parse_seconds(const char *s, double *out)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const struct option long_opts[] = {
	{ "args", required_argument, NULL, 'a' },
	{ "kwargs", required_argument, NULL, 'k' },
	{ "queue", required_argument, NULL, 'q' },
	{ "countdown", required_argument, NULL, 'c' },
	{ "eta", required_argument, NULL, 'e' },
	{ "expires", required_argument, NULL, 'x' },
	{ "serializer", required_argument, NULL, 's' },
	{ "broker", required_argument, NULL, 'b' },
	{ "result-backend", required_argument, NULL, 'r' },
	{ "wait", optional_argument, NULL, 'w' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* --wait takes an optional number, also as the next word ("--wait 30"). */
static int
parse_wait(struct call_opts *o, int argc, char **argv)
{
	double v;

	o->wait = true;
	o->wait_timeout = -1;
	if (optarg == NULL && optind < argc && parse_seconds(argv[optind], &v) == 0) {
		o->wait_timeout = v;
		optind++;
		return 0;
	}
	if (optarg == NULL)
		return 0;
	if (parse_seconds(optarg, &o->wait_timeout) != 0) {
		fprintf(stderr, "janitor call: --wait: '%s' is not a number of seconds\n", optarg);
		return -1;
	}
	return 0;
}

static int
parse_serializer(struct call_opts *o, const char *s)
{
	if (strcmp(s, "json") == 0)
		o->ser = PROTO_SER_JSON;
	else if (strcmp(s, "msgpack") == 0)
		o->ser = PROTO_SER_MSGPACK;
	else {
		fprintf(stderr, "janitor call: --serializer: '%s' is not json or msgpack\n", s);
		return -1;
	}
	return 0;
}

static void
opts_init(struct call_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->args = "[]";
	o->kwargs = "{}";
	o->queue = "celery";
	o->ser = PROTO_SER_JSON;
	o->wait_timeout = -1;
	o->broker_url = getenv("CELERY_BROKER_URL");
	o->backend_url = getenv("CELERY_RESULT_BACKEND");
	if (o->broker_url == NULL || *o->broker_url == '\0')
		o->broker_url = CALL_DEFAULT_BROKER;
}

/* 0, 1 for --help (exit 0), -1 for a usage error. */
static int
parse_opts(struct call_opts *o, int argc, char **argv)
{
	int c;

	opts_init(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "a:k:b:Q:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->args = optarg;
			break;
		case 'k':
			o->kwargs = optarg;
			break;
		case 'q':
		case 'Q':
			o->queue = optarg;
			break;
		case 'c':
			o->countdown = optarg;
			break;
		case 'e':
			o->eta = optarg;
			break;
		case 'x':
			o->expires = optarg;
			break;
		case 'b':
			o->broker_url = optarg;
			break;
		case 'r':
			o->backend_url = optarg;
			break;
		case 's':
			if (parse_serializer(o, optarg) != 0)
				return -1;
			break;
		case 'w':
			if (parse_wait(o, argc, argv) != 0)
				return -1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "janitor call: exactly one TASK name is required\n");
		usage(stderr);
		return -1;
	}
	o->task = argv[optind];
	if (o->countdown != NULL && o->eta != NULL) {
		fprintf(stderr, "janitor call: --countdown and --eta are exclusive\n");
		return -1;
	}
	if (o->wait && (o->backend_url == NULL || *o->backend_url == '\0')) {
		fprintf(stderr,
		        "janitor call: --wait needs --result-backend or CELERY_RESULT_BACKEND\n");
		return -1;
	}
	return 0;
}

/* args and kwargs as celery call reads them: JSON, a list and an object. */
static int
set_arguments(struct proto_task *t, const struct call_opts *o, struct err *err)
{
	cJSON_Delete(t->args);
	t->args = cJSON_Parse(o->args);
	if (t->args == NULL || !cJSON_IsArray(t->args))
		return err_set(err, ERR_INVALID, "--args: not a JSON list: %s", o->args);
	cJSON_Delete(t->kwargs);
	t->kwargs = cJSON_Parse(o->kwargs);
	if (t->kwargs == NULL || !cJSON_IsObject(t->kwargs))
		return err_set(err, ERR_INVALID, "--kwargs: not a JSON object: %s", o->kwargs);
	/* as_task_v2 does `args = args or ()`: an empty list is shown as a tuple. */
	if (cJSON_GetArraySize(t->args) == 0)
		t->argsrepr = xstrdup("()");
	else
		t->argsrepr = proto_repr(t->args);
	t->kwargsrepr = proto_repr(t->kwargs);
	return 0;
}

/*
 * eta and expires as send_task computes them: countdown -> eta = now + countdown (aware UTC);
 * numeric expires -> now + seconds and the AMQP-style expiration property in milliseconds;
 * ISO values are kept as written and the expiration is the time left (0 when already past).
 */
static int
set_times(struct proto_task *t, const struct call_opts *o, int64_t now, int64_t *expiration_ms,
          struct err *err)
{
	double secs;

	*expiration_ms = -1;
	if (o->countdown != NULL) {
		if (parse_seconds(o->countdown, &secs) != 0)
			return err_set(err, ERR_INVALID, "--countdown: '%s' is not seconds",
			               o->countdown);
		t->has_eta = true;
		t->eta = proto_time_utc(now + (int64_t)llround(secs * 1e6));
	} else if (o->eta != NULL) {
		if (proto_time_parse(o->eta, &t->eta, err) != 0)
			return err_prefix(err, "--eta");
		t->has_eta = true;
	}
	if (o->expires == NULL)
		return 0;
	t->has_expires = true;
	if (parse_seconds(o->expires, &secs) == 0) {
		t->expires = proto_time_utc(now + (int64_t)llround(secs * 1e6));
		*expiration_ms = (int64_t)(secs * 1000.0);
		return 0;
	}
	if (proto_time_parse(o->expires, &t->expires, err) != 0)
		return err_prefix(err, "--expires: neither seconds nor");
	*expiration_ms = t->expires.usec > now ? (t->expires.usec - now) / 1000 : 0;
	return 0;
}

/* The request as send_task builds it for a call from outside any task. */
static struct proto_task *
build_task(const struct call_opts *o, int64_t *expiration_ms, struct err *err)
{
	struct proto_task *t = proto_task_new();
	char id[37], oid[37], host[256];

	broker_uuid4(id);
	broker_uuid4(oid);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	t->version = PROTO_V2;
	t->id = xstrdup(id);
	t->task = xstrdup(o->task);
	t->lang = xstrdup("py");
	t->root_id = xstrdup(id);
	t->origin = xasprintf("gen%ld@%s", (long)getpid(), host);
	t->correlation_id = xstrdup(id);
	t->reply_to = xstrdup(oid);
	t->delivery_mode = 2;
	t->has_priority = true;
	t->priority = 0;
	t->utc = true;
	if (set_arguments(t, o, err) != 0 || set_times(t, o, now_usec(), expiration_ms, err) != 0) {
		proto_task_free(t);
		return NULL;
	}
	return t;
}

/* Declare the queue as Celery does (binding on Redis), then publish on the default exchange. */
static int
publish(const struct call_opts *o, const struct proto_task *t, int64_t expiration_ms,
        struct err *err)
{
	const struct broker_ops *ops;
	struct broker_options bopt;
	struct broker *b = NULL;
	struct proto_msg msg;
	int rc = -1;

	proto_msg_init(&msg);
	ops = broker_ops_for_url(o->broker_url, err);
	if (ops == NULL)
		return -1;
	broker_options_init(&bopt);
	b = ops->open(o->broker_url, &bopt, err);
	if (b == NULL)
		goto out;
	if (proto_task_encode(t, o->ser, expiration_ms, &msg, err) != 0)
		goto out;
	if (ops->declare_queue(b, o->queue, NULL, NULL, err) != 0)
		goto out;
	if (ops->publish(b, &msg, "", o->queue, err) != 0)
		goto out;
	rc = 0;
out:
	proto_msg_cleanup(&msg);
	ops->close(b);
	return rc;
}

/* "boom" for ["boom"], else the JSON of exc_message. Heap string. */
static char *
format_exc_message(const cJSON *m)
{
	if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 1 &&
	    cJSON_IsString(cJSON_GetArrayItem(m, 0)))
		return xstrdup(cJSON_GetArrayItem(m, 0)->valuestring);
	if (cJSON_IsString(m))
		return xstrdup(m->valuestring);
	if (m == NULL)
		return xstrdup("");
	return cJSON_PrintUnformatted(m);
}

/* Print a READY meta: the result for SUCCESS (0), "exc_type: exc_message" otherwise (1). */
static int
print_meta(const cJSON *meta)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(meta, "status");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(meta, "result");
	const cJSON *type;
	char *text;

	if (cJSON_IsString(status) && strcmp(status->valuestring, "SUCCESS") == 0) {
		text = cJSON_Print(result);
		printf("%s\n", text != NULL ? text : "null");
		free(text);
		return 0;
	}
	type = cJSON_GetObjectItemCaseSensitive(result, "exc_type");
	text = format_exc_message(cJSON_GetObjectItemCaseSensitive(result, "exc_message"));
	printf("%s: %s\n", cJSON_IsString(type) ? type->valuestring : "UnknownError", text);
	fprintf(stderr, "janitor call: task %s\n",
	        cJSON_IsString(status) ? status->valuestring : "ended without a status");
	free(text);
	return 1;
}

/* Wait for the task's READY state on the result backend and print it. */
static int
wait_result(const struct call_opts *o, const char *id, struct err *err)
{
	const struct backend_ops *ops;
	struct backend *be;
	cJSON *meta;
	int rc;

	ops = backend_ops_for_url(o->backend_url, err);
	if (ops == NULL)
		return -1;
	be = ops->open(o->backend_url, 0, err);
	if (be == NULL)
		return -1;
	meta = ops->wait(be, id, o->wait_timeout, err);
	ops->close(be);
	if (meta == NULL)
		return -1;
	rc = print_meta(meta);
	cJSON_Delete(meta);
	return rc;
}

int
cmd_call(int argc, char **argv)
{
	struct call_opts o;
	struct proto_task *t = NULL;
	struct err err;
	int64_t expiration_ms;
	int rc;

	err_clear(&err);
	rc = parse_opts(&o, argc, argv);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	t = build_task(&o, &expiration_ms, &err);
	if (t == NULL) {
		fprintf(stderr, "janitor call: %s\n", err.msg);
		return 2;
	}
	if (publish(&o, t, expiration_ms, &err) != 0) {
		fprintf(stderr, "janitor call: publishing %s: %s\n", o.task, err.msg);
		proto_task_free(t);
		return 1;
	}
	printf("%s\n", t->id);
	fflush(stdout);
	rc = 0;
	if (o.wait) {
		rc = wait_result(&o, t->id, &err);
		if (rc < 0 && err.cls == ERR_TRANSIENT && strstr(err.msg, "timed out") != NULL)
			fprintf(stderr,
			        "janitor call: timed out: no result for %s[%s] after %g s\n",
			        o.task, t->id, o.wait_timeout);
		else if (rc < 0)
			fprintf(stderr, "janitor call: waiting for %s[%s]: %s\n", o.task, t->id,
			        err.msg);
		if (rc < 0)
			rc = 1;
	}
	proto_task_free(t);
	return rc;
}

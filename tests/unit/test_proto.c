/* SPDX-License-Identifier: MIT */
/*
 * test_proto.c - unit tests for protocol/: every real Celery 5.2.6 fixture in
 * tests/fixtures/protocol decodes to its .expect file (table-driven: a new case is a new
 * file), what we encode matches what Celery produced field by field, round trips, and every
 * error path with its class and message.
 */
#include "config.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "proto.h"
#include "task_dump.h"
#include "xalloc.h"

/* ---- helpers ---- */

static char *
fixture_path(const char *rel)
{
	const char *src = getenv("JANITOR_SRCDIR");

	return xasprintf("%s/tests/fixtures/protocol/%s", src != NULL ? src : ".", rel);
}

static cJSON *
load_json(const char *rel)
{
	struct err err;
	char *path = fixture_path(rel);
	size_t len;
	char *text = slurp(path, &len, &err);
	cJSON *v;

	if (text == NULL)
		fail_msg("%s", err.msg);
	v = cJSON_ParseWithLength(text, len);
	assert_non_null(v);
	free(text);
	free(path);
	return v;
}

/* Sorted *.json names in a fixture directory; returns the count. */
static size_t
list_fixtures(const char *dir, char ***names)
{
	char *path = fixture_path(dir);
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	*names = NULL;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) {
			*names = xrealloc(*names, (n + 1) * sizeof(char *));
			(*names)[n++] = xasprintf("%s/%s", dir, de->d_name);
		}
	}
	closedir(d);
	free(path);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp((*names)[j - 1], (*names)[j]) > 0; j--) {
			char *tmp = (*names)[j];

			(*names)[j] = (*names)[j - 1];
			(*names)[j - 1] = tmp;
		}
	return n;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static struct proto_task *
decode_fixture(const char *rel, struct proto_msg *m)
{
	struct err err;
	char *path = fixture_path(rel);
	struct proto_task *t;

	err_clear(&err);
	if (fixture_msg_load(path, m, &err) < 0)
		fail_msg("%s: %s", rel, err.msg);
	t = proto_task_decode(m, NULL, &err);
	if (t == NULL)
		fail_msg("%s: %s", rel, err.msg);
	free(path);
	return t;
}

/* Compare two trees; on mismatch print both so the failure says what differs. */
static void
assert_json_equal(const cJSON *got, const cJSON *want, const char *what)
{
	if (!cJSON_Compare(got, want, 1)) {
		char *g = cJSON_Print(got), *w = cJSON_Print(want);

		print_error("%s differs:\n got: %s\nwant: %s\n", what, g, w);
		free(g);
		free(w);
		fail();
	}
}

/* Same keys in the same order at the top level (kombu and Celery write a fixed order). */
static void
assert_key_order(const cJSON *got, const cJSON *want, const char *what)
{
	const cJSON *a = got->child, *b = want->child;

	for (; a != NULL && b != NULL; a = a->next, b = b->next)
		if (strcmp(a->string, b->string) != 0)
			fail_msg("%s: key order: got %s where Celery has %s", what, a->string,
			         b->string);
	if (a != NULL || b != NULL)
		fail_msg("%s: key count differs", what);
}

/* ---- fixtures decode to their expectations ---- */

static void
check_dir_against_expect(const char *dir)
{
	char **names;
	size_t n = list_fixtures(dir, &names);

	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		struct proto_msg m;
		struct proto_task *t = decode_fixture(names[i], &m);
		char *rel = xasprintf("%s.expect", names[i]);
		cJSON *want = load_json(rel), *got = task_dump(t);

		assert_json_equal(got, want, names[i]);
		cJSON_Delete(got);
		cJSON_Delete(want);
		free(rel);
		proto_task_free(t);
		proto_msg_cleanup(&m);
	}
	free_names(names, n);
}

static void
test_proto_task_decode_redis_fixtures(void **state)
{
	(void)state;
	check_dir_against_expect("redis-tasks");
}

static void
test_proto_task_decode_amqp_fixtures(void **state)
{
	(void)state;
	check_dir_against_expect("amqp-tasks");
}

static void
test_proto_task_decode_worker_published(void **state)
{
	(void)state;
	check_dir_against_expect("worker-published");
}

/* A few fields spelled out, so the expectation files are not the only oracle. */
static void
test_proto_task_decode_fields_by_hand(void **state)
{
	struct proto_msg m;
	struct proto_task *t;
	char buf[PROTO_TIME_BUFSZ];

	(void)state;
	t = decode_fixture("redis-tasks/v2-json-time-limits.json", &m);
	assert_int_equal(t->version, PROTO_V2);
	assert_string_equal(t->task, "maintenance.vacuum");
	assert_true(t->has_time_limit && t->has_soft_time_limit);
	assert_true(t->time_limit == 60.0);      /* timelimit[0] is the HARD limit */
	assert_true(t->soft_time_limit == 50.0); /* timelimit[1] the soft one */
	assert_string_equal(cJSON_GetArrayItem(t->args, 0)->valuestring, "public.orders");
	proto_task_free(t);
	proto_msg_cleanup(&m);

	t = decode_fixture("redis-tasks/v2-json-eta.json", &m);
	assert_true(t->has_eta);
	assert_string_equal(proto_time_format(&t->eta, buf, sizeof(buf)),
	                    "2030-01-02T03:04:05.678901+00:00");
	proto_task_free(t);
	proto_msg_cleanup(&m);

	t = decode_fixture("redis-tasks/v2-msgpack-chain.json", &m);
	assert_non_null(t->chain);
	assert_int_equal(cJSON_GetArraySize(t->chain), 1);
	assert_string_equal(
	        cJSON_GetObjectItem(cJSON_GetArrayItem(t->chain, 0), "task")->valuestring,
	        "maintenance.stats");
	proto_task_free(t);
	proto_msg_cleanup(&m);

	t = decode_fixture("redis-tasks/v1-msgpack-args-kwargs.json", &m);
	assert_int_equal(t->version, PROTO_V1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t->kwargs, "full")));
	proto_task_free(t);
	proto_msg_cleanup(&m);

	t = decode_fixture("redis-tasks/v2-json-priority-5.json", &m);
	assert_true(t->has_priority);
	assert_int_equal(t->priority, 5);
	assert_string_equal(t->routing_key, "celery");
	proto_task_free(t);
	proto_msg_cleanup(&m);
}

/* ---- encode vs Celery, and round trips ---- */

/*
 * For every v2 fixture: decode, encode, and compare headers and the decoded body with what
 * Celery produced; then envelope and decode again and compare the whole canonical view.
 */
static void
test_proto_task_encode_matches_celery(void **state)
{
	char **names;
	size_t n = list_fixtures("redis-tasks", &names);
	int v2 = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct proto_msg m, out, back;
		struct proto_task *t = decode_fixture(names[i], &m), *t2;
		enum proto_serializer ser =
		        strstr(names[i], "msgpack") != NULL ? PROTO_SER_MSGPACK : PROTO_SER_JSON;
		struct err err;
		cJSON *want_body, *got_body, *d1, *d2;
		const cJSON *exp = cJSON_GetObjectItem(m.properties, "expiration");
		const cJSON *tag = cJSON_GetObjectItem(m.properties, "delivery_tag");
		char *env;
		size_t len;

		err_clear(&err);
		assert_int_equal(proto_task_encode(t, ser,
		                                   exp != NULL ? atoll(exp->valuestring) : -1, &out,
		                                   &err),
		                 0);
		if (t->version == PROTO_V2) {
			v2++;
			assert_json_equal(out.headers, m.headers, names[i]);
			assert_key_order(out.headers, m.headers, names[i]);
			assert_string_equal(out.content_type, m.content_type);
			assert_string_equal(out.content_encoding, m.content_encoding);
			want_body = proto_body_decode(m.content_type, m.content_encoding, m.body,
			                              m.body_len, NULL, &err);
			got_body = proto_body_decode(out.content_type, out.content_encoding,
			                             out.body, out.body_len, NULL, &err);
			assert_non_null(want_body);
			assert_non_null(got_body);
			assert_json_equal(got_body, want_body, names[i]);
			cJSON_Delete(want_body);
			cJSON_Delete(got_body);
		}
		/* Envelope with the original route and tag: the same JSON kombu wrote. */
		env = proto_envelope_encode(&out, t->exchange, t->routing_key, tag->valuestring,
		                            &len, &err);
		assert_non_null(env);
		if (t->version == PROTO_V2) {
			char *orig_path = fixture_path(names[i]);
			size_t olen;
			char *orig = slurp(orig_path, &olen, &err);
			cJSON *a = cJSON_Parse(env), *b = cJSON_Parse(orig);

			if (ser == PROTO_SER_JSON) {
				/* The body base64 differs only by JSON spacing; compare the rest.
				 */
				cJSON_DeleteItemFromObject(a, "body");
				cJSON_DeleteItemFromObject(b, "body");
			}
			assert_json_equal(a, b, names[i]);
			assert_key_order(a, b, names[i]);
			assert_key_order(cJSON_GetObjectItem(a, "properties"),
			                 cJSON_GetObjectItem(b, "properties"), names[i]);
			cJSON_Delete(a);
			cJSON_Delete(b);
			free(orig);
			free(orig_path);
		}
		assert_int_equal(proto_envelope_decode(env, len, NULL, &back, &err), 0);
		t2 = proto_task_decode(&back, NULL, &err);
		assert_non_null(t2);
		d1 = task_dump(t);
		d2 = task_dump(t2);
		if (t->version == PROTO_V1) {
			/* v1 re-encodes as v2: the version changes and lang gets Celery's "py". */
			cJSON_ReplaceItemInObject(d1, "version", cJSON_CreateNumber(2));
			cJSON_ReplaceItemInObject(d1, "lang", cJSON_CreateString("py"));
			/* v1 carries no reprs; the encoder derives them the way Celery would. */
			if (t->argsrepr == NULL) {
				char *r = proto_repr(t->args);

				cJSON_ReplaceItemInObject(d1, "argsrepr", cJSON_CreateString(r));
				free(r);
				r = proto_repr(t->kwargs);
				cJSON_ReplaceItemInObject(d1, "kwargsrepr", cJSON_CreateString(r));
				free(r);
			}
		}
		assert_json_equal(d2, d1, names[i]);
		cJSON_Delete(d1);
		cJSON_Delete(d2);
		free(env);
		proto_task_free(t2);
		proto_msg_cleanup(&back);
		proto_msg_cleanup(&out);
		proto_task_free(t);
		proto_msg_cleanup(&m);
	}
	assert_true(v2 >= 20);
	free_names(names, n);
}

static void
test_proto_task_dup_is_deep_and_equal(void **state)
{
	struct proto_msg m;
	struct proto_task *t, *d;
	cJSON *a, *b;

	(void)state;
	t = decode_fixture("redis-tasks/v2-json-link.json", &m);
	d = proto_task_dup(t);
	assert_ptr_not_equal(d->callbacks, t->callbacks);
	a = task_dump(t);
	proto_task_free(t);
	b = task_dump(d);
	assert_json_equal(b, a, "dup");
	cJSON_Delete(a);
	cJSON_Delete(b);
	proto_task_free(d);
	proto_msg_cleanup(&m);
}

static void
test_proto_task_encode_fills_celery_defaults(void **state)
{
	struct proto_task *t = proto_task_new();
	struct proto_msg out;
	struct err err;

	(void)state;
	assert_int_equal(proto_task_encode(t, PROTO_SER_JSON, -1, &out, &err), -1);
	assert_int_equal(err.cls, ERR_INVALID);
	assert_string_equal(err.msg, "task.id: missing");
	t->id = xstrdup("11111111-2222-4333-8444-555555555555");
	t->task = xstrdup("maintenance.run");
	cJSON_AddItemToArray(t->args, cJSON_CreateString("it's"));
	cJSON_AddItemToObject(t->kwargs, "dry_run", cJSON_CreateTrue());
	assert_int_equal(proto_task_encode(t, PROTO_SER_JSON, 60000, &out, &err), 0);
	assert_string_equal(cJSON_GetObjectItem(out.headers, "lang")->valuestring, "py");
	assert_string_equal(cJSON_GetObjectItem(out.headers, "argsrepr")->valuestring,
	                    "[\"it's\"]");
	assert_string_equal(cJSON_GetObjectItem(out.headers, "kwargsrepr")->valuestring,
	                    "{'dry_run': True}");
	assert_string_equal(cJSON_GetObjectItem(out.properties, "correlation_id")->valuestring,
	                    t->id);
	assert_string_equal(cJSON_GetObjectItem(out.properties, "expiration")->valuestring,
	                    "60000");
	assert_int_equal(cJSON_GetObjectItem(out.properties, "delivery_mode")->valueint, 2);
	assert_string_equal(out.body, "[[\"it's\"],{\"dry_run\":true},{\"callbacks\":null,"
	                              "\"errbacks\":null,\"chain\":null,\"chord\":null}]");
	proto_msg_cleanup(&out);
	proto_task_free(t);
}

/* decode(encode(x)) == x for a task with every field set, through both serializers. */
static void
test_proto_task_encode_decode_roundtrip_all_fields(void **state)
{
	static const enum proto_serializer sers[] = { PROTO_SER_JSON, PROTO_SER_MSGPACK };
	struct proto_task *t = proto_task_new();
	struct err err;

	(void)state;
	t->id = xstrdup("a0000000-0000-4000-8000-000000000001");
	t->task = xstrdup("maintenance.run");
	t->lang = xstrdup("py");
	t->shadow = xstrdup("nightly");
	cJSON_AddItemToArray(t->args, cJSON_CreateString("na\xc3\xafve \xe2\x9c\x93"));
	cJSON_AddItemToArray(t->args, cJSON_CreateNumber(-2.5));
	cJSON_AddItemToObject(t->kwargs, "operations", cJSON_Parse("[\"vacuum\", \"logs\"]"));
	assert_int_equal(proto_time_parse("2030-01-02T08:34:05.000001+05:30", &t->eta, &err), 0);
	t->has_eta = true;
	assert_int_equal(proto_time_parse("2030-01-03T00:00:00+00:00", &t->expires, &err), 0);
	t->has_expires = true;
	t->retries = 3;
	t->has_time_limit = t->has_soft_time_limit = true;
	t->time_limit = 1800;
	t->soft_time_limit = 1750.5;
	t->root_id = xstrdup("r");
	t->parent_id = xstrdup("p");
	t->group = xstrdup("g");
	t->has_group_index = true;
	t->group_index = 4;
	t->origin = xstrdup("gen1@janitor");
	t->argsrepr = xstrdup("['x']");
	t->kwargsrepr = xstrdup("{}");
	t->ignore_result = true;
	cJSON_AddItemToObject(t->extra_headers, "x-custom", cJSON_CreateString("v"));
	t->correlation_id = xstrdup("c");
	t->reply_to = xstrdup("oid");
	t->has_priority = true;
	t->priority = 7;
	t->delivery_mode = 1;
	t->callbacks =
	        cJSON_Parse("[{\"task\": \"a\", \"args\": [], \"kwargs\": {}, "
	                    "\"options\": {}, \"subtask_type\": null, \"immutable\": false}]");
	t->errbacks = cJSON_Parse("[]");
	t->chain = cJSON_Parse("[{\"task\": \"b\"}, {\"task\": \"c\"}]");
	t->chord = cJSON_Parse("{\"task\": \"celery.chord\"}");
	for (size_t i = 0; i < ARRAY_LEN(sers); i++) {
		struct proto_msg out, back;
		struct proto_task *t2;
		char *env;
		size_t len;
		cJSON *a, *b;

		assert_int_equal(proto_task_encode(t, sers[i], -1, &out, &err), 0);
		env = proto_envelope_encode(&out, "celery", "maintenance", "tag", &len, &err);
		assert_non_null(env);
		assert_int_equal(proto_envelope_decode(env, len, NULL, &back, &err), 0);
		t2 = proto_task_decode(&back, NULL, &err);
		if (t2 == NULL)
			fail_msg("%s", err.msg);
		assert_int_equal(t2->eta.offset_min, 330);
		assert_int_equal(t2->delivery_mode, 1);
		t->exchange = xstrdup("celery");
		t->routing_key = xstrdup("maintenance");
		a = task_dump(t);
		b = task_dump(t2);
		assert_json_equal(b, a, sers[i] == PROTO_SER_JSON ? "json" : "msgpack");
		free(t->exchange);
		free(t->routing_key);
		t->exchange = t->routing_key = NULL;
		cJSON_Delete(a);
		cJSON_Delete(b);
		proto_task_free(t2);
		proto_msg_cleanup(&back);
		proto_msg_cleanup(&out);
		free(env);
	}
	proto_task_free(t);
}

/* ERR_BUG: a caller passing an enum value outside the contract. */
static void
test_proto_encoders_report_bugs(void **state)
{
	struct proto_event ev;
	struct err err;
	cJSON *v = cJSON_CreateArray();
	size_t len;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.type = (enum proto_event_type)99;
	ev.hostname = "h";
	assert_null(proto_event_new(&ev, &err));
	assert_int_equal(err.cls, ERR_BUG);
	assert_string_equal(err.msg, "event.type: unknown (99)");
	assert_null(proto_body_encode(v, (enum proto_serializer)7, &len, &err));
	assert_int_equal(err.cls, ERR_BUG);
	assert_string_equal(err.msg, "serializer: unknown (7)");
	cJSON_Delete(v);
}

/* ---- errors ---- */

/* Decode a body with the given headers JSON; returns the task or NULL with err. */
static struct proto_task *
decode_raw(const char *headers, const char *ctype, const char *cenc, const void *body, size_t len,
           const struct proto_limits *lim, struct err *err)
{
	struct proto_msg m;
	struct proto_task *t;

	proto_msg_init(&m);
	m.headers = headers != NULL ? cJSON_Parse(headers) : NULL;
	m.properties = cJSON_CreateObject();
	m.content_type = ctype != NULL ? xstrdup(ctype) : NULL;
	m.content_encoding = cenc != NULL ? xstrdup(cenc) : NULL;
	m.body = xmalloc(len + 1);
	memcpy(m.body, body, len);
	m.body_len = len;
	err_clear(err);
	t = proto_task_decode(&m, lim, err);
	proto_msg_cleanup(&m);
	return t;
}

#define H_OK "{\"task\":\"t\",\"id\":\"i\"}"
#define B_OK "[[],{},{}]"

static const struct {
	const char *name;
	const char *headers;
	const char *ctype;
	const char *body;
	enum err_class cls;
	const char *msg;
} error_cases[] = {
	{ "pickle", H_OK, "application/x-python-serialize", "\x80\x04K\x01.", ERR_UNSUPPORTED,
	  "Refusing to deserialize untrusted content of type pickle "
	  "(application/x-python-serialize)" },
	{ "yaml", H_OK, "application/x-yaml", "- 1", ERR_UNSUPPORTED,
	  "Refusing to deserialize untrusted content of type yaml (application/x-yaml)" },
	{ "other type", H_OK, "text/xml", "<a/>", ERR_UNSUPPORTED,
	  "Refusing to deserialize untrusted content of type text/xml" },
	{ "raw data", H_OK, NULL, "abc", ERR_UNSUPPORTED,
	  "content_type: raw application/data content carries no structured body" },
	{ "bad eta", "{\"task\":\"t\",\"id\":\"i\",\"eta\":\"tomorrow\"}", "application/json", B_OK,
	  ERR_INVALID, "headers.eta: not an ISO-8601 datetime" },
	{ "bad eta date", "{\"task\":\"t\",\"id\":\"i\",\"eta\":\"2026-02-30T00:00:00\"}",
	  "application/json", B_OK, ERR_INVALID, "headers.eta: not an ISO-8601 datetime" },
	{ "eta number", "{\"task\":\"t\",\"id\":\"i\",\"eta\":5}", "application/json", B_OK,
	  ERR_INVALID, "headers.eta: not an ISO-8601 datetime" },
	{ "bad expires", "{\"task\":\"t\",\"id\":\"i\",\"expires\":\"2026-01-01T25:00\"}",
	  "application/json", B_OK, ERR_INVALID, "headers.expires: not an ISO-8601 datetime" },
	{ "missing id", "{\"task\":\"t\"}", "application/json", B_OK, ERR_INVALID,
	  "headers.id: missing" },
	{ "id not string", "{\"task\":\"t\",\"id\":5}", "application/json", B_OK, ERR_INVALID,
	  "headers.id: must be a string" },
	{ "retries negative", "{\"task\":\"t\",\"id\":\"i\",\"retries\":-1}", "application/json",
	  B_OK, ERR_INVALID, "headers.retries: out of range" },
	{ "retries float", "{\"task\":\"t\",\"id\":\"i\",\"retries\":1.5}", "application/json",
	  B_OK, ERR_INVALID, "headers.retries: must be an integer" },
	{ "timelimit shape", "{\"task\":\"t\",\"id\":\"i\",\"timelimit\":[1]}", "application/json",
	  B_OK, ERR_INVALID, "headers.timelimit: must be [hard, soft]" },
	{ "timelimit type", "{\"task\":\"t\",\"id\":\"i\",\"timelimit\":[null,\"x\"]}",
	  "application/json", B_OK, ERR_INVALID, "headers.timelimit[1]: must be a number" },
	{ "ignore_result type", "{\"task\":\"t\",\"id\":\"i\",\"ignore_result\":1}",
	  "application/json", B_OK, ERR_INVALID, "headers.ignore_result: must be a boolean" },
	{ "compression", "{\"task\":\"t\",\"id\":\"i\",\"compression\":\"application/x-gzip\"}",
	  "application/json", B_OK, ERR_UNSUPPORTED,
	  "headers.compression: compressed bodies are not supported (application/x-gzip)" },
	{ "body shape", H_OK, "application/json", "[[],{}]", ERR_INVALID,
	  "body: protocol 2 body must be [args, kwargs, embed]" },
	{ "args type", H_OK, "application/json", "[{},{},{}]", ERR_INVALID,
	  "body[0]: args must be a list" },
	{ "kwargs type", H_OK, "application/json", "[[],[],{}]", ERR_INVALID,
	  "body[1]: kwargs must be an object" },
	{ "embed type", H_OK, "application/json", "[[],{},5]", ERR_INVALID,
	  "body[2]: embed must be an object" },
	{ "chain type", H_OK, "application/json", "[[],{},{\"chain\":{}}]", ERR_INVALID,
	  "body[2].chain: must be a list or null" },
	{ "chord type", H_OK, "application/json", "[[],{},{\"chord\":[]}]", ERR_INVALID,
	  "body[2].chord: must be a signature or null" },
	{ "not a task", "{}", "application/json", "[1,2,3]", ERR_INVALID,
	  "message: not a task (no headers.task and no body.task)" },
	{ "bad json", H_OK, "application/json", "[[],{},{]", ERR_INVALID,
	  "body: not valid JSON (at offset 8)" },
	{ "trailing json", H_OK, "application/json", "[[],{},{}] x", ERR_INVALID,
	  "body: not valid JSON: trailing data at offset 11" },
	{ "bad utf8", H_OK, "application/json", "[[\"\xc3\x28\"],{},{}]", ERR_INVALID,
	  "body: not valid UTF-8" },
	{ "v1 missing task id", "{}", "application/json", "{\"task\":\"t\"}", ERR_INVALID,
	  "body.id: missing" },
	{ "v1 bad eta", "{}", "application/json",
	  "{\"task\":\"t\",\"id\":\"i\",\"eta\":\"2026-13-01\"}", ERR_INVALID,
	  "body.eta: not an ISO-8601 datetime" },
	{ "v1 kwargs type", "{}", "application/json", "{\"task\":\"t\",\"id\":\"i\",\"kwargs\":[]}",
	  ERR_INVALID, "body.kwargs: kwargs must be an object" },
	{ "msgpack truncated", H_OK, "application/x-msgpack", "\x93\x90", ERR_INVALID,
	  "body: truncated msgpack" },
	{ "msgpack huge count", H_OK, "application/x-msgpack", "\xdd\xff\xff\xff\xff", ERR_INVALID,
	  "body: truncated msgpack" },
	{ "msgpack ext", H_OK, "application/x-msgpack", "\xd4\x01\x02", ERR_UNSUPPORTED,
	  "body: msgpack ext types are not supported" },
	{ "msgpack int key", H_OK, "application/x-msgpack", "\x81\x01\x02", ERR_UNSUPPORTED,
	  "body: map key is not a string" },
	{ "msgpack reserved", H_OK, "application/x-msgpack", "\xc1", ERR_INVALID,
	  "body: invalid msgpack byte 0xc1" },
	{ "msgpack trailing", H_OK, "application/x-msgpack", "\x90\x90", ERR_INVALID,
	  "body: trailing data after msgpack value at offset 1" },
};

static void
test_proto_task_decode_error_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(error_cases); i++) {
		struct err err;
		struct proto_task *t = decode_raw(
		        error_cases[i].headers, error_cases[i].ctype,
		        error_cases[i].ctype != NULL && strstr(error_cases[i].ctype, "json") != NULL
		                ? "utf-8"
		                : "binary",
		        error_cases[i].body, strlen(error_cases[i].body), NULL, &err);

		if (t != NULL)
			fail_msg("%s: decoded but should fail", error_cases[i].name);
		if (err.cls != error_cases[i].cls || strcmp(err.msg, error_cases[i].msg) != 0)
			fail_msg("%s: got [%s] %s", error_cases[i].name, err_class_name(err.cls),
			         err.msg);
	}
}

static void
test_proto_task_decode_rejects_deep_nesting(void **state)
{
	char body[512];
	struct err err;
	struct proto_limits lim = { .max_body = 0, .max_depth = 10 };
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(body, sizeof(body), "[[");
	for (int i = 0; i < 20; i++)
		body[n++] = '[';
	for (int i = 0; i < 20; i++)
		body[n++] = ']';
	n += (size_t)snprintf(body + n, sizeof(body) - n, "],{},{}]");
	assert_null(decode_raw(H_OK, "application/json", "utf-8", body, n, &lim, &err));
	assert_int_equal(err.cls, ERR_INVALID);
	assert_string_equal(err.msg, "body: nested deeper than 10 levels");

	/* msgpack: 40 nested one-element arrays, past msgpack-c's own stack. */
	memset(body, 0x91, 40);
	body[40] = (char)0xc0;
	assert_null(decode_raw(H_OK, "application/x-msgpack", "binary", body, 41, NULL, &err));
	assert_string_equal(err.msg, "body: nested deeper than 31 levels");
}

static void
test_proto_task_decode_rejects_oversize(void **state)
{
	struct err err;
	struct proto_limits lim = { .max_body = 8, .max_depth = 0 };

	(void)state;
	assert_null(decode_raw(H_OK, "application/json", "utf-8", B_OK "   ", 13, &lim, &err));
	assert_int_equal(err.cls, ERR_INVALID);
	assert_string_equal(err.msg, "body: too large (13 bytes, limit 8)");
}

static void
test_proto_task_decode_accepts_hybrid_and_redelivered(void **state)
{
	struct err err;
	struct proto_task *t;
	const char *body = "{\"task\":\"t1\",\"id\":\"x\",\"args\":[1],\"utc\":false,"
	                   "\"eta\":\"2026-01-02 03:04\",\"taskset\":\"g\"}";

	(void)state;
	/* headers.task present, body a dict: Celery treats it as v1. */
	t = decode_raw("{\"task\":\"t1\",\"id\":\"x\",\"redelivered\":true}", "application/json",
	               "utf-8", body, strlen(body), NULL, &err);
	assert_non_null(t);
	assert_int_equal(t->version, PROTO_V1);
	assert_false(t->utc);
	assert_string_equal(t->group, "g");
	assert_true(t->eta.naive);
	assert_true(t->redelivered);
	assert_int_equal(t->eta.usec, 1767323040LL * 1000000);
	proto_task_free(t);
}

/* ---- envelope ---- */

static const struct {
	const char *env;
	const char *msg;
} envelope_decode_errors_cases[] = {
	{ "[]", "envelope: must be a JSON object" },
	{ "{\"body\":1,\"properties\":{}}", "envelope.body: must be a string" },
	{ "{\"body\":\"\",\"properties\":[]}", "envelope.properties: must be an object" },
	{ "{\"body\":\"\",\"headers\":1,\"properties\":{}}",
	  "envelope.headers: must be an object" },
	{ "{\"body\":\"@@@@\",\"properties\":{\"body_encoding\":\"base64\"}}",
	  "envelope.body: not valid base64" },
	{ "{\"body\":\"x\",\"properties\":{\"body_encoding\":\"rot13\"}}",
	  "envelope.properties.body_encoding: unsupported (only base64)" },
	{ "{\"body\":\"\",\"content-type\":5,\"properties\":{}}",
	  "envelope.content-type: must be a string" },
	{ "{", "envelope: not valid JSON (at offset 0)" },
};

static void
test_proto_envelope_decode_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(envelope_decode_errors_cases); i++) {
		struct proto_msg m;
		struct err err;

		err_clear(&err);
		assert_int_equal(proto_envelope_decode(envelope_decode_errors_cases[i].env,
		                                       strlen(envelope_decode_errors_cases[i].env),
		                                       NULL, &m, &err),
		                 -1);
		if (strcmp(err.msg, envelope_decode_errors_cases[i].msg) != 0)
			fail_msg("%s: got %s", envelope_decode_errors_cases[i].env, err.msg);
		assert_null(m.body);
	}
}

static void
test_proto_envelope_encode_requires_route(void **state)
{
	struct proto_msg m;
	struct err err;
	size_t len;

	(void)state;
	proto_msg_init(&m);
	assert_null(proto_envelope_encode(&m, NULL, "celery", "tag", &len, &err));
	assert_string_equal(err.msg, "envelope.properties.delivery_info: exchange and "
	                             "routing_key required");
	assert_null(proto_envelope_encode(&m, "", "celery", NULL, &len, &err));
	assert_string_equal(err.msg, "envelope.properties.delivery_tag: missing");
}

static void
test_proto_envelope_roundtrip_events_and_pidbox(void **state)
{
	static const char *const files[] = {
		"events/worker-heartbeat.json",
		"events/task-multi-task-failed.json",
		"pidbox/ping-request.json",
		"pidbox/stats-reply.json",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		cJSON *orig = load_json(files[i]);
		char *text = cJSON_PrintUnformatted(orig), *env;
		struct proto_msg m;
		struct err err;
		size_t len;
		const cJSON *di;
		cJSON *again;

		assert_int_equal(proto_envelope_decode(text, strlen(text), NULL, &m, &err), 0);
		di = cJSON_GetObjectItem(m.properties, "delivery_info");
		env = proto_envelope_encode(
		        &m, cJSON_GetObjectItem(di, "exchange")->valuestring,
		        cJSON_GetObjectItem(di, "routing_key")->valuestring,
		        cJSON_GetObjectItem(m.properties, "delivery_tag")->valuestring, &len, &err);
		again = cJSON_Parse(env);
		assert_json_equal(again, orig, files[i]);
		assert_key_order(again, orig, files[i]);
		assert_key_order(cJSON_GetObjectItem(again, "properties"),
		                 cJSON_GetObjectItem(orig, "properties"), files[i]);
		cJSON_Delete(again);
		free(env);
		free(text);
		cJSON_Delete(orig);
		proto_msg_cleanup(&m);
	}
}

/* ---- results ---- */

static int64_t
parse_usec(const char *s)
{
	struct proto_time t;
	struct err err;

	assert_int_equal(proto_time_parse(s, &t, &err), 0);
	return t.usec;
}

static void
check_result(const char *rel, struct proto_result *r)
{
	cJSON *want = load_json(rel);
	const cJSON *dd = cJSON_GetObjectItem(want, "date_done");
	struct err err;
	cJSON *got;

	r->task_id = cJSON_GetObjectItem(want, "task_id")->valuestring;
	r->traceback = cJSON_GetObjectItem(want, "traceback")->valuestring;
	r->children = cJSON_GetObjectItem(want, "children");
	if (cJSON_IsString(dd))
		r->now_usec = parse_usec(dd->valuestring);
	if (cJSON_GetObjectItem(want, "parent_id") != NULL)
		r->parent_id = cJSON_GetObjectItem(want, "parent_id")->valuestring;
	got = proto_result_new(r, PROTO_RESULT_BACKEND, &err);
	assert_non_null(got);
	assert_json_equal(got, want, rel);
	assert_key_order(got, want, rel);
	cJSON_Delete(got);
	cJSON_Delete(want);
}

static void
test_proto_result_new_matches_celery(void **state)
{
	cJSON *args = cJSON_Parse("[\"relation \\\"public.missing\\\" does not exist\"]");
	cJSON *revoked = cJSON_Parse("[\"revoked\"]");
	cJSON *retry = cJSON_Parse("[\"transient failure\"]");
	cJSON *progress = cJSON_Parse("{\"current\": 1, \"total\": 2}");
	cJSON *success = load_json("results/success.json");
	struct proto_result r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.state = PROTO_STATE_SUCCESS;
	r.result = cJSON_GetObjectItem(success, "result");
	check_result("results/success.json", &r);

	memset(&r, 0, sizeof(r));
	r.state = PROTO_STATE_FAILURE;
	r.exc_type = "ValueError";
	r.exc_module = "builtins";
	r.exc_args = args;
	check_result("results/failure.json", &r);

	memset(&r, 0, sizeof(r));
	r.state = PROTO_STATE_REVOKED;
	r.exc_type = "TaskRevokedError";
	r.exc_module = "celery.exceptions";
	r.exc_args = revoked;
	check_result("results/revoked.json", &r);

	memset(&r, 0, sizeof(r));
	r.state = PROTO_STATE_RETRY;
	r.exc_type = "RuntimeError";
	r.exc_module = "builtins";
	r.exc_args = retry;
	check_result("results/retry-state.json", &r);

	memset(&r, 0, sizeof(r));
	r.state = PROTO_STATE_CUSTOM;
	r.custom_state = "PROGRESS";
	r.result = progress;
	check_result("results/progress-custom-state.json", &r);

	cJSON_Delete(args);
	cJSON_Delete(revoked);
	cJSON_Delete(retry);
	cJSON_Delete(progress);
	cJSON_Delete(success);
}

static void
test_proto_result_new_extended_and_rpc(void **state)
{
	cJSON *args = cJSON_Parse("[\"public.orders\"]"), *kwargs = cJSON_Parse("{}");
	struct proto_result r;
	struct err err;
	cJSON *got;
	char *s;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.task_id = "abc";
	r.state = PROTO_STATE_SUCCESS;
	r.now_usec = parse_usec("2026-11-29T00:12:06.624814");
	r.group_id = "g1";
	r.parent_id = "p1";
	r.extended = true;
	r.name = "maintenance.vacuum";
	r.args = args;
	r.kwargs = kwargs;
	r.worker = "janitor@host";
	r.retries = 2;
	r.queue = "celery";
	got = proto_result_new(&r, PROTO_RESULT_BACKEND, &err);
	s = cJSON_PrintUnformatted(got);
	assert_string_equal(
	        s, "{\"status\":\"SUCCESS\",\"result\":null,\"traceback\":null,\"children\":[],"
	           "\"date_done\":\"2026-11-29T00:12:06.624814\",\"group_id\":\"g1\","
	           "\"parent_id\":\"p1\",\"name\":\"maintenance.vacuum\",\"args\":[\"public."
	           "orders\"],\"kwargs\":{},\"worker\":\"janitor@host\",\"retries\":2,"
	           "\"queue\":\"celery\",\"task_id\":\"abc\"}");
	free(s);
	cJSON_Delete(got);

	/* rpc://: task_id first, no date_done, no extended fields (results/rpc-redis). */
	got = proto_result_new(&r, PROTO_RESULT_RPC, &err);
	s = cJSON_PrintUnformatted(got);
	assert_string_equal(s, "{\"task_id\":\"abc\",\"status\":\"SUCCESS\",\"result\":null,"
	                       "\"traceback\":null,\"children\":[]}");
	free(s);
	cJSON_Delete(got);

	/* STARTED: result is the meta, date_done null. */
	r.state = PROTO_STATE_STARTED;
	r.extended = false;
	r.group_id = r.parent_id = NULL;
	got = proto_result_new(&r, PROTO_RESULT_BACKEND, &err);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(got, "date_done")));
	cJSON_Delete(got);

	/* Errors name the field. */
	r.state = PROTO_STATE_FAILURE;
	assert_null(proto_result_new(&r, PROTO_RESULT_BACKEND, &err));
	assert_string_equal(err.msg, "result.exc_type: missing for FAILURE");
	r.state = PROTO_STATE_CUSTOM;
	r.custom_state = NULL;
	assert_null(proto_result_new(&r, PROTO_RESULT_BACKEND, &err));
	assert_string_equal(err.msg, "result.status: missing state name");
	r.task_id = NULL;
	assert_null(proto_result_new(&r, PROTO_RESULT_BACKEND, &err));
	assert_string_equal(err.msg, "result.task_id: missing");
	cJSON_Delete(args);
	cJSON_Delete(kwargs);
}

static void
test_proto_result_decode_validates(void **state)
{
	struct err err;
	cJSON *v;
	char *path = fixture_path("results/failure.json");
	size_t len;
	char *text = slurp(path, &len, &err);

	(void)state;
	v = proto_result_decode(text, len, NULL, &err);
	assert_non_null(v);
	assert_string_equal(cJSON_GetObjectItem(v, "status")->valuestring, "FAILURE");
	cJSON_Delete(v);
	assert_null(proto_result_decode("{\"result\":1}", 12, NULL, &err));
	assert_string_equal(err.msg, "result.status: must be a non-empty string");
	assert_null(proto_result_decode("{\"status\":\"X\"}", 14, NULL, &err));
	assert_string_equal(err.msg, "result.result: missing");
	free(text);
	free(path);
}

/* ---- events ---- */

static void
check_event(const char *rel, struct proto_event *ev)
{
	cJSON *want = load_json(rel);
	struct err err;
	cJSON *got;

	ev->hostname = cJSON_GetObjectItem(want, "hostname")->valuestring;
	ev->utcoffset = cJSON_GetObjectItem(want, "utcoffset")->valueint;
	ev->pid = cJSON_GetObjectItem(want, "pid")->valueint;
	ev->clock = cJSON_GetObjectItem(want, "clock")->valueint;
	ev->timestamp = cJSON_GetObjectItem(want, "timestamp")->valuedouble;
	if (cJSON_GetObjectItem(want, "uuid") != NULL)
		ev->uuid = cJSON_GetObjectItem(want, "uuid")->valuestring;
	got = proto_event_new(ev, &err);
	assert_non_null(got);
	assert_json_equal(got, want, rel);
	assert_key_order(got, want, rel);
	cJSON_Delete(got);
	cJSON_Delete(want);
}

static void
test_proto_event_new_matches_celery(void **state)
{
	cJSON *fx;
	struct proto_event ev;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	ev.type = PROTO_EV_WORKER_HEARTBEAT;
	ev.freq = 2.0;
	ev.active = 1;
	ev.processed = 3;
	ev.loadavg[0] = 0.8412;
	ev.loadavg[1] = 0.65;
	ev.loadavg[2] = 0.39;
	ev.sw_ident = "py-celery";
	ev.sw_ver = "5.2.6";
	check_event("events/decoded/worker-heartbeat.json", &ev);

	/* online and offline: the same worker fields, other counters and loadavg. */
	ev.type = PROTO_EV_WORKER_ONLINE;
	ev.active = 0;
	ev.processed = 0;
	ev.loadavg[0] = 0.84;
	check_event("events/decoded/worker-online.json", &ev);
	ev.type = PROTO_EV_WORKER_OFFLINE;
	ev.processed = 8;
	ev.loadavg[0] = 0.65;
	ev.loadavg[1] = 0.61;
	ev.loadavg[2] = 0.38;
	check_event("events/decoded/worker-offline.json", &ev);

	fx = load_json("events/decoded/task-received.json");
	memset(&ev, 0, sizeof(ev));
	ev.type = PROTO_EV_TASK_RECEIVED;
	ev.name = "maintenance.vacuum";
	ev.args = "['public.orders']";
	ev.kwargs = "{'full': True}";
	ev.root_id = cJSON_GetObjectItem(fx, "root_id")->valuestring;
	check_event("events/decoded/task-received.json", &ev);
	cJSON_Delete(fx);

	fx = load_json("events/decoded/task-succeeded.json");
	memset(&ev, 0, sizeof(ev));
	ev.type = PROTO_EV_TASK_SUCCEEDED;
	ev.result = cJSON_GetObjectItem(fx, "result")->valuestring;
	ev.runtime = cJSON_GetObjectItem(fx, "runtime")->valuedouble;
	check_event("events/decoded/task-succeeded.json", &ev);
	cJSON_Delete(fx);

	fx = load_json("events/decoded/task-failed.json");
	memset(&ev, 0, sizeof(ev));
	ev.type = PROTO_EV_TASK_FAILED;
	ev.exception = cJSON_GetObjectItem(fx, "exception")->valuestring;
	ev.traceback = cJSON_GetObjectItem(fx, "traceback")->valuestring;
	check_event("events/decoded/task-failed.json", &ev);
	cJSON_Delete(fx);

	fx = load_json("events/decoded/task-retried.json");
	memset(&ev, 0, sizeof(ev));
	ev.type = PROTO_EV_TASK_RETRIED;
	ev.exception = cJSON_GetObjectItem(fx, "exception")->valuestring;
	ev.traceback = cJSON_GetObjectItem(fx, "traceback")->valuestring;
	check_event("events/decoded/task-retried.json", &ev);
	cJSON_Delete(fx);

	memset(&ev, 0, sizeof(ev));
	ev.type = PROTO_EV_TASK_STARTED;
	check_event("events/decoded/task-started.json", &ev);
	memset(&ev, 0, sizeof(ev));
	ev.type = PROTO_EV_TASK_REVOKED;
	check_event("events/decoded/task-revoked.json", &ev);

	assert_string_equal(proto_event_routing_key(PROTO_EV_TASK_RETRIED), "task.retried");
	memset(&ev, 0, sizeof(ev));
	{
		struct err err;

		assert_null(proto_event_new(&ev, &err));
		assert_string_equal(err.msg, "event.hostname: missing");
		ev.hostname = "h";
		ev.type = PROTO_EV_TASK_STARTED;
		assert_null(proto_event_new(&ev, &err));
		assert_string_equal(err.msg, "event.uuid: missing for task-started");
	}
}

static void
test_proto_utcoffset_floors_hours_west(void **state)
{
	(void)state;
	assert_int_equal(proto_utcoffset(0), 0);
	assert_int_equal(proto_utcoffset(7200), -2);  /* UTC+2 */
	assert_int_equal(proto_utcoffset(19800), -6); /* UTC+5:30 floors */
	assert_int_equal(proto_utcoffset(-18000), 5); /* UTC-5 */
	assert_int_equal(proto_utcoffset(-12600), 3); /* UTC-3:30 */
}

/* ---- remote control ---- */

static void
test_proto_control_decode_fixtures(void **state)
{
	char **names;
	size_t n = list_fixtures("pidbox", &names);
	int requests = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct proto_msg m;
		struct proto_control *c;
		struct err err;
		char *path = fixture_path(names[i]);
		char *rel;
		cJSON *want;
		const cJSON *rt;

		if (strstr(names[i], "-request.json") == NULL) {
			free(path);
			continue;
		}
		requests++;
		assert_int_equal(fixture_msg_load(path, &m, &err), 0);
		c = proto_control_decode(&m, NULL, &err);
		assert_non_null(c);
		rel = xasprintf("pidbox/decoded/%.*s-body.json",
		                (int)(strlen(names[i]) - strlen("pidbox/") - strlen(".json")),
		                names[i] + strlen("pidbox/"));
		want = load_json(rel);
		assert_string_equal(c->method, cJSON_GetObjectItem(want, "method")->valuestring);
		assert_json_equal(c->arguments, cJSON_GetObjectItem(want, "arguments"), rel);
		rt = cJSON_GetObjectItem(want, "reply_to");
		if (rt != NULL) {
			assert_string_equal(c->reply_routing_key,
			                    cJSON_GetObjectItem(rt, "routing_key")->valuestring);
			assert_string_equal(c->ticket,
			                    cJSON_GetObjectItem(want, "ticket")->valuestring);
		} else {
			assert_null(c->ticket);
		}
		assert_true(proto_control_matches(c, "celery@fixture-host"));
		cJSON_Delete(want);
		free(rel);
		free(path);
		proto_control_free(c);
		proto_msg_cleanup(&m);
	}
	assert_true(requests >= 6);
	free_names(names, n);
}

static void
test_proto_control_matches_destination_and_patterns(void **state)
{
	struct proto_control c;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.destination = cJSON_Parse("[\"a@h\", \"b@h\"]");
	assert_true(proto_control_matches(&c, "b@h"));
	assert_false(proto_control_matches(&c, "c@h"));
	cJSON_Delete(c.destination);
	c.destination = NULL;
	c.pattern = (char *)"janitor@*";
	c.matcher = (char *)"glob";
	assert_true(proto_control_matches(&c, "janitor@db1"));
	assert_false(proto_control_matches(&c, "celery@db1"));
	c.matcher = (char *)"pcre";
	c.pattern = (char *)"jan.*@db[0-9]";
	assert_true(proto_control_matches(&c, "janitor@db1"));
	assert_false(proto_control_matches(&c, "x-janitor@db1"));
	c.pattern = NULL;
	assert_true(proto_control_matches(&c, "anyone"));
}

static void
test_proto_control_reply_and_request_bodies(void **state)
{
	cJSON *want = load_json("pidbox/decoded/ping-reply-body.json");
	cJSON *got = proto_control_reply_new("celery@fixture-host", proto_control_ok("pong"));
	cJSON *req_want = load_json("pidbox/decoded/ping-request-body.json");
	const cJSON *rt = cJSON_GetObjectItem(req_want, "reply_to");
	cJSON *req;

	(void)state;
	assert_json_equal(got, want, "ping reply");
	req = proto_control_request_new("ping", NULL, NULL,
	                                cJSON_GetObjectItem(req_want, "ticket")->valuestring,
	                                cJSON_GetObjectItem(rt, "routing_key")->valuestring);
	assert_json_equal(req, req_want, "ping request");
	assert_key_order(req, req_want, "ping request");
	cJSON_Delete(req);
	cJSON_Delete(got);
	cJSON_Delete(want);
	cJSON_Delete(req_want);
	got = proto_control_error("unknown task");
	assert_string_equal(cJSON_GetObjectItem(got, "error")->valuestring, "unknown task");
	cJSON_Delete(got);
}

static const struct {
	const char *body;
	const char *msg;
} control_decode_errors_cases[] = {
	{ "[]", "body: a control command must be an object" },
	{ "{}", "body.method: missing" },
	{ "{\"method\":\"ping\",\"arguments\":[]}", "body.arguments: must be an object" },
	{ "{\"method\":\"ping\",\"destination\":\"x\"}",
	  "body.destination: must be a list or null" },
	{ "{\"method\":\"ping\",\"destination\":[1]}", "body.destination: must hold node names" },
	{ "{\"method\":\"ping\",\"reply_to\":{\"exchange\":\"e\"}}",
	  "body.reply_to.routing_key: missing" },
};

static void
test_proto_control_decode_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(control_decode_errors_cases); i++) {
		struct proto_msg m;
		struct err err;

		proto_msg_init(&m);
		m.content_type = xstrdup("application/json");
		m.body = xstrdup(control_decode_errors_cases[i].body);
		m.body_len = strlen(control_decode_errors_cases[i].body);
		assert_null(proto_control_decode(&m, NULL, &err));
		if (strcmp(err.msg, control_decode_errors_cases[i].msg) != 0)
			fail_msg("%s: got %s", control_decode_errors_cases[i].body, err.msg);
		proto_msg_cleanup(&m);
	}
}

/* ---- time and base64 ---- */

static const struct {
	const char *in;
	int64_t usec;
	const char *out;
} time_parse_and_format_table_ok[] = {
	{ "1970-01-01T00:00:00+00:00", 0, "1970-01-01T00:00:00+00:00" },
	{ "2030-01-02T03:04:05.678901+00:00", 1893553445678901LL,
	  "2030-01-02T03:04:05.678901+00:00" },
	{ "2030-01-02T03:04:05Z", 1893553445000000LL, "2030-01-02T03:04:05+00:00" },
	{ "2030-01-02T08:34:05+05:30", 1893553445000000LL, "2030-01-02T08:34:05+05:30" },
	{ "2030-01-01T22:04:05-05:00", 1893553445000000LL, "2030-01-01T22:04:05-05:00" },
	{ "2026-11-29T00:12:06.624814", 1795911126624814LL, "2026-11-29T00:12:06.624814" },
	{ "2024-02-29 12:00", 1709208000000000LL, "2024-02-29T12:00:00" },
	{ "2024-1-2", 1704153600000000LL, "2024-01-02T00:00:00" },
	{ "1969-12-31T23:59:59.5Z", -500000LL, "1969-12-31T23:59:59.500000+00:00" },
	{ "2030-01-02T03:04:05.1234567Z", 1893553445123456LL, "2030-01-02T03:04:05.123456+00:00" },
};

static const char *const time_parse_and_format_table_bad[] = {
	"",
	"2030",
	"2030-01",
	"2030-00-01",
	"2023-02-29",
	"2030-01-02T24:00",
	"2030-01-02T03:04:05+0530",
	"2030-01-02T03:04:05.",
	"2030-01-02T03:04:05Zjunk",
	"2030-01-02T3:04",
	"abcd-01-02",
};

static void
test_proto_time_parse_and_format_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(time_parse_and_format_table_ok); i++) {
		struct proto_time t;
		struct err err;
		char buf[PROTO_TIME_BUFSZ];

		if (proto_time_parse(time_parse_and_format_table_ok[i].in, &t, &err) < 0)
			fail_msg("%s: %s", time_parse_and_format_table_ok[i].in, err.msg);
		if (t.usec != time_parse_and_format_table_ok[i].usec)
			fail_msg("%s: usec %lld", time_parse_and_format_table_ok[i].in,
			         (long long)t.usec);
		assert_string_equal(proto_time_format(&t, buf, sizeof(buf)),
		                    time_parse_and_format_table_ok[i].out);
	}
	for (size_t i = 0; i < ARRAY_LEN(time_parse_and_format_table_bad); i++) {
		struct proto_time t;
		struct err err;

		if (proto_time_parse(time_parse_and_format_table_bad[i], &t, &err) == 0)
			fail_msg("'%s' parsed", time_parse_and_format_table_bad[i]);
		assert_int_equal(err.cls, ERR_INVALID);
		assert_string_equal(err.msg, "not an ISO-8601 datetime");
	}
}

static const char *const base64_vectors_plain[] = {
	"", "f", "fo", "foo", "foob", "fooba", "foobar"
};

static const char *const base64_vectors_enc[] = { "",         "Zg==",     "Zm8=",    "Zm9v",
	                                          "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

static const char *const base64_vectors_bad[] = { "Zg=", "Z===", "Zg=a", "Zm9v\n", "Zm 9", "=Zg=" };

static void
test_proto_base64_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(base64_vectors_plain); i++) {
		struct err err;
		size_t n;
		char *e = proto_base64_encode(base64_vectors_plain[i],
		                              strlen(base64_vectors_plain[i]), &n);
		char *d;

		assert_string_equal(e, base64_vectors_enc[i]);
		d = proto_base64_decode(e, n, &n, &err);
		assert_non_null(d);
		assert_int_equal(n, strlen(base64_vectors_plain[i]));
		assert_memory_equal(d, base64_vectors_plain[i], n);
		free(d);
		free(e);
	}
	for (size_t i = 0; i < ARRAY_LEN(base64_vectors_bad); i++) {
		struct err err;
		size_t n;

		assert_null(proto_base64_decode(base64_vectors_bad[i],
		                                strlen(base64_vectors_bad[i]), &n, &err));
		assert_string_equal(err.msg, "not valid base64");
	}
}

static void
test_proto_msgpack_roundtrip_types(void **state)
{
	const char *json = "{\"a\":[1,-2,3.5,true,false,null,\"\\u00e9\\u4e2d\"],"
	                   "\"big\":1099511627776,\"neg\":-1099511627776,\"o\":{}}";
	cJSON *v = cJSON_Parse(json), *back;
	struct err err;
	size_t len;
	void *mp = proto_body_encode(v, PROTO_SER_MSGPACK, &len, &err);

	(void)state;
	assert_non_null(mp);
	back = proto_msgpack_decode(mp, len, NULL, &err);
	assert_non_null(back);
	assert_json_equal(back, v, "msgpack round trip");
	/* bin 8 holding UTF-8 reads as text; non-UTF-8 bytes are refused. */
	cJSON_Delete(back);
	back = proto_msgpack_decode("\xc4\x02hi", 4, NULL, &err);
	assert_string_equal(back->valuestring, "hi");
	cJSON_Delete(back);
	assert_null(proto_msgpack_decode("\xc4\x01\xff", 3, NULL, &err));
	assert_string_equal(err.msg, "binary value: string is not valid UTF-8");
	free(mp);
	cJSON_Delete(v);
}

static void
test_proto_repr_python_style(void **state)
{
	cJSON *v = cJSON_Parse("[\"a'b\", \"x\\\"y'z\", \"t\\n\", 1, 1.5, -0.25, 1e300, null, "
	                       "true, false, {\"k\": []}]");
	char *s = proto_repr(v);

	(void)state;
	assert_string_equal(s, "[\"a'b\", 'x\"y\\'z', 't\\n', 1, 1.5, -0.25, 1e+300, None, True, "
	                       "False, {'k': []}]");
	free(s);
	cJSON_Delete(v);
}

/* Repeated keys: the last wins, as in Python's json.loads and msgpack.unpackb. */
static void
test_proto_json_decode_duplicate_keys_last_wins(void **state)
{
	struct err err;
	const char *text = "{\"a\":1,\"b\":{\"x\":1,\"x\":2},\"a\":3}";
	cJSON *v = proto_json_decode(text, strlen(text), NULL, &err);
	char *s;

	(void)state;
	assert_non_null(v);
	s = cJSON_PrintUnformatted(v);
	assert_string_equal(s, "{\"b\":{\"x\":2},\"a\":3}");
	free(s);
	cJSON_Delete(v);
	/* msgpack {"k": 1, "k": 2} */
	v = proto_msgpack_decode("\x82\xa1k\x01\xa1k\x02", 7, NULL, &err);
	assert_non_null(v);
	assert_int_equal(cJSON_GetArraySize(v), 1);
	assert_int_equal(cJSON_GetObjectItem(v, "k")->valueint, 2);
	cJSON_Delete(v);
}

/* Python's json.dumps default allow_nan writes bare NaN / Infinity tokens. */
static void
test_proto_json_decode_accepts_python_nonfinite(void **state)
{
	const char *text = "[NaN, Infinity, -Infinity, \"NaN Infinity\", 1]";
	struct err err;
	cJSON *v = proto_json_decode(text, strlen(text), NULL, &err);

	(void)state;
	assert_non_null(v);
	assert_true(cJSON_IsNull(cJSON_GetArrayItem(v, 0)));
	assert_true(cJSON_IsNull(cJSON_GetArrayItem(v, 1)));
	assert_true(cJSON_IsNull(cJSON_GetArrayItem(v, 2)));
	assert_string_equal(cJSON_GetArrayItem(v, 3)->valuestring, "NaN Infinity");
	cJSON_Delete(v);
	/* Overflowing literals are infinite too. */
	v = proto_json_decode("[1e999]", 7, NULL, &err);
	assert_true(cJSON_IsNull(cJSON_GetArrayItem(v, 0)));
	cJSON_Delete(v);
	/* Not a token: still an error. */
	assert_null(proto_json_decode("[Nope]", 6, NULL, &err));
	assert_int_equal(err.cls, ERR_INVALID);
}

static void
test_proto_body_decode_content_encodings(void **state)
{
	struct err err;
	cJSON *v;

	(void)state;
	v = proto_body_decode("application/json", "binary", "[1]", 3, NULL, &err);
	assert_non_null(v);
	cJSON_Delete(v);
	v = proto_body_decode("application/json", NULL, "[1]", 3, NULL, &err);
	assert_non_null(v);
	cJSON_Delete(v);
	assert_null(proto_body_decode("application/json", "latin-1", "[1]", 3, NULL, &err));
	assert_int_equal(err.cls, ERR_UNSUPPORTED);
	assert_string_equal(err.msg, "content_encoding: unsupported encoding 'latin-1'");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_task_decode_redis_fixtures),
		cmocka_unit_test(test_proto_task_decode_amqp_fixtures),
		cmocka_unit_test(test_proto_task_decode_worker_published),
		cmocka_unit_test(test_proto_task_decode_fields_by_hand),
		cmocka_unit_test(test_proto_task_encode_matches_celery),
		cmocka_unit_test(test_proto_task_dup_is_deep_and_equal),
		cmocka_unit_test(test_proto_task_encode_fills_celery_defaults),
		cmocka_unit_test(test_proto_task_encode_decode_roundtrip_all_fields),
		cmocka_unit_test(test_proto_encoders_report_bugs),
		cmocka_unit_test(test_proto_task_decode_error_table),
		cmocka_unit_test(test_proto_task_decode_rejects_deep_nesting),
		cmocka_unit_test(test_proto_task_decode_rejects_oversize),
		cmocka_unit_test(test_proto_task_decode_accepts_hybrid_and_redelivered),
		cmocka_unit_test(test_proto_envelope_decode_errors),
		cmocka_unit_test(test_proto_envelope_encode_requires_route),
		cmocka_unit_test(test_proto_envelope_roundtrip_events_and_pidbox),
		cmocka_unit_test(test_proto_result_new_matches_celery),
		cmocka_unit_test(test_proto_result_new_extended_and_rpc),
		cmocka_unit_test(test_proto_result_decode_validates),
		cmocka_unit_test(test_proto_event_new_matches_celery),
		cmocka_unit_test(test_proto_utcoffset_floors_hours_west),
		cmocka_unit_test(test_proto_control_decode_fixtures),
		cmocka_unit_test(test_proto_control_matches_destination_and_patterns),
		cmocka_unit_test(test_proto_control_reply_and_request_bodies),
		cmocka_unit_test(test_proto_control_decode_errors),
		cmocka_unit_test(test_proto_time_parse_and_format_table),
		cmocka_unit_test(test_proto_base64_vectors),
		cmocka_unit_test(test_proto_msgpack_roundtrip_types),
		cmocka_unit_test(test_proto_repr_python_style),
		cmocka_unit_test(test_proto_body_decode_content_encodings),
		cmocka_unit_test(test_proto_json_decode_duplicate_keys_last_wins),
		cmocka_unit_test(test_proto_json_decode_accepts_python_nonfinite),
	};

	xalloc_install_cjson();
	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}

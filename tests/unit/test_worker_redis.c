/* SPDX-License-Identifier: MIT */
/*
 * test_worker_redis.c - unit tests for the pure parts of the Redis transport: kombu's priority
 * steps and BRPOP key order, the queue of a popped key, round-robin rotation, redis:// URLs.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "broker.h"
#include "redis_int.h"

static void
test_redis_priority_step_maps_like_kombu(void **state)
{
	static const int want[] = { 0, 0, 0, 3, 3, 3, 6, 6, 6, 9 };
	int i;

	(void)state;
	for (i = 0; i < 10; i++)
		assert_int_equal(redis_priority_step(i), want[i]);
	assert_int_equal(redis_priority_step(-5), 0);
	assert_int_equal(redis_priority_step(255), 9);
}

static void
test_redis_queue_key_uses_sep(void **state)
{
	char *k;

	(void)state;
	k = redis_queue_key("celery", 5);
	assert_string_equal(k, "celery\x06\x16"
	                       "3");
	free(k);
	k = redis_queue_key("celery", 0);
	assert_string_equal(k, "celery");
	free(k);
}

static void
test_redis_brpop_keys_step_first_then_queue(void **state)
{
	const char *const q[] = { "a", "b" };
	static const char *const want[] = {
		"a",
		"b",
		"a\x06\x16"
		"3",
		"b\x06\x16"
		"3",
		"a\x06\x16"
		"6",
		"b\x06\x16"
		"6",
		"a\x06\x16"
		"9",
		"b\x06\x16"
		"9",
	};
	char **k = redis_brpop_keys(q, 2);
	size_t i;

	(void)state;
	for (i = 0; i < 8; i++) {
		assert_string_equal(k[i], want[i]);
		free(k[i]);
	}
	assert_null(k[8]);
	free(k);
}

static void
test_redis_key_queue_strips_priority(void **state)
{
	char *q;

	(void)state;
	q = redis_key_queue("celery\x06\x16"
	                    "9",
	                    9);
	assert_string_equal(q, "celery");
	free(q);
	q = redis_key_queue("jobs", 4);
	assert_string_equal(q, "jobs");
	free(q);
}

static void
test_redis_rotate_moves_served_last(void **state)
{
	char a[] = "a", b[] = "b", c[] = "c";
	char *order[] = { a, b, c };

	(void)state;
	redis_rotate(order, 3, "a");
	assert_string_equal(order[0], "b");
	assert_string_equal(order[1], "c");
	assert_string_equal(order[2], "a");
	redis_rotate(order, 3, "zzz");
	assert_string_equal(order[0], "b");
}

static void
test_redis_url_parse_full(void **state)
{
	struct redis_url u;
	struct err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(redis_url_parse("redis://user:p%40ss@example:6380/2", &u, &e), 0);
	assert_string_equal(u.host, "example");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 2);
	assert_string_equal(u.username, "user");
	assert_string_equal(u.password, "p@ss");
	redis_url_cleanup(&u);
	assert_int_equal(redis_url_parse("redis://:secret@h", &u, &e), 0);
	assert_null(u.username);
	assert_string_equal(u.password, "secret");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	redis_url_cleanup(&u);
	assert_int_equal(redis_url_parse("redis://", &u, &e), 0);
	assert_string_equal(u.host, "localhost");
	redis_url_cleanup(&u);
}

static void
test_redis_url_parse_rejects_bad(void **state)
{
	struct redis_url u;
	struct err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(redis_url_parse("redis://h:99999/0", &u, &e), -1);
	assert_int_equal(e.cls, ERR_CONFIG);
	assert_non_null(strstr(e.msg, "port"));
	assert_int_equal(redis_url_parse("redis://h/x", &u, &e), -1);
	assert_non_null(strstr(e.msg, "database"));
	assert_int_equal(redis_url_parse("rediss://h", &u, &e), -1);
	assert_int_equal(e.cls, ERR_UNSUPPORTED);
}

static void
test_broker_ops_for_url_by_scheme(void **state)
{
	struct err e;

	(void)state;
	err_clear(&e);
	assert_ptr_equal(broker_ops_for_url("redis://x", &e), &broker_redis_ops);
	assert_null(broker_ops_for_url("amqp://x", &e));
	assert_int_equal(e.cls, ERR_UNSUPPORTED);
	assert_null(broker_ops_for_url("ftp://x", &e));
	assert_int_equal(e.cls, ERR_CONFIG);
	assert_ptr_equal(backend_ops_for_url("redis://x/1", &e), &backend_redis_ops);
	assert_null(backend_ops_for_url("rpc://", &e));
	assert_int_equal(e.cls, ERR_UNSUPPORTED);
}

static void
test_broker_uuid4_is_canonical(void **state)
{
	char a[37], b[37];

	(void)state;
	broker_uuid4(a);
	broker_uuid4(b);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[8], '-');
	assert_int_equal(a[14], '4');
	assert_true(strchr("89ab", a[19]) != NULL);
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redis_priority_step_maps_like_kombu),
		cmocka_unit_test(test_redis_queue_key_uses_sep),
		cmocka_unit_test(test_redis_brpop_keys_step_first_then_queue),
		cmocka_unit_test(test_redis_key_queue_strips_priority),
		cmocka_unit_test(test_redis_rotate_moves_served_last),
		cmocka_unit_test(test_redis_url_parse_full),
		cmocka_unit_test(test_redis_url_parse_rejects_bad),
		cmocka_unit_test(test_broker_ops_for_url_by_scheme),
		cmocka_unit_test(test_broker_uuid4_is_canonical),
	};

	return cmocka_run_group_tests_name("worker_redis", tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_common.c - unit tests for common/: error formatting and truncation, strbuf growth and
 * detach, log level parsing.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "log.h"
#include "strbuf.h"
#include "xalloc.h"

static void
test_err_set_formats_and_returns_minus_one(void **state)
{
	struct err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(err_set(&e, ERR_INVALID, "headers.%s: bad", "eta"), -1);
	assert_int_equal(e.cls, ERR_INVALID);
	assert_string_equal(e.msg, "headers.eta: bad");
	assert_string_equal(err_class_name(e.cls), "invalid");
}

static void
test_err_set_truncates_with_ellipsis(void **state)
{
	char big[2 * ERR_MSG_MAX];
	struct err e;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, ERR_DB, "%s", big);
	assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
	assert_string_equal(e.msg + ERR_MSG_MAX - 4, "...");
}

static void
test_err_sys_appends_strerror(void **state)
{
	struct err e;

	(void)state;
	errno = ENOENT;
	err_sys(&e, ERR_CONFIG, "open %s", "x.conf");
	assert_int_equal(e.sys_errno, ENOENT);
	assert_non_null(strstr(e.msg, "open x.conf: "));
	assert_non_null(strstr(e.msg, "No such file"));
}

static void
test_err_prefix_adds_context(void **state)
{
	struct err e;

	(void)state;
	err_set(&e, ERR_INVALID, "not a list");
	err_prefix(&e, "body[%d]", 0);
	assert_string_equal(e.msg, "body[0]: not a list");
	assert_int_equal(e.cls, ERR_INVALID);
}

static void
test_sb_grows_and_detaches(void **state)
{
	struct strbuf sb;
	char *s;
	size_t len;
	int i;

	(void)state;
	sb_init(&sb);
	for (i = 0; i < 1000; i++)
		sb_addf(&sb, "%d,", i % 10);
	assert_int_equal(sb.len, 2000);
	assert_int_equal(sb.buf[sb.len], '\0');
	sb_add(&sb, "\0z", 2);
	s = sb_detach(&sb, &len);
	assert_int_equal(len, 2002);
	assert_int_equal(s[2001], 'z');
	assert_int_equal(sb.len, 0);
	free(s);
	sb_cleanup(&sb);
}

static void
test_log_level_parse_accepts_celery_names(void **state)
{
	enum log_level l;

	(void)state;
	assert_int_equal(log_level_parse("INFO", &l), 0);
	assert_int_equal(l, LOG_LVL_INFO);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("critical", &l), 0);
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("loud", &l), -1);
}

static void
test_xasprintf_formats(void **state)
{
	char *s;

	(void)state;
	s = xasprintf("%s-%03d", "a", 7);
	assert_string_equal(s, "a-007");
	free(s);
	assert_null(xstrdup(NULL));
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_set_formats_and_returns_minus_one),
		cmocka_unit_test(test_err_set_truncates_with_ellipsis),
		cmocka_unit_test(test_err_sys_appends_strerror),
		cmocka_unit_test(test_err_prefix_adds_context),
		cmocka_unit_test(test_sb_grows_and_detaches),
		cmocka_unit_test(test_log_level_parse_accepts_celery_names),
		cmocka_unit_test(test_xasprintf_formats),
	};

	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}

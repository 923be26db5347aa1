# tests/: shared test scripts and fixtures.

# protocol/ tests (issue 3): the cmocka suite, the Celery cross-check and the fuzz replay.
PROTO_TEST_HELPERS = tests/protocol/task_dump.c tests/protocol/task_dump.h
PROTO_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol -I$(top_srcdir)/tests/protocol \
	$(CJSON_CFLAGS) $(MSGPACK_CFLAGS)
PROTO_TEST_LIBS = protocol/libproto.a common/libcommon.a $(CJSON_LIBS) $(MSGPACK_LIBS)

check_PROGRAMS += tests/unit/test_proto
tests_unit_test_proto_SOURCES = tests/unit/test_proto.c $(PROTO_TEST_HELPERS)
tests_unit_test_proto_CPPFLAGS = $(PROTO_TEST_CPPFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_proto_LDADD = $(PROTO_TEST_LIBS) $(CMOCKA_LIBS)

noinst_PROGRAMS += tests/protocol/proto_dump
tests_protocol_proto_dump_SOURCES = tests/protocol/proto_dump.c $(PROTO_TEST_HELPERS)
tests_protocol_proto_dump_CPPFLAGS = $(PROTO_TEST_CPPFLAGS)
tests_protocol_proto_dump_LDADD = $(PROTO_TEST_LIBS)

dist_check_SCRIPTS += tests/protocol/check-celery.sh
EXTRA_DIST += tests/protocol/celery_expect.py tests/fixtures/protocol

# House rules a machine can check: format, banned calls, module boundaries, no printf'd SQL.
dist_check_SCRIPTS += tests/style.sh
EXTRA_DIST += tests/lib/harness.sh tests/lsan.supp
EXTRA_DIST += tests/sql

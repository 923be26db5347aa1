# Sources of `janitor worker` (the daemon) and the Redis transport/backend `janitor call` reuses.
janitor_daemon_sources = \
	worker/cmd_worker.c \
	worker/cfg.h worker/cfg.c worker/ini.h worker/ini.c \
	worker/exec.h worker/exec_int.h worker/exec.c worker/exec_child.c worker/exec_io.c worker/exec_task.c \
	worker/broker.h worker/broker.c worker/broker_redis.c \
	worker/backend.h worker/backend_redis.c \
	worker/redis_int.h worker/redis_conn.c

dist_check_SCRIPTS += tests/integration/worker_redis_basic.sh tests/integration/worker_redis_limits.sh

WORKER_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/worker -I$(top_srcdir)/protocol \
	-I$(top_srcdir)/ops $(CMOCKA_CFLAGS) $(CJSON_CFLAGS) $(HIREDIS_CFLAGS)
check_PROGRAMS += tests/unit/test_worker_redis tests/unit/test_worker_cfg
tests_unit_test_worker_redis_SOURCES = tests/unit/test_worker_redis.c worker/broker.c \
	worker/broker_redis.c worker/backend_redis.c worker/redis_conn.c
tests_unit_test_worker_redis_CPPFLAGS = $(WORKER_TEST_CPPFLAGS)
tests_unit_test_worker_redis_LDADD = protocol/libproto.a common/libcommon.a $(CMOCKA_LIBS) \
	$(CJSON_LIBS) $(MSGPACK_LIBS) $(HIREDIS_LIBS) $(LIBM)
tests_unit_test_worker_cfg_SOURCES = tests/unit/test_worker_cfg.c worker/cfg.c worker/ini.c worker/exec.c
tests_unit_test_worker_cfg_CPPFLAGS = $(WORKER_TEST_CPPFLAGS)
tests_unit_test_worker_cfg_LDADD = protocol/libproto.a $(OPS_LIBS) $(CMOCKA_LIBS) \
	$(MSGPACK_LIBS)

# worker/: the janitor binary (CLI, daemon). Sources come in three lists so the engine's
# commands (run.mk), the daemon (daemon.mk) and `janitor call` (call.mk) grow apart.
include %reldir%/run.mk
include %reldir%/daemon.mk
include %reldir%/call.mk

bin_PROGRAMS += janitor
janitor_SOURCES = %reldir%/main.c %reldir%/cli.h $(janitor_run_sources) $(janitor_daemon_sources) \
	$(janitor_call_sources)
janitor_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol -I$(top_srcdir)/ops -I$(top_srcdir)/worker \
	$(CJSON_CFLAGS) $(MSGPACK_CFLAGS) $(HIREDIS_CFLAGS) $(RABBITMQ_CFLAGS) $(PQ_CFLAGS) $(SQLITE_CFLAGS)
janitor_LDADD = ops/libops.a protocol/libproto.a common/libcommon.a \
	$(CJSON_LIBS) $(MSGPACK_LIBS) $(HIREDIS_LIBS) $(RABBITMQ_LIBS) $(PQ_LIBS) $(SQLITE_LIBS) \
	$(PTHREAD_LIBS) $(LIBM)

# bench/: benchmarks (not part of make check).
EXTRA_DIST += bench/celery_throughput.sh
EXTRA_DIST += bench/delete_throughput.sh bench/delete_throughput.py bench/delete_django.py

# protocol/ benchmark (issue 3): bench/bench-proto.sh BUILDDIR runs it beside Python kombu.
noinst_PROGRAMS += bench/bench_proto
bench_bench_proto_SOURCES = bench/bench_proto.c
bench_bench_proto_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol $(CJSON_CFLAGS) $(MSGPACK_CFLAGS)
bench_bench_proto_LDADD = protocol/libproto.a common/libcommon.a $(CJSON_LIBS) $(MSGPACK_LIBS)
EXTRA_DIST += bench/bench-proto.sh bench/bench_proto.py

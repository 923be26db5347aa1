# protocol/: Celery's wire formats, pure functions over buffers (no I/O, no clock, no logging).
noinst_LIBRARIES += protocol/libproto.a
protocol_libproto_a_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS) $(MSGPACK_CFLAGS)
PROTO_SOURCES = \
	%reldir%/proto.h %reldir%/proto_int.h \
	%reldir%/proto_base64.c \
	%reldir%/proto_control.c \
	%reldir%/proto_envelope.c \
	%reldir%/proto_event.c \
	%reldir%/proto_field.c \
	%reldir%/proto_json.c \
	%reldir%/proto_msgpack.c \
	%reldir%/proto_result.c \
	%reldir%/proto_task.c \
	%reldir%/proto_task_encode.c \
	%reldir%/proto_time.c
protocol_libproto_a_SOURCES = $(PROTO_SOURCES)

# Fuzz targets (tests/fuzz/): one per decoder. With --enable-fuzzing (CC=clang), `make fuzz`
# builds libFuzzer binaries whose protocol/ objects carry the fuzzer's coverage
# instrumentation; without it the same sources link to fuzz_replay.c, and the seed corpus runs
# as an ordinary test under the sanitizers.
FUZZ_NAMES = task envelope msgpack
FUZZ_COMMON_LIBS = common/libcommon.a $(CJSON_LIBS) $(MSGPACK_LIBS)
FUZZ_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/protocol -I$(top_srcdir)/tests/fuzz \
	$(CJSON_CFLAGS) $(MSGPACK_CFLAGS)
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/make-corpus.py tests/fuzz/run-fuzz.sh
if FUZZING
EXTRA_PROGRAMS = tests/fuzz/fuzz_task tests/fuzz/fuzz_envelope tests/fuzz/fuzz_msgpack
CLEANFILES += $(EXTRA_PROGRAMS)
tests_fuzz_fuzz_task_SOURCES = tests/fuzz/fuzz_task.c tests/fuzz/fuzz.h $(PROTO_SOURCES)
tests_fuzz_fuzz_task_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_task_CFLAGS = $(WARN_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_task_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_task_LDADD = $(FUZZ_COMMON_LIBS)
tests_fuzz_fuzz_envelope_SOURCES = tests/fuzz/fuzz_envelope.c tests/fuzz/fuzz.h $(PROTO_SOURCES)
tests_fuzz_fuzz_envelope_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_envelope_CFLAGS = $(WARN_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_envelope_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_envelope_LDADD = $(FUZZ_COMMON_LIBS)
tests_fuzz_fuzz_msgpack_SOURCES = tests/fuzz/fuzz_msgpack.c tests/fuzz/fuzz.h $(PROTO_SOURCES)
tests_fuzz_fuzz_msgpack_CPPFLAGS = $(FUZZ_CPPFLAGS)
tests_fuzz_fuzz_msgpack_CFLAGS = $(WARN_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_msgpack_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_msgpack_LDADD = $(FUZZ_COMMON_LIBS)
fuzz: $(EXTRA_PROGRAMS)
else
check_PROGRAMS += tests/fuzz/replay_task tests/fuzz/replay_envelope tests/fuzz/replay_msgpack
tests_fuzz_replay_task_SOURCES = tests/fuzz/fuzz_task.c tests/fuzz/fuzz_replay.c tests/fuzz/fuzz.h
tests_fuzz_replay_task_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"task"'
tests_fuzz_replay_task_LDADD = protocol/libproto.a $(FUZZ_COMMON_LIBS)
tests_fuzz_replay_envelope_SOURCES = tests/fuzz/fuzz_envelope.c tests/fuzz/fuzz_replay.c \
	tests/fuzz/fuzz.h
tests_fuzz_replay_envelope_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"envelope"'
tests_fuzz_replay_envelope_LDADD = protocol/libproto.a $(FUZZ_COMMON_LIBS)
tests_fuzz_replay_msgpack_SOURCES = tests/fuzz/fuzz_msgpack.c tests/fuzz/fuzz_replay.c \
	tests/fuzz/fuzz.h
tests_fuzz_replay_msgpack_CPPFLAGS = $(FUZZ_CPPFLAGS) -DFUZZ_NAME='"msgpack"'
tests_fuzz_replay_msgpack_LDADD = protocol/libproto.a $(FUZZ_COMMON_LIBS)
fuzz:
	@echo "make fuzz: libFuzzer targets need ./configure --enable-fuzzing CC=clang;" \
	  "this build replays the seed corpus in make check instead (tests/fuzz/replay_*)."
endif
.PHONY: fuzz

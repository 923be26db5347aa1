# protocol/: Celery's wire formats, pure functions over buffers.
noinst_LIBRARIES += protocol/libproto.a
protocol_libproto_a_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS) $(MSGPACK_CFLAGS)
protocol_libproto_a_SOURCES = %reldir%/proto.h %reldir%/proto_placeholder.c

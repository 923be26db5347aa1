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

# common/: the leaf library every module links (error type, allocation, logging, buffers).
noinst_LIBRARIES += common/libcommon.a
common_libcommon_a_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS)
common_libcommon_a_SOURCES = \
	%reldir%/compat.h %reldir%/clock.c %reldir%/clock.h \
	%reldir%/err.c %reldir%/err.h \
	%reldir%/log.c %reldir%/log.h \
	%reldir%/strbuf.c %reldir%/strbuf.h \
	%reldir%/xalloc.c %reldir%/xalloc.h

check_PROGRAMS += tests/unit/test_common
tests_unit_test_common_SOURCES = tests/unit/test_common.c
tests_unit_test_common_CPPFLAGS = $(AM_CPPFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_common_LDADD = common/libcommon.a $(CMOCKA_LIBS) $(CJSON_LIBS)

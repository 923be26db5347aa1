# ops/: the maintenance engine and the database drivers.
noinst_LIBRARIES += ops/libops.a
ops_libops_a_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS) $(PQ_CFLAGS) $(SQLITE_CFLAGS)
ops_libops_a_SOURCES = %reldir%/ops.h %reldir%/db.h %reldir%/ops_placeholder.c

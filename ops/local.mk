# ops/: the maintenance engine and the database drivers. Two fragments so the engine core
# (drivers, run bookkeeping, retention operations) and the maintenance operations grow apart.
noinst_LIBRARIES += ops/libops.a
ops_libops_a_CPPFLAGS = $(AM_CPPFLAGS) $(CJSON_CFLAGS) $(PQ_CFLAGS) $(SQLITE_CFLAGS)
ops_libops_a_SOURCES = %reldir%/ops.h %reldir%/db.h %reldir%/ops_int.h %reldir%/ops_table.c \
	$(ops_core_sources) $(ops_maint_sources)
OPS_LIBS = ops/libops.a common/libcommon.a $(CJSON_LIBS) $(PQ_LIBS) $(SQLITE_LIBS) $(PTHREAD_LIBS) $(LIBM)

include %reldir%/core.mk
include %reldir%/maint.mk

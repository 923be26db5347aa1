# Engine core: drivers, run bookkeeping, batched retention (cleanup, logs, sessions).
ops_core_sources = ops/db.c ops/db_int.h ops/db_pg.c ops/db_sqlite.c ops/ops.c ops/ops_run.c ops/ops_batch.c \
	ops/ops_cleanup.c ops/ops_logs.c ops/ops_sessions.c ops/ops_demo.c

check_PROGRAMS += tests/unit/test_ops_core
tests_unit_test_ops_core_SOURCES = tests/unit/test_ops_core.c tests/lib/test_file.c tests/lib/test_file.h
tests_unit_test_ops_core_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/ops -I$(top_srcdir)/tests/lib -DTEST_SRCDIR='"$(abs_top_srcdir)"' \
	$(CMOCKA_CFLAGS) $(CJSON_CFLAGS) $(PQ_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_ops_core_LDADD = $(OPS_LIBS) $(CMOCKA_LIBS)
dist_check_SCRIPTS += tests/integration/ops_core_pg.sh tests/integration/ops_core_sqlite.sh

check_PROGRAMS += tests/unit/test_db_cancel
tests_unit_test_db_cancel_SOURCES = tests/unit/test_db_cancel.c
tests_unit_test_db_cancel_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/ops $(CMOCKA_CFLAGS) \
	$(CJSON_CFLAGS) $(PQ_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_db_cancel_LDADD = $(OPS_LIBS) $(CMOCKA_LIBS)

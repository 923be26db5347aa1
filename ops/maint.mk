# Maintenance operations: vacuum, reindex, views, stats, bloat, backup, and the report.
ops_maint_sources = ops/ops_vacuum.c ops/ops_reindex.c ops/ops_views.c ops/ops_stats.c \
	ops/ops_bloat.c ops/ops_backup.c ops/ops_report.c ops/ops_maint.c

# Unit tests on real SQLite files; the PostgreSQL half runs when JANITOR_TEST_PG_URL is set,
# which tests/integration/ops_maint_pg.sh does after starting a private PostgreSQL.
check_PROGRAMS += tests/unit/test_ops_maint
tests_unit_test_ops_maint_SOURCES = tests/unit/test_ops_maint.c tests/lib/test_file.c tests/lib/test_file.h
tests_unit_test_ops_maint_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/ops -I$(top_srcdir)/tests/lib -DTOP_SRCDIR=\"$(abs_top_srcdir)\" $(CMOCKA_CFLAGS) \
	$(CJSON_CFLAGS) $(PQ_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_ops_maint_LDADD = $(OPS_LIBS) $(CMOCKA_LIBS)
dist_check_SCRIPTS += tests/integration/ops_maint_pg.sh

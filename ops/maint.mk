# Maintenance operations: vacuum, reindex, views, stats, bloat, backup, and the report.
ops_maint_sources = ops/ops_vacuum.c ops/ops_reindex.c ops/ops_views.c ops/ops_stats.c \
	ops/ops_bloat.c ops/ops_backup.c ops/ops_report.c

# Engine core: drivers, run bookkeeping, batched retention (cleanup, logs, sessions).
ops_core_sources = ops/db.c ops/db_int.h ops/db_pg.c ops/db_sqlite.c ops/ops.c ops/ops_run.c ops/ops_batch.c \
	ops/ops_cleanup.c ops/ops_logs.c ops/ops_sessions.c ops/ops_demo.c

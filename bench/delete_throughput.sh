#!/bin/bash
# SPDX-License-Identifier: MIT
# delete_throughput.sh - benchmark (not a test): `janitor run --operation logs` against one
# plain DELETE and the Django ORM loop over 1,000,000 audit-log rows (half expired), on a
# private PostgreSQL 15 and on SQLite, side by side. Prints rows/s and ratios.
#   JANITOR=./janitor JANITOR_SRCDIR=. bench/delete_throughput.sh
#   BENCH_ROWS=20000 BENCH_RUNS=1 ... for a quick check.
: "${JANITOR_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
export JANITOR_SRCDIR
. "$JANITOR_SRCDIR/tests/lib/harness.sh"
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || skip "python3-psycopg2 not installed"
harness_start_postgres
as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "ALTER SYSTEM SET max_wal_size = '4GB'" >/dev/null
# Keep recycled WAL segments: otherwise a timed run now and then has to create and zero-fill new
# 16 MB segments (500k deletes write about 3 of them), which spread the runs of every method
# over +-30 % here; with it they stay within about 10 %.
as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "ALTER SYSTEM SET min_wal_size = '1GB'" >/dev/null
as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "SELECT pg_reload_conf()" >/dev/null
BENCH_WORK="$HARNESS_DIR/bench" JANITOR="$(realpath "$JANITOR")" \
	/usr/bin/python3 "$JANITOR_SRCDIR/bench/delete_throughput.py"

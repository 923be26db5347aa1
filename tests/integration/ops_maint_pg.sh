#!/bin/bash
# SPDX-License-Identifier: MIT
# ops_maint_pg.sh - the maintenance operations and the report against a private PostgreSQL 15:
# runs the PostgreSQL half of tests/unit/test_ops_maint, restores the backup it leaves behind
# into a fresh database with pg_restore and compares row counts, then drives `janitor run`
# and `janitor report` end to end and checks their JSON.
. "${JANITOR_SRCDIR:-.}/tests/lib/harness.sh"
BUILD=${JANITOR_BUILDDIR:-.}

harness_start_postgres
SRC_URL=$(harness_createdb maint_src)
export JANITOR_TEST_PG_URL=$DATABASE_URL
export JANITOR_TEST_BACKUP_DIR="$HARNESS_DIR/backups"
mkdir -p "$JANITOR_TEST_BACKUP_DIR"

# 1. Every operation, real and dry-run, through the engine's entries (C assertions).
"$BUILD/tests/unit/test_ops_maint" || fail "test_ops_maint (PostgreSQL half) failed"

# 2. The dump the backup test kept restores into a fresh database with the same rows.
dump=$(ls "$JANITOR_TEST_BACKUP_DIR"/*.dump | sort | tail -n 1)
[ -f "$dump" ] || fail "no backup left in $JANITOR_TEST_BACKUP_DIR"
[ "$(stat -c %a "$dump")" = 600 ] || fail "backup mode is $(stat -c %a "$dump"), not 600"
harness_createdb maint_restored >/dev/null
pg_restore --exit-on-error -d maint_restored "$dump" || fail "pg_restore of $dump failed"
n=$(psql -XAtq -d maint_restored -c 'SELECT count(*) FROM core_auditlog')
[ "$n" = 20000 ] || fail "restored core_auditlog has $n rows, want 20000"
t=$(psql -XAtq -d maint_restored -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$t" = 14 ] || fail "restored database has $t tables, want 14"

# 3. End to end through the CLI, when `janitor run` is built.
"$JANITOR" run --help >/dev/null 2>&1 || skip "janitor run not available"
psql -XAtq -d maint_src -v ON_ERROR_STOP=1 -f "$JANITOR_SRCDIR/tests/sql/django-postgres.sql" >/dev/null \
	|| fail "schema load failed"
psql -XAtq -d maint_src -c "INSERT INTO core_auditlog (\"timestamp\", actor, action, object_type,
	object_id, changes) SELECT now(), 'u', 'a', 'o', i::text, '{}' FROM generate_series(1, 5000) i" >/dev/null
out="$HARNESS_DIR/run.json"
"$JANITOR" run --operation vacuum --operation reindex --operation views --operation stats \
	--operation bloat --output json --database "$SRC_URL" >"$out" \
	|| { cat "$out" >&2; fail "janitor run exited $?"; }
"$PYTHON3" - "$out" <<'PY' || fail "janitor run JSON is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
for op in ("vacuum", "reindex", "views", "stats", "bloat"):
    assert doc[op]["status"] == "completed", (op, doc[op])
    assert doc[op]["operation"] == op, doc[op]
assert doc["stats"]["tables"][0]["table_name"] == "public.core_auditlog", doc["stats"]
assert any(t["table"] == '"public"."core_auditlog"' for t in doc["vacuum"]["tables"])
assert doc["reindex"]["indexes_rebuilt"] > 0
assert doc["metadata"]["dry_run"] is False
PY
"$JANITOR" report --output json --database "$SRC_URL" >"$HARNESS_DIR/report.json" \
	|| fail "janitor report exited $?"
"$PYTHON3" - "$HARNESS_DIR/report.json" <<'PY' || fail "janitor report JSON is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
for key in ("database_size", "table_sizes", "indexes", "unused_indexes", "connections",
            "long_running_queries", "blocking_locks", "estimate"):
    assert key in doc, key
assert doc["database_size"] > 0
# the janitor run above logged a real vacuum: the estimate now comes from that history
assert doc["estimate"]["basis"]["vacuum"] == "history", doc["estimate"]
assert doc["estimate"]["basis"]["backup"] == "default rate", doc["estimate"]
PY
echo "ops_maint_pg: ok"

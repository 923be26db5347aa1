#!/bin/bash
# SPDX-License-Identifier: MIT
# ops_core_pg.sh - the engine core on a real PostgreSQL 15 through `janitor run`: logs, cleanup
# and sessions (boundary row at the cut-off kept, 95 rows in batches of 10 = 10 batches),
# dry-run changes nothing, the execution-log row, the advisory lock (second run "skipped:
# locked"), a table lock held past lock_timeout (fails, does not block), a missing table, the
# JSON shape, and bad input (unknown operation exit 2, unreachable database exit 1).
. "$JANITOR_SRCDIR/tests/lib/harness.sh"

PY=/usr/bin/python3
harness_start_postgres
URL=$(harness_createdb opscore)
W=$HARNESS_DIR

psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }
q() { psql_ -d "${DB:-opscore}" -At -c "$1"; }
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"; }
activity() { q "SELECT string_agg(application_name || ':' || state || ':' || coalesce(wait_event, '-') || ':' || left(query, 60), ' | ') FROM pg_stat_activity WHERE datname = 'opscore'"; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }

psql_ -d opscore -f "$JANITOR_SRCDIR/tests/sql/django-postgres.sql" >/dev/null || fail "schema"
NOW=1764000000 # 2025-11-24 16:00:00 UTC
CUT=$((NOW - 90 * 86400))
printf '[maintenance]\nnow = %s\nlogs_batch = 10\nfailed_batch = 1\nlock_timeout_ms = 500\n' \
	"$NOW" >"$W/j.ini"
run() { "$JANITOR" run --database "$URL" --config "$W/j.ini" "$@"; }

audit() { q "INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, changes)
	SELECT to_timestamp($1 - i), 'a', 'update', 'order', '1', '{}' FROM generate_series(0, $2 - 1) i"; }
audit $((CUT - 1)) 95
audit "$CUT" 1
audit "$NOW" 1

# Dry run: counts, changes nothing.
run --operation logs --dry-run --output json >"$W/dry.json" || fail "dry run exited $?"
expect "dry-run rows" "$(jget "$W/dry.json" 'd["logs"]["rows_deleted"]')" 95
expect "dry-run flag" "$(jget "$W/dry.json" 'd["metadata"]["dry_run"]')" True
expect "rows after dry run" "$(q 'SELECT count(*) FROM core_auditlog')" 97

# Real run: 95 deleted in 10 batches, the row exactly at the cut-off stays. A trigger records
# the transaction id of every deleted row: ten distinct, committed transactions.
q "CREATE TABLE deleted_by (txid bigint, n int);
	CREATE FUNCTION note_delete() RETURNS trigger LANGUAGE plpgsql AS
	\$\$BEGIN INSERT INTO deleted_by VALUES (txid_current(), 1); RETURN OLD; END\$\$;
	CREATE TRIGGER note_delete AFTER DELETE ON core_auditlog FOR EACH ROW EXECUTE FUNCTION note_delete()"
run --operation logs --output json >"$W/real.json" || fail "logs exited $?"
expect "transactions that deleted rows" "$(q 'SELECT count(DISTINCT txid) FROM deleted_by')" 10
expect "largest transaction" "$(q 'SELECT max(c) FROM (SELECT count(*) c FROM deleted_by GROUP BY txid) s')" 10
q "DROP TRIGGER note_delete ON core_auditlog"
expect "deleted" "$(jget "$W/real.json" 'd["logs"]["rows_deleted"]')" 95
expect "batches" "$(jget "$W/real.json" 'd["logs"]["details"]["Audit Logs"]["batches"]')" 10
expect "details days" "$(jget "$W/real.json" 'd["logs"]["details"]["Audit Logs"]["days"]')" 90
expect "remaining" "$(q 'SELECT count(*) FROM core_auditlog')" 2
expect "boundary row kept" "$(q "SELECT count(*) FROM core_auditlog WHERE timestamp = to_timestamp($CUT)")" 1
expect "metadata keys" "$(jget "$W/real.json" 'sorted(k for k in d["metadata"] if k in ("timestamp","duration_seconds","dry_run","database"))')" \
	"['database', 'dry_run', 'duration_seconds', 'timestamp']"
expect "database name" "$(jget "$W/real.json" 'd["metadata"]["database"]')" opscore
expect "timestamp" "$(jget "$W/real.json" 'd["metadata"]["timestamp"]')" 2025-11-24T16:00:00Z

# The execution log: one row per run, dry-run flagged, result is the whole document.
expect "log rows" "$(q "SELECT count(*) FROM core_taskexecutionlog WHERE task_name = 'database_maintenance'")" 2
expect "log dry-run row" "$(q "SELECT status, rows_affected, result->'logs'->>'rows_deleted' FROM core_taskexecutionlog WHERE task_name = 'database_maintenance' AND dry_run")" "completed|95|95"
expect "log real row" "$(q "SELECT status, rows_affected, finished_at IS NOT NULL, duration_seconds >= 0 FROM core_taskexecutionlog WHERE task_name = 'database_maintenance' AND NOT dry_run")" "completed|95|t|t"

# cleanup and sessions.
q "INSERT INTO core_failedtask (id, task_id, task_name, args, kwargs, exception_type,
	exception_message, traceback, retry_count, created_at, is_archived) VALUES
	(1, 't1', 'n', '[]', '{}', 'E', 'm', 't', 0, to_timestamp($NOW - 100 * 86400), false),
	(2, 't2', 'n', '[]', '{}', 'E', 'm', 't', 0, to_timestamp($NOW - 365 * 86400), false),
	(3, 't3', 'n', '[]', '{}', 'E', 'm', 't', 0, to_timestamp($NOW - 400 * 86400), false),
	(4, 't4', 'n', '[]', '{}', 'E', 'm', 't', 0, to_timestamp($NOW - 800 * 86400), true),
	(5, 't5', 'n', '[]', '{}', 'E', 'm', 't', 0, to_timestamp($NOW - 800 * 86400), false)"
q "INSERT INTO django_session VALUES ('a', 'x', to_timestamp($NOW - 1)),
	('b', 'x', to_timestamp($NOW)), ('c', 'x', to_timestamp($NOW + 86400))"
run --operation sessions --operation cleanup --output json >"$W/cs.json" || fail "cleanup exited $?"
expect "order" "$(jget "$W/cs.json" 'list(d)')" "['cleanup', 'sessions', 'metadata']"
expect "archived" "$(jget "$W/cs.json" 'd["cleanup"]["rows_archived"]')" 2
expect "deleted" "$(jget "$W/cs.json" 'd["cleanup"]["rows_deleted"]')" 2
expect "failed tasks left" "$(q 'SELECT string_agg(id || (CASE WHEN is_archived THEN $$a$$ ELSE $$$$ END), $$,$$ ORDER BY id) FROM core_failedtask')" "1,2,3a"
expect "archived_at" "$(q "SELECT archived_at = to_timestamp($NOW) FROM core_failedtask WHERE id = 3")" t
expect "sessions left" "$(q 'SELECT string_agg(session_key, $$,$$ ORDER BY session_key) FROM django_session')" "b,c"

# Rows that share one date, more than two batches of them (the tie statement): every transaction
# still deletes at most a batch, all 32 go, the cut-off row stays. Batches: 3 rows before the
# shared date, 10 and 10 of it, then its last 5 with the 4 after it.
q "TRUNCATE deleted_by;
	CREATE TRIGGER note_delete AFTER DELETE ON core_auditlog FOR EACH ROW EXECUTE FUNCTION note_delete()"
audit $((CUT - 200)) 3
q "INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, changes)
	SELECT to_timestamp($CUT - 150), 'a', 'update', 'order', '1', '{}' FROM generate_series(1, 25)"
audit $((CUT - 10)) 4
run --operation logs --output json >"$W/ties.json" || fail "ties run exited $?"
q "DROP TRIGGER note_delete ON core_auditlog"
expect "ties deleted" "$(jget "$W/ties.json" 'd["logs"]["rows_deleted"]')" 32
expect "ties batches" "$(jget "$W/ties.json" 'd["logs"]["details"]["Audit Logs"]["batches"]')" 4
expect "ties transactions" "$(q 'SELECT count(DISTINCT txid) FROM deleted_by')" 4
expect "ties largest transaction" "$(q 'SELECT max(c) FROM (SELECT count(*) c FROM deleted_by GROUP BY txid) s')" 10
expect "ties remaining" "$(q 'SELECT count(*) FROM core_auditlog')" 2
expect "ties boundary row kept" "$(q "SELECT count(*) FROM core_auditlog WHERE timestamp = to_timestamp($CUT)")" 1

# The advisory lock: another session holds op-logs, so the run reports skipped: locked.
KEY=$("$PY" -c 'h = 2166136261
for b in b"op-logs": h = ((h ^ b) * 16777619) & 0xffffffff
print(h - 2**32 if h >= 2**31 else h)')
PGAPPNAME=holder psql_ -d opscore -c "SELECT pg_advisory_lock(1245794889, $KEY)" -c "SELECT pg_sleep(120)" >/dev/null 2>"$W/holder.err" &
harness_at_exit "kill $! 2>/dev/null"
advisory_held() { [ "$(q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1245794889 AND granted")" = "$1" ]; }
wait_until 20 advisory_held 1 || fail "holder never took the lock: $(activity)"
audit $((CUT - 5)) 3
run --operation logs --output json >"$W/locked.json" || fail "locked run exited $?"
expect "locked status" "$(jget "$W/locked.json" 'd["logs"]["status"]')" skipped
expect "locked reason" "$(jget "$W/locked.json" 'd["logs"]["reason"]')" locked
expect "nothing deleted while locked" "$(q 'SELECT count(*) FROM core_auditlog')" 5
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'" >/dev/null
wait_until 20 advisory_held 0 || fail "lock not released"

# A table lock held longer than lock_timeout: the run fails cleanly, it does not wait.
PGAPPNAME=holder2 psql_ -d opscore -c "BEGIN; LOCK TABLE core_auditlog IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT" >/dev/null 2>"$W/holder2.err" &
harness_at_exit "kill $! 2>/dev/null"
table_locked() { [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'core_auditlog' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]; }
wait_until 20 table_locked || fail "holder2 never locked the table: $(activity) $(cat "$W/holder2.err")"
t0=$(date +%s)
run --operation logs --output json >"$W/timeout.json"
rc=$?
expect "exit status after lock timeout" "$rc" 1
[ $(( $(date +%s) - t0 )) -lt 10 ] || fail "the run waited for the lock"
expect "timeout status" "$(jget "$W/timeout.json" 'd["logs"]["status"]')" failed
jget "$W/timeout.json" 'd["logs"]["error"]' | grep -q 'lock timeout' || fail "error does not name the lock timeout: $(jget "$W/timeout.json" 'd["logs"]["error"]')"
expect "no janitor backend left waiting" "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'janitor'")" 0
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder2'" >/dev/null

# A project without core_auditlog: that part is skipped, the rest runs.
DB=nolog
URL2=$(harness_createdb nolog)
psql_ -d nolog -f "$JANITOR_SRCDIR/tests/sql/django-postgres.sql" >/dev/null || fail "schema 2"
q "DROP TABLE core_auditlog"
"$JANITOR" run --database "$URL2" --operation logs --output json >"$W/nolog.json" || fail "missing table run exited $?"
expect "missing part" "$(jget "$W/nolog.json" 'd["logs"]["details"]["Audit Logs"]["reason"]')" "table core_auditlog does not exist"
expect "other part" "$(jget "$W/nolog.json" 'd["logs"]["details"]["Task Logs"]["deleted"]')" 0
unset DB

# Text output for people.
run --operation sessions >"$W/text.out" || fail "text run exited $?"
grep -q '^sessions   completed' "$W/text.out" || fail "text output: $(cat "$W/text.out")"

# Bad input.
"$JANITOR" run --operation nope --database "$URL" 2>"$W/err"; expect "unknown op exit" $? 2
grep -q 'valid: vacuum, reindex, cleanup, logs, sessions' "$W/err" || fail "usage does not list operations"
"$JANITOR" run --all --database "postgresql://postgres@127.0.0.1:1/x" >"$W/out" 2>"$W/err"
expect "unreachable exit" $? 1
expect "one line" "$(wc -l <"$W/err")" 1
expect "nothing on stdout" "$(wc -c <"$W/out")" 0
"$JANITOR" run --all --database "mysql://x" 2>"$W/err"; expect "bad URL exit" $? 1
printf '[databases]\ndefault = %s\n[maintenance]\nsessions_batch = 5\n' "$URL" >"$W/db.ini"
env -u DATABASE_URL "$JANITOR" run --config "$W/db.ini" --operation sessions --output json >"$W/ini.json" || fail "[databases] default not used"
expect "ini batch" "$(jget "$W/ini.json" 'd["sessions"]["details"]["batch_size"]')" 5
printf '[maintenance]\nlogs_batch = many\n' >"$W/bad.ini"
"$JANITOR" run --config "$W/bad.ini" --database "$URL" --operation logs 2>"$W/err"; expect "bad ini exit" $? 1
grep -q 'logs_batch' "$W/err" || fail "bad config error does not name the key"
DATABASE_URL="$URL" "$JANITOR" run --operation sessions --output json >"$W/env.json" || fail "DATABASE_URL not used"
expect "env database" "$(jget "$W/env.json" 'd["metadata"]["database"]')" opscore
# db_cancel from another thread stops a PostgreSQL statement (the worker's time limit/revoke).
TEST_PG_URL="$URL" "$JANITOR_BUILDDIR/tests/unit/test_db_cancel" >"$W/cancel.out" 2>&1 ||
	fail "test_db_cancel: $(cat "$W/cancel.out")"
grep -q 'PASSED.*2 test' "$W/cancel.out" || fail "test_db_cancel did not run both tests: $(cat "$W/cancel.out")"
echo "ok: ops_core_pg"

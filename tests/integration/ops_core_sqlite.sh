#!/bin/bash
# SPDX-License-Identifier: MIT
# ops_core_sqlite.sh - `janitor run` on SQLite files as a user runs it: the demo database of the
# README's first command, the JSON shape, the execution-log row, a lock held by another
# process on the sidecar lock file (second run "skipped: locked"), a missing table, and the
# exit statuses (0 completed, 1 unopenable database, 2 usage).
. "$JANITOR_SRCDIR/tests/lib/harness.sh"

PY=/usr/bin/python3
W=$HARNESS_DIR
DB=$W/demo.sqlite3
URL="sqlite:///$DB"
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"; }
q() { "$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$DB" "$1"; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }

# The demo database: created with old and new rows, then the retention operations clear the
# old ones and keep the new.
"$JANITOR" run --demo-db "$DB" --operation logs --operation cleanup --operation sessions \
	--dry-run --output json >"$W/dry.json" 2>"$W/err" || fail "demo dry run exited $?: $(cat "$W/err")"
grep -q 'created demo database' "$W/err" || fail "no creation notice"
would=$(jget "$W/dry.json" 'd["logs"]["details"]["Audit Logs"]["deleted"]')
[ "$would" -gt 0 ] || fail "demo database has no expired audit rows"
old=$(q "SELECT count(*) FROM core_auditlog WHERE timestamp < datetime('now', '-90 days')")
expect "dry-run count matches the data" "$would" "$old"
expect "dry run deleted nothing" "$(q "SELECT count(*) FROM core_auditlog WHERE timestamp < datetime('now', '-90 days')")" "$old"
new=$(q "SELECT count(*) FROM core_auditlog WHERE timestamp >= datetime('now', '-90 days')")

"$JANITOR" run --demo-db "$DB" --operation logs --operation cleanup --operation sessions \
	--output json >"$W/real.json" 2>"$W/err" || fail "demo run exited $?"
grep -q 'created demo database' "$W/err" && fail "the demo database was recreated"
expect "deleted as announced" "$(jget "$W/real.json" 'd["logs"]["details"]["Audit Logs"]["deleted"]')" "$old"
expect "expired rows left" "$(q "SELECT count(*) FROM core_auditlog WHERE timestamp < datetime('now', '-90 days')")" 0
expect "new rows kept" "$(q "SELECT count(*) FROM core_auditlog WHERE timestamp >= datetime('now', '-90 days')")" "$new"
expect "expired sessions left" "$(q "SELECT count(*) FROM django_session WHERE expire_date < datetime('now')")" 0
expect "shape" "$(jget "$W/real.json" '[sorted(set(d[k]) & {"status","operation","dry_run"}) for k in ("cleanup","logs","sessions")] + [sorted(d["metadata"])[:6]]')" \
	"[['dry_run', 'operation', 'status'], ['dry_run', 'operation', 'status'], ['dry_run', 'operation', 'status'], ['database', 'dry_run', 'duration_seconds', 'engine', 'execution_log_id', 'timestamp']]"
expect "statuses" "$(jget "$W/real.json" '[d[k]["status"] for k in ("cleanup","logs","sessions")]')" "['completed', 'completed', 'completed']"
expect "execution-log rows" "$(q "SELECT count(*) || '/' || sum(dry_run) FROM core_taskexecutionlog WHERE task_name = 'database_maintenance'")" 2/1
expect "logged result" "$(q "SELECT json_extract(result, '$.logs.details.\"Audit Logs\".deleted') FROM core_taskexecutionlog WHERE task_name = 'database_maintenance' AND NOT dry_run")" "$old"

# Another process holds the logs lock: skipped, nothing deleted; other operations run.
command -v flock >/dev/null || skip "flock(1) not installed"
q "SELECT 1" >/dev/null
"$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO core_auditlog (timestamp, actor, action, object_type, object_id, changes) VALUES (datetime(\"now\", \"-200 days\"), \"a\", \"u\", \"o\", \"1\", \"{}\")"); c.commit()' "$DB"
flock -o "$DB.janitor-op-logs.lock" sleep 60 &
holder=$!
harness_at_exit "pkill -P $holder sleep 2>/dev/null; kill $holder 2>/dev/null"
lock_busy() { ! flock -n "$DB.janitor-op-logs.lock" true; }
wait_until 10 lock_busy || fail "holder did not take the lock"
"$JANITOR" run --database "$URL" --operation logs --operation sessions --output json >"$W/locked.json" || fail "locked run exited $?"
expect "locked" "$(jget "$W/locked.json" 'd["logs"]["status"] + ":" + d["logs"]["reason"]')" "skipped:locked"
expect "others run" "$(jget "$W/locked.json" 'd["sessions"]["status"]')" completed
expect "nothing deleted while locked" "$(q "SELECT count(*) FROM core_auditlog WHERE timestamp < datetime('now', '-90 days')")" 1
pkill -P $holder sleep
wait $holder 2>/dev/null
lock_free() { flock -n "$DB.janitor-op-logs.lock" true; }
wait_until 10 lock_free || fail "the holder did not let go"
"$JANITOR" run --database "$URL" --operation logs --output json >"$W/after.json" || fail "run after unlock exited $?"
expect "runs after unlock" "$(jget "$W/after.json" 'd["logs"]["details"]["Audit Logs"]["deleted"]')" 1

# A project without core_auditlog and django_session.
"$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript("DROP TABLE core_auditlog; DROP TABLE django_session")' "$DB"
"$JANITOR" run --database "$URL" --operation logs --operation sessions --output json >"$W/missing.json" || fail "missing-table run exited $?"
expect "audit part" "$(jget "$W/missing.json" 'd["logs"]["details"]["Audit Logs"]["reason"]')" "table core_auditlog does not exist"
expect "sessions" "$(jget "$W/missing.json" 'd["sessions"]["status"] + ": " + d["sessions"]["reason"]')" "skipped: table django_session does not exist"

# Exit statuses and one-line errors.
"$JANITOR" run --database "$URL" --operation vacuum --operation nope 2>"$W/err"; expect "unknown op" $? 2
grep -q "unknown operation 'nope' (valid: vacuum, reindex, cleanup, logs, sessions, views, stats, bloat, backup)" "$W/err" || fail "usage: $(cat "$W/err")"
"$JANITOR" run --database "$URL" 2>/dev/null; expect "no operation" $? 2
"$JANITOR" run --database "$URL" --all --output yaml 2>/dev/null; expect "bad output" $? 2
"$JANITOR" run --database "sqlite:///$W/missing.sqlite3" --all >"$W/out" 2>"$W/err"; expect "missing file" $? 1
expect "one line" "$(wc -l <"$W/err")" 1
[ -e "$W/missing.sqlite3" ] && fail "a missing database file was created"
expect "nothing on stdout" "$(wc -c <"$W/out")" 0
"$JANITOR" run --database "$URL" --operation sessions >"$W/text" || fail "text run"
grep -q '^OPERATION  STATUS' "$W/text" || fail "text header: $(cat "$W/text")"
echo "ok: ops_core_sqlite"

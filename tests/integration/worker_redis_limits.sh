#!/bin/bash
# SPDX-License-Identifier: MIT
# worker_redis_limits.sh - what happens around a running operation, on real Redis and
# PostgreSQL with Debian's Celery client: STARTED with --track-started, the soft time limit
# (statement cancelled, SoftTimeLimitExceeded), the hard time limit (child killed,
# TimeLimitExceeded), a crashed child with early ack (WorkerLostError, worker lives on),
# transient database errors retried with retries+1 then FAILURE, and an ETA held past the
# visibility timeout keeps a fresh unacked_index score and runs once. A "long operation" is
# maintenance.logs waiting on a table lock this script holds. Waits poll with deadlines.
. "$JANITOR_SRCDIR/tests/lib/harness.sh"
set -u

harness_need_celery
harness_start_redis
harness_start_postgres
PG_URL=$(harness_createdb limits) || exit 1
psql -q -v ON_ERROR_STOP=1 -d "$PG_URL" \
	-f "$JANITOR_SRCDIR/tests/sql/django-postgres.sql" >/dev/null \
	|| fail "loading the PostgreSQL schema"
BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
PASS=0
FAILED=0
check() {
	what=$1
	shift
	if "$@"; then echo "ok - $what"; PASS=$((PASS + 1)); else
		echo "not ok - $what"; FAILED=$((FAILED + 1)); tail -n 5 "$HARNESS_DIR"/w*.log | cut -c1-240; fi
}

cat >"$HARNESS_DIR/c.py" <<'PY'
import json, sys
from celery import Celery
app = Celery("c", broker=sys.argv[1], backend=sys.argv[2])
cmd = sys.argv[3]
if cmd == "send":
    kw = dict(kwargs=json.loads(sys.argv[5]), queue=sys.argv[6])
    if len(sys.argv) > 7:
        kw["countdown"] = float(sys.argv[7])
    print(app.send_task(sys.argv[4], **kw).id)
elif cmd == "meta":   # status [exc_type] of a stored result, PENDING when none
    m = app.backend.get_task_meta(sys.argv[4])
    r = m.get("result")
    extra = type(r).__name__ if isinstance(r, BaseException) else ""
    print(m["status"], extra, json.dumps(r) if isinstance(r, dict) else "")
elif cmd == "wait":   # wait for READY, print status and exception type
    res = app.AsyncResult(sys.argv[4])
    try:
        res.get(timeout=float(sys.argv[5]))
        print("SUCCESS")
    except Exception as e:
        print(res.state, type(e).__name__)
PY
c() { "$PYTHON3" "$HARNESS_DIR/c.py" "$REDIS_URL" "$BACKEND" "$@"; }

lock_pid=""
lock_auditlog() {
	psql -q -d "$PG_URL" -c "BEGIN; LOCK TABLE core_auditlog IN ACCESS EXCLUSIVE MODE;
		SELECT pg_sleep(120);" >/dev/null 2>&1 &
	lock_pid=$!
	harness_at_exit "kill $lock_pid 2>/dev/null"
	wait_until 20 sh -c "psql -At -d '$PG_URL' -c \"SELECT count(*) FROM pg_locks l JOIN
		pg_class c ON c.oid = l.relation WHERE c.relname = 'core_auditlog' AND l.granted AND
		l.mode = 'AccessExclusiveLock'\" | grep -qx 1"
}
# Killing psql leaves its backend asleep holding the lock: terminate the backend itself.
unlock_auditlog() {
	psql -At -d "$PG_URL" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'BEGIN; LOCK TABLE core_auditlog%'" >/dev/null
	wait "$lock_pid" 2>/dev/null
	wait_until 20 sh -c "! psql -At -d '$PG_URL' -c 'SELECT count(*) FROM pg_locks WHERE NOT granted' | grep -qvx 0"
}
someone_waits() {
	psql -At -d "$PG_URL" -c "SELECT count(*) FROM pg_locks WHERE NOT granted" | grep -qvx 0
}

start_worker() { # NAME ARGS...
	name=$1
	shift
	"$JANITOR" worker -b "$REDIS_URL" --result-backend "$BACKEND" -l info -n "$name@%h" \
		--database "pg=$PG_URL" --database "down=postgresql://postgres@127.0.0.1:1/none" \
		"$@" >"$HARNESS_DIR/w$name.log" 2>&1 &
	WPID=$!
	harness_at_exit "kill -KILL $WPID 2>/dev/null"
	wait_until 20 grep -q 'ready\.' "$HARNESS_DIR/w$name.log"
}

# One worker for the time-limit and crash scenarios: soft 3 s by default (below the 5 s lock
# timeout of the operations, long enough to see STARTED).
start_worker lim -c 2 -Q lq --track-started --soft-time-limit 3 --retry-delay 1 \
	--max-retries 1 || fail "worker not ready"
LIM=$WPID

started_then_soft() {
	lock_auditlog || return 1
	id=$(c send maintenance.logs '{"database": "pg"}' lq) || return 1
	wait_until 20 sh -c "$PYTHON3 $HARNESS_DIR/c.py $REDIS_URL $BACKEND meta $id | grep -q '^STARTED.*hostname.*lim@'" \
		|| { echo "# no STARTED state"; return 1; }
	out=$(c wait "$id" 30)
	unlock_auditlog
	echo "# $out"
	[ "$out" = "FAILURE SoftTimeLimitExceeded" ]
}
check "STARTED stored, then soft limit: FAILURE SoftTimeLimitExceeded" started_then_soft

hard_limit() {
	lock_auditlog || return 1
	start_worker hard -c 1 -Q hq --time-limit 2 || return 1
	id=$(c send maintenance.logs '{"database": "pg"}' hq) || return 1
	out=$(c wait "$id" 30)
	# The killed child's statement must not wait on in the server (the lock is still held).
	left=$(psql -At -d "$PG_URL" -c "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'janitor'")
	unlock_auditlog
	echo "# $out, janitor backends left: $left"
	[ "$left" = 0 ] || return 1
	kill -TERM "$WPID"
	wait "$WPID"
	[ "$out" = "FAILURE TimeLimitExceeded" ]
}
check "hard limit: child killed, FAILURE TimeLimitExceeded, worker exits 0" hard_limit

crash() {
	lock_auditlog || return 1
	# A real SIGSEGV, as in production: under ASan the child would catch it and exit with a
	# sanitizer report instead of dying of the signal.
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:handle_segv=0" start_worker crash -c 1 -Q cq || return 1
	id=$(c send maintenance.logs '{"database": "pg"}' cq) || return 1
	wait_until 20 someone_waits || return 1
	child=$(pgrep -P "$WPID" | head -1)
	[ -n "$child" ] || { echo "# no child process"; return 1; }
	kill -SEGV "$child"
	out=$(c wait "$id" 30)
	unlock_auditlog
	echo "# $out"
	again=$(c send celery.accumulate '{}' cq)
	[ "$out" = "FAILURE WorkerLostError" ] && [ "$(c wait "$again" 20)" = SUCCESS ] &&
		kill -TERM "$WPID" && wait "$WPID"
}
check "crashed child with early ack: FAILURE WorkerLostError, worker continues" crash

# acks_late: a crashed task's message is redelivered once and runs again; crashing again, it
# is a poison message: FAILURE WorkerLostError instead of a crash loop.
crash_late() {
	lock_auditlog || return 1
	ASAN_OPTIONS="${ASAN_OPTIONS:-}:handle_segv=0" start_worker crashl -c 1 -Q clq --acks-late \
		|| return 1
	id=$(c send maintenance.logs '{"database": "pg"}' clq) || return 1
	for round in 1 2; do
		wait_until 20 someone_waits || { echo "# round $round never reached the database"; return 1; }
		child=$(pgrep -P "$WPID" | head -1)
		[ -n "$child" ] || { echo "# no child process"; return 1; }
		kill -SEGV "$child"
		if [ "$round" = 1 ]; then
			wait_until 20 grep -q "\[$id\] received" "$HARNESS_DIR/wcrashl.log" || return 1
			c meta "$id" | grep -q '^PENDING' || { echo "# a result was stored"; return 1; }
			wait_until 20 sh -c "[ \$(grep -c '\[$id\] received' '$HARNESS_DIR/wcrashl.log') = 2 ]" \
				|| { echo "# not redelivered"; return 1; }
		fi
	done
	out=$(c wait "$id" 30)
	unlock_auditlog
	echo "# $out"
	[ "$out" = "FAILURE WorkerLostError" ] && [ "$(redis-cli -p "$REDIS_PORT" hlen unacked)" = 0 ] &&
		[ "$(redis-cli -p "$REDIS_PORT" llen clq)" = 0 ] && kill -TERM "$WPID" && wait "$WPID"
}
check "crashed child with acks_late: redelivered once, then FAILURE WorkerLostError" crash_late

retries() {
	id=$(c send maintenance.logs '{"database": "down"}' lq) || return 1
	out=$(c wait "$id" 40)
	echo "# $out"
	[ "$out" = "FAILURE MaintenanceError" ] &&
		[ "$(grep -c "\[$id\] retry: Retry in 1s" "$HARNESS_DIR/wlim.log")" = 1 ]
}
check "transient error: one retry (retries+1, eta), then FAILURE" retries

eta_held() {
	start_worker eta -c 1 -Q eq --visibility-timeout 2 || return 1
	id=$(c send celery.accumulate '{}' eq 5) || return 1
	wait_until 10 grep -q "\[$id\] received" "$HARNESS_DIR/weta.log" || return 1
	# 3 s after receipt the delivery is older than the visibility timeout (2 s) but still
	# held (countdown 5 s): its score must have been refreshed, so no restorer would see it.
	t0=$(date +%s)
	wait_until 10 sh -c "[ \$(date +%s) -ge $((t0 + 3)) ]" || return 1
	[ "$(redis-cli -p "$REDIS_PORT" zcard unacked_index)" = 1 ] || { echo "# not held"; return 1; }
	[ "$(redis-cli -p "$REDIS_PORT" zcount unacked_index -inf $(($(date +%s) - 2)))" = 0 ] \
		|| { echo "# stale unacked_index score"; return 1; }
	out=$(c wait "$id" 20)
	n=$(grep -c "\[$id\] succeeded" "$HARNESS_DIR/weta.log")
	echo "# $out, ran $n time(s)"
	kill -TERM "$WPID"
	wait "$WPID" && [ "$out" = SUCCESS ] && [ "$n" = 1 ] &&
		[ "$(redis-cli -p "$REDIS_PORT" hlen unacked)" = 0 ]
}
check "ETA beyond the visibility timeout: score kept fresh, runs once" eta_held

cold() {
	lock_auditlog || return 1
	start_worker cold -c 1 -Q kq --acks-late || return 1
	pid=$WPID
	id=$(c send maintenance.logs '{"database": "pg"}' kq) || return 1
	wait_until 20 someone_waits || return 1
	kill -TERM "$pid"
	kill -QUIT "$pid"
	wait_until 10 sh -c "! { [ -r /proc/$pid/stat ] && ! grep -q ') Z ' /proc/$pid/stat; }" \
		|| { echo "# cold shutdown did not exit"; return 1; }
	wait "$pid"
	unlock_auditlog
	echo "# queue kq: $(redis-cli -p "$REDIS_PORT" llen kq), unacked: $(redis-cli -p "$REDIS_PORT" hlen unacked)"
	[ "$(redis-cli -p "$REDIS_PORT" llen kq)" = 1 ] &&
		[ "$(redis-cli -p "$REDIS_PORT" hlen unacked)" = 0 ] &&
		c meta "$id" | grep -q '^PENDING'
}
check "TERM then QUIT (cold) with acks_late: exits at once, message back in its queue" cold

kill -TERM "$LIM"
wait "$LIM"
check "worker lim exits 0 on SIGTERM" [ $? = 0 ]
echo "# $PASS passed, $FAILED failed"
[ "$FAILED" = 0 ]

#!/bin/bash
# SPDX-License-Identifier: MIT
# worker_redis_basic.sh - `janitor worker` on a real Redis and an SQLite database, driven by
# Debian's real Celery 5.2 client: accumulate, one operation with PROGRESS published during its
# batched delete, maintenance.run, an alias, countdown, expired (REVOKED), unknown task
# (NotRegistered, worker keeps going), chain with parent_id, link_error; then Redis state
# (bindings, unacked empty) and a warm shutdown by SIGTERM with exit status 0. Waits poll with
# deadlines.
. "$JANITOR_SRCDIR/tests/lib/harness.sh"
set -u

harness_need_celery
command -v sqlite3 >/dev/null 2>&1 || skip "sqlite3 CLI not installed"
harness_start_redis

DB="$HARNESS_DIR/app.sqlite3"
sqlite3 "$DB" <"$JANITOR_SRCDIR/tests/sql/django-sqlite.sql" \
	|| fail "loading the SQLite schema"
# 3000 expired sessions: maintenance.sessions deletes them in batches and reports progress.
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
	INSERT INTO django_session SELECT 'k' || i, 'x', '2001-01-01 00:00:00' FROM n" \
	|| fail "inserting sessions"
CONF="$HARNESS_DIR/janitor.conf"
cat >"$CONF" <<CONF
[worker]
concurrency = 2
result_extended = true
[databases]
default = sqlite:///$DB
[aliases]
core.tasks.database_maintenance = maintenance.run
CONF
LOG="$HARNESS_DIR/worker.log"
BACKEND="redis://127.0.0.1:$REDIS_PORT/1"

"$JANITOR" worker --config "$CONF" -b "$REDIS_URL" --result-backend "$BACKEND" -l info \
	-n "basic@%h" --acks-late --retry-delay 1 >"$LOG" 2>&1 &
WPID=$!
harness_at_exit "kill -KILL $WPID 2>/dev/null"
wait_until 20 grep -q 'ready\.' "$LOG" || { cat "$LOG" >&2; fail "worker not ready"; }

cat >"$HARNESS_DIR/client.py" <<'PY'
import sys, time, datetime
from celery import Celery, chain, signature
from celery.exceptions import NotRegistered, TaskRevokedError

broker, backend = sys.argv[1], sys.argv[2]
app = Celery("client", broker=broker, backend=backend)
passed = failed = 0

def check(what, cond):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what)

def raises(fn, exc_name):
    try:
        fn()
    except Exception as e:
        return type(e).__name__ == exc_name, repr(e)
    return False, "no exception"

r = app.send_task("celery.accumulate", args=[1, 2, 3])
check("celery.accumulate returns its args", r.get(timeout=30) == [1, 2, 3])
r = app.send_task("celery.accumulate", args=[7, 8], kwargs={"index": 1})
check("celery.accumulate index", r.get(timeout=30) == 8)

# Every state change is PUBLISHed on the task's channel: subscribe first, then watch them.
import uuid
tid = str(uuid.uuid4())
ps = app.backend.client.pubsub()
ps.subscribe("celery-task-meta-" + tid)
r = app.send_task("maintenance.sessions", kwargs={"sessions_batch": 500}, task_id=tid)
res = r.get(timeout=60)
states = []
deadline = time.time() + 10
while time.time() < deadline and "SUCCESS" not in [s for s, _ in states]:
    m = ps.get_message(timeout=1)
    if m and m["type"] == "message":
        import json
        meta = json.loads(m["data"])
        states.append((meta["status"], meta["result"]))
ps.close()
prog = [res_ for st, res_ in states if st == "PROGRESS"]
check("PROGRESS {current, total} published before SUCCESS: %r" % (prog[-1:],),
      prog and prog[-1] == {"current": 3000, "total": 3000} and states[-1][0] == "SUCCESS"
      and res.get("rows_deleted") == 3000)

r = app.send_task("maintenance.sessions", kwargs={"dry_run": True})
res = r.get(timeout=60)
check("maintenance.sessions dry run: %r" % (res,),
      isinstance(res, dict) and res.get("operation") == "sessions" and res.get("dry_run") is True)
# result_extended: a client with the same setting reads the request back from the result.
ext = Celery("ext", broker=broker, backend=backend)
ext.conf.result_extended = True
er = ext.AsyncResult(r.id)
check("result_extended: name, kwargs, worker, queue, retries %r" % (
      (er.name, er.kwargs, er.worker, er.queue, er.retries),),
      er.name == "maintenance.sessions" and er.kwargs == {"dry_run": True} and
      str(er.worker).startswith("basic@") and er.queue == "celery" and er.retries == 0)

r = app.send_task("core.tasks.database_maintenance", kwargs={"operations": ["sessions", "logs"]})
res = r.get(timeout=60)
check("alias -> maintenance.run: %r" % (sorted(res),),
      "metadata" in res and "sessions" in res and "logs" in res)

r = app.send_task("maintenance.run", args=[["sessions"]], kwargs={"dry_run": True})
res = r.get(timeout=60)
check("maintenance.run positional list", "sessions" in res and "logs" not in res)

r = app.send_task("maintenance.sessions", kwargs={"database": "nope"})
ok, why = raises(lambda: r.get(timeout=30), "MaintenanceError")
check("unknown database alias -> MaintenanceError (%s)" % why, ok and r.state == "FAILURE")

r = app.send_task("no.such.task", args=[1])
ok, why = raises(lambda: r.get(timeout=30), "NotRegistered")
check("unknown task -> NotRegistered (%s)" % why, ok)

t0 = time.time()
r = app.send_task("celery.accumulate", args=[5], countdown=2)
res = r.get(timeout=30)
check("countdown held until due (%.2fs)" % (time.time() - t0), res == [5] and time.time() - t0 >= 1.8)

past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
r = app.send_task("celery.accumulate", args=[1], expires=past)
ok, why = raises(lambda: r.get(timeout=30), "TaskRevokedError")
check("expired -> REVOKED (%s)" % why, ok and r.state == "REVOKED")

c = chain(signature("celery.accumulate", args=[1], app=app),
          signature("celery.accumulate", args=[2], app=app)).apply_async()
res = c.get(timeout=30)
meta = app.backend.get_task_meta(c.id)
check("chain: second gets the first's result %r" % (res,), res == [[1], 2])
check("chain: parent_id of the second is the first",
      c.parent is not None and meta.get("parent_id") == c.parent.id)

eb = signature("celery.accumulate", app=app)
eb.freeze()
r = app.send_task("maintenance.sessions", kwargs={"database": "nope"}, link_error=eb)
raises(lambda: r.get(timeout=30), "MaintenanceError")
res = app.AsyncResult(eb.id).get(timeout=30)
check("link_error gets (task_id,) %r" % (res,), res == [r.id])

print("# client: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
"$PYTHON3" "$HARNESS_DIR/client.py" "$REDIS_URL" "$BACKEND"
rc=$?
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
[ "$rc" = 0 ] || { tail -30 "$LOG" >&2; fail "client checks failed"; }
grep -q 'Task celery.accumulate\[.*\] received' "$LOG" || fail "no 'received' log line"
grep -q 'Task celery.accumulate\[.*\] succeeded in ' "$LOG" || fail "no 'succeeded' log line"
grep -q "Received unregistered task of type 'no.such.task'" "$LOG" || fail "no unregistered line"
[ "$(rcli sismember _kombu.binding.celery "$(printf 'celery\006\026\006\026celery')")" = 1 ] \
	|| fail "binding _kombu.binding.celery not declared as kombu does"
wait_until 10 sh -c "[ \"\$(redis-cli -p $REDIS_PORT hlen unacked)\" = 0 ]" || fail "unacked not empty"
[ "$(rcli zcard unacked_index)" = 0 ] || fail "unacked_index not empty"
kill -TERM "$WPID"
wait "$WPID"
wrc=$?
[ "$wrc" = 0 ] || { tail -20 "$LOG" >&2; fail "warm shutdown exit status $wrc"; }
echo "ok - worker_redis_basic"

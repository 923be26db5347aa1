#!/bin/bash
# SPDX-License-Identifier: MIT
# interop_mixed.sh - janitor beside real Python Celery processes on one Redis: `janitor call`
# run by a Python `celery worker` (proves our encoding), a Python worker and janitor sharing one
# queue (each message runs once), and `celery beat` with a one-second schedule driving janitor.
. "$JANITOR_SRCDIR/tests/lib/harness.sh"
. "$JANITOR_SRCDIR/tests/integration/celery_app/lib.sh"

harness_start_redis
jt_init

SHARED=$(jt_sqlite shared)
BEATDB=$(jt_sqlite beat)
export JT_DB_default="$SHARED" JT_DB_beat="$BEATDB" JT_SQLITE="$SHARED"

# 1. janitor call -> Python worker (no janitor worker on these queues).
jt_pyworker py -c 2 -Q shared,pyonly
jt_check "Python celery worker is up" jt ping pyonly 90 || { jt_done; exit 1; }

# The envelope janitor call publishes, next to the one `celery call` published (the fixture).
call_shape() {
	local id
	id=$("$JANITOR" call maintenance.stats -k '{"dry_run": true}' --queue shape) || return 1
	"$PYTHON3" - "$id" "$REDIS_URL" "$JT_DIR/celery-call-envelope.json" <<'EOF'
import base64, json, os, socket, sys, redis
task_id, url, fixture = sys.argv[1:]
items = redis.Redis.from_url(url).lrange("shape", 0, -1)
assert len(items) == 1, items
got, want = json.loads(items[0]), json.load(open(fixture))
assert list(got) == list(want), ("envelope keys", list(got), list(want))
assert list(got["headers"]) == list(want["headers"]), ("header order", list(got["headers"]))
assert list(got["properties"]) == list(want["properties"]), ("property order", list(got["properties"]))
h, p = got["headers"], got["properties"]
for k in ("lang", "task", "shadow", "eta", "expires", "group", "group_index", "retries",
          "timelimit", "parent_id", "argsrepr", "kwargsrepr", "ignore_result"):
    assert h[k] == want["headers"][k], (k, h[k], want["headers"][k])
assert h["id"] == task_id and h["root_id"] == task_id and p["correlation_id"] == task_id, h
assert h["origin"].startswith("gen") and "@" in h["origin"], h["origin"]
for k in ("content-encoding", "content-type"):
    assert got[k] == want[k], k
for k in ("delivery_mode", "priority", "body_encoding"):
    assert p[k] == want["properties"][k], (k, p[k])
assert p["delivery_info"] == {"exchange": "", "routing_key": "shape"}, p["delivery_info"]
assert len(p["delivery_tag"]) == 36 and len(p["reply_to"]) == 36, p
assert json.loads(base64.b64decode(got["body"])) == json.loads(base64.b64decode(want["body"]))
members = redis.Redis.from_url(url).smembers("_kombu.binding.shape")
assert members == {b"shape\x06\x16\x06\x16shape"}, members
print("# janitor call's envelope matches celery call's")
EOF
}
jt_check "janitor call publishes what celery call publishes" call_shape

# jt.echo returns what the Python worker decoded from our message.
echo_check() { # EXPR ARGS... : run janitor call jt.echo ARGS, evaluate EXPR on the result r
	local expr=$1 out
	shift
	out=$("$JANITOR" call jt.echo --queue pyonly --wait 60 "$@") || return 1
	printf '%s\n' "$out" | sed 1d | "$PYTHON3" -c "
import datetime, json, sys
r = json.load(sys.stdin)
print('# ' + json.dumps(r)[:400])
sys.exit(0 if ($expr) else 1)"
}
jt_check "janitor call -> Python worker: args, kwargs, ids, argsrepr" echo_check \
	'r["args"] == [2, 3] and r["kwargs"] == {"x": "y"} and r["root_id"] == r["id"] and r["parent_id"] is None and r["argsrepr"] == "[2, 3]" and r["kwargsrepr"] == "{'"'x'"': '"'y'"'}" and r["retries"] == 0 and r["delivery_info"]["routing_key"] == "pyonly"' \
	-a '[2, 3]' -k '{"x": "y"}'
jt_check "janitor call --serializer msgpack -> Python worker" echo_check \
	'r["args"] == ["ü", 1.5, None, True] and r["kwargs"] == {"k": [1, {"n": None}]}' \
	--serializer msgpack -a '["ü", 1.5, null, true]' -k '{"k": [1, {"n": null}]}'
jt_check "janitor call --countdown: the Python worker holds it until the eta" echo_check \
	'r["eta"] is not None and datetime.datetime.now(datetime.timezone.utc) >= datetime.datetime.fromisoformat(r["eta"])' \
	--countdown 2
jt_check "janitor call --eta ISO" echo_check \
	'r["eta"] is not None and r["eta"].startswith("2001-02-03T04:05:06")' --eta 2001-02-03T04:05:06+00:00
jt_check "janitor call --expires seconds" echo_check \
	'r["expires"] is not None and datetime.datetime.fromisoformat(r["expires"]) > datetime.datetime.now(datetime.timezone.utc)' \
	--expires 120
expired_call() {
	local out rc
	out=$("$JANITOR" call jt.echo --queue pyonly --expires 2001-01-01T00:00:00+00:00 --wait 60 2>&1)
	rc=$?
	echo "# $out" | tail -2
	[ "$rc" = 1 ] && printf '%s\n' "$out" | grep -q '^TaskRevokedError: expired'
}
jt_check "janitor call --expires in the past: Python revokes it, exit 1" expired_call
failing_call() {
	local out rc
	out=$("$JANITOR" call jt.fail -a '["boom"]' --queue pyonly --wait 60 2>/dev/null)
	rc=$?
	[ "$rc" = 1 ] && printf '%s\n' "$out" | grep -qx 'ValueError: boom'
}
jt_check "janitor call --wait on a Python FAILURE: 'ValueError: boom', exit 1" failing_call
timeout_call() {
	local out rc
	out=$("$JANITOR" call jt.echo --queue nobody --wait 1 2>&1)
	rc=$?
	echo "# $out" | tail -1
	[ "$rc" != 0 ] && printf '%s\n' "$out" | grep -qi 'timed out'
}
jt_check "janitor call --wait 1 with no consumer times out, non-zero" timeout_call
usage_call() { "$JANITOR" call "$@" >/dev/null 2>&1; [ $? = 2 ]; }
jt_check "janitor call without a task name is a usage error (2)" usage_call
jt_check "janitor call -a with a JSON object is a usage error (2)" usage_call t -a '{"x": 1}'
jt_check "janitor call -k with a JSON list is a usage error (2)" usage_call t -k '[1]'
jt_check "janitor call --countdown with --eta is a usage error (2)" usage_call t --countdown 1 \
	--eta 2030-01-01T00:00:00
jt_check "janitor call --eta that is no time is a usage error (2)" usage_call t --eta tomorrow
jt_check "janitor call --serializer pickle is refused (2)" usage_call t --serializer pickle
no_backend_call() { env -u CELERY_RESULT_BACKEND "$JANITOR" call t --wait 1 >/dev/null 2>&1; [ $? = 2 ]; }
jt_check "janitor call --wait without a result backend is a usage error (2)" no_backend_call

# 2. A Python worker and janitor share the queue "shared".
jt_worker jan -c 2 -Q shared,jonly,celery --database "default=sqlite:///$SHARED" \
	--database "beat=sqlite:///$BEATDB"
jt_check "janitor worker is up" jt ping jonly 60
jt_check "Python worker + janitor on one queue: each message runs once" jt shared shared default 60

# 3. celery beat, one-second schedule, sending maintenance.stats to the queue only janitor reads.
(cd "$JT_DIR" && JT_BEAT_DB=beat JT_BEAT_QUEUE=jonly exec "$PYTHON3" -m celery -A jtapp beat \
	-s "$HARNESS_DIR/beat-schedule" --pidfile= -l info) >"$HARNESS_DIR/logs/beat.log" 2>&1 &
BEAT_PID=$!
harness_at_exit "jt_stop_pid $BEAT_PID TERM"
jt_check "celery beat drives janitor: 4 beats, each a logged execution" jt beat beat 4 40
jt_stop_pid "$BEAT_PID" TERM

jt_check "janitor worker exits 0 on SIGTERM" jt_stop jan TERM
jt_check "Python worker exits 0 on SIGTERM" jt_stop py TERM
jt_done

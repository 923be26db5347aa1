#!/bin/bash
# SPDX-License-Identifier: MIT
# interop_redis.sh - the real Python Celery 5.2 client drives `janitor worker` over Redis with
# a Redis result backend, on PostgreSQL and SQLite: every operation through send_task/get,
# `celery call`, protocol 1, msgpack, countdown, expiry, priorities, a chain, link_error, an
# unknown task, and `janitor call --wait` against janitor itself.
. "$JANITOR_SRCDIR/tests/lib/harness.sh"
. "$JANITOR_SRCDIR/tests/integration/celery_app/lib.sh"

harness_start_redis
harness_start_postgres
jt_init

PG_URL=$(jt_pg jt_main)
LITE=$(jt_sqlite lite)
PRIO=$(jt_sqlite prio)
export JT_DB_pg="$PG_URL" JT_DB_lite="$LITE" JT_DB_prio="$PRIO"
jt seed pg >/dev/null || fail "seeding PostgreSQL"
jt seed lite >/dev/null || fail "seeding SQLite"

jt_worker main -c 2 --database "pg=$PG_URL" --database "lite=sqlite:///$LITE" \
	--database "prio=sqlite:///$PRIO"
jt_check "janitor worker answers celery.accumulate" jt ping celery 60 || { jt_done; exit 1; }

jt_check "every operation on PostgreSQL via send_task().get()" jt ops pg pg
jt_check "every operation on SQLite via send_task().get()" jt ops lite sqlite
jt_check "celery -A jtapp call" jt cli_call lite
jt_check "protocol 1 messages" jt protocol1 lite
jt_check "msgpack messages" jt msgpack lite
jt_check "countdown is not run before it is due" jt countdown lite
jt_check "expired message is REVOKED and not run" jt expired lite
jt_check "chain of two maintenance tasks (parent_id)" jt chain lite
jt_check "link_error on a failing task" jt link_error lite
jt_check "unknown task: FAILURE NotRegistered, worker keeps going" jt unknown

# Priorities: publish into a queue with no consumer, then start a one-at-a-time worker on it.
jt_check "priority messages land in kombu's priority lists" \
	jt priority_send prio prio "$HARNESS_DIR/prio.json"
jt_worker prio -c 1 --prefetch-multiplier 1 -Q prio --database "prio=sqlite:///$PRIO"
jt_check "priority order 0, 5, 9 (Redis: lower number first)" \
	jt priority_check prio "$HARNESS_DIR/prio.json"

call_wait() {
	local out rc
	out=$("$JANITOR" call maintenance.stats -k '{"database": "lite"}' --wait 60) || return 1
	printf '%s\n' "$out" | sed -n 1p | grep -Eq '^[0-9a-f-]{36}$' || return 1
	printf '%s\n' "$out" | sed 1d | "$PYTHON3" -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if r["operation"] == "stats" and r["status"] == "completed" else 1)'
}
call_fail() {
	local out rc
	out=$("$JANITOR" call maintenance.stats -k '{"database": "lite", "no_such_option": 1}' \
		--wait 60 2>/dev/null)
	rc=$?
	[ "$rc" = 1 ] && printf '%s\n' "$out" | sed 1d | grep -q '^[A-Za-z_.]*: .'
}
jt_check "janitor call --wait prints the result (exit 0)" call_wait
jt_check "janitor call --wait on a FAILURE prints exc_type: exc_message (exit 1)" call_fail

jt_check "janitor worker still running" jt_alive "$(jt_pid main)"
jt_check "SIGTERM: janitor worker exits 0" jt_stop main TERM
jt_done

#!/bin/bash
# SPDX-License-Identifier: MIT
# interop_resilience.sh - janitor workers under stress on Redis + PostgreSQL: three workers and
# simultaneous vacuums (the cross-worker lock), `kill -9` during an acks_late task (restored
# after the visibility timeout and run), SIGTERM during a long operation (it finishes, the result
# is stored, exit 0, nothing new taken), an ETA held past the visibility timeout while kombu
# restores (runs once), and Redis restarted under a running worker.
# A "long operation" is maintenance.logs waiting on a table lock this script holds.
. "$JANITOR_SRCDIR/tests/lib/harness.sh"
. "$JANITOR_SRCDIR/tests/integration/celery_app/lib.sh"

harness_start_redis
harness_start_postgres
jt_init

PG_URL=$(jt_pg jt_res)
export JT_DB_pg="$PG_URL"
jt seed pg >/dev/null || fail "seeding PostgreSQL"
# Dead tuples, so that a VACUUM takes long enough for the workers to overlap.
psql -q -v ON_ERROR_STOP=1 -d "$PG_URL" -c "CREATE TABLE jt_bloat AS SELECT g AS id,
	md5(g::text) AS pad FROM generate_series(1, 400000) g; DELETE FROM jt_bloat WHERE id % 2 = 0;" \
	|| fail "creating jt_bloat"

# ---- three workers, three vacuums at once ---------------------------------------------------
for i in 1 2 3; do
	jt_worker "v$i" -c 1 --prefetch-multiplier 1 -Q "vac,v$i" --database "pg=$PG_URL"
done
for i in 1 2 3; do
	jt_check "vacuum worker v$i is up" jt ping "v$i" 60
done
jt_check "3 workers, 3 vacuums at once: one at a time (cross-worker lock)" jt vacuum_lock vac pg 3
for i in 1 2 3; do jt_check "vacuum worker v$i exits 0 on SIGTERM" jt_stop "v$i" TERM; done

# ---- a table lock makes maintenance.logs wait ------------------------------------------------
LOCKER_PID=
lock_auditlog() {
	PGAPPNAME=jt_locker psql -q -d "$PG_URL" -c "BEGIN; LOCK TABLE core_auditlog IN ACCESS
		EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;" >/dev/null 2>&1 &
	LOCKER_PID=$!
	harness_at_exit "kill $LOCKER_PID 2>/dev/null"
	wait_until 20 sh -c "psql -At -d '$PG_URL' -c \"SELECT count(*) FROM pg_locks l JOIN
		pg_stat_activity a USING (pid) WHERE a.application_name = 'jt_locker' AND l.granted
		AND l.mode = 'AccessExclusiveLock' AND l.relation = 'core_auditlog'::regclass\" | grep -qx 1"
}
unlock_auditlog() {
	psql -q -d "$PG_URL" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE
		application_name = 'jt_locker'" >/dev/null
	wait "$LOCKER_PID" 2>/dev/null
	return 0
}
someone_waits_on_lock() {
	psql -At -d "$PG_URL" -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type =
		'Lock' AND application_name <> 'jt_locker'" | grep -qx 1
}
unacked_count() { redis-cli -p "$REDIS_PORT" hlen unacked; }
old_audit_rows() {
	psql -q -d "$PG_URL" -c "INSERT INTO core_auditlog (timestamp, actor, action, object_type,
		object_id, changes) SELECT now() - interval '200 days', 'jt', 'a', 'o', g::text, '{}'
		FROM generate_series(1, $1) g" >/dev/null
}

# ---- kill -9 during an acks_late task ---------------------------------------------------------
kill9_scenario() {
	local id
	lock_auditlog || { echo "# could not take the table lock"; return 1; }
	# Per-task acks_late (--acks-late-tasks), as Celery's task attribute; k2 uses the global flag.
	jt_worker k1 -c 1 -Q kq --acks-late-tasks maintenance.logs --visibility-timeout 3 \
		--database "pg=$PG_URL"
	id=$(jt send maintenance.logs '{"database": "pg"}' kq) || return 1
	wait_until 30 someone_waits_on_lock || { echo "# the task never reached the database"; return 1; }
	[ "$(unacked_count)" = 1 ] || { echo "# acks_late: expected 1 unacked message"; return 1; }
	kill -9 "$(jt_pid k1)"
	wait "$(jt_pid k1)" 2>/dev/null
	unlock_auditlog
	jt pending "$id" || return 1
	# Start the next worker once the delivery is older than the visibility timeout.
	wait_until 20 sh -c "[ \$(redis-cli -p $REDIS_PORT zcount unacked_index -inf \
		\$(( \$(date +%s) - 4 ))) -ge 1 ]" || { echo "# the delivery left unacked_index"; return 1; }
	jt_worker k2 -c 1 -Q kq --acks-late --visibility-timeout 3 --database "pg=$PG_URL"
	jt expect "$id" SUCCESS 60 || return 1
	psql -At -d "$PG_URL" -c "SELECT count(*) FROM core_auditlog WHERE timestamp < now() -
		interval '90 days'" | grep -qx 0 || { echo "# old audit rows still there"; return 1; }
	wait_until 10 sh -c "[ \$(redis-cli -p $REDIS_PORT hlen unacked) = 0 ]" \
		|| { echo "# the restored message was never acked"; return 1; }
	jt_stop k2 TERM
}
jt_check "kill -9 during an acks_late task: restored after the visibility timeout, runs" \
	kill9_scenario

# ---- SIGTERM during a long operation ---------------------------------------------------------
sigterm_scenario() {
	local id next pid rc
	old_audit_rows 3
	lock_auditlog || return 1
	jt_worker s1 -c 1 --prefetch-multiplier 1 -Q sq --database "pg=$PG_URL"
	pid=$(jt_pid s1)
	jt ping sq 60 >/dev/null || return 1
	id=$(jt send maintenance.logs '{"database": "pg"}' sq) || return 1
	wait_until 30 someone_waits_on_lock || { echo "# the task never reached the database"; return 1; }
	kill -TERM "$pid"
	# Warm shutdown: the worker must still be there while its operation is blocked.
	if wait_until 1 sh -c "! { [ -r /proc/$pid/stat ] && ! grep -q ') Z ' /proc/$pid/stat; }"; then echo "# exited with a task running"; return 1; fi
	next=$(jt send celery.accumulate '{}' sq) || return 1
	unlock_auditlog
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] || { echo "# exit status $rc"; return 1; }
	jt expect "$id" SUCCESS 10 || return 1
	jt pending "$next" || return 1
	[ "$(redis-cli -p "$REDIS_PORT" llen sq)" = 1 ] || { echo "# the queued message was taken"; return 1; }
}
jt_check "SIGTERM during a long operation: finishes, result stored, exit 0" sigterm_scenario

# ---- an ETA beyond the visibility timeout is held, not restored and run twice --------------
jt_worker e1 -c 1 -Q eq --visibility-timeout 2 --database "pg=$PG_URL"
jt_check "worker e1 is up" jt ping eq 60
jt_check "ETA beyond the visibility timeout, kombu restoring meanwhile: runs once" \
	env JT_VISIBILITY=2 "$PYTHON3" "$JT_DIR/jt.py" eta_held pg eq 6
jt_check "worker e1 exits 0 on SIGTERM" jt_stop e1 TERM

# ---- Redis restarted under a running worker --------------------------------------------------
jt_worker r1 -c 2 -Q rq --database "pg=$PG_URL"
jt_check "worker r1 is up" jt ping rq 60
jt_check "20 tasks before the restart" jt batch rq 20 before
harness_restart_redis
jt_check "20 tasks after Redis restarted: all complete" jt batch rq 20 after
jt_check "worker r1 survived the restart" jt_alive "$(jt_pid r1)"
jt_check "worker r1 exits 0 on SIGTERM" jt_stop r1 TERM
jt_done

# SPDX-License-Identifier: MIT
# lib.sh - sourced by tests/integration/interop_*.sh after tests/lib/harness.sh: databases
# with the Django schema, janitor and Python Celery workers started and registered for cleanup,
# and a scenario runner that keeps going after a failure and fails the script at the end.
#
#   jt_init                    Celery importable, janitor built; exports JT_BROKER, JT_BACKEND
#   jt_sqlite NAME             an SQLite file with the Django schema; prints its path
#   jt_pg NAME                 a PostgreSQL database with the Django schema; prints its URL
#   jt_worker NAME ARGS...     start `janitor worker` (node NAME@%h); pid in $HARNESS_DIR/NAME.pid
#   jt_pyworker NAME ARGS...   start a Python `celery -A jtapp worker`
#   jt_stop NAME [SIGNAL]      signal a worker we started, wait; true if it exited 0
#   jt_alive PID               the process exists and is not a zombie
#   jt SCENARIO ARGS...        run celery_app/jt.py
#   jt_check WHAT CMD...       run CMD as one check: "ok - WHAT" or "not ok - WHAT"
#   jt_done                    summary; exit 1 if any check failed

JT_DIR="$JANITOR_SRCDIR/tests/integration/celery_app"
JT_PASS=0
JT_FAIL=0
JT_FAILED=""

jt_init() {
	harness_need_celery
	[ -x "$JANITOR" ] || fail "janitor binary not found at $JANITOR"
	"$JANITOR" worker --help >/dev/null 2>&1 || fail "\`janitor worker --help\` fails: the worker is not built"
	command -v sqlite3 >/dev/null 2>&1 || skip "sqlite3 CLI not installed"
	mkdir -p "$HARNESS_DIR/logs"
	export PYTHONPATH="$JT_DIR${PYTHONPATH:+:$PYTHONPATH}"
	export JT_BROKER="$REDIS_URL" JT_BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
	export CELERY_BROKER_URL="$JT_BROKER" CELERY_RESULT_BACKEND="$JT_BACKEND"
}

jt() { "$PYTHON3" "$JT_DIR/jt.py" "$@"; }

jt_sqlite() {
	local f="$HARNESS_DIR/$1.sqlite3"
	sqlite3 "$f" <"$JANITOR_SRCDIR/tests/sql/django-sqlite.sql" || fail "loading the SQLite schema into $f"
	echo "$f"
}

jt_pg() {
	local url
	url=$(harness_createdb "$1") || exit 1
	psql -q -v ON_ERROR_STOP=1 -d "$url" -f "$JANITOR_SRCDIR/tests/sql/django-postgres.sql" >/dev/null \
		|| fail "loading the PostgreSQL schema into $1"
	echo "$url"
}

# A process that exists and is not a zombie (kill -0 succeeds on zombies).
jt_alive() { [ -r "/proc/$1/stat" ] && ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null; }

jt_stop_pid() {
	local pid=$1 sig=${2:-TERM}
	jt_alive "$pid" || return 0
	kill -"$sig" "$pid" 2>/dev/null
	wait_until 30 sh -c "! { [ -r /proc/$pid/stat ] && ! grep -q ') Z ' /proc/$pid/stat; }" \
		|| { kill -KILL "$pid" 2>/dev/null; return 1; }
}

jt_worker() {
	local name=$1
	shift
	"$JANITOR" worker -b "$JT_BROKER" --result-backend "$JT_BACKEND" -n "$name@%h" -l info "$@" \
		>"$HARNESS_DIR/logs/$name.log" 2>&1 &
	echo $! >"$HARNESS_DIR/$name.pid"
	harness_at_exit "jt_stop_pid $! KILL"
}

jt_pyworker() {
	local name=$1
	shift
	(cd "$JT_DIR" && exec "$PYTHON3" -m celery -A jtapp worker -n "$name@%h" -l info \
		--pool prefork "$@") >"$HARNESS_DIR/logs/$name.log" 2>&1 &
	echo $! >"$HARNESS_DIR/$name.pid"
	harness_at_exit "jt_stop_pid $! TERM"
}

jt_pid() { cat "$HARNESS_DIR/$1.pid"; }

# Send SIGNAL (TERM) and wait for the exit (not in a subshell: only the parent can wait).
# Succeeds when the exit status is 0; JT_RC holds it.
jt_stop() {
	local pid
	pid=$(jt_pid "$1")
	kill -"${2:-TERM}" "$pid" 2>/dev/null || { JT_RC=255; return 1; }
	wait "$pid"
	JT_RC=$?
	[ "$JT_RC" = 0 ] || echo "# $1 exited with status $JT_RC"
	[ "$JT_RC" = 0 ]
}

jt_check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		JT_PASS=$((JT_PASS + 1))
	else
		echo "not ok - $what"
		JT_FAIL=$((JT_FAIL + 1))
		JT_FAILED="$JT_FAILED
  $what"
		for f in "$HARNESS_DIR"/logs/*.log; do
			[ -s "$f" ] || continue
			echo "# --- last lines of $(basename "$f")"
			tail -n 15 "$f" | sed 's/^/#   /'
		done
	fi
}

jt_done() {
	echo "# $JT_PASS passed, $JT_FAIL failed$JT_FAILED"
	[ "$JT_FAIL" = 0 ] || exit 1
}

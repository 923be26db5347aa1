#!/bin/bash
# SPDX-License-Identifier: MIT
# demo.sh - the README's first command: install what is missing, build, start a private Redis
# on loopback, create a demo SQLite database, run `janitor worker` on it, send it every
# maintenance task with `janitor call --wait` and show each result, then stop everything.
#
#   tools/demo.sh            (JANITOR=path/to/janitor skips the install and the build)
#
# Nothing is left behind: Redis, the worker and the database live in one temporary directory
# removed at exit (HARNESS_KEEP=1 keeps it when something failed).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${JANITOR:-}" ]; then
	"$top/tools/install-deps.sh" || exit 1
	build=${JANITOR_BUILD_DIR:-$top/_build-demo}
	[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1) || exit 1
	mkdir -p "$build" || exit 1
	if [ ! -f "$build/Makefile" ]; then
		(cd "$build" && "$top/configure" -q) || exit 1
	fi
	echo "building janitor in $build ..."
	make -C "$build" -j2 janitor >/dev/null || exit 1
	JANITOR="$build/janitor"
fi
export JANITOR JANITOR_SRCDIR="$top"
. "$top/tests/lib/harness.sh"

harness_start_redis
BROKER="$REDIS_URL"
BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
DB="$HARNESS_DIR/demo.sqlite3"

echo "== demo database $DB"
"$JANITOR" run --demo-db "$DB" --operation stats --dry-run >/dev/null || fail "creating the demo database"

# One configuration file, as in production (deploy/janitor.conf.example): the database by
# alias, and backups into this demo's directory.
cat >"$HARNESS_DIR/janitor.conf" <<CONF
[worker]
concurrency = 2
loglevel = INFO
[databases]
default = sqlite:///$DB
[maintenance]
backup_dir = $HARNESS_DIR/backups
backup_keep = 3
CONF

echo "== janitor worker on redis://127.0.0.1:$REDIS_PORT (log: $HARNESS_DIR/worker.log)"
"$JANITOR" worker --config "$HARNESS_DIR/janitor.conf" -b "$BROKER" --result-backend "$BACKEND" \
	-n "demo@%h" >"$HARNESS_DIR/worker.log" 2>&1 &
WORKER=$!
harness_at_exit "kill -9 $WORKER 2>/dev/null"
call() { "$JANITOR" call -b "$BROKER" --result-backend "$BACKEND" "$@"; }
wait_until 30 call celery.accumulate -a '["ping"]' --wait 2 || {
	tail -n 20 "$HARNESS_DIR/worker.log" >&2
	fail "the worker did not answer"
}

failed=0
for task in vacuum reindex cleanup logs sessions views stats bloat backup; do
	echo
	echo "== janitor call maintenance.$task --wait"
	call "maintenance.$task" --wait 300 || failed=$((failed + 1))
done
echo
echo "== backups written by maintenance.backup (mode 0600)"
ls -l "$HARNESS_DIR/backups"
echo
echo "== janitor call maintenance.run -k '{\"all\": true, \"dry_run\": true}' --wait"
call maintenance.run -k '{"all": true, "dry_run": true}' --wait 300 || failed=$((failed + 1))
echo
echo "== janitor call maintenance.report --wait"
call maintenance.report --wait 300 || failed=$((failed + 1))

echo
echo "== execution log (core_taskexecutionlog)"
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 -header -column "$DB" "SELECT id, task_id, status, dry_run, duration_seconds,
		worker_hostname FROM core_taskexecutionlog WHERE worker_hostname LIKE 'demo@%' ORDER BY id"
fi

echo
echo "== stopping the worker (SIGTERM: warm shutdown)"
kill -TERM "$WORKER"
wait "$WORKER"
rc=$?
[ "$rc" = 0 ] || { echo "worker exited with status $rc" >&2; failed=$((failed + 1)); }
echo "== done: $failed task(s) failed"
[ "$failed" = 0 ]

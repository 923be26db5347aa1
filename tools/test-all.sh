#!/bin/sh
# test-all.sh - the README's test command: install what is missing, build with AddressSanitizer
# and UBSan, run every test (unit suites, integration against real PostgreSQL, Redis, RabbitMQ
# and Python Celery started on loopback by the tests themselves), then the fuzzers briefly.
# A test that cannot find its server fails instead of skipping (JANITOR_SKIP_IS_FAIL=1).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${JANITOR_BUILD_DIR:-$top/_build}
fuzz_seconds=${JANITOR_FUZZ_SECONDS:-60}

"$top/tools/install-deps.sh"
(cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
cd "$build"
"$top/configure" --enable-sanitizers -q
make -j2 >/dev/null

status=0
san="$build/sanitizer-reports"
rm -rf "$san" && mkdir -p "$san"
JANITOR_SANITIZER_LOG="$san" JANITOR_SKIP_IS_FAIL=1 make -j2 check 2>&1 | tee check.out || true
grep -q '^# FAIL: *0$' check.out && grep -q '^# ERROR: *0$' check.out || status=1
if [ -n "$(ls -A "$san")" ]; then
	echo "sanitizer reports from processes under test:"
	for f in "$san"/*; do echo "==== $f"; head -n 60 "$f"; done
	status=1
fi
passed=$(sed -n 's/^# PASS: *//p' check.out | tail -n 1)
failed=$(( $(sed -n 's/^# FAIL: *//p' check.out | tail -n 1) + $(sed -n 's/^# ERROR: *//p' check.out | tail -n 1) ))
if [ "$status" != 0 ]; then
	for f in $(find . -name '*.trs' -newer config.status); do
		grep -qE ':test-result: (FAIL|ERROR)' "$f" && { echo "==== ${f%.trs}.log"; tail -n 60 "${f%.trs}.log"; }
	done
fi

if [ "$status" = 0 ] && [ -x "$top/tests/fuzz/run-fuzz.sh" ] && [ "$fuzz_seconds" -gt 0 ]; then
	if "$top/tests/fuzz/run-fuzz.sh" "$fuzz_seconds"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1)); status=1
	fi
fi
echo "${passed:-0} passed, $failed failed"
exit "$status"

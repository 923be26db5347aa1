#!/bin/sh
# SPDX-License-Identifier: MIT
# Cross-check the protocol/ codec against the real Python Celery/kombu (Debian python3-celery):
# stored fixtures must not drift, fresh messages from an option matrix must decode as Celery
# reads them, and what we re-encode must be accepted and run by Celery's worker Request.
# Exit 77 (SKIP) without python3-celery, unless JANITOR_SKIP_IS_FAIL=1.
set -eu
srcdir=${JANITOR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${JANITOR_BUILDDIR:-.}
# The harness exports PYTHON3 (configure looks in /usr/bin first: Debian's python3-celery).
py=${PYTHON3:-/usr/bin/python3}

skip() {
	echo "SKIP: $*"
	if [ "${JANITOR_SKIP_IS_FAIL:-0}" = 1 ]; then
		exit 1
	fi
	exit 77
}

"$py" -c 'import celery, kombu, msgpack' 2>/dev/null || skip "python3-celery/kombu/msgpack not importable by $py"
dump="$builddir/tests/protocol/proto_dump"
[ -x "$dump" ] || { echo "FAIL: $dump not built"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
fx="$srcdir/tests/fixtures/protocol"
"$py" "$srcdir/tests/protocol/celery_expect.py" check "$dump" "$work" \
	"$fx"/redis-tasks/*.json "$fx"/amqp-tasks/*.json "$fx"/worker-published/*.json

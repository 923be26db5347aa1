#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: bench/bench-proto.sh [BUILDDIR] [SECONDS]
# protocol/ decode+encode rate (msgs/s, one core) of a typical v2 JSON task message and of the
# kombu Redis envelope, beside Python kombu's codec on the same bytes, with the ratio.
# Use a build WITHOUT --enable-sanitizers for meaningful numbers.
set -eu
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-.}
secs=${2:-2}
fixture="$srcdir/tests/fixtures/protocol/redis-tasks/v2-json-args-kwargs.json"
py=/usr/bin/python3
c_out=$(taskset -c 0 "$builddir/bench/bench_proto" "$fixture" "$secs" 2>/dev/null ||
	"$builddir/bench/bench_proto" "$fixture" "$secs")
py_out=$(taskset -c 0 "$py" "$srcdir/bench/bench_proto.py" "$fixture" "$secs" 2>/dev/null ||
	"$py" "$srcdir/bench/bench_proto.py" "$fixture" "$secs")
echo "fixture: $(basename "$fixture") ($(wc -c <"$fixture") bytes)"
printf '%-10s %14s %14s %8s\n' case "janitor msg/s" "kombu msg/s" ratio
for c in task envelope; do
	a=$(echo "$c_out" | awk -v c=$c '$1 == c { print $2 }')
	b=$(echo "$py_out" | awk -v c=$c '$1 == c { print $2 }')
	awk -v c=$c -v a="$a" -v b="$b" 'BEGIN { printf "%-10s %14d %14d %7.1fx\n", c, a, b, a / b }'
done

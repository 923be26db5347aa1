#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: tests/fuzz/run-fuzz.sh SECONDS
# Configure a clang libFuzzer build in a temporary directory, build the protocol/ fuzz targets
# with `make fuzz`, and run each for SECONDS on a scratch copy of its seed corpus. Fails on any
# crash, leak, sanitizer report or timeout; artifacts are kept in $FUZZ_ARTIFACTS (default: a
# directory printed at the end). Exits 77 (SKIP) when clang or its fuzzer runtime is missing,
# unless JANITOR_SKIP_IS_FAIL=1.
set -eu
secs=${1:-60}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-clang}
for c in "$cc" clang-14 clang; do
	if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
done

skip() {
	echo "SKIP: $*"
	[ "${JANITOR_SKIP_IS_FAIL:-0}" = 1 ] && exit 1
	exit 77
}

command -v "$cc" >/dev/null 2>&1 || skip "no clang"
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$probe/p.c"
"$cc" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null || { rm -rf "$probe"; skip "$cc has no libFuzzer runtime"; }
rm -rf "$probe"

[ -x "$srcdir/configure" ] || (cd "$srcdir" && ./autogen.sh)
build=$(mktemp -d)
art=${FUZZ_ARTIFACTS:-$build/artifacts}
mkdir -p "$art"
# Remove the build; keep $build only when it holds the artifacts (no FUZZ_ARTIFACTS given).
cleanup() {
	[ "${KEEP_FUZZ_BUILD:-0}" = 1 ] && return 0
	rm -rf "$build/obj" "$build/corpus"
	[ -n "${FUZZ_ARTIFACTS:-}" ] && rmdir "$build" 2>/dev/null
	return 0
}
trap cleanup EXIT INT TERM
mkdir -p "$build/obj"
cd "$build/obj"
"$srcdir/configure" -q CC="$cc" --enable-fuzzing >/dev/null
make -j2 fuzz >/dev/null

status=0
for name in task envelope msgpack; do
	mkdir -p "$build/corpus/$name"
	cp "$srcdir/tests/fuzz/corpus/$name"/* "$build/corpus/$name/"
	echo "fuzz_$name: ${secs}s"
	if ! ASAN_OPTIONS=detect_leaks=1 ./tests/fuzz/fuzz_$name -max_total_time="$secs" \
		-timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$art/$name-" "$build/corpus/$name" >"$art/$name.log" 2>&1; then
		echo "FAIL: fuzz_$name (see $art/$name.log)"
		tail -40 "$art/$name.log"
		status=1
	else
		grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$art/$name.log" | sed 's/^/  /'
	fi
done
echo "logs and artifacts: $art"
exit $status

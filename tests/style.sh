#!/bin/sh
# style.sh - the house rules that a machine can check (../shared/reference/style.md):
# clang-format, banned functions, module include boundaries, no SQL built with printf, and
# no whitespace errors. Each finding is printed with its place; any finding fails.
set -u
cd "${JANITOR_SRCDIR:-$(dirname "$0")/..}" || exit 1
status=0
finding() { printf 'style: %s\n' "$*"; status=1; }

files=$(git ls-files '*.c' '*.h' 2>/dev/null) || files=$(find common protocol ops worker tests bench -name '*.[ch]')

if command -v clang-format >/dev/null 2>&1; then
	# shellcheck disable=SC2086
	clang-format --dry-run --Werror $files 2>/dev/null || finding "clang-format: run 'make format'"
else
	finding "clang-format not installed"
fi

# Banned: unbounded or shell-spawning calls (B12). Comments are not code.
out=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets|system|popen)[[:space:]]*\(' \
	$(echo "$files" | grep -E '^(common|protocol|ops|worker)/') | grep -vE ':[[:space:]]*(/?\*|//)')
[ -z "$out" ] || finding "banned function: $out"

# Boundaries (B1): protocol/ and ops/ include only their own, common/ and config.h headers;
# common/ includes nothing of the project but itself.
out=$(grep -n '#include "' protocol/*.[ch] | grep -vE '"(config|proto[a-z_]*|err|xalloc|strbuf|log|compat)\.h"')
[ -z "$out" ] || finding "protocol/ reaches outside: $out"
out=$(grep -n '#include "' ops/*.[ch] | grep -vE '"(config|ops[a-z_]*|db[a-z_]*|err|xalloc|strbuf|log|compat|clock)\.h"')
[ -z "$out" ] || finding "ops/ reaches outside: $out"
out=$(grep -n '#include "' common/*.[ch] | grep -vE '"(config|err|xalloc|strbuf|log|compat|clock)\.h"')
[ -z "$out" ] || finding "common/ reaches outside: $out"

# SQL is never formatted with printf (B8): values are bound, identifiers quoted by db_.
out=$(grep -nE 'printf[^;]*(SELECT|DELETE|UPDATE|INSERT|VACUUM|REINDEX|REFRESH)' ops/*.c worker/*.c)
[ -z "$out" ] || finding "SQL built with printf: $out"

if git rev-parse --git-dir >/dev/null 2>&1; then
	out=$(git diff --check HEAD 2>/dev/null; git diff --check "$(git hash-object -t tree /dev/null)" HEAD 2>/dev/null | head -20)
	[ -z "$out" ] || finding "whitespace errors: $out"
fi

[ "$status" = 0 ] && echo "style: clean ($(echo "$files" | wc -l) files)"
exit "$status"

#!/usr/bin/env bash
# Run every test binary in $1/tests (default build/tests), then the CLI tests
# (tests/cli_*.sh) against $1/tcf. Prints one closing line "N passed, N failed"
# counting test programs, and exits non-zero if any failed.
set -u
B=${1:-build}
cd "$(dirname "$0")/.."
pass=0; fail=0; failed=()
for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "== $t"
    if "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
for t in tests/cli_*.sh; do
    [ -f "$t" ] || continue
    echo "== $t"
    if TCF="$B/tcf" bash "$t"; then pass=$((pass+1)); else fail=$((fail+1)); failed+=("$t"); fi
done
[ $fail -eq 0 ] || printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

# Shared helpers for tests/cli_*.sh (sourced; not a test itself). $TCF is the binary under test.
set -u
TCF=${TCF:-build/tcf}
MODEL=models/all-MiniLM-L6-v2
FIX=tests/fixtures/encoder
# Under the sanitizers (build-asan) training runs ~20x slower: the training
# tests use smaller slices there or leave out the slowest cases (full-mode
# arithmetic is still covered under ASan by test_full_parity).
case "$TCF" in *asan*) SANITIZED=1 ;; *) SANITIZED=0 ;; esac
pass=0; fail=0
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
ok()   { pass=$((pass+1)); }
bad()  { fail=$((fail+1)); echo "FAIL: $*" >&2; }
# expect_rc WANT DESC -- CMD...: runs CMD, stdout/stderr to $TMP/out, $TMP/err
expect_rc() {
    local want=$1 desc=$2; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
    if [ "$rc" = "$want" ]; then ok; else bad "$desc: exit $rc, wanted $want; stderr: $(head -c 300 "$TMP/err")"; fi
}
expect_err() {  # NEEDLE DESC: stderr of the last command contains NEEDLE
    if grep -qF -- "$1" "$TMP/err"; then ok; else bad "$2: stderr lacks '$1': $(head -c 300 "$TMP/err")"; fi
}
expect_no_stdout() {
    if [ ! -s "$TMP/out" ]; then ok; else bad "$1: wrote $(wc -c <"$TMP/out") bytes to stdout"; fi
}
summary() { echo "$1: $pass passed, $fail failed"; [ "$fail" = 0 ]; }

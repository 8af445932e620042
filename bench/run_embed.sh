#!/usr/bin/env bash
# run_embed.sh — embedding benchmark: tcf vs onnxruntime fp32 vs torch f32 on
# all-MiniLM-L6-v2, same texts, same batches, same thread counts, one run.
#
# Needs `make` done (build/libtcf.a), the model in models/all-MiniLM-L6-v2 and
# the Python peers in .venv (torch, transformers, tokenizers, onnxruntime, onnx).
# Texts: a fixed sample (seed 0) of banking77 test (../shared/data, or
# $TCF_SHARED_DATA), falling back to data/demo/test.csv.
#
#   bench/run_embed.sh                 # threads 1 and 2
#   THREADS="2" REPEAT=5 bench/run_embed.sh
#
# Knobs (environment): THREADS ("1 2"), N (texts at batch 32, 160), N1 (texts
# timed one by one at batch 1, 64), BATCH (32), REPEAT (timed passes per
# engine, 3; the table shows medians), MAX_LEN (128).
# Writes build/bench/ (git-ignored): texts, the ONNX export, results.jsonl,
# embeddings. Exits non-zero if the embeddings differ by more than 1e-4.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-"1 2"}
N=${N:-160}
N1=${N1:-64}
BATCH=${BATCH:-32}
REPEAT=${REPEAT:-3}
MAX_LEN=${MAX_LEN:-128}
MODEL=models/all-MiniLM-L6-v2
PY=.venv/bin/python
OUT=build/bench
DATA=${TCF_SHARED_DATA:-../shared/data}
mkdir -p "$OUT"

[ -f build/libtcf.a ] || { echo "run_embed.sh: build/libtcf.a missing: run make first" >&2; exit 1; }
[ -f "$MODEL/model.safetensors" ] || { echo "run_embed.sh: $MODEL missing" >&2; exit 1; }
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/bench_embed.c build/libtcf.a \
    -lcjson -lutf8proc -lm -pthread -o build/bench_embed

CSV="$DATA/banking77/test.csv"
[ -f "$CSV" ] || CSV=data/demo/test.csv
"$PY" - "$CSV" "$OUT/texts.txt" <<'EOF'
import csv, random, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = [" ".join(r["text"].split()) for r in csv.DictReader(f)]
rows = [t for t in rows if t]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("\n".join(random.Random(0).sample(rows, min(512, len(rows)))) + "\n")
EOF

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE steer only OpenBLAS, which here is
# numpy's bundled copy (loaded, but not on the timed path: torch uses its
# static MKL / oneDNN, ORT its MLAS, tcf its own kernels). They are unset for
# the peers anyway, so the numbers do not depend on who ran the script.
PEER_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
if env | grep -q '^OPENBLAS'; then
    echo "note: $(env | grep '^OPENBLAS' | tr '\n' ' ')set; unset for the Python peers" >&2
fi

ONNX="$OUT/all-MiniLM-L6-v2.onnx"
if [ ! -f "$ONNX" ] || [ "$MODEL/model.safetensors" -nt "$ONNX" ]; then
    "${PEER_ENV[@]}" "$PY" bench/bench_embed.py export --model "$MODEL" --texts "$OUT/texts.txt" \
        --n "$N" --onnx "$ONNX" --threads 2 --max-len "$MAX_LEN" 2> "$OUT/export.log" ||
        { cat "$OUT/export.log" >&2; exit 1; }
    tail -n 1 "$OUT/export.log"
fi

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;" \
     "flags: $(grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|avx512_vnni|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
RES="$OUT/results.jsonl"
: > "$RES"
for th in $THREADS; do
    build/bench_embed --model "$MODEL" --texts "$OUT/texts.txt" --threads "$th" --n "$N" \
        --n1 "$N1" --batch "$BATCH" --max-len "$MAX_LEN" --repeat "$REPEAT" \
        --emb-out "$OUT/emb_t$th" >> "$RES"
    "${PEER_ENV[@]}" "$PY" bench/bench_embed.py run --model "$MODEL" --texts "$OUT/texts.txt" \
        --threads "$th" --n "$N" --n1 "$N1" --batch "$BATCH" --max-len "$MAX_LEN" \
        --repeat "$REPEAT" --onnx "$ONNX" --emb-out "$OUT/emb_t$th" >> "$RES" 2> "$OUT/peers.log" ||
        { cat "$OUT/peers.log" >&2; exit 1; }
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$PY" bench/bench_embed.py report "$RES"
echo
status=0
for th in $THREADS; do
    echo "embeddings, threads $th (reference: torch):"
    for b in b1 bN; do
        "$PY" bench/bench_embed.py compare --atol 1e-4 "$OUT/emb_t$th.torch.$b.f32" \
            "$OUT/emb_t$th.tcf.$b.f32" "$OUT/emb_t$th.ort.$b.f32" || status=1
    done
done
exit $status

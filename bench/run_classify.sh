#!/usr/bin/env bash
# run_classify.sh — classifier inference benchmark: tcf (run dir, and any
# exported .gguf variants given in GGUF="NAME:FILE[:QPATH] ...", e.g.
# "q8_0:b77.q8_0.gguf q4_0-int8:b77.q4_0.gguf:int8"; QPATH auto (default),
# decode or int8 as tcf --qpath) vs torch f32,
# onnxruntime fp32 and onnxruntime int8 (quantize_dynamic) on the same trained
# classifier, same texts, same batches, same threads, one run.
#
#   bench/run_classify.sh RUN/            # threads 1 and 2
#   THREADS=2 REPEAT=5 bench/run_classify.sh RUN/
#
# Knobs: THREADS ("1 2"), N (texts at batch 32, 160), N1 (texts at batch 1,
# 64), BATCH (32), REPEAT (3). Texts: a fixed sample (seed 0) of banking77 test
# (../shared/data or $TCF_SHARED_DATA), else data/demo/test.csv. Writes
# build/bench-clf/. Exits non-zero if tcf's f32 probabilities differ from
# torch's by more than 1e-4.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: bench/run_classify.sh RUN/}
THREADS=${THREADS:-"1 2"}; N=${N:-160}; N1=${N1:-64}; BATCH=${BATCH:-32}; REPEAT=${REPEAT:-3}
PY=.venv/bin/python; OUT=build/bench-clf; DATA=${TCF_SHARED_DATA:-../shared/data}
mkdir -p "$OUT"
rm -f "$OUT"/p_t*  # probabilities of an earlier run would be compared too
[ -f build/libtcf.a ] || { echo "run_classify.sh: build/libtcf.a missing: run make first" >&2; exit 1; }
cc -O2 -std=c11 -Iinclude bench/bench_classify.c build/libtcf.a $(make -s print-libs 2>/dev/null || echo -lcjson -lutf8proc -lm -pthread) -o build/bench_classify

CSV="$DATA/banking77/test.csv"; [ -f "$CSV" ] || CSV=data/demo/test.csv
"$PY" - "$CSV" "$OUT/texts.txt" <<'PYEOF'
import csv, random, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    rows = [" ".join(r["text"].split()) for r in csv.DictReader(f)]
rows = [t for t in rows if t]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("\n".join(random.Random(0).sample(rows, min(512, len(rows)))) + "\n")
PYEOF
PEER_ENV=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
ONNX="$OUT/clf.onnx"; ONNX8="$OUT/clf.int8.onnx"
"${PEER_ENV[@]}" "$PY" bench/bench_classify.py export --run "$RUN" --texts "$OUT/texts.txt" --n "$N" \
    --onnx "$ONNX" --onnx-int8 "$ONNX8" --threads 2 2> "$OUT/export.log" || { cat "$OUT/export.log" >&2; exit 1; }
tail -n 1 "$OUT/export.log"
K=$("$PY" -c "import json,sys; print(len(json.load(open(sys.argv[1]+'/tcf_run.json'))['labels']))" "$RUN")

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;" \
     "flags: $(grep -o -w -E 'avx2|fma|avx512f|avx512_bf16|avx512_vnni|avx_vnni|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
RES="$OUT/results.jsonl"; : > "$RES"
for th in $THREADS; do
    build/bench_classify --model "$RUN" --texts "$OUT/texts.txt" --threads "$th" --n "$N" --n1 "$N1" \
        --batch "$BATCH" --repeat "$REPEAT" --probs-out "$OUT/p_t$th" >> "$RES"
    for v in ${GGUF:-}; do
        IFS=: read -r name file qpath <<< "$v"
        build/bench_classify --model "$file" --engine "tcf_$name" --texts "$OUT/texts.txt" --threads "$th" \
            --n "$N" --n1 "$N1" --batch "$BATCH" --repeat "$REPEAT" --qpath "${qpath:-auto}" \
            --probs-out "$OUT/p_t$th" >> "$RES"
    done
    "${PEER_ENV[@]}" "$PY" bench/bench_classify.py run --run "$RUN" --texts "$OUT/texts.txt" --threads "$th" \
        --n "$N" --n1 "$N1" --batch "$BATCH" --repeat "$REPEAT" --onnx "$ONNX" --onnx-int8 "$ONNX8" \
        --probs-out "$OUT/p_t$th" >> "$RES" 2> "$OUT/peers.log" || { cat "$OUT/peers.log" >&2; exit 1; }
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$PY" bench/bench_classify.py report "$RES"
echo
status=0
for th in $THREADS; do
    echo "probabilities, threads $th (reference: torch f32):"
    for b in b1 bN; do
        others=$(ls "$OUT/p_t$th".*."$b".f32 | grep -v '\.torch\.')
        "$PY" bench/bench_classify.py compare --k "$K" "$OUT/p_t$th.torch.$b.f32" $others || status=1
    done
done
exit $status

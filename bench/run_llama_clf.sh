#!/usr/bin/env bash
# run_llama_clf.sh — SmolLM2-135M classifier latency at batch 1 on 32-token
# queries: tcf (a decoder run directory: the Q4_1 base with its LoRA adapters
# and score head, tcf_classifier) vs llama-cpp-python computing the last
# token's hidden state (pooling LAST) on the same GGUF, same texts, same
# threads, one run. Texts: pairs of banking77 test texts joined, kept when
# SmolLM2's tokenizer gives exactly 32 tokens.
#
#   bench/run_llama_clf.sh RUN/        THREADS="1 2" N1=48 QPATHS="auto int8"
# (tcf once per --qpath: auto is the exact block path, int8 per-row int8)
# Needs `make`, models/SmolLM2 (--all) and llama-cpp-python in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: bench/run_llama_clf.sh RUN/}
THREADS=${THREADS:-"1 2"}; N1=${N1:-48}; QPATHS=${QPATHS:-"auto int8"}
GGUF=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
OUT=build/bench-llama-clf; mkdir -p "$OUT"
cc -O2 -std=c11 -Iinclude bench/bench_classify.c build/libtcf.a $(make -s print-libs) -o build/bench_classify
.venv/bin/python - ../shared/data/banking77/test.csv "$OUT/cand.txt" <<'PY'
import csv, random, sys
rows = [" ".join(r["text"].split()) for r in csv.DictReader(open(sys.argv[1], encoding="utf-8", newline=""))]
rnd = random.Random(0)
open(sys.argv[2], "w").write("".join(rnd.choice(rows) + " " + rnd.choice(rows) + "\n" for _ in range(3000)))
PY
build/tcf tokenize --model "$GGUF" --no-special --input "$OUT/cand.txt" | paste - "$OUT/cand.txt" |
    awk -F'\t' -v n="$N1" '{ if (split($1, a, " ") == 32 && k < n) { print $2; k++ } }' > "$OUT/texts.txt"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "$(wc -l < "$OUT/texts.txt") texts of 32 tokens, batch 1"
echo "| threads | engine | p50 ms | p90 ms | p99 ms |"
echo "|---:|---|---:|---:|---:|"
for t in $THREADS; do
    for q in $QPATHS; do
        build/bench_classify --model "$RUN" --texts "$OUT/texts.txt" --threads $t --n1 "$N1" --n "$N1" --batch 1 \
            --qpath "$q" > "$OUT/tcf_${t}_$q.json"
    done
    .venv/bin/python bench/llama_cpp_embed.py --gguf "$GGUF" --texts "$OUT/texts.txt" --threads $t > "$OUT/lcpp_$t.json"
    .venv/bin/python - "$OUT/lcpp_$t.json" "$t" $(for q in $QPATHS; do echo "$q:$OUT/tcf_${t}_$q.json"; done) <<'PY'
import json, sys
lc = json.load(open(sys.argv[1])); t = sys.argv[2]
g = lambda d, k: d.get(k, d.get(k.replace("_ms", ""), float("nan")))
print("| %s | llama.cpp %s last-token state (Q4_1) | %.1f | %.1f | %.1f |" % (t, lc["version"], lc["p50_ms"], lc["p90_ms"], lc["p99_ms"]))
for arg in sys.argv[3:]:
    q, path = arg.split(":", 1)
    tc = json.loads(open(path).read().splitlines()[-1])["b1"]
    print("| %s | tcf classifier (Q4_1 base + LoRA + head), --qpath %s | %.1f | %.1f | %.1f |" % (t, q, g(tc, "p50_ms"), g(tc, "p90_ms"), g(tc, "p99_ms")))
    print("|   | ratio tcf %s / llama.cpp p50 | %.2fx | | |  (llama.cpp tokens per text %d-%d)" % (q, g(tc, "p50_ms") / lc["p50_ms"], lc["tokens_min"], lc["tokens_max"]))
PY
done

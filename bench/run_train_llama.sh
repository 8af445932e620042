#!/usr/bin/env bash
# run_train_llama.sh — QLoRA / LoRA training of SmolLM2-135M as a sequence
# classifier, tcf vs PyTorch + PEFT, side by side in one run: the same GGUF
# (tcf keeps its Q4_1 blocks; transformers dequantizes it to f32), LoRA r=8
# alpha=16 on q k v o gate up down, AdamW, batch B of texts cut at MAX_LEN
# tokens — by default 16 x 64 exactly: each example is four banking77 training
# texts joined, so every text is cut at 64 tokens —, the same threads. PEFT
# runs on the exact token ids tcf trains on (tcf tokenize). Reports training
# examples/s (steps only, no validation) and peak RSS of each, and the ratios.
# tcf runs three ways: Q4_1 blocks + per-layer recompute (the low-memory
# default), Q4_1 without recompute, and f32 without recompute.
# MODE=real trains on banking77 training texts as they are (a random sample,
# no joining; median ~11 tokens): tcf batches them by length and computes only
# the real tokens; PEFT runs twice, on batches in random order padded to their
# longest text (DataCollatorWithPadding) and with HF Trainer's
# group_by_length (LengthGroupedSampler: megabatches of 50 batches sorted by
# length).
#
#   bench/run_train_llama.sh            STEPS=8 BATCH=16 MAX_LEN=64 THREADS=2 BNB=0 MODE=joined
# BNB=1 also runs PEFT on a bitsandbytes NF4 base (QLoRA as the reference did).
# Needs `make`, models/SmolLM2 (scripts/fetch_models.sh --all), the .venv stack
# and ../shared/data/banking77.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-8} BATCH=${BATCH:-16} MAX_LEN=${MAX_LEN:-64} THREADS=${THREADS:-2} BNB=${BNB:-0} MODE=${MODE:-joined}
GGUF=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
DATA=${DATA:-../shared/data/banking77/train.csv}
OUT=build/bench/train_llama; rm -rf "$OUT"; mkdir -p "$OUT"
N=$(( (STEPS + 1) * BATCH ))
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "$N examples (batch $BATCH x $MAX_LEN tokens, MODE=$MODE), $STEPS timed steps after 1, threads $THREADS"
# examples: 4 random texts joined (one label: the first text's), or (MODE=real)
# random texts as they are; labels as tcf numbers them (sorted)
.venv/bin/python - "$DATA" "$N" "$OUT" "$MODE" <<'PY'
import csv, random, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")))
n, out, mode = int(sys.argv[2]), sys.argv[3], sys.argv[4]
if mode == "real":
    ex = [(r["text"], r["label"]) for r in random.Random(0).sample(rows, n)]
else:
    rows = random.Random(0).sample(rows, 4 * n)
    ex = [(" ".join(rows[4 * i + k]["text"] for k in range(4)), rows[4 * i]["label"]) for i in range(n)]
labels = sorted({l for _, l in ex})
with open(out + "/train.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f); w.writerow(["text", "label"]); w.writerows(ex)
with open(out + "/valid.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f); w.writerow(["text", "label"])
    for l in labels: w.writerow([next(t for t, x in ex if x == l), l])
open(out + "/texts.txt", "w").write("".join(t.replace("\n", " ") + "\n" for t, _ in ex))
open(out + "/labels.txt", "w").write("".join("%d\n" % labels.index(l) for _, l in ex))
open(out + "/n_labels", "w").write(str(len(labels)))
PY
build/tcf tokenize --model "$GGUF" --input "$OUT/texts.txt" > "$OUT/ids.txt"
run_tcf() {  # NAME FLAGS...
    local name=$1; shift
    /usr/bin/time -f '%M' -o "$OUT/$name.rss" build/tcf train --model "$GGUF" --train "$OUT/train.csv" \
        --valid "$OUT/valid.csv" --out "$OUT/run_$name" --epochs 1 --batch $BATCH --max-len $MAX_LEN \
        --threads $THREADS --lr 1e-3 --patience 0 --checkpoint-secs 0 "$@" 2> "$OUT/$name.log"
    # steps only: tcf's rate excludes validation; the first step is included (PEFT's is not)
    echo "$(sed -n 's/.* (\([0-9.]*\) ex\/s, .*/\1/p' "$OUT/$name.log") $(( $(cat "$OUT/$name.rss") / 1024 ))"
}
read -r t1 r1 < <(run_tcf q4_1_recompute --quant keep)
read -r t2 r2 < <(run_tcf q4_1 --quant keep --no-recompute)
read -r t3 r3 < <(run_tcf f32 --quant f32 --no-recompute)
peft() {
    .venv/bin/python bench/peft_train_llama.py --gguf "$GGUF" --ids "$OUT/ids.txt" --labels "$OUT/labels.txt" \
        --n-labels "$(cat "$OUT/n_labels")" --batch $BATCH --max-len $MAX_LEN --steps $STEPS --threads $THREADS "$@"
}
peft > "$OUT/peft.json" 2> "$OUT/peft.log"
read -r p_rate p_rss < <(.venv/bin/python -c "import json;d=json.load(open('$OUT/peft.json'));print('%.1f %d' % (d['examples_per_s'],d['peak_rss_mb']))")
echo
echo "| engine | base in memory | train examples/s | peak RSS MB |"
echo "|---|---|---:|---:|"
echo "| tcf, recompute per layer | Q4_1 blocks | $t1 | $r1 |"
echo "| tcf | Q4_1 blocks | $t2 | $r2 |"
echo "| tcf | f32 | $t3 | $r3 |"
echo "| torch + peft | f32 (dequantized) | $p_rate | $p_rss |"
if [ "$MODE" = real ]; then
    peft --group-by-length > "$OUT/peft_grouped.json" 2> "$OUT/peft_grouped.log"
    read -r g_rate g_rss < <(.venv/bin/python -c "import json;d=json.load(open('$OUT/peft_grouped.json'));print('%.1f %d' % (d['examples_per_s'],d['peak_rss_mb']))")
    echo "| torch + peft, group_by_length | f32 (dequantized) | $g_rate | $g_rss |"
    echo "padded tokens per timed step: peft $(.venv/bin/python -c "import json;d=json.load(open('$OUT/peft.json'));print(d['tokens'] // $STEPS)")," \
         "peft grouped $(.venv/bin/python -c "import json;d=json.load(open('$OUT/peft_grouped.json'));print(d['tokens'] // $STEPS)")," \
         "real $(awk '{n += ($0 == "" ? 0 : NF > '$MAX_LEN' ? '$MAX_LEN' : NF)} END {printf "%d", n / NR * '$BATCH'}' "$OUT/ids.txt")"
    awk -v a="$t1" -v b="$t2" -v c="$t3" -v g="$g_rate" 'BEGIN {
        printf "ratio tcf / torch+peft group_by_length throughput: Q4_1+recompute %.2fx, Q4_1 %.2fx, f32 %.2fx\n", a / g, b / g, c / g }'
fi
if [ "$BNB" = 1 ]; then
    if peft --bnb nf4 > "$OUT/peft_nf4.json" 2> "$OUT/peft_nf4.log"; then
        read -r b_rate b_rss < <(.venv/bin/python -c "import json;d=json.load(open('$OUT/peft_nf4.json'));print('%.1f %d' % (d['examples_per_s'],d['peak_rss_mb']))")
        echo "| torch + peft + bitsandbytes | NF4 | $b_rate | $b_rss |"
    else
        echo "(bitsandbytes NF4 on this CPU failed: $(tail -1 "$OUT/peft_nf4.log"))"
    fi
fi
awk -v a="$t1" -v b="$t2" -v c="$t3" -v p="$p_rate" -v ra="$r1" -v rp="$p_rss" 'BEGIN {
    printf "\nratio tcf / torch+peft throughput: Q4_1+recompute %.2fx, Q4_1 %.2fx, f32 %.2fx; peak RSS Q4_1+recompute %.2fx\n",
           a / p, b / p, c / p, ra / rp }'

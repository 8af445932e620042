#!/usr/bin/env bash
# run_train.sh — LoRA fine-tuning, tcf vs PyTorch + PEFT, side by side in one
# run: same model (all-MiniLM-L6-v2 + BertForSequenceClassification head),
# same data, LoRA r=8 alpha=16 on the six dense kinds, AdamW lr / wd 0.01,
# linear warm-up 6%, clip 1.0, batch, max length, epochs, threads, no dropout,
# the same length-bucketed batch plan. Reports training examples/s, peak RSS
# and test accuracy / macro-F1 after the same number of epochs, and the ratios.
#
#   bench/run_train.sh [TRAIN.csv TEST.csv]     (default: data/demo train/test)
#   EPOCHS=2 LR=2e-3 MAX_LEN=64 BATCH=32 THREADS=2 bench/run_train.sh
# Needs `make` and the reference stack in .venv (scripts/setup.sh --venv).
set -euo pipefail
cd "$(dirname "$0")/.."
TRAIN=${1:-data/demo/train.csv}
TEST=${2:-data/demo/test.csv}
EPOCHS=${EPOCHS:-2} LR=${LR:-2e-3} MAX_LEN=${MAX_LEN:-64} BATCH=${BATCH:-32} THREADS=${THREADS:-2}
MODEL=models/all-MiniLM-L6-v2
OUT=build/bench/train; rm -rf "$OUT"; mkdir -p "$OUT"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; data: $TRAIN / $TEST;" \
     "epochs $EPOCHS, lr $LR, batch $BATCH, max-len $MAX_LEN, threads $THREADS"

/usr/bin/time -f '%M' -o "$OUT/tcf.rss" build/tcf train --model $MODEL --train "$TRAIN" --out "$OUT/run" \
    --valid "$TEST" --epochs $EPOCHS --lr $LR --batch $BATCH --max-len $MAX_LEN --threads $THREADS \
    --patience 0 2> "$OUT/tcf.log"
build/tcf eval --model "$OUT/run" --data "$TEST" --threads $THREADS > "$OUT/tcf.eval"
tcf_rate=$(sed -n 's/.* examples in \([0-9.]*\) s (\([0-9.]*\) ex\/s), validation.*/\2/p' "$OUT/tcf.log")
tcf_acc=$(sed -n 's/.*accuracy \([0-9.]*\), macro-F1 \([0-9.]*\).*/\1 \2/p' "$OUT/tcf.eval" | head -1)
tcf_rss=$(( $(cat "$OUT/tcf.rss") / 1024 ))

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/peft_train.py --model $MODEL \
    --train "$TRAIN" --test "$TEST" --epochs $EPOCHS --lr $LR --batch $BATCH --max-len $MAX_LEN \
    --threads $THREADS > "$OUT/peft.json" 2> "$OUT/peft.log"
read -r p_rate p_rss p_acc p_f1 < <(.venv/bin/python -c "import json;d=json.load(open('$OUT/peft.json'));print(d['examples_per_s'],d['peak_rss_mb'],d['test_accuracy'],d['test_macro_f1'])")

echo
echo "| engine | train examples/s | peak RSS MB | test accuracy | test macro-F1 |"
echo "|---|---:|---:|---:|---:|"
echo "| tcf | $tcf_rate | $tcf_rss | ${tcf_acc% *} | ${tcf_acc#* } |"
echo "| torch + peft | $p_rate | $p_rss | $p_acc | $p_f1 |"
awk -v a="$tcf_rate" -v b="$p_rate" -v c="$tcf_rss" -v d="$p_rss" \
    'BEGIN { printf "\nratio tcf / peft: throughput %.2fx, peak RSS %.2fx\n", a / b, c / d }'
echo "(examples/s: training steps only, validation excluded, for both)"

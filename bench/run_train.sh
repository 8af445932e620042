#!/usr/bin/env bash
# run_train.sh — LoRA fine-tuning, tcf vs PyTorch + PEFT, side by side in one
# run: same model (all-MiniLM-L6-v2 + BertForSequenceClassification head),
# same data, LoRA r=8 alpha=16 on the six dense kinds, AdamW lr / wd 0.01,
# linear warm-up 6%, clip 1.0, batch, max length, epochs, threads, dropout
# (hidden, attention probabilities, classifier; BERT's 0.1 by default), the
# same length-bucketed batch plan. PyTorch runs twice: f32 and under bf16
# autocast; the faster is "the peer". Reports training examples/s, peak RSS
# and test accuracy / macro-F1 after the same number of epochs, the ratios,
# and tcf's achieved GFLOP/s (4 FLOPs per dense weight per token) against this
# CPU's FMA peak (bench/peak_flops.c, same thread count).
#
#   bench/run_train.sh [TRAIN.csv TEST.csv]     (default: data/demo train/test)
#   EPOCHS=2 LR=2e-3 MAX_LEN=64 BATCH=32 THREADS=2 DROPOUT=0.1 bench/run_train.sh
# Needs `make` and the reference stack in .venv (scripts/setup.sh --venv).
set -euo pipefail
cd "$(dirname "$0")/.."
TRAIN=${1:-data/demo/train.csv}
TEST=${2:-data/demo/test.csv}
EPOCHS=${EPOCHS:-2} LR=${LR:-2e-3} MAX_LEN=${MAX_LEN:-64} BATCH=${BATCH:-32} THREADS=${THREADS:-2}
DROPOUT=${DROPOUT:-0.1}
MODEL=models/all-MiniLM-L6-v2
OUT=build/bench/train; rm -rf "$OUT"; mkdir -p "$OUT"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; data: $TRAIN / $TEST;" \
     "epochs $EPOCHS, lr $LR, batch $BATCH, max-len $MAX_LEN, threads $THREADS, dropout $DROPOUT"
cc -O2 -mavx2 -mfma -pthread bench/peak_flops.c -o "$OUT/peak_flops"
peak=$("$OUT/peak_flops" "$THREADS")

/usr/bin/time -f '%M' -o "$OUT/tcf.rss" build/tcf train --model $MODEL --train "$TRAIN" --out "$OUT/run" \
    --valid "$TEST" --epochs $EPOCHS --lr $LR --batch $BATCH --max-len $MAX_LEN --threads $THREADS \
    --dropout $DROPOUT --attn-dropout $DROPOUT --patience 0 2> "$OUT/tcf.log"
build/tcf eval --model "$OUT/run" --data "$TEST" --threads $THREADS > "$OUT/tcf.eval"
tcf_rate=$(sed -n 's/.* (\([0-9.]*\) ex\/s, .*/\1/p' "$OUT/tcf.log")
tcf_gflops=$(sed -n 's/.* ex\/s, \([0-9.]*\) GFLOP\/s.*/\1/p' "$OUT/tcf.log")
tcf_acc=$(sed -n 's/.*accuracy \([0-9.]*\), macro-F1 \([0-9.]*\).*/\1 \2/p' "$OUT/tcf.eval" | head -1)
tcf_rss=$(( $(cat "$OUT/tcf.rss") / 1024 ))

for ac in none bf16; do
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/peft_train.py --model $MODEL \
        --train "$TRAIN" --test "$TEST" --epochs $EPOCHS --lr $LR --batch $BATCH --max-len $MAX_LEN \
        --threads $THREADS --dropout $DROPOUT --autocast $ac > "$OUT/peft_$ac.json" 2> "$OUT/peft_$ac.log"
done
row() { .venv/bin/python -c "import json;d=json.load(open('$1'));print(d['examples_per_s'],d['peak_rss_mb'],d['test_accuracy'],d['test_macro_f1'])"; }
read -r p_rate p_rss p_acc p_f1 < <(row "$OUT/peft_none.json")
read -r b_rate b_rss b_acc b_f1 < <(row "$OUT/peft_bf16.json")

echo
echo "| engine | train examples/s | peak RSS MB | test accuracy | test macro-F1 |"
echo "|---|---:|---:|---:|---:|"
echo "| tcf (f32) | $tcf_rate | $tcf_rss | ${tcf_acc% *} | ${tcf_acc#* } |"
echo "| torch + peft (f32) | $p_rate | $p_rss | $p_acc | $p_f1 |"
echo "| torch + peft (bf16 autocast) | $b_rate | $b_rss | $b_acc | $b_f1 |"
awk -v a="$tcf_rate" -v b="$p_rate" -v b2="$b_rate" -v c="$tcf_rss" -v d="$p_rss" -v d2="$b_rss" \
    'BEGIN { best = b > b2 ? b : b2; bd = b > b2 ? d : d2; printf "\nratio tcf / best peft (%s): throughput %.2fx, peak RSS %.2fx\n", b > b2 ? "f32" : "bf16 autocast", a / best, c / bd }'
awk -v g="$tcf_gflops" -v p="$peak" -v t="$THREADS" \
    'BEGIN { printf "tcf: %.1f GFLOP/s = %.0f%% of this CPU'"'"'s f32 FMA peak of %.1f GFLOP/s on %d threads (bench/peak_flops.c)\n", g, 100 * g / p, p, t }'
echo "(examples/s: training steps only, validation excluded, for all)"

#!/usr/bin/env bash
# tcf train --mode head|full end to end on a small slice of the demo data (as
# cli_train.sh does for LoRA): the mode's files appear in the run directory,
# tcf_run.json records the mode, eval and predict load the run, the same seed
# gives bit-identical weights, and a bad --mode exits 2.
. "$(dirname "$0")/lib_cli.sh"

EVERY=$([ $SANITIZED = 1 ] && echo 60 || echo 20)
awk -v k=$EVERY 'NR == 1 || NR % k == 2' data/demo/train.csv > "$TMP/train.csv"
awk 'NR == 1 || NR % 15 == 2' data/demo/valid.csv > "$TMP/valid.csv"
awk 'NR == 1 || NR % 15 == 2' data/demo/test.csv > "$TMP/test.csv"
ARGS=(--model $MODEL --train "$TMP/train.csv" --valid "$TMP/valid.csv" --epochs 2 --max-len 32 --batch 16 --threads 2 --seed 7)
printf 'I was charged twice for my subscription\nwhere is my parcel\n' > "$TMP/q.txt"

check_run() {  # MODE DIR FILES...: the run's files, mode, eval and predict
    local mode=$1 dir=$2; shift 2
    for f in tcf_run.json "$@"; do [ -s "$dir/$f" ] && ok || bad "$mode: $f missing"; done
    for f in adapter_config.json adapter_model.safetensors; do
        [ -e "$dir/$f" ] && bad "$mode: a $f was written" || ok
    done
    grep -q "\"mode\":[[:space:]]*\"$mode\"" "$dir/tcf_run.json" && ok || bad "$mode: tcf_run.json lacks the mode"
    ls "$dir" | grep -q '\.tmp\.' && bad "$mode: temp files left in the run dir" || ok
    expect_rc 0 "$mode eval" -- "$TCF" eval --model "$dir" --data "$TMP/test.csv" --report "$TMP/report.json"
    grep -q 'accuracy' "$TMP/out" && ok || bad "$mode eval output lacks accuracy"
    echo "  $mode: $(head -1 "$TMP/out")"
    expect_rc 0 "$mode predict" -- "$TCF" predict --model "$dir" --input "$TMP/q.txt" --top 2
    [ "$(grep -c '"label": ' "$TMP/out")" = 2 ] && ok || bad "$mode predict: wanted 2 JSON lines: $(cat "$TMP/out")"
}

# head only: fast, the encoder is frozen
expect_rc 0 "train --mode head" -- "$TCF" train "${ARGS[@]}" --mode head --lr 5e-3 --out "$TMP/head"
grep -q 'head only' "$TMP/err" && ok || bad "head: the log does not say head only"
echo "  head: $(grep -o '[0-9.]* ex/s' "$TMP/err" | tail -1)"
check_run head "$TMP/head" classifier.safetensors
expect_rc 0 "train --mode head again" -- "$TCF" train "${ARGS[@]}" --mode head --lr 5e-3 --out "$TMP/head2"
cmp -s "$TMP/head/classifier.safetensors" "$TMP/head2/classifier.safetensors" && ok \
    || bad "head: same seed gave different weights"

# full: every weight; the run directory is a whole model
expect_rc 0 "train --mode full" -- "$TCF" train "${ARGS[@]}" --mode full --lr 1e-4 --epochs 1 --out "$TMP/full"
grep -q 'full fine-tuning' "$TMP/err" && ok || bad "full: the log does not say full fine-tuning"
echo "  full: $(grep -o '[0-9.]* ex/s' "$TMP/err" | tail -1)"
check_run full "$TMP/full" model.safetensors config.json
grep -q 'BertForSequenceClassification' "$TMP/full/config.json" && ok || bad "full: config.json architectures"
# the fine-tuned encoder differs from the base, and embeds
expect_rc 0 "embed with the full run" -- "$TCF" embed --model "$TMP/full" --input "$TMP/test.csv" --threads 2
cmp -s "$TMP/full/model.safetensors" $MODEL/model.safetensors && bad "full: weights unchanged" || ok
expect_rc 0 "train --mode full again" -- "$TCF" train "${ARGS[@]}" --mode full --lr 1e-4 --epochs 1 --out "$TMP/full2"
cmp -s "$TMP/full/model.safetensors" "$TMP/full2/model.safetensors" && ok \
    || bad "full: same seed gave different weights"

# errors
expect_rc 2 "bad --mode" -- "$TCF" train "${ARGS[@]}" --mode partial --out "$TMP/r3"
expect_err 'lora, head or full' "bad --mode names the choices"
expect_rc 2 "empty --mode" -- "$TCF" train "${ARGS[@]}" --out "$TMP/r3" --mode
[ -e "$TMP/r3" ] && bad "a rejected run left $TMP/r3 behind" || ok
sed 's/"mode":[[:space:]]*"head"/"mode": "bogus"/' "$TMP/head/tcf_run.json" > "$TMP/head2/tcf_run.json"
expect_rc 1 "eval on an unknown mode" -- "$TCF" eval --model "$TMP/head2" --data "$TMP/test.csv"
expect_err 'train_config.mode' "unknown mode names the field"
rm "$TMP/head2/classifier.safetensors" && cp "$TMP/head/tcf_run.json" "$TMP/head2/"
expect_rc 1 "eval on a head run without its weights" -- "$TCF" eval --model "$TMP/head2" --data "$TMP/test.csv"
expect_err 'classifier.safetensors' "missing head weights names the file"
summary cli_modes

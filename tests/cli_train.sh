#!/usr/bin/env bash
# tcf train / eval / predict end to end on a small slice of the demo data:
# a run directory appears, eval and predict read it, the same seed gives
# bit-identical adapters, and bad inputs fail with clear errors and exit codes.
. "$(dirname "$0")/lib_cli.sh"

# every 20th demo row (~10 per class) to train, every 15th test row to evaluate
awk 'NR == 1 || NR % 20 == 2' data/demo/train.csv > "$TMP/train.csv"
awk 'NR == 1 || NR % 15 == 2' data/demo/valid.csv > "$TMP/valid.csv"
awk 'NR == 1 || NR % 15 == 2' data/demo/test.csv > "$TMP/test.csv"
ARGS=(--model $MODEL --train "$TMP/train.csv" --valid "$TMP/valid.csv" --epochs 2 --max-len 32 --batch 16 --threads 2 --seed 7)

expect_rc 0 "train" -- "$TCF" train "${ARGS[@]}" --out "$TMP/run"
for f in adapter_config.json adapter_model.safetensors tcf_run.json; do
    [ -s "$TMP/run/$f" ] && ok || bad "train: $f missing"
done
grep -q '"best_epoch"' "$TMP/run/tcf_run.json" && ok || bad "tcf_run.json lacks best_epoch"
grep -q 'valid accuracy' "$TMP/err" && ok || bad "train log lacks the validation line"
ls "$TMP/run" | grep -q '\.tmp\.' && bad "temp files left in the run dir" || ok

# same seed and threads: bit-identical adapter
expect_rc 0 "train again" -- "$TCF" train "${ARGS[@]}" --out "$TMP/run2"
cmp -s "$TMP/run/adapter_model.safetensors" "$TMP/run2/adapter_model.safetensors" && ok \
    || bad "same seed gave different adapters"

expect_rc 0 "eval" -- "$TCF" eval --model "$TMP/run" --data "$TMP/test.csv" --report "$TMP/report.json"
grep -q 'accuracy' "$TMP/out" && ok || bad "eval output lacks accuracy"
grep -q '"confusion"' "$TMP/report.json" && grep -q '"macro_f1"' "$TMP/report.json" && ok || bad "report incomplete"
echo "  $(head -1 "$TMP/out")"

printf 'I was charged twice for my subscription\n{"text": "where is my parcel"}\n' > "$TMP/q.txt"
expect_rc 0 "predict" -- "$TCF" predict --model "$TMP/run" --input "$TMP/q.txt" --top 2
[ "$(grep -c '"label": ' "$TMP/out")" = 2 ] && ok || bad "predict: wanted 2 JSON lines: $(cat "$TMP/out")"
grep -q '"top": \[\["[a-z_]*", [0-9.]*\], \["' "$TMP/out" && ok || bad "predict: top list malformed: $(head -1 "$TMP/out")"

# bad inputs
printf 'txt,label\nhello,a\n' > "$TMP/badhdr.csv"
expect_rc 1 "misspelt header" -- "$TCF" train --model $MODEL --train "$TMP/badhdr.csv" --out "$TMP/r3"
expect_err 'badhdr.csv:1:' "misspelt header names file:line"
printf 'text,label\nhello,a\nworld,a\n' > "$TMP/oneclass.csv"
expect_rc 1 "one class" -- "$TCF" train --model $MODEL --train "$TMP/oneclass.csv" --out "$TMP/r3"
expect_err 'class' "one class"
printf 'text,label\nhello,not_a_label\n' > "$TMP/unseen.csv"
expect_rc 1 "unseen valid label" -- "$TCF" train "${ARGS[@]}" --valid "$TMP/unseen.csv" --out "$TMP/r3"
expect_err 'unseen.csv:2:' "unseen label names file:line"
[ -e "$TMP/r3" ] && bad "a failed run left $TMP/r3 behind" || ok
expect_rc 2 "bad --targets" -- "$TCF" train "${ARGS[@]}" --out "$TMP/r3" --targets query,bogus
expect_rc 2 "no --out" -- "$TCF" train --model $MODEL --train "$TMP/train.csv"
expect_rc 1 "eval on a non-run" -- "$TCF" eval --model $MODEL --data "$TMP/test.csv"
expect_err 'tcf_run.json' "eval on a non-run names the file"
printf 'fine\n{"txt": "no text key"}\n' > "$TMP/badq.txt"
expect_rc 1 "predict bad JSON line" -- "$TCF" predict --model "$TMP/run" --input "$TMP/badq.txt"
expect_err 'badq.txt:2:' "predict bad line names file:line"
expect_no_stdout "predict bad JSON line"
for c in train eval predict; do expect_rc 0 "$c --help" -- "$TCF" $c --help; done
summary cli_train

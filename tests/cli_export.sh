#!/usr/bin/env bash
# tcf export end to end: a run directory around the PEFT fixture adapter
# (tests/fixtures/peft, trained in Python) is exported to GGUF; tcf predict /
# eval with --model MODEL.gguf give the run directory's probabilities (f32:
# identical output; q8_0 / q4_0 / q4_k: top labels printed; q4_k's tensor
# types and file type checked, and served); tcf inspect shows
# llama.cpp's keys and the base model's sha256; --format peft writes the
# adapter; truncated files, another architecture, a full disk and bad options
# fail cleanly and leave no file behind.
. "$(dirname "$0")/lib_cli.sh"
PEFT=tests/fixtures/peft

if [ ! -f "$MODEL/model.safetensors" ]; then
    echo "SKIP cli_export: $MODEL absent (scripts/fetch_models.sh)"
    summary cli_export
    exit
fi

RUN="$TMP/run"
mkdir -p "$RUN"
cp "$PEFT/adapter/adapter_config.json" "$PEFT/adapter/adapter_model.safetensors" "$RUN/"
cat > "$RUN/tcf_run.json" <<JSON
{"format": "tcf-run", "version": 1, "base_model": "$MODEL", "architecture": "bert-sequence-classification",
 "max_len": 128, "labels": ["billing", "delivery", "account", "other"], "train_config": {"mode": "lora"}}
JSON
{ echo "text,label"; paste -d, <(sed 's/,/ /g' "$PEFT/texts.txt") <(echo -e "billing\ndelivery\naccount\nother\ndelivery\naccount\nbilling\naccount"); } > "$TMP/data.csv"

expect_rc 0 "export f32" -- "$TCF" export --model "$RUN" --out "$TMP/m.gguf"
expect_rc 0 "export q8_0" -- "$TCF" export --model "$RUN" --out "$TMP/m8.gguf" --type q8_0
expect_rc 0 "export q4_0" -- "$TCF" export --model "$RUN" --out "$TMP/m4.gguf" --type q4_0
expect_rc 0 "export q4_k" -- "$TCF" export --model "$RUN" --out "$TMP/mk.gguf" --type q4_k
ls -l "$TMP"/m*.gguf | awk '{print "  " $5 " bytes  " $NF}'

expect_rc 0 "predict run" -- "$TCF" predict --model "$RUN" --top 4 --threads 2 --input "$PEFT/texts.txt"
cp "$TMP/out" "$TMP/pred_run"
expect_rc 0 "predict f32 gguf" -- "$TCF" predict --model "$TMP/m.gguf" --top 4 --threads 2 --input "$PEFT/texts.txt"
cmp -s "$TMP/out" "$TMP/pred_run" && ok || bad "f32 export predicts differently: $(diff "$TMP/out" "$TMP/pred_run" | head -4)"
for qf in q8_0:m8 q4_0:m4 q4_k:mk; do
    q=${qf%:*}
    expect_rc 0 "predict $q gguf" -- "$TCF" predict --model "$TMP/${qf#*:}.gguf" --top 4 --threads 2 --input "$PEFT/texts.txt"
    same=$(paste -d'\n' <(grep -o '"label": "[a-z]*"' "$TMP/out") | diff - <(grep -o '"label": "[a-z]*"' "$TMP/pred_run") | grep -c '^<')
    echo "  $q: $((8 - same))/8 top labels as the run directory"
done
expect_rc 0 "eval q4_k gguf" -- "$TCF" eval --model "$TMP/mk.gguf" --data "$TMP/data.csv" --threads 2
grep -q '8 examples, accuracy' "$TMP/out" && ok || bad "eval of the q4_k export: $(head -1 "$TMP/out")"
# q4_k: FFN down (rows of 1536) Q4_K, the rows of 384 Q8_0; llama.cpp's Q4_K_S file type
expect_rc 0 "inspect q4_k" -- "$TCF" inspect "$TMP/mk.gguf"
grep -q '^  blk.0.ffn_down.weight  Q4_K' "$TMP/out" && ok || bad "ffn_down is not Q4_K"
grep -q '^  blk.0.attn_q.weight  Q8_0' "$TMP/out" && ok || bad "q4_k: attn_q (rows of 384) is not the Q8_0 fallback"
grep -q '^  general.file_type  u32  14$' "$TMP/out" && ok || bad "q4_k: file_type is not 14: $(grep file_type "$TMP/out")"
expect_rc 0 "eval run" -- "$TCF" eval --model "$RUN" --data "$TMP/data.csv" --threads 2
grep -i accuracy "$TMP/out" | head -1 | sed 's/ (.*//' > "$TMP/acc_run"
expect_rc 0 "eval gguf" -- "$TCF" eval --model "$TMP/m.gguf" --data "$TMP/data.csv" --threads 2
grep -i accuracy "$TMP/out" | head -1 | sed 's/ (.*//' | cmp -s - "$TMP/acc_run" && ok || bad "eval of the f32 export differs: $(grep -i accuracy "$TMP/out" | head -1) vs $(cat "$TMP/acc_run")"

expect_rc 0 "inspect" -- "$TCF" inspect "$TMP/m8.gguf"
for k in general.architecture bert.block_count bert.classifier.output_labels tokenizer.huggingface.json \
         tcf.max_len tcf.run_json blk.0.attn_q.weight cls.output.weight; do
    grep -q "^  $k " "$TMP/out" && ok || bad "inspect lacks $k"
done
grep -q '^  blk.0.attn_q.weight  Q8_0' "$TMP/out" && ok || bad "attn_q is not Q8_0"
grep -q '^  token_embd.weight  F32' "$TMP/out" && ok || bad "token_embd is not F32"
sha=$(sha256sum "$MODEL/model.safetensors" | cut -d' ' -f1)
grep -q "tcf.source.base_sha256  string  \"$sha\"" "$TMP/out" && ok || bad "base sha256 is not sha256sum's $sha"

expect_rc 0 "export peft" -- "$TCF" export --format peft --model "$RUN" --out "$TMP/peft"
[ -s "$TMP/peft/adapter_config.json" ] && [ -s "$TMP/peft/adapter_model.safetensors" ] && ok || bad "peft files missing"
grep -q '"modules_to_save"' "$TMP/peft/adapter_config.json" && ok || bad "adapter_config lacks modules_to_save"

# --init-adapter: training starts from the Python-trained adapter; with a
# negligible learning rate the run predicts what the adapter does (labels
# named so that tcf's sorted order is the adapter's class order)
sed 's/,billing$/,a_billing/; s/,delivery$/,b_delivery/; s/,account$/,c_account/; s/,other$/,d_other/' "$TMP/data.csv" > "$TMP/data_abcd.csv"
TARGS=(--model $MODEL --train "$TMP/data_abcd.csv" --valid "$TMP/data_abcd.csv" --epochs 1 --batch 8 --threads 2 --seed 3)
expect_rc 0 "train --init-adapter" -- "$TCF" train "${TARGS[@]}" --lr 1e-9 --lora-r 4 --lora-alpha 8 --targets query,value \
    --init-adapter "$PEFT/adapter" --out "$TMP/init_run"
expect_rc 0 "predict init run" -- "$TCF" predict --model "$TMP/init_run" --top 4 --threads 2 --input "$PEFT/texts.txt"
scores() { grep -o '[0-9]\.[0-9]*' "$1"; }
paste <(scores "$TMP/out") <(scores "$TMP/pred_run") | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d} END {print "  --init-adapter run vs adapter: max |dp| = " m; exit !(m < 1e-4)}' && ok || bad "--init-adapter run predicts differently"
grep -q '"init_adapter"' "$TMP/init_run/tcf_run.json" && ok || bad "tcf_run.json does not record init_adapter"
# the run records its data's sha256, and the export carries it
dsha=$(sha256sum "$TMP/data_abcd.csv" | cut -d' ' -f1)
grep -q "\"train_sha256\":[[:space:]]*\"$dsha\"" "$TMP/init_run/tcf_run.json" && ok || bad "tcf_run.json lacks train_sha256 $dsha"
expect_rc 0 "export init run" -- "$TCF" export --model "$TMP/init_run" --out "$TMP/init.gguf" --type q8_0
expect_rc 0 "inspect init export" -- "$TCF" inspect "$TMP/init.gguf"
grep -q "tcf.source.train_sha256  string  \"$dsha\"" "$TMP/out" && ok || bad "export lacks the run's train_sha256"
rm -f "$TMP/init.gguf"
expect_rc 1 "--init-adapter with other r" -- "$TCF" train "${TARGS[@]}" --init-adapter "$PEFT/adapter" --out "$TMP/init_bad"
expect_err "pass --lora-r 4 --lora-alpha 8 --targets query,value" "r mismatch says what to pass"
expect_rc 1 "--init-adapter missing" -- "$TCF" train "${TARGS[@]}" --init-adapter "$TMP/nope" --out "$TMP/init_bad"
expect_err "$TMP/nope" "missing adapter named"

# bad input
size=$(stat -c %s "$TMP/m.gguf")
for cut in 10 5000 1000000 $((size / 2)); do
    head -c "$cut" "$TMP/m.gguf" > "$TMP/cut.gguf"
    expect_rc 1 "truncated to $cut" -- "$TCF" predict --model "$TMP/cut.gguf" --input "$PEFT/texts.txt"
    expect_err "$TMP/cut.gguf" "truncated file named"
    expect_no_stdout "truncated to $cut"
done
SMOL=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "$SMOL" ]; then
    expect_rc 1 "a decoder GGUF that is not a tcf export" -- "$TCF" predict --model "$SMOL" --input "$PEFT/texts.txt"
    expect_err "tcf.format_version" "a plain decoder GGUF names the missing key"
else
    echo "  SKIP wrong-architecture case ($SMOL absent)"
fi
# the abstain threshold: stored by export, used by predict and as serve's default
expect_rc 0 "export --abstain-below" -- "$TCF" export --model "$RUN" --out "$TMP/ma.gguf" --type q4_0 --abstain-below 0.9
expect_rc 0 "inspect abstain" -- "$TCF" inspect "$TMP/ma.gguf"
grep -q '^  tcf.abstain_below  f32  0.89999997' "$TMP/out" && ok || bad "inspect lacks tcf.abstain_below 0.9: $(grep abstain "$TMP/out")"
expect_rc 0 "predict with the model's threshold" -- "$TCF" predict --model "$TMP/ma.gguf" --threads 2 --input "$PEFT/texts.txt"
n_abst=$(grep -c '"abstain": \(true\|false\)}$' "$TMP/out")
[ "$n_abst" = 8 ] && ok || bad "predict wrote abstain on $n_abst of 8 lines: $(head -2 "$TMP/out")"
awk -F'"score": ' '{split($2, a, ","); want = (a[1] < 0.9) ? "true" : "false"; if ($0 !~ ("\"abstain\": " want "}$")) bad++}
    END {exit bad > 0}' "$TMP/out" && ok || bad "abstain is not (score < 0.9): $(head -3 "$TMP/out")"
expect_rc 0 "predict --abstain-below 0 overrides" -- "$TCF" predict --model "$TMP/ma.gguf" --threads 2 --abstain-below 0 --input "$PEFT/texts.txt"
[ "$(grep -c '"abstain": false}$' "$TMP/out")" = 8 ] && ok || bad "--abstain-below 0 did not override: $(head -2 "$TMP/out")"
expect_rc 0 "predict without a threshold" -- "$TCF" predict --model "$TMP/m4.gguf" --threads 2 --input "$PEFT/texts.txt"
grep -q abstain "$TMP/out" && bad "abstain written for a model without a threshold" || ok
# serve_classify MODEL LOG TEXT [FLAGS...]: start tcf serve on a free port,
# POST {"text": TEXT} to /v1/classify into $TMP/body, stop it with SIGTERM
serve_classify() {
    local model=$1 log=$2 text=$3; shift 3
    "$TCF" serve --model "$model" --port 0 --threads 2 "$@" 2>"$log" &
    local spid=$! port
    for _ in $(seq 100); do grep -qs 'listening on' "$log" && break; sleep 0.1; done
    port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log")
    curl -s --max-time 60 -H 'Content-Type: application/json' -d "{\"text\": \"$text\"}" \
        "http://127.0.0.1:$port/v1/classify" > "$TMP/body"
    kill -TERM "$spid"; wait "$spid"
}
if command -v curl >/dev/null; then
    for flag in "" "--abstain-below 0"; do
        serve_classify "$TMP/ma.gguf" "$TMP/serve.log" "hello" $flag
        if [ -z "$flag" ]; then
            score=$(sed -n 's/.*"score": \([0-9.e-]*\),.*/\1/p' "$TMP/body")
            want=$(awk -v s="$score" 'BEGIN {print (s < 0.9) ? "true" : "false"}')
            grep -q "\"abstain\": $want" "$TMP/body" && ok || bad "serve default threshold: $(cat "$TMP/body")"
        else
            grep -q '"abstain": false' "$TMP/body" && ok || bad "serve --abstain-below 0 did not override: $(cat "$TMP/body")"
        fi
    done
else
    echo "  SKIP serve threshold cases (no curl)"
fi
rm -f "$TMP/ma.gguf"
if command -v curl >/dev/null; then
    serve_classify "$TMP/mk.gguf" "$TMP/serve_k.log" "where is my card?"
    grep -q '"label": "[a-z]*"' "$TMP/body" && ok || bad "serve of the q4_k export: $(cat "$TMP/body")"
fi
for v in 1.5 -0.1 nan x; do
    expect_rc 2 "export --abstain-below $v" -- "$TCF" export --model "$RUN" --out "$TMP/x.gguf" --abstain-below "$v"
    expect_err "--abstain-below needs a number in [0, 1]" "bad threshold $v named"
done
[ ! -e "$TMP/x.gguf" ] && ok || bad "bad threshold left x.gguf"
expect_rc 2 "abstain with peft" -- "$TCF" export --format peft --model "$RUN" --out "$TMP/x" --abstain-below 0.5
expect_rc 2 "bad type" -- "$TCF" export --model "$RUN" --out "$TMP/x.gguf" --type q3_k
expect_err "--type must be" "bad type message"
expect_rc 1 "q4_1 on an encoder run" -- "$TCF" export --model "$RUN" --out "$TMP/x41.gguf" --type q4_1
expect_err "for decoder classifiers" "q4_1 on an encoder run"
[ ! -e "$TMP/x41.gguf" ] && ok || bad "a refused q4_1 export left a file"
expect_rc 1 "--no-merge on an encoder run" -- "$TCF" export --model "$RUN" --out "$TMP/x41.gguf" --no-merge
expect_err "for decoder runs" "--no-merge on an encoder run"
expect_rc 2 "type with peft" -- "$TCF" export --format peft --model "$RUN" --out "$TMP/x" --type f16
expect_rc 1 "not a run" -- "$TCF" export --model "$TMP" --out "$TMP/x.gguf"
expect_err "not a tcf run directory" "not a run"
[ ! -e "$TMP/x.gguf" ] && ok || bad "failed export left x.gguf"
# a full disk (file size limit) mid-write: exit 1, no file, no temp file
mkdir -p "$TMP/full"
(trap '' XFSZ; ulimit -f 20000; exec "$TCF" export --model "$RUN" --out "$TMP/full/m.gguf") >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" = 1 ] && ok || bad "disk full: exit $rc, wanted 1"
expect_err "$TMP/full/m.gguf" "disk full names the file"
[ -z "$(ls -A "$TMP/full")" ] && ok || bad "disk full left files: $(ls -a "$TMP/full")"
summary cli_export

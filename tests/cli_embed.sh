#!/usr/bin/env bash
# tcf embed end to end (tokenizer + encoder + pooling) against transformers'
# outputs on the 210 fixture texts; bad models and inputs fail cleanly.
. "$(dirname "$0")/lib_cli.sh"

# max |a-b| between JSON-lines output and a raw f32 fixture
maxdiff() {
    od -An -v -tf4 -w4 "$2" | awk 'NR == FNR { ref[NR] = $1; next }
        { gsub(/[\[\]]/, ""); n = split($0, v, ","); for (i = 1; i <= n; i++) { k++; d = v[i] - ref[k]; if (d < 0) d = -d; if (d > m) m = d } }
        END { if (k != length(ref)) { print "count", k, length(ref); exit 1 } printf "%.3g\n", m }' - "$1"
}
within() { awk -v d="$1" 'BEGIN { exit !(d + 0 <= 1e-4) }'; }

expect_rc 0 "embed mean" -- "$TCF" embed --model $MODEL --threads 2 < $FIX/texts.txt
d=$(maxdiff "$TMP/out" $FIX/mean.f32) && within "$d" && ok || bad "mean pooling vs transformers: max diff $d"
echo "  mean pooling, $(wc -l < "$TMP/out") texts: max abs diff vs transformers $d"
expect_rc 0 "embed cls" -- "$TCF" embed --model $MODEL --pooling cls --batch 7 < $FIX/texts.txt
d=$(maxdiff "$TMP/out" $FIX/cls.f32) && within "$d" && ok || bad "cls pooling vs transformers: max diff $d"
echo "  cls pooling: max abs diff vs transformers $d"
expect_rc 0 "embed normalize" -- "$TCF" embed --model $MODEL --normalize --threads 1 < $FIX/texts.txt
awk '{ gsub(/[\[\]]/, ""); n = split($0, v, ","); s = 0; for (i = 1; i <= n; i++) s += v[i] * v[i];
       d = sqrt(s) - 1; if (d < 0) d = -d; if (d > 1e-5 || n != 384) bad++ } END { exit bad > 0 }' "$TMP/out" \
    && ok || bad "--normalize: norms not 1"

# bad inputs
printf 'ok\n\xc3\x28 broken\n' > "$TMP/bad.txt"
expect_rc 1 "invalid UTF-8" -- "$TCF" embed --model $MODEL --input "$TMP/bad.txt"
expect_err "bad.txt:2:" "invalid UTF-8 line"
expect_no_stdout "invalid UTF-8"
expect_rc 2 "bad pooling" -- "$TCF" embed --model $MODEL --pooling max
expect_err "--pooling must be mean, cls or last" "bad pooling"

# a copy of the model with a truncated checkpoint
mkdir -p "$TMP/m"; cp $MODEL/config.json $MODEL/tokenizer.json $MODEL/vocab.txt "$TMP/m/"
head -c 5000000 $MODEL/model.safetensors > "$TMP/m/model.safetensors"
expect_rc 1 "truncated checkpoint" -- "$TCF" embed --model "$TMP/m" < $FIX/texts.txt
expect_err "$TMP/m/model.safetensors" "truncated checkpoint names the file"
expect_no_stdout "truncated checkpoint"
echo '{"model_type": "gpt2"}' > "$TMP/m/config.json"
expect_rc 1 "unknown architecture" -- "$TCF" embed --model "$TMP/m" < $FIX/texts.txt
expect_err 'model_type "gpt2" is not supported' "unknown architecture"
echo 'not json' > "$TMP/m/config.json"
expect_rc 1 "config not JSON" -- "$TCF" embed --model "$TMP/m" < $FIX/texts.txt
expect_err "config.json: not a JSON object" "config not JSON"
expect_rc 0 "--help" -- "$TCF" embed --help
summary cli_embed

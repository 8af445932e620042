#!/usr/bin/env bash
# tcf tokenize with BPE tokenizers: tokenizer.json (byte-level, SentencePiece)
# and GGUF metadata give the reference ids; --no-special leaves out BOS/EOS for
# every tokenizer type; bad tokenizers give a clear error and no output.
. "$(dirname "$0")/lib_cli.sh"
B=tests/fixtures/bpe
SMOL=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf

# the texts and reference ids of a .cases fixture (lines with add_special ADD;
# texts holding a line break or NUL are left out, conservatively by hex match)
cases() {  # FILE ADD -> $TMP/texts, $TMP/want
    awk -F'\t' -v add="$2" '$1 == add && $2 !~ /(0a|0d|00|c285|e280a8|e280a9)/ { print $2 "|" $3 }' "$1" |
        while IFS='|' read -r hex ids; do
            printf '%s\n' "$ids" >> "$TMP/want"; printf '%b' "$(printf '%s' "$hex" | sed 's/../\\x&/g')" >> "$TMP/texts"; echo >> "$TMP/texts"
        done
}
check_cases() {  # NAME MODEL CASES ADD [OPTS...]
    local name=$1 model=$2 file=$3 add=$4; shift 4
    rm -f "$TMP/texts" "$TMP/want"
    cases "$file" "$add"
    expect_rc 0 "$name" -- "$TCF" tokenize --model "$model" --threads 2 "$@" < "$TMP/texts"
    if cmp -s "$TMP/out" "$TMP/want"; then ok; else bad "$name: ids differ: $(diff "$TMP/out" "$TMP/want" | head -4)"; fi
    echo "  $name: $(wc -l < "$TMP/want") texts"
}
check_cases "bytelevel tokenizer.json" $B/bytelevel.json $B/bytelevel.cases 1
check_cases "bytelevel --no-special" $B/bytelevel.json $B/bytelevel.cases 0 --no-special
check_cases "llama tokenizer.json" $B/llama.json $B/llama.cases 1
check_cases "llama --no-special" $B/llama.json $B/llama.cases 0 --no-special
check_cases "qwen2 GGUF" $B/qwen2.gguf $B/qwen2_gguf.cases 1
check_cases "SentencePiece GGUF" $B/spm.gguf $B/spm_gguf.cases 1
check_cases "SentencePiece GGUF --no-special" $B/spm.gguf $B/spm_gguf.cases 0 --no-special
if [ -f "$SMOL" ]; then
    check_cases "SmolLM2 GGUF" "$SMOL" $B/smollm2.cases 1
    echo "<|im_start|>user" | "$TCF" tokenize --model "$SMOL" > "$TMP/im" 2>"$TMP/err"
    [ "$(cat "$TMP/im")" = "1 4093" ] && ok || bad "SmolLM2 <|im_start|>user gave '$(cat "$TMP/im")'"
else
    echo "  SKIP SmolLM2 GGUF: $SMOL absent (scripts/fetch_models.sh --all)"
fi
# --no-special also for WordPiece: [CLS]/[SEP] gone
echo "hello" | "$TCF" tokenize --model models/all-MiniLM-L6-v2 --no-special > "$TMP/wp" 2>"$TMP/err"
[ "$(cat "$TMP/wp")" = "7592" ] && ok || bad "WordPiece --no-special gave '$(cat "$TMP/wp")'"

# invalid UTF-8: the line is named, nothing printed
printf 'fine\nbad \xc3\x28 byte\n' > "$TMP/bad.txt"
expect_rc 1 "invalid UTF-8" -- "$TCF" tokenize --model $B/bytelevel.json --input "$TMP/bad.txt"
expect_err "bad.txt:2:" "invalid UTF-8 line"
expect_err "byte offset 4" "invalid UTF-8 offset"
expect_no_stdout "invalid UTF-8"

# bad tokenizers: a merge naming a token not in the vocab; no merges; unknown pre-tokenizer
sed 's/"merges":\[\[/"merges":[["zzqxq","t"],[/' $B/bytelevel.json > "$TMP/badmerge.json"
expect_rc 1 "merge not in vocab" -- "$TCF" tokenize --model "$TMP/badmerge.json" < /dev/null
expect_err 'badmerge.json: model.merges entry 1: token "zzqxq" is not in the vocab' "merge not in vocab"
expect_no_stdout "merge not in vocab"
sed 's/"merges":\[/"merges_gone":[/' $B/bytelevel.json > "$TMP/nomerge.json"
expect_rc 1 "no merges" -- "$TCF" tokenize --model "$TMP/nomerge.json" < /dev/null
expect_err "nomerge.json: model.merges is missing" "no merges"
sed 's/"type":"Digits"/"type":"Fancy"/' $B/bytelevel.json > "$TMP/badpre.json"
expect_rc 1 "unknown pre-tokenizer" -- "$TCF" tokenize --model "$TMP/badpre.json" < /dev/null
expect_err 'pre_tokenizer type "Fancy" is not supported' "unknown pre-tokenizer"
expect_rc 1 "GGUF without a tokenizer" -- "$TCF" tokenize --model tests/fixtures/gguf/types.gguf < /dev/null
expect_err "types.gguf: key 'tokenizer.ggml.model' is missing" "GGUF without a tokenizer"
summary cli_bpe

#!/usr/bin/env bash
# tcf quantize end to end: the tiny Llama checkpoint with a byte-level BPE
# tokenizer (tests/fixtures/quantize/tiny_tok) to every type; tcf inspect
# reads the files; tcf tokenize gives the same ids from the GGUF as from the
# directory (with and without specials); tcf embed gives identical features
# from the f32 file. Bad input: missing / truncated safetensors, unknown
# model_type, qwen2, a truncated GGUF, unsupported --type (nf4, q6_k), a
# missing --type: each exits non-zero with a message naming the cause, leaves
# an existing --out untouched and no temp file. With models/ present (not
# under the sanitizers): SmolLM2's GGUF and MiniLM to q8_0.
. "$(dirname "$0")/lib_cli.sh"
FQ=tests/fixtures/quantize/tiny_tok

expect_rc 0 "help" -- "$TCF" quantize --help
grep -q "compounds" "$TMP/out" && ok || bad "--help does not say re-quantizing compounds the error"

for t in f32 f16 q8_0 q4_0 q4_1; do
    expect_rc 0 "quantize $t" -- "$TCF" quantize --model "$FQ" --out "$TMP/$t.gguf" --type $t
    grep -q "12 tensors" "$TMP/err" && ok || bad "$t: summary: $(cat "$TMP/err")"
    expect_rc 0 "inspect $t" -- "$TCF" inspect "$TMP/$t.gguf"
    up=$(echo $t | tr a-z A-Z)
    grep -q "^  blk.0.attn_q.weight  $up " "$TMP/out" && ok || bad "$t: attn_q is not $up"
    grep -q "^  blk.0.attn_norm.weight  F32 " "$TMP/out" && ok || bad "$t: attn_norm is not F32"
    for k in general.architecture llama.block_count llama.rope.freq_base tokenizer.ggml.model tokenizer.ggml.merges \
             tokenizer.ggml.add_bos_token output.weight; do
        grep -q "^  $k " "$TMP/out" && ok || bad "$t: inspect lacks $k"
    done
done
case q8_0 in q8_0) grep -q '^  blk.0.ffn_down.weight  F16 ' <("$TCF" inspect "$TMP/q8_0.gguf") && ok || bad "ffn_down (rows of 80) is not the F16 fallback" ;; esac
# q4_k: rows of 64 are not whole super-blocks of 256: Q8_0 (the q8_0 file's
# bytes, test_quantize_model), ffn_down's rows of 80 F16; file_type Q4_K_S
expect_rc 0 "quantize q4_k" -- "$TCF" quantize --model "$FQ" --out "$TMP/q4_k.gguf" --type q4_k
grep -q "12 tensors (0 q4_k, 3 kept f32, 1 f16 fallback, 8 q8_0 fallback)" "$TMP/err" && ok || bad "q4_k: summary: $(cat "$TMP/err")"
expect_rc 0 "inspect q4_k" -- "$TCF" inspect "$TMP/q4_k.gguf"
grep -q '^  blk.0.attn_q.weight  Q8_0 ' "$TMP/out" && ok || bad "q4_k: attn_q is not the Q8_0 fallback"
grep -q '^  blk.0.ffn_down.weight  F16 ' "$TMP/out" && ok || bad "q4_k: ffn_down (rows of 80) is not F16"
grep -q '^  general.file_type  u32  14$' "$TMP/out" && ok || bad "q4_k: file_type is not 14"
ls -l "$TMP"/*.gguf | awk '{print "  " $5 " bytes  " $NF}'

# tokenize: directory (tokenizer.json) vs GGUF (tokenizer.ggml.*)
printf '%s\n' "Hello world" "  leading spaces and 12345 digits" "emoji 🦙🚀 and CJK 我想在apple工作" \
    "<|im_start|>user hi<|im_end|>" "Ünïcödé déjà vu" "3.14159 and 1,000,000" "x<tool_call>y" > "$TMP/texts.txt"
for sp in "" --no-special; do
    expect_rc 0 "tokenize dir $sp" -- "$TCF" tokenize --model "$FQ" $sp --input "$TMP/texts.txt"
    cp "$TMP/out" "$TMP/ids_dir"
    expect_rc 0 "tokenize gguf $sp" -- "$TCF" tokenize --model "$TMP/q4_0.gguf" $sp --input "$TMP/texts.txt"
    cmp -s "$TMP/out" "$TMP/ids_dir" && ok || bad "tokenize $sp differs: $(diff "$TMP/out" "$TMP/ids_dir" | head -4)"
done
echo "  tokenize: $(wc -l < "$TMP/ids_dir") texts, same ids from the directory and the GGUF (with and without specials)"
# the Qwen2 (NFC + Split) and Llama-3 (Split + TemplateProcessing BOS) byte-level
# tokenizers of tests/fixtures/bpe on the same weights (bos_token_id 0 to match
# their templates): pre qwen2 / llama-bpe, same ids from the GGUF
for n in qwen2 llama3; do
    mkdir -p "$TMP/tk_$n"
    sed 's/"bos_token_id": 1/"bos_token_id": 0/' "$FQ/config.json" > "$TMP/tk_$n/config.json"
    cp "$FQ/model.safetensors" "$TMP/tk_$n/"
    cp tests/fixtures/bpe/$n.json "$TMP/tk_$n/tokenizer.json"
    expect_rc 0 "quantize with the $n tokenizer" -- "$TCF" quantize --model "$TMP/tk_$n" --out "$TMP/tk_$n.gguf" --type q8_0
    for sp in "" --no-special; do
        expect_rc 0 "tokenize $n dir $sp" -- "$TCF" tokenize --model "$TMP/tk_$n" $sp --input "$TMP/texts.txt"
        cp "$TMP/out" "$TMP/ids_dir"
        expect_rc 0 "tokenize $n gguf $sp" -- "$TCF" tokenize --model "$TMP/tk_$n.gguf" $sp --input "$TMP/texts.txt"
        cmp -s "$TMP/out" "$TMP/ids_dir" && ok || bad "$n tokenize $sp differs: $(diff "$TMP/out" "$TMP/ids_dir" | head -4)"
    done
done
grep -q 'tokenizer.ggml.pre  string  "qwen2"' <("$TCF" inspect "$TMP/tk_qwen2.gguf") && ok || bad "qwen2 pre"
grep -q 'tokenizer.ggml.pre  string  "llama-bpe"' <("$TCF" inspect "$TMP/tk_llama3.gguf") && ok || bad "llama3 pre"

# embed: the f32 file gives the directory's features exactly
expect_rc 0 "embed dir" -- "$TCF" embed --model "$FQ" --pooling last --threads 2 --input "$TMP/texts.txt"
cp "$TMP/out" "$TMP/emb_dir"
expect_rc 0 "embed f32 gguf" -- "$TCF" embed --model "$TMP/f32.gguf" --pooling last --threads 2 --input "$TMP/texts.txt"
cmp -s "$TMP/out" "$TMP/emb_dir" && ok || bad "embed of the f32 GGUF differs from the directory's"

# bad input: each fails, the existing output stays, no temp file is left
echo "old contents" > "$TMP/keep.gguf"
bad_case() {  # DESC NEEDLE WANT_RC -- ARGS...
    local desc=$1 needle=$2 want=$3; shift 4
    expect_rc "$want" "$desc" -- "$TCF" quantize "$@" --out "$TMP/keep.gguf"
    expect_err "$needle" "$desc"
    [ "$(cat "$TMP/keep.gguf")" = "old contents" ] && ok || bad "$desc: existing --out was changed"
    ls "$TMP"/keep.gguf.tmp.* >/dev/null 2>&1 && bad "$desc: temp file left behind" || ok
}
mkdir -p "$TMP/nost" "$TMP/trunc" "$TMP/gpt2" "$TMP/qwen"
cp "$FQ/config.json" "$TMP/nost/"
cp "$FQ/config.json" "$FQ/tokenizer.json" "$TMP/trunc/"
head -c 100000 "$FQ/model.safetensors" > "$TMP/trunc/model.safetensors"
sed 's/"model_type": "llama"/"model_type": "gpt2"/' "$FQ/config.json" > "$TMP/gpt2/config.json"
cp "$FQ/model.safetensors" "$TMP/gpt2/"
head -c 50000 "$TMP/q8_0.gguf" > "$TMP/trunc.gguf"
bad_case "missing safetensors" "model.safetensors: missing" 1 -- --model "$TMP/nost" --type q8_0
bad_case "truncated safetensors" "model.safetensors" 1 -- --model "$TMP/trunc" --type q8_0
bad_case "unknown model_type" 'model_type "gpt2" is not converted' 1 -- --model "$TMP/gpt2" --type q8_0
bad_case "qwen2" "reads only llama's layout" 1 -- --model tests/fixtures/llama/tiny_qwen2 --type q8_0
bad_case "truncated gguf" "trunc.gguf" 1 -- --model "$TMP/trunc.gguf" --type q8_0
bad_case "missing input" "no such file" 1 -- --model "$TMP/nothing" --type q8_0
mkdir -p "$TMP/spm"
cp "$FQ/config.json" "$FQ/model.safetensors" "$TMP/spm/"
cp tests/fixtures/bpe/metaspace.json "$TMP/spm/tokenizer.json"
bad_case "SentencePiece-style tokenizer" "only byte-level BPE tokenizers" 1 -- --model "$TMP/spm" --type q8_0
bad_case "nf4" "GGUF has no NF4 type" 2 -- --model "$FQ" --type nf4
bad_case "q6_k" "--type must be f32, f16, bf16, q8_0, q4_0, q4_1 or q4_k" 2 -- --model "$FQ" --type q6_k
bad_case "no --type" "--type are required" 2 -- --model "$FQ"
expect_rc 1 "out == in" -- "$TCF" quantize --model "$TMP/q8_0.gguf" --out "$TMP/q8_0.gguf" --type q4_0
expect_err "is the input itself" "out == in"

# real models (fetched by scripts/fetch_models.sh; skipped under the sanitizers)
SMOL=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "$SMOL" ] && [ "$SANITIZED" = 0 ]; then
    expect_rc 0 "SmolLM2 q8_0" -- "$TCF" quantize --model "$SMOL" --out "$TMP/smol.gguf" --type q8_0
    echo "  $(tail -1 "$TMP/err")"
    expect_rc 0 "embed SmolLM2" -- "$TCF" embed --model "$SMOL" --pooling last --threads 2 --input "$TMP/texts.txt"
    cp "$TMP/out" "$TMP/smol_src"
    expect_rc 0 "embed SmolLM2 q8_0" -- "$TCF" embed --model "$TMP/smol.gguf" --pooling last --threads 2 --input "$TMP/texts.txt"
    # features are O(10) (max ~33); q8_0 of the Q4_1-decoded weights moves them by well under 1
    paste -d'\n' "$TMP/smol_src" "$TMP/out" | tr -d '[]' | awk -F, 'NR % 2 {n = split($0, a, ","); next}
        {for (i = 1; i <= NF; i++) {d = $i - a[i]; if (d < 0) d = -d; if (d > m) m = d}}
        END {printf "  SmolLM2 Q4_1 -> q8_0: max |d feature| (pooling last) = %.4g\n", m; exit !(m < 1)}' && ok || bad "SmolLM2 q8_0 features moved by >= 1"
    expect_rc 0 "tokenize SmolLM2 q8_0" -- "$TCF" tokenize --model "$TMP/smol.gguf" --input "$TMP/texts.txt"
    cp "$TMP/out" "$TMP/smol_ids"
    expect_rc 0 "tokenize SmolLM2" -- "$TCF" tokenize --model "$SMOL" --input "$TMP/texts.txt"
    cmp -s "$TMP/out" "$TMP/smol_ids" && ok || bad "SmolLM2 q8_0 tokenizes differently"
    rm -f "$TMP/smol.gguf"
else
    echo "SKIP SmolLM2 part: $SMOL absent or sanitized build"
fi
if [ -f "$MODEL/model.safetensors" ] && [ "$SANITIZED" = 0 ]; then
    expect_rc 0 "MiniLM q8_0" -- "$TCF" quantize --model "$MODEL" --out "$TMP/minilm.gguf" --type q8_0
    echo "  $(tail -1 "$TMP/err")"
    expect_rc 0 "inspect MiniLM q8_0" -- "$TCF" inspect "$TMP/minilm.gguf"
    grep -q '^  bert.pooling_type  u32  1' "$TMP/out" && ok || bad "MiniLM: bert.pooling_type is not 1 (mean)"
    grep -q '^  blk.0.attn_q.weight  Q8_0' "$TMP/out" && ok || bad "MiniLM: attn_q is not Q8_0"
    expect_rc 0 "MiniLM q4_k" -- "$TCF" quantize --model "$MODEL" --out "$TMP/minilm.gguf" --type q4_k
    echo "  $(tail -1 "$TMP/err")"
    expect_rc 0 "inspect MiniLM q4_k" -- "$TCF" inspect "$TMP/minilm.gguf"
    grep -q '^  blk.0.ffn_down.weight  Q4_K' "$TMP/out" && ok || bad "MiniLM q4_k: ffn_down (rows of 1536) is not Q4_K"
    rm -f "$TMP/minilm.gguf"
else
    echo "SKIP MiniLM part: $MODEL absent or sanitized build"
fi
summary cli_quantize

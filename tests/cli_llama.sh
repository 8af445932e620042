#!/usr/bin/env bash
# tcf embed --ids on decoders (tiny random Llama / Qwen2 / Phi-3 checkpoints,
# the Llama as GGUF, SmolLM2 when fetched) against transformers' pooled
# features (tests/fixtures/llama/, tests/ref/gen_llama_fixtures.py); bad ids
# and missing tokenizers fail cleanly with no output.
. "$(dirname "$0")/lib_cli.sh"
LF=tests/fixtures/llama

# real token ids of each row of a fixture batch (ids.i32 + mask.u8, T per row)
ids_txt() {
    paste -d'|' <(od -An -v -td4 -w$((4 * $2)) "$1/ids.i32") <(od -An -v -tu1 -w$2 "$1/mask.u8") |
        awk -F'|' '{ n = split($1, id, " "); split($2, m, " "); s = "";
                     for (i = 1; i <= n; i++) if (m[i] == 1) s = s (s == "" ? "" : " ") id[i]; print s }'
}
# max |a-b| / max |b| between JSON-lines output and a raw f32 fixture
maxrel() {
    od -An -v -tf4 -w4 "$2" | awk 'NR == FNR { ref[NR] = $1; a = $1 < 0 ? -$1 : $1; if (a > mb) mb = a; next }
        { gsub(/[\[\]]/, ""); n = split($0, v, ","); for (i = 1; i <= n; i++) { k++; d = v[i] - ref[k]; if (d < 0) d = -d; if (d > m) m = d } }
        END { if (k != length(ref)) { print "count", k, length(ref); exit 1 } printf "%.3g\n", m / mb }' - "$1"
}
within() { awk -v d="$1" 'BEGIN { exit !(d + 0 <= 1e-4) }'; }

for m in tiny_llama tiny_qwen2 tiny_phi3 tiny_llama.gguf; do
    ref=$LF/${m%.gguf}/ref
    ids_txt $ref 7 > "$TMP/ids.txt"
    for p in last mean; do
        expect_rc 0 "$m --pooling $p" -- "$TCF" embed --model $LF/$m --ids --pooling $p --threads 2 < "$TMP/ids.txt"
        d=$(maxrel "$TMP/out" $ref/$p.f32) && within "$d" && ok || bad "$m $p pooling vs transformers: max rel diff $d"
        echo "  $m, $p pooling: max rel diff vs transformers $d"
    done
done
# batch 1 and an --input file give the same numbers
ids_txt $LF/tiny_qwen2/ref 7 > "$TMP/ids.txt"
expect_rc 0 "batch 1" -- "$TCF" embed --model $LF/tiny_qwen2 --ids --pooling last --batch 1 --input "$TMP/ids.txt"
d=$(maxrel "$TMP/out" $LF/tiny_qwen2/ref/last.f32) && within "$d" && ok || bad "batch 1: $d"
# --max-len keeps the first N ids: a 300-id line cut to 256 runs, and equals the 256-id line
seq -s' ' 1 300 > "$TMP/long.txt"; seq -s' ' 1 256 > "$TMP/cut.txt"
expect_rc 0 "--max-len on ids" -- "$TCF" embed --model $LF/tiny_llama.gguf --ids --max-len 256 --input "$TMP/long.txt"
mv "$TMP/out" "$TMP/long.out"
expect_rc 0 "256 ids" -- "$TCF" embed --model $LF/tiny_llama.gguf --ids --input "$TMP/cut.txt"
cmp -s "$TMP/out" "$TMP/long.out" && ok || bad "--max-len 256 differs from the first 256 ids"
SMOL=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f $SMOL ]; then
    ids_txt $LF/smollm2 12 > "$TMP/ids.txt"
    expect_rc 0 "SmolLM2" -- "$TCF" embed --model $SMOL --ids --pooling last --threads 2 < "$TMP/ids.txt"
    d=$(maxrel "$TMP/out" $LF/smollm2/last.f32) && within "$d" && ok || bad "SmolLM2 last pooling: $d"
    # text in: the GGUF's own BPE tokenizer, then the decoder; must equal
    # tokenize | embed --ids (both halves are parity-checked on their own)
    printf '%s\n' "I was charged twice for my subscription" "where is my package?" "日本語 and emoji 🎉" > "$TMP/q.txt"
    expect_rc 0 "SmolLM2 tokenize" -- "$TCF" tokenize --model $SMOL --input "$TMP/q.txt"
    cp "$TMP/out" "$TMP/q.ids"
    expect_rc 0 "SmolLM2 embed --ids" -- "$TCF" embed --model $SMOL --ids --pooling last --threads 2 < "$TMP/q.ids"
    cp "$TMP/out" "$TMP/q.from_ids"
    expect_rc 0 "SmolLM2 embed text" -- "$TCF" embed --model $SMOL --pooling last --threads 2 < "$TMP/q.txt"
    cmp -s "$TMP/out" "$TMP/q.from_ids" && ok || bad "SmolLM2: embedding text differs from tokenize | embed --ids"
    echo "  SmolLM2-135M, last pooling: max rel diff vs transformers $d"
else
    echo "SKIP SmolLM2 CLI check: $SMOL absent (scripts/fetch_models.sh --all)"
fi

# bad inputs: named line, exit 1, nothing on stdout
M=$LF/tiny_llama.gguf
printf '5 6 7\n8 x9\n' > "$TMP/bad.txt"
expect_rc 1 "not an id" -- "$TCF" embed --model $M --ids --input "$TMP/bad.txt"
expect_err "bad.txt:2: 'x9' is not a token id" "not an id"
expect_no_stdout "not an id"
printf '5 6 7\n\n3\n' > "$TMP/bad.txt"
expect_rc 1 "empty line" -- "$TCF" embed --model $M --ids --input "$TMP/bad.txt"
expect_err "bad.txt:2: no token ids" "empty line"
expect_no_stdout "empty line"
printf '5 6 7\n1 512\n' > "$TMP/bad.txt"
expect_rc 1 "out of vocab" -- "$TCF" embed --model $M --ids < "$TMP/bad.txt"
expect_err "stdin:2: token id 512 (position 2) outside the vocabulary [0, 512)" "out of vocab"
expect_no_stdout "out of vocab"
printf '1 -3\n' > "$TMP/bad.txt"
expect_rc 1 "negative id" -- "$TCF" embed --model $M --ids < "$TMP/bad.txt"
expect_err "stdin:1: '-3' is not a token id" "negative id"
seq -s' ' 1 300 > "$TMP/bad.txt"
expect_rc 1 "too long" -- "$TCF" embed --model $M --ids < "$TMP/bad.txt"
expect_err "stdin:1: 300 token ids exceed the model's 256 positions" "too long"
expect_rc 1 "decoder without --ids" -- "$TCF" embed --model $M <<< "hello"
expect_err "give token ids (tcf embed --ids)" "decoder without --ids"
expect_no_stdout "decoder without --ids"
head -c 3000 $M > "$TMP/trunc.gguf"
expect_rc 1 "truncated gguf" -- "$TCF" embed --model "$TMP/trunc.gguf" --ids <<< "1 2"
expect_err "$TMP/trunc.gguf" "truncated gguf names the file"
expect_no_stdout "truncated gguf"
expect_rc 2 "bad pooling" -- "$TCF" embed --model $M --ids --pooling max
expect_err "--pooling must be mean, cls or last" "bad pooling"
summary cli_llama

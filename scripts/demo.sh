#!/usr/bin/env bash
# The README demo: set up (idempotent), then run tcf on the project's own demo
# dataset (data/demo/, 15 support-desk categories): tokenize, embed, fine-tune
# a classifier with LoRA, evaluate it on the test split and predict new
# queries, then export it as one quantized file, from a real pretrained
# checkpoint (all-MiniLM-L6-v2), with no Python at run time. About 3 minutes on 2 cores after set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
TCF=build/tcf
MODEL=models/all-MiniLM-L6-v2
OUT=build/demo; mkdir -p $OUT

queries=("I was charged twice for my subscription this month"
         "why is there an extra fee on my invoice??"
         "my package still hasnt arrived, tracking says in transit"
         "where is my order #A12345")

echo
echo "== 1. tokenize (WordPiece, ids identical to Hugging Face tokenizers)"
printf '%s\n' "${queries[@]}" > $OUT/queries.txt
paste -d'\n' $OUT/queries.txt <($TCF tokenize --model $MODEL --input $OUT/queries.txt | sed 's/^/   -> /')

echo
echo "== 2. embed: mean-pooled, L2-normalised sentence embeddings (384 floats each)"
$TCF embed --model $MODEL --normalize --input $OUT/queries.txt > $OUT/queries.jsonl
echo "   cosine similarity (billing, billing, shipping, shipping):"
awk '{ gsub(/[\[\]]/, ""); n = split($0, v, ","); for (i = 1; i <= n; i++) e[NR, i] = v[i]; d = n }
     END { for (a = 1; a <= NR; a++) { line = "     "; for (b = 1; b <= NR; b++) { s = 0;
           for (i = 1; i <= d; i++) s += e[a, i] * e[b, i]; line = line sprintf("  %5.2f", s) } print line } }' \
    $OUT/queries.jsonl
echo "   (same intent => higher similarity; this is what the classifier will build on)"

echo
echo "== 3. fine-tune: LoRA (r=8, all dense layers) + classification head on data/demo/train.csv"
echo "   (3,150 queries, 15 categories; validation on data/demo/valid.csv; 2 epochs, 2 threads)"
rm -rf $OUT/run
$TCF train --model $MODEL --train data/demo/train.csv --valid data/demo/valid.csv --out $OUT/run \
    --epochs 2 --lr 2e-3 --max-len 64 --threads 2 2>&1 | grep -v '^epoch [0-9]*/[0-9]* step' | sed 's/^/   /'
echo "   run directory: $(ls $OUT/run | tr '\n' ' ')"

echo
echo "== 4. evaluate on the held-out test split (data/demo/test.csv)"
$TCF eval --model $OUT/run --data data/demo/test.csv --report $OUT/test_report.json --threads 2 | sed 's/^/   /'

echo
echo "== 5. predict"
printf '%s\n' "${queries[@]}" "please delete my account and all the data you hold on me" \
    "the app crashes every time i open settings, error 0x80070005" |
    $TCF predict --model $OUT/run --top 2 --threads 2 | paste -d'\n' - /dev/null |
    paste -d' ' <(printf '%s\n' "${queries[@]}" "please delete my account and all the data you hold on me" \
                  "the app crashes every time i open settings, error 0x80070005" | paste -d'\n' - /dev/null) - |
    sed -n 's/^\(.\+\) \({.*\)$/   \1\n      -> \2/p'
echo
echo "== 6. export: one file (LoRA merged, dense weights Q8_0, tokenizer + labels inside)"
$TCF export --model $OUT/run --out $OUT/demo.q8_0.gguf --type q8_0
echo "   $OUT/demo.q8_0.gguf: $(du -h $OUT/demo.q8_0.gguf | cut -f1) (the base model's f32 safetensors: $(du -ch $MODEL/model.safetensors | tail -1 | cut -f1))"
$TCF eval --model $OUT/demo.q8_0.gguf --data data/demo/test.csv --threads 2 | head -1 | sed 's/^/   /'
echo "   serve it: $TCF serve --model $OUT/demo.q8_0.gguf --port 8080"
echo "             curl -d '{\"text\": \"I was charged twice\"}' -H 'Content-Type: application/json' localhost:8080/v1/classify"
echo
echo "The adapter in $OUT/run is in PEFT's format: Python peft can load it onto"
echo "BertForSequenceClassification(all-MiniLM-L6-v2) with PeftModel.from_pretrained."

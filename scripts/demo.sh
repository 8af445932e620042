#!/usr/bin/env bash
# The README demo: set up (idempotent), then run tcf on the project's own demo
# dataset (data/demo/, 15 support-desk categories). Until fine-tuning lands it
# shows the foundation: exact tokenization and sentence embeddings from a real
# pretrained checkpoint (all-MiniLM-L6-v2), with no Python at run time.
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
n=$(($(wc -l < data/demo/test.csv) - 1))
echo "== 3. embed the demo test set: $n queries from data/demo/test.csv, 2 threads"
start=$(date +%s.%N)
$TCF embed --model $MODEL --normalize --threads 2 --input data/demo/test.csv > $OUT/test.jsonl
end=$(date +%s.%N)
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "   %d embeddings in %.2f s (%.0f queries/s) -> %s\n", n, e - s, n / (e - s), "'$OUT/test.jsonl'" }'
echo
echo "Next: tcf train / eval / predict (fine-tuning) — see the README's roadmap."

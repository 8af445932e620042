#!/usr/bin/env bash
# make install + pkg-config + the C API example (examples/classify.c): the
# installed header and library build a program that gives the same labels
# and scores as `tcf predict` on a small real run.
source "$(dirname "$0")/lib_cli.sh"
B=$(dirname "$TCF")
SAN=""; [ "$SANITIZED" = 1 ] && SAN="-fsanitize=address,undefined"

expect_rc 0 "make install" -- make -s B="$B" PREFIX="$TMP/prefix" install
for f in bin/tcf lib/libtcf.a include/tcf.h lib/pkgconfig/tcf.pc; do
    [ -f "$TMP/prefix/$f" ] && ok || bad "install: $f missing"
done
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs tcf) && ok || bad "pkg-config tcf failed"
expect_rc 0 "build the example against the installed library" -- \
    cc -std=c11 -Wall -Werror $SAN examples/classify.c $flags -o "$TMP/classify"

# a small real run (head only: seconds)
head -1 data/demo/train.csv > "$TMP/train.csv"; sed -n '2,301p' data/demo/train.csv >> "$TMP/train.csv"
head -1 data/demo/valid.csv > "$TMP/valid.csv"; sed -n '2,61p' data/demo/valid.csv >> "$TMP/valid.csv"
expect_rc 0 "train a head-only run" -- "$TCF" train --mode head --model $MODEL --train "$TMP/train.csv" \
    --valid "$TMP/valid.csv" --out "$TMP/run" --epochs 2 --max-len 32 --threads 2 --seed 3

printf '%s\n' "I was charged twice for my subscription" "the app crashes when I log in" \
    "where is my package" "I want to cancel my account" > "$TMP/q.txt"
expect_rc 0 "example on stdin" -- "$TMP/classify" "$TMP/run" < "$TMP/q.txt"
cp "$TMP/out" "$TMP/ex.tsv"
[ "$(wc -l < "$TMP/ex.tsv")" = 4 ] && ok || bad "example printed $(wc -l < "$TMP/ex.tsv") lines, wanted 4"
expect_rc 0 "tcf predict" -- "$TCF" predict --model "$TMP/run" --top 1 < "$TMP/q.txt"
# same label and score (4 decimals) per line
paste <(cut -f1,2 "$TMP/ex.tsv") <(sed -E 's/^\{"label": "([^"]*)", "score": ([0-9.]+).*/\1\t\2/' "$TMP/out") |
    awk -F'\t' '{ if ($1 != $3 || ($2 - $4) > 1e-4 || ($4 - $2) > 1e-4) bad++ } END { exit bad > 0 }' \
    && ok || bad "example and tcf predict disagree: $(cat "$TMP/ex.tsv") / $(cat "$TMP/out")"
expect_rc 0 "example with arguments" -- "$TMP/classify" "$TMP/run" "I was charged twice for my subscription"
[ "$(cut -f1 "$TMP/out")" = "$(head -1 "$TMP/ex.tsv" | cut -f1)" ] && ok || bad "argument vs stdin label"
expect_rc 1 "example on a missing model" -- "$TMP/classify" "$TMP/nope"
expect_err "not a tcf run directory" "example error message"
summary cli_install

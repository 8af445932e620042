#!/usr/bin/env bash
# tcf tokenize end to end: ids equal the Hugging Face tokenizer's on the
# fixture texts; options; bad input gives a clear error and no output.
. "$(dirname "$0")/lib_cli.sh"

expect_rc 0 "tokenize fixture texts" -- "$TCF" tokenize --model $MODEL --threads 2 < $FIX/texts.txt
if cmp -s "$TMP/out" $FIX/ids.txt; then ok; else bad "ids differ from HF tokenizers: $(diff "$TMP/out" $FIX/ids.txt | head -5)"; fi
echo "  $(wc -l < $FIX/texts.txt) texts tokenized, ids identical to tokenizers"

expect_rc 0 "tokenizer.json path" -- "$TCF" tokenize --model $MODEL/tokenizer.json --threads 1 < $FIX/texts.txt
cmp -s "$TMP/out" $FIX/ids.txt && ok || bad "tokenizer.json path: ids differ"

# --no-special: the same ids without [CLS]/[SEP], for texts that were not truncated
expect_rc 0 "--no-special" -- "$TCF" tokenize --model $MODEL --no-special < $FIX/texts.txt
awk 'NF < 128 { $1 = ""; $NF = ""; sub(/^ /, ""); sub(/ $/, ""); print }' $FIX/ids.txt > "$TMP/want"
paste -d'|' $FIX/ids.txt "$TMP/out" | awk -F'|' '{ n = split($1, a, " "); if (n < 128) print $2 }' > "$TMP/got"
cmp -s "$TMP/got" "$TMP/want" && ok || bad "--no-special ids differ"

# --max-len truncates, specials kept
echo "one two three four five six" | "$TCF" tokenize --model $MODEL --max-len 4 > "$TMP/trunc" 2>"$TMP/err"
[ "$(cat "$TMP/trunc")" = "101 2028 2048 102" ] && ok || bad "--max-len 4 gave '$(cat "$TMP/trunc")'"

# CSV input: quoted commas and line ends, CRLF
printf 'text,label\r\n"hello, world",a\r\n"two\r\nlines",b\r\n' > "$TMP/in.csv"
expect_rc 0 "csv input" -- "$TCF" tokenize --model $MODEL --input "$TMP/in.csv"
[ "$(wc -l < "$TMP/out")" = 2 ] && ok || bad "csv input: $(wc -l < "$TMP/out") lines of output, wanted 2"
printf 'text,label\r\n"hello, world",a\r\nragged\r\n' > "$TMP/bad.csv"
expect_rc 1 "ragged csv" -- "$TCF" tokenize --model $MODEL --input "$TMP/bad.csv"
expect_err "bad.csv:3: 1 fields, but the header has 2" "ragged csv"
expect_no_stdout "ragged csv"
expect_rc 1 "csv without the column" -- "$TCF" tokenize --model $MODEL --input "$TMP/in.csv" --column body
expect_err 'no column "body"' "missing column"

# Invalid UTF-8 on line 2: error names the line, nothing printed
printf 'fine\nbad \xff byte\nfine too\n' > "$TMP/bad.txt"
expect_rc 1 "invalid UTF-8" -- "$TCF" tokenize --model $MODEL --input "$TMP/bad.txt"
expect_err "bad.txt:2:" "invalid UTF-8 line number"
expect_no_stdout "invalid UTF-8"

# Usage errors
expect_rc 0 "--help" -- "$TCF" tokenize --help
expect_rc 2 "no --model" -- "$TCF" tokenize
expect_err "--model is required" "no --model"
expect_rc 2 "unknown option" -- "$TCF" tokenize --model $MODEL --frobnicate
expect_rc 2 "bad --threads" -- "$TCF" tokenize --model $MODEL --threads zero
expect_rc 2 "unknown command" -- "$TCF" frobnicate
expect_rc 1 "missing model" -- "$TCF" tokenize --model /nonexistent/model
expect_err "/nonexistent/model" "missing model path"
summary cli_tokenize

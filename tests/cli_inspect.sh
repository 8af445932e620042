#!/usr/bin/env bash
# tcf inspect: the GGUF fixture's metadata and tensor table as gguf-py wrote
# them (tests/ref/gen_gguf_fixtures.py); a corrupt file gives a clear error
# and no output; the real SmolLM2 file when present.
. "$(dirname "$0")/lib_cli.sh"
G=tests/fixtures/gguf

expect_rc 0 "inspect types.gguf" -- "$TCF" inspect $G/types.gguf
for want in \
    "$G/types.gguf: GGUF v3, 24 metadata keys, 11 tensors, alignment 64, data at byte 1408" \
    '  t.u64  u64  9223372036854775813' \
    '  t.i64  i64  -4611686018427387911' \
    '  t.string  string  "héllo"' \
    '  t.arr_str  array[string x 3]  ["a", "bc", ""]' \
    '  t.arr_nested  array[array x 2]  [[1, 2], [3]]' \
    '  t.arr_bool  array[bool x 3]  [true, false, true]' \
    '  f16_4d  F16  [8, 3, 2, 1]  offset 128  96 bytes' \
    '  q6_k  Q6_K  [512, 2]  offset 1728  840 bytes'; do
    grep -qxF -- "$want" "$TMP/out" && ok || bad "inspect output lacks '$want'"
done
[ "$(grep -c '^  ' "$TMP/out")" = 35 ] && ok || bad "inspect: $(grep -c '^  ' "$TMP/out") entries, wanted 24 keys + 11 tensors"

expect_rc 0 "--max-array 1" -- "$TCF" inspect --max-array 1 $G/types.gguf
grep -qxF '  t.arr_u32  array[u32 x 3]  [1, ... 2 more]' "$TMP/out" && ok || bad "--max-array 1: $(grep arr_u32 "$TMP/out")"

head -c 1000 $G/types.gguf > "$TMP/cut.gguf"
expect_rc 1 "truncated header" -- "$TCF" inspect "$TMP/cut.gguf"
expect_err "tcf inspect: $TMP/cut.gguf: tensor 'bf16': n_dims (4 bytes at byte 999) runs past the end of the file (1000 bytes)" "truncated header"
expect_no_stdout "truncated header"
head -c 3000 $G/types.gguf > "$TMP/cut.gguf"
expect_rc 1 "truncated data" -- "$TCF" inspect "$TMP/cut.gguf"
expect_err "tcf inspect: $TMP/cut.gguf: tensor 'q4_k': Q4_K 512x2x1x1 needs 576 bytes at offset 1152 but the data section holds 1592" "truncated data"
expect_no_stdout "truncated data"
expect_rc 1 "not gguf" -- "$TCF" inspect tests/fixtures/gguf/../../../README.md
expect_err "not a GGUF file" "not gguf"
expect_no_stdout "not gguf"
expect_rc 1 "missing file" -- "$TCF" inspect "$TMP/nope.gguf"
expect_err "nope.gguf: cannot open" "missing file"
expect_rc 2 "no file" -- "$TCF" inspect
expect_err "no file given" "no file"
expect_rc 2 "bad option" -- "$TCF" inspect --bogus $G/types.gguf
expect_rc 0 "--help" -- "$TCF" inspect --help

SMOL=models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "$SMOL" ]; then
    expect_rc 0 "inspect SmolLM2" -- "$TCF" inspect "$SMOL"
    for want in '  general.architecture  string  "llama"' '  llama.block_count  u32  30' \
        '  token_embd.weight  Q8_0  [576, 49152]  offset 0  30081024 bytes'; do
        grep -qxF -- "$want" "$TMP/out" && ok || bad "SmolLM2 inspect lacks '$want'"
    done
else
    echo "  note: $SMOL absent (scripts/fetch_models.sh --all): SmolLM2 inspect skipped"
fi
summary cli_inspect

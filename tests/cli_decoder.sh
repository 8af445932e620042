#!/usr/bin/env bash
# tcf train / eval / predict on a Llama-family decoder, end to end, on the tiny
# random Llama (tests/fixtures/llama/tiny_llama) with a 400-token byte-level BPE
# trained on the demo data (tests/ref/gen_tiny_decoder_tokenizer.py):
#  - QLoRA on a q8_0 base: the loss falls, the run directory holds a PEFT
#    adapter with the Llama key names, tcf eval on the validation file gives
#    exactly the validation accuracy the trainer recorded for the best epoch,
#    predict gives one JSON line per text, --resume of a finished run is a
#    no-op, and an interrupted run resumed ends with the same adapter bytes;
#  - nf4 + double quantization and f32 train too; recompute on/off give the
#    same adapter bytes;
#  - an adapter tcf wrote gives, in Python PEFT, the probabilities tcf predicts;
#  - --pooling mean: recorded, eval = trainer, resumable, differs from last;
#  - --lora-dropout: recorded, changes the adapter, resumable to the same bytes;
#  - tcf export of a decoder run: the PEFT-checked adapter's f32 export gives
#    PEFT's probabilities, mean pooling and the abstain threshold survive,
#    q8_0 / q4_1 exports stay close, a truncated or plain GGUF is refused;
#    --no-merge keeps a GGUF base's blocks + the adapters: the run's numbers;
#  - tcf quantize's q4_0 file trains with --quant keep (its own blocks);
#  - refused: --quant keep on a directory, --mode head, an
#    unknown --quant, a tokenizer larger than the vocabulary.
. "$(dirname "$0")/lib_cli.sh"
L=tests/fixtures/llama
M="$TMP/tiny"
mkdir -p "$M"
cp "$L/tiny_llama/config.json" "$L/tiny_llama/model.safetensors" "$M/"
cp "$L/tiny_decoder_tokenizer.json" "$M/tokenizer.json"
# the first K rows of every label (the label is the last field, never quoted)
K=$([ "$SANITIZED" = 1 ] && echo 4 || echo 27)
head -1 data/demo/train.csv > "$TMP/train.csv"
tail -n +2 data/demo/train.csv | awk -F, -v k="$K" '{ if (n[$NF]++ < k) print }' >> "$TMP/train.csv"
head -1 data/demo/valid.csv > "$TMP/valid.csv"
tail -n +2 data/demo/valid.csv | head -n 60 >> "$TMP/valid.csv"
COMMON=(--train "$TMP/train.csv" --valid "$TMP/valid.csv" --epochs 2 --batch 16 --lr 3e-3 --max-len 48 --threads 2 --seed 7)

expect_rc 0 "train q8_0" -- "$TCF" train --model "$M" --out "$TMP/r8" --quant q8_0 "${COMMON[@]}"
cp "$TMP/err" "$TMP/train8.log"
grep -q "frozen base q8_0" "$TMP/err" && ok || bad "train log does not name the q8_0 base: $(head -c 300 "$TMP/err")"
l1=$(grep -o 'epoch 1: train loss [0-9.]*' "$TMP/err" | awk '{print $5}')
l2=$(grep -o 'epoch 2: train loss [0-9.]*' "$TMP/err" | awk '{print $5}')
awk -v a="$l1" -v b="$l2" 'BEGIN { exit !(b < a) }' && ok || bad "train loss did not fall: $l1 -> $l2"
for f in adapter_config.json adapter_model.safetensors tcf_run.json train_state.safetensors; do
    [ -s "$TMP/r8/$f" ] && ok || bad "run directory lacks $f"
done
grep -q '"q_proj"' "$TMP/r8/adapter_config.json" && grep -q '"down_proj"' "$TMP/r8/adapter_config.json" && ok ||
    bad "adapter_config.json lacks the Llama target modules"
grep -aq 'base_model.model.model.layers.1.mlp.down_proj.lora_B.weight' "$TMP/r8/adapter_model.safetensors" &&
    grep -aq 'base_model.model.score.weight' "$TMP/r8/adapter_model.safetensors" && ok ||
    bad "adapter_model.safetensors lacks PEFT's Llama key names"
grep -q '"architecture":.*"llama-sequence-classification"' "$TMP/r8/tcf_run.json" &&
    grep -q '"base_quant":.*"q8_0"' "$TMP/r8/tcf_run.json" && ok || bad "tcf_run.json lacks architecture / base_quant"

# eval on the validation file = the trainer's validation accuracy of the best epoch
be=$(sed -n 's/^best epoch \([0-9]*\):.*/\1/p' "$TMP/train8.log")
best=$(sed -n "s/^epoch $be: .*valid accuracy \([0-9.]*\),.*/\1/p" "$TMP/train8.log")
expect_rc 0 "eval" -- "$TCF" eval --model "$TMP/r8" --data "$TMP/valid.csv" --threads 2
acc=$(grep -o 'accuracy [0-9.]*' "$TMP/out" | head -1 | awk '{print $2}')
[ "$acc" = "$best" ] && ok || bad "eval accuracy $acc != the trainer's best validation accuracy $best"
echo "  q8_0 QLoRA: train loss $l1 -> $l2, valid accuracy $acc (trainer: $best)"
printf 'my card was charged twice\nhow do I reset my password\n' > "$TMP/texts.txt"
expect_rc 0 "predict" -- "$TCF" predict --model "$TMP/r8" --input "$TMP/texts.txt" --threads 1
[ "$(grep -c '"label"' "$TMP/out")" = 2 ] && ok || bad "predict wrote $(wc -l < "$TMP/out") lines"
expect_rc 0 "resume finished" -- "$TCF" train --resume "$TMP/r8"
expect_err "nothing to do" "resume of a finished run"

# an interrupted run, resumed, ends with the same adapter:
# killed_resumes_to WHAT OUT REF TRAIN-ARGS... (killed after its 2nd checkpoint)
killed_resumes_to() {
    local what=$1 out=$2 ref=$3; shift 3
    TCF_TEST_KILL_AFTER_CHECKPOINT=2 "$TCF" train --out "$out" --checkpoint-steps 5 "$@" > /dev/null 2>&1
    [ $? = 137 ] && ok || bad "the kill hook did not fire ($what)"
    expect_rc 0 "resume killed $what" -- "$TCF" train --resume "$out"
    cmp -s "$out/adapter_model.safetensors" "$ref/adapter_model.safetensors" && ok ||
        bad "a resumed $what run's adapter differs from the uninterrupted run's"
}
killed_resumes_to q8_0 "$TMP/rk" "$TMP/r8" --model "$M" --quant q8_0 "${COMMON[@]}"

# other base formats; recompute does not change the result
expect_rc 0 "train nf4+dq" -- "$TCF" train --model "$M" --out "$TMP/rn" --quant nf4 --double-quant "${COMMON[@]}"
grep -q "frozen base nf4" "$TMP/err" && ok || bad "nf4 base not named"
expect_rc 0 "eval nf4" -- "$TCF" eval --model "$TMP/rn" --data "$TMP/valid.csv" --threads 2
expect_rc 0 "train f32" -- "$TCF" train --model "$M" --out "$TMP/rf" --quant f32 --no-recompute "${COMMON[@]}"
expect_rc 0 "train f32 recompute" -- "$TCF" train --model "$M" --out "$TMP/rfr" --quant f32 "${COMMON[@]}"
cmp -s "$TMP/rf/adapter_model.safetensors" "$TMP/rfr/adapter_model.safetensors" && ok ||
    bad "recompute changed the trained adapter"

# mean pooling: recorded in the run, eval reproduces the trainer, a killed
# run resumes with it, and it trains a different head than the last token
MEAN=(--model "$M" --quant f32 --no-recompute --pooling mean "${COMMON[@]}")
expect_rc 0 "train mean pooling" -- "$TCF" train --out "$TMP/rm" "${MEAN[@]}"
cp "$TMP/err" "$TMP/trainm.log"
grep -q '"pooling":.*"mean"' "$TMP/rm/tcf_run.json" && ok || bad "tcf_run.json does not record mean pooling"
be=$(sed -n 's/^best epoch \([0-9]*\):.*/\1/p' "$TMP/trainm.log")
best=$(sed -n "s/^epoch $be: .*valid accuracy \([0-9.]*\),.*/\1/p" "$TMP/trainm.log")
expect_rc 0 "eval mean" -- "$TCF" eval --model "$TMP/rm" --data "$TMP/valid.csv" --threads 2
acc=$(grep -o 'accuracy [0-9.]*' "$TMP/out" | head -1 | awk '{print $2}')
[ -n "$acc" ] && [ "$acc" = "$best" ] && ok || bad "mean pooling: eval accuracy $acc != the trainer's $best"
echo "  f32 mean pooling: valid accuracy $acc (trainer: $best)"
! cmp -s "$TMP/rm/adapter_model.safetensors" "$TMP/rf/adapter_model.safetensors" && ok ||
    bad "mean pooling trained the same adapter as last-token pooling"
killed_resumes_to mean-pooling "$TMP/rmk" "$TMP/rm" "${MEAN[@]}"
# --lora-dropout: recorded in adapter_config.json, trains a different adapter
# than without, and a killed run resumes to the same bytes (the masks' step
# counter is in the checkpoint)
DROP=(--model "$M" --quant f32 --no-recompute --lora-dropout 0.2 "${COMMON[@]}")
expect_rc 0 "train lora-dropout" -- "$TCF" train --out "$TMP/rd" "${DROP[@]}"
grep -q '"lora_dropout": 0.2' "$TMP/rd/adapter_config.json" && ok ||
    bad "adapter_config.json does not record lora_dropout 0.2: $(grep lora_dropout "$TMP/rd/adapter_config.json")"
! cmp -s "$TMP/rd/adapter_model.safetensors" "$TMP/rf/adapter_model.safetensors" && ok ||
    bad "--lora-dropout 0.2 trained the same adapter as no dropout"
killed_resumes_to lora-dropout "$TMP/rdk" "$TMP/rd" "${DROP[@]}"
cp -r "$TMP/rm" "$TMP/bad_pool"
sed -i 's/"pooling":\t"mean"/"pooling":\t"max"/' "$TMP/bad_pool/tcf_run.json"
grep -q '"pooling":.*"max"' "$TMP/bad_pool/tcf_run.json" && ok || bad "could not corrupt the run's pooling"
expect_rc 1 "unknown pooling in tcf_run.json" -- "$TCF" predict --model "$TMP/bad_pool" --input "$TMP/texts.txt"
expect_err "pooling must be" "unknown pooling in tcf_run.json"
expect_no_stdout "unknown pooling in tcf_run.json"
expect_rc 2 "bad pooling" -- "$TCF" train --out "$TMP/x6" --model "$M" --pooling cls "${COMMON[@]}"
expect_err "--pooling must be last or mean" "bad pooling"
if [ -d "$MODEL" ]; then
    expect_rc 1 "pooling on an encoder" -- "$TCF" train --out "$TMP/x7" --model "$MODEL" --pooling mean "${COMMON[@]}"
    expect_err "for decoders only" "pooling on an encoder"
    [ ! -e "$TMP/x7" ] && ok || bad "a refused run left $TMP/x7"
else
    echo "  SKIP --pooling on an encoder: $MODEL absent"
fi

# the whole chain: an f16 directory -> tcf quantize q4_0 -> QLoRA on the file's own blocks
expect_rc 0 "quantize q4_0" -- "$TCF" quantize --model "$M" --out "$TMP/tiny.q4_0.gguf" --type q4_0
expect_rc 0 "train keep on a tcf-quantized GGUF" -- "$TCF" train --model "$TMP/tiny.q4_0.gguf" --out "$TMP/rq" "${COMMON[@]}"
grep -q "frozen base q4_0" "$TMP/err" && ok || bad "keep on the q4_0 file did not train on q4_0 blocks"
expect_rc 0 "eval keep" -- "$TCF" eval --model "$TMP/rq" --data "$TMP/valid.csv" --threads 2

# interchange: an adapter tcf trained, loaded by Python PEFT onto
# LlamaForSequenceClassification (tests/ref/gen_decoder_peft_fixture.py), gave
# peft_probs.json; tcf predict on that adapter must give the same
P=$L/decoder_peft
mkdir -p "$TMP/rp"
cp "$P/adapter_config.json" "$P/adapter_model.safetensors" "$TMP/rp/"
printf '{"format": "tcf-run", "version": 1, "base_model": "%s", "architecture": "llama-sequence-classification", "base_quant": "f32", "max_len": 48, "labels": %s, "train_config": {"mode": "lora"}}\n' \
    "$M" "$(sed 's/^{"labels": //; s/}$//' "$P/labels.json")" > "$TMP/rp/tcf_run.json"
expect_rc 0 "predict on the PEFT-checked adapter" -- "$TCF" predict --model "$TMP/rp" --input "$P/texts.txt" --top 100 --threads 1
python3 - "$TMP/out" "$P/peft_probs.json" "$P/labels.json" > "$TMP/cmp" 2>&1 <<'PY'
import json, sys
labels = json.load(open(sys.argv[3]))["labels"]
ref = json.load(open(sys.argv[2]))["probs"]
got = [dict(json.loads(l)["top"]) for l in open(sys.argv[1])]
d = max(abs(g[labels[k]] - r[k]) for g, r in zip(got, ref) for k in range(len(labels)))
print("max |tcf - peft| probability %.3g over %d texts x %d classes" % (d, len(ref), len(labels)))
sys.exit(0 if len(got) == len(ref) and d <= 1e-5 else 1)
PY
[ $? = 0 ] && ok || bad "tcf predict differs from PEFT on the same adapter: $(cat "$TMP/cmp")"
echo "  $(cat "$TMP/cmp")"

# one-file export (LoRA merged into the base's weights): the f32 file gives
# PEFT's probabilities for the PEFT-checked adapter, and the run's own
python3 - "$P/peft_probs.json" "$P/labels.json" > "$TMP/ref.jsonl" <<'PY'
import json, sys
labels = json.load(open(sys.argv[2]))["labels"]
for r in json.load(open(sys.argv[1]))["probs"]:
    print(json.dumps({"top": [[l, p] for l, p in zip(labels, r)]}))
PY
cmp_probs() { # A.jsonl B.jsonl TOL: every label's probability within TOL
    python3 - "$1" "$2" "$3" > "$TMP/cmp" 2>&1 <<'PY'
import json, sys
a = [dict(json.loads(l)["top"]) for l in open(sys.argv[1])]
b = [dict(json.loads(l)["top"]) for l in open(sys.argv[2])]
d = max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in y)
print("max |diff| probability %.3g over %d texts" % (d, len(a)))
sys.exit(0 if len(a) == len(b) and all(len(x) == len(y) for x, y in zip(a, b)) and d <= float(sys.argv[3]) else 1)
PY
}
expect_rc 0 "export the PEFT-checked adapter" -- "$TCF" export --model "$TMP/rp" --out "$TMP/rp.gguf"
expect_rc 0 "predict on the export" -- "$TCF" predict --model "$TMP/rp.gguf" --input "$P/texts.txt" --top 100 --threads 1
cp "$TMP/out" "$TMP/rp_export.jsonl"
cmp_probs "$TMP/rp_export.jsonl" "$TMP/ref.jsonl" 1e-5 && ok || bad "the f32 export differs from PEFT: $(cat "$TMP/cmp")"
echo "  f32 export vs PEFT: $(cat "$TMP/cmp")"
"$TCF" inspect "$TMP/rp.gguf" > "$TMP/inspect" 2>&1
grep -q 'general.architecture  string  "llama"' "$TMP/inspect" && grep -q 'llama.pooling_type  u32  3' "$TMP/inspect" &&
    grep -q 'cls.output.weight  F32  \[64, 15\]' "$TMP/inspect" && grep -q 'llama.classifier.output_labels' "$TMP/inspect" &&
    ok || bad "the export lacks the llama layout / pooling / head: $(head -c 400 "$TMP/inspect")"
# mean pooling survives the export
expect_rc 0 "export mean" -- "$TCF" export --model "$TMP/rm" --out "$TMP/rm.gguf" --abstain-below 0.5
"$TCF" predict --model "$TMP/rm" --input "$P/texts.txt" --top 100 --threads 1 > "$TMP/rm_run.jsonl" 2>/dev/null
expect_rc 0 "predict mean export" -- "$TCF" predict --model "$TMP/rm.gguf" --input "$P/texts.txt" --top 100 --threads 1
cmp_probs "$TMP/out" "$TMP/rm_run.jsonl" 1e-5 && ok || bad "the mean-pooling export differs from its run: $(cat "$TMP/cmp")"
grep -q '"abstain": true' "$TMP/out" && ok || bad "the export's abstain threshold 0.5 is not applied: $(head -c 300 "$TMP/out")"
"$TCF" inspect "$TMP/rm.gguf" 2>&1 | grep -q 'llama.pooling_type  u32  1' && ok || bad "mean export: llama.pooling_type is not 1"
# quantized exports keep their blocks and stay close to the f32 one; eval takes them
for ty in q8_0 q4_1; do
    expect_rc 0 "export $ty" -- "$TCF" export --model "$TMP/rp" --out "$TMP/rp.$ty.gguf" --type $ty
    "$TCF" inspect "$TMP/rp.$ty.gguf" 2>&1 | grep -qi "blk.0.ffn_down.weight  $ty" && ok || bad "$ty export: ffn_down is not $ty"
    expect_rc 0 "predict $ty export" -- "$TCF" predict --model "$TMP/rp.$ty.gguf" --input "$P/texts.txt" --top 100 --threads 1
    tol=$([ $ty = q8_0 ] && echo 0.02 || echo 0.1)
    cmp_probs "$TMP/out" "$TMP/rp_export.jsonl" $tol && ok || bad "$ty export is far from f32: $(cat "$TMP/cmp")"
    echo "  $ty export vs f32 export: $(cat "$TMP/cmp")"
done
expect_rc 0 "eval q8_0 export" -- "$TCF" eval --model "$TMP/rp.q8_0.gguf" --data "$TMP/valid.csv" --threads 2
# --no-merge: the run on tcf quantize's q4_0 file, exported with those very
# blocks and its adapters unmerged, gives the run's probabilities
"$TCF" predict --model "$TMP/rq" --input "$P/texts.txt" --top 100 --threads 1 > "$TMP/rq_run.jsonl" 2>/dev/null
expect_rc 0 "export --no-merge" -- "$TCF" export --model "$TMP/rq" --out "$TMP/rq.keep.gguf" --no-merge
expect_rc 0 "predict --no-merge export" -- "$TCF" predict --model "$TMP/rq.keep.gguf" --input "$P/texts.txt" --top 100 --threads 1
cmp_probs "$TMP/out" "$TMP/rq_run.jsonl" 2e-6 && ok || bad "the --no-merge export differs from its run: $(cat "$TMP/cmp")"
echo "  --no-merge q4_0 export vs its run: $(cat "$TMP/cmp")"
# --qpath int8: a decoder in blocks (the run, its --no-merge export) is
# re-rounded to per-row int8 at load and stays close to the exact path; an
# f32 decoder is refused
for src in "$TMP/rq" "$TMP/rq.keep.gguf"; do
    expect_rc 0 "predict --qpath int8 $(basename "$src")" -- "$TCF" predict --model "$src" --input "$P/texts.txt" --top 100 \
        --threads 2 --qpath int8
    cmp_probs "$TMP/out" "$TMP/rq_run.jsonl" 0.05 && ok || bad "int8 on $src is far from the exact path: $(cat "$TMP/cmp")"
    echo "  --qpath int8 on $(basename "$src") vs the exact run: $(cat "$TMP/cmp")"
done
expect_rc 1 "--qpath int8 on an f32 decoder" -- "$TCF" predict --model "$TMP/rp.gguf" --input "$P/texts.txt" --qpath int8
expect_err "this one is f32" "--qpath int8 on an f32 decoder"
"$TCF" inspect "$TMP/rq.keep.gguf" > "$TMP/inspect" 2>&1
grep -qi 'blk.0.ffn_down.weight  q4_0' "$TMP/inspect" && grep -q 'blk.1.ffn_down.lora_b  F32' "$TMP/inspect" &&
    grep -q 'tcf.lora.r  u32  8' "$TMP/inspect" && ok || bad "--no-merge export lacks the q4_0 blocks or the adapters"
expect_rc 0 "merged q4_0 export" -- "$TCF" export --model "$TMP/rq" --out "$TMP/rq.merged.gguf" --type q4_0
"$TCF" predict --model "$TMP/rq.merged.gguf" --input "$P/texts.txt" --top 100 --threads 1 > "$TMP/rq_merged.jsonl" 2>/dev/null
cmp_probs "$TMP/rq_merged.jsonl" "$TMP/rq_run.jsonl" 1; echo "  merged (re-quantized) q4_0 export vs its run: $(cat "$TMP/cmp")"
expect_rc 1 "--no-merge on a directory base" -- "$TCF" export --model "$TMP/rp" --out "$TMP/x9.gguf" --no-merge
expect_err "not a GGUF file" "--no-merge on a directory base"
[ ! -e "$TMP/x9.gguf" ] && ok || bad "a refused --no-merge export left a file"
expect_rc 2 "--no-merge with --type" -- "$TCF" export --model "$TMP/rq" --out "$TMP/x9.gguf" --no-merge --type q8_0
# a damaged adapter tensor in a --no-merge file is refused, naming it
python3 - "$TMP/rq.keep.gguf" "$TMP/bad_lora.gguf" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"blk.0.attn_q.lora_a")
b[i:i + 19] = b"blk.0.attn_q.lora_x"
open(sys.argv[2], "wb").write(b)
PY
# an export whose llama.pooling_type is not last (3) or mean (1) is refused, naming the key
python3 - "$TMP/rm.gguf" "$TMP/bad_pt.gguf" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"llama.pooling_type") + len("llama.pooling_type")
assert struct.unpack_from("<I", b, i)[0] == 4  # GGUF u32
b[i + 4:i + 8] = struct.pack("<I", 7)
open(sys.argv[2], "wb").write(b)
PY
expect_rc 1 "bad llama.pooling_type" -- "$TCF" predict --model "$TMP/bad_pt.gguf" --input "$P/texts.txt"
expect_err "llama.pooling_type" "bad llama.pooling_type"
expect_no_stdout "bad llama.pooling_type"
expect_rc 1 "renamed adapter tensor" -- "$TCF" predict --model "$TMP/bad_lora.gguf" --input "$P/texts.txt"
expect_err "blk.0.attn_q.lora_a" "renamed adapter tensor"
expect_no_stdout "renamed adapter tensor"
# a rank of 0 or a negative alpha in a --no-merge file is refused, naming the key
python3 - "$TMP/rq.keep.gguf" "$TMP/bad_r.gguf" "$TMP/bad_alpha.gguf" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
def patch(key, fmt, value, out):
    k = key.encode()
    i = b.find(struct.pack("<Q", len(k)) + k) + 8 + len(k) + 4  # past the length, the key and the value type
    c = bytearray(b)
    c[i:i + struct.calcsize(fmt)] = struct.pack(fmt, value)
    open(out, "wb").write(c)
patch("tcf.lora.r", "<I", 0, sys.argv[2])
patch("tcf.lora.alpha", "<f", -16.0, sys.argv[3])
PY
expect_rc 1 "tcf.lora.r = 0" -- "$TCF" predict --model "$TMP/bad_r.gguf" --input "$P/texts.txt"
expect_err "'tcf.lora.r' = 0 is not a LoRA rank" "tcf.lora.r = 0"
expect_no_stdout "tcf.lora.r = 0"
expect_rc 1 "tcf.lora.alpha < 0" -- "$TCF" predict --model "$TMP/bad_alpha.gguf" --input "$P/texts.txt"
expect_err "'tcf.lora.alpha' is missing or not a positive number" "tcf.lora.alpha < 0"
# damaged or foreign: clear error naming the file, exit 1, nothing written
head -c 20000 "$TMP/rp.gguf" > "$TMP/trunc.gguf"
expect_rc 1 "truncated export" -- "$TCF" predict --model "$TMP/trunc.gguf" --input "$P/texts.txt"
expect_err "trunc.gguf" "truncated export"
expect_no_stdout "truncated export"
expect_rc 1 "a plain decoder GGUF is not a classifier" -- "$TCF" predict --model "$TMP/tiny.q4_0.gguf" --input "$P/texts.txt"
expect_err "tcf.format_version" "plain decoder GGUF"
expect_rc 2 "export type" -- "$TCF" export --model "$TMP/rp" --out "$TMP/x8.gguf" --type q5_0
[ ! -e "$TMP/x8.gguf" ] && ok || bad "a refused export left a file"

# continue from a decoder adapter; a rank that does not match is refused
expect_rc 0 "init-adapter" -- "$TCF" train --model "$M" --out "$TMP/ri" --quant q8_0 --init-adapter "$TMP/r8" "${COMMON[@]}"
l0=$(grep -o 'epoch 1: train loss [0-9.]*' "$TMP/err" | awk '{print $5}')
awk -v a="$l0" -v b="$l2" 'BEGIN { exit !(a < b + 0.2) }' && ok || bad "starting from the adapter did not start near its loss: $l0 vs $l2"
expect_rc 1 "init-adapter rank" -- "$TCF" train --model "$M" --out "$TMP/x5" --quant q8_0 --init-adapter "$TMP/r8" --lora-r 4 "${COMMON[@]}"
expect_err "r=8 alpha=16" "init-adapter rank mismatch"

# a damaged decoder adapter: clear error naming the file, exit 1, no output
cp -r "$TMP/rp" "$TMP/bad1"
head -c 1000 "$P/adapter_model.safetensors" > "$TMP/bad1/adapter_model.safetensors"
expect_rc 1 "truncated adapter" -- "$TCF" predict --model "$TMP/bad1" --input "$P/texts.txt"
expect_err "adapter_model.safetensors" "truncated adapter"
expect_no_stdout "truncated adapter"
cp -r "$TMP/rp" "$TMP/bad2"
sed -i 's/"down_proj"/"dense"/' "$TMP/bad2/adapter_config.json"
expect_rc 1 "foreign target module" -- "$TCF" predict --model "$TMP/bad2" --input "$P/texts.txt"
expect_err "target_modules entry dense" "foreign target module"

# refusals: clear message, exit 1, no run directory
expect_rc 1 "keep on a directory" -- "$TCF" train --model "$M" --out "$TMP/x1" --quant keep "${COMMON[@]}"
expect_err "Q8_0, Q4_0 or Q4_1" "keep on a directory"
[ ! -e "$TMP/x1" ] && ok || bad "a refused run left $TMP/x1"
expect_rc 1 "head mode" -- "$TCF" train --model "$M" --out "$TMP/x2" --mode head "${COMMON[@]}"
expect_err "decoders train in --mode lora only" "head mode on a decoder"
expect_rc 2 "unknown quant" -- "$TCF" train --model "$M" --out "$TMP/x3" --quant q5_k "${COMMON[@]}"
expect_err "--quant must be" "unknown quant"
mkdir -p "$TMP/big"
cp "$M/config.json" "$M/model.safetensors" "$TMP/big/"
cp tests/fixtures/bpe/bytelevel.json "$TMP/big/tokenizer.json"
expect_rc 1 "tokenizer larger than the vocabulary" -- "$TCF" train --model "$TMP/big" --out "$TMP/x4" --quant q8_0 "${COMMON[@]}"
expect_err "vocabulary is 512" "tokenizer larger than the vocabulary"
summary cli_decoder

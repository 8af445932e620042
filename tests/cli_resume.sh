#!/usr/bin/env bash
# tcf train --resume: a run killed by SIGKILL mid-epoch (at a known point
# through a test hook, and at an arbitrary point from outside) and resumed
# ends with bit-identical weights and optimiser state to an uninterrupted
# run; resuming a finished run, on changed data, with a corrupt checkpoint or
# with extra options fails or does nothing, clearly. Also: --class-weights,
# and a disk-full error while checkpointing leaves no corrupt files behind.
. "$(dirname "$0")/lib_cli.sh"

awk 'NR == 1 || NR % 40 == 2' data/demo/train.csv > "$TMP/train.csv"
awk 'NR == 1 || NR % 30 == 2' data/demo/valid.csv > "$TMP/valid.csv"
# dropout, LoRA dropout and accumulation on: their state must survive a resume too
ARGS=(--model $MODEL --train "$TMP/train.csv" --valid "$TMP/valid.csv" --epochs 2 --max-len 24 --batch 4
      --accum 2 --threads 2 --seed 11 --lr 3e-3 --lora-dropout 0.1 --checkpoint-steps 2)

# the tensor data of a safetensors file (the header holds timings that differ)
data_of() { local h; h=$(od -An -t u8 -N8 "$1" | tr -d ' '); tail -c +$((9 + h)) "$1"; }
same_weights() {  # DIR_A DIR_B DESC
    cmp -s "$1/adapter_model.safetensors" "$2/adapter_model.safetensors" && ok || bad "$3: best adapters differ"
    cmp -s <(data_of "$1/train_state.safetensors") <(data_of "$2/train_state.safetensors") && ok \
        || bad "$3: final weights / optimiser state differ"
}

expect_rc 0 "uninterrupted run" -- "$TCF" train "${ARGS[@]}" --out "$TMP/full"
[ -s "$TMP/full/train_state.safetensors" ] && ok || bad "no train_state.safetensors"

# killed right after its 3rd checkpoint (update 6 of 10 in epoch 1: micro-batch 12 of 20), then resumed
TCF_TEST_KILL_AFTER_CHECKPOINT=3 "$TCF" train "${ARGS[@]}" --out "$TMP/k1" >/dev/null 2>"$TMP/err" &
wait $! 2>/dev/null; rc=$?
[ "$rc" = 137 ] && ok || bad "test hook: wanted death by SIGKILL (137), got $rc"
expect_rc 0 "resume after kill" -- "$TCF" train --resume "$TMP/k1"
expect_err 'resuming' "resume says where it resumes"
grep -q 'at epoch 1, batch 12/20 (update 6 of 20)' "$TMP/err" && ok || bad "resume point: $(grep resuming "$TMP/err")"
same_weights "$TMP/full" "$TMP/k1" "kill after checkpoint 3 + resume"
ls "$TMP/k1" | grep -q '\.tmp\.' && bad "temp files left after kill + resume" || ok

# killed from outside at whatever point it has reached, resumed with another
# thread count (not under the sanitizers: the hook case above covers the code)
if [ $SANITIZED = 0 ]; then
"$TCF" train "${ARGS[@]}" --out "$TMP/k2" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do [ -e "$TMP/k2/train_state.safetensors" ] && break; sleep 0.05; done
sleep 0.4
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
if [ -e "$TMP/k2/train_state.safetensors" ]; then
    expect_rc 0 "resume after external kill -9" -- "$TCF" train --resume "$TMP/k2" --threads 1
    grep -q -e resuming -e 'already finished' "$TMP/err" && ok || bad "external kill: no resume line"
    echo "  $(grep -e resuming -e 'already finished' "$TMP/err")"
    same_weights "$TMP/full" "$TMP/k2" "external kill -9 + resume"
else
    bad "external kill: no checkpoint appeared in 30 s"
fi
fi

# the other modes: head only (killed mid-epoch) and full fine-tuning (killed
# at the end of epoch 1; its checkpoint holds every weight and both moments)
MODES="head full"; [ $SANITIZED = 1 ] && MODES=head
for mode in $MODES; do
    MARGS=("${ARGS[@]}" --mode $mode)
    [ $mode = full ] && MARGS+=(--lr 1e-4 --checkpoint-steps 0)
    expect_rc 0 "$mode: uninterrupted" -- "$TCF" train "${MARGS[@]}" --out "$TMP/${mode}_a"
    TCF_TEST_KILL_AFTER_CHECKPOINT=$([ $mode = full ] && echo 1 || echo 2) \
        "$TCF" train "${MARGS[@]}" --out "$TMP/${mode}_b" >/dev/null 2>&1 &
    wait $! 2>/dev/null
    expect_rc 0 "$mode: resume" -- "$TCF" train --resume "$TMP/${mode}_b"
    expect_err 'resuming' "$mode: resume line"
    cmp -s <(data_of "$TMP/${mode}_a/train_state.safetensors") <(data_of "$TMP/${mode}_b/train_state.safetensors") \
        && ok || bad "$mode: kill + resume gave other weights than an uninterrupted run"
    w=$([ $mode = full ] && echo model.safetensors || echo classifier.safetensors)
    cmp -s "$TMP/${mode}_a/$w" "$TMP/${mode}_b/$w" && ok || bad "$mode: best $w differs"
done

# resuming a finished run does nothing and changes nothing
cp "$TMP/full/adapter_model.safetensors" "$TMP/before"
expect_rc 0 "resume a finished run" -- "$TCF" train --resume "$TMP/full"
expect_err 'already finished' "finished run"
cmp -s "$TMP/before" "$TMP/full/adapter_model.safetensors" && ok || bad "finished resume changed the adapter"

# bad resumes
expect_rc 2 "--resume with other options" -- "$TCF" train --resume "$TMP/k1" --lr 1
expect_rc 1 "--resume of a non-run" -- "$TCF" train --resume "$TMP/nowhere"
expect_err 'tcf_run.json' "non-run names the file"
TCF_TEST_KILL_AFTER_CHECKPOINT=1 "$TCF" train "${ARGS[@]}" --out "$TMP/k3" >/dev/null 2>&1 &
wait $! 2>/dev/null
sed -i '2s/^/x/' "$TMP/train.csv"   # change one training text
expect_rc 1 "resume on changed data" -- "$TCF" train --resume "$TMP/k3"
expect_err 'data differ' "changed data"
sed -i '2s/^x//' "$TMP/train.csv"
head -c 5000 "$TMP/k3/train_state.safetensors" > "$TMP/cut" && mv "$TMP/cut" "$TMP/k3/train_state.safetensors"
expect_rc 1 "resume from a truncated checkpoint" -- "$TCF" train --resume "$TMP/k3"
expect_err 'train_state.safetensors' "truncated checkpoint names the file"

# class weights
expect_rc 0 "balanced class weights" -- "$TCF" train "${ARGS[@]}" --epochs 1 --class-weights balanced --out "$TMP/cw"
expect_err 'class weights (balanced)' "class weights are printed"
grep -q '"class_weights":[[:space:]]*"balanced"' "$TMP/cw/tcf_run.json" && ok || bad "class weights not in tcf_run.json"
expect_rc 1 "unknown label in class weights" -- "$TCF" train "${ARGS[@]}" --class-weights nosuch=2 --out "$TMP/cw2"
expect_err "'nosuch' is not a label" "unknown class-weight label"
expect_rc 1 "bad class weight" -- "$TCF" train "${ARGS[@]}" --class-weights billing=-1 --out "$TMP/cw2"

# disk full (file size limit) while writing the 1st epoch's checkpoint: the
# adapter and tcf_run.json of that epoch are complete, no temp file is left
# behind, and eval still works on the run
(trap '' XFSZ; ulimit -f 1500; exec "$TCF" train "${ARGS[@]}" --checkpoint-steps 0 --checkpoint-secs 0 \
    --out "$TMP/full_disk") >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" = 1 ] && ok || bad "disk full: exit $rc, wanted 1"
expect_err 'train_state.safetensors' "disk full names the checkpoint file"
grep -qi 'too large\|space' "$TMP/err" && ok || bad "disk full: cause not said: $(tail -c 300 "$TMP/err")"
ls -a "$TMP/full_disk" | grep -q '\.tmp' && bad "disk full left a temp file: $(ls -a "$TMP/full_disk")" || ok
[ ! -e "$TMP/full_disk/train_state.safetensors" ] && ok || bad "disk full left a checkpoint behind"
expect_rc 0 "eval after disk full" -- "$TCF" eval --model "$TMP/full_disk" --data "$TMP/valid.csv"
summary cli_resume

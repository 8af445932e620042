#!/usr/bin/env bash
# Start-up of an exported classifier against its run directory, side by side
# in one run: for the run directory and its f32 / f16 / q8_0 / q4_0 exports,
# `tcf predict` on one text (load + one forward), best wall time of REPEAT
# runs and peak RSS (GNU time's maximum resident set size), file size, and
# the ratio to the run directory.
#
#   bench/run_export_load.sh RUN/ [REPEAT]      (needs /usr/bin/time)
set -eu
RUN=${1:?usage: bench/run_export_load.sh RUN/ [REPEAT]}
REPEAT=${2:-5}
TCF=${TCF:-build/tcf}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
for ty in f32 f16 q8_0 q4_0; do "$TCF" export --model "$RUN" --out "$T/$ty.gguf" --type "$ty"; done
measure() {  # MODEL -> "best_seconds max_rss_kb"
    local best=999 rss=0
    for _ in $(seq "$REPEAT"); do
        echo "I was charged twice" | /usr/bin/time -f '%e %M' -o "$T/t" "$TCF" predict --model "$1" --threads 2 >/dev/null
        read -r s k < "$T/t"
        best=$(awk -v a="$s" -v b="$best" 'BEGIN {print (a < b) ? a : b}')
        [ "$k" -gt "$rss" ] && rss=$k
    done
    echo "$best $rss"
}
read -r base_s base_k <<< "$(measure "$RUN")"
printf '%-10s %10s %10s %12s %8s\n' model load+1 "peak RSS" "file bytes" "time ratio"
printf '%-10s %9.2fs %8d MB %12s %8s\n' "run dir" "$base_s" $((base_k / 1024)) - 1.00
for ty in f32 f16 q8_0 q4_0; do
    read -r s k <<< "$(measure "$T/$ty.gguf")"
    printf '%-10s %9.2fs %8d MB %12d %8.2f\n' "$ty" "$s" $((k / 1024)) "$(stat -c %s "$T/$ty.gguf")" \
        "$(awk -v a="$s" -v b="$base_s" 'BEGIN {print a / b}')"
done

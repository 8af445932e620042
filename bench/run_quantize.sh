#!/usr/bin/env bash
# tcf quantize against gguf-py (bench/quantize_gguf_py.py: the same rules and
# quantizers in numpy) on one GGUF input, side by side in one run: for each
# type, best wall time of REPEAT runs and peak RSS (GNU time), output size,
# whether the two output files are byte-identical, and tcf's time ratio to
# gguf-py's. tcf is single-threaded here; numpy may use more threads.
#
#   bench/run_quantize.sh IN.gguf [REPEAT] [TYPES...]      (needs /usr/bin/time, .venv)
set -eu
IN=${1:?usage: bench/run_quantize.sh IN.gguf [REPEAT] [TYPES...]}
REPEAT=${2:-3}
shift $(( $# > 1 ? 2 : 1 ))
TYPES=${*:-q8_0 q4_0}
TCF=${TCF:-build/tcf}
PY=${PY:-.venv/bin/python}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
measure() {  # OUT CMD... -> "best_seconds max_rss_kb"
    local out=$1 best=999 rss=0; shift
    for _ in $(seq "$REPEAT"); do
        rm -f "$out"
        /usr/bin/time -f '%e %M' -o "$T/t" "$@" >/dev/null 2>&1
        read -r s k < "$T/t"
        best=$(awk -v a="$s" -v b="$best" 'BEGIN {print (a < b) ? a : b}')
        [ "$k" -gt "$rss" ] && rss=$k
    done
    echo "$best $rss"
}
echo "input: $IN ($(stat -c %s "$IN") bytes), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-6s %10s %10s %10s %10s %12s %10s %8s\n' type tcf "tcf RSS" gguf-py "py RSS" "out bytes" identical ratio
for ty in $TYPES; do
    read -r ts tk <<< "$(measure "$T/tcf.gguf" "$TCF" quantize --model "$IN" --out "$T/tcf.gguf" --type "$ty")"
    read -r ps pk <<< "$(measure "$T/py.gguf" "$PY" bench/quantize_gguf_py.py "$IN" "$T/py.gguf" "$ty")"
    same=$(cmp -s "$T/tcf.gguf" "$T/py.gguf" && echo yes || echo NO)  # the whole file, byte for byte
    printf '%-6s %9.2fs %7d MB %9.2fs %7d MB %12d %10s %8.2f\n' "$ty" "$ts" $((tk / 1024)) "$ps" $((pk / 1024)) \
        "$(stat -c %s "$T/tcf.gguf")" "$same" "$(awk -v a="$ts" -v b="$ps" 'BEGIN {print a / b}')"
done

#!/usr/bin/env bash
# run_serve.sh — load test of `tcf serve`: wrk on loopback, 64 connections,
# 60 s, one demo test text per request, against a trained run; side by side
# with the same classifier called directly (`tcf eval` on the same texts, its
# texts/s at batch 32), so the ratio shows what HTTP + micro-batching cost.
# Also reports latency p50/p90/p99, errors, the server's RSS at start /
# middle / end (sampled every second), the mean micro-batch size from
# /metrics, and the machine's load average (the machine may be shared).
#
#   bench/run_serve.sh RUN/        # e.g. runs/demo from the README's train command
#   CONNS=64 DURATION=60 THREADS=2 MAX_BATCH=32 PASS_BATCH=8 bench/run_serve.sh RUN/
#
# Needs build/tcf (make), wrk and curl (scripts/setup.sh installs both),
# python3 (standard library only, to turn the CSV into JSON bodies).
# Writes build/bench/serve/ (git-ignored). Exits non-zero on any error.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:?usage: bench/run_serve.sh RUN_DIR}
CONNS=${CONNS:-64}
DURATION=${DURATION:-60}
THREADS=${THREADS:-2}
WRK_THREADS=${WRK_THREADS:-1}
MAX_BATCH=${MAX_BATCH:-32}
MAX_WAIT_MS=${MAX_WAIT_MS:-5}
PASS_BATCH=${PASS_BATCH:-8}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}  # seconds; a slower answer counts as a wrk timeout error
DATA=${DATA:-data/demo/test.csv}
OUT=build/bench/serve
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "run_serve.sh: wrk missing (apt-get install wrk)" >&2; exit 1; }

python3 - "$DATA" > "$OUT/bodies.jsonl" <<'PY'
import csv, json, sys
for row in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")):
    print(json.dumps({"text": row["text"]}, ensure_ascii=False))
PY
echo "texts: $(wc -l < "$OUT/bodies.jsonl") from $DATA; run: $RUN"
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# the peer: the same classifier, called directly on the same texts
direct=$(build/tcf eval --model "$RUN" --data "$DATA" --threads "$THREADS" | sed -n 's/.*(\([0-9.]*\) texts\/s).*/\1/p')
echo "direct (tcf eval, batch 32, $THREADS threads): $direct texts/s"

build/tcf serve --model "$RUN" --port 0 --threads "$THREADS" --max-batch "$MAX_BATCH" --pass-batch "$PASS_BATCH" \
    --max-wait-ms "$MAX_WAIT_MS" \
    --connection-limit $((CONNS + 16)) 2> "$OUT/serve.log" &
SPID=$!
trap 'kill $SPID 2>/dev/null || true; [ -n "${MPID:-}" ] && kill $MPID 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -qs 'listening on' "$OUT/serve.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$OUT/serve.log")
[ -n "$PORT" ] || { cat "$OUT/serve.log" >&2; exit 1; }
U=http://127.0.0.1:$PORT
curl -s -H 'Content-Type: application/json' -d "$(head -1 "$OUT/bodies.jsonl")" "$U/v1/classify" > /dev/null # warm-up

# RSS every second: "seconds_since_start kib"
( t=0; while kill -0 $SPID 2>/dev/null && [ $t -le $((DURATION + 2)) ]; do
      echo "$t $(awk '/^VmRSS/ { print $2 }' /proc/$SPID/status)"; sleep 1; t=$((t + 1)); done ) > "$OUT/rss.txt" &
MPID=$!
wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout "${WRK_TIMEOUT}s" --latency -s bench/serve_wrk.lua "$U" \
    -- "$OUT/bodies.jsonl" > "$OUT/wrk.txt"
wait $MPID || true; MPID=""
curl -s "$U/metrics" > "$OUT/metrics.txt"
kill -TERM $SPID; wait $SPID; src=$?
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

R=$(grep '^RESULT' "$OUT/wrk.txt")
val() { echo "$R" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
rss_at() { awk -v t="$1" '$1 == t { print $2 }' "$OUT/rss.txt"; }
bsum=$(sed -n 's/^tcf_batch_size_sum //p' "$OUT/metrics.txt"); bcnt=$(sed -n 's/^tcf_batch_size_count //p' "$OUT/metrics.txt")
errors=$(( $(val err_connect) + $(val err_read) + $(val err_write) + $(val err_status) + $(val err_timeout) ))
echo "wrk: $CONNS connections, $DURATION s, $WRK_THREADS thread(s), timeout $WRK_TIMEOUT s; server: --threads $THREADS --max-batch $MAX_BATCH --pass-batch $PASS_BATCH --max-wait-ms $MAX_WAIT_MS"
echo "requests: $(val requests) in $(val seconds) s = $(val rps) requests/s (1 text each)"
echo "latency ms: p50 $(val p50_ms)  p90 $(val p90_ms)  p99 $(val p99_ms)  max $(val max_ms)"
echo "errors: $errors (connect $(val err_connect), read $(val err_read), write $(val err_write), non-2xx $(val err_status), timeout $(val err_timeout))"
echo "server RSS KiB: start $(rss_at 0), middle $(rss_at $((DURATION / 2))), end $(rss_at "$DURATION"), max $(awk 'm < $2 { m = $2 } END { print m }' "$OUT/rss.txt")"
awk -v s="$bsum" -v c="$bcnt" 'BEGIN { if (c > 0) printf "micro-batches: %d, mean %.1f texts\n", c, s / c }'
awk -v a="$(val rps)" -v b="$direct" 'BEGIN { printf "server / direct throughput: %.2fx\n", a / b }'
echo "server exit status after SIGTERM: $src"
[ "$errors" = 0 ] && [ "$src" = 0 ]

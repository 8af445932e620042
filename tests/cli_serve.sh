#!/usr/bin/env bash
# tcf serve end to end: a real server on a free loopback port with a small real
# (head-only) run. curl exercises every endpoint and every bad input (bad JSON,
# wrong types, empty text, invalid UTF-8, a 10 MB body, 100k texts, unknown
# paths and methods, missing / wrong keys, slow clients); concurrent clients
# get micro-batched answers equal to `tcf predict` and to one batched request;
# open fds and RSS are checked before and after rounds of bad input; SIGTERM
# lets a request in flight finish; bad models and options fail at start.
. "$(dirname "$0")/lib_cli.sh"

SPID=""; CPIDS=""
cleanup() {
    exec 3>&- 4>&- 5>&- 6>&- 2>/dev/null
    for p in $CPIDS; do kill "$p" 2>/dev/null; done
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

# a small real run (head only; a smaller slice under the sanitizers)
EVERY=$([ $SANITIZED = 1 ] && echo 100 || echo 20)
awk -v e=$EVERY 'NR == 1 || NR % e == 2' data/demo/train.csv > "$TMP/train.csv"
awk -v e=$EVERY 'NR == 1 || NR % e == 2' data/demo/valid.csv > "$TMP/valid.csv"
expect_rc 0 "train a head-only run" -- "$TCF" train --mode head --model $MODEL --train "$TMP/train.csv" \
    --valid "$TMP/valid.csv" --out "$TMP/run" --epochs 1 --max-len 32 --threads 2 --seed 3
K=$(grep -o '"labels":[^]]*' "$TMP/run/tcf_run.json" | grep -o '"[a-z_]*"' | grep -vc labels)

KEY=serve-test-key-0123456789
printf '%s\n' "$KEY" > "$TMP/key"
START_WAIT=$([ $SANITIZED = 1 ] && echo 1200 || echo 300) # tenths of a second

# start_server LOG ARGS...: sets SPID and PORT
start_server() {
    local log=$1; shift
    "$TCF" serve --model "$TMP/run" --port 0 --threads 2 "$@" 2>"$log" &
    SPID=$!
    for _ in $(seq "$START_WAIT"); do
        grep -qs 'listening on' "$log" && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log")
    U=http://127.0.0.1:$PORT
    if [ -n "$PORT" ]; then ok; else bad "server did not start: $(cat "$log")"; exit 1; fi
}
# stop_server WANT_RC: SIGTERM, wait, check the exit status
stop_server() {
    kill -TERM "$SPID"
    wait "$SPID"; local rc=$?
    [ "$rc" = "$1" ] && ok || bad "server exit status $rc after SIGTERM, wanted $1"
    SPID=""
}

# req WANT DESC CURL-ARGS...: body to $TMP/body, headers to $TMP/hdr
req() {
    local want=$1 desc=$2; shift 2
    local code
    code=$(curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' --max-time 60 "$@")
    [ "$code" = "$want" ] && ok || bad "$desc: HTTP $code, wanted $want: $(head -c 300 "$TMP/body")"
}
body_has() { grep -qF -- "$1" "$TMP/body" && ok || bad "$2: body lacks '$1': $(head -c 300 "$TMP/body")"; }
hdr_has() { grep -qiF -- "$1" "$TMP/hdr" && ok || bad "$2: headers lack '$1': $(tr -d '\r' < "$TMP/hdr" | head -c 300)"; }
# "label score" per [label, score] pair of the "top" lists in a file
pairs() { grep -o '\["[^"]*", [-0-9.e+]*\]' "$1" | tr -d '[]",' ; }
# same_results A B DESC: same labels in the same order, scores within 1e-6
same_results() {
    local n1 n2
    n1=$(pairs "$1" | wc -l); n2=$(pairs "$2" | wc -l)
    if [ "$n1" != "$n2" ] || [ "$n1" = 0 ]; then bad "$3: $n1 vs $n2 (label, score) pairs"; return; fi
    if paste -d' ' <(pairs "$1") <(pairs "$2") | awk -v what="$3" '
        { d = $2 - $4; if (d < 0) d = -d; if (d > m) m = d; if ($1 != $3 || d > 1e-6) bad++ }
        END { printf "  %-56s pairs=%d max_abs_diff=%.3g %s\n", what, NR, m, bad ? "MISMATCH" : "ok"; exit bad > 0 }'
    then ok; else bad "$3: labels or scores differ"; fi
}
JS=(-H 'Content-Type: application/json')
AUTH=(-H "Authorization: Bearer $KEY")

# ---- a server with a key, abstention, small limits --------------------------------
start_server "$TMP/serve.log" --api-key-file "$TMP/key" --abstain-below 0.5 --max-texts 64 \
    --max-wait-ms 100 --timeout-s 2
grep -q 'bearer key required' "$TMP/serve.log" && ok || bad "start log lacks the key note"

req 200 "healthz" "$U/healthz"
body_has "\"status\": \"ok\", \"classes\": $K" "healthz"
hdr_has 'Content-Type: application/json' "healthz"
req 200 "healthz HEAD" -I "$U/healthz"
req 200 "classify, JSON with a charset" "${AUTH[@]}" -H 'Content-Type: application/json; charset=utf-8' -d '{"text": "hi"}' "$U/v1/classify"
req 200 "classify one text" "${AUTH[@]}" "${JS[@]}" -d '{"text": "I was charged twice for my subscription"}' "$U/v1/classify"
grep -qE '^\{"label": "[a-z_]+", "score": [0-9.e-]+, "top": \[\["[a-z_]+", [0-9.e-]+\], \["[a-z_]+", [0-9.e-]+\], \["[a-z_]+", [0-9.e-]+\]\], "truncated": false, "abstain": (true|false)\}$' "$TMP/body" \
    && ok || bad "one-text answer malformed: $(cat "$TMP/body")"
req 200 "classify with top_k" "${AUTH[@]}" "${JS[@]}" -d '{"texts": ["where is my parcel", "refund please"], "top_k": 1}' "$U/v1/classify"
[ "$(grep -o '"label"' "$TMP/body" | wc -l)" = 2 ] && grep -q '^{"results": \[{' "$TMP/body" && ok \
    || bad "texts answer malformed: $(cat "$TMP/body")"
[ "$(pairs "$TMP/body" | wc -l)" = 2 ] && ok || bad "top_k 1 gave $(pairs "$TMP/body" | wc -l) pairs for 2 texts"
req 200 "metrics" "${AUTH[@]}" "$U/metrics"
hdr_has 'text/plain; version=0.0.4' "metrics content type"
for m in 'tcf_requests_total{code="200"}' 'tcf_request_duration_seconds_bucket{le="+Inf"}' \
         'tcf_request_duration_seconds_count' 'tcf_batch_size_bucket{le="1"}' 'tcf_texts_total 4' \
         'tcf_errors_total 0' 'process_resident_memory_bytes' 'process_open_fds' '# TYPE tcf_batch_size histogram'; do
    body_has "$m" "metrics"
done

# ---- micro-batched answers equal tcf predict -------------------------------------
cat > "$TMP/q.txt" <<'EOF'
I was charged twice for my subscription this month
where is my parcel, it has been two weeks
the app crashes every time I try to log in
please cancel my account today
I want a refund for the broken blender
how do I change my delivery address
can I upgrade to the premium plan
your support team was wonderful, thank you
my card payment keeps getting declined
delete all my personal data please
do you sell gift cards
I would love a dark mode in the app
the package arrived damaged and I want to return it
I forgot my password and cannot reset it
why was I billed after cancelling
this is the worst service I have ever had and I have been a loyal customer for many years, I expected much better from a company like yours, and nobody answers my emails or my calls at all
EOF
N=$(wc -l < "$TMP/q.txt")
expect_rc 0 "tcf predict" -- "$TCF" predict --model "$TMP/run" --threads 2 < "$TMP/q.txt"
cp "$TMP/out" "$TMP/predict.jsonl"
# all at once, one text per client: the batcher groups them
i=0; CPIDS=""
while IFS= read -r t; do
    i=$((i + 1))
    curl -s --max-time 60 -o "$TMP/c$i.json" "${AUTH[@]}" "${JS[@]}" -d "{\"text\": \"$t\"}" "$U/v1/classify" &
    CPIDS="$CPIDS $!"
done < "$TMP/q.txt"
for p in $CPIDS; do wait "$p"; done; CPIDS=""
: > "$TMP/concurrent.jsonl"
for i in $(seq "$N"); do cat "$TMP/c$i.json" >> "$TMP/concurrent.jsonl"; done
same_results "$TMP/concurrent.jsonl" "$TMP/predict.jsonl" "$N concurrent clients vs tcf predict"
grep -c '"truncated": true' "$TMP/concurrent.jsonl" | grep -qx 1 && ok || bad "the long text is not marked truncated"
# one request with all texts
body=$(awk 'BEGIN { printf "{\"texts\": [" } { printf "%s\"%s\"", (NR > 1 ? ", " : ""), $0 } END { printf "]}" }' "$TMP/q.txt")
req 200 "one request with $N texts" "${AUTH[@]}" "${JS[@]}" -d "$body" "$U/v1/classify"
cp "$TMP/body" "$TMP/batched.json"
same_results "$TMP/concurrent.jsonl" "$TMP/batched.json" "$N concurrent clients vs one batched request"
req 200 "metrics after the concurrent clients" "${AUTH[@]}" "$U/metrics"
b1=$(sed -n 's/^tcf_batch_size_bucket{le="1"} //p' "$TMP/body")
bn=$(sed -n 's/^tcf_batch_size_count //p' "$TMP/body")
echo "  batches so far: $bn, of them single-text: $b1 (after $N concurrent one-text clients)"
[ -n "$bn" ] && [ "$b1" -lt "$bn" ] && ok || bad "no micro-batch of more than one text formed"

# ---- bad input --------------------------------------------------------------------
printf '{"texts": ["fine", "caf\xc3\xa9 \xff"]}' > "$TMP/badutf8.json"
head -c 10485760 /dev/zero | tr '\0' 'a' > "$TMP/10mb"
awk 'BEGIN { printf "{\"texts\": [\"t\""; for (i = 1; i < 100000; i++) printf ",\"t\""; printf "]}" }' > "$TMP/100k.json"

bad_round() {
    # two slow clients: a header cut short, a body cut short
    exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty' >&3
    exec 4<>"/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"text": "slo' "$KEY" >&4
    local t0=$SECONDS
    req 400 "malformed JSON" "${AUTH[@]}" "${JS[@]}" -d '{"text": "abc' "$U/v1/classify"
    body_has '"error": {"code": 400, "message": "malformed JSON near byte' "malformed JSON"
    req 400 "wrong type" "${AUTH[@]}" "${JS[@]}" -d '{"text": 42}' "$U/v1/classify"
    body_has 'text is a number, not a string' "wrong type"
    req 400 "texts not strings" "${AUTH[@]}" "${JS[@]}" -d '{"texts": ["ok", null]}' "$U/v1/classify"
    body_has 'texts[1] is null, not a string' "texts not strings"
    req 400 "empty text" "${AUTH[@]}" "${JS[@]}" -d '{"text": ""}' "$U/v1/classify"
    body_has 'text is empty' "empty text"
    req 400 "unknown key" "${AUTH[@]}" "${JS[@]}" -d '{"txt": "hello"}' "$U/v1/classify"
    body_has 'unknown key \"txt\"' "unknown key"
    req 400 "empty body" "${AUTH[@]}" "${JS[@]}" -X POST "$U/v1/classify"
    body_has 'the body is empty' "empty body"
    req 400 "invalid UTF-8" "${AUTH[@]}" "${JS[@]}" --data-binary @"$TMP/badutf8.json" "$U/v1/classify"
    body_has 'texts[1]: invalid UTF-8 at byte 6 of the text' "invalid UTF-8"
    req 413 "100k texts" "${AUTH[@]}" "${JS[@]}" --data-binary @"$TMP/100k.json" "$U/v1/classify"
    body_has '"texts\" has 100000 entries, over the limit of 64 per request' "100k texts"
    req 413 "10 MB body" "${AUTH[@]}" "${JS[@]}" --data-binary @"$TMP/10mb" "$U/v1/classify"
    body_has 'the body is 10485760 bytes, over the limit of 1048576' "10 MB body"
    req 413 "10 MB chunked body" "${AUTH[@]}" "${JS[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/10mb" "$U/v1/classify"
    body_has 'over the limit of 1048576 bytes' "10 MB chunked body"
    req 404 "unknown path" "${AUTH[@]}" "$U/v2/nothing"
    body_has 'no such path: /v2/nothing' "unknown path"
    req 405 "GET /v1/classify" "${AUTH[@]}" "$U/v1/classify"
    hdr_has 'Allow: POST' "405 names the allowed method"
    req 405 "DELETE /healthz" -X DELETE "$U/healthz"
    hdr_has 'Allow: GET, HEAD' "405 on healthz"
    req 401 "no key" "${JS[@]}" -d '{"text": "hello"}' "$U/v1/classify"
    hdr_has 'WWW-Authenticate: Bearer' "401 challenge"
    body_has 'missing or wrong bearer token' "no key"
    req 401 "wrong key" -H "Authorization: Bearer ${KEY}x" "${JS[@]}" -d '{"text": "hello"}' "$U/v1/classify"
    req 401 "wrong key, same length" -H "Authorization: Bearer ${KEY%?}X" "${JS[@]}" -d '{"text": "hello"}' "$U/v1/classify"
    req 401 "basic auth" -u "user:$KEY" "${JS[@]}" -d '{"text": "hello"}' "$U/v1/classify"
    req 401 "metrics without a key" "$U/metrics"
    req 415 "form content type" "${AUTH[@]}" -d 'text=hello' "$U/v1/classify"
    body_has 'Content-Type must be application/json' "415"
    req 415 "a look-alike content type" "${AUTH[@]}" -H 'Content-Type: application/jsonp' -d '{"text": "hi"}' "$U/v1/classify"
    req 200 "served while slow clients hang on" "$U/healthz"
    # the server closes both slow clients after --timeout-s 2: reads see EOF
    local line
    if read -r -t 15 -u 3 line; then bad "slow header client got an answer: $line"
    elif [ $? -gt 128 ]; then bad "slow header client not closed after 15 s"; else ok; fi
    if read -r -t 15 -u 4 line; then bad "slow body client got an answer: $line"
    elif [ $? -gt 128 ]; then bad "slow body client not closed after 15 s"; else ok; fi
    exec 3>&- 4>&-
    [ $((SECONDS - t0)) -ge 2 ] && ok || bad "slow clients closed before the 2 s timeout"
}
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SPID/status"; }
fds() { ls "/proc/$SPID/fd" | wc -l; }
settle() { # until the server's fd count stops changing (closed sockets), at most 5 s
    local a b
    for _ in $(seq 50); do a=$(fds); sleep 0.1; b=$(fds); [ "$a" = "$b" ] && break; done
}
settle; fd0=$(fds); rss0=$(rss)
bad_round; settle; fd1=$(fds); rss1=$(rss)
bad_round; bad_round; settle; fd3=$(fds); rss3=$(rss)
echo "  open fds: $fd0 before, $fd1 after 1 bad-input round, $fd3 after 3; RSS KiB: $rss0, $rss1, $rss3"
[ "$fd3" = "$fd0" ] && ok || bad "open fds went from $fd0 to $fd3 after bad input"
if [ $SANITIZED = 0 ]; then
    [ $((rss3 - rss1)) -lt 4096 ] && ok || bad "RSS grew by $((rss3 - rss1)) KiB over two more bad-input rounds"
fi
req 200 "still serving after bad input" "${AUTH[@]}" "${JS[@]}" -d '{"text": "where is my parcel"}' "$U/v1/classify"
req 200 "metrics after bad input" "${AUTH[@]}" "$U/metrics"
for m in 'tcf_requests_total{code="400"} 21' 'tcf_requests_total{code="401"} 15' 'tcf_requests_total{code="404"} 3' \
         'tcf_requests_total{code="405"} 6' 'tcf_requests_total{code="413"} 9' 'tcf_requests_total{code="415"} 6'; do
    body_has "$m" "metrics count the bad requests"
done
a=$(sed -n 's/^tcf_requests_aborted_total //p' "$TMP/body")
[ "${a:-0}" -ge 3 ] && ok || bad "the 3 slow body clients are not counted as aborted ($a)"

# a body trickled a byte a second (inside the 2 s idle timeout) is cut off at
# 3 x --timeout-s = 6 s after its headers
trap '' PIPE
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text": "' "$KEY" >&6
t0=$SECONDS; closed=0
for _ in $(seq 15); do
    read -r -t 1 -u 6 line; rc=$?
    [ $rc = 0 ] && break                  # an answer: not expected
    [ $rc -le 128 ] && { closed=1; break; } # EOF: the server closed it
    printf 'a' >&6 2>/dev/null || { closed=1; break; }
done
exec 6>&-
trap - PIPE
dt=$((SECONDS - t0))
[ $closed = 1 ] && [ $dt -ge 5 ] && [ $dt -le 12 ] && ok || bad "trickled body: closed=$closed after $dt s (wanted ~6 s)"

# ---- SIGTERM with a request in flight -----------------------------------------------
# read_response FD: status line to STATUS, body (by Content-Length) to BODY
read_response() {
    local line len=0
    STATUS=""; BODY=""
    read -r -t 10 -u "$1" STATUS || return 1
    while read -r -t 10 -u "$1" line; do
        line=${line%$'\r'}
        [ -z "$line" ] && break
        case "$line" in [Cc]ontent-[Ll]ength:*) len=${line#*: } ;; esac
    done
    [ "$len" -gt 0 ] && read -r -t 10 -N "$len" -u "$1" BODY
    return 0
}
# a keep-alive connection, used once before the stop and once during it
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&5
read_response 5; case "$STATUS" in 'HTTP/1.1 200'*) ok ;; *) bad "keep-alive healthz: '$STATUS'" ;; esac
# the body arrives 1.5 s after the headers (inside --timeout-s 2); SIGTERM comes once the server has
# the request (tcf_requests_in_flight, which leaves out the metrics request)
( sleep 1.5; printf '{"text": "where is my parcel"}' ) | curl -s --max-time 60 -o "$TMP/inflight.json" -w '%{http_code}' \
    -T - -X POST "${AUTH[@]}" "${JS[@]}" "$U/v1/classify" > "$TMP/inflight.code" &
CPIDS=$!
for _ in $(seq 10); do
    curl -s --max-time 5 "${AUTH[@]}" "$U/metrics" | grep -qx 'tcf_requests_in_flight 1' && break
    sleep 0.1
done
kill -TERM "$SPID"
refused=0
for _ in $(seq 30); do # until the listening socket is closed
    curl -s --max-time 5 -o /dev/null "$U/healthz"
    [ $? = 7 ] && { refused=1; break; }
    sleep 0.1
done
[ $refused = 1 ] && ok || bad "new connections were not refused within 3 s of SIGTERM"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&5
read_response 5
case "$STATUS" in 'HTTP/1.1 503'*) ok ;; *) bad "a request on an open connection during shutdown: '$STATUS'" ;; esac
case "$BODY" in *'"code": 503, "message": "the server is shutting down"'*) ok ;; *) bad "503 body: '$BODY'" ;; esac
exec 5>&-
wait "$CPIDS"; CPIDS=""
[ "$(cat "$TMP/inflight.code")" = 200 ] && grep -q '"label": ' "$TMP/inflight.json" && ok \
    || bad "request in flight at SIGTERM: HTTP $(cat "$TMP/inflight.code"): $(cat "$TMP/inflight.json")"
wait "$SPID"; rc=$?; SPID=""
[ "$rc" = 0 ] && ok || bad "exit status $rc after SIGTERM, wanted 0"
grep -q 'SIGTERM: stopping' "$TMP/serve.log" && grep -q 'tcf serve: stopped$' "$TMP/serve.log" && ok \
    || bad "stop not logged: $(tail -3 "$TMP/serve.log")"

# ---- a second server: no key, --max-tokens, --top-k, verbose -------------------------
start_server "$TMP/serve2.log" --host 127.0.0.1 --max-tokens 12 --top-k 1 --verbose
long=$(sed -n '16p' "$TMP/q.txt")
req 413 "over --max-tokens" "${JS[@]}" -d "{\"texts\": [\"short one\", \"$long\"]}" "$U/v1/classify"
body_has 'texts[1] has more than 12 tokens (the limit set by --max-tokens)' "over --max-tokens"
req 200 "no key needed" "${JS[@]}" -d '{"text": "where is my parcel"}' "$U/v1/classify"
[ "$(pairs "$TMP/body" | wc -l)" = 1 ] && ok || bad "--top-k 1 gave $(pairs "$TMP/body" | wc -l) pairs"
grep -q '"abstain"' "$TMP/body" && bad "abstain written without --abstain-below" || ok
req 200 "metrics without a key when none is set" "$U/metrics"
grep -q 'tcf serve: POST /v1/classify 200 1 text' "$TMP/serve2.log" && ok || bad "--verbose logs no request line"
# the same port twice
expect_rc 1 "port in use" -- "$TCF" serve --model "$TMP/run" --port "$PORT"
expect_err "cannot listen on 127.0.0.1:$PORT" "port in use"
kill -INT "$SPID"; wait "$SPID"; rc=$?; SPID=""
[ "$rc" = 0 ] && ok || bad "exit status $rc after SIGINT"

# ---- bad models and options: clear errors at start ----------------------------------
cp -r "$TMP/run" "$TMP/trunc"
head -c 100 "$TMP/run/classifier.safetensors" > "$TMP/trunc/classifier.safetensors"
expect_rc 1 "truncated model file" -- "$TCF" serve --model "$TMP/trunc" --port 0
expect_err "classifier.safetensors" "truncated model names the file"
# the run's base model turned into another architecture (a llama config.json)
mkdir "$TMP/llama"
for f in "$PWD/$MODEL"/*; do ln -s "$f" "$TMP/llama/"; done
rm "$TMP/llama/config.json"
sed 's/"model_type": *"bert"/"model_type": "llama"/' $MODEL/config.json > "$TMP/llama/config.json"
cp -r "$TMP/run" "$TMP/arch"
sed "s|\"base_model\":[^,]*,|\"base_model\": \"$TMP/llama\",|" "$TMP/run/tcf_run.json" > "$TMP/arch/tcf_run.json"
expect_rc 1 "base model of another architecture" -- "$TCF" serve --model "$TMP/arch" --port 0
expect_err 'model_type "llama" is not supported' "another architecture named"
expect_rc 1 "GGUF of another architecture" -- "$TCF" serve --model tests/fixtures/gguf/smollm2_rows.gguf --port 0
expect_err "smollm2_rows.gguf" "GGUF error names the file"
expect_rc 1 "no such model" -- "$TCF" serve --model "$TMP/nothing" --port 0
expect_rc 1 "missing key file" -- "$TCF" serve --model "$TMP/run" --api-key-file "$TMP/nokey"
expect_err "nokey" "missing key file named"
printf '\n' > "$TMP/emptykey"
expect_rc 1 "empty key file" -- "$TCF" serve --model "$TMP/run" --api-key-file "$TMP/emptykey"
expect_err "emptykey:1: the key is empty" "empty key"
expect_rc 2 "bad port" -- "$TCF" serve --model "$TMP/run" --port 70000
expect_rc 2 "bad threshold" -- "$TCF" serve --model "$TMP/run" --abstain-below 1.5
expect_rc 2 "no model" -- "$TCF" serve
expect_rc 2 "unknown option" -- "$TCF" serve --model "$TMP/run" --bogus
expect_rc 0 "serve --help" -- "$TCF" serve --help
grep -q -- '--max-wait-ms' "$TMP/out" && ok || bad "help lacks --max-wait-ms"

summary cli_serve

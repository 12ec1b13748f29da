#!/bin/bash
# OLLAMA_MAX_QUEUE: a request beyond the queue gets 503 with Ollama's message; a client that
# disconnects mid-generation frees its slot at once (the next request does not wait for the
# abandoned generation to finish).
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_start OLLAMA_NUM_PARALLEL=1 OLLAMA_MAX_QUEUE=1
long='{"model":"stories","prompt":"Once upon a time","options":{"num_predict":100000}}'
curl -s "$BASE/api/generate" -d '{"model":"stories"}' >/dev/null   # load first
# A holds the only slot, B waits in the queue, C is refused
curl -s -N --max-time 30 "$BASE/api/generate" -d "$long" >"$TMPDIR_TEST/a" 2>/dev/null & pa=$!
sleep 0.5
curl -s -N --max-time 30 "$BASE/api/generate" -d "$long" >"$TMPDIR_TEST/b" 2>/dev/null & pb=$!
sleep 0.5
code=$(curl -s -o "$TMPDIR_TEST/c" -w '%{http_code}' --max-time 10 "$BASE/api/generate" \
    -d '{"model":"stories","prompt":"x","options":{"num_predict":2}}')
[ "$code" = 503 ] || fail "expected 503, got $code $(cat "$TMPDIR_TEST/c")"
grep -q 'server busy, please try again.  maximum pending requests exceeded' "$TMPDIR_TEST/c" \
    || fail "503 body: $(cat "$TMPDIR_TEST/c")"
# disconnect A, then B (which got the slot); each must free the slot at once
kill $pa; wait $pa 2>/dev/null || true
sleep 0.5
[ -s "$TMPDIR_TEST/b" ] || fail "B did not get the slot after A disconnected"
kill $pb; wait $pb 2>/dev/null || true
start=$(date +%s%N)
o=$(curl -s --max-time 20 "$BASE/api/generate" -d '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":5}}')
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$o" | grep -q '"done":true' || fail "request after disconnects: $o"
[ "$ms" -lt 3000 ] || fail "slot not freed promptly (${ms} ms)"
echo "after-disconnect request took ${ms} ms"
echo ok

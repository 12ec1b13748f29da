#!/bin/bash
# /api/generate through a real daemon and runner on the tiny stories model: streaming and not,
# seeds, num_predict, stop strings, context round trip, raw, load/unload idiom, errors.
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_start
gen() { curl -s --max-time 60 "$BASE/api/generate" -d "$1"; }

# non-streamed: one object, full text, done_reason length, every metric present
out=$(gen '{"model":"stories","prompt":"Once upon a time","stream":false,"options":{"num_predict":24}}')
echo "$out" | jget '["done"]' | grep -qx True || fail "not done: $out"
[ "$(echo "$out" | jget '["done_reason"]')" = length ] || fail "done_reason: $out"
[ "$(echo "$out" | jget '["eval_count"]')" = 24 ] || fail "eval_count: $out"
for k in context total_duration load_duration prompt_eval_count prompt_eval_duration eval_duration; do
    echo "$out" | grep -q "\"$k\"" || fail "missing $k: $out"
done
full=$(echo "$out" | jget '["response"]')
[ -n "$full" ] || fail "empty response"

# streamed: NDJSON lines whose concatenation equals the non-streamed text (greedy)
s=$(gen '{"model":"stories","prompt":"Once upon a time","options":{"num_predict":24}}')
[ "$(echo "$s" | wc -l)" -gt 2 ] || fail "stream has too few lines: $s"
echo "$s" | head -1 | grep -q '"done":false' || fail "first line: $s"
echo "$s" | head -1 | grep -q 'done_reason' && fail "done_reason on a delta"
joined=$(echo "$s" | python3 -c 'import json,sys; print("".join(json.loads(l)["response"] for l in sys.stdin))')
[ "$joined" = "$full" ] || fail "stream '$joined' != whole '$full'"

# seeds: same seed same text, another seed other text (temperature 1)
a=$(gen '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":30,"temperature":1,"seed":42}}' | jget '["response"]')
b=$(gen '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":30,"temperature":1,"seed":42}}' | jget '["response"]')
c=$(gen '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":30,"temperature":1,"seed":7}}' | jget '["response"]')
[ "$a" = "$b" ] || fail "same seed differs: '$a' vs '$b'"
[ "$a" != "$c" ] || fail "different seeds gave the same text: '$a'"

# stop strings: output cut before the stop text, which never appears; done_reason stop
word=$(echo "$full" | awk '{print $3}')
o=$(gen "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"stream\":false,\"options\":{\"num_predict\":24,\"stop\":[\"$word\"]}}")
r=$(echo "$o" | jget '["response"]')
[ "$(echo "$o" | jget '["done_reason"]')" = stop ] || fail "stop reason: $o"
case "$r" in *"$word"*) fail "stop string '$word' emitted: '$r'";; esac
case "$full" in "$r"*) ;; *) fail "stopped text '$r' is not a prefix of '$full'";; esac

# context round trip: the context holds prompt + answer tokens and a request continues it
ctx=$(gen '{"model":"stories","prompt":"Once upon a time","stream":false,"options":{"num_predict":12}}' | jget '["context"]')
first=$(gen '{"model":"stories","prompt":"Once upon a time","stream":false,"options":{"num_predict":12}}' | jget '["response"]')
cont=$(gen "{\"model\":\"stories\",\"prompt\":\" \",\"context\":$ctx,\"stream\":false,\"options\":{\"num_predict\":12}}" | jget '["response"]')
[ -n "$cont" ] || fail "context continuation empty"
n=$(echo "$ctx" | python3 -c 'import json,sys; print(len(json.loads(sys.stdin.read().replace("\x27","\""))))')
[ "$n" -ge 17 ] || fail "context too short ($n): $ctx"

# raw: no context returned; raw + system is a 400
o=$(gen '{"model":"stories","prompt":"Once upon a time","raw":true,"stream":false,"options":{"num_predict":5}}')
echo "$o" | grep -q '"context"' && fail "raw returned a context: $o"
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/generate" -d '{"model":"stories","prompt":"x","raw":true,"system":"s"}')
[ "$code" = 400 ] && grep -q 'raw mode does not support template, system, or context' "$TMPDIR_TEST/r" || fail "raw+system: $code $(cat "$TMPDIR_TEST/r")"

# errors: unknown model 404, bad option type 400, bad format 400, images without vision 400
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/generate" -d '{"model":"nope","prompt":"x"}')
[ "$code" = 404 ] && grep -q "model 'nope' not found" "$TMPDIR_TEST/r" || fail "missing model: $code $(cat "$TMPDIR_TEST/r")"
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/generate" -d '{"model":"stories","prompt":"x","options":{"top_k":"many"}}')
[ "$code" = 400 ] || fail "bad option: $code $(cat "$TMPDIR_TEST/r")"
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/generate" -d '{"model":"stories","prompt":"x","format":"yaml"}')
[ "$code" = 400 ] || fail "bad format: $code $(cat "$TMPDIR_TEST/r")"
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/generate" -d '{"model":"stories","prompt":"x","images":["aGk="]}')
[ "$code" = 400 ] && grep -q 'does not support vision' "$TMPDIR_TEST/r" || fail "images: $code $(cat "$TMPDIR_TEST/r")"
o=$(gen '{"model":"stories","prompt":"Once","format":"json","stream":false,"options":{"num_predict":3}}')
echo "$o" | grep -q '"done":true' || fail "format json not accepted: $o"

# load / unload idiom, visible in /api/ps
o=$(gen '{"model":"stories"}')
echo "$o" | grep -q '"done_reason":"load"' || fail "load: $o"
curl -s "$BASE/api/ps" | grep -q '"name":"stories:latest"' || fail "not in ps after load"
curl -s "$BASE/api/ps" | grep -q '"context_length":' || fail "no context_length in ps"
o=$(gen '{"model":"stories","keep_alive":0}')
echo "$o" | grep -q '"done_reason":"unload"' || fail "unload: $o"
[ "$(curl -s "$BASE/api/ps")" = '{"models":[]}' ] || fail "still loaded: $(curl -s "$BASE/api/ps")"
# keep_alive 0 on a real request unloads after it
gen '{"model":"stories","prompt":"Once","keep_alive":0,"stream":false,"options":{"num_predict":3}}' >/dev/null
[ "$(curl -s "$BASE/api/ps")" = '{"models":[]}' ] || fail "keep_alive 0 did not unload"
# negative keep_alive: forever
gen '{"model":"stories","prompt":"Once","keep_alive":-1,"stream":false,"options":{"num_predict":3}}' >/dev/null
curl -s "$BASE/api/ps" | grep -q '"expires_at":"23' || fail "keep_alive -1: $(curl -s "$BASE/api/ps")"
echo ok

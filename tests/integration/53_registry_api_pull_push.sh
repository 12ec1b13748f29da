#!/bin/bash
# POST /api/push and /api/pull on a running daemon against docker-registry on loopback:
# NDJSON progress as Ollama streams it, the model deleted and pulled back identical, stream:false
# answers the last object, errors as Ollama words them (invalid name 400, unknown model line).
set -u
. tests/data/store/registry_lib.sh
start_registry main
R=127.0.0.1:$REG_PORT_main
NAME=$R/library/stories:v1
export OLLAMA_MODELS=$W/models
"$B" registry import testdata/models/stories260K.gguf "$NAME" || fail import
cp -r "$W/models" "$W/orig"
PORT=$(rand_port)
OLLAMA_HOST=127.0.0.1:$PORT OLLAMA_NOPRUNE=1 CORRAL_SANDBOX=off "$B" serve > "$W/serve.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/api/version"
API=http://127.0.0.1:$PORT

curl -sS "$API/api/push" -d "{\"model\":\"$NAME\",\"insecure\":true}" > "$W/push.out" || fail "push request"
head -1 "$W/push.out" | grep -qx '{"status":"retrieving manifest"}' || fail "push first line: $(head -1 "$W/push.out")"
grep -q '^{"status":"pushing 270cba1bd510","digest":"sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d","total":1185376' "$W/push.out" || fail "push layer line"
tail -2 "$W/push.out" | tr -d '\n' | grep -qx '{"status":"pushing manifest"}{"status":"success"}' || fail "push end: $(cat "$W/push.out")"

curl -sS -X DELETE "$API/api/delete" -d "{\"model\":\"$NAME\"}" > /dev/null || fail delete
[ -e "$W/models/manifests/$R/library/stories/v1" ] && fail "delete left the manifest"

curl -sS "$API/api/pull" -d "{\"name\":\"$NAME\",\"insecure\":true}" > "$W/pull.out" || fail "pull request"
head -1 "$W/pull.out" | grep -qx '{"status":"pulling manifest"}' || fail "pull first line"
grep -q '^{"status":"pulling 270cba1bd510","digest":"sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d","total":1185376,"completed":1185376}$' "$W/pull.out" || fail "pull layer line"
tail -3 "$W/pull.out" | tr -d '\n' | grep -qx '{"status":"verifying sha256 digest"}{"status":"writing manifest"}{"status":"success"}' || fail "pull end: $(cat "$W/pull.out")"
cmp "$W/orig/manifests/$R/library/stories/v1" "$W/models/manifests/$R/library/stories/v1" || fail "manifest differs"
[ "$(blob_digests "$W/orig")" = "$(blob_digests "$W/models")" ] || fail "blobs differ"

# stream:false answers the last object only
out=$(curl -sS "$API/api/pull" -d "{\"model\":\"$NAME\",\"insecure\":true,\"stream\":false}")
[ "$out" = '{"status":"success"}' ] || fail "stream false: $out"

# errors
code=$(curl -sS -o "$W/e1" -w '%{http_code}' "$API/api/pull" -d '{"model":"bad..//name"}')
[ "$code" = 400 ] && grep -qx '{"error":"invalid model name"}' "$W/e1" || fail "invalid name: $code $(cat "$W/e1")"
code=$(curl -sS -o "$W/e1" -w '%{http_code}' "$API/api/pull" -d '{"model":"a:b:c","stream":false}')
[ "$code" = 400 ] && grep -qx '{"error":"invalid model name"}' "$W/e1" || fail "invalid name, stream false: $code $(cat "$W/e1")"
curl -sS "$API/api/pull" -d "{\"model\":\"$R/library/nothere\",\"insecure\":true}" > "$W/e2"
tail -1 "$W/e2" | grep -qx '{"error":"pull model manifest: file does not exist"}' || fail "404 line: $(cat "$W/e2")"
code=$(curl -sS -o "$W/e3" -w '%{http_code}' "$API/api/pull" -d "{\"model\":\"$R/library/nothere\",\"insecure\":true,\"stream\":false}")
[ "$code" = 500 ] && grep -qx '{"error":"pull model manifest: file does not exist"}' "$W/e3" || fail "404 stream false: $code $(cat "$W/e3")"
curl -sS "$API/api/push" -d "{\"model\":\"$R/library/absent\",\"insecure\":true}" > "$W/e4"
tail -1 "$W/e4" | grep -q '"error"' || fail "push of a missing model: $(cat "$W/e4")"
echo "api pull/push checks passed"

# the CLI against the same daemon: plain lines when not on a terminal
export OLLAMA_HOST=127.0.0.1:$PORT
curl -sS -X DELETE "$API/api/delete" -d "{\"model\":\"$NAME\"}" > /dev/null || fail delete
"$B" pull --insecure "$NAME" > "$W/cli.out" 2> "$W/cli.err" || fail "corral pull: $(cat "$W/cli.err")"
head -1 "$W/cli.out" | grep -qx 'pulling manifest' || fail "cli first line: $(cat "$W/cli.out")"
grep -qx 'pulling 270cba1bd510: 100% 1.2 MB' "$W/cli.out" || fail "cli layer line: $(cat "$W/cli.out")"
tail -3 "$W/cli.out" | tr '\n' '|' | grep -qx 'verifying sha256 digest|writing manifest|success|' || fail "cli end: $(cat "$W/cli.out")"
# pulling a model that is present: exactly Ollama's lines (every layer at 100%, no download)
"$B" pull --insecure "$NAME" > "$W/again.out" 2>&1 || fail "second corral pull: $(cat "$W/again.out")"
printf '%s\n' "pulling manifest" "pulling 270cba1bd510: 100% 1.2 MB" "pulling ef41e476fe8e: 100% 254 B" \
    "verifying sha256 digest" "writing manifest" "success" | cmp -s - "$W/again.out" ||
    fail "present-model lines: $(cat "$W/again.out")"
# ... and on a terminal, the last frame: bars with Ollama's frame and right-aligned sizes
if command -v script > /dev/null; then
    COLUMNS=80 script -qec "stty cols 80; $B pull --insecure $NAME" /dev/null > "$W/tty.out" 2>&1 < /dev/null ||
        fail "tty pull: $(cat "$W/tty.out")"
    last=$(sed 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r//g' "$W/tty.out" | tail -6)
    echo "$last" | grep -q '^pulling 270cba1bd510: 100% ▕█*▏ 1.2 MB *$' || fail "tty layer bar: $last"
    echo "$last" | grep -q '^pulling ef41e476fe8e: 100% ▕█*▏  254 B *$' || fail "tty config bar: $last"
    echo "$last" | tail -1 | grep -qx 'success' || fail "tty end: $last"
fi
"$B" pull --insecure "$R/library/nothere" > /dev/null 2> "$W/cli.err" && fail "cli pull of a missing model succeeded"
grep -qx 'Error: pull model manifest: file does not exist' "$W/cli.err" || fail "cli 404: $(cat "$W/cli.err")"
"$B" push --insecure "$NAME" > "$W/clipush.out" 2>&1 || fail "corral push: $(cat "$W/clipush.out")"
tail -1 "$W/clipush.out" | grep -qx success || fail "cli push end"
OLLAMA_HOST=127.0.0.1:1 "$B" pull "$NAME" 2> "$W/cli.err" && fail "pull without a daemon succeeded"
grep -q "could not connect" "$W/cli.err" || fail "no-daemon text: $(cat "$W/cli.err")"
echo "cli pull/push checks passed"

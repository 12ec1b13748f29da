#!/bin/bash
# The daemon on a random port with a temp store: liveness, version, empty tags, Ollama's error
# conventions (404 page, 405, malformed JSON, wrong types, body cap), Host/CORS policy, a busy
# port as one clear line, the CLI's one-line "not running" error, clean SIGTERM shutdown.
. "$(dirname "$0")/lib.bash"

# the CLI without a daemon
export OLLAMA_HOST=127.0.0.1:$(free_port)
out=$("$BIN" list 2>&1) && fail "list without daemon succeeded"
[ "$out" = "Error: could not connect to corral server, run 'corral serve' to start it" ] || fail "got: $out"

start_daemon "$T/models"
[ "$(curl -s "$URL/")" = "Ollama is running" ] || fail "root"
expect_status 200 -I "$URL/"
# the sandbox object depends on the kernel (mode enforce with its layers, or warn/off)
curl -s "$URL/api/version" | grep -Eq '^\{"version":"[0-9.]+","sandbox":\{"mode":"(enforce|warn|off)"' || fail "version: $(curl -s "$URL/api/version")"
[ "$(curl -s "$URL/api/tags")" = '{"models":[]}' ] || fail "tags"
[ "$(curl -s "$URL/api/ps")" = '{"models":[]}' ] || fail "ps"
expect_status 404 "$URL/api/nothing"
[ "$(cat "$T/body")" = "404 page not found" ] || fail "404 body"
expect_status 405 -X POST "$URL/api/tags"
expect_status 400 -X POST "$URL/api/show"
grep -q '"error":"missing request body"' "$T/body" || fail "empty body message"
expect_status 400 "$URL/api/show" -d '{"model":'
grep -q '"error"' "$T/body" || fail "malformed json message"
expect_status 400 "$URL/api/show" -d '{"model":12}'
grep -q 'cannot unmarshal number' "$T/body" || fail "wrong type message"
expect_status 404 "$URL/api/show" -d '{"model":"missing"}'
[ "$(cat "$T/body")" = "{\"error\":\"model 'missing:latest' not found\"}" ] || fail "not found body"
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' ' ' > "$T/big"
expect_status 413 "$URL/api/show" --data-binary @"$T/big"

# DNS rebinding defence and CORS
expect_status 403 -H 'Host: evil.example' "$URL/api/tags"
expect_status 200 -H 'Host: localhost:1234' "$URL/api/tags"
expect_status 403 -H 'Origin: https://evil.example' "$URL/api/tags"
curl -s -D "$T/h" -o /dev/null -H 'Origin: http://localhost:3000' "$URL/api/tags"
grep -qi '^Access-Control-Allow-Origin: http://localhost:3000' "$T/h" || fail "CORS header"
expect_status 204 -X OPTIONS -H 'Origin: http://localhost:3000' "$URL/api/chat"
expect_status 405 -X OPTIONS "$URL/api/tags"

# slow clients (headers or body trickling in, then silence) do not stall anyone else
for fd in 5 6 7 8; do
    eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"
    printf 'POST /api/show HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{"mo' >&$fd
done
exec 9<>"/dev/tcp/127.0.0.1/$PORT"; printf 'GET /api/tags HTTP/1.1\r\nHo' >&9
[ "$(curl -s --max-time 3 "$URL/api/tags")" = '{"models":[]}' ] || fail "stalled by slow clients"
for fd in 5 6 7 8 9; do eval "exec $fd>&-"; done

# a second daemon on the same port: one clear line
out=$(OLLAMA_MODELS=$T/other "$BIN" serve 2>&1) && fail "second bind succeeded"
echo "$out" | grep -qx "Error: listen tcp 127.0.0.1:$PORT: bind: address already in use" || fail "busy port: $out"

# clean shutdown on SIGTERM
kill -TERM "$DPID"
wait "$DPID" || fail "daemon exit status $?"
PIDS=()
grep -q "shutting down" "$T/daemon.log" || fail "no shutdown log"
echo ok

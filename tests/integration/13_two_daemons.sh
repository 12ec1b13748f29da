#!/bin/bash
# Two daemons on one store: the second refuses at start with one clear line (the store's
# advisory lock), the first keeps serving and the store stays intact; after the first stops the
# store can be served again.
. "$(dirname "$0")/lib.bash"
start_daemon "$T/models" "$T/d1.log"
first=$URL
d=sha256:$(sha_of "$GGUF")
curl -sf -o /dev/null --data-binary @"$GGUF" "$URL/api/blobs/$d" || fail "upload"
curl -sf -o /dev/null "$URL/api/create" -d "{\"model\":\"one\",\"files\":{\"m.gguf\":\"$d\"}}" || fail "create"

port2=$(free_port)
if out=$(OLLAMA_HOST=127.0.0.1:$port2 OLLAMA_MODELS=$T/models timeout 10 "$BIN" serve 2>&1); then
    fail "second daemon started on the same store"
fi
echo "$out" | grep -qx "Error: the model store $T/models is in use by another corral daemon" || fail "message: $out"
curl -sf "$first/api/tags" | grep -q '"name":"one:latest"' || fail "first daemon lost the model"
curl -sf -o /dev/null "$first/api/show" -d '{"model":"one"}' || fail "show after refusal"

kill -TERM "$DPID"; wait "$DPID" || true; PIDS=()
start_daemon "$T/models" "$T/d2.log"
curl -sf "$URL/api/tags" | grep -q '"name":"one:latest"' || fail "store not intact after restart"
echo ok

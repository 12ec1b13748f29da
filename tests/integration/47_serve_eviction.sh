#!/bin/bash
# OLLAMA_MAX_LOADED_MODELS=1: loading a second model evicts the idle first one (one runner
# process at a time); two names for the same blob share one instance; OLLAMA_KEEP_ALIVE applies.
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_install other tests/data/models/stories260K-Q8_0.gguf "" '{"temperature":0}'
serve_install alias "$MODEL_GGUF" "" '{"temperature":0}'
serve_start OLLAMA_MAX_LOADED_MODELS=1 OLLAMA_KEEP_ALIVE=1h
gen() { curl -s --max-time 60 "$BASE/api/generate" -d "{\"model\":\"$1\",\"prompt\":\"Once\",\"stream\":false,\"options\":{\"num_predict\":4}}"; }
gen stories | grep -q '"done":true' || fail "stories"
ps=$(curl -s "$BASE/api/ps")
echo "$ps" | grep -q '"name":"stories:latest"' || fail "stories not loaded: $ps"
# OLLAMA_KEEP_ALIVE=1h: expires about an hour from now
exp=$(echo "$ps" | jget '["models"][0]["expires_at"]')
left=$(( $(date -d "$exp" +%s) - $(date +%s) ))
[ "$left" -gt 3000 ] && [ "$left" -le 3600 ] || fail "expires_at $exp is ${left}s away"
gen other | grep -q '"done":true' || fail "other"
ps=$(curl -s "$BASE/api/ps")
echo "$ps" | grep -q '"name":"other:latest"' || fail "other not loaded: $ps"
echo "$ps" | grep -q '"name":"stories:latest"' && fail "stories not evicted: $ps"
[ "$(pgrep -P "$DAEMON_PID" | wc -l)" = 1 ] || fail "more than one runner"
# same blob, two names: one instance (the runner of the first is reused)
gen stories >/dev/null; r1=$(pgrep -P "$DAEMON_PID")
gen alias >/dev/null; r2=$(pgrep -P "$DAEMON_PID")
[ "$r1" = "$r2" ] || fail "alias of the same blob started another runner"
echo ok

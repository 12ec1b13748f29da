#!/bin/bash
# scripts/demo.sh - the README's demo (`make demo` runs it after installing deps and building):
# starts `bin/corral serve` on a random free 127.0.0.1 port with a temporary OLLAMA_MODELS,
# imports the bundled tiny model testdata/models/stories260K.gguf as `stories` with
# `corral create`, runs `corral list` and `corral show`, generates a continuation with
# `corral run`, and stops the daemon on exit.
# CORRAL_BIN overrides the binary (default bin/corral).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(readlink -f "${CORRAL_BIN:-bin/corral}")
GGUF=$(readlink -f testdata/models/stories260K.gguf)
WORK=$(mktemp -d /tmp/corral-demo-XXXXXX)
DPID=
cleanup() {
    if [ -n "$DPID" ]; then
        kill "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

port=
for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "demo: no free port" >&2; exit 1; }
export OLLAMA_HOST=127.0.0.1:$port OLLAMA_MODELS=$WORK/models

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step "corral serve   (OLLAMA_HOST=$OLLAMA_HOST, OLLAMA_MODELS=$OLLAMA_MODELS)"
"$BIN" serve >"$WORK/serve.log" 2>&1 &
DPID=$!
for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://$OLLAMA_HOST/" && break
    kill -0 "$DPID" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.1
done
curl -s "http://$OLLAMA_HOST/"; echo

cat >"$WORK/Modelfile" <<MF
FROM $GGUF
PARAMETER temperature 0.7
PARAMETER num_ctx 256
SYSTEM You tell short stories for children.
MF
step "corral create stories -f Modelfile"
cat "$WORK/Modelfile"
"$BIN" create stories -f "$WORK/Modelfile"

step "corral list"
"$BIN" list

step "corral show stories"
"$BIN" show stories

step "curl /api/tags"
curl -s "http://$OLLAMA_HOST/api/tags"; echo

# generation (serve module).  The bundled model never emits an end-of-story token, so the demo
# shows the first 600 bytes; closing the pipe cancels the generation in the daemon.
step 'corral run stories "Once upon a time"'
("$BIN" run stories "Once upon a time" || true) | head -c 600; echo

step "corral ps"
"$BIN" ps
echo
echo "demo: done (daemon stopped, temporary store removed)"

# lib.bash - helpers sourced by the daemon integration tests (not a test itself: the runner
# only runs *.sh).  Every daemon started here listens on a random free loopback port with a
# temporary store and is killed on exit.
set -euo pipefail
BIN=${CORRAL_BIN_ABS:?CORRAL_BIN_ABS not set}
T=${TMPDIR_TEST:?TMPDIR_TEST not set}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GGUF=$REPO/testdata/models/stories260K.gguf
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Ports come from 20000-31999, below the kernel's ephemeral range (32768-60999), so a port
# cannot be taken between the check and the bind by some client's outgoing connection.
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    fail "no free port"
}

# start_daemon <models dir> [log file]: sets PORT, URL, DPID and OLLAMA_HOST/OLLAMA_MODELS.
start_daemon() {
    local models=$1 log=${2:-$T/daemon.log}
    PORT=$(free_port)
    export OLLAMA_HOST=127.0.0.1:$PORT OLLAMA_MODELS=$models
    URL=http://127.0.0.1:$PORT
    "$BIN" serve >"$log" 2>&1 &
    DPID=$!
    PIDS+=("$DPID")
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null "$URL/" && return 0
        kill -0 "$DPID" 2>/dev/null || { cat "$log" >&2; fail "daemon exited at start"; }
        sleep 0.1
    done
    cat "$log" >&2
    fail "daemon did not answer"
}

# expect_status <want> <curl args...>: checks the HTTP status; body in $T/body.
expect_status() {
    local want=$1 got
    shift
    got=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
    [ "$got" = "$want" ] || fail "want $want got $got for $* body: $(cat "$T/body")"
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

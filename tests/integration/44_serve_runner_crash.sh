#!/bin/bash
# A runner killed with SIGKILL mid-request: the stream ends with Ollama's error line, the
# daemon's log names the runner, the model and the signal (the monitor's exit status reaches
# the scheduler), the daemon stays up, and the next request loads a fresh runner and succeeds.
# Models whose GGUF passes the server's metadata reader but fails in the engine (an unknown
# architecture, tensor data cut off) answer 500 with the engine's own error text, and the log
# names the runner's exit status.  No zombie is left.
set -eu
source tests/integration/serve_lib.bash
serve_setup
# general.architecture "llama" -> "mamba" (same length: every offset stays valid)
python3 - "$MODEL_GGUF" "$TMPDIR_TEST/arch.gguf" <<'PY'
import sys
d = open(sys.argv[1], 'rb').read()
k = b'general.architecture'
i = d.index(k) + len(k)
assert d[i:i + 4] == (8).to_bytes(4, 'little')  # GGUF string
n = int.from_bytes(d[i + 4:i + 12], 'little')
assert d[i + 12:i + 12 + n] == b'llama'
open(sys.argv[2], 'wb').write(d[:i + 12] + b'mamba' + d[i + 12 + n:])
PY
head -c 200000 "$MODEL_GGUF" >"$TMPDIR_TEST/cut.gguf"
serve_install badarch "$TMPDIR_TEST/arch.gguf"
serve_install cut "$TMPDIR_TEST/cut.gguf"
serve_start
# runners are children of the monitor process under the sandbox, of the daemon without it
find_runner() {
    local p c
    for p in "$DAEMON_PID" $(pgrep -P "$DAEMON_PID"); do
        for c in $(pgrep -P "$p"); do
            tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q ' runner' && { echo "$c"; return; }
        done
    done
}
curl -s -N --max-time 60 "$BASE/api/generate" \
    -d '{"model":"stories","prompt":"Once upon a time","options":{"num_predict":100000}}' \
    >"$TMPDIR_TEST/s" 2>/dev/null & pc=$!
for i in $(seq 1 50); do [ -s "$TMPDIR_TEST/s" ] && break; sleep 0.1; done
runner=$(find_runner)
[ -n "$runner" ] || fail "no runner process"
kill -9 "$runner"
wait $pc || true
tail -1 "$TMPDIR_TEST/s" | grep -q '"error":"model runner has unexpectedly stopped, this may be due to resource limitations or an internal error, check ollama server logs for details"}' \
    || fail "no error line: $(tail -2 "$TMPDIR_TEST/s")"
logged() { # logged PATTERN: waits up to 5 s for the daemon's log to match
    local i
    for i in $(seq 1 50); do grep -qE "$1" "$TMPDIR_TEST/daemon.log" && return 0; sleep 0.1; done
    return 1
}
logged "ERROR sched: runner pid=$runner model=stories:latest stopped: killed by signal 9" \
    || fail "the log does not name the runner's signal"
kill -0 "$DAEMON_PID" || fail "daemon died"
o=$(curl -s --max-time 30 "$BASE/api/generate" -d '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":5}}')
echo "$o" | grep -q '"done":true' || fail "next request: $o"
new=$(find_runner)
[ -n "$new" ] && [ "$new" != "$runner" ] || fail "no fresh runner"
# load failures: the engine's error text, 500, and the exit status in the log
load_fails() { # load_fails MODEL TEXT
    local o code
    o=$(curl -s -w '\n%{http_code}' --max-time 30 "$BASE/api/generate" -d "{\"model\":\"$1\",\"prompt\":\"hi\"}")
    code=$(echo "$o" | tail -1)
    [ "$code" = 500 ] || fail "$1: HTTP $code: $o"
    echo "$o" | head -1 | grep -qF "{\"error\":\"$2" || fail "$1: $o"
    logged "ERROR sched: runner pid=[0-9]+ model=$1:latest stopped: exit status 1" \
        || fail "$1: the log does not name the runner's exit status"
}
load_fails badarch "model: unsupported architecture 'mamba'"
load_fails cut "gguf: tensor '"
o=$(curl -s -w '\n%{http_code}' --max-time 30 "$BASE/api/chat" -d '{"model":"badarch","messages":[{"role":"user","content":"hi"}]}')
echo "$o" | grep -qF "unsupported architecture 'mamba'" || fail "chat: $o"
# a normal unload is no error
curl -s "$BASE/api/generate" -d '{"model":"stories","keep_alive":0}' >/dev/null
for i in $(seq 1 50); do
    [ "$(grep -c 'INFO  sched: unloaded model=stories:latest' "$TMPDIR_TEST/daemon.log")" -ge 2 ] && break
    sleep 0.1
done
grep -q "monitor: runner $new exited: exit status 0" "$TMPDIR_TEST/daemon.log" || fail "unload: not exit status 0"
grep -E "ERROR sched: runner pid=$new " "$TMPDIR_TEST/daemon.log" && fail "a normal unload logged as an error"
# no zombie left behind
for p in "$DAEMON_PID" $(pgrep -P "$DAEMON_PID"); do
    ps -o stat= --ppid "$p" | grep -q Z && fail "zombie runner"
done
echo ok

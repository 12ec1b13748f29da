#!/bin/bash
# A runner killed with SIGKILL mid-request: the stream ends with an error line, the daemon stays
# up, and the next request loads a fresh runner and succeeds.
set -eu
source tests/integration/serve_lib.bash
serve_setup
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
tail -1 "$TMPDIR_TEST/s" | grep -q '"error":"model runner has unexpectedly stopped' \
    || fail "no error line: $(tail -2 "$TMPDIR_TEST/s")"
kill -0 "$DAEMON_PID" || fail "daemon died"
o=$(curl -s --max-time 30 "$BASE/api/generate" -d '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":5}}')
echo "$o" | grep -q '"done":true' || fail "next request: $o"
new=$(find_runner)
[ -n "$new" ] && [ "$new" != "$runner" ] || fail "no fresh runner"
# no zombie left behind
for p in "$DAEMON_PID" $(pgrep -P "$DAEMON_PID"); do
    ps -o stat= --ppid "$p" | grep -q Z && fail "zombie runner"
done
echo ok

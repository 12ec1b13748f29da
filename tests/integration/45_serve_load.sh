#!/bin/bash
# Bounded loopback load: rounds of 200 concurrent /api/generate requests on the tiny model.
# Every request must be answered 200 (or 503 when the queue is full) or refused at the door by
# the HTTP layer's connection limit (SRV_MAX_PER_IP: the connection is closed before a request
# is read; curl exit 52/56) - none may time out or fail otherwise - and the daemon's RSS must
# stay flat between rounds.  A round of 60 (under the per-IP limit) must be answered in full.
# Prints the figures recorded in docs/PERFORMANCE.md (Serving).
set -eu
source tests/integration/serve_lib.bash
serve_setup
N=${LOAD_N:-200}
REFUSED=0
serve_start OLLAMA_NUM_PARALLEL=4
curl -s "$BASE/api/generate" -d '{"model":"stories"}' >/dev/null
rss() { awk '/VmRSS/ {print $2}' "/proc/$DAEMON_PID/status"; }
round() { # round NAME: fires N requests at once, tallies the status codes
    local i start pids=()
    rm -f "$TMPDIR_TEST"/code.*
    start=$(date +%s%N)
    for i in $(seq 1 "$2"); do
        ( rc=0; code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 "$BASE/api/generate" \
            -d "{\"model\":\"stories\",\"prompt\":\"Once upon a time $i\",\"stream\":false,\"options\":{\"num_predict\":16}}" \
            2>/dev/null) || rc=$?; echo "$code $rc" >"$TMPDIR_TEST/code.$i" ) &
        pids+=($!)
    done
    wait "${pids[@]}" # not a bare wait: the daemon is a child of this shell too
    ELAPSED_MS=$(( ($(date +%s%N) - start) / 1000000 ))
    OK=$(cat "$TMPDIR_TEST"/code.* | grep -c '^200 0$' || true)
    BUSY=$(cat "$TMPDIR_TEST"/code.* | grep -c '^503 0$' || true)
    REFUSED=$(cat "$TMPDIR_TEST"/code.* | grep -cE '^000 (52|56)$' || true)
    OTHER=$(( $2 - OK - BUSY - REFUSED ))
    echo "$1: $2 requests in ${ELAPSED_MS} ms: $OK x 200, $BUSY x 503, $REFUSED refused by the connection limit, $OTHER lost; daemon RSS $(rss) kB"
    [ "$OTHER" = 0 ] || { sort "$TMPDIR_TEST"/code.* | uniq -c; fail "$OTHER requests lost or failed"; }
}
round under-limit 60
[ "$REFUSED" = 0 ] && [ "$OK" = 60 ] || fail "60 concurrent requests not all answered"
round warmup "$N"; rss1=$(rss)
round round1 "$N"; rss2=$(rss)
round round2 "$N"; rss3=$(rss)
kill -0 "$DAEMON_PID" || fail "daemon died"
# flat: the later rounds grow the daemon by less than 8 MB (not under ASan, whose quarantine
# keeps freed memory resident by design; its leak check runs at the daemon's exit instead)
if [ -z "${ASAN_OPTIONS:-}" ]; then
    [ $(( rss3 - rss1 )) -lt 8192 ] || fail "RSS grew: $rss1 -> $rss2 -> $rss3 kB"
fi
echo "RSS after rounds: $rss1 $rss2 $rss3 kB"
echo ok

#!/bin/bash
# SIGTERM while a client is half-way through a blob upload: the daemon exits promptly and
# cleanly, and the interrupted upload leaves no temp file in blobs/.  Also a client that gives up
# half-way leaves nothing behind while the daemon keeps serving.
. "$(dirname "$0")/lib.bash"
start_daemon "$T/models"
d=sha256:$(printf '%064d' 3)

# a client that sends part of a body and disconnects
( printf 'POST /api/blobs/%s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n' "$d"
  head -c 5000 /dev/zero; sleep 0.5 ) | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3" || true
sleep 0.5
[ -z "$(ls -A "$T/models/blobs")" ] || fail "aborted upload left: $(ls -A "$T/models/blobs")"
[ "$(curl -s "$URL/api/tags")" = '{"models":[]}' ] || fail "daemon not serving after an aborted upload"

# an upload in flight when the daemon is told to stop
mkfifo "$T/fifo"
( head -c 20000 /dev/zero; exec sleep 30 ) > "$T/fifo" &
PIDS+=("$!")
curl -s -o /dev/null -H 'Transfer-Encoding: chunked' --data-binary @"$T/fifo" "$URL/api/blobs/$d" &
PIDS+=("$!")
sleep 1
start=$(date +%s)
kill -TERM "$DPID"
for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DPID" 2>/dev/null && fail "daemon still running 10 s after SIGTERM"
wait "$DPID" || fail "daemon exit status $?"
echo "shutdown took $(( $(date +%s) - start )) s"
[ $(( $(date +%s) - start )) -le 10 ] || fail "slow shutdown"
[ -z "$(ls -A "$T/models/blobs")" ] || fail "interrupted upload left: $(ls -A "$T/models/blobs")"
echo ok

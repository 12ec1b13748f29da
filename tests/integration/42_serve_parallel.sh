#!/bin/bash
# OLLAMA_NUM_PARALLEL=2: two concurrent greedy requests on one model (decoded together in one
# batch by one runner) give exactly the outputs each gives alone.
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_start OLLAMA_NUM_PARALLEL=2
req() { echo "{\"model\":\"stories\",\"prompt\":\"$1\",\"stream\":false,\"options\":{\"num_predict\":300}}"; }
g() { curl -s --max-time 120 "$BASE/api/generate" -d "$(req "$1")" | jget '["response"]'; }
alone_a=$(g "Once upon a time"); alone_b=$(g "The dog ran")
[ "$alone_a" != "$alone_b" ] || fail "prompts should differ"
for round in 1 2; do
    g "Once upon a time" >"$TMPDIR_TEST/a" & pa=$!
    g "The dog ran" >"$TMPDIR_TEST/b" & pb=$!
    wait $pa $pb
    [ "$(cat "$TMPDIR_TEST/a")" = "$alone_a" ] || fail "concurrent A differs: $(cat "$TMPDIR_TEST/a")"
    [ "$(cat "$TMPDIR_TEST/b")" = "$alone_b" ] || fail "concurrent B differs: $(cat "$TMPDIR_TEST/b")"
done
# one runner served all of it
[ "$(pgrep -P "$DAEMON_PID" | wc -l)" = 1 ] || fail "expected one runner"
echo ok

#!/bin/bash
# use_mmap (request options or a Modelfile PARAMETER) reaches the runner: the scheduler's load
# line and the runner's own line say which mode each runner uses (default: weights copied to huge
# pages; use_mmap true: computed from the file mapping), the same value reuses the loaded
# runner, a different one reloads it, and answers are the same either way.
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_install mm "$MODEL_GGUF" "" '{"temperature":0,"use_mmap":true}'
serve_start
gen() { # gen MODEL OPTIONS_JSON -> the response text
    curl -s --max-time 30 "$BASE/api/generate" \
        -d "{\"model\":\"$1\",\"prompt\":\"Once upon a time\",\"stream\":false,\"options\":$2}" | jget "['response']"
}
loads() { grep -c "sched: loading model=$1" "$TMPDIR_TEST/daemon.log" || true; }
last_mode() { grep -E "runner: weights " "$TMPDIR_TEST/daemon.log" | tail -1 | sed 's/.*runner: weights //'; }
a=$(gen stories '{"num_predict":12}')
[ "$(loads stories)" = 1 ] || fail "no load"
grep -q "loading model=stories:latest .*use_mmap=false" "$TMPDIR_TEST/daemon.log" || fail "load line"
[ "$(last_mode)" = "copied to huge pages" ] || fail "default mode: $(last_mode)"
b=$(gen stories '{"num_predict":12,"use_mmap":false}')
[ "$(loads stories)" = 1 ] || fail "use_mmap false (the default) reloaded"
c=$(gen stories '{"num_predict":12,"use_mmap":true}')
[ "$(loads stories)" = 2 ] || fail "use_mmap true did not reload"
grep -q "loading model=stories:latest .*use_mmap=true" "$TMPDIR_TEST/daemon.log" || fail "load line true"
[ "$(last_mode)" = "mmapped (use_mmap)" ] || fail "mmap mode: $(last_mode)"
d=$(gen stories '{"num_predict":12,"use_mmap":true}')
[ "$(loads stories)" = 2 ] || fail "same use_mmap reloaded"
e=$(gen stories '{"num_predict":12}')
[ "$(loads stories)" = 3 ] || fail "back to the default did not reload"
[ "$(last_mode)" = "copied to huge pages" ] || fail "default again: $(last_mode)"
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] && [ "$a" = "$d" ] && [ "$a" = "$e" ] \
    || fail "answers differ: '$a' '$b' '$c' '$d' '$e'"
# from the Modelfile's parameters
f=$(gen mm '{"num_predict":12}')
grep -q "loading model=mm:latest .*use_mmap=true" "$TMPDIR_TEST/daemon.log" || fail "Modelfile use_mmap"
[ "$(last_mode)" = "mmapped (use_mmap)" ] || fail "Modelfile mode: $(last_mode)"
[ "$f" = "$a" ] || fail "mm answer differs: '$f'"
# a bad type is refused before any load
o=$(curl -s -w ' %{http_code}' "$BASE/api/generate" -d '{"model":"stories","prompt":"x","options":{"use_mmap":"yes"}}')
echo "$o" | grep -q ' 400$' || fail "bad use_mmap: $o"
echo ok

#!/bin/bash
# The daemon's sandbox, by behaviour, with controls (DESIGN.md "Testing").  A fake $HOME full of
# fake secrets and a models dir elsewhere:
#  - `corral sandbox selftest server|runner` applies the daemon's own profile functions in a
#    child and tries forbidden things: all denied under enforce, all allowed with CORRAL_SANDBOX=off;
#  - enforce without Landlock refuses to start with exit 78 and a paragraph; warn starts;
#  - the real daemon under enforce: /api/version reports the layers, the server process is
#    seccomp-filtered with no capabilities, runners are the monitor's children and filtered too;
#    create, generate, push and pull through the monitor (registry host allowed explicitly) work;
#  - a second daemon without CORRAL_ALLOW_HOSTS cannot pull from the loopback registry.
set -u
. tests/data/store/registry_lib.sh
start_registry main
R=127.0.0.1:$REG_PORT_main
H=$W/home
mkdir -p "$H/.ssh" "$H/.aws" "$W/models" "$W/models2"
echo "FAKE-PRIVATE-KEY" > "$H/.ssh/id_rsa"
printf '[default]\naws_secret_access_key = FAKE\n' > "$H/.aws/credentials"
export HOME=$H OLLAMA_MODELS=$W/models
unset CORRAL_ALLOW_HOSTS CORRAL_LANDLOCK_MAX_ABI
jf() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

# ---- selftest: the same profile functions, a fixed battery --------------------------------
for prof in server runner; do
    out=$(CORRAL_SANDBOX=enforce "$B" sandbox selftest $prof --port "$REG_PORT_main") || fail "selftest $prof"
    for k in read_secret read_aws write_home socket connect fork exec; do
        [ "$(echo "$out" | jf "['$k']")" = denied ] || fail "$prof enforce: $k not denied: $out"
    done
    want=allowed; [ $prof = runner ] && want=denied
    [ "$(echo "$out" | jf "['write_models']")" = $want ] || fail "$prof enforce write_models: $out"
    [ "$(echo "$out" | jf "['read_certs']")" = $want ] || fail "$prof enforce read_certs: $out"
    # control: the same battery with the sandbox off succeeds, so the denials are the sandbox's
    out=$(CORRAL_SANDBOX=off "$B" sandbox selftest $prof --port "$REG_PORT_main") || fail "selftest off"
    for k in read_secret read_aws write_home write_models read_certs socket connect fork exec; do
        [ "$(echo "$out" | jf "['$k']")" = allowed ] || fail "$prof off: $k not allowed: $out"
    done
done
echo "selftest ok"

# ---- enforce without Landlock: exit 78 with the paragraph; warn runs --------------------------
P=$(rand_port)
CORRAL_LANDLOCK_MAX_ABI=0 OLLAMA_HOST=127.0.0.1:$P "$B" serve > "$W/78.log" 2>&1
rc=$?
[ $rc = 78 ] || fail "enforce without Landlock: exit $rc, want 78: $(cat "$W/78.log")"
grep -q "needs Landlock" "$W/78.log" && grep -q "CORRAL_SANDBOX=warn" "$W/78.log" || fail "paragraph: $(cat "$W/78.log")"
CORRAL_SANDBOX=warn CORRAL_LANDLOCK_MAX_ABI=0 OLLAMA_HOST=127.0.0.1:$P "$B" serve > "$W/warn.log" 2>&1 &
WP=$!
PIDS+=($WP)
wait_http "http://127.0.0.1:$P/api/version"
v=$(curl -s "http://127.0.0.1:$P/api/version")
[ "$(echo "$v" | jf "['sandbox']['mode']")" = warn ] || fail "warn version: $v"
[ "$(echo "$v" | jf "['sandbox']['landlock_abi']")" = 0 ] || fail "warn abi: $v"
kill "$WP"; wait "$WP" 2>/dev/null

# ---- the daemon under enforce ------------------------------------------------------------------
P=$(rand_port)
API=http://127.0.0.1:$P
CORRAL_ALLOW_HOSTS=127.0.0.1 OLLAMA_HOST=127.0.0.1:$P "$B" serve > "$W/serve.log" 2>&1 &
D=$!
PIDS+=($D)
wait_http "$API/api/version"
v=$(curl -s "$API/api/version")
[ "$(echo "$v" | jf "['sandbox']['mode']")" = enforce ] || fail "mode: $v"
[ "$(echo "$v" | jf "['sandbox']['landlock_abi']")" -ge 1 ] || fail "abi: $v"
for l in landlock-fs seccomp monitor; do
    echo "$v" | jf "['sandbox']['layers']" | grep -q "'$l'" || fail "layer $l missing: $v"
done
grep -q 'sandbox: {"mode":"enforce"' "$W/serve.log" || fail "status not logged"
grep -qP '^Seccomp:\t2' /proc/$D/status || fail "server not seccomp-filtered"
grep -qP '^NoNewPrivs:\t1' /proc/$D/status || fail "server without no_new_privs"
grep -qP '^CapEff:\t0+$' /proc/$D/status || fail "server kept capabilities"
MON=$(pgrep -P "$D" | head -1)
[ -n "$MON" ] || fail "no monitor process"
grep -qP '^CapEff:\t0+$' /proc/$MON/status || fail "monitor kept capabilities"
grep -qP '^Seccomp:\t2' /proc/$MON/status || fail "monitor not seccomp-filtered"
grep -qP '^NoNewPrivs:\t1' /proc/$MON/status || fail "monitor without no_new_privs"

printf 'FROM %s\n' "$PWD/testdata/models/stories260K.gguf" > "$W/Modelfile"
OLLAMA_HOST=127.0.0.1:$P "$B" create stories -f "$W/Modelfile" > "$W/create.log" 2>&1 || fail "create: $(cat "$W/create.log")"
o=$(curl -s --max-time 60 "$API/api/generate" -d '{"model":"stories","prompt":"Once upon a time","stream":false,"options":{"num_predict":8}}')
[ "$(echo "$o" | jf "['eval_count']")" = 8 ] || fail "generate: $o"
RUN=$(pgrep -P "$MON" | head -1)
[ -n "$RUN" ] || fail "the runner is not the monitor's child"
grep -qP '^Seccomp:\t2' /proc/$RUN/status || fail "runner not filtered"
tr '\0' ' ' < /proc/$RUN/cmdline | grep -q 'runner --model-fd' || fail "runner cmdline"

# push and pull through the monitor's connect
curl -s "$API/api/copy" -d "{\"source\":\"stories\",\"destination\":\"$R/library/stories:v1\"}" > /dev/null
curl -s "$API/api/push" -d "{\"model\":\"$R/library/stories:v1\",\"insecure\":true}" > "$W/push.out"
tail -1 "$W/push.out" | grep -qx '{"status":"success"}' || fail "push under enforce: $(tail -3 "$W/push.out")"
curl -s -X DELETE "$API/api/delete" -d "{\"model\":\"$R/library/stories:v1\"}" > /dev/null
curl -s "$API/api/pull" -d "{\"model\":\"$R/library/stories:v1\",\"insecure\":true}" > "$W/pull.out"
tail -1 "$W/pull.out" | grep -qx '{"status":"success"}' || fail "pull under enforce: $(tail -3 "$W/pull.out")"
[ -e "$W/models/manifests/$R/library/stories/v1" ] || fail "pulled manifest missing"
# a runner killed from outside: the monitor reaps it and says how it ended; a new one starts
grep -q "monitor: runner $RUN started for sha256-" "$W/serve.log" || fail "spawn not logged: $(cat "$W/serve.log")"
kill -9 "$RUN"
for _ in $(seq 50); do grep -q "monitor: runner $RUN exited: killed by signal 9" "$W/serve.log" && break; sleep 0.1; done
grep -q "monitor: runner $RUN exited: killed by signal 9" "$W/serve.log" || fail "runner death not logged: $(tail -5 "$W/serve.log")"
o=$(curl -s --max-time 60 "$API/api/generate" -d '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":4}}')
[ "$(echo "$o" | jf "['eval_count']")" = 4 ] || fail "generate after the runner died: $o"
echo "daemon under enforce ok"

# ---- without the explicit allow, the monitor refuses the loopback registry ---------------------
P2=$(rand_port)
OLLAMA_MODELS=$W/models2 OLLAMA_HOST=127.0.0.1:$P2 "$B" serve > "$W/serve2.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$P2/api/version"
curl -s "http://127.0.0.1:$P2/api/pull" -d "{\"model\":\"$R/library/stories:v1\",\"insecure\":true}" > "$W/pull2.out"
tail -1 "$W/pull2.out" | grep -q '"error"' || fail "loopback pull without allow: $(cat "$W/pull2.out")"
[ -e "$W/models2/manifests/$R/library/stories/v1" ] && fail "pulled despite the policy"

# ---- the same as an unprivileged user (root only can switch; skipped otherwise) ---------------
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
    U=$(mktemp -d /tmp/corral-sbx-XXXXXX)
    trap 'cleanup; rm -rf "$U"' EXIT
    chmod 755 "$U"
    cp "$B" "$U/corral"
    mkdir -p "$U/home/.ssh" "$U/home/models"
    echo "FAKE-PRIVATE-KEY" > "$U/home/.ssh/id_rsa"
    chown -R 65534:65534 "$U/home"
    asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$U/home" OLLAMA_MODELS="$U/home/models" "$@"; }
    out=$(asnobody CORRAL_SANDBOX=enforce "$U/corral" sandbox selftest server --port "$REG_PORT_main") || fail "nobody selftest"
    for k in read_secret write_home socket connect fork exec; do
        [ "$(echo "$out" | jf "['$k']")" = denied ] || fail "nobody enforce: $k not denied: $out"
    done
    [ "$(echo "$out" | jf "['write_models']")" = allowed ] || fail "nobody write_models: $out"
    out=$(asnobody CORRAL_SANDBOX=off "$U/corral" sandbox selftest server --port "$REG_PORT_main") || fail "nobody selftest off"
    for k in read_secret write_home socket connect fork exec; do
        [ "$(echo "$out" | jf "['$k']")" = allowed ] || fail "nobody off: $k not allowed: $out"
    done
    P3=$(rand_port)
    # not through the function: a backgrounded function is a subshell, and killing it at the
    # end left the daemon running (setpriv execs env, env execs corral: $! is the daemon)
    setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$U/home" OLLAMA_MODELS="$U/home/models" \
        OLLAMA_HOST=127.0.0.1:$P3 "$U/corral" serve > "$U/serve.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$P3/api/version"
    OLLAMA_HOST=127.0.0.1:$P3 "$B" create stories -f "$W/Modelfile" > /dev/null 2>&1 || fail "nobody create: $(cat "$U/serve.log")"
    o=$(curl -s --max-time 60 "http://127.0.0.1:$P3/api/generate" -d '{"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":4}}')
    [ "$(echo "$o" | jf "['eval_count']")" = 4 ] || fail "nobody generate: $o $(cat "$U/serve.log")"
    echo "unprivileged ok"
fi
echo ok

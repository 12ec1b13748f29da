#!/bin/bash
# `corral run`: one-shot with a prompt argument and with piped stdin, --verbose timing block,
# `corral stop`, and the interactive REPL driven through a pty: /set,
# /show, /clear, unknown commands, """ multi-line input, Ctrl-C stopping a long generation and
# returning to the prompt, /bye (the pty session: tests/integration/pty_drive.py).
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_install tiny "$MODEL_GGUF" "" '{"temperature":0,"num_predict":12}'
serve_start
out=$("$CORRAL_BIN_ABS" run tiny "Once upon a time" 2>"$TMPDIR_TEST/err")
[ -n "$out" ] || fail "no continuation printed"
case "$out" in *"there was"*|*" "*) ;; *) fail "odd output: $out";; esac
o2=$(printf "Once upon a time" | "$CORRAL_BIN_ABS" run tiny 2>/dev/null)
[ "$o2" = "$out" ] || fail "stdin prompt '$o2' != argument prompt '$out'"
"$CORRAL_BIN_ABS" run tiny "Once" --verbose >/dev/null 2>"$TMPDIR_TEST/err"
for k in "total duration:" "load duration:" "prompt eval count:" "eval rate:"; do
    grep -q "$k" "$TMPDIR_TEST/err" || fail "verbose block lacks '$k': $(cat "$TMPDIR_TEST/err")"
done
"$CORRAL_BIN_ABS" ps | grep -q '^tiny:latest' || fail "ps: $("$CORRAL_BIN_ABS" ps)"
"$CORRAL_BIN_ABS" stop tiny || fail "stop failed"
"$CORRAL_BIN_ABS" ps | grep -q '^tiny:latest' && fail "still running after stop"
# Ollama's stop is show + keep_alive 0: a known model that is not loaded stops silently (exit 0),
# an unknown one fails with "couldn't find model".
"$CORRAL_BIN_ABS" stop tiny 2>"$TMPDIR_TEST/err" || fail "stop of a stopped model failed: $(cat "$TMPDIR_TEST/err")"
"$CORRAL_BIN_ABS" stop nosuch 2>"$TMPDIR_TEST/err" && fail "stop of an unknown model succeeded"
grep -q "couldn't find model \"nosuch\" to stop" "$TMPDIR_TEST/err" || fail "stop message: $(cat "$TMPDIR_TEST/err")"

# OLLAMA_NOHISTORY=false keeps the history (Go's ParseBool, as envconfig.Bool)
HOME="$TMPDIR_TEST" OLLAMA_NOHISTORY=false PYTHONPATH=tests/integration python3 - "$CORRAL_BIN_ABS" <<'PY' || fail "REPL session"
import sys, time
from pty_drive import Pty
p = Pty([sys.argv[1], "run", "tiny"])
expect, send = p.expect, p.send
expect(">>> ")
send("/set parameter num_predict 8\r"); expect("Set parameter 'num_predict' to '8'"); expect(">>> ")
send("Once upon a time\r"); got = expect(">>> ")
if len(got.strip()) < 5: sys.exit("no answer: %r" % got)
send('"""\r'); expect("... "); send("hello\r"); expect("... "); send('world"""\r'); expect(">>> ")
send("/show parameters\r"); expect("Model defined parameters:"); expect("User defined parameters:")
expect("  num_predict                    8"); expect(">>> ")
send("/set system You tell stories.\r"); expect("Set system message."); expect(">>> ")
# /show asks /api/show with the session's system and options over the model's (as Ollama)
send("/show modelfile\r"); expect("SYSTEM You tell stories."); expect("PARAMETER num_predict 8"); expect(">>> ")
send("/show system\r"); expect("You tell stories."); expect(">>> ")
send("/show license\r"); expect("No license was specified for this model."); expect(">>> ")
send("/load nosuchmodel\r"); expect("Couldn't find model 'nosuchmodel'"); expect(">>> ")
send("/save a/b/c/d/e\r"); expect("error: The model name 'a/b/c/d/e' is invalid"); expect(">>> ")
send("/clear\r"); expect("Cleared session context"); expect(">>> ")
send("/nonsense\r"); expect("Unknown command '/nonsense'"); expect(">>> ")
# FormatParams' errors printed with %q, values joined with ", ", /set format's usage line
send("/set parameter foo 1\r"); expect("Couldn't set parameter: \"unknown parameter 'foo'\""); expect(">>> ")
send("/set parameter top_k x\r"); expect("Couldn't set parameter: \"invalid int value [x]\""); expect(">>> ")
send("/set parameter stop zzqq yyxx\r"); expect("Set parameter 'stop' to 'zzqq, yyxx'"); expect(">>> ")
send("/set format xml\r"); expect("Invalid or missing format. For 'json' mode use '/set format json'"); expect(">>> ")
send("/?\r"); expect("/bye"); expect(">>> ")
send("/set parameter num_predict 1000000\r"); expect(">>> ")
send("Once upon a time\r"); time.sleep(1.0)
t0 = time.time(); send("\x03"); expect(">>> ", timeout=10)
if time.time() - t0 > 8: sys.exit("Ctrl-C took too long")
send("/bye\r")
p.close()  # exit status 0
print("repl ok")
PY
grep -q 'Once' "$TMPDIR_TEST/.ollama/history" || fail "no REPL history written"
echo ok

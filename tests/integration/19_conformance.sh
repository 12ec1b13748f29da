#!/bin/bash
# Ollama conformance details found by the audit (docs/API.md "Conformance with Ollama"), each
# checked against a real daemon: OLLAMA_* scheduler variables read as envconfig reads them
# (quotes stripped, an unparsable value ignored with a warning instead of refusing to start),
# serve --help, GET /api/status, trailing-slash redirects, /api/show system/options, decoder
# messages, keep_alive's type error, /api/create refusing a template that does not parse (400
# before any status line) and non-string template/system, from over files, pulling a missing
# `from` model first, _debug_render_only, `corral stop` as Ollama's (show + keep_alive 0: silent
# for a known model that is not loaded), cobra's argument-count errors, `corral run` of a model
# whose pull fails printing one "Error:" line, and `corral run` flags (--think levels, flags
# after the prompt, --name=value, unknown flags) against a recording fake server.
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_start OLLAMA_KEEP_ALIVE=' "24h" ' OLLAMA_NUM_PARALLEL=abc OLLAMA_MAX_QUEUE="'7'" \
    OLLAMA_NO_CLOUD=1
grep -q "invalid environment variable, using default key=OLLAMA_NUM_PARALLEL" \
    "$TMPDIR_TEST/daemon.log" || fail "no warning for OLLAMA_NUM_PARALLEL=abc"

# serve --help lists the variables the daemon reads
for v in OLLAMA_HOST OLLAMA_MODELS OLLAMA_KEEP_ALIVE OLLAMA_NUM_PARALLEL OLLAMA_MAX_LOADED_MODELS \
    OLLAMA_MAX_QUEUE OLLAMA_CONTEXT_LENGTH OLLAMA_ORIGINS OLLAMA_NOPRUNE OLLAMA_DEBUG; do
    "$CORRAL_BIN_ABS" serve --help | grep -q "^      $v " || fail "serve --help lacks $v"
done

# OLLAMA_KEEP_ALIVE="24h" (quoted, as docker-compose list syntax passes it) is the default
curl -sf "$BASE/api/generate" -d '{"model":"stories"}' >/dev/null || fail "load"
curl -sf "$BASE/api/ps" | python3 -c '
import json, sys, datetime
m = json.load(sys.stdin)["models"][0]
e = datetime.datetime.fromisoformat(m["expires_at"][:26].rstrip("Z") + "+00:00")
left = (e - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
assert 23 * 3600 < left <= 24 * 3600, left
' || fail "OLLAMA_KEEP_ALIVE='\"24h\"' not applied: $(curl -s "$BASE/api/ps")"

# /api/status: corral has no cloud; OLLAMA_NO_CLOUD is reported as the source
[ "$(curl -sf "$BASE/api/status")" = '{"cloud":{"disabled":true,"source":"env"}}' ] ||
    fail "/api/status: $(curl -s "$BASE/api/status")"

# decoder errors name the Go request type, as encoding/json does
[ "$(curl -s "$BASE/api/show" -d '{"model":1}')" = '{"error":"json: cannot unmarshal number into Go struct field ShowRequest.model of type string"}' ] ||
    fail "decoder message: $(curl -s "$BASE/api/show" -d '{"model":1}')"

[ "$(curl -s "$BASE/api/chat" -d '{"model":"stories","messages":"hi"}')" = '{"error":"json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"}' ] ||
    fail "messages type: $(curl -s "$BASE/api/chat" -d '{"model":"stories","messages":"hi"}')"
[ "$(curl -s "$BASE/api/generate" -d '{"model":"stories","prompt":"x","options":[1]}')" = '{"error":"json: cannot unmarshal array into Go struct field GenerateRequest.options of type map[string]interface {}"}' ] ||
    fail "options type: $(curl -s "$BASE/api/generate" -d '{"model":"stories","prompt":"x","options":[1]}')"

# a trailing slash redirects to the route (gin's RedirectTrailingSlash: 301 GET, 307 POST)
curl -s -D "$TMPDIR_TEST/h" -o /dev/null "$BASE/api/tags/"
head -1 "$TMPDIR_TEST/h" | grep -q ' 301' && grep -qi '^Location: /api/tags' "$TMPDIR_TEST/h" ||
    fail "GET /api/tags/: $(cat "$TMPDIR_TEST/h")"
curl -sfL -X POST "$BASE/api/show/" -d '{"model":"stories"}' | grep -q '"modelfile"' || fail "POST /api/show/ via 307"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/nothing/")" = 404 ] || fail "unknown path with slash"

# keep_alive of a type api.Duration refuses
code=$(curl -s -o "$TMPDIR_TEST/b" -w '%{http_code}' "$BASE/api/generate" \
    -d '{"model":"stories","keep_alive":true}')
[ "$code" = 400 ] && [ "$(cat "$TMPDIR_TEST/b")" = '{"error":"Unsupported type: '"'bool'"'"}' ] ||
    fail "keep_alive true: $code $(cat "$TMPDIR_TEST/b")"

# /api/create: a template that does not parse is a 400 before anything is written
code=$(curl -s -o "$TMPDIR_TEST/b" -w '%{http_code}' "$BASE/api/create" \
    -d '{"model":"badt","from":"stories","template":"{{ .Prompt"}')
[ "$code" = 400 ] || fail "bad template: $code $(cat "$TMPDIR_TEST/b")"
grep -q '^{"error":"template error: template' "$TMPDIR_TEST/b" || fail "message: $(cat "$TMPDIR_TEST/b")"
[ ! -e "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/badt" ] || fail "manifest written"
code=$(curl -s -o "$TMPDIR_TEST/b" -w '%{http_code}' "$BASE/api/create" \
    -d '{"model":"badt","from":"stories","system":["x"]}')
[ "$code" = 400 ] || fail "system array: $code $(cat "$TMPDIR_TEST/b")"
code=$(curl -s -o "$TMPDIR_TEST/b" -w '%{http_code}' "$BASE/api/create" \
    -d '{"model":"goodt","from":"stories","template":"{{ .System }} {{ .Prompt }}","stream":false}')
[ "$code" = 200 ] || fail "good template: $code $(cat "$TMPDIR_TEST/b")"

# from wins over files when both are given (CreateHandler's order)
code=$(curl -s -o "$TMPDIR_TEST/b" -w '%{http_code}' "$BASE/api/create" \
    -d '{"model":"both","from":"stories","files":{"x.gguf":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"stream":false}')
[ "$code" = 200 ] || fail "from+files: $code $(cat "$TMPDIR_TEST/b")"

# a `from` model that is not here is pulled first (Ollama's parseFromModel): its progress leads
# the stream and a failed pull ends it with an error line (500 with stream:false)
curl -s -o "$TMPDIR_TEST/b" "$BASE/api/create" -d '{"model":"pulled","from":"127.0.0.1:1/x/y"}'
head -1 "$TMPDIR_TEST/b" | grep -qx '{"status":"pulling manifest"}' || fail "create pull: $(cat "$TMPDIR_TEST/b")"
tail -1 "$TMPDIR_TEST/b" | grep -q '^{"error":' || fail "create pull end: $(cat "$TMPDIR_TEST/b")"
[ "$(grep -c error "$TMPDIR_TEST/b")" = 1 ] || fail "one error line: $(cat "$TMPDIR_TEST/b")"
code=$(curl -s -o "$TMPDIR_TEST/b" -w '%{http_code}' "$BASE/api/create" \
    -d '{"model":"pulled","from":"127.0.0.1:1/x/y","stream":false}')
[ "$code" = 500 ] || fail "create pull stream:false: $code $(cat "$TMPDIR_TEST/b")"

# /api/show overlays: "system" replaces the model's, "options" join the modelfile's PARAMETERs
# (not "parameters")
curl -sf "$BASE/api/show" -d '{"model":"stories","system":"S2","options":{"num_ctx":99}}' |
    python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["system"] == "S2", d["system"]
assert "\nSYSTEM S2\n" in d["modelfile"] and "\nPARAMETER num_ctx 99\n" in d["modelfile"], d["modelfile"]
assert "num_ctx" not in d["parameters"], d["parameters"]
' || fail "show system/options overlay"

# _debug_render_only: the rendered prompt instead of a generation (Go's field order and escaping)
out=$(curl -sf "$BASE/api/generate" -d '{"model":"goodt","prompt":"hi <b>","system":"S","_debug_render_only":true}')
echo "$out" | grep -q '^{"model":"goodt","created_at":"[^"]*","response":"","done":false,"_debug_info":{"rendered_template":"S hi \\u003cb\\u003e"}}$' ||
    fail "generate _debug_render_only: $out"
out=$(curl -sf "$BASE/api/chat" -d '{"model":"goodt","messages":[{"role":"system","content":"S"},{"role":"user","content":"hi"}],"_debug_render_only":true}')
echo "$out" | grep -q '"message":{"role":"","content":""},"done":false,"_debug_info":{"rendered_template":"S hi"}}$' ||
    fail "chat _debug_render_only: $out"

# corral stop: loaded -> unloaded; again -> still exit 0; unknown -> Ollama's message
"$CORRAL_BIN_ABS" stop stories 2>"$TMPDIR_TEST/err" || fail "stop: $(cat "$TMPDIR_TEST/err")"
[ "$(curl -sf "$BASE/api/ps")" = '{"models":[]}' ] || fail "still loaded after stop"
"$CORRAL_BIN_ABS" stop goodt 2>"$TMPDIR_TEST/err" || fail "stop unloaded: $(cat "$TMPDIR_TEST/err")"
"$CORRAL_BIN_ABS" stop nosuch 2>"$TMPDIR_TEST/err" && fail "stop of an unknown model succeeded"
[ "$(cat "$TMPDIR_TEST/err")" = "Error: couldn't find model \"nosuch\" to stop" ] ||
    fail "stop message: $(cat "$TMPDIR_TEST/err")"

# cobra's argument-count errors
"$CORRAL_BIN_ABS" cp one 2>"$TMPDIR_TEST/err" && fail "cp with one arg"
head -1 "$TMPDIR_TEST/err" | grep -qx 'Error: accepts 2 arg(s), received 1' || fail "cp: $(cat "$TMPDIR_TEST/err")"
"$CORRAL_BIN_ABS" rm 2>"$TMPDIR_TEST/err" && fail "rm without args"
head -1 "$TMPDIR_TEST/err" | grep -qx 'Error: requires at least 1 arg(s), only received 0' || fail "rm: $(cat "$TMPDIR_TEST/err")"
"$CORRAL_BIN_ABS" pull 2>"$TMPDIR_TEST/err" && fail "pull without args"
head -1 "$TMPDIR_TEST/err" | grep -qx 'Error: accepts 1 arg(s), received 0' || fail "pull: $(cat "$TMPDIR_TEST/err")"
"$CORRAL_BIN_ABS" push --help | grep -q '^  corral push MODEL' || fail "push --help"
# `corral help CMD` is `corral CMD --help` (cobra): the command's own help, exit 0
for c in run create show pull push list ps cp rm stop serve; do
    "$CORRAL_BIN_ABS" help $c >"$TMPDIR_TEST/help" 2>&1 || fail "help $c exit status"
    grep -q "corral $c" "$TMPDIR_TEST/help" || fail "help $c: $(head -3 "$TMPDIR_TEST/help")"
done
"$CORRAL_BIN_ABS" stop 2>"$TMPDIR_TEST/err" && fail "stop without args"
head -1 "$TMPDIR_TEST/err" | grep -qx 'Error: accepts 1 arg(s), received 0' || fail "stop: $(cat "$TMPDIR_TEST/err")"

# corral run of a model that is not here and cannot be pulled: one Error line, exit 1
"$CORRAL_BIN_ABS" run 127.0.0.1:1/x/y hi >/dev/null 2>"$TMPDIR_TEST/err" && fail "run succeeded"
[ "$(grep -c '^Error:' "$TMPDIR_TEST/err")" = 1 ] || fail "run errors: $(cat "$TMPDIR_TEST/err")"
# corral run flags as cobra reads them: --think levels reach the request as strings, flags may
# follow the prompt, --name=value works, unknown flags fail (checked against a recording fake)
FP=$(( 20000 + RANDOM % 12000 ))
python3 - "$FP" "$TMPDIR_TEST/bodies" <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, body, ctype="application/json"):
        self.send_response(200); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_HEAD(self): self.reply(b"")
    def do_GET(self): self.reply(b"Ollama is running", "text/plain")
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f: f.write(self.path + " " + body.decode() + "\n")
        if self.path == "/api/show":
            self.reply(b'{"capabilities":["completion","thinking"],"model_info":{}}')
        else:
            self.reply(b'{"model":"m","response":"","done":true}\n', "application/x-ndjson")
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
FAKE=$!
trap 'kill $FAKE 2>/dev/null; serve_stop' EXIT
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$FP/" && break; sleep 0.1; done
OLLAMA_HOST=127.0.0.1:$FP "$CORRAL_BIN_ABS" run m hello --think=high --keepalive=2m >/dev/null ||
    fail "run against the fake"
OLLAMA_HOST=127.0.0.1:$FP "$CORRAL_BIN_ABS" run --think=false m --dimensions 8 hi >/dev/null ||
    fail "run --think=false"
python3 - "$TMPDIR_TEST/bodies" <<'PY' || fail "run bodies: $(cat "$TMPDIR_TEST/bodies")"
import json, sys
gens = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1]) if l.startswith("/api/generate ")]
assert len(gens) == 2, gens
assert gens[0]["prompt"] == "hello" and gens[0]["think"] == "high" and gens[0]["keep_alive"] == "2m", gens[0]
assert gens[1]["prompt"] == "hi" and gens[1]["think"] is False, gens[1]
PY
# an answer ends with two newlines even when its text is empty (Ollama's generate)
OLLAMA_HOST=127.0.0.1:$FP "$CORRAL_BIN_ABS" run m hello >"$TMPDIR_TEST/out" || fail "run hello"
[ "$(od -An -c "$TMPDIR_TEST/out" | tr -d ' ')" = '\n\n' ] || fail "answer ending: $(od -c "$TMPDIR_TEST/out")"
# stdin on a terminal but stdout not: not interactive (Ollama), so an empty-prompt load, no output
: >"$TMPDIR_TEST/bodies"
OLLAMA_HOST=127.0.0.1:$FP python3 - "$CORRAL_BIN_ABS" <<'PY' || fail "run with stdout not a terminal"
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.run([sys.argv[1], "run", "m"], stdin=slave, stdout=subprocess.PIPE, timeout=20)
assert p.returncode == 0 and p.stdout == b"", (p.returncode, p.stdout)
PY
grep -q '^/api/generate {.*"prompt":""' "$TMPDIR_TEST/bodies" || fail "no load request: $(cat "$TMPDIR_TEST/bodies")"
OLLAMA_HOST=127.0.0.1:$FP "$CORRAL_BIN_ABS" run m --think=maybe hi 2>"$TMPDIR_TEST/err" && fail "--think=maybe"
grep -q '^Error: invalid value for --think: "maybe"' "$TMPDIR_TEST/err" || fail "think msg: $(cat "$TMPDIR_TEST/err")"
OLLAMA_HOST=127.0.0.1:$FP "$CORRAL_BIN_ABS" run m --bogus hi 2>"$TMPDIR_TEST/err" && fail "--bogus accepted"
grep -q '^Error: unknown flag: --bogus' "$TMPDIR_TEST/err" || fail "flag msg: $(cat "$TMPDIR_TEST/err")"
echo ok

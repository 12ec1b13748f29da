#!/bin/bash
# Structured outputs on a real daemon and runner with the tiny stories model: `format:"json"`
# keeps the output inside JSON (a valid prefix when num_predict cuts it, a whole object when the
# model ends), a schema of enum/boolean members ends by itself and validates, /api/chat and the
# OpenAI response_format (json_schema, json_object) likewise, `corral run --format json`, and
# thinking left unconstrained until </think>, and 400s for formats that are not "json" or a usable
# schema.
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_install tiny "$MODEL_GGUF" "" '{"temperature":0,"num_predict":40}'
serve_install inside "$MODEL_GGUF" '{{ .Prompt }}<think>' '{"temperature":0}'
serve_install tags "$MODEL_GGUF" '<think></think>{{ .Prompt }}' '{"temperature":0}'
serve_start
# check.py MODE FILE: MODE prefix = the text (read from FILE) is JSON or a prefix of a JSON
# object; whole = a complete JSON value.  Prints "whole" or "prefix".
cat >"$TMPDIR_TEST/check.py" <<'PY'
import json, sys
mode, s = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
class End(Exception): pass
i = 0
def peek():
    if i >= len(s): raise End
    return s[i]
def take(c):
    global i
    if peek() != c: raise ValueError("expected %r at %d: %r" % (c, i, s[max(0, i-20):i+20]))
    i += 1
def ws():
    global i
    while i < len(s) and s[i] in " \t\n\r": i += 1
def string():
    global i
    take('"')
    while True:
        c = peek()
        if c == '"': i += 1; return
        if c == "\\":
            i += 1; e = peek()
            if e == "u":
                i += 1
                for _ in range(4):
                    if peek() not in "0123456789abcdefABCDEF": raise ValueError("bad \\u")
                    i += 1
                continue
            if e not in '"\\/bfnrt': raise ValueError("bad escape")
            i += 1; continue
        if ord(c) < 0x20: raise ValueError("raw control character")
        i += 1
def digits(first_required=True):
    global i
    n = 0
    while i < len(s) and s[i].isdigit(): i += 1; n += 1
    if i >= len(s): raise End
    if first_required and n == 0: raise ValueError("digit expected")
def number():
    global i
    if peek() == "-": i += 1
    if peek() == "0": i += 1
    else: digits()
    if i < len(s) and s[i] == ".": i += 1; digits()
    if i < len(s) and s[i] in "eE":
        i += 1
        if peek() in "+-": i += 1
        digits()
def value():
    global i
    c = peek()
    if c == "{": container("{", "}", True)
    elif c == "[": container("[", "]", False)
    elif c == '"': string()
    elif c == "-" or c.isdigit(): number()
    else:
        for w in ("true", "false", "null"):
            if w.startswith(c):
                for ch in w: take(ch)
                return
        raise ValueError("unexpected %r" % c)
def container(o, cl, obj):
    global i
    take(o); ws()
    if peek() == cl: i += 1; return
    while True:
        if obj: string(); ws(); take(":"); ws()
        value(); ws()
        c = peek()
        if c == ",": i += 1; ws(); continue
        take(cl); return
try:
    if mode == "object": take("{"); i = 0
    value()
    if i != len(s): raise ValueError("text after the value: %r" % s[i:])
    json.loads(s)
    print("whole")
except End:
    if mode == "whole": sys.exit("incomplete JSON: %r" % s)
    print("prefix")
except ValueError as e:
    sys.exit("not JSON: %s in %r" % (e, s))
PY
chk() { printf '%s' "$2" >"$TMPDIR_TEST/doc"; python3 "$TMPDIR_TEST/check.py" "$1" "$TMPDIR_TEST/doc"; }
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$TMPDIR_TEST/r" "$1"; }

# ---- format "json": every output is JSON or a prefix of it; whole when the model ended
for seed in 1 2 3; do
    code=$(post /api/generate "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"stream\":false,\"format\":\"json\",\"options\":{\"num_predict\":120,\"temperature\":1,\"seed\":$seed}}")
    [ "$code" = 200 ] || fail "json: $code $(cat "$TMPDIR_TEST/r")"
    resp=$(field '["response"]')
    reason=$(field '["done_reason"]')
    kind=$(chk object "$resp") || fail "seed $seed: $kind"
    [ "${resp:0:1}" = "{" ] || fail "json mode output does not open an object: $resp"
    [ "$reason" = stop ] && [ "$kind" != whole ] && fail "ended but not whole: $resp"
    [ "$reason" = length ] && [ "$kind" = whole ] && fail "whole yet still going: $resp"
done
# the unconstrained model does not write JSON: the grammar made the difference
code=$(post /api/generate '{"model":"stories","prompt":"Once upon a time","stream":false,"options":{"num_predict":40}}')
resp=$(field '["response"]')
[ "${resp:0:1}" != "{" ] || fail "the plain model already writes JSON; the test proves nothing"
# streamed: the pieces join to the same constrained text (greedy)
s=$(curl -s --max-time 60 "$BASE/api/generate" -d '{"model":"stories","prompt":"Once","format":"json","options":{"num_predict":60}}')
joined=$(echo "$s" | python3 -c 'import json,sys; print("".join(json.loads(l)["response"] for l in sys.stdin), end="")')
post /api/generate '{"model":"stories","prompt":"Once","stream":false,"format":"json","options":{"num_predict":60}}' >/dev/null
[ "$joined" = "$(field '["response"]')" ] || fail "stream '$joined' differs from the whole answer"
chk object "$joined" >/dev/null || fail "streamed json"

# ---- a schema of enum/boolean members ends by itself (EOS forced once complete) and validates
schema='{"type":"object","properties":{"color":{"enum":["red","green","blue"]},"ok":{"type":"boolean"},"n":{"type":"integer","enum":[1,2,3]}},"required":["color","ok","n"]}'
validate='import json,sys
d=json.loads(sys.argv[1])
assert list(d)==["color","ok","n"], d
assert d["color"] in ("red","green","blue") and isinstance(d["ok"],bool) and d["n"] in (1,2,3), d'
for seed in 1 2 3 4; do
    code=$(post /api/generate "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"stream\":false,\"format\":$schema,\"options\":{\"num_predict\":200,\"temperature\":1,\"seed\":$seed}}")
    [ "$code" = 200 ] || fail "schema: $code $(cat "$TMPDIR_TEST/r")"
    [ "$(field '["done_reason"]')" = stop ] || fail "schema output did not end: $(cat "$TMPDIR_TEST/r")"
    python3 -c "$validate" "$(field '["response"]')" || fail "schema output invalid: $(cat "$TMPDIR_TEST/r")"
done

# ---- /api/chat with a schema (array of booleans, 2..3 items)
code=$(post /api/chat '{"model":"stories","messages":[{"role":"user","content":"Once upon a time"}],"stream":false,"format":{"type":"array","items":{"type":"boolean"},"minItems":2,"maxItems":3},"options":{"num_predict":100}}')
[ "$code" = 200 ] || fail "chat schema: $code $(cat "$TMPDIR_TEST/r")"
content=$(field '["message"]["content"]')
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert 2<=len(d)<=3 and all(isinstance(x,bool) for x in d), d' "$content" ||
    fail "chat content: $content"
[ "$(field '["done_reason"]')" = stop ] || fail "chat schema did not end"

# ---- OpenAI response_format: json_schema validates, json_object opens an object
code=$(post /v1/chat/completions "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once\"}],\"max_tokens\":200,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"t\",\"schema\":$schema}}}")
[ "$code" = 200 ] || fail "openai json_schema: $code $(cat "$TMPDIR_TEST/r")"
python3 -c "$validate" "$(field '["choices"][0]["message"]["content"]')" || fail "openai schema content"
[ "$(field '["choices"][0]["finish_reason"]')" = stop ] || fail "openai finish_reason"
code=$(post /v1/chat/completions '{"model":"stories","messages":[{"role":"user","content":"Once"}],"max_tokens":30,"response_format":{"type":"json_object"}}')
[ "$code" = 200 ] || fail "openai json_object: $code"
c=$(field '["choices"][0]["message"]["content"]')
chk object "$c" >/dev/null || fail "openai json_object content: $c"

# ---- thinking: the grammar waits for </think> (here: never, so the thinking stays prose), and
# applies from the first token when the model does not open a <think> block
code=$(post /api/generate '{"model":"inside","prompt":"Once upon a time","stream":false,"think":true,"format":"json","options":{"num_predict":30}}')
[ "$code" = 200 ] || fail "thinking inside: $code $(cat "$TMPDIR_TEST/r")"
th=$(field '["thinking"]')
[ -n "$th" ] && [ "${th:0:1}" != "{" ] || fail "thinking was constrained: $(cat "$TMPDIR_TEST/r")"
[ -z "$(field '["response"]')" ] || fail "content without </think>: $(cat "$TMPDIR_TEST/r")"
code=$(post /api/generate '{"model":"tags","prompt":"Once upon a time","stream":false,"think":true,"format":"json","options":{"num_predict":30}}')
[ "$code" = 200 ] || fail "thinking tags: $code $(cat "$TMPDIR_TEST/r")"
resp=$(field '["response"]')
chk object "$resp" >/dev/null || fail "no <think> opened, yet not JSON: $(cat "$TMPDIR_TEST/r")"

# ---- errors: 400 before any model work
code=$(post /api/generate '{"model":"stories","prompt":"x","format":"xml"}')
[ "$code" = 400 ] || fail "format xml: $code"
[ "$(field '["error"]')" = 'invalid format: xml; expected "json" or a valid JSON Schema' ] ||
    fail "message: $(cat "$TMPDIR_TEST/r")"
code=$(post /api/chat '{"model":"stories","messages":[],"format":7}')
[ "$code" = 400 ] || fail "chat format 7: $code"
grep -q 'invalid format: number' "$TMPDIR_TEST/r" || fail "chat message: $(cat "$TMPDIR_TEST/r")"
code=$(post /api/generate '{"model":"stories","prompt":"x","format":{"$ref":"#"}}')
[ "$code" = 400 ] || fail "left-recursive schema: $code"
grep -q 'invalid format' "$TMPDIR_TEST/r" || fail "schema message: $(cat "$TMPDIR_TEST/r")"
code=$(post /api/generate '{"model":"stories","prompt":"x","format":{"type":"date"}}')
[ "$code" = 400 ] || fail "unknown type: $code"
# a schema beyond the matcher's caps (thousands of optional members) is an error, not silence
python3 -c 'import json; print(json.dumps({"model":"stories","prompt":"x","stream":False,"format":{"type":"object","properties":{"k%d"%i:{"type":"integer"} for i in range(3000)}}}))' >"$TMPDIR_TEST/big.json"
code=$(post /api/generate "@$TMPDIR_TEST/big.json")
[ "$code" = 500 ] || fail "too complex schema: $code $(head -c 300 "$TMPDIR_TEST/r")"
grep -q 'cannot continue under the format' "$TMPDIR_TEST/r" || fail "too complex: $(head -c 300 "$TMPDIR_TEST/r")"
for f in '""' 'null'; do # no constraint at all
    code=$(post /api/generate "{\"model\":\"stories\",\"prompt\":\"Once\",\"stream\":false,\"format\":$f,\"options\":{\"num_predict\":8}}")
    [ "$code" = 200 ] || fail "format $f: $code"
done

# ---- the CLI sends --format json
out=$("$CORRAL_BIN_ABS" run tiny "Once upon a time" --format json 2>/dev/null)
[ "${out:0:1}" = "{" ] || fail "corral run --format json: $out"
chk object "$out" >/dev/null || fail "corral run output: $out"
# ---- the REPL: /set format json constrains the answers, /set noformat lifts it
HOME="$TMPDIR_TEST" PYTHONPATH=tests/integration python3 - "$CORRAL_BIN_ABS" <<'PY' || fail "REPL format"
import sys
from pty_drive import Pty
p = Pty([sys.argv[1], "run", "tiny"])
p.expect(">>> ")
p.send("/set format json\r"); p.expect("Set format to 'json' mode."); p.expect(">>> ")
a = p.answer("Once upon a time")
if not a.startswith("{"): sys.exit("json mode answer: %r" % a)
p.send("/set noformat\r"); p.expect("Disabled format."); p.expect(">>> ")
b = p.answer("Once upon a time")
if b.startswith("{") or not b: sys.exit("noformat answer: %r" % b)
p.send("/bye\r")
p.close()
PY
echo "ok"

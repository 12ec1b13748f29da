#!/bin/bash
# logprobs through a real daemon and runner on the tiny stories model (greedy): each entry's
# logprob is the best of its top_logprobs, values <= 0, the alternatives' probabilities sum to
# <= 1, one entry per generated token (eval_count), the entries' bytes join to the response text
# (streamed: per line), stop strings cut entries with their text, top_logprobs outside 0..20 is
# a 400, and the /api/chat and OpenAI shapes.
set -eu
source tests/integration/serve_lib.bash
serve_setup
serve_start
post() { curl -s --max-time 60 "$BASE$1" -d "$2"; }

# check KIND [TOP] < answer: the invariants above on one answer (KIND gen|chat|stream)
cat >"$TMPDIR_TEST/check.py" <<'EOF'
import json, math, sys
kind = sys.argv[1]; top = int(sys.argv[2]) if len(sys.argv) > 2 else 0
raw = sys.stdin.read()
def fail(m): print("FAIL:", m, raw[:600]); sys.exit(1)
if kind == "stream":
    lines = [json.loads(l) for l in raw.splitlines() if l.strip()]
    entries, text = [], ""
    for l in lines:
        lp = l.get("logprobs", [])
        piece = l["response"]
        got = bytes(b for e in lp for b in e.get("bytes", []))
        if got != piece.encode():
            fail("line bytes %r != text %r" % (got, piece))
        entries += lp; text += piece
    final = lines[-1]
else:
    final = json.loads(raw)
    entries = final.get("logprobs")
    if entries is None: fail("no logprobs")
    text = final["response"] if kind == "gen" else final["message"]["content"]
    keys = list(final.keys())
    want = "eval_duration" if kind == "gen" else "total_duration"
    if kind == "gen" and keys[-1] != "logprobs": fail("logprobs not last: %s" % keys)
    if kind == "chat" and keys.index("logprobs") > keys.index(want): fail("order %s" % keys)
n = final["eval_count"] - (1 if final["done_reason"] == "stop" else 0)  # an EOS has no entry
if len(entries) != n: fail("%d entries for eval_count %d" % (len(entries), final["eval_count"]))
joined = b"".join(bytes(e.get("bytes", [])) for e in entries)
if joined != text.encode(): fail("joined %r != text %r" % (joined, text))
if "".join(e["token"] for e in entries) != text: fail("tokens do not join to the text")
for e in entries:
    if list(e.keys())[:2] != ["token", "logprob"]: fail("field order %s" % list(e.keys()))
    if not e["logprob"] <= 0: fail("logprob > 0: %r" % e)
    alts = e.get("top_logprobs", [])
    if len(alts) != top: fail("%d alternatives, want %d" % (len(alts), top))
    if top:
        best = max(a["logprob"] for a in alts)
        if e["logprob"] != best or alts[0]["logprob"] != best: fail("greedy token not the best: %r" % e)
        if any(a["logprob"] > 0 for a in alts): fail("alternative > 0")
        if [a["logprob"] for a in alts] != sorted((a["logprob"] for a in alts), reverse=True): fail("order")
        if sum(math.exp(a["logprob"]) for a in alts) > 1 + 1e-6: fail("probabilities sum > 1")
print(len(entries))
EOF
check() { python3 "$TMPDIR_TEST/check.py" "$@"; }

G='"model":"stories","prompt":"Once upon a time","options":{"num_predict":24}'
n1=$(post /api/generate "{$G,\"stream\":false,\"logprobs\":true,\"top_logprobs\":5}" | check gen 5) || fail "$n1"
[ "$n1" -gt 0 ] || fail "no tokens"
n2=$(post /api/generate "{$G,\"logprobs\":true,\"top_logprobs\":3}" | check stream 3) || fail "$n2"
[ "$n1" = "$n2" ] || fail "streamed $n2 entries, not streamed $n1"
n3=$(post /api/generate "{$G,\"stream\":false,\"logprobs\":true}" | check gen 0) || fail "$n3"

# the same values streamed and not (greedy, same prompt)
a=$(post /api/generate "{$G,\"stream\":false,\"logprobs\":true,\"top_logprobs\":2}" |
    python3 -c 'import json,sys; print([e["logprob"] for e in json.load(sys.stdin)["logprobs"]])')
b=$(post /api/generate "{$G,\"logprobs\":true,\"top_logprobs\":2}" |
    python3 -c 'import json,sys; print([e["logprob"] for l in sys.stdin for e in json.loads(l).get("logprobs",[])])')
[ "$a" = "$b" ] || fail "streamed values differ: $a vs $b"

# off: no logprobs member anywhere
out=$(post /api/generate "{$G,\"stream\":false}")
echo "$out" | grep -q logprobs && fail "logprobs without asking: $out"

# range checks: 400 with Ollama's message, before the model is looked up
for v in 21 -1; do
    code=$(curl -s -o "$TMPDIR_TEST/err" -w '%{http_code}' "$BASE/api/generate" \
        -d "{\"model\":\"missing\",\"prompt\":\"x\",\"top_logprobs\":$v}")
    [ "$code" = 400 ] || fail "top_logprobs $v: HTTP $code"
    grep -q 'top_logprobs must be between 0 and 20' "$TMPDIR_TEST/err" || fail "message: $(cat "$TMPDIR_TEST/err")"
done

# a stop string equal to a later token's text: the response ends before it, and that token's
# entry goes with its text (eval_count still counts it)
stop=$(post /api/generate "{$G,\"stream\":false,\"logprobs\":true}" | python3 -c '
import json, sys
lp = json.load(sys.stdin)["logprobs"]; seen = ""
for i, e in enumerate(lp):
    if i >= 3 and len(e["token"]) > 2 and e["token"] not in seen + e["token"][:-1]:
        print(json.dumps(e["token"])); break
    seen += e["token"]
')
[ -n "$stop" ] || fail "no token to stop on"
post /api/generate "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"stream\":false,\"logprobs\":true,\"options\":{\"num_predict\":24,\"stop\":[$stop]}}" |
    python3 -c '
import json, sys
d = json.load(sys.stdin); lp = d["logprobs"]; text = d["response"].encode()
joined = b"".join(bytes(e.get("bytes", [])) for e in lp)
assert d["done_reason"] == "stop", d
assert joined == text, (joined, text)
assert len(lp) == d["eval_count"] - 1, (len(lp), d["eval_count"])
' || fail "stop string cut"

# a stop string that only starts like the text: the runner holds that text back and releases it
# with the next token's; the held token's entry rides on that line (two entries on one line),
# entries never run ahead of their text, and all of them arrive
hold=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]) + "zzq"))' "$stop")
post /api/generate "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"logprobs\":true,\"options\":{\"num_predict\":24,\"stop\":[$hold]}}" |
    python3 -c '
import json, sys
text, got, held = b"", b"", 0
lines = [json.loads(l) for l in sys.stdin]
for l in lines:
    text += l["response"].encode()
    got += b"".join(bytes(e.get("bytes", [])) for e in l.get("logprobs", []))
    assert text.startswith(got), (got, text)
    held += len(l.get("logprobs", [])) >= 2
assert got == text and held > 0, (got, text, held)
assert sum(len(l.get("logprobs", [])) for l in lines) == lines[-1]["eval_count"]
' || fail "held stop-string prefix"

# chat: not streamed (logprobs before the metrics) and streamed
C='"model":"stories","messages":[{"role":"user","content":"Once upon a time"}],"options":{"num_predict":16}'
post /api/chat "{$C,\"stream\":false,\"logprobs\":true,\"top_logprobs\":4}" | check chat 4 >/dev/null || fail "chat"
post /api/chat "{$C,\"logprobs\":true}" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
for l in lines:
    got = b"".join(bytes(e.get("bytes", [])) for e in l.get("logprobs", []))
    assert got == l["message"]["content"].encode(), l
assert sum(len(l.get("logprobs", [])) for l in lines) == lines[-1]["eval_count"], lines[-1]
' || fail "chat streamed"

# OpenAI chat: choices[0].logprobs.content, one per completion token; streamed chunks too
O='"model":"stories","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":12,"temperature":0'
post /v1/chat/completions "{$O,\"logprobs\":true,\"top_logprobs\":2}" | python3 -c '
import json, sys
d = json.load(sys.stdin); ch = d["choices"][0]
assert list(ch.keys()) == ["index", "message", "finish_reason", "logprobs"], ch.keys()
c = ch["logprobs"]["content"]
assert len(c) == d["usage"]["completion_tokens"], (len(c), d["usage"])
assert "".join(e["token"] for e in c) == ch["message"]["content"]
assert all(len(e["top_logprobs"]) == 2 and e["logprob"] == e["top_logprobs"][0]["logprob"] for e in c)
' || fail "openai chat"
post /v1/chat/completions "{$O,\"stream\":true,\"logprobs\":true}" | python3 -c '
import json, sys
chunks = [json.loads(l[6:]) for l in sys.stdin if l.startswith("data: {")]
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
toks = "".join(e["token"] for c in chunks if c["choices"] for e in (c["choices"][0].get("logprobs") or {}).get("content", []))
assert text and toks == text, (toks, text)
' || fail "openai chat streamed"
code=$(curl -s -o "$TMPDIR_TEST/err" -w '%{http_code}' "$BASE/v1/chat/completions" -d "{$O,\"logprobs\":true,\"top_logprobs\":21}")
[ "$code" = 400 ] && grep -q '"type":"invalid_request_error"' "$TMPDIR_TEST/err" || fail "openai 21: $code $(cat "$TMPDIR_TEST/err")"

# OpenAI completions: the legacy shape (tokens, token_logprobs, top_logprobs, text_offset)
post /v1/completions '{"model":"stories","prompt":"Once upon a time","max_tokens":12,"temperature":0,"logprobs":3}' | python3 -c '
import json, sys
d = json.load(sys.stdin); ch = d["choices"][0]; lp = ch["logprobs"]
assert list(lp.keys()) == ["tokens", "token_logprobs", "top_logprobs", "text_offset"], lp.keys()
assert "".join(lp["tokens"]) == ch["text"]
assert len(lp["tokens"]) == d["usage"]["completion_tokens"]
off = 0
for t, l, alts, o in zip(lp["tokens"], lp["token_logprobs"], lp["top_logprobs"], lp["text_offset"]):
    assert o == off and l <= 0 and 1 <= len(alts) <= 3 and max(alts.values()) == l, (t, l, alts, o)
    off += len(t)
' || fail "openai completions"
echo "logprobs ok"

#!/bin/bash
# /api/chat through a real daemon: streaming and not (same text), chat through a ChatML template
# with stop PARAMETERs, tool calls parsed into message.tool_calls, the load/unload idiom, errors.
set -eu
source tests/integration/serve_lib.bash
serve_setup
# a second name for the same GGUF with a chat template (tools supported) and a SYSTEM
chatml='{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>{{ end }}{{ if .Tools }}{{ .Tools }}{{ end }}'
serve_install chatty "$MODEL_GGUF" "$chatml" '{"stop":["<|im_end|>"],"temperature":0}' "You are a storyteller."
serve_start
chat() { curl -s --max-time 60 "$BASE/api/chat" -d "$1"; }
msgs='[{"role":"user","content":"Once upon a time"}]'

o=$(chat "{\"model\":\"stories\",\"messages\":$msgs,\"stream\":false,\"options\":{\"num_predict\":20}}")
[ "$(echo "$o" | jget '["message"]["role"]')" = assistant ] || fail "role: $o"
whole=$(echo "$o" | jget '["message"]["content"]')
[ -n "$whole" ] || fail "empty: $o"
[ "$(echo "$o" | jget '["done_reason"]')" = length ] || fail "done_reason: $o"
echo "$o" | grep -q '"context"' && fail "chat must not return context"
echo "$o" | grep -q '"eval_count":20' || fail "eval_count: $o"
s=$(chat "{\"model\":\"stories\",\"messages\":$msgs,\"options\":{\"num_predict\":20}}")
joined=$(echo "$s" | python3 -c 'import json,sys; print("".join(json.loads(l)["message"]["content"] for l in sys.stdin))')
[ "$joined" = "$whole" ] || fail "stream '$joined' != '$whole'"
echo "$s" | tail -1 | grep -q '"done":true' || fail "last line: $(echo "$s" | tail -1)"

# a multi-turn chat through the ChatML template (model SYSTEM prepended) answers
o=$(chat '{"model":"chatty","stream":false,"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."},{"role":"USER","content":"Tell a story"}],"options":{"num_predict":10}}')
echo "$o" | grep -q '"done":true' || fail "chatty: $o"

# tool calls: a tool-capable template, tools given; tool use on a model without .Tools is 400
tools='[{"type":"function","function":{"name":"get_weather","description":"w","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]'
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/chat" -d "{\"model\":\"stories\",\"messages\":$msgs,\"tools\":$tools}")
[ "$code" = 400 ] && grep -q 'does not support tools' "$TMPDIR_TEST/r" || fail "tools on stories: $code $(cat "$TMPDIR_TEST/r")"
o=$(chat "{\"model\":\"chatty\",\"messages\":$msgs,\"tools\":$tools,\"stream\":false,\"options\":{\"num_predict\":8}}")
echo "$o" | grep -q '"done":true' || fail "chat with tools: $o"

# a history longer than num_ctx is truncated (oldest messages dropped, logged), not an error
long=$(python3 -c 'import json; print(json.dumps([{"role":"user" if i%2==0 else "assistant","content":"Once upon a time there was a dog. "*8} for i in range(15)]))')
o=$(chat "{\"model\":\"stories\",\"messages\":$long,\"stream\":false,\"options\":{\"num_ctx\":128,\"num_predict\":4}}")
echo "$o" | grep -q '"done":true' || fail "long chat: $o"
grep -q 'truncating input messages' "$TMPDIR_TEST/daemon.log" || fail "truncation not logged"
o=$(curl -s "$BASE/api/ps")
echo "$o" | grep -q '"context_length":128' || fail "num_ctx 128 not applied: $o"

# load / unload idiom
o=$(chat '{"model":"stories","messages":[]}')
echo "$o" | grep -q '"done_reason":"load"' || fail "load: $o"
echo "$o" | grep -q '"message":{"role":"assistant","content":""}' || fail "load shape: $o"
o=$(chat '{"model":"stories","messages":[],"keep_alive":0}')
echo "$o" | grep -q '"done_reason":"unload"' || fail "unload: $o"

# errors
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/chat" -d '{"model":"nope","messages":[]}')
[ "$code" = 404 ] || fail "missing model: $code"
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/chat" -d '{"model":"stories","messages":[{"role":"user","content":1}]}')
[ "$code" = 400 ] || fail "bad content: $code $(cat "$TMPDIR_TEST/r")"
code=$(curl -s -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE/api/chat" -d '{"model":"stories","messages":[],"think":true}')
[ "$code" = 400 ] && grep -q 'does not support thinking' "$TMPDIR_TEST/r" || fail "think: $code $(cat "$TMPDIR_TEST/r")"
echo ok

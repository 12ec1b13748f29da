#!/bin/bash
# POST /v1/messages (Anthropic) and POST /v1/responses (OpenAI Responses) on a real daemon with
# the tiny stories model: whole objects (field order, stop_reason / status, usage) and SSE
# streams parsed event by event (names match the data's type, block indices, sequence numbers,
# the streamed text joins to the non-streamed one at temperature 0), stop_sequences, thinking
# asked of a model that cannot think (dropped, as Ollama), thinking blocks and reasoning items
# (a template that opens <think>), tool calls end to end (a template whose tool-call tag is `{`
# plus a JSON schema forcing the call: tool_use blocks and function_call items, streamed and
# not), tool results sent back, count_tokens, and errors in each dialect's shape with the right
# statuses.
set -eu
source tests/integration/serve_lib.bash
serve_setup
tmpl='{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}{{ if .ToolCalls }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}{{ end }}{{ end }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ if .Tools }}{{ .Tools }}{{ end }}'
serve_install tooly "$MODEL_GGUF" "$tmpl" '{"temperature":0}'
serve_install inside "$MODEL_GGUF" '{{ .Prompt }}<think>' '{"temperature":0}' # thinks, never stops
serve_start
post() { # post PATH BODY -> body in $TMPDIR_TEST/r, headers in $TMPDIR_TEST/h, prints status
    curl -s --max-time 120 -D "$TMPDIR_TEST/h" -o "$TMPDIR_TEST/r" -w '%{http_code}' \
        -H 'x-api-key: ollama' -H 'anthropic-version: 2023-06-01' \
        -H 'Content-Type: application/json' "$BASE$1" -d "$2"
}
# SSE parser shared by the checks: events as (name, data) with data's type == name
cat >"$TMPDIR_TEST/sse.py" <<'EOF'
import json
def events(path):
    out = []
    for block in open(path).read().split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        name, data = lines[0][7:], json.loads(lines[1][6:])
        assert data["type"] == name, (name, data)
        out.append((name, data))
    return out
EOF
export PYTHONPATH="$TMPDIR_TEST"
msgs='[{"role":"user","content":"Once upon a time"}]'

# ---- /v1/messages, not streamed
code=$(post /v1/messages "{\"model\":\"stories\",\"max_tokens\":10,\"messages\":$msgs}")
[ "$code" = 200 ] || fail "messages: $code $(cat "$TMPDIR_TEST/r")"
grep -qi '^content-type: application/json' "$TMPDIR_TEST/h" || fail "messages content type"
whole=$(py '
import json,sys
d=json.load(open(sys.argv[1]))
assert list(d)==["id","type","role","model","content","stop_reason","stop_sequence","usage"], list(d)
assert d["id"].startswith("msg_") and d["type"]=="message" and d["role"]=="assistant", d
assert d["model"]=="stories" and d["stop_reason"]=="max_tokens" and d["stop_sequence"] is None, d
assert d["usage"]["output_tokens"]==10 and d["usage"]["input_tokens"]>0, d
assert len(d["content"])==1 and d["content"][0]["type"]=="text", d
print(d["content"][0]["text"])') || fail "messages shape: $(cat "$TMPDIR_TEST/r")"
[ -n "$whole" ] || fail "empty messages answer"

# ---- streamed: the event sequence, and the same text
code=$(post /v1/messages "{\"model\":\"stories\",\"max_tokens\":10,\"stream\":true,\"messages\":$msgs}")
[ "$code" = 200 ] || fail "messages stream: $code"
grep -qi '^content-type: text/event-stream' "$TMPDIR_TEST/h" || fail "messages stream type"
streamed=$(py '
import sys
from sse import events
ev=events(sys.argv[1]); names=[n for n,_ in ev]
assert names[:3]==["message_start","ping","content_block_start"], names
assert names[-3:]==["content_block_stop","message_delta","message_stop"], names
assert set(names[3:-3])=={"content_block_delta"}, names
m=ev[0][1]["message"]
assert m["content"]==[] and m["stop_reason"] is None and m["usage"]["output_tokens"]==0, m
assert ev[2][1]=={"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}
text="".join(d["delta"]["text"] for n,d in ev if n=="content_block_delta")
assert all(d["index"]==0 and d["delta"]["type"]=="text_delta" for n,d in ev if n=="content_block_delta")
md=ev[-2][1]
assert md["delta"]=={"stop_reason":"max_tokens","stop_sequence":None} and md["usage"]["output_tokens"]==10, md
print(text)') || fail "messages stream: $(head -c 3000 "$TMPDIR_TEST/r")"
[ "$streamed" = "$whole" ] || fail "streamed '$streamed' != whole '$whole'"

# ---- system blocks, stop_sequences, thinking on a model that cannot think (dropped); Claude
# Code's ?beta=true query
first=$(echo "$whole" | awk '{print $2}')
code=$(post "/v1/messages?beta=true" "{\"model\":\"stories\",\"max_tokens\":10,\"system\":[{\"type\":\"text\",\"text\":\"\"}],\"stop_sequences\":[\"$first\"],\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},\"messages\":$msgs}")
[ "$code" = 200 ] || fail "stop/thinking: $code $(cat "$TMPDIR_TEST/r")"
py '
import json,sys
d=json.load(open(sys.argv[1])); first=sys.argv[2]
text="".join(b.get("text","") for b in d["content"])
assert first not in text and d["stop_reason"]=="end_turn" and d["usage"]["output_tokens"]<10, d
assert all(b["type"]=="text" for b in d["content"]), d' "$first" || fail "stop: $(cat "$TMPDIR_TEST/r")"

# ---- tool use end to end: the schema forces the call, the template's tag `{` parses it
schema='{"type":"object","properties":{"name":{"enum":["get_weather"]},"arguments":{"type":"object","properties":{"city":{"enum":["Paris"]}},"required":["city"]}},"required":["name","arguments"]}'
tools='[{"name":"get_weather","description":"Weather of a city","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]'
ask="[{\"role\":\"user\",\"content\":\"Weather in Paris?\"}]"
code=$(post /v1/messages "{\"model\":\"tooly\",\"max_tokens\":400,\"messages\":$ask,\"tools\":$tools,\"output_config\":{\"format\":{\"type\":\"json_schema\",\"schema\":$schema}}}")
[ "$code" = 200 ] || fail "tool_use: $code $(cat "$TMPDIR_TEST/r")"
tool_id=$(py '
import json,sys
d=json.load(open(sys.argv[1]))
b=[b for b in d["content"] if b["type"]=="tool_use"]
assert d["stop_reason"]=="tool_use" and len(b)==1, d
assert b[0]["name"]=="get_weather" and b[0]["input"]=={"city":"Paris"} and b[0]["id"], b
print(b[0]["id"])') || fail "tool_use shape: $(cat "$TMPDIR_TEST/r")"
code=$(post /v1/messages "{\"model\":\"tooly\",\"max_tokens\":400,\"stream\":true,\"messages\":$ask,\"tools\":$tools,\"output_format\":{\"type\":\"json_schema\",\"schema\":$schema}}")
[ "$code" = 200 ] || fail "tool_use stream: $code"
py '
import json,sys
from sse import events
ev=events(sys.argv[1]); names=[n for n,_ in ev]
assert names==["message_start","ping","content_block_start","content_block_delta","content_block_stop","message_delta","message_stop"], names
cb=ev[2][1]["content_block"]
assert cb["type"]=="tool_use" and cb["name"]=="get_weather" and cb["input"]=={}, cb
d=ev[3][1]["delta"]
assert d["type"]=="input_json_delta" and json.loads(d["partial_json"])=={"city":"Paris"}, d
assert ev[5][1]["delta"]["stop_reason"]=="tool_use", ev[5]' || fail "tool_use stream: $(cat "$TMPDIR_TEST/r")"
# the result goes back as a tool_result block
code=$(post /v1/messages "{\"model\":\"tooly\",\"max_tokens\":4,\"tools\":$tools,\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"$tool_id\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"$tool_id\",\"content\":\"sunny\"}]}]}")
[ "$code" = 200 ] || fail "tool_result: $code $(cat "$TMPDIR_TEST/r")"

# ---- thinking (a template that opens <think>): thinking blocks / reasoning items
code=$(post /v1/messages "{\"model\":\"inside\",\"max_tokens\":6,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"messages\":$msgs}")
[ "$code" = 200 ] || fail "thinking: $code $(cat "$TMPDIR_TEST/r")"
think=$(py '
import json,sys
d=json.load(open(sys.argv[1]))
assert [b["type"] for b in d["content"]]==["thinking"] and d["stop_reason"]=="max_tokens", d
print(d["content"][0]["thinking"])') || fail "thinking shape: $(cat "$TMPDIR_TEST/r")"
code=$(post /v1/messages "{\"model\":\"inside\",\"max_tokens\":6,\"stream\":true,\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"messages\":$msgs}")
[ "$code" = 200 ] || fail "thinking stream: $code"
sthink=$(py '
import sys
from sse import events
ev=events(sys.argv[1]); names=[n for n,_ in ev]
assert names[2]=="content_block_start" and ev[2][1]["content_block"]=={"type":"thinking","thinking":""}, ev[2]
assert names[-3:]==["content_block_stop","message_delta","message_stop"], names
print("".join(d["delta"]["thinking"] for n,d in ev if n=="content_block_delta" and d["delta"]["type"]=="thinking_delta"))') ||
    fail "thinking stream: $(cat "$TMPDIR_TEST/r")"
[ -n "$think" ] && [ "$sthink" = "$think" ] || fail "thinking '$think' != streamed '$sthink'"
code=$(post /v1/responses '{"model":"inside","input":"Once upon a time","max_output_tokens":6,"temperature":0,"reasoning":{"effort":"low"},"stream":true}')
[ "$code" = 200 ] || fail "reasoning stream: $code"
py '
import sys
from sse import events
ev=events(sys.argv[1]); names=[n for n,_ in ev]
assert names[2:4]==["response.output_item.added","response.reasoning_summary_text.delta"], names
assert ev[2][1]["item"]["type"]=="reasoning", ev[2]
text="".join(d["delta"] for n,d in ev if n=="response.reasoning_summary_text.delta")
out=ev[-1][1]["response"]["output"]
assert out[0]["type"]=="reasoning" and out[0]["summary"][0]["text"]==text==sys.argv[2], out' "$think" ||
    fail "reasoning stream: $(cat "$TMPDIR_TEST/r")"

# ---- count_tokens (Claude Code probes it): an estimate, no max_tokens needed
code=$(post /v1/messages/count_tokens "{\"model\":\"stories\",\"messages\":$msgs}")
[ "$code" = 200 ] || fail "count_tokens: $code $(cat "$TMPDIR_TEST/r")"
py 'import json,sys; d=json.load(open(sys.argv[1])); assert list(d)==["input_tokens"] and d["input_tokens"]>0, d' ||
    fail "count_tokens: $(cat "$TMPDIR_TEST/r")"

# ---- errors in Anthropic's shape
aerr() { # aerr STATUS TYPE BODY SUBSTR
    local code
    code=$(post /v1/messages "$3")
    [ "$code" = "$1" ] || fail "want $1 for $3, got $code $(cat "$TMPDIR_TEST/r")"
    py '
import json,sys
d=json.load(open(sys.argv[1]))
assert d["type"]=="error" and d["error"]["type"]==sys.argv[2] and sys.argv[3] in d["error"]["message"], d
assert d["request_id"].startswith("req_"), d' "$2" "$4" || fail "error shape for $3: $(cat "$TMPDIR_TEST/r")"
}
aerr 404 not_found_error "{\"model\":\"nope\",\"max_tokens\":5,\"messages\":$msgs}" "not found"
aerr 400 invalid_request_error "{\"model\":\"stories\",\"messages\":$msgs}" "max_tokens is required"
aerr 400 invalid_request_error "{\"model\":\"stories\",\"max_tokens\":5,\"messages\":[]}" "messages is required"
aerr 400 invalid_request_error '{"model":"stories","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}' "no vision encoder"
aerr 400 invalid_request_error '{"model":' ""
aerr 400 invalid_request_error "{\"model\":\"stories\",\"max_tokens\":5,\"messages\":$msgs,\"tools\":[{\"name\":\"f\"}]}" "does not support tools"

# ---- /v1/responses, not streamed (temperature 0: OpenAI's default is 1)
code=$(post /v1/responses '{"model":"stories","input":"Once upon a time","max_output_tokens":10,"temperature":0,"instructions":"Tell a story"}')
[ "$code" = 200 ] || fail "responses: $code $(cat "$TMPDIR_TEST/r")"
rwhole=$(py '
import json,sys
d=json.load(open(sys.argv[1]))
keys=["id","object","created_at","completed_at","status","incomplete_details","model","previous_response_id","instructions","output","error","tools","tool_choice","truncation","parallel_tool_calls","text","top_p","presence_penalty","frequency_penalty","top_logprobs","temperature","reasoning","usage","max_output_tokens","max_tool_calls","store","background","service_tier","metadata","safety_identifier","prompt_cache_key"]
assert list(d)==keys, list(d)
assert d["id"].startswith("resp_") and d["object"]=="response" and d["model"]=="stories", d
assert d["status"]=="incomplete" and d["incomplete_details"]=={"reason":"max_output_tokens"}, d
assert d["instructions"]=="Tell a story" and d["max_output_tokens"]==10 and d["temperature"]==0, d
u=d["usage"]
assert u["output_tokens"]==10 and u["total_tokens"]==u["input_tokens"]+10 and u["input_tokens"]>0, u
o=d["output"]
assert len(o)==1 and o[0]["type"]=="message" and o[0]["role"]=="assistant" and o[0]["status"]=="completed", o
c=o[0]["content"]
assert len(c)==1 and c[0]["type"]=="output_text" and c[0]["annotations"]==[], c
print(c[0]["text"])') || fail "responses shape: $(cat "$TMPDIR_TEST/r")"
[ -n "$rwhole" ] || fail "empty responses answer"

code=$(post /v1/responses '{"model":"stories","input":[{"role":"system","content":"Tell a story"},{"type":"message","role":"user","content":[{"type":"input_text","text":"Once upon a time"}]}],"max_output_tokens":10,"temperature":0,"stream":true}')
[ "$code" = 200 ] || fail "responses stream: $code"
grep -qi '^content-type: text/event-stream' "$TMPDIR_TEST/h" || fail "responses stream type"
rstreamed=$(py '
import sys
from sse import events
ev=events(sys.argv[1]); names=[n for n,_ in ev]
assert [d["sequence_number"] for _,d in ev]==list(range(len(ev))), ev
assert names[:4]==["response.created","response.in_progress","response.output_item.added","response.content_part.added"], names
assert names[-4:]==["response.output_text.done","response.content_part.done","response.output_item.done","response.incomplete"], names
assert set(names[4:-4])=={"response.output_text.delta"}, names
assert ev[0][1]["response"]["status"]=="in_progress" and ev[0][1]["response"]["output"]==[]
text="".join(d["delta"] for n,d in ev if n=="response.output_text.delta")
fin=ev[-1][1]["response"]
assert fin["status"]=="incomplete" and fin["usage"]["output_tokens"]==10, fin
assert fin["output"][0]["content"][0]["text"]==text and ev[-4][1]["text"]==text
print(text)') || fail "responses stream: $(head -c 3000 "$TMPDIR_TEST/r")"
[ "$rstreamed" = "$rwhole" ] || fail "responses streamed '$rstreamed' != whole '$rwhole'"

# ---- function calls end to end, streamed and not, and the output sent back
rtools='[{"type":"function","name":"get_weather","description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}]'
code=$(post /v1/responses "{\"model\":\"tooly\",\"input\":\"Weather in Paris?\",\"max_output_tokens\":400,\"tools\":$rtools,\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"call\",\"schema\":$schema}}}")
[ "$code" = 200 ] || fail "function_call: $code $(cat "$TMPDIR_TEST/r")"
call_id=$(py '
import json,sys
d=json.load(open(sys.argv[1]))
o=d["output"]
assert d["status"]=="completed" and len(o)==1 and o[0]["type"]=="function_call", d
assert o[0]["name"]=="get_weather" and json.loads(o[0]["arguments"])=={"city":"Paris"}, o
print(o[0]["call_id"])') || fail "function_call shape: $(cat "$TMPDIR_TEST/r")"
code=$(post /v1/responses "{\"model\":\"tooly\",\"input\":\"Weather in Paris?\",\"max_output_tokens\":400,\"stream\":true,\"tools\":$rtools,\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"call\",\"schema\":$schema}}}")
[ "$code" = 200 ] || fail "function_call stream: $code"
py '
import json,sys
from sse import events
ev=events(sys.argv[1]); names=[n for n,_ in ev]
assert names==["response.created","response.in_progress","response.output_item.added","response.function_call_arguments.delta","response.function_call_arguments.done","response.output_item.done","response.completed"], names
assert json.loads(ev[4][1]["arguments"])=={"city":"Paris"} and ev[2][1]["item"]["status"]=="in_progress"
assert ev[-1][1]["response"]["output"][0]["type"]=="function_call"' || fail "function_call stream: $(cat "$TMPDIR_TEST/r")"
code=$(post /v1/responses "{\"model\":\"tooly\",\"max_output_tokens\":4,\"tools\":$rtools,\"input\":[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},{\"type\":\"function_call\",\"call_id\":\"$call_id\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},{\"type\":\"function_call_output\",\"call_id\":\"$call_id\",\"output\":\"sunny\"}]}")
[ "$code" = 200 ] || fail "function_call_output: $code $(cat "$TMPDIR_TEST/r")"

# ---- errors in OpenAI's shape
rerr() { # rerr STATUS TYPE BODY SUBSTR
    local code
    code=$(post /v1/responses "$3")
    [ "$code" = "$1" ] || fail "want $1 for $3, got $code $(cat "$TMPDIR_TEST/r")"
    py '
import json,sys
d=json.load(open(sys.argv[1]))["error"]
assert d["type"]==sys.argv[2] and sys.argv[3] in d["message"] and d["param"] is None, d' "$2" "$4" ||
        fail "error shape for $3: $(cat "$TMPDIR_TEST/r")"
}
rerr 404 not_found_error '{"model":"nope","input":"x"}' "not found"
rerr 400 invalid_request_error '{"model":"stories","input":"x","previous_response_id":"resp_1"}' "stateless"
rerr 400 invalid_request_error '{"model":"stories","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}' "no vision encoder"
rerr 400 invalid_request_error '[1]' ""
echo ok

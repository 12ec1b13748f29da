#!/bin/bash
# The official clients against a real daemon: `@anthropic-ai/sdk` messages.create (plain and
# stream: true), the messages.stream() helper's finalMessage, a forced tool call coming back as
# a tool_use block, countTokens, a 404 as NotFoundError; the `openai` package's
# responses.create (plain, with output_text, and stream: true) and the responses.stream()
# helper's finalResponse, a function call item, a 400 for previous_response_id as
# BadRequestError.
#
# Opt-in, never part of an offline `make test`: it runs only when CORRAL_OPENAI_SDK_DIR names a
# folder where scripts/clients.sh installed both packages, and node exists; else it is reported
# as skipped (exit 77).
set -eu
dir=${CORRAL_OPENAI_SDK_DIR:-}
if [ -z "$dir" ] || ! command -v node >/dev/null || [ ! -d "$dir/node_modules/openai" ] ||
    [ ! -d "$dir/node_modules/@anthropic-ai/sdk" ]; then
    echo "openai / @anthropic-ai/sdk npm clients not installed (scripts/clients.sh installs them; CI does)"
    exit 77
fi
source tests/integration/serve_lib.bash
serve_setup
tmpl='{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}{{ if .ToolCalls }}{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}{{ end }}{{ end }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ if .Tools }}{{ .Tools }}{{ end }}'
serve_install tooly "$MODEL_GGUF" "$tmpl" '{"temperature":0}'
serve_start
cat >"$TMPDIR_TEST/check.mjs" <<'EOF'
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
const ok = (c, what) => { if (!c) throw new Error("check failed: " + what); };
const schema = { type: "object", required: ["name", "arguments"], properties: {
    name: { enum: ["get_weather"] },
    arguments: { type: "object", required: ["city"], properties: { city: { enum: ["Paris"] } } } } };

// ---- Anthropic
const ant = new Anthropic({ baseURL: process.env.BASE, apiKey: "ollama", maxRetries: 0 });
const msgs = [{ role: "user", content: "Once upon a time" }];
const m = await ant.messages.create({ model: "stories", max_tokens: 8, messages: msgs });
ok(m.type === "message" && m.role === "assistant" && m.content[0].type === "text", "message " + JSON.stringify(m));
ok(m.content[0].text.length > 0 && m.stop_reason === "max_tokens" && m.usage.output_tokens === 8, "message usage");

let text = "", stop = null, types = [];
const s = await ant.messages.create({ model: "stories", max_tokens: 8, messages: msgs, stream: true });
for await (const ev of s) {
    types.push(ev.type);
    if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") text += ev.delta.text;
    if (ev.type === "message_delta") stop = ev.delta.stop_reason;
}
ok(text === m.content[0].text && stop === "max_tokens", "stream text '" + text + "' " + stop);
ok(types[0] === "message_start" && types[types.length - 1] === "message_stop", "stream events " + types);

const helper = ant.messages.stream({ model: "stories", max_tokens: 6, messages: msgs,
    system: "You tell stories." });
const fin = await helper.finalMessage();
ok(fin.content[0].type === "text" && fin.stop_reason === "max_tokens" && fin.usage.output_tokens === 6,
    "finalMessage " + JSON.stringify(fin));

const tools = [{ name: "get_weather", description: "Weather of a city",
    input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
const t = await ant.messages.create({ model: "tooly", max_tokens: 400, tools,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    output_config: { format: { type: "json_schema", schema } } });
const tu = t.content.find((b) => b.type === "tool_use");
ok(t.stop_reason === "tool_use" && tu && tu.name === "get_weather" && tu.input.city === "Paris",
    "tool_use " + JSON.stringify(t));
const ts = ant.messages.stream({ model: "tooly", max_tokens: 400, tools,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    output_config: { format: { type: "json_schema", schema } } });
const tf = await ts.finalMessage();
const tsu = tf.content.find((b) => b.type === "tool_use");
ok(tf.stop_reason === "tool_use" && tsu && tsu.input.city === "Paris", "streamed tool_use " + JSON.stringify(tf));

const cnt = await ant.messages.countTokens({ model: "stories", messages: msgs });
ok(cnt.input_tokens > 0, "countTokens " + JSON.stringify(cnt));

try {
    await ant.messages.create({ model: "nope", max_tokens: 4, messages: msgs });
    ok(false, "404 expected");
} catch (e) {
    ok(e instanceof Anthropic.NotFoundError && /not found/.test(e.message), "404: " + e);
}

// ---- OpenAI Responses
const oai = new OpenAI({ baseURL: process.env.BASE + "/v1", apiKey: "ollama", maxRetries: 0 });
const r = await oai.responses.create({ model: "stories", input: "Once upon a time",
    max_output_tokens: 8, temperature: 0 });
ok(r.object === "response" && r.status === "incomplete" && r.output_text.length > 0, "response " + JSON.stringify(r));
ok(r.usage.output_tokens === 8 && r.incomplete_details.reason === "max_output_tokens", "response usage");

let rtext = "", last = null;
const rs = await oai.responses.create({ model: "stories", input: "Once upon a time",
    max_output_tokens: 8, temperature: 0, stream: true });
for await (const ev of rs) {
    if (ev.type === "response.output_text.delta") rtext += ev.delta;
    last = ev;
}
ok(rtext === r.output_text && last.type === "response.incomplete", "responses stream '" + rtext + "' " + last.type);

const rh = oai.responses.stream({ model: "stories", max_output_tokens: 6, temperature: 0,
    input: [{ role: "user", content: [{ type: "input_text", text: "Once upon a time" }] }],
    instructions: "You tell stories." });
const rf = await rh.finalResponse();
ok(rf.output_text.length > 0 && rf.usage.output_tokens === 6, "finalResponse " + JSON.stringify(rf));

const rtools = [{ type: "function", name: "get_weather", description: "Weather of a city", strict: false,
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
const fc = await oai.responses.create({ model: "tooly", input: "Weather in Paris?", tools: rtools,
    max_output_tokens: 400, text: { format: { type: "json_schema", name: "call", schema } } });
const call = fc.output.find((o) => o.type === "function_call");
ok(fc.status === "completed" && call && call.name === "get_weather" && JSON.parse(call.arguments).city === "Paris",
    "function_call " + JSON.stringify(fc));
const back = await oai.responses.create({ model: "tooly", tools: rtools, max_output_tokens: 4,
    input: [{ role: "user", content: "Weather in Paris?" }, call,
            { type: "function_call_output", call_id: call.call_id, output: "sunny" }] });
ok(back.object === "response", "function_call_output");

try {
    await oai.responses.create({ model: "stories", input: "x", previous_response_id: "resp_1" });
    ok(false, "400 expected");
} catch (e) {
    ok(e instanceof OpenAI.BadRequestError && /stateless/.test(e.message), "400: " + e);
}
console.log("sdk ok");
EOF
cp "$TMPDIR_TEST/check.mjs" "$dir/.corral_check_msgs.mjs"
out=$(BASE=$BASE timeout 200 node "$dir/.corral_check_msgs.mjs" 2>&1) || { rm -f "$dir/.corral_check_msgs.mjs"; fail "$out"; }
rm -f "$dir/.corral_check_msgs.mjs"
echo "$out" | grep -q "sdk ok" || fail "$out"
echo ok

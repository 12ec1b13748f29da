#!/bin/bash
# The official `openai` npm client against a real daemon: chat.completions (plain, streamed with
# include_usage, the .stream() helper with finalChatCompletion), completions, models.list and
# models.retrieve (a namespaced id sent as %2F), a 404 as NotFoundError without retries,
# embeddings (base64 by default, decoded by the SDK) of the model's 64 dimensions.
#
# Opt-in, never part of an offline `make test`: it runs only when CORRAL_OPENAI_SDK_DIR names a
# folder where the package is installed (scripts/clients.sh), and node exists; else it is
# reported as skipped (exit 77).
set -eu
if [ -z "${CORRAL_OPENAI_SDK_DIR:-}" ] || ! command -v node >/dev/null ||
    [ ! -d "${CORRAL_OPENAI_SDK_DIR}/node_modules/openai" ]; then
    echo "openai npm client not installed (scripts/clients.sh installs it; CI does)"
    exit 77
fi
source tests/integration/serve_lib.bash
serve_setup
ns_dir="$OLLAMA_MODELS/manifests/registry.ollama.ai/myuser/tiny"
mkdir -p "$ns_dir"
cp "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/stories/latest" "$ns_dir/1b"
serve_start
cat >"$TMPDIR_TEST/check.mjs" <<'EOF'
import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.BASE + "/v1", apiKey: "ollama" });
const msgs = [{ role: "user", content: "Once upon a time" }];
const ok = (c, what) => { if (!c) throw new Error("check failed: " + what); };

const r = await client.chat.completions.create({ model: "stories", messages: msgs, max_tokens: 8 });
ok(r.choices[0].message.role === "assistant" && r.choices[0].message.content.length > 0, "chat");
ok(r.choices[0].finish_reason === "length" && r.usage.completion_tokens === 8, "chat usage");

let text = "", usage = null, finish = null;
const s = await client.chat.completions.create({ model: "stories", messages: msgs, max_tokens: 8,
    stream: true, stream_options: { include_usage: true } });
for await (const ch of s) {
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) { text += c.delta.content ?? ""; finish = c.finish_reason ?? finish; }
}
ok(text.length > 0 && usage && usage.completion_tokens === 8 && finish === "length", "stream");

const helper = client.chat.completions.stream({ model: "stories", messages: msgs, max_tokens: 6 });
const fin = await helper.finalChatCompletion();
ok(fin.choices[0].message.role === "assistant" && fin.choices[0].finish_reason === "length", "helper");

const c = await client.completions.create({ model: "stories", prompt: "Once", max_tokens: 5 });
ok(c.object === "text_completion" && c.choices[0].text.length > 0, "completions");

const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
ok(ids.includes("stories:latest") && ids.includes("myuser/tiny:1b"), "models.list " + ids);
const m = await client.models.retrieve("myuser/tiny:1b");
ok(m.id === "myuser/tiny:1b" && m.owned_by === "myuser", "models.retrieve " + JSON.stringify(m));

try {
    await client.chat.completions.create({ model: "nope", messages: msgs }, { maxRetries: 0 });
    ok(false, "404 expected");
} catch (e) {
    ok(e instanceof OpenAI.NotFoundError && /not found/.test(e.message), "404: " + e);
}
const emb = await client.embeddings.create({ model: "stories", input: "hello" }, { maxRetries: 0 });
ok(emb.data.length === 1 && emb.data[0].embedding.length === 64, "embeddings: " + JSON.stringify(emb.usage));
console.log("sdk ok");
EOF
cp "$TMPDIR_TEST/check.mjs" "$CORRAL_OPENAI_SDK_DIR/.corral_check.mjs"
out=$(BASE=$BASE timeout 120 node "$CORRAL_OPENAI_SDK_DIR/.corral_check.mjs" 2>&1) || fail "$out"
rm -f "$CORRAL_OPENAI_SDK_DIR/.corral_check.mjs"
echo "$out" | grep -q "sdk ok" || fail "$out"
echo ok

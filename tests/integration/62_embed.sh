#!/bin/bash
# Embeddings end to end on a real daemon with the tiny stories model (llama, n_embd 64, no
# pooling_type: the last token's hidden state): /api/embed with a string and an array (unit-norm
# vectors of 64 floats, deterministic, distinct per input, prompt_eval_count as a fresh
# generate counts the same text), chunked evaluation (num_batch 8) equal to one batch, the legacy
# /api/embeddings (not normalised, same direction), /v1/embeddings (float and base64 agree),
# truncation (default: counted as num_ctx; truncate:false: Ollama's 400), and embed requests
# while a greedy generation runs (NUM_PARALLEL=1 and 2) leave its output unchanged.
set -eu
source tests/integration/serve_lib.bash
MODEL_GGUF=tests/data/models/stories260K.gguf serve_setup
long=$(python3 -c 'print("Once upon a time there was a little girl named Lily. " * 60)')

serve_start

# ---- prompt_eval_count: a fresh instance's first generate evaluates the whole prompt
code=$(post /api/generate '{"model":"stories","prompt":"The cat sat on the mat","raw":true,"stream":false,"options":{"num_predict":1}}')
[ "$code" = 200 ] || fail "generate: $code $(cat "$TMPDIR_TEST/r")"
ntok=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["prompt_eval_count"])')
[ "$ntok" -gt 2 ] || fail "generate prompt_eval_count $ntok"

# ---- /api/embed, one string
code=$(post /api/embed '{"model":"stories","input":"The cat sat on the mat"}')
[ "$code" = 200 ] || fail "embed: $code $(cat "$TMPDIR_TEST/r")"
cp "$TMPDIR_TEST/r" "$TMPDIR_TEST/one"
py '
import json,sys
d=json.load(open(sys.argv[1]))
assert d["model"]=="stories", d
e=d["embeddings"]; assert len(e)==1 and len(e[0])==64, e
n=sum(x*x for x in e[0]); assert abs(n-1)<1e-5, n
assert d["prompt_eval_count"]==int(sys.argv[2]), (d["prompt_eval_count"], sys.argv[2])
assert d["total_duration"]>0 and "load_duration" in d
' "$ntok" || fail "embed one: $(cat "$TMPDIR_TEST/r")"

# ---- an array: the same input gives the same vector, other inputs differ; counts add up
code=$(post /api/embed '{"model":"stories","input":["The cat sat on the mat","Lily went to the park","The cat sat on the mat"]}')
[ "$code" = 200 ] || fail "embed array: $code $(cat "$TMPDIR_TEST/r")"
cp "$TMPDIR_TEST/r" "$TMPDIR_TEST/arr"
py '
import json,sys
d=json.load(open(sys.argv[1])); one=json.load(open(sys.argv[2]))["embeddings"][0]
e=d["embeddings"]; assert len(e)==3 and all(len(v)==64 for v in e)
for v in e: assert abs(sum(x*x for x in v)-1)<1e-5
assert e[0]==e[2]==one, "same input, different vectors"
assert max(abs(a-b) for a,b in zip(e[0],e[1]))>1e-3, "different inputs, same vector"
assert d["prompt_eval_count"]>2*int(sys.argv[3]), d["prompt_eval_count"]
' "$TMPDIR_TEST/one" "$ntok" || fail "embed array: $(cat "$TMPDIR_TEST/r")"

# ---- evaluation in chunks of num_batch tokens gives the same vector as one batch
post /api/embed "{\"model\":\"stories\",\"input\":\"${long:0:400}\"}" >/dev/null
cp "$TMPDIR_TEST/r" "$TMPDIR_TEST/whole"
code=$(post /api/embed "{\"model\":\"stories\",\"input\":\"${long:0:400}\",\"options\":{\"num_batch\":8}}")
[ "$code" = 200 ] || fail "embed num_batch 8: $code $(cat "$TMPDIR_TEST/r")"
py '
import json,sys
a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2]))
assert a["prompt_eval_count"]==b["prompt_eval_count"]>8, (a["prompt_eval_count"], b["prompt_eval_count"])
d=max(abs(x-y) for x,y in zip(a["embeddings"][0], b["embeddings"][0])); assert d<1e-3, d
' "$TMPDIR_TEST/whole" || fail "chunked embedding differs"

# ---- legacy /api/embeddings: {"embedding":[...]} not normalised, same direction
code=$(post /api/embeddings '{"model":"stories","prompt":"The cat sat on the mat"}')
[ "$code" = 200 ] || fail "embeddings: $code $(cat "$TMPDIR_TEST/r")"
py '
import json,sys,math
d=json.load(open(sys.argv[1])); one=json.load(open(sys.argv[2]))["embeddings"][0]
assert set(d)=={"embedding"}, d.keys()
v=d["embedding"]; assert len(v)==64
n=math.sqrt(sum(x*x for x in v)); assert abs(n-1)>1e-3, "legacy vector is normalised"
assert max(abs(x/n-y) for x,y in zip(v,one))<1e-6
' "$TMPDIR_TEST/one" || fail "legacy embeddings: $(cat "$TMPDIR_TEST/r")"
code=$(post /api/embeddings '{"model":"stories","prompt":""}')
[ "$code" = 200 ] && grep -q '^{"embedding":\[\]}$' "$TMPDIR_TEST/r" || fail "legacy empty: $code $(cat "$TMPDIR_TEST/r")"

# ---- /v1/embeddings: OpenAI shape; base64 decodes to the same float32 values
code=$(post /v1/embeddings '{"model":"stories","input":["The cat sat on the mat","Lily went to the park"]}')
[ "$code" = 200 ] || fail "v1 float: $code $(cat "$TMPDIR_TEST/r")"
cp "$TMPDIR_TEST/r" "$TMPDIR_TEST/v1f"
code=$(post /v1/embeddings '{"model":"stories","input":["The cat sat on the mat","Lily went to the park"],"encoding_format":"base64"}')
[ "$code" = 200 ] || fail "v1 base64: $code $(cat "$TMPDIR_TEST/r")"
py '
import json,sys,base64,struct
f=json.load(open(sys.argv[2])); b=json.load(open(sys.argv[1])); arr=json.load(open(sys.argv[3]))["embeddings"]
assert f["object"]=="list" and f["model"]=="stories", f
assert f["usage"]["prompt_tokens"]==f["usage"]["total_tokens"]>0, f["usage"]
for i in range(2):
    df=f["data"][i]; db=b["data"][i]
    assert df["object"]=="embedding" and df["index"]==i and db["index"]==i
    v=[struct.unpack("<f",struct.pack("<f",x))[0] for x in df["embedding"]]
    w=list(struct.unpack("<64f", base64.b64decode(db["embedding"])))
    assert v==w, "base64 differs from floats"
    assert max(abs(x-y) for x,y in zip(v,arr[i]))<1e-6
' "$TMPDIR_TEST/v1f" "$TMPDIR_TEST/arr" || fail "v1 embeddings: $(cat "$TMPDIR_TEST/r")"

# ---- truncation: the default keeps num_ctx tokens; truncate:false is Ollama's 400
code=$(post /api/embed "{\"model\":\"stories\",\"input\":\"$long\",\"options\":{\"num_ctx\":64}}")
[ "$code" = 200 ] || fail "truncated embed: $code $(cat "$TMPDIR_TEST/r")"
py 'import json,sys; d=json.load(open(sys.argv[1])); assert d["prompt_eval_count"]==64 and len(d["embeddings"][0])==64, d["prompt_eval_count"]' ||
    fail "truncated count: $(head -c 300 "$TMPDIR_TEST/r")"
code=$(post /api/embed "{\"model\":\"stories\",\"input\":\"$long\",\"truncate\":false,\"options\":{\"num_ctx\":64}}")
[ "$code" = 400 ] && grep -q '"error":"the input length exceeds the context length"' "$TMPDIR_TEST/r" ||
    fail "truncate false: $code $(cat "$TMPDIR_TEST/r")"
code=$(post /api/embed '{"model":"stories","input":"The cat","truncate":false,"options":{"num_ctx":64}}')
[ "$code" = 200 ] || fail "short input, truncate false: $code $(cat "$TMPDIR_TEST/r")"
serve_stop

# ---- embed requests during a greedy generation leave its output unchanged
gen='{"model":"stories","prompt":"Once upon a time","stream":false,"options":{"num_predict":3000}}'
gtext() { curl -s --max-time 120 "$BASE/api/generate" -d "$gen" | jget '["response"]'; }
for par in 1 2; do
    serve_start OLLAMA_NUM_PARALLEL=$par
    alone=$(gtext)
    [ ${#alone} -gt 1000 ] || fail "generation too short: ${#alone}"
    gtext >"$TMPDIR_TEST/g" & gp=$!
    during=0
    for i in $(seq 1 400); do
        kill -0 $gp 2>/dev/null || break
        code=$(post /api/embed "{\"model\":\"stories\",\"input\":[\"Lily $i\",\"${long:0:300}\"]}")
        [ "$code" = 200 ] || fail "embed during generation: $code $(cat "$TMPDIR_TEST/r")"
        kill -0 $gp 2>/dev/null && during=$((during + 1))
    done
    wait $gp
    [ "$(cat "$TMPDIR_TEST/g")" = "$alone" ] || fail "parallel=$par: generation changed by embeds"
    # with two slots the embeds ran while the generation was decoding
    [ $par = 1 ] || [ $during -gt 0 ] || fail "parallel=2: no embed finished during the generation"
    echo "parallel=$par: $during embeds during the generation"
    serve_stop
done
echo ok

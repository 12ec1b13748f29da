#!/bin/bash
# Encoder embedding models (bert, nomic-bert) end to end: tiny random-weight GGUFs written by
# `corral synth-enc` (the same files tests/data/reference/embed/ was made from), served from a
# temp store.  /api/show says ["embedding"]; /api/embed returns llama.cpp's vectors (reference
# normalised, within 1e-4) with its token counts; /api/embeddings the unnormalised vector;
# /v1/embeddings (float and base64); dimensions; truncation to the trained context (128, the
# closing [SEP] kept) and the truncate:false 400; generate and chat answer Ollama's "does not support" 400s; `corral run`
# prints the first vector as a JSON array (and refuses without text); a nomic-bert model made
# with `corral create` embeds as llama.cpp does.
set -eu
source tests/integration/serve_lib.bash
serve_setup
VOCAB=tests/data/vocab/ggml-vocab-bert-bge.gguf
REF=tests/data/reference/embed/llama.cpp-embed.jsonl
"$CORRAL_BIN_ABS" synth-enc bert "$VOCAB" "$TMPDIR_TEST/bert.gguf" --pooling 1 || fail "synth bert"
"$CORRAL_BIN_ABS" synth-enc nomic-bert "$VOCAB" "$TMPDIR_TEST/nomic.gguf" --pooling 1 ||
    fail "synth nomic-bert"
serve_install minibert "$TMPDIR_TEST/bert.gguf"
py() { python3 -c "$1" "$TMPDIR_TEST/r" "$REF" "${@:2}"; }
# ref MODEL TEXT -> python expression prelude: R = reference entry
PRE='
import json,sys,math,base64,struct
refs=[json.loads(l) for l in open(sys.argv[2])]
def ref(m,t): return [r for r in refs if r["model"]==m and r["text"]==t][0]
def unit(v): n=math.sqrt(sum(x*x for x in v)); return [x/n for x in v]
def close(a,b,tol): assert len(a)==len(b) and max(abs(x-y) for x,y in zip(a,b))<tol, max(abs(x-y) for x,y in zip(a,b))
d=json.load(open(sys.argv[1]))
'
T1="Hello world"
T2="The quick brown fox jumps over the lazy dog."
long=$(python3 -c 'print("the cat sat on the mat " * 40)')

serve_start

# ---- /api/show: an embedding model
code=$(post /api/show '{"model":"minibert"}')
[ "$code" = 200 ] || fail "show: $code $(cat "$TMPDIR_TEST/r")"
py "$PRE"'
assert d["capabilities"]==["embedding"], d["capabilities"]
assert d["model_info"]["general.architecture"]=="bert" and d["model_info"]["bert.pooling_type"]==1
' || fail "show: $(head -c 400 "$TMPDIR_TEST/r")"

# ---- /api/embed: llama.cpp's vectors, normalised; token counts as llama.cpp's
code=$(post /api/embed "{\"model\":\"minibert\",\"input\":[\"$T1\",\"$T2\"]}")
[ "$code" = 200 ] || fail "embed: $code $(cat "$TMPDIR_TEST/r")"
py "$PRE"'
e=d["embeddings"]; assert len(e)==2 and all(len(v)==64 for v in e)
for v,t in zip(e,[sys.argv[3],sys.argv[4]]):
    assert abs(sum(x*x for x in v)-1)<1e-5
    close(v, unit(ref("bert-mean",t)["embedding"]), 1e-4)
assert d["prompt_eval_count"]==len(ref("bert-mean",sys.argv[3])["tokens"])+len(ref("bert-mean",sys.argv[4])["tokens"]), d["prompt_eval_count"]
' "$T1" "$T2" || fail "embed vectors: $(head -c 400 "$TMPDIR_TEST/r")"

# ---- /api/embeddings: the unnormalised pooled vector
code=$(post /api/embeddings "{\"model\":\"minibert\",\"prompt\":\"$T1\"}")
[ "$code" = 200 ] || fail "embeddings: $code $(cat "$TMPDIR_TEST/r")"
py "$PRE"'close(d["embedding"], ref("bert-mean",sys.argv[3])["embedding"], 1e-4)' "$T1" ||
    fail "legacy embeddings: $(head -c 300 "$TMPDIR_TEST/r")"

# ---- /v1/embeddings: float and base64 agree with the reference
code=$(post /v1/embeddings "{\"model\":\"minibert\",\"input\":[\"$T1\",\"$T2\"],\"encoding_format\":\"base64\"}")
[ "$code" = 200 ] || fail "v1: $code $(cat "$TMPDIR_TEST/r")"
py "$PRE"'
assert d["object"]=="list" and len(d["data"])==2
for i,t in enumerate([sys.argv[3],sys.argv[4]]):
    v=list(struct.unpack("<64f", base64.b64decode(d["data"][i]["embedding"])))
    close(v, unit(ref("bert-mean",t)["embedding"]), 1e-4)
assert d["usage"]["prompt_tokens"]==len(ref("bert-mean",sys.argv[3])["tokens"])+len(ref("bert-mean",sys.argv[4])["tokens"])
' "$T1" "$T2" || fail "v1 embeddings: $(head -c 300 "$TMPDIR_TEST/r")"

# ---- dimensions: truncated, then normalised again
code=$(post /api/embed "{\"model\":\"minibert\",\"input\":\"$T1\",\"dimensions\":16}")
[ "$code" = 200 ] || fail "dimensions: $code $(cat "$TMPDIR_TEST/r")"
py "$PRE"'close(d["embeddings"][0], unit(ref("bert-mean",sys.argv[3])["embedding"][:16]), 1e-4)' "$T1" ||
    fail "dimensions: $(head -c 300 "$TMPDIR_TEST/r")"

# ---- truncation at the trained context (128 tokens), truncate:false is Ollama's 400
code=$(post /api/embed "{\"model\":\"minibert\",\"input\":\"$long\"}")
[ "$code" = 200 ] || fail "long input: $code $(cat "$TMPDIR_TEST/r")"
py "$PRE"'assert d["prompt_eval_count"]==128 and len(d["embeddings"][0])==64, d["prompt_eval_count"]' ||
    fail "truncated count: $(head -c 300 "$TMPDIR_TEST/r")"
cp "$TMPDIR_TEST/r" "$TMPDIR_TEST/trunc"
# [CLS] + 126 words + [SEP]: the truncated input keeps its closing [SEP], so it embeds exactly as
# the 21-phrase text that fits
fits=$(python3 -c 'print(("the cat sat on the mat " * 21).strip())')
code=$(post /api/embed "{\"model\":\"minibert\",\"input\":\"$fits\"}")
py "$PRE"'
t=json.load(open(sys.argv[3]))
assert d["prompt_eval_count"]==128, d["prompt_eval_count"]
close(d["embeddings"][0], t["embeddings"][0], 1e-6)
' "$TMPDIR_TEST/trunc" || fail "truncated input lost its [SEP]"
code=$(post /api/embed "{\"model\":\"minibert\",\"input\":\"$long\",\"truncate\":false}")
[ "$code" = 400 ] && grep -q '"error":"the input length exceeds the context length"' "$TMPDIR_TEST/r" ||
    fail "truncate false: $code $(cat "$TMPDIR_TEST/r")"

# ---- generate / chat: Ollama's capability errors
code=$(post /api/generate '{"model":"minibert","prompt":"hi"}')
[ "$code" = 400 ] && grep -q '"error":"\\"minibert\\" does not support generate"' "$TMPDIR_TEST/r" ||
    fail "generate: $code $(cat "$TMPDIR_TEST/r")"
code=$(post /api/chat '{"model":"minibert","messages":[{"role":"user","content":"hi"}]}')
[ "$code" = 400 ] && grep -q '"error":"\\"minibert\\" does not support chat"' "$TMPDIR_TEST/r" ||
    fail "chat: $code $(cat "$TMPDIR_TEST/r")"

# ---- corral run: the first vector as a JSON array; no text is an error
"$CORRAL_BIN_ABS" run minibert "$T1" >"$TMPDIR_TEST/r" 2>"$TMPDIR_TEST/err" ||
    fail "run: $(cat "$TMPDIR_TEST/err")"
py "$PRE"'close(d, unit(ref("bert-mean",sys.argv[3])["embedding"]), 1e-4)' "$T1" ||
    fail "run output: $(head -c 300 "$TMPDIR_TEST/r")"
[ "$(wc -l <"$TMPDIR_TEST/r")" = 1 ] || fail "run printed more than one line"
echo "$T1" | "$CORRAL_BIN_ABS" run minibert --dimensions 8 >"$TMPDIR_TEST/r" 2>"$TMPDIR_TEST/err" ||
    fail "run stdin: $(cat "$TMPDIR_TEST/err")"
py "$PRE"'assert len(d)==8, d' || fail "run --dimensions: $(cat "$TMPDIR_TEST/r")"
if "$CORRAL_BIN_ABS" run minibert </dev/null >"$TMPDIR_TEST/r" 2>"$TMPDIR_TEST/err"; then
    fail "run without text succeeded"
fi
grep -q "embedding models require input text" "$TMPDIR_TEST/err" || fail "run without text: $(cat "$TMPDIR_TEST/err")"

# ---- nomic-bert through corral create
printf 'FROM %s\n' "$TMPDIR_TEST/nomic.gguf" >"$TMPDIR_TEST/Modelfile"
"$CORRAL_BIN_ABS" create mininomic -f "$TMPDIR_TEST/Modelfile" >/dev/null 2>&1 || fail "create nomic"
code=$(post /api/embed "{\"model\":\"mininomic\",\"input\":[\"$T2\",\"a\"]}")
[ "$code" = 200 ] || fail "nomic embed: $code $(cat "$TMPDIR_TEST/r")"
py "$PRE"'
for v,t in zip(d["embeddings"],[sys.argv[3],"a"]):
    close(v, unit(ref("nomic-mean",t)["embedding"]), 1e-4)
' "$T2" || fail "nomic vectors: $(head -c 300 "$TMPDIR_TEST/r")"
code=$(post /api/show '{"model":"mininomic"}')
py "$PRE"'assert d["capabilities"]==["embedding"], d["capabilities"]' || fail "nomic show"
echo ok

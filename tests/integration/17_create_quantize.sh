#!/bin/bash
# create --quantize: /api/create with "quantize" q8_0 and q4_0 from the bundled F32 GGUF (HTTP
# and CLI -q), progress lines as Ollama streams them, /api/show and list report the new level,
# the quantized models generate, and the error answers (unknown type, already quantized source).
. "$(dirname "$0")/lib.bash"
start_daemon "$T/models"
d=sha256:$(sha_of "$GGUF")
expect_status 201 -X POST --data-binary "@$GGUF" "$URL/api/blobs/$d"

curl -s "$URL/api/create" -d "{\"model\":\"s8\",\"files\":{\"m.gguf\":\"$d\"},\"quantize\":\"q8_0\"}" >"$T/c8"
grep -qx '{"status":"quantizing F32 model to Q8_0","digest":"0000000000000000000","total":[0-9]*,"completed":0}' "$T/c8" || fail "progress line: $(cat "$T/c8")"
grep -qx '{"status":"verifying conversion"}' "$T/c8" || fail "verifying: $(cat "$T/c8")"
grep -q '^{"status":"creating new layer sha256:' "$T/c8" || fail "new layer: $(cat "$T/c8")"
tail -1 "$T/c8" | grep -qx '{"status":"success"}' || fail "c8 end: $(cat "$T/c8")"

# the CLI flag, non-streamed HTTP for the same request shape is checked below
printf 'FROM %s\nPARAMETER temperature 0\n' "$GGUF" >"$T/Modelfile"
"$BIN" create s4 -q q4_0 -f "$T/Modelfile" 2>"$T/c4" || { cat "$T/c4"; fail "cli create -q"; }
grep -q 'quantizing F32 model to Q4_0' "$T/c4" || fail "cli progress: $(cat "$T/c4")"

for m in s8:Q8_0 s4:Q4_0; do
    expect_status 200 "$URL/api/show" -d "{\"model\":\"${m%%:*}\"}"
    grep -q "\"quantization_level\":\"${m##*:}\"" "$T/body" || fail "show $m: $(cat "$T/body")"
    grep -q "\"general.file_type\":" "$T/body" || fail "show $m file_type key"
    "$BIN" show "${m%%:*}" | grep -Eq "^ +quantization +${m##*:} +$" || fail "cli show $m"
done
# the quantized blobs are smaller than the F32 source, and no temp file is left in blobs/
s8=$(curl -s "$URL/api/tags" | python3 -c 'import json,sys; print({m["name"]:m["size"] for m in json.load(sys.stdin)["models"]}["s8:latest"])')
[ "$s8" -lt "$(stat -c %s "$GGUF")" ] || fail "q8_0 not smaller: $s8"
ls "$T/models/blobs" | grep -q quantize && fail "temp file left: $(ls "$T/models/blobs")"

# both generate (greedy, 8 tokens)
for m in s8 s4; do
    out=$(curl -s --max-time 60 "$URL/api/generate" -d "{\"model\":\"$m\",\"prompt\":\"Once upon a time\",\"stream\":false,\"options\":{\"num_predict\":8,\"temperature\":0}}")
    echo "$out" | grep -q '"eval_count":8' || fail "generate $m: $out"
    echo "$out" | grep -q '"response":""' && fail "empty response $m: $out"
done

# the source's own type keeps the layer as it is (no rewrite), as Ollama does
expect_status 200 "$URL/api/create" -d "{\"model\":\"same\",\"files\":{\"m.gguf\":\"$d\"},\"quantize\":\"f32\"}"
grep -q quantizing "$T/body" && fail "f32 -> f32 rewrote the layer: $(cat "$T/body")"
# from an existing model name (its F32 layer) works too; stream:false ends with success
expect_status 200 "$URL/api/create" -d '{"model":"fromq","from":"same","quantize":"q8_0","stream":false}'
grep -qx '{"status":"success"}' "$T/body" || fail "from+quantize: $(cat "$T/body")"
expect_status 200 "$URL/api/show" -d '{"model":"fromq"}'
grep -q '"quantization_level":"Q8_0"' "$T/body" || fail "from+quantize level: $(cat "$T/body")"
# errors (before anything streams, so with their HTTP status)
expect_status 400 "$URL/api/create" -d '{"model":"bad","from":"s8","quantize":"q4_K_M"}'
grep -qx '{"error":"quantization is only supported for F16, BF16 and F32 models"}' "$T/body" || fail "requantize msg: $(cat "$T/body")"
expect_status 400 "$URL/api/create" -d "{\"model\":\"bad\",\"files\":{\"m.gguf\":\"$d\"},\"quantize\":\"q9_9\"}"
grep -q '^{"error":"unsupported quantization type q9_9 - supported types are F32, F16, ' "$T/body" || fail "type msg: $(cat "$T/body")"
curl -s "$URL/api/tags" | grep -q '"bad:latest"' && fail "failed create left a model"
echo ok

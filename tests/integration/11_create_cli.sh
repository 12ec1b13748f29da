#!/bin/bash
# Create from the bundled GGUF through the CLI (Modelfile -> blob upload -> /api/create), then
# list/show/cp/rm through both the CLI and raw HTTP; NDJSON streaming vs stream:false.
. "$(dirname "$0")/lib.bash"
start_daemon "$T/models"

cat > "$T/Modelfile" <<MF
# the bundled tiny model
FROM $GGUF
PARAMETER temperature 0.7
PARAMETER stop "<|end|>"
PARAMETER stop User:
SYSTEM """You tell
short stories."""
LICENSE MIT
MESSAGE user Once upon a time
MF
"$BIN" create stories -f "$T/Modelfile" 2>"$T/create.log" || { cat "$T/create.log"; fail "create"; }
tail -1 "$T/create.log" | grep -qx success || fail "no success line"
grep -q "^parsing GGUF$" "$T/create.log" || fail "no parsing status"

"$BIN" list > "$T/list"
head -1 "$T/list" | grep -Eq '^NAME +ID +SIZE +MODIFIED +$' || fail "list header: $(cat "$T/list")"
grep -Eq '^stories:latest +[0-9a-f]{12} +1\.2 MB +(Less than a second|1 second|[0-9]+ seconds) ago +$' "$T/list" || fail "list row: $(cat "$T/list")"
"$BIN" ls stor | grep -q stories:latest || fail "ls prefix"

"$BIN" show stories > "$T/show"
grep -Eq '^ +architecture +llama +$' "$T/show" || fail "show arch: $(cat "$T/show")"
grep -Eq '^ +quantization +F32 +$' "$T/show" || fail "show quant"
grep -Eq '^ +temperature +0\.7 +$' "$T/show" || fail "show params"
[ "$("$BIN" show stories --system)" = "$(printf 'You tell\nshort stories.')" ] || fail "--system"
[ "$("$BIN" show stories --license)" = "MIT" ] || fail "--license"
"$BIN" show stories --parameters | grep -Eq '^stop +"User:"$' || fail "--parameters"
# no template layer: Ollama's default template, printed without a newline
[ "$("$BIN" show stories --template)" = "{{ .Prompt }}" ] || fail "--template"
[ "$("$BIN" show stories --template | wc -l)" = 0 ] || fail "--template adds a newline"
"$BIN" show stories --modelfile | grep -qx 'TEMPLATE {{ .Prompt }}' || fail "modelfile TEMPLATE"
"$BIN" show stories --modelfile | grep -qx 'LICENSE MIT' || fail "modelfile LICENSE quoting"
"$BIN" show -v stories > "$T/showv"
grep -q '^  Tensors$' "$T/showv" || fail "show -v tensors"
grep -Eq '^ +token_embd.weight +F32 +\[64 512\] +$' "$T/showv" || fail "show -v tensor row"
curl -s "$URL/api/show" -d '{"model":"stories","verbose":true}' | grep -q '"tensors":\[{"name":"token_embd.weight","type":"F32","shape":\[64,512\]}' || fail "verbose tensors"
curl -s "$URL/api/show" -d '{"model":"stories"}' | grep -q '"tensors"' && fail "tensors without verbose"
"$BIN" show stories --modelfile > "$T/mf"
grep -q '^FROM /.*/blobs/sha256-' "$T/mf" || fail "modelfile FROM"
grep -q '^MESSAGE user Once upon a time$' "$T/mf" || fail "modelfile MESSAGE"

# the generated Modelfile builds the same model again (FROM the blob path)
"$BIN" create again -f "$T/mf" 2>/dev/null || fail "re-create from generated Modelfile"

# cp / rm through the CLI
[ "$("$BIN" cp stories me/copy:v1)" = "copied 'stories' to 'me/copy:v1'" ] || fail "cp"
"$BIN" list | grep -q '^me/copy:v1 ' || fail "copy listed"
[ "$("$BIN" rm me/copy:v1)" = "deleted 'me/copy:v1'" ] || fail "rm"
out=$("$BIN" rm me/copy:v1 2>&1) && fail "rm twice"
[ "$out" = "Error: model 'me/copy:v1' not found" ] || fail "rm missing: $out"

# the same through raw HTTP
expect_status 200 "$URL/api/copy" -d '{"source":"stories","destination":"viahttp"}'
curl -s "$URL/api/tags" | grep -q '"name":"viahttp:latest"' || fail "copy via http"
expect_status 200 "$URL/api/show" -d '{"name":"viahttp"}'
grep -q '"general.architecture":"llama"' "$T/body" || fail "show model_info"
grep -q '"capabilities":\["completion"\]' "$T/body" || fail "show capabilities"
expect_status 200 -X DELETE "$URL/api/delete" -d '{"model":"viahttp"}'
expect_status 404 -X DELETE "$URL/api/delete" -d '{"model":"viahttp"}'

# no Modelfile = "FROM ." (Ollama's client): a directory stands for its one .gguf file
mkdir -p "$T/dirmodel/sub"
(cd "$T/dirmodel" && "$BIN" create fromdir 2>"$T/err") && fail "empty directory imported"
grep -qx "Error: no Modelfile or safetensors files found" "$T/err" || fail "empty dir: $(cat "$T/err")"
cp "$GGUF" "$T/dirmodel/w.gguf"
(cd "$T/dirmodel" && "$BIN" create fromdir 2>"$T/err") || fail "create from cwd: $(cat "$T/err")"
printf 'FROM ./dirmodel\n' >"$T/Modelfile.dir"
"$BIN" create fromdir2 -f "$T/Modelfile.dir" 2>"$T/err" || fail "FROM dir: $(cat "$T/err")"
[ "$(curl -s "$URL/api/show" -d '{"model":"fromdir"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["details"]["format"])')" = gguf ] ||
    fail "fromdir not created"
touch "$T/dirmodel/sub/model-00001-of-00002.safetensors"
(cd "$T/dirmodel" && "$BIN" create fromdir3 2>"$T/err") && fail "safetensors directory imported"
grep -q "not supported yet" "$T/err" || fail "safetensors dir: $(cat "$T/err")"
"$BIN" rm fromdir fromdir2 >/dev/null

# create over HTTP: streamed NDJSON by default, one object with stream:false
d=sha256:$(sha_of "$GGUF")
curl -s -D "$T/h" -o "$T/body" "$URL/api/create" -d "{\"model\":\"h1\",\"files\":{\"m.gguf\":\"$d\"}}"
grep -qi '^Content-Type: application/x-ndjson' "$T/h" || fail "ndjson content type"
tail -1 "$T/body" | grep -qx '{"status":"success"}' || fail "stream end"
[ "$(curl -s "$URL/api/create" -d "{\"model\":\"h2\",\"files\":{\"m.gguf\":\"$d\"},\"stream\":false}")" = '{"status":"success"}' ] || fail "stream false"
"$BIN" rm stories again h1 h2 >/dev/null
[ "$(curl -s "$URL/api/tags")" = '{"models":[]}' ] || fail "all removed"
[ -z "$(ls "$T/models/blobs")" ] || fail "blobs left after removing every model: $(ls "$T/models/blobs")"
echo ok

#!/bin/bash
# A store written by hand in Ollama's layout (as `ollama pull` leaves it, including another
# registry host with a port) is listed and shown; an unparsable manifest is skipped; a manifest
# path with a bad part is ignored.
. "$(dirname "$0")/lib.bash"
M=$T/models
mkdir -p "$M/blobs" "$M/manifests/registry.ollama.ai/library/tiny" "$M/manifests/localhost:5000/me/tiny2" \
    "$M/manifests/registry.ollama.ai/library/broken" "$M/manifests/registry.ollama.ai/library/-bad"
gh=$(sha_of "$GGUF"); cp "$GGUF" "$M/blobs/sha256-$gh"
printf '{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"260K","file_type":"F32","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$gh" > "$T/config"
ch=$(sha_of "$T/config"); cp "$T/config" "$M/blobs/sha256-$ch"
printf '{"stop":["\\u003c/s\\u003e"]}\n' > "$T/params"
ph=$(sha_of "$T/params"); cp "$T/params" "$M/blobs/sha256-$ph"
cs=$(stat -c %s "$T/config"); gs=$(stat -c %s "$GGUF"); ps=$(stat -c %s "$T/params")
manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"sha256:$ch\",\"size\":$cs},\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:$gh\",\"size\":$gs},{\"mediaType\":\"application/vnd.ollama.image.params\",\"digest\":\"sha256:$ph\",\"size\":$ps}]}"
printf '%s' "$manifest" > "$M/manifests/registry.ollama.ai/library/tiny/latest"
printf '%s' "$manifest" > "$M/manifests/localhost:5000/me/tiny2/v1"
printf '{"schemaVersion":' > "$M/manifests/registry.ollama.ai/library/broken/latest"
printf '%s' "$manifest" > "$M/manifests/registry.ollama.ai/library/-bad/latest"
id=$(printf '%s' "$manifest" | sha256sum | cut -c1-12)
export OLLAMA_NOPRUNE=1 # the broken manifest disables pruning anyway; be explicit
start_daemon "$M"

curl -s "$URL/api/tags" > "$T/tags"
grep -q '"name":"tiny:latest"' "$T/tags" || fail "library model not listed: $(cat "$T/tags")"
grep -q '"name":"localhost:5000/me/tiny2:v1"' "$T/tags" || fail "host:port model not listed"
grep -q '"parameter_size":"260K","quantization_level":"F32"' "$T/tags" || fail "details from config"
grep -q "\"digest\":\"$id" "$T/tags" || fail "id is the manifest sha256"
grep -q 'broken' "$T/tags" && fail "broken manifest listed"
grep -q -- '-bad' "$T/tags" && fail "invalid name listed"
"$BIN" list | grep -Eq "^tiny:latest +$id +1\.2 MB " || fail "CLI list: $("$BIN" list)"
"$BIN" show tiny --parameters | grep -Eq '^stop +"</s>"$' || fail "params from the Ollama blob"
"$BIN" show TINY:Latest >/dev/null || fail "case-insensitive name"
curl -s "$URL/api/show" -d '{"model":"Tiny"}' | grep -q '"modified_at":"20' || fail "show by other case"
# manifests are kept byte for byte: copying keeps the id
"$BIN" cp tiny tiny-copy >/dev/null
"$BIN" list | grep -Eq "^tiny-copy:latest +$id " || fail "copy changed the manifest bytes"
"$BIN" rm TINY-COPY >/dev/null || fail "rm by other case"
"$BIN" list | grep -q '^tiny-copy' && fail "rm by other case left the model"
[ -f "$M/blobs/sha256-$gh" ] || fail "rm pruned a blob another model uses"
echo ok

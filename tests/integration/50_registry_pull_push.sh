#!/bin/bash
# Registry round trip against a real Docker Distribution on loopback: a model made from the
# bundled GGUF is pushed with --insecure, the local store is dropped, the model is pulled back in
# small parts and compared digest for digest and byte for byte; a missing model gives Ollama's
# error; a corrupted blob on the registry fails verification and leaves nothing in the store.
set -u
. tests/data/store/registry_lib.sh
REG_LOG_LEVEL=info start_registry main   # info: the registry logs every request
R=127.0.0.1:$REG_PORT_main
NAME=$R/library/stories:v1

export OLLAMA_MODELS=$W/a
"$B" registry import testdata/models/stories260K.gguf "$NAME" || fail import
"$B" registry push --insecure "$NAME" > "$W/push.out" || fail push
grep -q '"status":"pushing manifest"' "$W/push.out" || fail "no pushing manifest line"
tail -1 "$W/push.out" | grep -qx '{"status":"success"}' || fail "push did not end in success"
# second push: every blob already there
"$B" registry push --insecure "$NAME" > /dev/null || fail "re-push"

# a layer that records where it came from is mounted across repositories, not uploaded
man=$(cat "$W/a/manifests/$R/library/stories/v1")
mkdir -p "$W/a/manifests/$R/library/copy"
echo "$man" | sed "s|\"size\":1185376}|\"size\":1185376,\"from\":\"$R/library/stories:v1\"}|" > "$W/a/manifests/$R/library/copy/v1"
grep -q '"from"' "$W/a/manifests/$R/library/copy/v1" || fail "test manifest without from"
"$B" registry push --insecure "$R/library/copy:v1" > "$W/copy.out" || fail "push with from: $(cat "$W/copy.out")"
grep 'library/copy/blobs/uploads/?mount=sha256:270cba1bd510' "$REGDIR_main/log" | grep -q 'http.response.status=201' ||
    fail "the layer was not mounted: $(grep library/copy "$REGDIR_main/log" | head -5)"
# only the config (no "from") is uploaded: one PATCH of its 254 bytes
n=$(grep 'library/copy/blobs/uploads' "$REGDIR_main/log" | grep -c 'http.request.method=PATCH')
[ "$n" = 1 ] || fail "expected one PATCH (the config), saw $n: the mounted layer was uploaded"

# pull back into an empty store, in 100 kB parts
export OLLAMA_MODELS=$W/b
CORRAL_PULL_PART_SIZE=100000 "$B" registry pull --insecure "$NAME" > "$W/pull.out" || fail pull
head -1 "$W/pull.out" | grep -qx '{"status":"pulling manifest"}' || fail "first line"
grep -q '"status":"pulling 270cba1bd510"' "$W/pull.out" || fail "no per-layer progress"
tail -3 "$W/pull.out" | tr -d '\n' | grep -q '{"status":"verifying sha256 digest"}{"status":"writing manifest"}{"status":"success"}' ||
    fail "final status lines"
[ "$(blob_digests "$W/a")" = "$(blob_digests "$W/b")" ] || fail "blob sets differ"
for f in "$W"/b/blobs/*; do
    [ "sha256-$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "bad blob $f"
done
cmp "$W/a/manifests/$R/library/stories/v1" "$W/b/manifests/$R/library/stories/v1" || fail "manifest bytes differ"
ls "$W"/b/blobs | grep -q partial && fail "partial files left"

# pulling again only fetches the manifest
"$B" registry pull --insecure "$NAME" > "$W/pull2.out" || fail "re-pull"
tail -1 "$W/pull2.out" | grep -qx '{"status":"success"}' || fail "re-pull success"

# unknown model: Ollama's text
out=$("$B" registry pull --insecure "$R/library/nothere:v1" 2>&1) && fail "404 pull succeeded"
echo "$out" | grep -qx 'Error: pull model manifest: file does not exist' || fail "404 text: $out"
# http:// without --insecure
out=$("$B" registry pull "http://$NAME" 2>&1) && fail "insecure accepted"
echo "$out" | grep -q 'insecure protocol http' || fail "insecure text: $out"

# manifests that declare the wrong size for a layer: refused, nothing left in the store
man=$(cat "$W/a/manifests/$R/library/stories/v1")
# (the blobs are mounted into that repository first; Distribution checks they exist there)
for d in $(echo "$man" | grep -o 'sha256:[0-9a-f]\{64\}'); do
    curl -sS -o /dev/null -X POST "http://$R/v2/library/badsize/blobs/uploads/?mount=$d&from=library/stories"
done
for delta in 100 -100; do
    bad=$(echo "$man" | sed "s/\"size\":1185376/\"size\":$((1185376 + delta))/")
    code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: application/vnd.docker.distribution.manifest.v2+json" \
        --data-binary "$bad" "http://$R/v2/library/badsize/manifests/d$delta")
    [ "$code" = 201 ] || fail "registry refused the wrong-size manifest ($code)"
    export OLLAMA_MODELS=$W/size$delta
    out=$(CORRAL_PULL_PART_SIZE=300000 "$B" registry pull --insecure "$R/library/badsize:d$delta" 2>&1 >/dev/null) && fail "pull of a wrong-size layer ($delta) succeeded"
    echo "size $delta: $out"
    [ -z "$(ls "$W/size$delta/blobs")" ] || fail "files left after a wrong-size pull ($delta): $(ls "$W/size$delta/blobs")"
    [ -d "$W/size$delta/manifests/$R" ] && fail "manifest written after a wrong-size pull"
done

# corrupt the model blob on the registry (same size): verification fails, nothing is left
hex=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
data=$REGDIR_main/store/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
[ -f "$data" ] || fail "registry data file not found"
printf 'XXXX' | dd of="$data" bs=1 seek=5000 conv=notrunc 2>/dev/null
export OLLAMA_MODELS=$W/c
out=$(CORRAL_PULL_PART_SIZE=300000 "$B" registry pull --insecure "$NAME" 2>&1 >/dev/null) && fail "corrupt pull succeeded"
echo "$out" | grep -q "digest mismatch, file must be downloaded again: want sha256:$hex, got sha256:" || fail "mismatch text: $out"
[ -z "$(ls "$W/c/blobs" | grep "$hex")" ] || fail "corrupt blob or partial left: $(ls "$W/c/blobs")"
[ -e "$W/c/manifests/$R/library/stories/v1" ] && fail "manifest written after a failed pull"
echo "all registry round-trip checks passed"

#!/bin/bash
# Blob uploads: wrong digest rejected with nothing left behind, malformed digests, HEAD, an
# existing blob answered 200 without its body; path-traversal and invalid model names rejected
# everywhere with nothing written outside the store.
. "$(dirname "$0")/lib.bash"
start_daemon "$T/models"
printf 'some bytes' > "$T/blob"
good=sha256:$(sha_of "$T/blob")
wrong=sha256:$(printf '%064d' 7)

expect_status 400 --data-binary @"$T/blob" "$URL/api/blobs/$wrong"
grep -q "digest mismatch, expected \\\\\"$wrong\\\\\", got \\\\\"$good\\\\\"" "$T/body" || fail "mismatch message: $(cat "$T/body")"
[ -z "$(ls -A "$T/models/blobs")" ] || fail "left behind: $(ls -A "$T/models/blobs")"
expect_status 400 --data-binary @"$T/blob" "$URL/api/blobs/sha256:1234"
grep -q 'invalid digest format' "$T/body" || fail "format message"
expect_status 400 --data-binary @"$T/blob" "$URL/api/blobs/md5:$(printf '%064d' 1)"
expect_status 404 -I "$URL/api/blobs/$good"
expect_status 201 --data-binary @"$T/blob" "$URL/api/blobs/$good"
expect_status 200 -I "$URL/api/blobs/$good"
expect_status 200 --data-binary @"$T/blob" "$URL/api/blobs/$good"
# Ollama accepts the sha256-<hex> spelling and upper-case hex
expect_status 200 -I "$URL/api/blobs/sha256-$(sha_of "$T/blob" | tr a-f A-F)"
[ "$(ls "$T/models/blobs")" = "sha256-${good#sha256:}" ] || fail "blob file name"

# traversal and invalid names
for n in '../../etc/passwd' 'a/../../b' '/abs' 'x:y:z' 'bad name' '..' 'a/b/c/d/e' "$(printf 'a%.0s' $(seq 1 100))"; do
    body=$(printf '{"model":"%s"}' "$n")
    expect_status 400 "$URL/api/show" -d "$body"
    grep -q 'invalid model name' "$T/body" || fail "show $n: $(cat "$T/body")"
    expect_status 400 -X DELETE "$URL/api/delete" -d "$body"
    expect_status 400 "$URL/api/copy" -d "{\"source\":\"x\",\"destination\":\"$n\"}"
    expect_status 400 "$URL/api/create" -d "{\"model\":\"$n\",\"from\":\"x\"}"
done
expect_status 400 "$URL/api/create" -d "{\"model\":\"ok\",\"files\":{\"../../x.gguf\":\"$good\"}}"
grep -q 'file path must be relative' "$T/body" || fail "files path"
expect_status 400 "$URL/api/create" -d "{\"model\":\"ok\",\"files\":{\"x.gguf\":\"$good\"}}"
grep -q 'invalid GGUF' "$T/body" || fail "not a gguf: $(cat "$T/body")"
expect_status 400 "$URL/api/create" -d '{"model":"ok","from":"x","quantize":"q9_K"}'
grep -q 'unsupported quantization type q9_K' "$T/body" || fail "quantize"
[ -z "$(find "$T" -maxdepth 1 -newer "$T/blob" ! -name body ! -name models ! -name daemon.log ! -name blob ! -path "$T")" ] || fail "files written outside the store"
[ ! -e "$T/etc" ] && [ ! -e /abs ] || fail "traversal wrote something"
echo ok

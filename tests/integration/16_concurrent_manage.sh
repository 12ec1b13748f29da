#!/bin/bash
# Concurrent create / copy / delete of models that share one GGUF blob: afterwards every listed
# model shows, and every blob its manifest names exists (a prune never removed a blob a
# concurrent create had just taken).
. "$(dirname "$0")/lib.bash"
start_daemon "$T/models"
d=sha256:$(sha_of "$GGUF")
curl -sf -o /dev/null --data-binary @"$GGUF" "$URL/api/blobs/$d" || fail "upload"
curl -sf -o /dev/null "$URL/api/create" -d "{\"model\":\"keep\",\"files\":{\"m.gguf\":\"$d\"}}" || fail "create keep"
for round in 1 2 3; do
    for i in $(seq 1 8); do
        ( curl -s -o /dev/null "$URL/api/create" -d "{\"model\":\"m$i\",\"files\":{\"m.gguf\":\"$d\"},\"system\":\"r$round $i\"}"
          curl -s -o /dev/null "$URL/api/copy" -d "{\"source\":\"m$i\",\"destination\":\"c$i\"}"
          curl -s -o /dev/null -X DELETE "$URL/api/delete" -d "{\"model\":\"m$((i % 8 + 1))\"}" ) &
    done
    wait $(jobs -p | grep -vx "$DPID") 2>/dev/null || true
done
curl -s "$URL/api/tags" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["models"]: print(m["name"])' > "$T/names"
[ -s "$T/names" ] || fail "no models left"
grep -qx keep:latest "$T/names" || fail "an untouched model disappeared"
while read -r n; do
    curl -sf -o /dev/null "$URL/api/show" -d "{\"model\":\"$n\"}" || fail "show $n"
done < "$T/names"
for f in $(find "$T/models/manifests" -type f); do
    for dg in $(grep -o 'sha256:[0-9a-f]\{64\}' "$f"); do
        [ -f "$T/models/blobs/sha256-${dg#sha256:}" ] || fail "$f names a missing blob $dg"
    done
done
echo ok

#!/bin/bash
# Pull through a redirect to a "CDN" (nginx over the registry's storage, rate-limited), killed
# midway with SIGKILL: the -partial data and per-part records stay, and the second pull finishes
# without requesting again the parts that were complete.  Credentials never go to the CDN.
set -u
. tests/data/store/registry_lib.sh
chmod 755 "$W"                   # nginx workers run unprivileged
CDN_PORT=$(rand_port)
start_registry cdn "middleware:" "  storage:" "    - name: redirect" \
    "      options: {baseurl: \"http://localhost:$CDN_PORT/\"}"
start_nginx "$REGDIR_cdn/store" "$CDN_PORT" "limit_rate 8k;"
R=127.0.0.1:$REG_PORT_cdn
NAME=$R/library/stories:v1
hex=270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d
ACCESS=$W/nginx-$CDN_PORT/logs/access.log

export OLLAMA_MODELS=$W/a
"$B" registry import testdata/models/stories260K.gguf "$NAME" || fail import
"$B" registry push --insecure "$NAME" > /dev/null || fail push
chmod -R a+rX "$REGDIR_cdn"

# 40 kB parts at 8 kB/s each: 16 parts run at once, the second wave starts when they finish.
# Kill the pull (SIGKILL) as soon as one part record says complete.
export OLLAMA_MODELS=$W/b CORRAL_PULL_PART_SIZE=40000
"$B" registry pull --insecure "$NAME" > "$W/pull1.out" 2>&1 &
pid=$!
for _ in $(seq 300); do
    cat "$W"/b/blobs/sha256-$hex-partial-* 2>/dev/null |
        grep -o '"Size":[0-9]*,"Completed":[0-9]*' | awk -F'[:,]' '$2 == $4' | grep -q . && break
    sleep 0.1
done
kill -9 "$pid" || fail "the pull ended before it could be interrupted: $(tail -3 "$W/pull1.out")"
wait "$pid" 2>/dev/null
ls "$W/b/blobs/sha256-$hex-partial" > /dev/null || fail "no partial data after the kill"
nrec=$(ls "$W/b/blobs" | grep -c -- "-partial-") || true
[ "$nrec" -ge 16 ] || fail "expected part records, found $nrec"
done_parts=$(cat "$W"/b/blobs/sha256-$hex-partial-* | grep -o '"Size":[0-9]*,"Completed":[0-9]*' |
             awk -F'[:,]' '$2 == $4' | wc -l)
[ "$done_parts" -ge 1 ] || fail "no part was complete at the kill"
# the ranges of the parts that were complete must not be requested again
complete_ranges=$(for f in "$W"/b/blobs/sha256-$hex-partial-*; do
    sed -nE 's/.*"Offset":([0-9]+),"Size":([0-9]+),"Completed":([0-9]+).*/\1 \2 \3/p' "$f"; done |
    awk '$2 == $3 {print "bytes=" $1 "-" ($1 + $2 - 1)}')
lines_before=$(wc -l < "$ACCESS")

"$B" registry pull --insecure "$NAME" > "$W/pull2.out" || fail "resumed pull failed: $(cat "$W/pull2.out")"
tail -1 "$W/pull2.out" | grep -qx '{"status":"success"}' || fail "no success"
# the first progress line of the resumed pull already counts the completed bytes
grep -m1 "pulling ${hex:0:12}" "$W/pull2.out" | grep -q '"completed":[1-9]' || fail "resume did not start from the saved progress"
new=$(tail -n +$((lines_before + 1)) "$ACCESS")
for r in $complete_ranges; do
    echo "$new" | grep -q -- " $r " && fail "complete part $r downloaded again"
done
[ "sha256-$hex" = "sha256-$(sha256sum "$W/b/blobs/sha256-$hex" | cut -d' ' -f1)" ] || fail "bad blob"
ls "$W/b/blobs" | grep -q partial && fail "partial files left"
# no Authorization ever reached the CDN: nginx saw only plain GETs (a token test covers auth)
grep -q "GET /docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data 206" "$ACCESS" || fail "no ranged CDN GETs"

# two pulls of the same model into one store at once share the download: every range once
export OLLAMA_MODELS=$W/c CORRAL_PULL_PART_SIZE=100000
lines_before=$(wc -l < "$ACCESS")
"$B" registry pull --insecure "$NAME" > "$W/c1.out" 2>&1 &
p1=$!
"$B" registry pull --insecure "$NAME" > "$W/c2.out" 2>&1 &
p2=$!
wait "$p1" || fail "concurrent pull 1: $(cat "$W/c1.out")"
wait "$p2" || fail "concurrent pull 2: $(cat "$W/c2.out")"
new=$(tail -n +$((lines_before + 1)) "$ACCESS" | grep " 206 ")
[ "$(echo "$new" | awk '{print $4}' | sort | uniq -d)" = "" ] || fail "a range was fetched twice by concurrent pulls"
[ "$(echo "$new" | grep -c "$hex")" = 12 ] || fail "expected 12 parts, saw $(echo "$new" | grep -c "$hex")"
ls "$W/c/blobs" | grep -q partial && fail "partial files left after concurrent pulls"
# both show the shared download's progress, not only its end
for f in "$W/c1.out" "$W/c2.out"; do
    n=$(grep "pulling ${hex:0:12}" "$f" | grep '"completed":[1-9]' | grep -vc '"completed":1185376}')
    [ "$n" -ge 1 ] || fail "no intermediate progress in $f"
done
# the waiting pull reports about 10 times a second (it used to be twice), from the live size of
# the sparse data file as well as from the part records (rewritten about once a second); nginx's
# limit_rate sends in bursts, so the count of lines is what shows it, not distinct values
d1=$(grep -c "pulling ${hex:0:12}" "$W/c1.out") d2=$(grep -c "pulling ${hex:0:12}" "$W/c2.out")
[ "$d1" -ge 50 ] && [ "$d2" -ge 50 ] || fail "too few progress lines: $d1 and $d2"

# a manifest that declares a wrong size, served through the CDN: refused, nothing left
man=$(cat "$W/a/manifests/$R/library/stories/v1")
for d in $(echo "$man" | grep -o 'sha256:[0-9a-f]\{64\}'); do
    curl -sS -o /dev/null -X POST "http://$R/v2/library/badsize/blobs/uploads/?mount=$d&from=library/stories"
done
bad=$(echo "$man" | sed 's/"size":1185376/"size":1185476/')
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: application/vnd.docker.distribution.manifest.v2+json" \
    --data-binary "$bad" "http://$R/v2/library/badsize/manifests/big")
[ "$code" = 201 ] || fail "registry refused the wrong-size manifest ($code)"
export OLLAMA_MODELS=$W/d
out=$("$B" registry pull --insecure "$R/library/badsize:big" 2>&1 >/dev/null) && fail "wrong-size pull via the CDN succeeded"
echo "$out" | grep -q "does not match" || fail "wrong-size text: $out"
[ -z "$(ls "$W/d/blobs")" ] || fail "files left after a wrong-size pull: $(ls "$W/d/blobs")"

echo "resume: $done_parts parts were complete at the kill; $(echo "$new" | grep -c ' 206 ') ranged requests after; concurrent pulls showed $d1 and $d2 progress lines"

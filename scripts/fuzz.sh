#!/bin/bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for $1 seconds starting from
# its seed corpus in tests/fuzz/corpus/<name> (new inputs go to a temp dir: copy the useful ones
# into the corpus by hand).  With FUZZ_RUNS=N each target instead runs exactly N inputs from a
# fixed seed, which is repeatable for the same code: CI uses that, so a run that passed here
# passes there.  Fails if any target finds a crash or a leak.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-60}
make --no-print-directory BUILD=fuzz all >/dev/null
objs=$(find build/fuzz/src -name '*.o' ! -path '*/src/main.o')
rc=0
for f in tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c); corpus="tests/fuzz/corpus/${name#fuzz_}"
    mkdir -p "$corpus" build/fuzz/bin
    clang -std=c11 -D_GNU_SOURCE -O1 -g -Isrc -Itests -fsanitize=fuzzer,address,undefined \
        $(pkg-config --cflags jansson libpcre2-8) "$f" $objs -o "build/fuzz/bin/$name" \
        $(pkg-config --libs libcurl libcrypto jansson libmicrohttpd libpcre2-8 libseccomp libedit) -lpthread -lm
    work=$(mktemp -d)
    if [ -n "${FUZZ_RUNS:-}" ]; then echo "fuzz: $name ($FUZZ_RUNS runs, seed 1)"; else echo "fuzz: $name (${secs}s)"; fi
    if [ -n "${FUZZ_RUNS:-}" ]; then limit="-runs=$FUZZ_RUNS -seed=1"; else limit="-max_total_time=$secs"; fi
    if ! "build/fuzz/bin/$name" $limit -rss_limit_mb=2048 -artifact_prefix="$work/" \
        "$work" "$corpus" >"$work/log" 2>&1; then
        tail -30 "$work/log"; echo "fuzz: $name FAILED (artifacts in $work)"; rc=1
    else
        tail -1 "$work/log"
    fi
done
exit $rc

#!/bin/bash
# Runs the whole suite: unit tests, fuzz corpus replay, integration tests (tests/integration/*.sh).
# Each integration script is one test (exit 0 = pass, 77 = skipped with the reason as its last
# line); it gets CORRAL_BIN and a temp dir.
# Ends with the line "N passed, N failed".  Filter integration tests with IT=substring.
set -u
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build/release}
export CORRAL_BIN=${CORRAL_BIN:-bin/corral}
export CORRAL_BIN_ABS=$(readlink -f "$CORRAL_BIN")
export CORRAL_OPENAI_SDK_DIR=${CORRAL_OPENAI_SDK_DIR:-$HOME/.cache/corral-clients}
passed=0; failed=0; skipped=0
count() { # parses "unit: N passed, N failed"
    local line p f
    line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
}
out=$(mktemp)
if [ -z "${IT:-}" ]; then
    "$B/unit_tests" ${T:-} | tee "$out"; count "$out"
    if scripts/check-layers.sh >"$out" 2>&1; then
        echo "ok layers (scripts/check-layers.sh)"; passed=$((passed + 1))
    else
        cat "$out"; echo "not ok layers"; failed=$((failed + 1))
    fi
    if make --no-print-directory fmt-check >"$out" 2>&1; then
        echo "ok format (make fmt-check)"; passed=$((passed + 1))
    else
        head -20 "$out"; echo "not ok format (run make fmt)"; failed=$((failed + 1))
    fi
    for r in "$B"/replay/fuzz_*; do
        [ -x "$r" ] || continue
        name=$(basename "$r"); corpus="tests/fuzz/corpus/${name#fuzz_}"
        if "$r" "$corpus" >"$out" 2>&1; then
            echo "ok replay $name ($(tail -1 "$out"))"; passed=$((passed + 1))
        else
            cat "$out"; echo "not ok replay $name"; failed=$((failed + 1))
        fi
    done
fi
# LeakSanitizer stops the world with ptrace, which the sandboxed daemon, monitor and runners
# refuse by design: leaks are checked by the unit tests (and valgrind in the release run), memory
# errors in the integration tests still abort under ASan.
if [ -n "${CORRAL_SANITIZED:-}" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
fi
for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    [ -n "${IT:-}" ] && [[ "$t" != *"$IT"* ]] && continue
    tdir=$(mktemp -d /tmp/corral-it-XXXXXX)
    start=$(date +%s)
    rc=0
    TMPDIR_TEST="$tdir" timeout $((300 * ${TEST_TIMEOUT_MULT:-1})) bash "$t" >"$tdir/.log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "ok $(basename "$t") ($(( $(date +%s) - start ))s)"; passed=$((passed + 1))
    elif [ "$rc" -eq 77 ]; then # automake's "skipped": the script says why
        echo "skip $(basename "$t"): $(tail -1 "$tdir/.log")"; skipped=$((skipped + 1))
    else
        echo "not ok $(basename "$t")"; sed 's/^/    /' "$tdir/.log" | tail -40; failed=$((failed + 1))
    fi
    # integration scripts kill their own daemons; this is a safety net
    rm -rf "$tdir"
done
rm -f "$out"
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]

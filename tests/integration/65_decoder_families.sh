#!/bin/bash
# gemma3, gemma2 and phi3 models end to end: the tiny random-weight GGUFs of
# tests/unit/test_engine_arch.c (written by `unit_tests engine_arch_write`: $BUILD_DIR's or the one next to CORRAL_BIN),
# made into models with `corral create`: /api/show names the family (details and model_info) and
# the completion capability; /api/generate runs greedily on a real runner (the prompt's 5 tokens,
# 8 generated, stopped by length) with the same text twice; /api/chat answers.
set -eu
source tests/integration/serve_lib.bash
# make test passes BUILD_DIR (bin/corral's unit tests live in build/release); a private build
# (CORRAL_BIN=build/<dir>/corral) has them next to the binary
UT="$(dirname "$CORRAL_BIN_ABS")/unit_tests"
[ -n "${BUILD_DIR:-}" ] && [ -x "$BUILD_DIR/unit_tests" ] && UT="$(readlink -f "$BUILD_DIR/unit_tests")"
if [ ! -x "$UT" ]; then
    echo "needs unit_tests next to CORRAL_BIN ($UT) to write the models"
    exit 77
fi
serve_setup
mkdir -p "$TMPDIR_TEST/m"
ENG_ARCH_WRITE="$TMPDIR_TEST/m" "$UT" engine_arch_write >/dev/null || fail "writing the models"
serve_start
for pair in gemma3:synth-gemma3-swa8 gemma2:synth-gemma2-swa8 phi3:synth-phi3-longrope; do
    arch=${pair%%:*} file=${pair#*:}
    printf 'FROM %s\nPARAMETER temperature 0\n' "$TMPDIR_TEST/m/$file.gguf" >"$TMPDIR_TEST/Modelfile"
    "$CORRAL_BIN_ABS" create "mini-$arch" -f "$TMPDIR_TEST/Modelfile" >/dev/null 2>&1 ||
        fail "create $arch"
    code=$(post /api/show "{\"model\":\"mini-$arch\"}")
    [ "$code" = 200 ] || fail "show $arch: $code $(cat "$TMPDIR_TEST/r")"
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); a = sys.argv[2]
assert d["details"]["family"] == a and d["details"]["families"] == [a], d["details"]
assert d["model_info"]["general.architecture"] == a, d["model_info"]
assert "completion" in d["capabilities"], d["capabilities"]
' "$TMPDIR_TEST/r" "$arch" || fail "show $arch: $(head -c 600 "$TMPDIR_TEST/r")"
    body="{\"model\":\"mini-$arch\",\"prompt\":\"Once upon a time\",\"raw\":true,\"stream\":false,\"options\":{\"num_predict\":8,\"num_ctx\":512}}"
    code=$(post /api/generate "$body")
    [ "$code" = 200 ] || fail "generate $arch: $code $(cat "$TMPDIR_TEST/r")"
    cp "$TMPDIR_TEST/r" "$TMPDIR_TEST/r1"
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["done"] and d["done_reason"] == "length", d
assert d["prompt_eval_count"] == 5 and d["eval_count"] == 8, d
' "$TMPDIR_TEST/r" || fail "generate $arch: $(head -c 600 "$TMPDIR_TEST/r")"
    code=$(post /api/generate "$body")
    [ "$code" = 200 ] || fail "generate again $arch: $code"
    python3 -c '
import json, sys
a, b = (json.load(open(p))["response"] for p in sys.argv[1:3])
assert a == b, (a, b)
' "$TMPDIR_TEST/r1" "$TMPDIR_TEST/r" || fail "greedy $arch not repeatable"
    code=$(post /api/chat "{\"model\":\"mini-$arch\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false,\"options\":{\"num_predict\":4}}")
    [ "$code" = 200 ] || fail "chat $arch: $code $(cat "$TMPDIR_TEST/r")"
done
echo "decoder families ok"

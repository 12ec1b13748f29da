#!/bin/bash
# The engine under valgrind: load stories260K (and a Q4_K_M synth model), decode a batched
# prompt and generate with 2 threads through `corral bench`, and embed with two tiny encoders
# (`corral synth-enc`); any leak or invalid access fails.
# Bounded: a few seconds natively, well under 60 s under valgrind.
set -eu
if [ -n "${CORRAL_SANITIZED:-}" ]; then
    echo "valgrind cannot run an ASan binary; ASan+LSan check this build, the release suite runs valgrind"
    exit 77
fi
command -v valgrind >/dev/null || { echo "valgrind missing (scripts/deps.sh installs it)"; exit 1; }
cd "$(dirname "$0")/../.."
for m in stories260K.gguf synth-qwen2-d256-Q4_K_M.gguf; do
    timeout 120 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
        "$CORRAL_BIN_ABS" bench "tests/data/models/$m" -p 12 -n 24 -t 2 -r 1 --no-bw --all-threads \
        >"$TMPDIR_TEST/out.txt" 2>"$TMPDIR_TEST/vg.txt" || { cat "$TMPDIR_TEST/vg.txt"; exit 1; }
    grep -q '^RESULT ' "$TMPDIR_TEST/out.txt" || { cat "$TMPDIR_TEST/out.txt"; exit 1; }
done
# encoders (bert F16 with split q/k/v, nomic-bert Q8_0 with fused qkv): one 40-token pass each
"$CORRAL_BIN_ABS" synth-enc bert tests/data/vocab/ggml-vocab-bert-bge.gguf "$TMPDIR_TEST/b.gguf" --type f16
"$CORRAL_BIN_ABS" synth-enc nomic-bert tests/data/vocab/ggml-vocab-bert-bge.gguf "$TMPDIR_TEST/n.gguf" --type q8_0
for m in b n; do
    timeout 120 valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
        "$CORRAL_BIN_ABS" bench "$TMPDIR_TEST/$m.gguf" -p 40 -t 2 -r 1 --all-threads \
        >"$TMPDIR_TEST/out.txt" 2>"$TMPDIR_TEST/vg.txt" || { cat "$TMPDIR_TEST/vg.txt"; exit 1; }
    grep -q '^RESULT .*embed_tps' "$TMPDIR_TEST/out.txt" || { cat "$TMPDIR_TEST/out.txt"; exit 1; }
done
echo "valgrind clean"

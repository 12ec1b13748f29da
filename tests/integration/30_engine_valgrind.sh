#!/bin/bash
# The engine under valgrind: load stories260K (and a Q4_K_M synth model), decode a batched
# prompt and generate with 2 threads through `corral bench`; any leak or invalid access fails.
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
echo "valgrind clean"

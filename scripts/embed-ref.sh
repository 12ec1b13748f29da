#!/bin/bash
# Regenerates tests/data/reference/embed/llama.cpp-embed{,-fa}.jsonl: llama.cpp's embeddings of
# the synthetic encoder models that `corral synth-enc` writes (models.txt: bert with mean/cls/last
# pooling, F16 and Q8_0 bert, nomic-bert) for the texts in texts.txt, once with flash attention
# off (the exact reference) and once with llama.cpp's default (auto: on for CPU, F16 accumulation).
# Needs ../shared/tools/llama-ref set up (. ~/.cache/llama-ref/env.sh) and a built corral:
#   CORRAL_BIN=build/release/corral scripts/embed-ref.sh
set -eu
cd "$(dirname "$0")/.."
: "${LLAMA_REF_HOME:?source ~/.cache/llama-ref/env.sh first}"
BIN=${CORRAL_BIN:-bin/corral}
VOCAB=tests/data/vocab/ggml-vocab-bert-bge.gguf
DIR=tests/data/reference/embed
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c11 -I"$LLAMA_REF_HOME/llama.cpp/include" -I"$LLAMA_REF_HOME/llama.cpp/ggml/include" \
    scripts/embed-ref.c -L"$LLAMA_REF_LIBDIR" -l:libllama.v0.4.0.so -l:libggml.v0.4.0.so \
    -l:libggml-base.so -Wl,-rpath,"$LLAMA_REF_LIBDIR" -lm -o "$tmp/embed-ref"
out="$DIR/llama.cpp-embed.jsonl" out_fa="$DIR/llama.cpp-embed-fa.jsonl"
: >"$out"
: >"$out_fa"
# name arch synth-enc options (the unit test makes the same files with the same options)
while read -r name arch opts; do
    # shellcheck disable=SC2086
    "$BIN" synth-enc "$arch" "$VOCAB" "$tmp/$name.gguf" $opts
    NO_FA=1 "$tmp/embed-ref" "$tmp/$name.gguf" "$name" <"$DIR/texts.txt" >>"$out"
    "$tmp/embed-ref" "$tmp/$name.gguf" "$name" <"$DIR/texts.txt" >>"$out_fa"
done <"$DIR/models.txt"
wc -c "$out" "$out_fa"

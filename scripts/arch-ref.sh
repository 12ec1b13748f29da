#!/bin/bash
# arch-ref.sh BUILD_DIR - regenerates tests/data/reference/llama.cpp-arch.jsonl: writes the tiny
# gemma3/gemma2/phi3 models of tests/unit/test_engine_arch.c (unit_tests engine_arch_write with
# ENG_ARCH_WRITE) to a temp dir and runs llama.cpp's C harness on each (llama_ref, from
# ../shared/tools/llama-ref: `. ~/.cache/llama-ref/env.sh` first).  phi3 runs at n_ctx 512 (short
# LongRoPE factors) and 2048 (long).  Prints the JSON lines on stdout.
set -euo pipefail
B=${1:-build/release}
command -v llama_ref >/dev/null || { echo "arch-ref: llama_ref not on PATH (source ~/.cache/llama-ref/env.sh)" >&2; exit 1; }
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
ENG_ARCH_WRITE="$D" "$B/unit_tests" engine_arch_write | grep '\.gguf ' >"$D/hashes"
run() { # file ctx hash
    llama_ref gen "$D/$1" "Once upon a time" 32 1 --logits 5 --ctx "$2" 2>/dev/null |
        python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
r = {"model": sys.argv[1], "ctx": int(sys.argv[2]), "gguf_fnv64": sys.argv[3], "harness": "c",
     "threads": 1, "prompt": "Once upon a time", "n_predict": 32}
for k in ("prompt_tokens", "tokens", "top_logits", "llama_version"):
    r[k] = o[k]
print(json.dumps(r, separators=(",", ":")))' "$1" "$2" "$3"
}
while read -r path hash; do
    n=$(basename "$path")
    run "$n" 512 "$hash"
    case $n in *phi3*) run "$n" 2048 "$hash" ;; esac
done <"$D/hashes"

#!/bin/bash
# scripts/bench.sh - `make bench`: corral's engine next to llama.cpp on random-weight models of
# real shapes (TinyLlama-1.1B, Qwen2.5-0.5B), same file, same threads, back to back.
#
# Models are made once into bench/models/ (git-ignored) with the shared tools:
# tools/synth/make_synth_big.mjs (F16, node) then `llama_ref quant` (llama.cpp's quantizer).
# Needs: node, the llama-ref cache (../shared/tools/llama-ref/setup.sh; LLAMA_REF_HOME), about
# 7 GB of free disk for the models.  Prints one line per model and thread count with both
# engines' prompt and generation tok/s (best of BENCH_REPS runs each, the engines alternating), the ratios
# corral/llama.cpp, and the fraction of the memory bandwidth corral's generation achieved (corral
# bench: the median of 7 rounds of 16 tokens, each against bandwidth passes just before and after
# it).
#
# Environment: BENCH_MODELS (default below), BENCH_THREADS ("1 2"), BENCH_GEN (64), BENCH_REPS (3),
# CORRAL_BIN (bin/corral), SHARED (../shared).
set -eu
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(readlink -f ../shared)}
BIN=${CORRAL_BIN:-bin/corral}
OUT=bench/models
MODELS=${BENCH_MODELS:-"tinyllama-1.1b:Q4_K_M tinyllama-1.1b:Q8_0 tinyllama-1.1b:Q4_0 qwen2.5-0.5b:Q4_K_M qwen2.5-0.5b:Q8_0"}
THREADS=${BENCH_THREADS:-"1 2"}
NGEN=${BENCH_GEN:-64}
REPS=${BENCH_REPS:-3}
NEED_GB=7

die() { echo "bench: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "$BIN missing: run make first"
H=${LLAMA_REF_HOME:-$HOME/.cache/llama-ref}
[ -f "$H/env.sh" ] || die "llama-ref is not set up: run $SHARED/tools/llama-ref/setup.sh (needs npm)"
# shellcheck disable=SC1091
. "$H/env.sh"
command -v llama_ref >/dev/null || die "llama_ref not found after sourcing $H/env.sh"
command -v node >/dev/null || die "node missing (needed to write the synthetic models)"
mkdir -p "$OUT"

make_model() { # preset type -> path (creates it when missing)
    local preset=$1 type=$2 f16="$OUT/synth-$1-F16.gguf" q="$OUT/synth-$1-$2.gguf"
    [ -s "$q" ] && { echo "$q"; return; }
    local avail_gb
    avail_gb=$(df -Pk "$OUT" | awk 'NR==2 {print int($4 / 1048576)}')
    if [ "$avail_gb" -lt "$NEED_GB" ]; then
        die "only ${avail_gb} GB free under $OUT; making the benchmark models needs about ${NEED_GB} GB"
    fi
    if [ ! -s "$f16" ]; then
        echo "bench: writing $f16 (random weights, real shape)" >&2
        local abs
        abs="$(pwd)/$f16"
        (cd "$SHARED" && node tools/synth/make_synth_big.mjs "$preset" "$abs") >&2 \
            || die "make_synth_big.mjs failed"
    fi
    echo "bench: quantizing $q" >&2
    llama_ref quant "$f16" "$q" "$type" >/dev/null 2>&1 || die "llama_ref quant $type failed"
    echo "$q"
}

jnum() { # key json -> number
    echo "$2" | grep -o "\"$1\":[0-9.eE+-]*" | head -1 | cut -d: -f2
}
rnum() { # key RESULT-line -> number
    echo "$2" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2
}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

P="Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
PROMPT="$P $P $P $P $P $P"

loadavg() { cut -d' ' -f1 /proc/loadavg; }
echo "corral bench vs llama.cpp v0.4.0 (llama_ref), $NGEN generated tokens; $(date -u +%FT%TZ); load average $(loadavg)"
printf '%-34s %2s | %9s %9s %5s | %8s %8s %5s | %6s %5s\n' model T "pp corral" "pp llama" ratio \
    "tg corr" "tg llama" ratio "GB/s" "bw%"
for spec in $MODELS; do
    m=$(make_model "${spec%%:*}" "${spec##*:}")
    for t in $THREADS; do
        # both engines REPS times, alternating (llama, corral, llama, ...), best of each figure: the
        # host's bandwidth drifts by tens of percent within minutes, and alternating spreads a
        # slow spell over both; corral's last run also measures the bandwidth fraction
        lpp=0; ltg=0; cpp=0; ctg=0; res=
        for rep in $(seq "$REPS"); do
            ref=$(llama_ref gen "$m" "$PROMPT" "$NGEN" "$t" 2>/dev/null | grep -o '"perf":{[^}]*}') \
                || die "llama_ref gen failed on $m"
            lpp=$(best "$lpp" "$(jnum prompt_tps "$ref")")
            ltg=$(best "$ltg" "$(jnum gen_tps "$ref")")
            npp=$(jnum n_p_eval "$ref")
            nobw=--no-bw
            [ "$rep" = "$REPS" ] && nobw=
            res=$("$BIN" bench "$m" -p "$npp" -n "$NGEN" -t "$t" -r 1 $nobw | grep '^RESULT') \
                || die "corral bench failed on $m"
            cpp=$(best "$cpp" "$(rnum pp_tps "$res")")
            ctg=$(best "$ctg" "$(rnum tg_tps "$res")")
        done
        bw=$(rnum bw_gbs "$res"); fr=$(rnum bw_frac "$res")
        printf '%-34s %2s | %9.1f %9.1f %5s | %8.2f %8.2f %5s | %6.1f %4.0f%%\n' \
            "$(basename "$m" .gguf)" "$t" "$cpp" "$lpp" "$(ratio "$cpp" "$lpp")" "$ctg" "$ltg" \
            "$(ratio "$ctg" "$ltg")" "$bw" "$(awk -v f="$fr" 'BEGIN{print f*100}')"
    done
done
echo "load average at the end: $(loadavg) (other work on the same vCPUs slows both engines)"

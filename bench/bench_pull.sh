#!/bin/bash
# bench_pull.sh - pull throughput of a 1 GiB layer from Debian's docker-registry on loopback,
# through the daemon (`corral pull` -> POST /api/pull), with 1 part and with 16 parts, and the
# daemon's peak RSS (VmHWM) after each pull, to show the download is streamed to disk and never
# buffered whole.  Not a test: it needs ~3.5 GiB of free disk and prints figures.
#
#   bench/bench_pull.sh [path/to/corral]        (default build/release/corral)
#   BENCH_PULL_MIB=1024 sets the layer size in MiB.
set -u
BIN=$(readlink -f "${1:-build/release/corral}")
MIB=${BENCH_PULL_MIB:-1024}
[ -x "$BIN" ] || { echo "bench_pull: no binary at $BIN (make first)" >&2; exit 1; }
for t in /usr/bin/docker-registry curl; do
    command -v "$t" > /dev/null || { echo "bench_pull: $t missing (scripts/deps.sh)" >&2; exit 1; }
done
W=$(mktemp -d "${TMPDIR:-/tmp}/bench_pull.XXXXXX")
# the registry copy, the source store and two pulled stores hold the layer: 4 copies + slack
need_kib=$(( (MIB * 4 + 256) * 1024 ))
avail_kib=$(df -Pk "$W" | awk 'NR == 2 {print $4}')
if [ "$avail_kib" -lt "$need_kib" ]; then
    echo "bench_pull: SKIPPED - not enough free disk in $W: $((avail_kib / 1024)) MiB free," \
         "$((need_kib / 1024)) MiB needed (4 copies of a $MIB MiB layer)" >&2
    rmdir "$W"
    exit 2
fi
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
rand_port() { echo $((20000 + RANDOM % 12000)); }
wait_http() {
    for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "bench_pull: server at $1 did not start" >&2; exit 1
}
now() { date +%s.%N; }

RPORT=$(rand_port)
mkdir -p "$W/reg"
cat > "$W/reg.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $W/reg}
http: {addr: 127.0.0.1:$RPORT, secret: corral-bench}
health: {storagedriver: {enabled: false}}
EOF
/usr/bin/docker-registry serve "$W/reg.yml" > "$W/reg.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$RPORT/v2/"
NAME=127.0.0.1:$RPORT/bench/big:v1

# a GGUF magic + version, then random bytes: the store does not parse layers on import
{ printf 'GGUF\003\000\000\000'; head -c $((MIB * 1024 * 1024 - 8)) /dev/urandom; } > "$W/layer.gguf"
export OLLAMA_MODELS=$W/src
"$BIN" registry import "$W/layer.gguf" "$NAME" > /dev/null || { echo "bench_pull: import failed" >&2; exit 1; }
rm -f "$W/layer.gguf"
t0=$(now)
"$BIN" registry push --insecure "$NAME" > /dev/null || { echo "bench_pull: push failed" >&2; exit 1; }
t1=$(now)
rm -rf "$W/src"
bytes=$((MIB * 1024 * 1024))
echo "layer: $MIB MiB random; push (daemon-less, 64 MiB PATCH chunks): $(echo "$bytes / ($t1 - $t0) / 1000000" | bc -l | xargs printf '%.0f') MB/s"

# one pull through a fresh daemon; prints MB/s and the daemon's VmHWM
pull_once() { # label part_size
    local label=$1 psize=$2 port pid t0 t1 hwm
    port=$(rand_port)
    rm -rf "$W/dst"
    OLLAMA_MODELS=$W/dst OLLAMA_HOST=127.0.0.1:$port OLLAMA_NOPRUNE=1 CORRAL_SANDBOX=off \
        CORRAL_PULL_PART_SIZE=$psize "$BIN" serve > "$W/serve-$label.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    wait_http "http://127.0.0.1:$port/api/version"
    t0=$(now)
    OLLAMA_HOST=127.0.0.1:$port "$BIN" pull --insecure "$NAME" > "$W/pull-$label.out" 2>&1 ||
        { echo "bench_pull: pull ($label) failed: $(tail -3 "$W/pull-$label.out")" >&2; exit 1; }
    t1=$(now)
    # the server process is the daemon's child when a monitor runs; take the largest HWM
    hwm=0
    for p in $pid $(pgrep -P "$pid"); do
        h=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        [ "${h:-0}" -gt "$hwm" ] && hwm=$h
    done
    kill "$pid"; wait "$pid" 2>/dev/null
    printf '%-9s part size %10s B: %6.0f MB/s  (%.2f s), daemon peak RSS (VmHWM) %d MiB\n' \
        "$label" "$psize" "$(echo "$bytes / ($t1 - $t0) / 1000000" | bc -l)" \
        "$(echo "$t1 - $t0" | bc -l)" $((hwm / 1024))
    rm -rf "$W/dst"
}
pull_once 1-part $((bytes + 1))
pull_once 16-parts $((bytes / 16))

# serve_lib.bash - helpers for the serving integration tests (sourced, not a test itself):
# install a GGUF into a temporary store as an Ollama manifest, start the daemon on a random
# loopback port with that store, wait for it, and stop it on exit.
# Needs: CORRAL_BIN_ABS, TMPDIR_TEST.  Sets: PORT, BASE, DAEMON_PID, OLLAMA_MODELS, OLLAMA_HOST.

serve_blob() { # serve_blob FILE -> prints "sha256:<hex> <size>", copies into the store
    local f=$1 hex size
    hex=$(sha256sum "$f" | cut -d' ' -f1); size=$(stat -c %s "$f")
    mkdir -p "$OLLAMA_MODELS/blobs"
    cp "$f" "$OLLAMA_MODELS/blobs/sha256-$hex"
    echo "sha256:$hex $size"
}

# serve_install NAME GGUF [TEMPLATE_TEXT [PARAMS_JSON [SYSTEM]]]: writes blobs + manifest.
serve_install() {
    local name=$1 gguf=$2 tmpl=${3:-} params=${4:-} system=${5:-} layers m t p s cfg d
    local dir="$OLLAMA_MODELS/manifests/registry.ollama.ai/library/$name"
    read -r d m < <(serve_blob "$gguf")
    layers="{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"$d\",\"size\":$m}"
    if [ -n "$tmpl" ]; then
        printf '%s' "$tmpl" >"$TMPDIR_TEST/.tmpl"; read -r d m < <(serve_blob "$TMPDIR_TEST/.tmpl")
        layers="$layers,{\"mediaType\":\"application/vnd.ollama.image.template\",\"digest\":\"$d\",\"size\":$m}"
    fi
    if [ -n "$system" ]; then
        printf '%s' "$system" >"$TMPDIR_TEST/.sys"; read -r d m < <(serve_blob "$TMPDIR_TEST/.sys")
        layers="$layers,{\"mediaType\":\"application/vnd.ollama.image.system\",\"digest\":\"$d\",\"size\":$m}"
    fi
    if [ -n "$params" ]; then
        printf '%s' "$params" >"$TMPDIR_TEST/.params"; read -r d m < <(serve_blob "$TMPDIR_TEST/.params")
        layers="$layers,{\"mediaType\":\"application/vnd.ollama.image.params\",\"digest\":\"$d\",\"size\":$m}"
    fi
    printf '{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"292K","file_type":"F16","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$TMPDIR_TEST/.cfg"
    read -r d m < <(serve_blob "$TMPDIR_TEST/.cfg")
    mkdir -p "$dir"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
        "$d" "$m" "$layers" >"$dir/latest"
}

serve_start() { # serve_start [ENV=VAL ...]: starts the daemon with extra environment
    local i
    PORT=$(( 20000 + RANDOM % 12000 ))
    export OLLAMA_HOST="127.0.0.1:$PORT"
    BASE="http://127.0.0.1:$PORT"
    env "$@" OLLAMA_NOPRUNE=1 "$CORRAL_BIN_ABS" serve >"$TMPDIR_TEST/daemon.log" 2>&1 &
    DAEMON_PID=$!
    for i in $(seq 1 100); do
        curl -sf "$BASE/" >/dev/null 2>&1 && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "daemon did not start:"; cat "$TMPDIR_TEST/daemon.log"; return 1
}

serve_stop() {
    [ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
}

serve_setup() { # common start: temp store with the tiny model as "stories"
    export OLLAMA_MODELS="$TMPDIR_TEST/models"
    mkdir -p "$OLLAMA_MODELS"
    trap 'serve_stop' EXIT
    MODEL_GGUF=${MODEL_GGUF:-tests/data/models/stories260K-F16.gguf}
    serve_install stories "$MODEL_GGUF" "" '{"temperature":0}'
}

fail() { echo "FAIL: $*"; [ -f "$TMPDIR_TEST/daemon.log" ] && tail -20 "$TMPDIR_TEST/daemon.log"; exit 1; }
jget() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval("d"+sys.argv[1]))' "$1"; }
# post PATH BODY: POSTs BODY to the daemon, the answer's body in $TMPDIR_TEST/r, prints the status
# (scripts that send headers define their own post after sourcing this file).
post() { curl -s --max-time 60 -o "$TMPDIR_TEST/r" -w '%{http_code}' "$BASE$1" -d "$2"; }
# py CODE [ARGS...]: runs python CODE with argv = ($TMPDIR_TEST/r, ARGS...), e.g. to check post's body
py() { python3 -c "$1" "$TMPDIR_TEST/r" "${@:2}"; }

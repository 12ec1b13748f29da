# registry_lib.sh - helpers sourced by the registry integration tests (tests/integration/*registry*).
# Starts Debian's docker-registry (and nginx as a "CDN") on random loopback ports in $TMPDIR_TEST,
# records their PIDs and kills them on exit.  Needs: docker-registry, nginx-light, curl.
W=${TMPDIR_TEST:?}
B=${CORRAL_BIN_ABS:?}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
rand_port() { echo $((20000 + RANDOM % 12000)); }
wait_http() { # url
    for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
    fail "server at $1 did not start"
}
# start_registry NAME [extra yaml lines...]; sets REG_PORT_<NAME> and REGDIR_<NAME>
start_registry() {
    local name=$1; shift
    local dir=$W/reg-$name port
    mkdir -p "$dir/store"
    port=$(rand_port)
    {
        echo "version: 0.1"
        echo "log: {level: ${REG_LOG_LEVEL:-warn}}"
        echo "storage:"
        echo "  filesystem: {rootdirectory: $dir/store}"
        echo "  delete: {enabled: true}"
        echo "http: {addr: 127.0.0.1:$port, secret: corral-test}"
        echo "health: {storagedriver: {enabled: false}}"
        for l in "$@"; do echo "$l"; done
    } > "$dir/config.yml"
    /usr/bin/docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$port/v2/"
    eval "REG_PORT_$name=$port; REGDIR_$name=$dir"
}
# start_nginx ROOT PORT [extra server-block lines]
start_nginx() {
    local root=$1 port=$2 extra=${3:-} d=$W/nginx-$2
    mkdir -p "$d/logs"
    cat > "$d/nginx.conf" <<NGX
daemon off; worker_processes 1; pid $d/nginx.pid; error_log $d/logs/error.log;
events { worker_connections 256; }
http {
  log_format r '\$request_method \$uri \$status \$http_range \$bytes_sent auth=\$http_authorization';
  access_log $d/logs/access.log r;
  client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fcgi;
  uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  server { listen 127.0.0.1:$port; root $root; default_type application/octet-stream; $extra }
}
NGX
    /usr/sbin/nginx -c "$d/nginx.conf" -p "$d" > "$d/out.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$port/"
}
# mint_token DIR REPO: a self-signed issuer cert (DIR/tok.crt) and a static RS256 JWT granting
# pull+push on REPO, written as the realm's JSON answer to DIR/token.json
mint_token() {
    local d=$1 repo=$2 now x5c hdr cl sig
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/tok.key" -out "$d/tok.crt" -days 2 \
        -subj /CN=corral-test-issuer 2>/dev/null || fail "openssl req"
    b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
    now=$(date +%s)
    x5c=$(openssl x509 -in "$d/tok.crt" -outform DER | openssl base64 -A)
    hdr=$(printf '{"alg":"RS256","typ":"JWT","x5c":["%s"]}' "$x5c" | b64url)
    cl=$(printf '{"iss":"corral-issuer","sub":"tester","aud":"corral-registry","exp":%d,"nbf":%d,"iat":%d,"jti":"%s","access":[{"type":"repository","name":"%s","actions":["pull","push"]}]}' \
        $((now + 86400)) $((now - 60)) "$now" "$RANDOM$RANDOM" "$repo" | b64url)
    sig=$(printf '%s.%s' "$hdr" "$cl" | openssl dgst -sha256 -sign "$d/tok.key" | b64url)
    printf '{"token":"%s","expires_in":86400}\n' "$hdr.$cl.$sig" > "$d/token.json"
}
# sha256 of every blob in a store (sorted)
blob_digests() { (cd "$1/blobs" && ls | sort); }

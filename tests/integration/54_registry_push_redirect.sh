#!/bin/bash
# Push through a registry that redirects upload PATCHes to storage on another host, as
# registry.ollama.ai does (Ollama's X-Redirect-Uploads: a 307 to a presigned URL, the bytes PUT
# there, the upload continuing at the 307's Docker-Upload-Location).  A small Python front proxy
# sits before Docker Distribution (htpasswd auth): it answers each PATCH with a 307 to a "storage"
# server on another port, which hands the bytes on to the registry itself.  Checks: the push
# succeeds, every uploaded blob went through the redirect, the storage host never saw the
# registry's credentials (which the front did get), and a pull gives the same blobs back.
set -u
. tests/data/store/registry_lib.sh
export HOME=$W/home
mkdir -p "$HOME/.ollama"
cp tests/data/store/htpasswd "$W/htpasswd"
start_registry main "auth: {htpasswd: {realm: basic-realm, path: $W/htpasswd}}"
FRONT_PORT=$(rand_port)
STORE_PORT=$(rand_port)
cat > "$W/front.py" <<'PY'
import http.client, http.server, itertools, sys, threading, urllib.parse
reg_port, front_port, store_port, logpath, reg_basic = (int(sys.argv[1]), int(sys.argv[2]),
    int(sys.argv[3]), sys.argv[4], sys.argv[5])
pending, lock, counter = {}, threading.Lock(), itertools.count(1)
logf = open(logpath, "a", buffering=1)
HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}

def log(*a):
    with lock:
        logf.write(" ".join(str(x) for x in a) + "\n")

def forward(method, path, headers, body, host):
    c = http.client.HTTPConnection("127.0.0.1", reg_port, timeout=120)
    h = {k: v for k, v in headers.items() if k.lower() not in HOP}
    h["Host"] = host
    if body is not None:
        h["Content-Length"] = str(len(body))
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.getheaders(), r.read()

class Base(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""
    def reply(self, status, headers, data):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP or (self.command == "HEAD" and k.lower() == "content-length"):
                self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

class Front(Base):
    def handle_any(self):
        data, path = self.body(), self.path
        auth = (self.headers.get("Authorization") or "none").split(" ")[0]
        if path.startswith("/next/"):
            tok, _, q = path[len("/next/"):].partition("?")
            with lock:
                nxt = pending.get(tok, {}).get("next")
            if not nxt:
                return self.reply(500, [], b"upload location not ready")
            u = urllib.parse.urlsplit(nxt)
            path = u.path + "?" + u.query + ("&" + q if q else "")
        if self.command == "PATCH" and self.headers.get("X-Redirect-Uploads") == "1":
            tok = str(next(counter))
            with lock:
                pending[tok] = {"path": path, "crange": self.headers.get("Content-Range"), "next": None}
            log("front PATCH redirected", tok, "auth=" + auth)
            return self.reply(307, [("Location", "http://127.0.0.1:%d/put/%s" % (store_port, tok)),
                                    ("Docker-Upload-Location", "/next/" + tok)], b"")
        if self.command == "PATCH":
            log("front PATCH not redirected")
        status, hdrs, out = forward(self.command, path, self.headers,
                                    data if self.command in ("PUT", "POST", "PATCH") else None,
                                    self.headers.get("Host"))
        self.reply(status, hdrs, out)
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

class Storage(Base):
    def do_PUT(self):
        data = self.body()
        tok = self.path[len("/put/"):]
        log("storage PUT", tok, "len=%d" % len(data),
            "auth=" + (self.headers.get("Authorization") or "none").split(" ")[0])
        with lock:
            p = pending.get(tok)
        if not p:
            return self.reply(404, [], b"no such upload")
        h = {"Content-Type": "application/octet-stream", "Authorization": "Basic " + reg_basic}
        if p["crange"]:
            h["Content-Range"] = p["crange"]
        status, hdrs, out = forward("PATCH", p["path"], h, data, "127.0.0.1:%d" % front_port)
        loc = dict((k.lower(), v) for k, v in hdrs).get("location")
        if status != 202 or not loc:
            return self.reply(502, [], b"registry said %d: " % status + out)
        with lock:
            p["next"] = loc
        self.reply(200, [], b"")

def serve(port, cls):
    http.server.ThreadingHTTPServer(("127.0.0.1", port), cls).serve_forever()

threading.Thread(target=serve, args=(store_port, Storage), daemon=True).start()
serve(front_port, Front)
PY
python3 "$W/front.py" "$REG_PORT_main" "$FRONT_PORT" "$STORE_PORT" "$W/front.log" \
    "$(printf 'tester:s3cret' | base64)" 2> "$W/front.err" &
PIDS+=($!)
wait_http "http://127.0.0.1:$FRONT_PORT/v2/"
R=127.0.0.1:$FRONT_PORT
NAME=$R/library/stories:v1
printf '{"auths":{"http://%s":{"username":"tester","password":"s3cret"}}}' "$R" > "$HOME/.ollama/registry-auth.json"

export OLLAMA_MODELS=$W/a
"$B" registry import testdata/models/stories260K.gguf "$NAME" || fail import
"$B" registry push --insecure "$NAME" > "$W/push.out" 2> "$W/push.err" ||
    fail "push through upload redirects: $(cat "$W/push.err") / $(cat "$W/front.err")"
tail -1 "$W/push.out" | grep -qx '{"status":"success"}' || fail "push did not end in success"
grep -q '"status":"pushing 270cba1bd510","digest":"sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d","total":1185376,"completed":1185376' "$W/push.out" ||
    fail "no complete progress line for the layer"
# model layer + config: two redirected PATCHes, two PUTs to storage with the bytes, no credentials
[ "$(grep -c '^front PATCH redirected' "$W/front.log")" = 2 ] || fail "expected 2 redirected PATCHes: $(cat "$W/front.log")"
grep -q '^front PATCH not redirected' "$W/front.log" && fail "a PATCH went without X-Redirect-Uploads"
grep -q '^front PATCH redirected .* auth=Basic' "$W/front.log" || fail "the registry never got credentials (test is vacuous)"
[ "$(grep -c '^storage PUT .* auth=none$' "$W/front.log")" = 2 ] || fail "storage PUTs: $(grep storage "$W/front.log")"
grep -q '^storage PUT .* len=1185376 ' "$W/front.log" || fail "the layer's bytes did not go to storage"
grep '^storage PUT' "$W/front.log" | grep -qv 'auth=none' && fail "credentials sent to the storage host"

# pull back into an empty store: the same blobs
export OLLAMA_MODELS=$W/b
"$B" registry pull --insecure "$NAME" > "$W/pull.out" 2>&1 || fail "pull: $(cat "$W/pull.out")"
[ "$(blob_digests "$W/a")" = "$(blob_digests "$W/b")" ] || fail "blob sets differ"
cmp "$W/a/manifests/$R/library/stories/v1" "$W/b/manifests/$R/library/stories/v1" || fail "manifest differs"
echo "push through upload redirects: ok ($(grep -c '^storage PUT' "$W/front.log") blobs via storage)"

#!/bin/bash
# Registry authentication against Docker Distribution on loopback:
#  - Basic (htpasswd) with credentials from ~/.ollama/registry-auth.json (Docker `auths` format):
#    push and pull work, blob GETs redirected to a CDN on another host carry no credentials;
#    without the file or with a wrong password: "unauthorized";
#  - bearer token challenge with the realm on the registry's host name (other port): works;
#  - a realm on another host name is refused before any token request is made.
set -u
. tests/data/store/registry_lib.sh
chmod 755 "$W"
export HOME=$W/home
mkdir -p "$HOME/.ollama"
cp tests/data/store/htpasswd "$W/htpasswd"

# ---- Basic auth + redirect to a CDN ----
CDN_PORT=$(rand_port)
start_registry basic "auth: {htpasswd: {realm: basic-realm, path: $W/htpasswd}}" \
    "middleware:" "  storage:" "    - name: redirect" \
    "      options: {baseurl: \"http://localhost:$CDN_PORT/\"}"
start_nginx "$REGDIR_basic/store" "$CDN_PORT"
R=127.0.0.1:$REG_PORT_basic
NAME=$R/library/private:1b
export OLLAMA_MODELS=$W/a
"$B" registry import testdata/models/stories260K.gguf "$NAME" || fail import
out=$("$B" registry push --insecure "$NAME" 2>&1 >/dev/null) && fail "push without credentials worked"
echo "$out" | grep -q 'unauthorized' || fail "no-credentials text: $out"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf 'tester:wrong' | base64)" > "$HOME/.ollama/registry-auth.json"
"$B" registry push --insecure "$NAME" > /dev/null 2>&1 && fail "push with a wrong password worked"
printf '{"auths":{"http://%s":{"username":"tester","password":"s3cret"}}}' "$R" > "$HOME/.ollama/registry-auth.json"
"$B" registry push --insecure "$NAME" > "$W/push.out" 2>&1 || fail "basic push: $(cat "$W/push.out")"
chmod -R a+rX "$REGDIR_basic"
export OLLAMA_MODELS=$W/b
CORRAL_PULL_PART_SIZE=200000 "$B" registry pull --insecure "$NAME" > "$W/pull.out" 2>&1 || fail "basic pull: $(cat "$W/pull.out")"
[ "$(blob_digests "$W/a")" = "$(blob_digests "$W/b")" ] || fail "blobs differ after the basic-auth pull"
ACCESS=$W/nginx-$CDN_PORT/logs/access.log
grep -q ' 206 ' "$ACCESS" || fail "the pull did not go through the CDN"
grep -v 'auth=-$' "$ACCESS" && fail "credentials were sent to the CDN"

# ---- bearer token, realm on the same host name, another port ----
TOK_PORT=$(rand_port)
mkdir -p "$W/tok"
mint_token "$W/tok" library/tok
start_nginx "$W/tok" "$TOK_PORT" "location = /token { default_type application/json; alias $W/tok/token.json; }"
start_registry tok "auth:" "  token: {realm: \"http://127.0.0.1:$TOK_PORT/token\", service: corral-registry, issuer: corral-issuer, rootcertbundle: $W/tok/tok.crt}"
R=127.0.0.1:$REG_PORT_tok
export OLLAMA_MODELS=$W/c
"$B" registry import testdata/models/stories260K.gguf "$R/library/tok:v1" || fail import
"$B" registry push --insecure "$R/library/tok:v1" > "$W/tpush.out" 2>&1 || fail "token push: $(cat "$W/tpush.out")"
export OLLAMA_MODELS=$W/d
"$B" registry pull --insecure "$R/library/tok:v1" > "$W/tpull.out" 2>&1 || fail "token pull: $(cat "$W/tpull.out")"
[ "$(blob_digests "$W/c")" = "$(blob_digests "$W/d")" ] || fail "blobs differ after the token pull"
TACCESS=$W/nginx-$TOK_PORT/logs/access.log
grep -q 'GET /token 200' "$TACCESS" || fail "no token request seen"
# the token request is signed as Ollama signs it, with a key created on first use
[ -f "$HOME/.ollama/id_ed25519" ] && grep -q '^ssh-ed25519 ' "$HOME/.ollama/id_ed25519.pub" || fail "no identity key created"
pubblob=$(cut -d' ' -f2 "$HOME/.ollama/id_ed25519.pub")
grep 'GET /token 200' "$TACCESS" | grep -q "auth=$pubblob:[A-Za-z0-9+/=]\{88\}$" || fail "token request not signed: $(grep /token "$TACCESS" | head -1)"
# a repository the token does not grant: unauthorized
out=$("$B" registry pull --insecure "$R/library/other:v1" 2>&1) && fail "pull of an ungranted repo worked"
echo "$out" | grep -q 'unauthorized' || fail "ungranted text: $out"

# ---- a realm on another host name is refused ----
start_registry evil "auth:" "  token: {realm: \"http://localhost:$TOK_PORT/token\", service: corral-registry, issuer: corral-issuer, rootcertbundle: $W/tok/tok.crt}"
before=$(wc -l < "$TACCESS")
out=$("$B" registry pull --insecure "127.0.0.1:$REG_PORT_evil/library/tok:v1" 2>&1) && fail "foreign realm accepted"
echo "$out" | grep -q 'is not on registry host' || fail "foreign realm text: $out"
[ "$(wc -l < "$TACCESS")" = "$before" ] || fail "a token was requested from a foreign realm"
echo "auth checks passed"

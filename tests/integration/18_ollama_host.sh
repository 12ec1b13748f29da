#!/bin/bash
# OLLAMA_HOST edge cases against Ollama's envconfig.Host and allowedHostsMiddleware: a loopback
# bind checks the Host header (DNS rebinding), a 0.0.0.0 bind does not; [::1]:port binds IPv6
# loopback and the CLI reaches it; a quoted value with spaces is cleaned.
. "$(dirname "$0")/lib.bash"
start_daemon "$T/models"
expect_status 403 -H 'Host: evil.example' "$URL/api/version"
expect_status 200 -H 'Host: localhost' "$URL/api/version"
kill "$DPID"; wait "$DPID" 2>/dev/null || true

# 0.0.0.0: every interface, no Host check (Ollama skips it for non-loopback binds)
P=$(free_port)
OLLAMA_MODELS="$T/m2" OLLAMA_HOST="0.0.0.0:$P" "$BIN" serve >"$T/d2.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$P/" && break; sleep 0.1; done
expect_status 200 -H 'Host: evil.example' "http://127.0.0.1:$P/api/version"
OLLAMA_HOST="0.0.0.0:$P" "$BIN" list >/dev/null || fail "CLI with OLLAMA_HOST=0.0.0.0:port"

# IPv6 loopback, written with brackets and with quotes/spaces around it
if [ -e /proc/net/if_inet6 ]; then # hosts without IPv6 skip this part
    P6=$(free_port)
    OLLAMA_MODELS="$T/m3" OLLAMA_HOST=" \"[::1]:$P6\" " "$BIN" serve >"$T/d3.log" 2>&1 &
    PIDS+=($!)
    ok=0
    for _ in $(seq 1 100); do curl -gsf -o /dev/null "http://[::1]:$P6/" && { ok=1; break; }; sleep 0.1; done
    [ $ok = 1 ] || fail "no answer on [::1]:$P6: $(cat "$T/d3.log")"
    expect_status 403 -g -H 'Host: evil.example' "http://[::1]:$P6/api/version"
    OLLAMA_HOST="[::1]:$P6" "$BIN" list | head -1 | grep -q '^NAME' || fail "CLI over [::1]"
fi
echo ok

#!/bin/bash
# Installs the real client libraries the optional client tests drive (the official `openai` and
# `@anthropic-ai/sdk` npm packages, pinned) into a cache folder outside the repo, and prints that
# folder.  Exits non-zero (and prints nothing) when node/npm are missing or the npm registry
# cannot be reached; the tests that need the clients then say they were skipped.
set -eu
dir=${CORRAL_CLIENTS_DIR:-$HOME/.cache/corral-clients}
command -v node >/dev/null && command -v npm >/dev/null || exit 1
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
want=()
[ -d "$dir/node_modules/openai" ] || want+=(openai@6)
[ -d "$dir/node_modules/@anthropic-ai/sdk" ] || want+=(@anthropic-ai/sdk@1.17.0)
if [ ${#want[@]} -gt 0 ]; then
    (cd "$dir" && timeout 300 npm install --silent --no-audit --no-fund "${want[@]}" >/dev/null 2>&1) || exit 1
fi
echo "$dir"

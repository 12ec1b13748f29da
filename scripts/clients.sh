#!/bin/bash
# Installs the real client libraries the optional client tests drive (the official `openai` npm
# package) into a cache folder outside the repo, and prints that folder.  Exits non-zero (and
# prints nothing) when node/npm are missing or the npm registry cannot be reached; the tests that
# need the clients then say they were skipped.
set -eu
dir=${CORRAL_CLIENTS_DIR:-$HOME/.cache/corral-clients}
command -v node >/dev/null && command -v npm >/dev/null || exit 1
mkdir -p "$dir"
if [ ! -d "$dir/node_modules/openai" ]; then
    (cd "$dir" && [ -f package.json ] || echo '{"private":true}' >package.json
     cd "$dir" && timeout 300 npm install --silent --no-audit --no-fund openai@6 >/dev/null 2>&1) || exit 1
fi
echo "$dir"

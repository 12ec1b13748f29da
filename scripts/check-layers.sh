#!/bin/bash
# Enforces the layer rules of DESIGN.md by grepping #include lines: each layer may include only
# the layers below it.  Also bans raw allocation calls outside src/common/mem.c.
set -u
cd "$(dirname "$0")/.."
rc=0
allowed() { # layer -> allowed include prefixes
    case "$1" in
    common) echo "common" ;;
    engine) echo "common engine" ;;
    store) echo "common store" ;;
    template) echo "common template" ;;
    sandbox) echo "common sandbox" ;;
    registry) echo "common store registry" ;;
    api) echo "common store registry template engine api" ;;
    server) echo "common store registry template engine api sandbox runner server" ;;
    runner) echo "common engine sandbox runner" ;;
    cli) echo "common api cli store" ;;
    *) echo "" ;;
    esac
}
for f in $(find src -name '*.[ch]' ! -path 'src/main.c'); do
    layer=$(echo "$f" | cut -d/ -f2)
    ok=$(allowed "$layer")
    while read -r inc; do
        top=${inc%%/*}
        [[ " $ok " == *" $top "* ]] && continue
        echo "layer violation: $f includes $inc ($layer may use: $ok)"; rc=1
    done < <(grep -oE '^#include "[a-z_]+/[^"]+"' "$f" | sed -E 's/#include "(.*)"/\1/')
done
if grep -nE '\b(malloc|calloc|realloc|free|strcpy|strcat|sprintf|vsprintf|gets|atoi|atol)\(' \
    $(find src -name '*.c' ! -path 'src/common/mem.c') | grep -vE '^\S+:\s*[0-9]+:\s*(/\*|\*)' \
    | grep -vE '(mem_|_)free\(|json_|curl_|MHD_|EVP_|pcre2_|seccomp_|history' ; then
    echo "banned function used (use mem_* / buf_* / strto*)"; rc=1
fi
exit $rc

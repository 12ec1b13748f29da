#!/bin/sh
# Installs every build and test dependency of corral from Debian packages when missing.
# Idempotent and quiet when everything is already there. Needs root (or sudo) to install.
set -e
PKGS="build-essential pkg-config clang clang-format valgrind curl ca-certificates \
libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libssl-dev libpcre2-dev \
libedit-dev libseccomp-dev docker-registry nginx-light tmux python3 procps"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts services on install; tests start their own on random ports.
for s in nginx docker-registry; do
    $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || $SUDO service "$s" stop >/dev/null 2>&1 || true
done
exit 0

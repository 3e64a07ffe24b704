#!/usr/bin/env bash
# Installs the Debian packages songrec needs when any is missing. Called by the
# Makefile before building, so a fresh Debian 12 machine needs nothing by hand.
# Usage: scripts/deps.sh [build|test|valgrind|bench|browser]
# browser: Debian's chromium for tests/browser, and node + npm unless some node is on PATH.
set -euo pipefail
what=${1:-build}
pkgs=(build-essential cmake pkg-config libarchive-dev libutf8proc-dev libxxhash-dev
      libjansson-dev libzstd-dev zlib1g-dev liblzma-dev libmicrohttpd-dev
      libsqlite3-dev)
case "$what" in
  test) pkgs+=(clang libclang-rt-14-dev libcmocka-dev zstd xz-utils gzip zip) ;;
  valgrind) pkgs+=(valgrind libcmocka-dev zstd xz-utils gzip zip) ;;
  bench) pkgs+=(clang libclang-rt-14-dev libcmocka-dev zstd xz-utils hyperfine
                libjson-c-dev libyajl-dev libcjson-dev time wrk) ;;
  browser) pkgs=(chromium)
           command -v node > /dev/null && command -v npm > /dev/null || pkgs+=(nodejs npm) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "songrec: installing missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "songrec: need root to install: ${missing[*]}" >&2; exit 1; fi
else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

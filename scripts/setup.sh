#!/usr/bin/env bash
# setup.sh: installs the Debian packages the project needs (only the missing
# ones, after one apt-get update), then configures and builds.
#   scripts/setup.sh [BUILD_DIR [extra cmake args...]]   default BUILD_DIR=build
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libcurl4-openssl-dev libssl-dev
  libmicrohttpd-dev libcriterion-dev uthash-dev libjansson-dev nginx-light curl aria2
  valgrind iproute2 procps openssl time)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing missing packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The nginx package may start a system service; the tests start their own.
  $SUDO service nginx stop >/dev/null 2>&1 || true
fi

BUILD_DIR=${1:-build}
shift || true
cmake -S . -B "$BUILD_DIR" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

#!/usr/bin/env bash
# Installs every Debian package Mercato needs to build, test, run and benchmark. Idempotent and
# fast when everything is present (one dpkg-query). Works on a machine where `apt-get update`
# has never run. Called by `make up`, `make test` and `make bench`.
set -euo pipefail

PACKAGES=(
  # toolchain
  cmake ninja-build g++ ccache pkg-config clang-format
  # libraries (Boost 1.81 only: the unversioned libboost-*-dev are 1.74 and conflict)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libssl-dev libgtest-dev libgmock-dev
  # messaging and security (event backbone, identity)
  libnats-dev nats-server libargon2-dev
  # tests and benchmarks: promtool validates /metrics; nginx and wrk are the HTTP baseline
  prometheus nginx-light wrk curl procps util-linux
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install packages" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may never have been fetched on a fresh machine, or may be stale.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's nginx package starts a system nginx on port 80; the benchmark runs its own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || echo "setup: could not stop the system nginx (harmless)"
fi
echo "setup: done"

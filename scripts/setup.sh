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
  prometheus nginx-light wrk curl procps util-linux iproute2
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
  SUDO="sudo -n"  # never wait for a password prompt nobody will answer (CI has no tty)
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may never have been fetched on a fresh machine, or may be stale.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's nginx and prometheus packages start system daemons (ports 80 and 9090) where systemd
# runs; Mercato starts its own instances on ephemeral ports and needs neither.
if command -v systemctl >/dev/null 2>&1; then
  for unit in nginx prometheus; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then
      $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || echo "setup: could not stop the system $unit (harmless)"
    fi
  done
fi
echo "setup: done"

#!/usr/bin/env bash
# Installs the Debian packages Airlock builds and tests with, skipping what is already there.
# Runs as root on Debian 12; as another user it only reports what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  default-jre-headless antlr4 libantlr4-runtime-dev
  libre2-dev libboost1.81-dev nlohmann-json3-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libmagic-dev libarchive-dev libsqlite3-dev libpq-dev clamav-daemon postgresql
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# The gateway's end-to-end tests drive it with tus-js-client (tests/e2e/package-lock.json pins it).
install_e2e_packages() {
  local e2e
  e2e="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/e2e"
  if [ -d "$e2e/node_modules/tus-js-client" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "npm is missing: the gateway's end-to-end tests need nodejs and npm" >&2
      return 1
    fi
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "installing tests/e2e node packages (npm ci)"
  npm ci --prefix "$e2e" --no-audit --no-fund >/dev/null
}

if [ ${#missing[@]} -eq 0 ]; then
  install_e2e_packages
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_e2e_packages

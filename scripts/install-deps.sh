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
  chromium
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# npm packages, pinned by their lock files: tus-js-client's browser bundle, which the build embeds in the
# gateway's web pages (web/; the build stops without it); tus-js-client drives the gateway (tests/e2e);
# oidc-provider plays the OpenID provider for sign-in tests (tests/oidc); playwright-core drives Debian's
# chromium through the web pages (tests/browser).
install_node_packages() {
  local root folder
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for folder in web tests/e2e tests/oidc tests/browser; do
    [ -f "$root/$folder/package-lock.json" ] || continue
    [ -d "$root/$folder/node_modules" ] && continue
    if ! command -v npm >/dev/null 2>&1; then
      if [ "$(id -u)" -ne 0 ]; then
        echo "npm is missing: the end-to-end tests need nodejs and npm" >&2
        return 1
      fi
      apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    echo "installing $folder node packages (npm ci)"
    npm ci --prefix "$root/$folder" --no-audit --no-fund >/dev/null
  done
}

if [ ${#missing[@]} -eq 0 ]; then
  install_node_packages
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
install_node_packages

#!/usr/bin/env bash
# Installs everything PM MCP needs on a Debian-like machine, idempotently:
# system packages (native-module headers, keychain, browser for tests), a running PostgreSQL
# when one is installed, and the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libsecret-1-dev gnome-keyring dbus dbus-x11 chromium nginx-light)

install_system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: please install these Debian packages: ${missing[*]}" >&2
    return 0
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null 2>&1 || return 0
  pg_isready -q -h 127.0.0.1 -p 5432 && return 0
  local version
  version=$(ls /etc/postgresql 2>/dev/null | head -n 1)
  [ -n "$version" ] || return 0
  echo "setup: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "setup: PostgreSQL did not become ready" >&2
}

install_node_modules() {
  # Electron's binary comes from GitHub, which some machines cannot reach. Install everything else
  # first, then try the binary on its own so that its absence is reported, not fatal.
  if ! ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund; then
    echo "setup: npm ci failed" >&2
    exit 1
  fi
  if [ ! -f node_modules/electron/path.txt ]; then
    if ! (cd node_modules/electron && node install.js >/dev/null 2>&1); then
      echo "setup: Electron's binary could not be downloaded; the desktop window is unavailable here." >&2
      echo "       The server and the 'pm-mcp' command work without it (npm run cli -- --help)." >&2
    fi
  fi
}

install_system_packages
start_postgres
install_node_modules
echo "setup: done"

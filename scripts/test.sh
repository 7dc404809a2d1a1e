#!/usr/bin/env bash
# `npm test`: type-check, lint, build the renderer, then every test suite. Keychain tests need a
# Secret Service: when there is no D-Bus session, this runs the suites inside a private one with
# an unlocked gnome-keyring (nothing is written to the user's real keychain).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PM_MCP_TEST_INNER:-}" ]; then
  echo "== typecheck" && npm run --silent typecheck
  echo "== lint" && npm run --silent lint
  echo "== build renderer" && npm run --silent build:renderer >/dev/null
  echo "== build server" && npm run --silent build:server
fi

if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-run-session >/dev/null 2>&1 \
  && command -v gnome-keyring-daemon >/dev/null 2>&1; then
  export PM_MCP_TEST_INNER=1
  # A throwaway keyring folder: the session's keyring is created unlocked with a known password,
  # whatever keyrings this user already has (and they are never touched).
  keyring_home=$(mktemp -d)
  trap 'rm -rf "$keyring_home"' EXIT
  export XDG_DATA_HOME="$keyring_home"
  dbus-run-session -- bash -c '
    printf "pm-mcp-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
    exec "$0" "$@"' "$0" "$@"
  exit $?
fi

echo "== tests"
if [ $# -gt 0 ]; then
  # Named files or folders: run exactly those (the deployment test included when named).
  PM_MCP_DEPLOY_TESTS=1 exec npx vitest run "$@"
fi
npx vitest run
echo "== deployment (the Dockerfile's build steps, on their own)"
PM_MCP_DEPLOY_TESTS=1 exec npx vitest run tests/deploy

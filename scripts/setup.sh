#!/usr/bin/env bash
# Installs everything Paris needs from the project's own files, idempotently: a second run that finds
# nothing changed finishes in seconds. Steps: Node.js, Chromium and iproute2 (Debian) if missing, npm packages from the lockfile,
# the Python venv, then forge build and the contract artifacts shipped inside paris_node.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf '[setup] %s\n' "$*"; }
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js and npm (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi

if ! command -v chromium >/dev/null; then
  say "installing Chromium (Debian), which the dashboard test drives headless"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi

if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
  say "installing iproute2 (Debian): the multi-host testbed's namespaces and shaped links"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2
fi

npm_hash=$(hash_of package.json package-lock.json)
if ! stamp_ok node_modules/.paris-stamp "$npm_hash"; then
  say "npm install from the lockfile (anvil, forge, solc-js, OpenZeppelin, js-ipfs)"
  # Not `npm ci`: js-ipfs lists optional WebRTC packages whose own optional dependency is a git tarball,
  # which `npm ci` rejects as out of sync although it is never installed.
  npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error
  echo "$npm_hash" > node_modules/.paris-stamp
fi

py_hash=$(hash_of pyproject.toml constraints.txt)
if ! stamp_ok .venv/.paris-stamp "$py_hash"; then
  say "python venv (.venv) with torch==2.13.0 (CPU) and the project in editable mode"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
  echo "$py_hash" > .venv/.paris-stamp
fi

say "forge build (solc-js $(tools/solc --version | sed -n 's/^Version: //p'))"
PATH="$root/node_modules/.bin:$PATH" forge build --quiet
mkdir -p node/paris_node/artifacts
cp out/ParisMarket.sol/ParisMarket.json out/ParisCourt.sol/ParisCourt.json node/paris_node/artifacts/
say "ready"

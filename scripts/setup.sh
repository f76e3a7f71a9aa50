#!/usr/bin/env bash
# Installs everything codepool needs to build, run and test, pinned, into
# ignored folders of the checkout (.tools/, node_modules/). Idempotent: a
# second run takes seconds. Usage: bash scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Pinned versions. wasm-bindgen-cli must equal the wasm-bindgen in Cargo.lock.
WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

step "Rust target wasm32-unknown-unknown"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

tool_version() { "$root/.tools/bin/$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1; }

step "worker-build $WORKER_BUILD_VERSION"
if [ "$(tool_version worker-build)" != "$WORKER_BUILD_VERSION" ]; then
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --root .tools --force
fi

step "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
if [ "$(tool_version wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
  # Not --locked: its lockfile wants a crate version the registry does not serve.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root .tools --force
fi

step "npm packages (wrangler, miniflare, binaryen's wasm-opt, test tools)"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

if [ "${1:-}" = "--browser" ]; then
  step "Chromium for browser tests (Debian package)"
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi

step "set-up complete"

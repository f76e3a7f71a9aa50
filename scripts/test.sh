#!/usr/bin/env bash
# Sets everything up, then runs every test: formatting and lints, the core's
# native tests (real SQLite), the Worker build, the end-to-end tests under
# workerd (real Durable Object SQLite), and the browser tests of www/ in
# headless Chromium (screenshots in tests/screenshots/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
source scripts/env.sh

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
step "cargo clippy (native and wasm)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p codepool-worker --target wasm32-unknown-unknown --locked -- -D warnings
cargo clippy -p codepool-worker --features bench --target wasm32-unknown-unknown --locked -- -D warnings
cargo clippy -p codepool-js --target wasm32-unknown-unknown --locked -- -D warnings

step "native tests (core on SQLite)"
cargo test --workspace --locked

step "build the Worker"
bash scripts/build-worker.sh

step "end-to-end tests (workerd, Durable Object SQLite)"
node --test --test-concurrency=1 tests/e2e/

step "the JavaScript package (pkg/): build and test from Node"
bash scripts/build-js.sh
node --test js/tests/

step "browser tests (headless Chromium: demo page, loader, admin console)"
bash scripts/build-www.sh
node --test --test-concurrency=1 tests/browser/

#!/usr/bin/env bash
# Builds the npm package `codepool` (the wasm render function) into pkg/:
# the crate codepool-js (js/) for wasm32, wasm-bindgen --target web (the
# same files serve Node and the browser), wasm-opt, then the package's static
# files from js/npm/. Run scripts/setup.sh once first.
# Usage: bash scripts/build-js.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# The package's own profile (Cargo.toml [profile.js]): release, tuned for
# render speed within the package's size budget.
profile=js
cargo build --lib --profile "$profile" --target wasm32-unknown-unknown -p codepool-js

rm -rf pkg
mkdir -p pkg
wasm-bindgen --target web --out-dir pkg --out-name codepool_wasm \
  "target/wasm32-unknown-unknown/$profile/codepool_js.wasm"

# Rust's wasm32 target enables these proposals by default; wasm-opt must be
# told, or it refuses the module.
wasm-opt -O3 \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/codepool_wasm_bg.wasm -o pkg/codepool_wasm_bg.wasm

cp js/npm/package.json js/npm/index.js js/npm/index.d.ts js/npm/README.md pkg/

wasm=pkg/codepool_wasm_bg.wasm
printf 'pkg/ built: %s bytes of wasm, %s gzipped\n' \
  "$(wc -c <"$wasm")" "$(gzip -9 -c "$wasm" | wc -c)"

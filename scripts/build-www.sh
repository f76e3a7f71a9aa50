#!/usr/bin/env bash
# Puts the wasm render function (the npm package `codepool`, built into pkg/
# by scripts/build-js.sh) under www/pkg/, where the admin console's live
# preview loads it. Rebuilds pkg/ only when it is missing or older than the
# sources it comes from. dev.sh and test.sh run this; run it before
# `wrangler deploy` too. Usage: bash scripts/build-www.sh
set -euo pipefail
cd "$(dirname "$0")/.."

wasm=pkg/codepool_wasm_bg.wasm
if [ ! -f "$wasm" ] || [ -n "$(find src js/src js/npm js/Cargo.toml Cargo.toml Cargo.lock scripts/build-js.sh -newer "$wasm" -print -quit)" ]; then
  bash scripts/build-js.sh
fi

# What a browser loads: the ES module, its wasm-bindgen glue and snippets, the wasm.
rm -rf www/pkg
mkdir -p www/pkg
cp -R pkg/index.js pkg/codepool_wasm.js "$wasm" pkg/snippets www/pkg/
echo "www/pkg/ ready: $(du -sh www/pkg | cut -f1) (the console's in-browser preview)"

#!/usr/bin/env bash
# Builds the Worker (profile `worker`, wasm-opt) into build/. wrangler runs this as its
# [build] command; run it by hand after scripts/setup.sh. Extra arguments go to
# cargo, e.g. `--features bench`; OUT_DIR (default build) names the output;
# KEEP_NAMES=1 keeps function names in the wasm, for a profiler.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
out=${OUT_DIR:-build}
# GET /v1/openapi.json answers openapi.json from the static files (the
# assets binding) rather than from the wasm: see openapi() in worker/src/lib.rs.
mkdir -p www/v1
cp openapi.json www/v1/openapi.json
# Cargo profile `worker` (Cargo.toml): release, optimised for size.
worker-build --profile worker --out-dir "../$out" worker "$@"
# The entry module wraps the Durable Object classes for RPC (worker/entry.js);
# worker-build's own module becomes the glue it imports.
mv "$out/index.js" "$out/glue.js"
cp worker/entry.js "$out/index.js"

# wasm-opt is run here rather than by worker-build, which keeps the names
# section (a fifth of the module) and offers no way to drop it. Rust's wasm32
# target and wasm-bindgen use these proposals; wasm-opt must be told.
# --low-memory-unused: nothing lives in the lowest 1 KiB of memory (Rust puts
# the stack first, growing down from 1 MiB towards it, and the data above
# it), so constant offsets fold into loads and stores; with --converge, this
# saves 6.9 KB of wasm, 3.2 KB gzipped.
wasm=$out/index_bg.wasm
names=(--strip-debug --strip-producers)
[[ ${KEEP_NAMES:-} == 1 ]] && names=(--debuginfo)
wasm-opt --low-memory-unused -Oz --converge "${names[@]}" \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types \
  --enable-exception-handling \
  "$wasm" -o "$wasm"
printf '%s/ built: %s bytes of wasm, %s gzipped\n' \
  "$out" "$(wc -c <"$wasm")" "$(gzip -9 -c "$wasm" | wc -c)"

#!/usr/bin/env bash
# Builds the Worker (release, wasm-opt) into build/. wrangler runs this as its
# [build] command; run it by hand after scripts/setup.sh. Extra arguments go to
# cargo, e.g. `--features bench`; OUT_DIR (default build) names the output.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
worker-build --release --out-dir "../${OUT_DIR:-build}" worker "$@"

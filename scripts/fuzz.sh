#!/usr/bin/env bash
# Runs the fuzz targets in fuzz/ (cargo-fuzz, libFuzzer), each for SECONDS
# (default 300), one after the other, starting from the committed seed corpus
# fuzz/corpus/<target>/. New inputs go to fuzz/target/corpus/<target>/, the
# log to fuzz/target/<target>.log, and a crashing input to
# fuzz/artifacts/<target>/ (none of these are committed).
#
# Usage: bash scripts/fuzz.sh [SECONDS] [TARGET...]
# Environment: FUZZ_SANITIZER=address (default) or none; FUZZ_ARGS, more
# libFuzzer flags (e.g. -max_len=8192 for more, smaller inputs per second).
#
# The machine has stable Rust only: RUSTC_BOOTSTRAP=1 lets it take the
# nightly flags cargo-fuzz passes (sanitizer, coverage instrumentation).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

CARGO_FUZZ_VERSION=0.13.2
seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(import_csv template_render)
fi

if [ "$(cargo-fuzz --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+')" != "$CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root .tools --force
fi

export RUSTC_BOOTSTRAP=1
# The targets are outside the main workspace, so the usual lints run here.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --manifest-path fuzz/Cargo.toml --locked --all-targets -- -D warnings
sanitizer=${FUZZ_SANITIZER:-address}
for target in "${targets[@]}"; do
  corpus=fuzz/target/corpus/$target
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  printf '\033[1m==> %s for %s s (sanitizer: %s)\033[0m\n' "$target" "$seconds" "$sanitizer"
  # -timeout: an input that runs 10 s is a hang (fuel should end any render
  # in milliseconds). The first corpus folder takes new inputs; the second,
  # the committed seeds, is only read.
  set +e
  cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 ${FUZZ_ARGS:-} \
    > "fuzz/target/$target.log" 2>&1
  status=$?
  set -e
  # The summary: libFuzzer's last lines (executions, corpus, coverage) and
  # any crash report.
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|^==[0-9]+==|^SUMMARY|panicked at|^artifact_prefix|Test unit written' \
    "fuzz/target/$target.log" || true
  if [ "$status" -ne 0 ]; then
    echo "$target: libFuzzer stopped with status $status; see fuzz/target/$target.log and fuzz/artifacts/$target/" >&2
    exit 1
  fi
done

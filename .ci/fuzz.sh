#!/usr/bin/env bash
# Fuzz every parser that takes outside input (fuzz/fuzz_targets), each for FUZZ_RUNS executions
# (default 50,000: the short run CI does; the documented long run is FUZZ_RUNS=1000000).
# Usage: .ci/fuzz.sh [TARGET ...]   (all targets when none is named)
# A crash stops the run and leaves its input in fuzz/artifacts/TARGET/; see docs/FUZZING.md.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
runs="${FUZZ_RUNS:-50000}"
tools="$HOME/.cache/shopdb-tools"
export PATH="$tools/bin:$PATH"
# Fuzz builds use other compiler flags than the workspace: keep them apart.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/shopdb-fuzz-target}"

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --quiet --locked --root "$tools" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# libFuzzer's coverage instrumentation needs unstable compiler flags: the machine's nightly
# toolchain when it has one, else the stable one with unstable flags allowed for this build.
# No sanitizer: the targets are safe Rust, and what they look for is a panic or a broken rule
# (AddressSanitizer would only slow the build, mostly of SQLite's C code, which they never run).
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
fi
sanitizer=none

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list --fuzz-dir fuzz)
fi

cargo "${toolchain[@]}" fuzz build --fuzz-dir fuzz --sanitizer "$sanitizer"

for target in "${targets[@]}"; do
  # The run starts from a copy of the committed seeds and adds what it finds to that copy:
  # fuzz/corpus stays as it is in the repository.
  scratch=$(mktemp -d)
  cp -r "fuzz/corpus/$target/." "$scratch/" 2>/dev/null || true
  start=$(date +%s)
  cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz --sanitizer "$sanitizer" "$target" \
    "$scratch" -- -runs="$runs" -max_len=4096 -print_final_stats=1 \
    2> "$scratch.log" || { tail -40 "$scratch.log"; echo "fuzz: $target FAILED (input in fuzz/artifacts/$target/)"; exit 1; }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch.log" | grep -o '[0-9]*$' || echo "?")
  echo "fuzz: $target ok, $execs executions in $(( $(date +%s) - start )) s, no crash"
  rm -rf "$scratch" "$scratch.log"
done

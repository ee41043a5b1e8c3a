#!/usr/bin/env bash
# The bundled example, end to end on a fresh Debian 12 machine: install what
# is needed, build xrun, cross-compile a C++ GoogleTest suite and a Rust crate
# for aarch64, and run both through xrun (CTest and Cargo call it as their
# runner), printing their reports.
#   scripts/example.sh
# XRUN=/path/to/xrun skips installing and building xrun (the test suite runs
# this script that way).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ -z "${XRUN:-}" ]; then
  scripts/install-deps.sh
  cmake -S . -B build -G Ninja >/dev/null
  cmake --build build --target xrun
  XRUN=$root/build/runner/xrun
fi
out=${XRUN_EXAMPLE_DIR:-$root/build/examples}
mkdir -p "$out"

echo
echo "== C++: cross-build examples/cpp for aarch64, run its tests with CTest through xrun"
cmake -S examples/cpp -B "$out/cpp" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$root/configs/cmake/aarch64-linux-gnu.cmake" -DXRUN_EXECUTABLE="$XRUN" >/dev/null
cmake --build "$out/cpp"
file -b "$out/cpp/ringbuf_tests" | cut -d, -f1-2
ctest --test-dir "$out/cpp" -j2 --output-on-failure

echo
echo "== Rust: cargo test --target aarch64-unknown-linux-gnu with xrun as the runner"
# Debian's rustc has the arm64 standard library (libstd-rust-dev:arm64); a
# rustup toolchain earlier in PATH may not, so name Debian's explicitly.
(cd examples/rust &&
  RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$out/rust" CARGO_TERM_COLOR=never \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$XRUN" \
  /usr/bin/cargo test --offline --target aarch64-unknown-linux-gnu)

#!/usr/bin/env bash
# The bundled example, end to end on a fresh Debian 12 machine: install what
# is needed, build xrun, cross-compile a C++ GoogleTest suite and a Rust crate
# for aarch64, and run both through xrun (CTest and Cargo call it as their
# runner), printing their reports; then the C++ tests once more inside booted
# aarch64 VMs (system mode).
#   scripts/example.sh
# XRUN=/path/to/xrun skips installing and building xrun (the test suite runs
# this script that way, with the xrun it built; CI also runs it the way a
# newcomer does: a fresh clone, nothing preset, see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/first-run-cost.sh
if [ -z "${XRUN:-}" ]; then
  scripts/install-deps.sh
  cmake -S . -B build -G Ninja >/dev/null
  # xrun and what it puts into VMs: the guest agent and the fork-server library.
  cmake --build build --target xrun xrun_agents
  XRUN=$root/build/runner/xrun
fi
out=${XRUN_EXAMPLE_DIR:-$root/build/examples}
mkdir -p "$out"

echo
echo "== C++: cross-build examples/cpp for aarch64 (CMake toolchain file with xrun as the emulator)"
cmake -S examples/cpp -B "$out/cpp" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$root/configs/cmake/aarch64-linux-gnu.cmake" -DXRUN_EXECUTABLE="$XRUN" >/dev/null
cmake --build "$out/cpp"
file -b "$out/cpp/ringbuf_tests" | cut -d, -f1-2

echo
echo "== C++: xrun test (JUnit and JSON reports in $out)"
# From the project root, where the tests find their fixture files.
(cd examples/cpp && "$XRUN" test "$out/cpp/ringbuf_tests" --junit "$out/cpp-junit.xml" --json "$out/cpp-report.json")

echo
echo "== C++: the same tests through CTest, which calls xrun as CMAKE_CROSSCOMPILING_EMULATOR"
ctest --test-dir "$out/cpp" -j2 --output-on-failure

echo
echo "== Rust: xrun test --cargo (cargo builds for aarch64-unknown-linux-gnu, xrun runs the tests)"
# Debian's rustc has the arm64 standard library (libstd-rust-dev:arm64); a
# rustup toolchain earlier in PATH may not, so name Debian's explicitly.
(cd examples/rust &&
  CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$out/rust" CARGO_TERM_COLOR=never \
  "$XRUN" test --cargo --junit "$out/rust-junit.xml" --json "$out/rust-report.json" \
    -- --offline --target aarch64-unknown-linux-gnu)

echo
echo "== Rust: plain cargo test, with xrun as Cargo's runner"
(cd examples/rust &&
  RUSTC=/usr/bin/rustc CARGO_TARGET_DIR="$out/rust" CARGO_TERM_COLOR=never \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$XRUN" \
  /usr/bin/cargo test --offline --target aarch64-unknown-linux-gnu)
echo
echo "== System mode: the C++ tests again, inside booted aarch64 VMs (a real target kernel)"
# The image is built once from Debian's arm64 packages and reused while they
# do not change; the first run also saves a booted VM's state to start from.
"$XRUN" image build --arch aarch64
(cd examples/cpp && "$XRUN" test "$out/cpp/ringbuf_tests" --backend system -j2 --json "$out/cpp-system-report.json")

#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test: unit tests, and the
# end-to-end tests that run real cross-compiled programs under real qemu-user,
# real qemu-system VMs booted from an image built here from Debian packages,
# real cargo and real CMake/CTest (nothing is skipped: missing tools are
# installed, not excused). This is the README's test command and what CI runs.
#   scripts/test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

scripts/first-run-cost.sh
scripts/install-deps.sh
scripts/check-format.sh
scripts/check-catches.sh
cmake -S . -B "$build" -G Ninja
cmake --build "$build"
# System mode's VM images, from Debian's arm64 and armhf packages (reused while they do
# not change); the system-mode tests boot them. aarch64's default kernel is built from
# Debian's linux-source (minutes, once); the second image has Debian's own kernel.
"$build/runner/xrun" image build --arch aarch64
XRUN_AARCH64_VM_KERNEL=debian "$build/runner/xrun" image build --arch aarch64
"$build/runner/xrun" image build --arch armhf
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure
# The unit tests and the fuzzers again under ASan + UBSan (build-asan).
scripts/sanitize.sh "$build-asan"

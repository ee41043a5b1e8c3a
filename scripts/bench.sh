#!/usr/bin/env bash
# Builds xrun and the test helpers, then runs every benchmark under bench/.
#   scripts/bench.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -G Ninja
cmake --build "$build"
helpers="$build/tests/helpers"
"$build/bench/launch_overhead" "$build/runner/xrun" "$helpers/xrun_helper-aarch64-dynamic" \
  "$helpers/xrun_helper-aarch64-static" 60 "$helpers/xrun_helper-x86_64-static"
"$build/bench/sha256_tree"

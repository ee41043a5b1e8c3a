#!/usr/bin/env bash
# The fuzzers of tests/fuzz/xrun_fuzz.cpp, longer than CTest runs them: every
# fuzzer for ITERATIONS inputs under each of SEEDS seeds, against BUILD_DIR's
# xrun (a sanitizer build finds more: scripts/sanitize.sh makes build-asan);
# and the in-process parser fuzzers of tests/fuzz/parser_fuzz.cpp, 20 times
# as many inputs (they take thousands a second: about a minute a seed).
# A violation keeps its input and the run fails; the seed reproduces it.
#   scripts/fuzz.sh [BUILD_DIR] [ITERATIONS] [SEEDS]    (default build 5000 "1 2 3")
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
iterations=${2:-5000}
seeds=${3:-1 2 3}
fuzz=$build/tests/xrun_fuzz
parser_fuzz=$build/tests/xrun_parser_fuzz
xrun=$build/runner/xrun
[ -x "$fuzz" ] && [ -x "$parser_fuzz" ] && [ -x "$xrun" ] ||
  { echo "fuzz: build first (cmake --build $build)" >&2; exit 2; }
helpers=$build/tests/helpers
corpus=("$helpers"/xrun_helper-aarch64-static "$helpers"/xrun_helper-aarch64-dynamic
        "$helpers"/xrun_helper-armhf-static "$helpers"/xrun_helper-armhf-dynamic
        "$build"/tests/gtest_sample-aarch64/sample_tests "$build"/tests/gtest_suite-aarch64/runpath_tests)
# The binary probe's real files of every format (tests/CMakeLists.txt builds them).
probe_corpus=("${corpus[@]}" "$helpers"/bare_metal_cortex_m3.elf "$helpers"/probe_hello_cortex_m3.elf
              "$helpers"/probe_hello.exe "$helpers"/probe_hello.dll "$helpers"/probe_hello.wasm)
status=0
for seed in $seeds; do
  "$parser_fuzz" all --iterations $((iterations * 20)) --seed "$seed" "${probe_corpus[@]}" | tail -n 80 || status=1
  "$fuzz" elf --xrun "$xrun" --iterations "$iterations" --seed "$seed" "${corpus[@]}" | tail -n 40 || status=1
  "$fuzz" config --xrun "$xrun" --iterations "$iterations" --seed "$seed" | tail -n 40 || status=1
  "$fuzz" merge --xrun "$xrun" --iterations "$iterations" --seed "$seed" "$build"/tests/gtest_sample-aarch64/sample_tests |
    tail -n 40 || status=1
done
exit $status

#!/usr/bin/env bash
# The unit tests and the fuzzers again, with xrun and its library built under
# AddressSanitizer and UndefinedBehaviorSanitizer: a memory error or undefined
# behaviour anywhere they reach fails the run. scripts/test.sh runs it after
# the main suite (CI does too).
#   scripts/sanitize.sh [BUILD_DIR]     (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-asan}

cmake -S . -B "$build" -G Ninja -DXRUN_SANITIZE=address,undefined >/dev/null
cmake --build "$build" --target xrun xrun_unit_tests xrun_fuzz xrun_parser_fuzz
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$build/tests/xrun_unit_tests" --gtest_brief=1
# The fuzzers, fewer inputs than CTest gives them in the main build (the
# sanitized xrun is ~10x slower), two at a time.
fuzz=$build/tests/xrun_fuzz
xrun=$build/runner/xrun
helpers=$build/tests/helpers
"$fuzz" elf --xrun "$xrun" --iterations 200 --seed 7 "$helpers"/xrun_helper-aarch64-{static,dynamic} \
  "$helpers"/xrun_helper-armhf-{static,dynamic} > "$build/fuzz-elf.log" 2>&1 &
elf=$!
status=0
# The parsers in process, as many inputs as CTest gives them in the main
# build (sanitized they are several times slower: still seconds).
"$build/tests/xrun_parser_fuzz" all --iterations 3000 --seed 7 || status=1
"$fuzz" config --xrun "$xrun" --iterations 300 --seed 7 || status=1
"$fuzz" merge --xrun "$xrun" --iterations 200 --seed 7 "$build/tests/gtest_sample-aarch64/sample_tests" || status=1
wait "$elf" || status=1
cat "$build/fuzz-elf.log"
exit $status

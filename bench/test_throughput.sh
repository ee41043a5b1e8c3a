#!/usr/bin/env bash
# `xrun test` throughput on 1,010 GoogleTest cases cross-built for aarch64
# (1,000 trivial, 10 that sleep 100 ms), against what users run today, in one
# invocation (this machine is noisy: compare within a run, never across runs).
#
#   peer   ctest -j2 over gtest_discover_tests, emulator = qemu-user directly
#          (in the loader mode that does not hang; see docs/measured.md)
#   floor  the whole binary run once under qemu-user
#   batch  xrun test -j2 (batch isolation, listing cached)
#   proc   xrun test -j2 --isolation process
#
# Goals (issue 3): batch >= 20x faster than the peer and within 2x of the
# floor; process no slower than the peer; xrun's own peak RSS < 50 MB.
#   bench/test_throughput.sh [BUILD_DIR]   (after scripts/test.sh or cmake --build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh "${1:-build}"
. bench/peer_suite.sh

build_peer_suite
count=$(ctest --test-dir "$peer_dir" -N -R '^(Trivial|Sleepy)\.' | sed -n 's/^Total Tests: //p')


"$xrun" test "$bin" --list >/dev/null  # warm the listing cache, as any second run would be
t_peer=$(seconds ctest --test-dir "$peer_dir" -j2 -R '^(Trivial|Sleepy)\.')
t_floor=$(seconds qemu-aarch64 "$loader" --library-path "$sysroot/lib" "$bin")
t_batch=$(seconds "$xrun" test "$bin" -j2)
t_proc=$(seconds "$xrun" test "$bin" -j2 --isolation process)
rss=$(XRUN_LOG=debug "$xrun" test "$bin" -j2 2>&1 >/dev/null | sed -n 's/.*peak RSS of xrun itself: //p')
rss_proc=$(XRUN_LOG=debug "$xrun" test "$bin" -j2 --isolation process 2>&1 >/dev/null | sed -n 's/.*peak RSS of xrun itself: //p')

printf '\n%s test cases (aarch64, qemu-user), one invocation\n' "$count"
printf '%-44s %9s  %s\n' "run" "seconds" "ratio"
printf '%-44s %9.2f  %s\n' "ctest -j2, emulator qemu-user (peer)" "$t_peer" "1.00"
printf '%-44s %9.2f  %.2f of peer\n' "whole binary once under qemu-user (floor)" "$t_floor" "$(echo "$t_floor / $t_peer" | bc -l)"
printf '%-44s %9.2f  peer/batch = %.1fx faster, batch/floor = %.2f\n' "xrun test -j2 (batch)" "$t_batch" \
  "$(echo "$t_peer / $t_batch" | bc -l)" "$(echo "$t_batch / $t_floor" | bc -l)"
printf '%-44s %9.2f  process/peer = %.2f\n' "xrun test -j2 --isolation process" "$t_proc" "$(echo "$t_proc / $t_peer" | bc -l)"
printf 'xrun peak RSS: batch %s, process %s\n' "$rss" "$rss_proc"

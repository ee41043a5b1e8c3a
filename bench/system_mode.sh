#!/usr/bin/env bash
# System mode (issue 5) measured against its peers in one invocation (this
# machine is noisy: compare within a run, never across runs).
#
#   start    `xrun test` with one trivial test: time from xrun's start to the
#            first result line it prints; cold boot vs start from saved
#            state (medians of 5); the cold boot again with Debian's own
#            kernel (vm_kernel = "debian") instead of the minimal default,
#            alternated with it
#   per-test 200 trivial static tests in one warm VM (-j1): the cost of a
#            test, split into the guest kernel's process creation (the same
#            program started 200 times inside the VM by guest_spawn_loop)
#            and xrun's own overhead (host scheduler + agent + virtio-serial)
#   1000     1,000 trivial GoogleTest cases, process isolation, 2 VMs, against
#            `ctest -j2` with qemu-user as CMake's emulator (the peer), for
#            the same binary; BENCH_FULL=1 adds the run without the fork server.
#            Its cost per test and VM is split into the guest's own work (the
#            fork server's child: fork, the binary's main for one case, exit;
#            measured inside the VM by guest_fork_server_loop) and the rest
#
#   bench/system_mode.sh [BUILD_DIR]   (after scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$(realpath "${1:-build}")
xrun=$build/runner/xrun
helper=$build/tests/helpers/xrun_helper-aarch64-static
. bench/peer_suite.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x "$xrun" ] || { echo "bench: build xrun first (scripts/test.sh)" >&2; exit 2; }
"$xrun" image build --arch aarch64 >/dev/null
XRUN_AARCH64_VM_KERNEL=debian "$xrun" image build --arch aarch64 >/dev/null

seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Seconds from the start of CMD to the first test result line it prints.
first_result() {
  local s e
  s=$(date +%s.%N)
  e=$("$@" 2>/dev/null | while IFS= read -r line; do
        case $line in *PASS*|*FAIL*) date +%s.%N; cat >/dev/null; break ;; esac
      done)
  echo "$e - $s" | bc -l
}

# --- start ---------------------------------------------------------------
ln -s "$helper" "$work/mode-ok"
for i in 1 2 3 4 5; do
  first_result "$xrun" test "$work/mode-ok" --backend system --cold-boot >> "$work/cold.all"
  XRUN_AARCH64_VM_KERNEL=debian first_result "$xrun" test "$work/mode-ok" --backend system --cold-boot >> "$work/cold_debian.all"
done
median < "$work/cold.all" > "$work/cold"
median < "$work/cold_debian.all" > "$work/cold_debian"
"$xrun" test "$work/mode-ok" --backend system >/dev/null  # makes the saved state if it is missing
for i in 1 2 3 4 5; do first_result "$xrun" test "$work/mode-ok" --backend system; done | median > "$work/warm"
for i in 1 2 3 4 5; do seconds "$xrun" --backend system "$helper" exit 0; done | median > "$work/single"

# --- per-test ------------------------------------------------------------
mkdir "$work/many"
for i in $(seq 1 200); do ln -s "$helper" "$work/many/mode-ok$i"; done
aarch64-linux-gnu-gcc -O2 -static -o "$work/guest_spawn_loop" bench/guest_spawn_loop.c
t_one=$(seconds "$xrun" test "$work/mode-ok" --backend system -j1)
t_200=$(seconds "$xrun" test "$work"/many/mode-ok* --backend system -j1)
guest_ms=$("$xrun" --backend system "$work/guest_spawn_loop" 200 "$helper" exit 0)

# --- 1000 ----------------------------------------------------------------
build_peer_suite
"$xrun" test "$bin" --list >/dev/null  # the listing cache, as any second run has it
t_peer=$(seconds ctest --test-dir "$peer_dir" -j2 -R '^Trivial\.')
t_sys=$(seconds "$xrun" test "$bin" --backend system -j2 --isolation process --filter 'Trivial.*')
t_sys_batch=$(seconds "$xrun" test "$bin" --backend system -j2 --filter 'Trivial.*')
aarch64-linux-gnu-gcc -O2 -static -o "$work/guest_fork_server_loop" bench/guest_fork_server_loop.c
child_ms=$("$xrun" --backend system "$work/guest_fork_server_loop" 200 /usr/lib/xrun/libxrun-zygote.so "$bin" Trivial.T)
if [ "${BENCH_FULL:-0}" = 1 ]; then
  t_noforks=$(seconds "$xrun" test "$bin" --backend system -j2 --isolation process --no-fork-server --filter 'Trivial.*')
fi

per_test_ms=$(echo "($t_200 - $t_one) * 1000 / 199" | bc -l)
printf '\nsystem mode (aarch64 VM, TCG), one invocation\n'
printf '%-58s %9s  %s\n' "run" "value" "goal"
printf '%-58s %8.2fs  <= 1.5 s\n' "xrun start to first result, cold boot (median of 5)" "$(cat "$work/cold")"
printf '%-58s %8.2fs\n' "  the same with Debian's kernel (vm_kernel = \"debian\")" "$(cat "$work/cold_debian")"
printf '%-58s %8.2fs  <= 0.6 s\n' "xrun start to first result, saved state (median of 5)" "$(cat "$work/warm")"
printf '%-58s %8.2fs\n' "xrun --backend system PROG, from saved state (median)" "$(cat "$work/single")"
printf '%-58s %7.2fms\n' "a trivial static test in a warm VM, all included" "$per_test_ms"
printf '%-58s %7.2fms\n' "  of which the guest starting the program (vfork+exec)" "$guest_ms"
printf '%-58s %7.2fms  <= 6 ms\n' "  of which xrun (host + agent + virtio round trip)" "$(echo "$per_test_ms - $guest_ms" | bc -l)"
printf '%-58s %8.2fs  1.00\n' "1,000 gtest cases: ctest -j2, emulator qemu-user (peer)" "$t_peer"
printf '%-58s %8.2fs  peer/this = %.1fx (goal >= 10x)\n' "  xrun test --backend system -j2 --isolation process" "$t_sys" \
  "$(echo "$t_peer / $t_sys" | bc -l)"
sys_per_test_ms=$(echo "$t_sys * 2 * 1000 / 1000" | bc -l)  # 2 VMs, 1,000 tests
printf '%-58s %7.2fms\n' "    per test and VM" "$sys_per_test_ms"
printf '%-58s %7.2fms\n' "    of which the guest's fork + main + exit (in the VM)" "$child_ms"
printf '%-58s %7.2fms\n' "    the rest: xrun, agent, virtio, start-up" "$(echo "$sys_per_test_ms - $child_ms" | bc -l)"
printf '%-58s %8.2fs  peer/this = %.1fx\n' "  xrun test --backend system -j2 (batch)" "$t_sys_batch" \
  "$(echo "$t_peer / $t_sys_batch" | bc -l)"
if [ -n "${t_noforks:-}" ]; then
  printf '%-58s %8.2fs  peer/this = %.2fx\n' "  ... --isolation process --no-fork-server" "$t_noforks" \
    "$(echo "$t_peer / $t_noforks" | bc -l)"
fi

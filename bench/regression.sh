#!/usr/bin/env bash
# No performance regression (issue 26's acceptance): two builds of xrun --
# a previous commit's and this one's -- measured in one invocation,
# alternately (this machine is noisy: compare within a run, never across
# runs), on what the redesign could slow down:
#
#   first    `xrun test` with one trivial test in system mode, from saved
#            state: seconds from xrun's start to its first result line
#   vm-1000  1,000 trivial GoogleTest cases, process isolation, 2 VMs
#   qu-1010  the 1,010-case suite (1,000 trivial, 10 sleeping 100 ms) in
#            batch under qemu-user, -j2
#
# Each figure is the median of ROUNDS runs per build (default 3); the ratio
# is this build's over the previous one's (goal: no figure above 1.10).
# Each build gets its own cache (a copy of ~/.cache/xrun): its images carry
# its own guest agent, and neither build's runs rebuild the other's.
#
#   bench/regression.sh PREVIOUS_BUILD_DIR [BUILD_DIR]
#   e.g. git worktree add /tmp/prev HEAD~5 && cmake -S /tmp/prev -B /tmp/prev/build -G Ninja &&
#        cmake --build /tmp/prev/build && bench/regression.sh /tmp/prev/build build
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/regression.sh PREVIOUS_BUILD_DIR [BUILD_DIR]" >&2; exit 2; }
previous=$(realpath "$1")
. bench/common.sh "${2:-build}"
[ -x "$previous/runner/xrun" ] || { echo "bench: no xrun in $previous (build it first)" >&2; exit 2; }
. bench/peer_suite.sh
rounds=${ROUNDS:-3}
work=$(mktemp -d /tmp/xrun-bench-regression.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Each build with its own cache, images made (or found current) by itself.
declare -A xrun_of cache_of
xrun_of[previous]=$previous/runner/xrun
xrun_of[this]=$xrun
for which in previous this; do
  cache_of[$which]=$work/cache-$which
  mkdir -p "${cache_of[$which]}"
  cp -a "${XDG_CACHE_HOME:-$HOME/.cache}/xrun" "${cache_of[$which]}/" 2>/dev/null || true
  echo "bench: images for the $which build..." >&2
  XDG_CACHE_HOME=${cache_of[$which]} "${xrun_of[$which]}" image build --arch aarch64 >/dev/null
done
run_as() {  # run_as WHICH CMD...: CMD with WHICH's cache (and "XRUN" replaced by its xrun)
  local which=$1
  shift
  local args=()
  for a in "$@"; do [ "$a" = XRUN ] && args+=("${xrun_of[$which]}") || args+=("$a"); done
  XDG_CACHE_HOME=${cache_of[$which]} "${args[@]}"
}

helper=$build/tests/helpers/xrun_helper-aarch64-static
ln -s "$helper" "$work/mode-ok"
build_peer_suite
for which in previous this; do
  run_as "$which" XRUN test "$work/mode-ok" --backend system >/dev/null 2>&1 || true  # the saved state
  run_as "$which" XRUN test "$bin" --list >/dev/null                                # the listing cache
done

for round in $(seq "$rounds"); do
  for which in previous this; do
    run_as "$which" first_result XRUN test "$work/mode-ok" --backend system >>"$work/first-$which"
    run_as "$which" seconds XRUN test "$bin" --backend system -j2 --isolation process --filter 'Trivial.*' \
      >>"$work/vm-$which"
    run_as "$which" seconds XRUN test "$bin" -j2 >>"$work/qu-$which"
  done
done

printf '\nthis build against the previous one, medians of %s alternate runs\n' "$rounds"
printf '%-60s %9s %9s  %s\n' "run" "previous" "this" "this/previous (goal <= 1.10)"
row() {
  local label=$1 name=$2 p t
  p=$(median <"$work/$name-previous")
  t=$(median <"$work/$name-this")
  printf '%-60s %8.2fs %8.2fs  %.2f\n' "$label" "$p" "$t" "$(echo "$t / $p" | bc -l)"
}
row "system mode, start to first result, from saved state" first
row "1,000 trivial cases, system mode, process isolation, 2 VMs" vm
row "1,010 cases, qemu-user, batch, -j2" qu

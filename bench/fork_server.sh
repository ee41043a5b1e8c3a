#!/usr/bin/env bash
# Process isolation under qemu-user with fork servers (issue 16), in one
# invocation (this machine is noisy: compare within a run, never across runs):
#
#   peer     ctest -j2 over gtest_discover_tests, emulator = qemu-user
#   exec     xrun test -j2 --isolation process --no-fork-server (a qemu start per test)
#   forked   xrun test -j2 --isolation process (tests forked from fork servers)
#
# on the 1,010-case GoogleTest suite, and on yaml-cpp's own test suite from
# Debian's source package (1,000+ cases whose binary starts slowly under
# emulation; a quarter of them, --partition 1/4), cross-built for aarch64 here. Goals: forked >= 2.5x faster
# than the peer on the 1,010 cases, and >= 2.5x faster than exec on yaml-cpp.
#   bench/fork_server.sh [BUILD_DIR]   (after scripts/test.sh or cmake --build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh "${1:-build}"
. bench/peer_suite.sh
build_peer_suite


# ---- yaml-cpp from Debian's source package ------------------------------
yaml_dir=$build/bench/yaml-cpp
yaml_bin=$yaml_dir/build/test/yaml-cpp-tests
if [ ! -x "$yaml_bin" ]; then
  echo "bench: fetching and cross-building yaml-cpp's tests (once)..." >&2
  if ! apt-get source --print-uris yaml-cpp >/dev/null 2>&1; then
    # Debian's archive, source packages too (what `apt-get source` reads).
    [ "$(id -u)" -eq 0 ] || { echo "bench: add a deb-src entry for Debian's archive (as root)" >&2; exit 2; }
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n%s\n' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > /etc/apt/sources.list.d/xrun-bench-deb-src.sources
    apt-get update -qq
  fi
  rm -rf "$yaml_dir" && mkdir -p "$yaml_dir" && (cd "$yaml_dir" && apt-get source -qq yaml-cpp >/dev/null 2>&1)
  src=$(find "$yaml_dir" -maxdepth 1 -type d -name 'yaml-cpp-*' | head -1)
  # Debian's copy drops the bundled googletest: build /usr/src/googletest for aarch64 instead.
  sed -i 's/^find_package(GTest)$/set(GTEST_FOUND TRUE)/' "$src/test/CMakeLists.txt"
  cmake -S "$src" -B "$yaml_dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DYAML_CPP_BUILD_TESTS=ON \
    -DYAML_CPP_BUILD_TOOLS=OFF -DCMAKE_TOOLCHAIN_FILE="$root/configs/cmake/aarch64-linux-gnu.cmake" >/dev/null
  cmake --build "$yaml_dir/build" --target yaml-cpp-tests >/dev/null
fi

"$xrun" test "$bin" --list >/dev/null
"$xrun" test "$yaml_bin" --list >/dev/null
count=$("$xrun" test "$bin" --list 2>/dev/null | grep -c '^')
yaml_count=$("$xrun" test "$yaml_bin" --list 2>/dev/null | grep -c '^')
t_peer=$(seconds ctest --test-dir "$peer_dir" -j2 -R '^(Trivial|Sleepy)\.')
t_exec=$(seconds "$xrun" test "$bin" -j2 --isolation process --no-fork-server)
t_forked=$(seconds "$xrun" test "$bin" -j2 --isolation process)
# A quarter of yaml-cpp's cases (the same slice for each run): the whole
# suite takes 7-8 minutes a process each without the fork server.
slice=(--partition 1/4)
y_exec=$(seconds "$xrun" test "$yaml_bin" -j2 --isolation process --no-fork-server "${slice[@]}")
y_forked=$(seconds "$xrun" test "$yaml_bin" -j2 --isolation process "${slice[@]}")
y_batch=$(seconds "$xrun" test "$yaml_bin" -j2 "${slice[@]}")
yaml_slice=$("$xrun" test "$yaml_bin" --list "${slice[@]}" 2>/dev/null | grep -c '^')

printf '\nprocess isolation under qemu-user (aarch64), one invocation\n'
printf '%-58s %9s  %s\n' "run" "seconds" "ratio"
printf '%-58s %9.2f  %s\n' "$count cases: ctest -j2, emulator qemu-user (peer)" "$t_peer" "1.00"
printf '%-58s %9.2f  peer/exec = %.2fx\n' "$count cases: xrun -j2 --isolation process --no-fork-server" "$t_exec" \
  "$(echo "$t_peer / $t_exec" | bc -l)"
printf '%-58s %9.2f  peer/forked = %.2fx faster (goal >= 2.5)\n' "$count cases: xrun -j2 --isolation process" \
  "$t_forked" "$(echo "$t_peer / $t_forked" | bc -l)"
printf '%-58s %9.2f  %s\n' "yaml-cpp $yaml_slice of $yaml_count cases: process, --no-fork-server" "$y_exec" "1.00"
printf '%-58s %9.2f  exec/forked = %.2fx faster (goal >= 2.5)\n' "yaml-cpp: --isolation process" "$y_forked" \
  "$(echo "$y_exec / $y_forked" | bc -l)"
printf '%-58s %9.2f  exec/batch = %.1fx\n' "yaml-cpp: batch" "$y_batch" "$(echo "$y_exec / $y_batch" | bc -l)"

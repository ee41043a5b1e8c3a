# Sourced by the benchmarks: builds the 1,010-case GoogleTest suite the way
# users run it today, with qemu-user as CTest's emulator (in the loader mode
# that does not hang, see docs/measured.md), into $peer_dir; sets $bin.
# Needs: $root (the source tree), $build (the build directory).
sysroot=/usr/aarch64-linux-gnu
loader=$sysroot/lib/ld-linux-aarch64.so.1
peer_dir=$build/bench/gtest-qemu
build_peer_suite() {
  echo "bench: building the suite with qemu-user as CTest's emulator (the peer)..." >&2
  cmake -S "$root/tests/fixtures/gtest_suite" -B "$peer_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$root/configs/cmake/aarch64-linux-gnu.cmake" \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64;$loader;--library-path;$sysroot/lib" >/dev/null
  cmake --build "$peer_dir" --target bench_tests >/dev/null
  bin=$peer_dir/bench_tests
}

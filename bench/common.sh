# Sourced first by the benchmarks, from the source tree's root, with the
# build directory as $1 (default: build). Sets $root, $build and $xrun, and
# seconds CMD...: the wall time CMD took (its output and status dropped).
root=$PWD
build=$(realpath "${1:-build}")
xrun=$build/runner/xrun
[ -x "$xrun" ] || { echo "bench: build xrun first (cmake --build $build)" >&2; exit 2; }
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

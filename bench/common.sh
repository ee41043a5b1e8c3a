# Sourced first by the benchmarks, from the source tree's root, with the
# build directory as $1 (default: build). Sets $root, $build and $xrun, and
# seconds CMD...: the wall time CMD took (its output and status dropped); median, first_result (below).
root=$PWD
build=$(realpath "${1:-build}")
xrun=$build/runner/xrun
[ -x "$xrun" ] || { echo "bench: build xrun first (cmake --build $build)" >&2; exit 2; }
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
# median < NUMBERS: the middle one.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# first_result CMD...: seconds from CMD's start to the first test result line it prints.
first_result() {
  local s e
  s=$(date +%s.%N)
  e=$("$@" 2>/dev/null | while IFS= read -r line; do
        case $line in *PASS*|*FAIL*) date +%s.%N; cat >/dev/null; break ;; esac
      done)
  echo "$e - $s" | bc -l
}

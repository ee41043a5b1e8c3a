#!/usr/bin/env bash
# The emulated test stage of a CI pipeline, one step per subcommand, so that
# configs/ci/github-actions.yml and configs/ci/gitlab-ci.yml stay a few lines
# each and the project's own tests can run the very same commands.
#
#   scripts/ci-stage.sh setup            install everything, build xrun
#   scripts/ci-stage.sh build            cross-build the example for aarch64
#   scripts/ci-stage.sh test K N         run shard K of N, JUnit + JSON in reports/
#   scripts/ci-stage.sh merge            merge the shards' reports into reports/all.* and
#                                        reports/report.html (the one a person opens)
#
# Environment: XRUN (an xrun to use instead of building one), CI_STAGE_DIR
# (where builds and reports go; default: ./ci-stage), CI_STAGE_BASELINE (an
# earlier run's all.json: report.html and the merge's summary then show new
# failures, fixed and slower tests first).
# Under GitHub Actions `xrun test` also annotates failures at their source
# line and writes the job's step summary; GitLab reads the JUnit files.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${CI_STAGE_DIR:-$root/ci-stage}
xrun=${XRUN:-$out/xrun-build/runner/xrun}
mkdir -p "$out/reports"

case "${1:-}" in
  setup)
    scripts/install-deps.sh
    if [ -z "${XRUN:-}" ]; then
      cmake -S . -B "$out/xrun-build" -G Ninja -DXRUN_TESTS=OFF
      cmake --build "$out/xrun-build" --target xrun
    fi
    "$xrun" doctor --target aarch64
    ;;
  build)
    cmake -S examples/cpp -B "$out/cpp" -G Ninja \
      -DCMAKE_TOOLCHAIN_FILE="$root/configs/cmake/aarch64-linux-gnu.cmake" -DXRUN_EXECUTABLE="$xrun"
    cmake --build "$out/cpp"
    ;;
  test)
    k=${2:?shard number K}; n=${3:?shard count N}
    # From the project root, where the tests find their fixtures.
    cd examples/cpp
    "$xrun" test "$out/cpp/ringbuf_tests" --partition "$k/$n" \
      --junit "$out/reports/junit-$k.xml" --json "$out/reports/shard-$k.json" --html "$out/reports/shard-$k.html"
    ;;
  merge)
    # Exit 1 is the run's verdict (tests failed): the reports are still
    # written, and the stage fails after the HTML report is made too.
    verdict=0
    "$xrun" report merge "$out"/reports/shard-*.json --json "$out/reports/all.json" \
      --junit "$out/reports/junit.xml" || verdict=$?
    [ "$verdict" -le 1 ] || exit "$verdict"
    made=0
    "$xrun" report html "$out/reports/all.json" -o "$out/reports/report.html" \
      ${CI_STAGE_BASELINE:+--baseline "$CI_STAGE_BASELINE"} || made=$?
    [ "$made" -le 1 ] || exit "$made"
    exit "$verdict"
    ;;
  *)
    echo "usage: scripts/ci-stage.sh setup|build|test K N|merge" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# The HTML report (issue 15), in one invocation (this machine is noisy:
# compare within a run, never across runs):
#
#   overhead  the 1,010-case GoogleTest suite (aarch64, qemu-user), `xrun test
#             -j2 --json`, with and without --html, alternated; goal < 5%
#   1,010     that run's HTML against its JUnit XML: size, and the time
#             headless Chromium takes to load each from file://
#   20,000    a synthetic run of 20,000 tests that printed 64 KiB each (1 in
#             40 failing), its HTML (`xrun report html`) against its JUnit
#             (`xrun report merge --junit`): size and load time; goal: under
#             the documented 40 MiB, and loads
#
# Load time is Chromium's whole run (start, read, parse, render, dump the
# DOM) and, for the HTML, the page's own navigation-to-ready time.
#   bench/html_report.sh [BUILD_DIR]   (after scripts/test.sh or cmake --build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh "${1:-build}"
. bench/peer_suite.sh
command -v chromium >/dev/null || { echo "bench: needs chromium (scripts/install-deps.sh)" >&2; exit 2; }
build_peer_suite
work=$(mktemp -d /tmp/xrun-bench-html.XXXXXX)
trap 'rm -rf "$work"' EXIT

median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
size() { stat -c %s "$1"; }
mib() { echo "$1 / 1048576" | bc -l; }
# chromium_load FILE -> "wall_seconds page_ms" (page_ms "-" for a non-report,
# "timeout" when it did not load within 120 s: a JUnit file of a gigabyte)
chromium_load() {
  local profile s e dom
  profile=$(mktemp -d "$work/profile.XXXXXX")
  s=$(date +%s.%N)
  dom=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$profile" \
          --dump-dom "file://$1" 2>/dev/null) || { rm -rf "$profile"; echo "timeout -"; return; }
  e=$(date +%s.%N)
  rm -rf "$profile"
  local page_ms
  page_ms=$(sed -n 's/.*<html[^>]*data-load-ms="\([0-9.]*\)".*/\1/p' <<<"$dom" | head -1)
  printf '%.2f %s\n' "$(echo "$e - $s" | bc -l)" "${page_ms:--}"
}

# ---- --html overhead on the same run ------------------------------------
"$xrun" test "$bin" --list >/dev/null  # warm the listing cache
without=() with=()
for _ in 1 2 3 4 5 6 7 8 9; do
  without+=("$(seconds "$xrun" test "$bin" -j2 --json "$work/a.json")")
  with+=("$(seconds "$xrun" test "$bin" -j2 --json "$work/b.json" --html "$work/b.html")")
done
t_without=$(median "${without[@]}")
t_with=$(median "${with[@]}")
# A longer run, where the report is rewritten many times: 111 cases, a
# process each.
pwithout=() pwith=()
for _ in 1 2 3; do
  pwithout+=("$(seconds "$xrun" test "$bin" -j2 --isolation process --filter 'Trivial.T1*' --json "$work/c.json")")
  pwith+=("$(seconds "$xrun" test "$bin" -j2 --isolation process --filter 'Trivial.T1*' --json "$work/c.json" \
             --html "$work/c.html")")
done
tp_without=$(median "${pwithout[@]}")
tp_with=$(median "${pwith[@]}")
"$xrun" report merge "$work/b.json" --junit "$work/b.xml" >/dev/null || true  # the same run's JUnit

# ---- the 1,010-case run's files -----------------------------------------
read -r small_html_s small_html_ms < <(chromium_load "$work/b.html")
read -r small_junit_s _ < <(chromium_load "$work/b.xml")

# ---- 20,000 synthetic tests of 64 KiB -----------------------------------
python3 - "$work/big.json" <<'EOF'
import json, random, sys
random.seed(15)
def log(seed):
    r = random.Random(seed); lines = []; size = 0
    while size < 65536:
        line = "[%10.6f] worker %d: step %d checksum 0x%08x %s\n" % (
            r.random() * 1000, r.randrange(16), r.randrange(1 << 20), r.randrange(1 << 32),
            "ok" if r.random() < 0.5 else "retrying after a short wait")
        lines.append(line); size += len(line)
    return "".join(lines)[:65536]
outputs = [log(i) for i in range(16)]
tests = []
for i in range(20000):
    failed = i % 40 == 7
    tests.append({"binary": "/build/tests/suite_%d" % (i // 1000), "name": "Suite%d.Case%d" % (i % 97, i),
                  "status": "failed" if failed else "passed", "duration_seconds": 0.001 * (i % 13),
                  "attempts": 1, "exit_code": 1 if failed else 0, "signal": None, "signal_name": None,
                  "message": "exit code 1" if failed else "", "backend": "qemu-user", "machine": None,
                  "failure": "suite.cpp:42: Failure\nExpected equality" if failed else "",
                  "output": outputs[i % 16], "output_cut_bytes": 0})
summary = {s: 0 for s in ["passed", "failed", "crashed", "timed-out", "flaky", "infra-error", "skipped", "not-run"]}
for t in tests: summary[t["status"]] += 1
summary["total"] = len(tests)
json.dump({"schema": "xrun-test-report/1", "xrun_version": "bench", "started_at": "2026-12-03T00:00:00Z",
           "duration_seconds": 600, "interrupted": False, "complete": True, "error": None, "partition": None,
           "summary": summary, "tests": tests}, open(sys.argv[1], "w"))
EOF
t_write_big=$(seconds "$xrun" report html "$work/big.json" -o "$work/big.html")
"$xrun" report merge "$work/big.json" --junit "$work/big.xml" >/dev/null || true
read -r big_html_s big_html_ms < <(chromium_load "$work/big.html")
read -r big_junit_s _ < <(chromium_load "$work/big.xml")

tests_small=$("$xrun" test "$bin" --list 2>/dev/null | grep -c '^')
printf '\nHTML report, one invocation (%s cases of the benchmark suite; 20,000 synthetic)\n' "$tests_small"
printf '%-56s %9.2f s\n' "xrun test -j2 --json (median of 9)" "$t_without"
printf '%-56s %9.2f s  with/without = %.3f (goal < 1.05)\n' "... --html as well (median of 9)" "$t_with" \
  "$(echo "$t_with / $t_without" | bc -l)"
printf '%-56s %9.2f s\n' "111 cases, --isolation process --json (median of 3)" "$tp_without"
printf '%-56s %9.2f s  with/without = %.3f (goal < 1.05)\n' "... --html as well (median of 3)" "$tp_with" \
  "$(echo "$tp_with / $tp_without" | bc -l)"
printf '\n%-10s %-6s %12s %12s %14s\n' "tests" "file" "size (MiB)" "chromium s" "page ready ms"
printf '%-10s %-6s %12.3f %12s %14s\n' 1010 html "$(mib "$(size "$work/b.html")")" "$small_html_s" "$small_html_ms"
printf '%-10s %-6s %12.3f %12s %14s\n' 1010 junit "$(mib "$(size "$work/b.xml")")" "$small_junit_s" "-"
printf '%-10s %-6s %12.3f %12s %14s\n' 20000 html "$(mib "$(size "$work/big.html")")" "$big_html_s" "$big_html_ms"
printf '%-10s %-6s %12.3f %12s %14s\n' 20000 junit "$(mib "$(size "$work/big.xml")")" "$big_junit_s" "-"
printf 'size html/junit: 1,010 %.2f, 20,000 %.3f; xrun report html of 20,000: %.1f s\n' \
  "$(echo "$(size "$work/b.html") / $(size "$work/b.xml")" | bc -l)" \
  "$(echo "$(size "$work/big.html") / $(size "$work/big.xml")" | bc -l)" "$t_write_big"

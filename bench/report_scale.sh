#!/usr/bin/env bash
# Reports at scale (issue 24, item 8), in one invocation (this machine is
# noisy: compare within a run, never across runs). 100,000 trivial
# GoogleTest cases, run natively (host binaries run on the host): 100 copies
# of bench/many_tests.cpp built with 1,000 cases each -- one binary of
# 100,000 spends a minute in GoogleTest's own filter matching (names x
# patterns per shard), which would hide what is measured here.
#
#   full run   xrun test -j2, without reports and with --json --junit
#              (goal: with/without < 1.5)
#   SIGTERM    the same two runs, SIGTERM at five points of the run without
#              reports; the time from the signal to xrun's exit, median and
#              max (goal: < 0.5 s), and the reports the last one left:
#              complete, interrupted, every test, exit 130
#
#   bench/report_scale.sh [BUILD_DIR]   (after cmake --build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh "${1:-build}"
work=$(mktemp -d /tmp/xrun-bench-reports.XXXXXX)
trap 'rm -rf "$work"' EXIT

g++ -O1 -DMANY_TESTS=1000 bench/many_tests.cpp -o "$work/many_tests" -lgtest -lgtest_main -pthread
mkdir "$work/bins"
for i in $(seq -w 0 99); do cp "$work/many_tests" "$work/bins/t$i"; done
bins=("$work"/bins/t*)
count=$("$xrun" test "${bins[@]}" --list 2>/dev/null | grep -c '^')  # and the listing cache is warm

reports=(--json "$work/r.json" --junit "$work/r.xml")
t_without=$(seconds "$xrun" test "${bins[@]}" -j2)
t_with=$(seconds "$xrun" test "${bins[@]}" -j2 "${reports[@]}")
json_size=$(stat -c %s "$work/r.json")
xml_size=$(stat -c %s "$work/r.xml")

# term_after DELAY ARGS...: "seconds-from-SIGTERM-to-exit exit-status"
term_after() {
  local delay=$1 pid s e status=0
  shift
  "$xrun" test "${bins[@]}" -j2 "$@" >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  s=$(date +%s.%N)
  kill -TERM "$pid"
  wait "$pid" || status=$?
  e=$(date +%s.%N)
  printf '%.3f %s\n' "$(echo "$e - $s" | bc -l)" "$status"
}
# Five signals across the run: one lands during a rewrite of the reports
# (a signal waits for the handler that is running), another between them.
# median_max TIMES...: "median max"
median_max() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[NR] }'; }
without=() with=() status_without=0 status_with=0
for fraction in 0.2 0.35 0.5 0.65 0.8; do
  delay=$(echo "$t_without * $fraction" | bc -l)
  read -r t status_without < <(term_after "$delay")
  without+=("$t")
  rm -f "$work/r.json" "$work/r.xml"
  read -r t status_with < <(term_after "$delay" "${reports[@]}")
  with+=("$t")
done
read -r term_without term_without_max < <(median_max "${without[@]}")
read -r term_with term_with_max < <(median_max "${with[@]}")
valid=$(python3 - "$work/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
done = sum(1 for t in r["tests"] if t["status"] != "not-run")
print("complete=%s interrupted=%s tests=%d with-results=%d" % (
    str(r["complete"]).lower(), str(r["interrupted"]).lower(), len(r["tests"]), done))
PY
)
xml_ok=$(xmllint --noout "$work/r.xml" 2>/dev/null && echo "valid XML" || echo "INVALID XML")

printf '\n%s tests (100 x 1,000 GoogleTest cases, native), one invocation\n' "$count"
printf '%-44s %9s  %s\n' "run" "seconds" "ratio"
printf '%-44s %9.2f  %s\n' "xrun test -j2 (no reports)" "$t_without" "1.00"
printf '%-44s %9.2f  with/without = %.2f (goal < 1.5)\n' "xrun test -j2 --json --junit" "$t_with" \
  "$(echo "$t_with / $t_without" | bc -l)"
printf 'reports: JSON %.1f MiB, JUnit %.1f MiB\n' "$(echo "$json_size / 1048576" | bc -l)" \
  "$(echo "$xml_size / 1048576" | bc -l)"
printf '\nSIGTERM at 20, 35, 50, 65 and 80%% of the run, to exit (median, max):\n'
printf '%-44s %9.3f  max %.3f, exit %s\n' "no reports" "$term_without" "$term_without_max" "$status_without"
printf '%-44s %9.3f  max %.3f, exit %s, median with/without = %.2f (goal: < 0.5 s)\n' "--json --junit" \
  "$term_with" "$term_with_max" "$status_with" "$(echo "$term_with / $term_without" | bc -l)"
printf 'the reports it left: %s; JUnit: %s\n' "$valid" "$xml_ok"

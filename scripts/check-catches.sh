#!/usr/bin/env bash
# Checks that the library has no `catch (` of its own beyond the allowed
# ones: failures travel as Expected<T> (harness/core/expected.h), third
# parties' exceptions are avoided with their non-throwing forms
# (harness/core/json_util.h, config/toml_util.h), and the one catch is at
# the top of the executable (runner/xrun_main.cpp). Exit 1, naming each
# place, when a file of harness/ has more than its allowance below.
#   scripts/check-catches.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# path            catches  why
allowed=$(cat <<'LIST'
harness/engine/scheduler.cpp 1 the run loop's top: a bug in a handler stops the run and the reports are still finished
harness/core/cli_parse.h 2 CLI11 says --help and a parse error only by throwing: every subcommand's command line, the backends' own too
LIST
)
status=0
declare -A allowance
while read -r path count _; do allowance[$path]=$count; done <<<"$allowed"
while IFS= read -r path; do
  found=$(grep -c 'catch (' "$path" || true)
  limit=${allowance[$path]:-0}
  if [ "$found" -gt "$limit" ]; then
    grep -n 'catch (' "$path" | sed "s|^|$path:|" >&2
    echo "check-catches: $path has $found catch(es), $limit allowed: return an Expected (CONTRIBUTING.md), or use the library's non-throwing form" >&2
    status=1
  fi
done < <(git ls-files --cached --others --exclude-standard 'harness/*.cpp' 'harness/*.h' 'harness/*.c')
[ "$status" -eq 0 ] && echo "check-catches: harness/ catches only where scripts/check-catches.sh allows"
exit "$status"

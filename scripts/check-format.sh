#!/usr/bin/env bash
# Checks that every C and C++ file of the tree is formatted with the project's
# .clang-format (Debian 12's clang-format 14). Exit 1 with the first warnings
# when one is not; scripts/check-format.sh --fix formats them in place.
#   scripts/check-format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: error: clang-format is not installed (scripts/install-deps.sh installs it)" >&2; exit 2; }
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.cc' '*.cpp' '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
  echo "$out" | head -40 >&2
  echo "check-format: $(grep -c 'clang-format-violations' <<<"$out") places to format in ${#files[@]} files; scripts/check-format.sh --fix formats them" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"

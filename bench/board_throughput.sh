#!/usr/bin/env bash
# Tests on a board over SSH: xrun's board backend against what users write
# today, in one invocation (this machine is noisy: compare within a run).
# The board is the board tests' stand-in (tests/board/: an emulated aarch64
# machine with Dropbear on a forwarded loopback port), 200 GoogleTest cases
# of the benchmark suite (bench/peer_suite.sh).
#
#   naive    the binary copied once (`ssh board 'cat > f'`: OpenSSH 9's scp
#            needs sftp, which Dropbear boards lack), then one
#            `ssh board ./tests --gtest_filter=X` per test, a connection each
#   labgrid  labgrid's SSHDriver (Debian's python3-labgrid): run() per test
#            over its own ControlMaster connection
#   process  xrun test --backend board --isolation process -j4
#   batch    xrun test --backend board -j4 (batch isolation)
#   again    the batch run once more: files sent (must be 0)
#
# Goals (issue 14): process >= 5x faster than naive, batch >= 20x.
#   bench/board_throughput.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh "${1:-build}"
. bench/peer_suite.sh
build_peer_suite

boards=$build/bench/boards
work=$build/bench/board-work
mkdir -p "$work"
echo "bench: starting a stand-in board..." >&2
tests/board/boards.sh up "$boards" "$xrun" >/dev/null
trap '"$root/tests/board/boards.sh" down "$boards"' EXIT
port=$(cat "$boards/pi-a.port")
sed -e "s|identity = \"id_ed25519\"|identity = \"$boards/id_ed25519\"|" "$boards/xrun.toml" > "$work/xrun.toml"
cp "$bin" "$work/bench_tests"
cd "$work"

ssh_board=(ssh -i "$boards/id_ed25519" -p "$port" -o BatchMode=yes -o "UserKnownHostsFile=$boards/known_hosts"
           -o StrictHostKeyChecking=yes -o LogLevel=ERROR root@127.0.0.1)
names=()
for i in $(seq 0 199); do names+=("Trivial.T$i"); done
filter=(--filter 'Trivial.T?' --filter 'Trivial.T??' --filter 'Trivial.T1??')


naive() {
  "${ssh_board[@]}" 'cat > /tmp/naive_tests && chmod +x /tmp/naive_tests' < bench_tests
  for name in "${names[@]}"; do "${ssh_board[@]}" /tmp/naive_tests "--gtest_filter=$name"; done
}

labgrid_peer() {
  cat > lg-env.yaml <<YAML
targets:
  main:
    resources:
      NetworkService:
        address: 127.0.0.1
        username: root
        port: $port
    drivers:
      SSHDriver:
        keyfile: $boards/id_ed25519
YAML
  /usr/bin/python3 - <<'PY'
import os, sys
from labgrid import Environment
env = Environment("lg-env.yaml")
target = env.get_target("main")
ssh = target.get_driver("SSHDriver")
target.activate(ssh)
# (SSHDriver.put() runs scp, which OpenSSH 9 does over SFTP: Dropbear boards
# have none. The binary the naive run copied is used instead.)
for i in range(200):
    out, err, code = ssh.run(f"/tmp/naive_tests --gtest_filter=Trivial.T{i}")
    assert code == 0, (out, err, code)
PY
}

echo "bench: naive ssh..." >&2
t_naive=$(seconds naive)
t_labgrid=""
if /usr/bin/python3 -c 'import labgrid' 2>/dev/null; then
  echo "bench: labgrid..." >&2
  s=$(date +%s.%N)
  if labgrid_peer >lg.log 2>&1; then t_labgrid=$(echo "$(date +%s.%N) - $s" | bc -l); else t_labgrid=failed; fi
fi
echo "bench: xrun..." >&2
rm -f sent
t_proc=$(seconds "$xrun" test ./bench_tests --backend board --isolation process -j4 "${filter[@]}")
t_batch=$(seconds "$xrun" test ./bench_tests --backend board -j4 "${filter[@]}")
t_again=$(seconds env XRUN_BOARD_TRANSFER_FILE="$work/sent" "$xrun" test ./bench_tests --backend board -j4 "${filter[@]}")
sent=$(cat sent)
# One test: xrun's whole run (connect, agent, files, the test) against the
# program's own start on the board over a connection that is already open.
"${ssh_board[@]}" -o ControlMaster=yes -o "ControlPath=$work/cm" -o ControlPersist=30 true
t_own=$(seconds "${ssh_board[@]}" -o "ControlPath=$work/cm" /tmp/naive_tests --gtest_filter=Trivial.T0)
"${ssh_board[@]}" -o "ControlPath=$work/cm" -O exit 2>/dev/null || true
t_one=$(seconds "$xrun" test ./bench_tests --backend board --filter Trivial.T0)

printf '\n200 GoogleTest cases on one stand-in board (aarch64 over SSH), one invocation\n'
printf '%-52s %9s  %s\n' "run" "seconds" "ratio"
printf '%-52s %9.2f  %s\n' "naive: ssh per test, a connection each (peer)" "$t_naive" "1.00"
if [ -n "$t_labgrid" ] && [ "$t_labgrid" != failed ]; then
  printf '%-52s %9.2f  naive/labgrid = %.1fx\n' "labgrid SSHDriver run() per test" "$t_labgrid" "$(echo "$t_naive / $t_labgrid" | bc -l)"
else
  printf '%-52s %9s\n' "labgrid SSHDriver run() per test" "${t_labgrid:-not installed}"
fi
printf '%-52s %9.2f  naive/process = %.1fx faster%s\n' "xrun test --isolation process -j4" "$t_proc" \
  "$(echo "$t_naive / $t_proc" | bc -l)" \
  "$([ -n "$t_labgrid" ] && [ "$t_labgrid" != failed ] && printf ', labgrid/process = %.1fx' "$(echo "$t_labgrid / $t_proc" | bc -l)")"
printf '%-52s %9.2f  naive/batch = %.1fx faster\n' "xrun test -j4 (batch)" "$t_batch" "$(echo "$t_naive / $t_batch" | bc -l)"
printf '%-52s %9.2f  bytes sent: %s\n' "xrun test -j4 again, nothing changed" "$t_again" "$sent"
printf '%-52s %9.2f  vs the program over an open connection: %.2f s (+%.2f s)\n' "xrun test, one test (connect included)" \
  "$t_one" "$t_own" "$(echo "$t_one - $t_own" | bc -l)"

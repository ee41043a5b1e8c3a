#!/usr/bin/env bash
# Starts and stops the stand-in boards of the board tests (build-board.sh).
#
#   tests/board/boards.sh up DIR XRUN     build the board, start two (pi-a, pi-b), write DIR/xrun.toml
#   tests/board/boards.sh down DIR        stop them
#   tests/board/boards.sh restart DIR NAME   power-cycle one (the boards' `reset` command)
#   tests/board/boards.sh stop DIR NAME      pull one's plug
#
# DIR/NAME.port is its forwarded loopback port, DIR/NAME.console its console.
set -euo pipefail
cmd=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)

start_one() {  # NAME PORT
  local name=$1 port=$2
  rm -f "$dir/$name.pid"
  qemu-system-aarch64 -M virt -cpu cortex-a57 -m 256 -smp 1 -nodefaults -no-user-config -display none \
    -kernel "$(cat "$dir/kernel")" -initrd "$dir/image/board.cpio.gz" \
    -append "console=ttyAMA0 rdinit=/init quiet panic=-1" -no-reboot \
    -serial "file:$dir/$name.console" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-device,netdev=net0 \
    -daemonize -pidfile "$dir/$name.pid"
  echo "$port" > "$dir/$name.port"
}

wait_up() {  # NAME: until its SSH server answers (qemu accepts on the port before that)
  local name=$1 port
  port=$(cat "$dir/$name.port")
  for _ in $(seq 1 240); do
    if ssh-keyscan -T 2 -p "$port" 127.0.0.1 2>/dev/null | grep -q ssh-; then return 0; fi
    sleep 0.5
  done
  echo "boards: $name did not answer on port $port; its console:" >&2
  tail -20 "$dir/$name.console" >&2
  return 1
}

stop_one() {
  local name=$1
  if [ -f "$dir/$name.pid" ]; then
    kill -9 "$(cat "$dir/$name.pid")" 2>/dev/null || true
    rm -f "$dir/$name.pid"
  fi
}

# A loopback port nobody listens on (bash's /dev/tcp: a refused connect means free).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
}

case $cmd in
  up)
    xrun=$3
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # The kernel: xrun's minimal aarch64 build (it has virtio-net), from its cache.
    # (`xrun image build --arch aarch64` builds it; scripts/test.sh runs that before the tests.)
    kernels="${XDG_CACHE_HOME:-$HOME/.cache}/xrun/kernels"
    kernel=$(ls -t "$kernels"/aarch64-*/Image 2>/dev/null | head -1 || true)
    if [ -z "$kernel" ]; then
      "$xrun" image build --arch aarch64 >/dev/null
      kernel=$(ls -t "$kernels"/aarch64-*/Image 2>/dev/null | head -1 || true)
    fi
    [ -n "$kernel" ] || { echo "boards: no aarch64 kernel built (run: xrun image build --arch aarch64)" >&2; exit 1; }
    echo "$kernel" > "$dir/kernel"
    [ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C xrun-board-tests -f "$dir/id_ed25519"
    "$here/build-board.sh" "$dir/image" "$kernel" "$dir/id_ed25519.pub"
    for name in pi-a pi-b; do stop_one "$name"; start_one "$name" "$(free_port)"; done
    for name in pi-a pi-b; do wait_up "$name"; done
    fingerprint=$(cat "$dir/image/host_key.fingerprint")
    # For the tests' own ssh to the boards (ps, the files a test left), and
    # for a user's known_hosts in the test of unpinned boards.
    : > "$dir/known_hosts"
    for name in pi-a pi-b; do
      echo "[127.0.0.1]:$(cat "$dir/$name.port") $(cut -d' ' -f1,2 "$dir/image/host_key.pub")" >> "$dir/known_hosts"
    done
    {
      for name in pi-a pi-b; do
        printf '[boards.%s]\nhost = "127.0.0.1"\nport = %s\nuser = "root"\nidentity = "id_ed25519"\nhost_key = "%s"\nmax_jobs = 4\nreset = "%s restart %s %s"\n\n' \
          "$name" "$(cat "$dir/$name.port")" "$fingerprint" "$here/boards.sh" "$dir" "$name"
      done
      printf '[targets.aarch64]\nbackend = "board"\nboards = ["pi-a"]\n'
    } > "$dir/xrun.toml"
    ;;
  down)
    for name in pi-a pi-b; do stop_one "$name"; done
    ;;
  restart)
    name=$3
    stop_one "$name"
    start_one "$name" "$(cat "$dir/$name.port")"
    wait_up "$name"
    ;;
  stop)
    stop_one "$3"
    ;;
  *)
    echo "usage: boards.sh up DIR XRUN | down DIR | restart DIR NAME | stop DIR NAME" >&2
    exit 2
    ;;
esac

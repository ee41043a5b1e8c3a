#!/usr/bin/env bash
# Says up front what the first run of scripts/example.sh or scripts/test.sh
# costs on this machine, when it has not been paid yet (nothing is printed
# once the guest kernel is compiled and cached). Figures measured on the
# 2-core Debian 12 machines this project is developed on.
set -euo pipefail
cache=${XDG_CACHE_HOME:-$HOME/.cache}/xrun
cores=$(nproc)
kernel_minutes=$(( (16 + cores - 1) / cores ))   # about 16 core-minutes
if ! ls "$cache"/kernels/aarch64-*/Image >/dev/null 2>&1; then
  echo "first run on this machine: this takes longer, once --"
  if ! command -v aarch64-linux-gnu-gcc >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
    echo "  * Debian packages: compilers, cross toolchains for 8 targets, qemu, Rust (about 1 GB to download and unpack)"
  fi
  echo "  * Debian's linux-source (about 140 MB), compiled into the aarch64 guest kernel: about $kernel_minutes minutes on $cores cores"
  echo "  * Debian's arm64/armhf runtime packages for the VM images (about 30 MB)"
  echo "  then everything is cached in $cache; later runs skip all of it"
  echo
fi

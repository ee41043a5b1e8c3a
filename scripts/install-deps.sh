#!/usr/bin/env bash
# Installs everything xrun needs to build and to run its whole test suite on a
# fresh Debian 12 machine. Idempotent: a second run installs nothing new.
#
#   sudo scripts/install-deps.sh
#
# Why each group is here:
#   build       compiler, CMake + Ninja (and ccache, so that a second clone builds fast),
#               the libraries xrun links against (libssl-dev: OpenSSL's libcrypto computes
#               the SHA-256 content addresses of the files xrun sends to a board, with the
#               CPU's SHA instructions -- bench/sha256_tree.cpp; xrun links its archive
#               statically, as it does zlib's); GoogleTest, Catch2 and doctest for the
#               test suites and the fixtures `xrun test` is tested on; clang-format, which
#               scripts/check-format.sh runs over the tree
#   qemu        qemu-user and qemu-system-arm: the emulators xrun drives (user and
#               system mode); kmod for depmod, which orders kernel modules when
#               `xrun image build` makes a VM image; make, flex, bison, bc and xz-utils
#               build the minimal aarch64 guest kernel from Debian's linux-source
#   cross       cross compilers; each brings its target libc under /usr/<triple>/lib,
#               which is the sysroot xrun runs dynamic programs against
#   formats     the binary probe's other formats, built by the tests from real toolchains:
#               a Windows PE program and DLL (mingw-w64), a WASI module (clang, lld and
#               compiler-rt's wasm32 builtins over wasi-libc) and Cortex-M firmware with
#               newlib's semihosting (arm-none-eabi-gcc)
#   trace       strace: an end-to-end test counts how often xrun opens the program it runs
#               (tests/e2e/read_once_test.cpp)
#   boards      the board backend drives the user's own OpenSSH client (ssh, ssh-keygen);
#               the board tests' stand-in boards are built with cpio and dpkg-deb
#   report      headless Chromium and Firefox ESR load the HTML report from file:// in the
#               report tests
#   rust        Debian's rustc/cargo plus the arm64 standard library, so a Rust crate
#               cross-builds for aarch64-unknown-linux-gnu without any download.
#               This needs the arm64 architecture in dpkg, which also pulls in the
#               multiarch libc6:arm64 -- exactly the setup where the well-known
#               `qemu-aarch64 -L /usr/aarch64-linux-gnu` recipe hangs (docs/measured.md).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then exec sudo -E "$0" "$@"; fi
  echo "install-deps: error: run as root (apt-get needs it)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive

build=(g++ cmake ninja-build meson pkg-config git file libxml2-utils bc ccache
       libboost-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
       libgtest-dev libgmock-dev googletest libcli11-dev nlohmann-json3-dev zlib1g-dev libssl-dev
       catch2 doctest-dev clang-format)
qemu=(qemu-user qemu-system-arm kmod make flex bison xz-utils)
cross=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
       gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf
       gcc-arm-linux-gnueabi
       gcc-riscv64-linux-gnu g++-riscv64-linux-gnu
       gcc-powerpc64le-linux-gnu gcc-s390x-linux-gnu
       gcc-mips64el-linux-gnuabi64 gcc-i686-linux-gnu
       libc6-dev-arm64-cross libc6-dev-armhf-cross libc6-dev-armel-cross
       libc6-dev-riscv64-cross libc6-dev-ppc64el-cross libc6-dev-s390x-cross
       libc6-dev-mips64el-cross libc6-dev-i386-cross)
formats=(gcc-mingw-w64-x86-64 clang lld libclang-rt-dev-wasm32 wasi-libc
         gcc-arm-none-eabi libnewlib-arm-none-eabi)
trace=(strace)
boards=(openssh-client cpio)
report=(chromium firefox-esr)
rust=(rustc cargo libstd-rust-dev:arm64)

# arm64 and armhf packages: Rust's arm64 standard library, and what
# `xrun image build` puts into the aarch64 and armhf VM images.
arch_added=0
for arch in arm64 armhf; do
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch"
    arch_added=1
  fi
done

# A mirror caught mid-sync fails one index now and then: retry, then go on
# with what was fetched (apt uses the older index for that part).
update_indexes() {
  apt-get update -qq || { sleep 5; apt-get update -qq; } ||
    echo "install-deps: warning: apt-get update failed in part; using the indexes it has" >&2
}

missing=()
for p in "${build[@]}" "${qemu[@]}" "${cross[@]}" "${formats[@]}" "${trace[@]}" "${boards[@]}" "${report[@]}" "${rust[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ "$arch_added" -eq 1 ]; then update_indexes; fi
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
[ "$arch_added" -eq 1 ] || update_indexes
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

#!/usr/bin/env bash
# Builds the stand-in board of the board tests: an aarch64 Linux with a root
# file system of its own (busybox, Dropbear and its libraries from Debian's
# arm64 packages), booted by qemu-system-aarch64 with user-mode networking.
# Nothing of the host is shared with it: no 9p, no xrun agent as its init; it
# is reached only over SSH on a forwarded loopback port, like a board on a desk.
#
#   tests/board/build-board.sh OUT_DIR KERNEL_IMAGE CLIENT_PUBLIC_KEY
#
# Writes OUT_DIR/board.cpio.gz, OUT_DIR/host_key.pub (the board's Dropbear
# host key, OpenSSH format) and OUT_DIR/host_key.fingerprint.
set -euo pipefail
out=$1 kernel=$2 client_key=$3
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -f "$kernel" ] || { echo "build-board: no kernel at $kernel" >&2; exit 2; }
stamp="$out/inputs"
inputs="$(sha256sum "$0" "$client_key" | cut -c1-64 | tr '\n' ' ')"
if [ -f "$out/board.cpio.gz" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then exit 0; fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
root="$scratch/root"
mkdir -p "$root" "$scratch/debs"
packages=(busybox-static:arm64 dropbear-bin:arm64 libc6:arm64 libcrypt1:arm64 libtomcrypt1:arm64 libtommath1:arm64 libgmp10:arm64 zlib1g:arm64
          libstdc++6:arm64 libgcc-s1:arm64)
sandbox=()
[ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
(cd "$scratch/debs" && apt-get download -q "${sandbox[@]}" "${packages[@]}" >/dev/null)
for deb in "$scratch"/debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
# A board image needs no documentation, locales or character-set modules.
rm -rf "$root/usr/share" "$root"/usr/lib/*/gconv

# busybox's applets, as links
for applet in $(qemu-aarch64 "$root/bin/busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
# Debian's libc6 puts the loader under /usr/lib (merged /usr): the board has /lib -> usr/lib too
for d in lib bin sbin; do
  if [ -d "$root/$d" ] && [ ! -L "$root/$d" ] && [ -d "$root/usr/$d" ]; then
    cp -a "$root/$d/." "$root/usr/$d/" && rm -rf "${root:?}/$d" && ln -s "usr/$d" "$root/$d"
  fi
done
[ -e "$root/lib" ] || ln -s usr/lib "$root/lib"

mkdir -p "$root/etc/dropbear" "$root/root/.ssh" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run" "$root/var/log"
qemu-aarch64 -L "$root" "$root/usr/bin/dropbearkey" -t ed25519 -f "$root/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1
qemu-aarch64 -L "$root" "$root/usr/bin/dropbearkey" -y -f "$root/etc/dropbear/dropbear_ed25519_host_key" 2>/dev/null |
  grep '^ssh-' > "$out/host_key.pub"
ssh-keygen -lf "$out/host_key.pub" | awk '{print $2}' > "$out/host_key.fingerprint"
cp "$client_key" "$root/root/.ssh/authorized_keys"
chmod 700 "$root/root/.ssh"; chmod 600 "$root/root/.ssh/authorized_keys"
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
PASSWD
printf 'root:x:0:\ntester:x:1000:\n' > "$root/etc/group"
printf '/bin/sh\n' > "$root/etc/shells"
mkdir -p "$root/home/tester/.ssh"
cp "$client_key" "$root/home/tester/.ssh/authorized_keys"
cat > "$root/init" <<'INIT'
#!/bin/sh
# The stand-in board's init: mounts, the network of qemu's user mode, Dropbear.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
chown -R 1000:1000 /home/tester
hostname standin
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "board: dropbear starting"
# -F foreground, -E log to stderr (the console), -s no passwords, -j/-k no forwarding
/usr/sbin/dropbear -F -E -s -j -k -p 22 -r /etc/dropbear/dropbear_ed25519_host_key &
while true; do wait; sleep 1; done
INIT
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/board.cpio.gz.tmp"
mv "$out/board.cpio.gz.tmp" "$out/board.cpio.gz"
echo "$inputs" > "$stamp"

#!/usr/bin/env bash
# Builds the arm64 Debian rootfs (minbase + kernel + the runtime packages) in an emulated chroot,
# following ../shared/reference/image.md section 4: debootstrap --foreign, the second stage under
# qemu-user (binfmt), and update-initramfs diverted BEFORE the kernel goes in (Tandem ships its
# own busybox initramfs; Debian's costs 9 min per run under qemu-user).
# usage: image/arch/arm64-rootfs.sh DIR [PACKAGE...]   (DIR must not exist; root only)
# The result is cached by the caller (keyed by this file and the package list); this script
# always builds from nothing, into DIR.partial, renamed to DIR when complete.
set -euo pipefail
dir="$1"; shift
packages=("$@")
[ "$(id -u)" = 0 ] || { echo "arm64-rootfs: needs root (debootstrap, chroot)" >&2; exit 1; }
here="$(cd "$(dirname "$0")" && pwd)"
# qemu-user through binfmt_misc (F flag: the chroot needs no copied interpreter).
"$here/arm64-binfmt.sh"

mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
partial="$dir.partial"
rm -rf "$partial"
mkdir -p "$(dirname "$dir")"

cleanup() {
  for m in dev/pts dev sys proc; do
    mountpoint -q "$partial/$m" 2>/dev/null && umount -l "$partial/$m" || true
  done
}
trap cleanup EXIT

start=$SECONDS
debootstrap --foreign --arch=arm64 --variant=minbase bookworm "$partial" "$mirror" >"$partial.log" 2>&1 \
  || { tail -20 "$partial.log" >&2; exit 1; }
echo "arm64-rootfs: stage 1 $((SECONDS - start)) s"
chroot "$partial" /debootstrap/debootstrap --second-stage >>"$partial.log" 2>&1 \
  || { tail -20 "$partial.log" >&2; exit 1; }
echo "arm64-rootfs: stage 2 $((SECONDS - start)) s"

# The same suites as the host (updates and security carry the nodejs the appliance pins).
cat >"$partial/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
# No update-initramfs in the emulated chroot (image.md section 4): divert it before the kernel.
chroot "$partial" dpkg-divert --local --rename --add /usr/sbin/update-initramfs >/dev/null
ln -sf /bin/true "$partial/usr/sbin/update-initramfs"
# No daemons started inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"; chmod 755 "$partial/usr/sbin/policy-rc.d"

mount -t proc proc "$partial/proc"; mount -t sysfs sys "$partial/sys"; mount --bind /dev "$partial/dev"
chroot "$partial" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c \
  "apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-image-arm64 ${packages[*]}" \
  >>"$partial.log" 2>&1 || { tail -20 "$partial.log" >&2; exit 1; }
chroot "$partial" apt-get clean
rm -f "$partial/usr/sbin/policy-rc.d"
cleanup
trap - EXIT
rm -rf "$partial/var/lib/apt/lists/"*
echo "arm64-rootfs: packages $((SECONDS - start)) s, $(du -sm "$partial" | cut -f1) MiB"
mv "$partial" "$dir"

#!/usr/bin/env bash
# Makes sure arm64 binaries run on this x86-64 host through qemu-user (binfmt_misc), as the
# arm64 rootfs build and the arm64 addon load check need; image.md section 0: binfmt_misc may
# not be mounted on a fresh machine, and update-binfmts then registers qemu-aarch64 with the F
# flag (the interpreter is opened at registration, so a chroot needs no copy of it).
set -euo pipefail
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  command -v update-binfmts >/dev/null || { echo "arm64-binfmt: install qemu-user-static and binfmt-support" >&2; exit 1; }
  update-binfmts --enable qemu-aarch64
fi
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || { echo "arm64-binfmt: qemu-aarch64 is registered but disabled" >&2; exit 1; }

// The arm64 target (64-bit ARM boards, qemu's virt machine): Debian arm64 built in an emulated
// chroot (image.md section 4), U-Boot's distro boot with image/uboot-script.ts, the kernel and
// initrd appended to each slot's squashfs (image/uboot-slot.ts: Debian's U-Boot has no sqfsload).

import type { ArchProfile } from '../profile.js';

export const arm64: ArchProfile = {
  arch: 'arm64',
  debianArch: 'arm64',
  kernelPackage: 'linux-image-arm64',
  extraPackages: [],
  moduleAllowlist: [
    // disks: virtio (qemu virt), SD/eMMC (boards), USB storage
    'drivers/virtio/', 'drivers/block/virtio_blk.ko', 'virtio_net', 'virtio_console', 'virtio_rng',
    'drivers/mmc/', 'drivers/usb/storage/', 'drivers/usb/host/', 'sd_mod', 'usbhid', 'hid_generic',
    // NICs of common arm64 boards (Realtek/Marvell/stmmac) and USB Ethernet
    'r8169', 'realtek', 'stmmac', 'dwmac-rk', 'dwmac-meson8b', 'mvneta', 'mvpp2', 'drivers/net/usb/', 'tun', 'veth',
    // filesystems: the root squashfs, /cfg ext4
    'fs/squashfs/', 'fs/overlayfs/', 'fs/ext4/', 'fs/jbd2/', 'fs/mbcache.ko', 'crc32c_generic',
    // the firewall, conntrack, bridging, VLANs
    'net/netfilter/', 'net/ipv4/netfilter/', 'net/ipv6/netfilter/', 'net/bridge/', 'net/8021q/',
    'net/packet/', 'net/ipv6/', 'net/802/', 'net/llc/',
    // board: LEDs, GPIO (onoff, gpio-sim), buttons, watchdogs
    'drivers/leds/', 'gpio-sim', 'gpio-keys', 'gpio_keys', 'gpio-keys-polled', 'gpio_keys_polled',
    'uinput', 'evdev', 'softdog', 'i6300esb',
  ],
  // virtio_pci and virtio_mmio are modules in Debian's arm64 kernel: qemu virt's disk sits behind one.
  initramfsModules: ['virtio_mmio', 'virtio_pci', 'virtio_blk', 'mmc_block', 'sdhci_of_arasan', 'sdhci_iproc', 'usb_storage', 'squashfs', 'ext4'],
  bootloader: 'uboot',
  // debootstrap's second stage and the addon check run arm64 binaries through qemu-user.
  hostSetup: 'image/arch/arm64-binfmt.sh',
  console: { device: 'ttyAMA0', baud: 115200 },
  // U-Boot reads no squashfs at all (the kernel sits after it); gzip boots faster than xz under TCG.
  squashfs: { compressor: 'gzip', options: ['-b', '1M'] },
  qemu: {
    binary: 'qemu-system-aarch64',
    args: ['-M', 'virt', '-cpu', 'cortex-a53', '-m', '512', '-nographic', '-serial', 'mon:stdio', '-bios', '/usr/lib/u-boot/qemu_arm64/u-boot.bin'],
  },
};

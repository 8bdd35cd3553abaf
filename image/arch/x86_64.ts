// The x86-64 target (PC Engines APU-class boards, qemu's pc machine): Debian amd64, the
// generic kernel (the cloud one lacks ahci, igb and sdhci: image.md section 1), GRUB i386-pc.

import type { ArchProfile } from '../profile.js';

export const x86_64: ArchProfile = {
  arch: 'x86_64',
  debianArch: 'amd64',
  kernelPackage: 'linux-image-amd64',
  extraPackages: [],
  moduleAllowlist: [
    // disks: SATA/IDE (APU, qemu's ide), SD/MMC, USB storage, virtio
    'drivers/ata/', 'sd_mod', 'sr_mod', 'drivers/mmc/', 'drivers/usb/storage/', 'drivers/usb/host/',
    'usbhid', 'hid_generic',
    'drivers/virtio/', 'drivers/block/virtio_blk.ko', 'virtio_net', 'virtio_console', 'virtio_rng',
    // NICs of APU boards and qemu
    'igb', 'r8169', 'e1000', 'e1000e', 'realtek', 'tun', 'veth',
    // filesystems: the root squashfs, /cfg ext4
    'fs/squashfs/', 'fs/overlayfs/', 'fs/ext4/', 'fs/jbd2/', 'fs/mbcache.ko', 'crc32c_generic', 'crc32c_intel',
    // the firewall, conntrack, bridging, VLANs
    'net/netfilter/', 'net/ipv4/netfilter/', 'net/ipv6/netfilter/', 'net/bridge/', 'net/8021q/',
    'net/packet/', 'net/ipv6/', 'net/802/', 'net/llc/',
    // board: LEDs, GPIO, buttons, watchdogs
    'drivers/leds/', 'pcengines-apuv2', 'gpio-amd-fch', 'gpio-keys-polled', 'gpio_keys_polled',
    'uinput', 'evdev', 'i6300esb', 'sp5100_tco', 'softdog',
    'i2c-piix4', 'i2c_piix4',
  ],
  initramfsModules: ['ata_piix', 'ahci', 'sd_mod', 'virtio_pci', 'virtio_blk', 'sdhci_pci', 'mmc_block', 'usb_storage', 'squashfs', 'ext4'],
  bootloader: 'grub',
  console: { device: 'ttyS0', baud: 115200 },
  // GRUB's squash4 reads xz and gzip, not zstd (contract 2). No BCJ filter: GRUB's embedded xz
  // decoder is only trusted here for the plain LZMA2 chain.
  squashfs: { compressor: 'xz', options: ['-b', '1M'] },
  qemu: {
    binary: 'qemu-system-x86_64',
    args: ['-accel', 'tcg', '-m', '512', '-nographic', '-serial', 'mon:stdio'],
  },
};

// What differs between target architectures (issue 15): one ArchProfile per arch in
// image/arch/<arch>.ts, read by the orchestrator (image/build.ts) and by every step. The
// steps never branch on the arch name; they read the profile's fields.

export type Arch = 'x86_64' | 'arm64';
export type Bootloader = 'grub' | 'uboot';

export interface ArchProfile {
  arch: Arch;
  /** Debian's name for it (debootstrap --arch, dpkg). */
  debianArch: 'amd64' | 'arm64';
  /** The kernel metapackage installed into the rootfs. */
  kernelPackage: string;
  /** Packages for this arch only, beside image/packages.ts's common list. */
  extraPackages: string[];
  /**
   * Kernel modules kept by the trim: a path prefix under /lib/modules/<kver>/kernel/ ending in
   * "/" keeps a whole tree, anything else is a module name (dashes and underscores alike).
   * Their dependencies (modules.dep) are kept too.
   */
  moduleAllowlist: string[];
  /** Loaded by the initramfs before it looks for the disk (plus their dependencies). */
  initramfsModules: string[];
  bootloader: Bootloader;
  /** A script (repo-relative) run before the rootfs step, e.g. registering qemu-user for a foreign arch. */
  hostSetup?: string;
  /** Kernel console, also where the init's shell and messages go. */
  console: { device: string; baud: number };
  /** mksquashfs compressor: the bootloader must be able to read the kernel out of it. */
  squashfs: { compressor: 'xz' | 'gzip'; options: string[] };
  /** How a test boots it under qemu (test/image/harness.ts reads this too). */
  qemu: { binary: string; args: string[] };
}

// The upgrade bundle's manifest.json (contract 5 of issue 15) and the build's version string
// (contract 1: package.json's version plus +g<short commit>, or --version).

import type { Arch, Bootloader } from './profile.js';

export interface Manifest {
  format: 1;
  product: 'tandem';
  version: string;
  arch: Arch;
  bootloader: Bootloader;
  created: string;
  rootfs: { sizeBytes: number; sha256: string };
}

export function buildManifest(fields: Omit<Manifest, 'format' | 'product'>): Manifest {
  return { format: 1, product: 'tandem', ...fields };
}

/** The exact bytes written as manifest.json (and signed). */
export function manifestBytes(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

/** Bundle member names in the order the reader expects them. */
export function bundleMembers(signed: boolean): string[] {
  return signed ? ['manifest.json', 'manifest.json.sig', 'rootfs.sqfs'] : ['manifest.json', 'rootfs.sqfs'];
}

export function versionString(packageVersion: string, shortCommit: string | undefined, override: string | undefined): string {
  if (override !== undefined) {
    if (!/^[0-9A-Za-z.+_-]{1,64}$/.test(override)) throw new Error(`--version: "${override}" must be 1-64 of [0-9A-Za-z.+_-]`);
    return override;
  }
  return shortCommit ? `${packageVersion}+g${shortCommit}` : packageVersion;
}

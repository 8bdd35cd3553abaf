// The arch profiles by name. arm64 (I2) adds its file beside x86_64.ts and one line here.

import type { Arch, ArchProfile } from '../profile.js';
import { arm64 } from './arm64.js';
import { x86_64 } from './x86_64.js';

export const PROFILES: Partial<Record<Arch, ArchProfile>> = { x86_64, arm64 };

export function profileFor(arch: string): ArchProfile {
  const profile = PROFILES[arch as Arch];
  if (!profile) throw new Error(`--arch: no profile for "${arch}" (have: ${Object.keys(PROFILES).join(', ')})`);
  return profile;
}

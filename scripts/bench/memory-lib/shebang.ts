// The environment the bundle's shebang sets (`#!/usr/bin/env -S NAME=VALUE... node FLAGS`, see
// scripts/build.mjs). Tests start the bundle as `node FLAGS bundle` (test/netns/peers.ts
// bundleCommand), which skips env's assignments: the benches add them so they measure the
// daemon as `tandem run` starts it.

import { readFileSync } from 'node:fs';
import { BUNDLE } from '../../../test/netns/peers.js';

export function shebangEnv(bundle: string = BUNDLE): Record<string, string> {
  const shebang = readFileSync(bundle, 'utf8').slice(0, 300).split('\n', 1)[0]!;
  const words = shebang.replace(/^#!\s*/, '').split(/\s+/).filter(Boolean);
  const env: Record<string, string> = {};
  for (const word of words.slice(1)) {
    if (word === 'node' || word.endsWith('/node')) break;
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(word);
    if (assignment) env[assignment[1]!] = assignment[2]!;
  }
  return env;
}

// Bundles the daemon into dist/tandem.mjs for Node 18 (the appliance) and 20+ (developers).
// The native addon stays outside the bundle: it is loaded from build/Release at run time.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const outfile = 'dist/tandem.mjs';
await build({
  entryPoints: ['firmware/bin.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'esm',
  sourcemap: 'linked',
  logLevel: 'warning',
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __tandemRequire } from 'node:module';\nconst require = __tandemRequire(import.meta.url);",
  },
});
await chmod(outfile, 0o755);

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
    // V8's memory reducer runs two compacting GCs 8 s after start (the heap grew while the bundle
    // was compiled, so setting the flag from inside is too late). Under load they paused the
    // master's adverts past a 23 ms master-down (scripts/bench/failover soak). The heap is small
    // and steady; the reducer saves about 1.5 MB.
    js: "#!/usr/bin/env -S node --no-memory-reducer-for-small-heaps\nimport { createRequire as __tandemRequire } from 'node:module';\nconst require = __tandemRequire(import.meta.url);",
  },
});
await chmod(outfile, 0o755);

// The inventory worker runs from its own file in its own thread (firmware/telemetry/inventory.ts
// looks for it beside the bundle), so systeminformation never loads into the daemon's heap.
await build({
  entryPoints: ['firmware/telemetry/inventory-worker.ts'],
  outfile: 'dist/inventory-worker.mjs',
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'esm',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __tandemRequire } from 'node:module';\nconst require = __tandemRequire(import.meta.url);" },
});

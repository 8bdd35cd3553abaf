// Bundles the daemon into dist/tandem.mjs for Node 18 (the appliance) and 20+ (developers).
// The native addon stays outside the bundle: it is loaded from build/Release at run time.
//
// Code splitting: what the daemon imports only when configured (mqtt.js for telemetry, net-snmp
// and the other power drivers, aedes for the demo) lands in chunks beside the entry, so a node
// that does not use them never reads their source into memory (4.5 MiB of RSS for an idle
// daemon, measured against one 2 MB file). Chunks sit flat in dist/ so that a module's
// `new URL('./x.mjs', import.meta.url)` finds its sibling whichever chunk it ended up in.
import { build } from 'esbuild';
import { chmod, readdir, unlink } from 'node:fs/promises';

const entry = 'dist/tandem.mjs';
const { metafile } = await build({
  entryPoints: {
    tandem: 'firmware/bin.ts',
    // The inventory worker runs from its own file in its own thread (firmware/telemetry/inventory.ts
    // looks for it beside the module that starts it), so systeminformation never loads into the
    // daemon's heap.
    'inventory-worker': 'firmware/telemetry/inventory-worker.ts',
  },
  outdir: 'dist',
  // readable-stream is a userland copy of Node's streams that mqtt.js, mqtt-packet and bl load;
  // Node's own (already in memory) does the same job. Measured on the daemon with telemetry on:
  // 64.5 MiB RSS with the copy, 55.3 MiB without (telemetry off: 53.5 MiB).
  alias: { 'readable-stream': 'node:stream' },
  // onoff (board GPIO lines) loads its epoll addon through `bindings`, which looks for the .node
  // file beside the package: it stays a package, imported at run time only when a GPIO line is
  // configured (the image puts it in /usr/lib/tandem/node_modules, which Node finds from dist/).
  external: ['onoff', 'epoll'],
  splitting: true,
  outExtension: { '.js': '.mjs' },
  chunkNames: '[name]-[hash]',
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'esm',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  banner: {
    // V8's memory reducer runs two compacting GCs 8 s after start (the heap grew while the bundle
    // was compiled, so setting the flag from inside is too late). Under load they paused the
    // master's adverts past a 23 ms master-down (scripts/bench/failover soak). The heap is small
    // and steady; the reducer saves about 1.5 MB. (Every output gets the line; only the entry's counts.)
    // Memory: --optimize-for-size (smaller optimized code, a young generation that grows less),
    // --v8-pool-size=1 (one V8 worker thread instead of four: fewer stacks and malloc arenas) and
    // MALLOC_ARENA_MAX=2 (set by env itself, no re-exec). scripts/bench/memory, three runs each,
    // old line against this one in the same session: idle 57.2 -> 56.2 MiB, relay under wrk
    // 69.4 -> 64.4 MiB at 7.8k -> 8.0k req/s; the balancer bench's ratios stay (tcp 0.98, http
    // 0.70) and the failover bench's loaded soak saw fewer false failovers (21 against 39).
    // Tried and left out (no gain beyond noise): --single-threaded-gc, --max-semi-space-size=1,
    // MALLOC_ARENA_MAX=1, MALLOC_TRIM/MMAP_THRESHOLD_, UV_THREADPOOL_SIZE=1, --max-lazy;
    // --no-opt saves 3.6 MiB but halves the relay's throughput.
    // --interrupt-budget=540672 (4x Node 20's default): a function must run four times as long
    // before V8 optimizes it, so the start-up code (config load, schemas, first checks) is never
    // handed to TurboFan and its 3-4 MiB of compiler code stay out of RSS at rest, while the relay
    // under load is optimized a little later: empty config 58.0 -> 54.3 MiB (same as --no-opt),
    // every capability on at rest 1.43x bare Node; scripts/bench/balancer, A/B twice in one
    // session: relay/haproxy tcp 0.82/0.83 without, 0.80/0.83 with; http 0.68/0.70, 0.64/0.73.
    js: "#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --no-memory-reducer-for-small-heaps --optimize-for-size --v8-pool-size=1 --interrupt-budget=540672\nimport { createRequire as __tandemRequire } from 'node:module';\nconst require = __tandemRequire(import.meta.url);",
  },
});
await chmod(entry, 0o755);
// Chunks are named by content hash: remove those of earlier builds (not before, so a daemon
// starting meanwhile finds its files).
const current = new Set(Object.keys(metafile.outputs).map((path) => path.replace(/^dist\//, '')));
for (const name of await readdir('dist')) {
  if (!current.has(name)) await unlink(`dist/${name}`).catch(() => undefined);
}
// The web UI: dist/ui/ (index.html, app.js, app.css), served by firmware/api/server.ts from beside
// the bundle; ui/build.mjs prints the gzipped sizes and fails over the 60 KB budget. (The
// clean-up above leaves dist/ui/ alone: unlink refuses a directory.)
const { buildUi } = await import('../ui/build.mjs');
await buildUi();

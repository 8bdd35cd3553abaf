// The memory settings reach the daemon as it is really started: the bundle exec'd through its
// shebang (`#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node FLAGS`, scripts/build.mjs) carries the
// environment and flags, and the memory bench's per-part table runs end to end (scripts/bench/memory).

import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatMemory, runMemory } from '../../scripts/bench/memory-lib/steps.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually, Lab, netnsUnavailable } from './lab.js';
import { BUNDLE, Workdir } from './peers.js';
import { sendControl } from '../../firmware/control/client.js';

const run = promisify(execFile);

describe('memory settings', { skip: netnsUnavailable() }, () => {
  it('the bundle run by its shebang has MALLOC_ARENA_MAX=2, --optimize-for-size and one V8 worker', { timeout: 60_000 }, async () => {
    const lab = await Lab.create({ hosts: 1 });
    const work = await Workdir.create();
    try {
      const dir = work.file('fw');
      await mkdir(dir, { recursive: true });
      const config = join(dir, 'tandem.json');
      const socket = join(dir, 'control.sock');
      await writeFile(config, JSON.stringify({ node: { name: 'fw', stateDir: join(dir, 'state') }, control: { socket } }));
      const child = lab.spawn(1, BUNDLE, ['run', '--config', config], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
      await eventually('the daemon to answer', async () => ((await sendControl(socket, { cmd: 'status' }, 1000)).ok ? true : undefined), 10_000);
      const pid = child.pid!;
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      assert.ok(environ.includes('MALLOC_ARENA_MAX=2'), environ.join(' '));
      for (const flag of ['--optimize-for-size', '--v8-pool-size=1', '--no-memory-reducer-for-small-heaps', '--interrupt-budget=540672']) assert.ok(cmdline.includes(flag), cmdline.join(' '));
      child.kill('SIGTERM');
    } finally {
      await lab.dispose();
      await work.dispose();
    }
  });

  it('scripts/bench/memory: each step measured against bare Node; the shebang takes V8 worker threads away', { timeout: 180_000 }, async (t) => {
    const common = { settleSeconds: 3, loadSeconds: 3, nodeFlags: [], env: {}, repeat: 1, idle: true, node: process.execPath };
    const withShebang = await runMemory({ ...common, steps: ['empty', 'carp'], shebang: true });
    const plain = await runMemory({ ...common, steps: ['empty'], shebang: false });
    t.diagnostic(formatMemory(withShebang));
    const bare = withShebang.find((r) => r.step === 'bare node')!;
    const empty = withShebang.find((r) => r.step === 'empty')!;
    const carp = withShebang.find((r) => r.step === 'carp')!;
    assert.ok(bare.rssMiB > 10 && empty.rssMiB > bare.rssMiB && carp.rssMiB > bare.rssMiB, formatMemory(withShebang));
    assert.ok((empty.regionsMiB['node binary'] ?? 0) > 5, 'smaps groups were read');
    // --v8-pool-size=1: three of V8's four platform workers are gone.
    const plainEmpty = plain.find((r) => r.step === 'empty')!;
    assert.ok(empty.threads <= plainEmpty.threads - 3, `threads ${empty.threads} with the shebang, ${plainEmpty.threads} without`);
  });

  // Issue 14 item 6: the whole daemon within 1.5x bare Node's RSS with every capability on (CARP,
  // firewall, a relay pool with http checks, telemetry to mosquitto, the power manager, the API
  // after a browser's first requests), at rest, on the appliance's Node 18 and on this host's
  // Node. Under a saturating relay load the heap grows before V8 collects it (scripts/bench/memory
  // without --idle, figures in the README); that is reported, not held to the budget.
  for (const [runtime, node] of [
    ['the appliance\'s Node 18', fileURLToPath(new URL('../../scripts/node18', import.meta.url))],
    ['this host\'s Node', process.execPath],
  ] as const) {
    it(`every capability on, at rest, on ${runtime}: at most 1.5x bare Node's RSS`, { timeout: 360_000 }, async (t) => {
      // On a fresh clone scripts/node18 first fetches and unpacks Debian's .debs: not inside the
      // daemon's 10 s start-up wait.
      await run(node, ['-e', '0'], { timeout: 120_000 });
      const results = await runMemory({ steps: ['api'], settleSeconds: 8, loadSeconds: 3, nodeFlags: [], env: {}, repeat: 1, idle: true, node, shebang: true });
      t.diagnostic(formatMemory(results, true));
      const bare = results.find((r) => r.step === 'bare node')!;
      const all = results.find((r) => r.step === 'api')!;
      assert.ok(all.heapMiB !== undefined && all.heapMiB > 1, 'the daemon answered with its heap');
      assert.ok(all.rssMiB <= 1.5 * bare.rssMiB, `${all.rssMiB.toFixed(1)} MiB against bare Node's ${bare.rssMiB.toFixed(1)} MiB (${(all.rssMiB / bare.rssMiB).toFixed(2)}x)`);
    });
  }
});

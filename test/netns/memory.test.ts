// The memory settings reach the daemon as it is really started: the bundle exec'd through its
// shebang (`#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node FLAGS`, scripts/build.mjs) carries the
// environment and flags, and the memory bench's per-part table runs end to end (scripts/bench/memory).

import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatMemory, runMemory } from '../../scripts/bench/memory-lib/steps.js';
import { eventually, Lab, netnsUnavailable } from './lab.js';
import { BUNDLE, Workdir } from './peers.js';
import { sendControl } from '../../firmware/control/client.js';

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
      for (const flag of ['--optimize-for-size', '--v8-pool-size=1', '--no-memory-reducer-for-small-heaps']) assert.ok(cmdline.includes(flag), cmdline.join(' '));
      child.kill('SIGTERM');
    } finally {
      await lab.dispose();
      await work.dispose();
    }
  });

  it('scripts/bench/memory: each step measured against bare Node; the shebang takes V8 worker threads away', { timeout: 180_000 }, async (t) => {
    const common = { settleSeconds: 3, loadSeconds: 3, nodeFlags: [], env: {}, repeat: 1 };
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
});

// The inventory worker of the shipped bundle (dist/inventory-worker.mjs) under a realtime
// daemon: a child process inherits its creator's SCHED_RR, so the worker must step down to
// SCHED_OTHER at nice 19 before systeminformation forks anything (firmware/telemetry/
// inventory-worker.ts). Run under chrt(1) on Node 20 and on Debian's Node 18, as root.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { netnsUnavailable } from './lab.js';

const run = promisify(execFile);
const WORKER = fileURLToPath(new URL('../../dist/inventory-worker.mjs', import.meta.url));
const NODE18 = fileURLToPath(new URL('../../scripts/node18', import.meta.url));
const skip = netnsUnavailable() ?? (existsSync(WORKER) ? undefined : 'dist/inventory-worker.mjs is not built (npm run build)');

async function gatherUnderRealtime(node: string[]): Promise<{ ok: boolean; inventory: { os: { platform: string }; scheduling: { inheritedPolicy: number; policy: number; nice: number } } }> {
  // chrt -r 5: the worker starts under SCHED_RR priority 5, as a child of a realtime daemon does.
  const { stdout } = await run('chrt', ['-r', '5', ...node, WORKER], { timeout: 90_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('inventory worker under SCHED_RR', { skip }, () => {
  it('steps down to SCHED_OTHER at nice 19 on Node 20', { timeout: 100_000 }, async () => {
    const answer = await gatherUnderRealtime([process.execPath]);
    assert.equal(answer.ok, true);
    assert.equal(answer.inventory.os.platform, 'linux');
    assert.deepEqual(answer.inventory.scheduling && [answer.inventory.scheduling.inheritedPolicy, answer.inventory.scheduling.policy, answer.inventory.scheduling.nice], [2, 0, 19]);
  });

  it('and on Debian\'s Node 18 (the appliance runtime)', { timeout: 200_000 }, async () => {
    const answer = await gatherUnderRealtime([NODE18]);
    assert.equal(answer.ok, true);
    assert.deepEqual([answer.inventory.scheduling.inheritedPolicy, answer.inventory.scheduling.policy, answer.inventory.scheduling.nice], [2, 0, 19]);
  });
});

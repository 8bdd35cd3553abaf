// Tandem supervising the real conntrackd (netns, the built bundle): a conntrackd killed with -9
// leaves its lock file behind, and Tandem removes it and starts conntrackd again with backoff;
// a clean stop of Tandem (SIGTERM) ends conntrackd, and kill -9 of Tandem takes it along.

import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireRoot } from './lab.js';
import { Router, SyncLab, until } from '../../scripts/bench/sync-lib/lab.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('conntrackd supervised by Tandem (netns, real daemons)', { timeout: 120_000 }, () => {
  it('restarts a killed conntrackd past its stale lock, and ends it with Tandem', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const dir = await mkdtemp(join(tmpdir(), 'tandem-sync-'));
    const lab = await SyncLab.create(dir);
    try {
      const r1 = await Router.start(lab, 'r1', { advskew: 0, sync: true });
      const r2 = await Router.start(lab, 'r2', { advskew: 100, sync: true });
      const running = async (r: Router, not?: number) => {
        const c = (await r.status()).sync?.conntrack;
        return c?.running && c.pid !== undefined && c.pid !== not ? c.pid : undefined;
      };
      const first = await until('r1 conntrackd', () => running(r1), 10_000);
      lab.pids.add(first);
      const r2pid = await until('r2 conntrackd', () => running(r2), 10_000);
      lab.pids.add(r2pid);
      assert.ok(existsSync(join(r1.dir, 'conntrackd.lock')));
      await until("conntrackd's own log lines in Tandem's", async () => (r1.output.includes('"msg":"conntrackd: initialization completed"') ? true : undefined), 5000);

      process.kill(first, 'SIGKILL');
      const second = await until('a new r1 conntrackd', () => running(r1, first), 10_000);
      lab.pids.add(second);
      const status = (await r1.status()).sync!.conntrack!;
      assert.equal(status.restarts, 1);
      assert.match(status.lastExit ?? '', /signal SIGKILL/);
      assert.ok(alive(second));

      // kill -9 of Tandem: setpriv's parent-death signal takes conntrackd along.
      r1.kill9();
      await r1.exited;
      await until('r1 conntrackd to die with Tandem', async () => (alive(second) ? undefined : true), 5000);

      // A clean stop: SIGTERM, and conntrackd removes its lock.
      r2.child.kill('SIGTERM');
      await r2.exited;
      await until('r2 conntrackd to stop', async () => (alive(r2pid) ? undefined : true), 5000);
      assert.equal(existsSync(join(r2.dir, 'conntrackd.lock')), false);
    } finally {
      await lab.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

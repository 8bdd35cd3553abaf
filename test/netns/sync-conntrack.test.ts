// Connections survive a failover (issue 13, first "Done when"): two real Tandem daemons (the
// built bundle) hold LAN/WAN VIPs by CARP, each starting Debian's conntrackd itself; a client's
// server-push TCP stream and UDP flow through the VIP with SNAT go on after kill -9 plus a link
// cut of the master. The same lab without `sync` shows both flows stall: the test proves the difference.

import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { requireRoot } from './lab.js';
import { FLOWS, Router, SERVER, SERVER6, SyncLab, sleep, until } from '../../scripts/bench/sync-lib/lab.js';
import { parseConntrackStats } from '../../firmware/sync/conntrack-stats.js';

interface FlowState {
  tcpBytes: number;
  tcpLastAt: number;
  tcpError: string | null;
  tcpClosed: boolean;
  tcpMaxGap: number;
  udpCount: number;
  udpLastAt: number;
  udpMaxGap: number;
}

function watchClient(child: ChildProcess): () => FlowState | undefined {
  let last: FlowState | undefined;
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) if (line.startsWith('{')) last = JSON.parse(line) as FlowState;
  });
  return () => last;
}

async function failover(sync: boolean, transport: 'udp' | 'multicast' = 'udp', firewall = false, ipv6 = false): Promise<{ before: FlowState; after: FlowState; takeoverAt: number; r2: Router; lab: SyncLab; read: () => FlowState | undefined; dispose: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-sync-'));
  const lab = await SyncLab.create(dir, { nft: !firewall, ipv6 });
  const dispose = async () => {
    await lab.dispose();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const r1 = await Router.start(lab, 'r1', { advskew: 0, sync, transport, firewall, ipv6 });
    await until('r1 MASTER of both vhids', async () => ((await r1.state(1)) === 'MASTER' && (await r1.state(2)) === 'MASTER' ? true : undefined), 10_000);
    const r2 = await Router.start(lab, 'r2', { advskew: 100, sync, transport, firewall, ipv6 });
    await until('r2 BACKUP', async () => ((await r2.state(1)) === 'BACKUP' && (await r2.state(2)) === 'BACKUP' ? true : undefined), 10_000);
    if (sync) {
      for (const r of [r1, r2]) {
        const pid = await until(`${r.node}'s conntrackd running`, async () => {
          const c = (await r.status()).sync?.conntrack;
          return c?.running && c.lastSteps?.done ? c.pid : undefined;
        }, 10_000);
        if (pid !== undefined) lab.pids.add(pid);
      }
    }

    const server = lab.spawn('srv', process.execPath, [FLOWS, 'server', '5001', '5002', '1000', ...(ipv6 ? ['v6'] : [])]);
    await until('the server to listen', async () => (server.stdout!.read() as Buffer | null)?.toString().includes('listening') || undefined, 5000, 50);
    const read = watchClient(lab.spawn('cl', process.execPath, [FLOWS, 'client', ipv6 ? SERVER6 : SERVER, '5001', '5002']));
    await until('both flows to carry data', async () => {
      const s = read();
      return s && s.tcpBytes > 64 * 25 && s.udpCount > 25 ? true : undefined;
    }, 10_000);

    if (sync) {
      // The backup's external cache holds both flows before the master dies.
      await until('r2 to hold the flows in its external cache', async () => {
        const result = await lab.exec('r2', '/usr/sbin/conntrackd', ['-C', r2.conntrackdConf, '-s']);
        const stats = parseConntrackStats(result.stdout);
        return stats && stats.external >= 2 ? true : undefined;
      }, 10_000);
    }
    await sleep(500);
    const before = read()!;
    r1.kill9();
    await lab.cut('r1');
    const diedAt = Date.now();
    await until('r2 MASTER of both vhids', async () => ((await r2.state(1)) === 'MASTER' && (await r2.state(2)) === 'MASTER' ? true : undefined), 10_000);
    const takeoverAt = Date.now();
    assert.ok(takeoverAt - diedAt < 8000);
    // TCP resumes on its next retransmission; its backoff doubles (0.2, 0.4 ... 3.2 s after death).
    await until('both flows to carry data again', async () => {
      const s = read();
      return s && s.tcpLastAt > takeoverAt && s.udpLastAt > takeoverAt ? true : undefined;
    }, 12_000).catch(() => undefined);
    await sleep(1000);
    return { before, after: read()!, takeoverAt, r2, lab, read, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

describe('conntrackd state sync through a failover (netns, real daemons)', { timeout: 240_000 }, () => {
  it('with sync.conntrack the server-push TCP stream and the UDP flow survive kill -9 plus link cut of the master', { timeout: 110_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const run = await failover(true);
    try {
      const { before, after, takeoverAt } = run;
      t.diagnostic(`longest silence: tcp ${after.tcpMaxGap} ms, udp ${after.udpMaxGap} ms (CARP detection ~3 s of it)`);
      assert.equal(after.tcpError, null, 'no reset or error on the client socket');
      assert.equal(after.tcpClosed, false);
      assert.ok(after.tcpBytes > before.tcpBytes, 'the TCP stream went on');
      assert.ok(after.tcpLastAt > takeoverAt, 'TCP data arrived after the backup took over');
      assert.ok(after.udpCount > before.udpCount && after.udpLastAt > takeoverAt, 'the UDP flow went on');
      const conntrack = (await run.r2.status()).sync?.conntrack;
      assert.ok(conntrack?.running);
      assert.equal(conntrack.lastSteps?.to, 'MASTER');
      assert.deepEqual(conntrack.lastSteps?.steps.map((s) => `${s.step}:${s.outcome}`), ['ensureRunning:ok', 'commit:ok', 'flush:ok', 'resync:ok', 'bulkSend:ok']);
      // The committed flows are in the new master's kernel table with the VIP as NAT address.
      const table = await run.lab.exec('r2', 'conntrack', ['-L', '-d', SERVER]);
      assert.match(table.stdout, /dport=5001 .*dst=203\.0\.113\.1 /);
      assert.match(table.stdout, /udp .*dport=5002 /);
    } finally {
      await run.dispose();
    }
  });

  it('with multicast FTFW instead of UDP unicast the stream survives too', { timeout: 110_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const run = await failover(true, 'multicast');
    try {
      const { before, after, takeoverAt } = run;
      t.diagnostic(`longest silence: tcp ${after.tcpMaxGap} ms, udp ${after.udpMaxGap} ms`);
      assert.equal(after.tcpError, null);
      assert.ok(after.tcpBytes > before.tcpBytes && after.tcpLastAt > takeoverAt, 'the TCP stream went on');
      assert.ok(after.udpLastAt > takeoverAt, 'the UDP flow went on');
      const conntrack = (await run.r2.status()).sync?.conntrack;
      assert.equal(conntrack?.transport, 'multicast');
      assert.ok((conntrack?.counters?.packetsReceived ?? 0) > 0, `sync messages arrived: ${JSON.stringify(conntrack?.counters)}`);
    } finally {
      await run.dispose();
    }
  });

  it("with Tandem's firewall section (zones, NAT to the VIP, the HA built-ins) and the link taken from the sync zone", { timeout: 110_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const run = await failover(true, 'udp', true);
    try {
      const { before, after, takeoverAt } = run;
      t.diagnostic(`longest silence: tcp ${after.tcpMaxGap} ms, udp ${after.udpMaxGap} ms`);
      assert.equal(after.tcpError, null);
      assert.ok(after.tcpBytes > before.tcpBytes && after.tcpLastAt > takeoverAt, 'the TCP stream went on');
      assert.ok(after.udpLastAt > takeoverAt, 'the UDP flow went on');
      const ruleset = await run.lab.exec('r2', 'nft', ['list', 'table', 'inet', 'tandem']);
      assert.match(ruleset.stdout, /udp dport 3780/, 'the state-sync built-in is in force');
      assert.equal((await run.r2.status()).sync?.conntrack?.interface, 'sync');
    } finally {
      await run.dispose();
    }
  });

  it('IPv6 flows (TCP and UDP through NAT66 to the IPv6 VIP) survive too', { timeout: 110_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const run = await failover(true, 'udp', false, true);
    try {
      const { before, after, takeoverAt } = run;
      t.diagnostic(`longest silence: tcp ${after.tcpMaxGap} ms, udp ${after.udpMaxGap} ms`);
      assert.equal(after.tcpError, null);
      assert.ok(after.tcpBytes > before.tcpBytes && after.tcpLastAt > takeoverAt, 'the TCP stream went on');
      assert.ok(after.udpLastAt > takeoverAt, 'the UDP flow went on');
      const table = await run.lab.exec('r2', 'conntrack', ['-L', '-f', 'ipv6', '-d', SERVER6]);
      assert.match(table.stdout, /dport=5001 .*dst=2001:db8:2::1 /, 'the committed entry NATs to the IPv6 VIP');
    } finally {
      await run.dispose();
    }
  });

  it('the old master comes back as BACKUP, resyncs from the new one (-n), and takes the stream back on a planned switch-over', { timeout: 110_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const run = await failover(true);
    try {
      const { lab, r2, read } = run;
      assert.ok(read()!.tcpLastAt > run.takeoverAt, 'the stream survived the failover');
      await lab.restore('r1');
      const r1 = await Router.start(lab, 'r1', { advskew: 0, sync: true });
      // Without preempt it stays BACKUP under r2, and its BACKUP row fetches r2's states.
      await until('r1 BACKUP with its steps done', async () => {
        const s = await r1.status();
        const c = s.sync?.conntrack;
        if (c?.pid !== undefined) lab.pids.add(c.pid);
        return s.carp.every((v) => v.state === 'BACKUP') && c?.lastSteps?.to === 'BACKUP' && c.lastSteps.done ? c : undefined;
      }, 15_000);
      const c1 = (await r1.status()).sync!.conntrack!;
      assert.deepEqual(c1.lastSteps!.steps.map((s) => `${s.step}:${s.outcome}`), ['ensureRunning:ok', 'shortenTimers:ok', 'requestResync:ok']);
      await until("r1's external cache to hold the flows (from r2's resync)", async () => {
        const result = await lab.exec('r1', '/usr/sbin/conntrackd', ['-C', r1.conntrackdConf, '-s']);
        const stats = parseConntrackStats(result.stdout);
        return stats && stats.external >= 2 ? true : undefined;
      }, 10_000);

      await r2.control({ cmd: 'failover' });
      await until('r1 MASTER again', async () => ((await r1.state(1)) === 'MASTER' && (await r1.state(2)) === 'MASTER' ? true : undefined), 10_000);
      const backAt = Date.now();
      await until('the stream through r1 again', async () => {
        const s = read();
        return s && s.tcpLastAt > backAt + 500 && s.udpLastAt > backAt + 500 ? true : undefined;
      }, 12_000);
      const after = read()!;
      t.diagnostic(`longest silence over both moves: tcp ${after.tcpMaxGap} ms, udp ${after.udpMaxGap} ms`);
      assert.equal(after.tcpError, null);
      assert.equal(after.tcpClosed, false);
      const steps = (await r1.status()).sync!.conntrack!.lastSteps!;
      assert.equal(steps.to, 'MASTER');
      assert.ok(steps.steps.every((s) => s.outcome === 'ok'), JSON.stringify(steps));
    } finally {
      await run.dispose();
    }
  });

  it('without sync the same failover leaves both flows stalled (the control run)', { timeout: 110_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const run = await failover(false);
    try {
      const { before, after, takeoverAt } = run;
      assert.equal((await run.r2.status()).sync, undefined);
      assert.ok(after.tcpLastAt < takeoverAt, `no TCP data after the takeover (last ${after.tcpLastAt - takeoverAt} ms after it)`);
      assert.ok(after.udpLastAt < takeoverAt, 'no UDP data after the takeover');
      assert.ok(after.tcpBytes - before.tcpBytes < 64 * 50 * 2, 'at most what was in flight before the death');
    } finally {
      await run.dispose();
    }
  });
});

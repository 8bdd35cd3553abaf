// The daemon's wiring of telemetry.prometheus.listen (firmware/daemon.ts): /metrics is served
// once the daemon starts, moves on a reload that changes the address, closes on a reload that
// drops it and on stop; a port already taken is logged and the daemon runs on. A Daemon on a
// simulated segment and a FakeClock, with a fake /proc and /sys tree; HTTP on loopback.

import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../../firmware/config/schema.js';
import { Daemon } from '../../../firmware/daemon.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { ProcSysSource } from '../../../firmware/telemetry/proc.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function config(listen?: string): TandemConfig {
  const { value, issues } = validate(configSchema, {
    node: { name: 'fw-a', stateDir: '/var/lib/tandem' },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret' }],
    ...(listen ? { telemetry: { prometheus: { listen } } } : {}),
  });
  assert.ok(value, JSON.stringify(issues));
  return value;
}

async function scrape(port: number): Promise<string | undefined> {
  try {
    const reply = await fetch(`http://127.0.0.1:${port}/metrics`);
    return reply.status === 200 ? await reply.text() : undefined;
  } catch {
    return undefined;
  }
}

describe('daemon: telemetry.prometheus.listen', () => {
  it('serves from start, moves on reload, closes when dropped and on stop; a taken port is logged', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tandem-prom-daemon-'));
    await mkdir(join(root, 'proc'), { recursive: true });
    await writeFile(join(root, 'proc/loadavg'), '1.50 0.75 0.25 1/100 999\n');
    const [a, b] = [await freePort(), await freePort()];
    let next = config(`127.0.0.1:${a}`);
    const clock = new FakeClock();
    const segment = new Segment(clock, { seed: 5 });
    segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
    const host = segment.host('fw-a');
    const logs: { level: string; msg: string }[] = [];
    const daemon = new Daemon(
      next,
      {
        clock,
        files: new MemoryFileStore(),
        processes: new FakeProcessRunner(),
        packets: host,
        addresses: host,
        announcer: host,
        links: host,
        log: createLogger('debug', (line) => logs.push(JSON.parse(line) as { level: string; msg: string })),
        system: new ProcSysSource(root),
      },
      async () => ({ ok: true, config: next }),
    );
    let blocker: Server | undefined;
    try {
      await daemon.start();
      await clock.advance(3500);
      const first = await scrape(a);
      assert.ok(first, 'served on the first address');
      assert.match(first, /^tandem_carp_state\{vhid="42",interface="eth0"\} 2$/m);
      // The fake tree is what the daemon reads: its load average, nothing from the real /proc.
      assert.match(first, /^tandem_node_load1 1.5$/m);
      assert.ok(!first.includes('tandem_node_cpu_seconds_total'), 'no /proc/stat in the fake tree');

      next = config(`127.0.0.1:${b}`);
      assert.deepEqual(await daemon.reload(), { ok: true });
      assert.equal(await scrape(a), undefined, 'the old address is closed');
      assert.ok(await scrape(b), 'served on the new address');

      next = config();
      assert.deepEqual(await daemon.reload(), { ok: true });
      assert.equal(await scrape(b), undefined, 'closed when the key is dropped');

      // Someone else holds the port: the daemon says so and runs on.
      blocker = createServer();
      await new Promise<void>((resolve) => blocker!.listen(a, '127.0.0.1', resolve));
      next = config(`127.0.0.1:${a}`);
      assert.deepEqual(await daemon.reload(), { ok: true });
      assert.ok(logs.some((l) => l.level === 'error' && /prometheus metrics not served on 127\.0\.0\.1:\d+: .*EADDRINUSE/.test(l.msg)), JSON.stringify(logs.filter((l) => l.level === 'error')));
      assert.equal(daemon.status().carp[0]!.state, 'MASTER');

      await new Promise((resolve) => blocker!.close(resolve));
      blocker = undefined;
      next = config(`127.0.0.1:${b}`);
      await daemon.reload();
      assert.ok(await scrape(b));
    } finally {
      await daemon.stop();
      blocker?.close();
      await rm(root, { recursive: true, force: true });
    }
    assert.equal(await scrape(b), undefined, 'closed on stop');
  });
});

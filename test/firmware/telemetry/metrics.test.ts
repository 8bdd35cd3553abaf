// Tests for the system readers (firmware/telemetry/proc.ts) against proc(5)/sysfs text and a
// fake /proc + /sys tree in a temp dir, the same contract against this machine's real /, the
// collector's MQTT payload (firmware/telemetry/metrics.ts), and the inventory worker.

import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';

import { FakeClock } from '../../../firmware/os/clock.js';
import { ProcessInventory } from '../../../firmware/telemetry/inventory.js';
import { MetricsCollector, nodeProcess } from '../../../firmware/telemetry/metrics.js';
import { cpuPercent, parseLoadavg, parseMeminfo, parseProcStat, ProcSysSource, type SystemSample } from '../../../firmware/telemetry/proc.js';
import { processFixture, statusFixture, systemFixture } from './metrics-fixture.js';

const PROC_STAT = `cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
cpu1 1335308 34456 574545 13420284 3254 0 4201 0 23432 0
intr 1462898 0 0 0
ctxt 2453210
btime 1700000000
`;

const MEMINFO = `MemTotal:        2014236 kB
MemFree:          112344 kB
MemAvailable:    1220844 kB
Buffers:           52104 kB
Cached:          1010040 kB
SwapCached:            0 kB
SwapTotal:        524284 kB
SwapFree:         524000 kB
Hugepagesize:       2048 kB
`;

describe('proc(5) parsers', () => {
  it('reads the aggregate cpu line in seconds (USER_HZ 100) and counts the cpuN lines', () => {
    const parsed = parseProcStat(PROC_STAT);
    assert.ok(parsed);
    assert.equal(parsed.cpuCount, 2);
    assert.equal(parsed.cpu.user, 101321.53);
    assert.equal(parsed.cpu.idle, 468284.83);
    assert.equal(parsed.cpu.iowait, 166.83);
    assert.equal(parsed.cpu.steal, 0);
  });

  it('refuses a stat without a usable cpu line', () => {
    assert.equal(parseProcStat('intr 1 2 3\n'), undefined);
    assert.equal(parseProcStat('cpu  1 2\n'), undefined);
    assert.equal(parseProcStat('cpu  1 2 x 4\n'), undefined);
  });

  it('reads meminfo in bytes, MemAvailable or the pre-3.14 approximation', () => {
    const m = parseMeminfo(MEMINFO);
    assert.deepEqual(m, {
      totalBytes: 2014236 * 1024,
      freeBytes: 112344 * 1024,
      availableBytes: 1220844 * 1024,
      buffersBytes: 52104 * 1024,
      cachedBytes: 1010040 * 1024,
      swapTotalBytes: 524284 * 1024,
      swapFreeBytes: 524000 * 1024,
    });
    const old = parseMeminfo(MEMINFO.replace(/^MemAvailable.*\n/m, ''));
    assert.equal(old?.availableBytes, (112344 + 52104 + 1010040) * 1024);
    assert.equal(parseMeminfo('SwapTotal: 0 kB\n'), undefined);
  });

  it('reads loadavg', () => {
    assert.deepEqual(parseLoadavg('0.52 0.58 0.59 1/389 12345\n'), [0.52, 0.58, 0.59]);
    assert.equal(parseLoadavg('0.52 x\n'), undefined);
  });

  it('computes busy percent between two samples, iowait counted as idle', () => {
    const zero = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
    const rows: [Partial<typeof zero>, Partial<typeof zero>, number | undefined][] = [
      [{ user: 10, idle: 90 }, { user: 20, idle: 180 }, 10],
      [{ user: 10, idle: 90 }, { user: 110, idle: 90 }, 100],
      [{ idle: 50, iowait: 50 }, { idle: 100, iowait: 100 }, 0],
      [{ user: 1, system: 1, idle: 8 }, { user: 2, system: 3, idle: 15, softirq: 0 }, 30],
      [{ user: 5 }, { user: 5 }, undefined],
    ];
    for (const [a, b, expected] of rows) assert.equal(cpuPercent({ ...zero, ...a }, { ...zero, ...b }), expected, JSON.stringify([a, b]));
  });
});

describe('ProcSysSource on a fake /proc and /sys tree', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tandem-proc-'));
    const put = async (path: string, text: string) => {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
    };
    await put('proc/stat', PROC_STAT);
    await put('proc/meminfo', MEMINFO);
    await put('proc/loadavg', '0.52 0.58 0.59 1/389 12345\n');
    const files = ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'rx_errors', 'tx_errors', 'rx_dropped', 'tx_dropped'];
    for (const [i, file] of files.entries()) await put(`sys/class/net/eth0/statistics/${file}`, `${(i + 1) * 100}\n`);
    await put('sys/class/net/lo/statistics/rx_bytes', '7\n');
    // A file, not a link, in the same directory (the bonding driver puts one there).
    await put('sys/class/net/bonding_masters', 'bond0\n');
    await put('sys/class/thermal/thermal_zone0/temp', '47500\n');
    await put('sys/class/thermal/thermal_zone0/type', 'acpitz\n');
    await put('sys/class/thermal/thermal_zone10/temp', '61000\n');
    await put('sys/class/thermal/thermal_zone10/type', 'x86_pkg_temp\n');
    await put('sys/class/thermal/thermal_zone2/temp', '');
    await put('sys/class/thermal/thermal_zone2/type', 'sleeping\n');
    await put('sys/class/thermal/cooling_device0/type', 'Fan\n');
  });
  after(async () => rm(root, { recursive: true, force: true }));

  it('reads every part, skipping non-links, unreadable zones and cooling devices', async () => {
    const sample = await new ProcSysSource(root).sample();
    assert.equal(sample.cpuCount, 2);
    assert.equal(sample.cpu?.system, 30847.19);
    assert.equal(sample.memory?.availableBytes, 1220844 * 1024);
    assert.deepEqual(sample.load, [0.52, 0.58, 0.59]);
    assert.deepEqual(Object.keys(sample.interfaces), ['eth0', 'lo']);
    assert.deepEqual(sample.interfaces['eth0'], {
      rxBytes: 100, txBytes: 200, rxPackets: 300, txPackets: 400, rxErrors: 500, txErrors: 600, rxDropped: 700, txDropped: 800,
    });
    // A missing statistics file reads as 0, not as a dropped interface.
    assert.deepEqual(sample.interfaces['lo'], { rxBytes: 7, txBytes: 0, rxPackets: 0, txPackets: 0, rxErrors: 0, txErrors: 0, rxDropped: 0, txDropped: 0 });
    assert.deepEqual(sample.thermal, [
      { zone: 'thermal_zone0', type: 'acpitz', celsius: 47.5 },
      { zone: 'thermal_zone10', type: 'x86_pkg_temp', celsius: 61 },
    ]);
  });

  it('gives an empty sample, not an error, where nothing exists', async () => {
    const sample = await new ProcSysSource(join(root, 'nowhere')).sample();
    assert.deepEqual(sample, { interfaces: {}, thermal: [] });
  });
});

describe('ProcSysSource on this machine', () => {
  it('reads the real /proc and /sys with the same shape', async () => {
    const sample = await new ProcSysSource().sample();
    assert.ok(sample.cpu && sample.cpu.idle > 0, 'cpu times');
    assert.ok((sample.cpuCount ?? 0) >= 1);
    assert.ok(sample.memory && sample.memory.totalBytes > sample.memory.availableBytes);
    assert.equal(sample.load?.length, 3);
    assert.ok(sample.interfaces['lo'], 'the loopback interface');
    for (const z of sample.thermal) assert.ok(z.celsius > -50 && z.celsius < 150, JSON.stringify(z));
  });
});

describe('MetricsCollector', () => {
  it('shapes the metrics payload; CPU percent covers the time since the previous collect', async () => {
    const clock = new FakeClock();
    const samples: SystemSample[] = [systemFixture(900, 100), systemFixture(1350, 150)];
    let reads = 0;
    const collector = new MetricsCollector({
      clock,
      system: { sample: async () => samples[Math.min(reads++, samples.length - 1)]! },
      process: { sample: () => processFixture },
      status: () => statusFixture(),
    });
    const first = await collector.collect();
    assert.equal(first.cpu.percent, 10, 'since boot');
    assert.equal(first.time, new Date(clock.now()).toISOString());
    assert.deepEqual(first.cpu, { percent: 10, cores: 2, load: [0.5, 0.25, 0.125] });
    assert.deepEqual(first.memory, { totalBytes: 1024 ** 3, availableBytes: 512 * 1024 ** 2, usedPercent: 50 });
    assert.deepEqual(first.temperature, { maxCelsius: 47.5, zones: [{ zone: 'thermal_zone0', type: 'acpitz', celsius: 47.5 }] });
    assert.deepEqual(first.carp, [{ vhid: 42, interface: 'eth0', state: 'MASTER', demote: 50, sent: 10, received: 9, dropped: 6 }]);
    assert.deepEqual(first.pools, [{ name: 'web', state: 'degraded', demote: 0, hostsUp: 1, hosts: 2, connections: 3, requestsPerSecond: 4.5 }]);
    assert.deepEqual(first.unmatched, { eth1: { badVhid: 7 } });
    assert.deepEqual(first.telemetry, { connected: true, queued: 4, dropped: 2 });
    assert.deepEqual(first.process, { rssBytes: 60 * 1024 ** 2, heapUsedBytes: 20 * 1024 ** 2, cpuSeconds: 1.75 });
    assert.equal(first.demotion, 50);
    assert.deepEqual(first.energy, { kWh: 2.5, savedKWh: 1.5, savedFraction: 0.375, hostsParked: 1, hosts: 2 });
    assert.equal(first.inventory, undefined);
    await clock.advance(60_000);
    const second = await collector.collect();
    // (150-100) busy of (1500-1000) total.
    assert.equal(second.cpu.percent, 10);
    assert.equal(second.time, new Date(clock.now()).toISOString());
    // snapshot() is for scrapers and leaves collect()'s baseline alone.
    await collector.snapshot();
    samples.push(systemFixture(1350 + 100, 150 + 100));
    assert.equal((await collector.collect()).cpu.percent, 50);
  });

  it('leaves out what the machine does not offer', async () => {
    const collector = new MetricsCollector({
      clock: new FakeClock(),
      system: { sample: async () => ({ interfaces: {}, thermal: [] }) },
      process: nodeProcess,
      status: () => statusFixture({ telemetry: undefined, power: undefined }),
    });
    const m = await collector.collect();
    assert.deepEqual(m.cpu, {});
    assert.equal(m.memory, undefined);
    assert.deepEqual(m.temperature, { zones: [] });
    assert.equal(m.telemetry, undefined);
    assert.equal(m.energy, undefined);
    assert.ok(m.process.rssBytes > 10 * 1024 ** 2, 'the real process RSS');
  });
});

describe('ProcessInventory', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-inventory-'));
    await writeFile(join(dir, 'silent.mjs'), 'setInterval(() => {}, 1000);\n');
    await writeFile(join(dir, 'quits.mjs'), 'process.exit(3);\n');
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('gathers the inventory through systeminformation in a worker process at nice 19, SCHED_OTHER', async () => {
    const collector = new MetricsCollector({
      clock: new FakeClock(),
      system: { sample: async () => systemFixture() },
      process: { sample: () => processFixture },
      status: () => statusFixture(),
      inventory: new ProcessInventory(new FakeClock()),
    });
    const outcome = await collector.refreshInventory();
    assert.ok(outcome?.ok, JSON.stringify(outcome));
    const inv = outcome.inventory;
    assert.equal(inv.os.platform, 'linux');
    assert.ok(inv.cpu.cores >= 1);
    assert.equal(inv.scheduling.policy, 0);
    assert.equal(inv.scheduling.nice, 19);
    assert.notEqual(inv.scheduling.tid, process.pid, 'its own process');
    assert.deepEqual((await collector.collect()).inventory, inv);
  });

  it('gives up on a worker that never answers, at the timeout on the injected clock', async () => {
    const clock = new FakeClock();
    const pending = new ProcessInventory(clock, 5000, pathToFileURL(join(dir, 'silent.mjs'))).gather();
    await clock.advance(4999);
    let settled = false;
    void pending.then(() => (settled = true));
    await clock.advance(0);
    assert.equal(settled, false);
    await clock.advance(1);
    assert.deepEqual(await pending, { ok: false, reason: 'timedOut', detail: 'no inventory after 5000 ms' });
  });

  it('reports a worker that exits without answering', async () => {
    const outcome = await new ProcessInventory(new FakeClock(), 5000, pathToFileURL(join(dir, 'quits.mjs'))).gather();
    assert.deepEqual(outcome, { ok: false, reason: 'workerExited', detail: 'worker exited with code 3 before answering' });
  });
});

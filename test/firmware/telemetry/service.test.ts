// Telemetry wired into real Daemons (firmware/telemetry/service.ts through firmware/daemon.ts) on
// a simulated segment, a FakeClock and the in-memory broker: retained status and last will, CARP
// state after a failover, events in order with seq across an outage and a restart, the queue's
// bound and batched writes, protocol fallback, Home Assistant discovery and status.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../../firmware/config/schema.js';
import { Daemon } from '../../../firmware/daemon.js';
import { silentLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { FakeBroker, FakeMqttPort } from '../../../firmware/telemetry/mqtt.js';
import type { EventPayload } from '../../../firmware/telemetry/topics.js';

const QUEUE_FILE = '/var/lib/tandem/telemetry-queue.json';

function config(name: string, advskew: number, telemetry: Record<string, unknown> = {}): TandemConfig {
  const { value, issues } = validate(configSchema, {
    node: { name, stateDir: '/var/lib/tandem' },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret', advskew }],
    telemetry: { mqtt: { url: 'mqtt://198.51.100.5:1883', keepaliveSeconds: 10 }, ...telemetry },
  });
  assert.ok(value, JSON.stringify(issues));
  return value;
}

function lab() {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 3 });
  const broker = new FakeBroker();
  const mqtt = new FakeMqttPort(broker);
  const disks = new Map<string, MemoryFileStore>();
  const daemon = (cfg: TandemConfig): Daemon => {
    const name = cfg.node.name;
    if (!disks.has(name)) {
      segment.attach(name, { addresses: [`198.51.100.${11 + disks.size}/24`] });
      disks.set(name, new MemoryFileStore());
    }
    const host = segment.host(name);
    return new Daemon(cfg, {
      clock,
      files: disks.get(name)!,
      processes: new FakeProcessRunner(),
      packets: host,
      addresses: host,
      announcer: host,
      links: host,
      log: silentLogger,
      mqtt,
    });
  };
  return { clock, broker, mqtt, disks, daemon };
}

const events = (broker: FakeBroker, node: string) => broker.messages(`tandem/${node}/events`) as EventPayload[];

describe('telemetry service', () => {
  it('publishes retained status and CARP state, follows a failover, and leaves a will for a crash', async () => {
    const l = lab();
    const a = l.daemon(config('fw-a', 0));
    const b = l.daemon(config('fw-b', 100));
    await a.start();
    await b.start();
    await l.clock.advance(4000);
    assert.deepEqual(l.broker.retainedJson('tandem/fw-a/status'), {
      online: true, node: 'fw-a', version: a.status().version, since: '2026-11-22T10:00:00.000Z', protocolVersion: 5,
    });
    assert.equal((l.broker.retainedJson('tandem/fw-a/carp/42/state') as { state: string }).state, 'MASTER');
    assert.equal((l.broker.retainedJson('tandem/fw-b/carp/42/state') as { state: string }).state, 'BACKUP');
    // The will is set at connect and says offline.
    const session = l.mqtt.opened.find((s) => s.options.clientId === 'tandem-fw-a')!;
    assert.deepEqual(JSON.parse(session.options.will.payload), { online: false });
    assert.equal(session.options.will.retain, true);

    await a.crash();
    await l.clock.advance(4000);
    assert.deepEqual(l.broker.retainedJson('tandem/fw-a/status'), { online: false });
    const bState = l.broker.retainedJson('tandem/fw-b/carp/42/state') as { state: string; since: string; interface: string; addresses: string[] };
    assert.equal(bState.state, 'MASTER');
    assert.equal(bState.interface, 'eth0');
    assert.deepEqual(bState.addresses, ['198.51.100.100/24']);
    assert.ok(!Number.isNaN(Date.parse(bState.since)));
    const transition = events(l.broker, 'fw-b').find((e) => e.type === 'carpTransition' && e.to === 'MASTER');
    assert.ok(transition, 'fw-b published its transition to MASTER');
    // Raised by CARP's start, before telemetry was loaded: kept for it, numbered first.
    const first = events(l.broker, 'fw-b')[0]!;
    assert.equal(first.seq, 1);
    assert.equal(first.type === 'carpTransition' && `${first.from}->${first.to}`, 'INIT->BACKUP');
    await b.stop();
    assert.deepEqual(l.broker.retainedJson('tandem/fw-b/status'), { online: false });
    // The bow-out's INIT reaches the broker before the offline status.
    assert.equal((l.broker.retainedJson('tandem/fw-b/carp/42/state') as { state: string }).state, 'INIT');
  });

  it('keeps events raised while the broker is away and across a restart: in order, none twice', async () => {
    const l = lab();
    let a = l.daemon(config('fw-a', 0));
    await a.start();
    await l.clock.advance(4000);
    l.broker.setUp(false);
    await a.setMaintenance(true);
    await a.setMaintenance(false);
    await l.clock.advance(1000);
    assert.equal(a.status().telemetry?.connection.state, 'reconnecting');
    assert.equal(a.status().telemetry?.queue.pending, 2);
    l.broker.setUp(true);
    await l.clock.advance(100);
    await a.setMaintenance(true);
    await a.stop();
    // Raised while stopped... then a restart: the queue file carries seq on.
    l.broker.setUp(false);
    a = l.daemon(config('fw-a', 0));
    await a.start();
    await a.setMaintenance(false);
    await l.clock.advance(1000);
    await a.stop();
    a = l.daemon(config('fw-a', 0));
    l.broker.setUp(true);
    await a.start();
    await l.clock.advance(4000);
    const seqs = events(l.broker, 'fw-a').map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `seq +1 each, in order, none twice: ${seqs.join(',')}`);
    const maintenance = events(l.broker, 'fw-a').filter((e) => e.type === 'maintenance').map((e) => (e as { on: boolean }).on);
    assert.deepEqual(maintenance, [true, false, true, false]);
    for (const e of events(l.broker, 'fw-a')) {
      assert.equal(e.node, 'fw-a');
      assert.ok(!Number.isNaN(Date.parse(e.time)));
    }
    assert.equal(a.status().telemetry?.queue.pending, 0);
    await a.stop();
  });

  it('drops the oldest event when the queue is full, counts it, and writes the queue file in batches', async () => {
    const l = lab();
    const a = l.daemon(config('fw-a', 0, { queue: { maxEvents: 10, flushSeconds: 60 } }));
    l.broker.setUp(false);
    await a.start();
    const disk = l.disks.get('fw-a')!;
    await l.clock.advance(5000); // CARP settles (MASTER): its transitions are queued too
    const writesBefore = disk.writes;
    const first = a.status().telemetry!.queue.lastSeq + 1;
    for (let i = 0; i < 15; i++) a.events.emit({ type: 'demotion', total: i, admin: i });
    const last = first + 14;
    const kept = Array.from({ length: 10 }, (_, i) => last - 9 + i);
    const queue = a.status().telemetry!.queue;
    assert.equal(queue.pending, 10);
    assert.equal(queue.dropped, first - 1 + 15 - 10);
    assert.equal(queue.lastSeq, last);
    // No write yet: the first change armed one timer for the flush period.
    assert.equal(disk.writes - writesBefore, 0);
    await l.clock.advance(60_000);
    assert.equal(disk.writes - writesBefore, 1);
    const file = JSON.parse(disk.files.get(QUEUE_FILE)!) as { nextSeq: number; pending: EventPayload[] };
    assert.equal(file.nextSeq, last + 1);
    assert.deepEqual(file.pending.map((e) => e.seq), kept);
    l.broker.setUp(true);
    await l.clock.advance(100);
    assert.deepEqual(events(l.broker, 'fw-a').map((e) => e.seq), kept);
    await a.stop();
  });

  it('falls back to MQTT 3.1.1 when the broker refuses 5, and says so in status', async () => {
    const l = lab();
    l.broker.protocols = [4];
    const a = l.daemon(config('fw-a', 0));
    await a.start();
    await l.clock.advance(100);
    const t = a.status().telemetry!;
    assert.equal(t.connection.state, 'connected');
    assert.equal(t.connection.protocolVersion, 4);
    assert.equal((l.broker.retainedJson('tandem/fw-a/status') as { protocolVersion: number }).protocolVersion, 4);
    await a.stop();
    assert.equal(a.status().telemetry, undefined);
  });

  it('reports a refused connection in status with the last error', async () => {
    const l = lab();
    l.broker.protocols = [4];
    const a = l.daemon(config('fw-a', 0, { mqtt: { url: 'mqtt://198.51.100.5:1883', protocol: '5' } }));
    await a.start();
    await l.clock.advance(100);
    const c = a.status().telemetry!.connection;
    assert.equal(c.state, 'connecting');
    assert.match(c.lastError ?? '', /Unsupported protocol version/);
    await a.stop();
  });

  it('publishes Home Assistant discovery when enabled, with availability on the status topic', async () => {
    const l = lab();
    const a = l.daemon(config('fw-a', 0, { homeAssistant: { enabled: true } }));
    await a.start();
    await l.clock.advance(100);
    const master = l.broker.retainedJson('homeassistant/binary_sensor/tandem_fw-a/carp_42_master/config') as Record<string, unknown>;
    assert.equal(master.state_topic, 'tandem/fw-a/carp/42/state');
    assert.equal(master.unique_id, 'tandem_fw-a_carp_42_master');
    assert.deepEqual(master.availability, [{ topic: 'tandem/fw-a/status', value_template: "{{ 'online' if value_json.online else 'offline' }}" }]);
    assert.ok(l.broker.retained.has('homeassistant/sensor/tandem_fw-a/carp_42_state/config'));
    await a.stop();
  });

  it('publishes power state through publishPower, retained', async () => {
    const l = lab();
    const a = l.daemon(config('fw-a', 0));
    await a.start();
    await l.clock.advance(100);
    a.telemetry!.publishPower('srv-1', { state: 'parked', since: '2026-11-22T10:00:00.000Z', method: 'wol' });
    await l.clock.advance(10);
    assert.deepEqual(l.broker.retainedJson('tandem/fw-a/power/srv-1'), { state: 'parked', since: '2026-11-22T10:00:00.000Z', method: 'wol' });
    await a.stop();
  });

  it('publishes metrics every interval while connected, not queued', async () => {
    const l = lab();
    const a = l.daemon(config('fw-a', 0, { metricsIntervalSeconds: 10 }));
    await a.start();
    let calls = 0;
    // The daemon wires METRICS' collector; here the service gets one directly.
    const { TelemetryService } = await import('../../../firmware/telemetry/service.js');
    const svc = new TelemetryService(
      { ...a['config'].telemetry!, mqtt: { ...a['config'].telemetry!.mqtt!, clientId: 'metrics-test' } },
      { node: 'fw-m', version: '0', stateDir: '/m', carp: () => [], pools: () => [], events: a.events },
      { clock: l.clock, files: new MemoryFileStore(), mqtt: l.mqtt, log: silentLogger, collectMetrics: async () => ({ memory: { usedBytes: ++calls } }) },
    );
    await svc.start();
    await l.clock.advance(35_000);
    l.broker.setUp(false);
    await l.clock.advance(20_000);
    const got = l.broker.messages('tandem/fw-m/metrics') as { time: string; memory: { usedBytes: number } }[];
    assert.deepEqual(got.map((m) => m.memory.usedBytes), [1, 2, 3]);
    assert.equal(l.broker.log.find((m) => m.topic === 'tandem/fw-m/metrics')!.qos, 0);
    await svc.stop();
    await a.stop();
  });
});

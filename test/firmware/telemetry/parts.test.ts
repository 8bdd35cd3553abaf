// The pure parts of telemetry: topic names (topics.ts), the event queue's numbering, bound and
// file (queue.ts), the `telemetry` config section's errors with paths (schema.ts through
// parseConfig), and Home Assistant discovery configs (discovery.ts).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeClock, settle } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import type { VhostStatus } from '../../../firmware/carp/service.js';
import { discoveryMessages } from '../../../firmware/telemetry/discovery.js';
import { EventQueue, SEQ_LEASE } from '../../../firmware/telemetry/queue.js';
import { renderTopicTable, TOPICS, topicFor, topicLevel } from '../../../firmware/telemetry/topics.js';

describe('topics', () => {
  it('builds each topic under <prefix>/<node>/ with its placeholders filled', () => {
    assert.equal(topicFor('tandem', 'fw-a', 'status'), 'tandem/fw-a/status');
    assert.equal(topicFor('site/1', 'fw-a', 'carp/<vhid>/state', { vhid: 42 }), 'site/1/fw-a/carp/42/state');
    assert.equal(topicFor('tandem', 'fw-a', 'pools/<pool>', { pool: 'web' }), 'tandem/fw-a/pools/web');
    assert.throws(() => topicFor('tandem', 'fw-a', 'power/<host>'), /needs host/);
  });

  it('never lets a name add a level or a wildcard', () => {
    assert.equal(topicLevel('a/b+c#d'), 'a_b_c_d');
    assert.equal(topicFor('tandem', 'fw-a', 'power/<host>', { host: 'srv/1' }), 'tandem/fw-a/power/srv_1');
  });

  it('has one table row per topic, with the QoS and retain flags of the map', () => {
    const table = renderTopicTable();
    for (const [name, spec] of Object.entries(TOPICS)) {
      assert.match(table, new RegExp(`\\| \`${name.replace(/[<>/]/g, (c) => `\\${c}`)}\` \\| ${spec.qos} \\| ${spec.retained ? 'yes' : 'no'} \\|`));
      assert.doesNotThrow(() => JSON.parse(spec.example), `${name}'s example is JSON`);
    }
    assert.equal(TOPICS.events.qos, 1);
    assert.equal(TOPICS.metrics.queued, false);
  });
});

describe('event queue', () => {
  const make = (files = new MemoryFileStore(), clock = new FakeClock(), maxEvents = 3) =>
    ({ files, clock, queue: new EventQueue(files, '/state/q.json', clock, { maxEvents, flushSeconds: 10 }, silentLogger) });
  const event = (on: boolean) => ({ type: 'maintenance' as const, on, time: '2026-11-22T10:00:00.000Z' });

  it('numbers events +1, keeps them until acknowledged, and continues after a reload', async () => {
    const { files, clock, queue } = make();
    await queue.load();
    assert.deepEqual([queue.push(event(true), 'fw-a').seq, queue.push(event(false), 'fw-a').seq], [1, 2]);
    queue.ack(1);
    assert.deepEqual(queue.waiting().map((e) => e.seq), [2]);
    await queue.close();
    const again = new EventQueue(files, '/state/q.json', clock, { maxEvents: 3, flushSeconds: 10 }, silentLogger);
    await again.load();
    assert.deepEqual(again.waiting().map((e) => e.seq), [2]);
    assert.equal(again.push(event(true), 'fw-a').seq, 3);
  });

  it('drops the oldest when full and counts each drop', async () => {
    const { queue } = make();
    for (let i = 0; i < 5; i++) queue.push(event(i % 2 === 0), 'fw-a');
    assert.deepEqual(queue.waiting().map((e) => e.seq), [3, 4, 5]);
    assert.deepEqual(queue.status(), { pending: 3, maxEvents: 3, dropped: 2, lastSeq: 5 });
  });

  it('writes once at start, at most once per flush period, not when nothing changed, and at a clean close', async () => {
    const { files, clock, queue } = make(undefined, undefined, 100);
    await queue.load();
    assert.equal(files.writes, 1, 'the start writes a seq lease');
    for (let i = 0; i < 50; i++) queue.push(event(true), 'fw-a');
    await clock.advance(9_999);
    assert.equal(files.writes, 1);
    await clock.advance(1);
    assert.equal(files.writes, 2);
    await clock.advance(60_000);
    assert.equal(files.writes, 2, 'nothing changed: no write');
    await queue.close();
    assert.equal(files.writes, 3);
    assert.equal((JSON.parse(files.files.get('/state/q.json')!) as { clean: boolean }).clean, true);
  });

  it('renews its seq lease with one write per SEQ_LEASE/2 events', async () => {
    const { files, queue } = make(undefined, undefined, 100);
    await queue.load();
    // The first renewal comes after SEQ_LEASE/2 events, the next SEQ_LEASE/2 later.
    // (Events trickle in; a synchronous burst would share one write, which holds the newest lease.)
    for (let i = 0; i < SEQ_LEASE * 1.5; i++) {
      queue.push(event(true), 'fw-a');
      if (i % 50 === 0) await settle();
    }
    await settle();
    assert.equal(files.writes, 1 + 2, `${SEQ_LEASE * 1.5} events, ${files.writes - 1} lease write(s)`);
  });

  it('after a crash: loses what was not written yet, and never hands out a seq twice', async () => {
    const { files, clock, queue } = make(undefined, undefined, 100);
    await queue.load();
    queue.push(event(true), 'fw-a');
    await clock.advance(10_000);
    queue.push(event(false), 'fw-a');
    queue.abandon();
    await clock.advance(60_000);
    const file = JSON.parse(files.files.get('/state/q.json')!) as { nextSeq: number; pending: { seq: number }[] };
    assert.equal(file.nextSeq, 2);
    assert.deepEqual(file.pending.map((e) => e.seq), [1]);
    const after = new EventQueue(files, '/state/q.json', clock, { maxEvents: 100, flushSeconds: 10 }, silentLogger);
    await after.load();
    assert.deepEqual(after.waiting().map((e) => e.seq), [1], 'the unacknowledged event is still there');
    const next = after.push(event(true), 'fw-a').seq;
    assert.ok(next > 2, `seq ${next} must not repeat seq 2, which may have been delivered before the crash`);
    assert.equal(next, 1 + SEQ_LEASE);
  });

  it('starts afresh from an unreadable file rather than refusing to run', async () => {
    const files = new MemoryFileStore();
    files.files.set('/state/q.json', '{"version": 1, "nextSeq": "x"');
    const { queue } = make(files);
    await queue.load();
    assert.equal(queue.push(event(true), 'fw-a').seq, 1);
  });
});

describe('telemetry config', () => {
  const parse = (telemetry: string) => parseConfig(`node: { name: fw-a }\ntelemetry:\n${telemetry}`);
  const issues = (telemetry: string) => {
    const result = parse(telemetry);
    return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
  };

  it('fills in the defaults of the contract', () => {
    const result = parse('  mqtt: { url: "mqtt://198.51.100.5" }\n');
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    const t = result.config.telemetry!;
    assert.equal(t.mqtt!.topicPrefix, 'tandem');
    assert.equal(t.mqtt!.keepaliveSeconds, 30);
    assert.equal(t.mqtt!.protocol, 'auto');
    assert.deepEqual(t.queue, { maxEvents: 1000, flushSeconds: 60 });
    assert.deepEqual(t.homeAssistant, { enabled: false, discoveryPrefix: 'homeassistant' });
  });

  it('names the path of each bad value', () => {
    assert.deepEqual(issues('  mqtt: { url: "http://198.51.100.5" }\n'), ['telemetry.mqtt.url: must use mqtt://, mqtts://, ws:// or wss://, not http://, got "http://198.51.100.5"']);
    assert.match(issues('  mqtt: { url: "mqtt://u:p@198.51.100.5" }\n')[0]!, /^telemetry\.mqtt\.url: must not carry credentials/);
    assert.match(issues('  mqtt: { url: "mqtt://198.51.100.5", topicPrefix: "a/+/b" }\n')[0]!, /^telemetry\.mqtt\.topicPrefix: must be topic levels/);
    assert.match(issues('  mqtt: { url: "mqtt://198.51.100.5", keepaliveSeconds: 0 }\n')[0]!, /^telemetry\.mqtt\.keepaliveSeconds: must be 1-65535, got 0/);
    assert.match(issues('  queue: { maxEvents: 5 }\n')[0]!, /^telemetry\.queue\.maxEvents: must be 10-100000, got 5/);
  });

  it('refuses a certificate without its key, and TLS files on a plain URL', () => {
    assert.deepEqual(issues('  mqtt: { url: "mqtts://198.51.100.5", cert: /cfg/c.pem }\n'), [
      "telemetry.mqtt.key: is required with telemetry.mqtt.cert (the client certificate's private key)",
    ]);
    assert.deepEqual(issues('  mqtt: { url: "mqtt://198.51.100.5", ca: /cfg/ca.pem }\n'), [
      'telemetry.mqtt.ca: is used only over TLS: make telemetry.mqtt.url mqtts:// or wss://, got "mqtt://198.51.100.5"',
    ]);
    assert.deepEqual(issues('  mqtt: { url: "mqtt://198.51.100.5", reconnectMinSeconds: 10, reconnectMaxSeconds: 5 }\n'), [
      'telemetry.mqtt.reconnectMaxSeconds: must be at least reconnectMinSeconds (10), got 5',
    ]);
  });
});

describe('Home Assistant discovery', () => {
  const vhost = { vhid: 42, interface: 'eth0', state: 'MASTER', advbase: 1, advskew: 0, demote: 0, addresses: ['198.51.100.100/24'], since: '' } as unknown as VhostStatus;
  const id = { prefix: 'tandem', node: 'fw-a', version: '0.1.0', discoveryPrefix: 'homeassistant' };

  it('gives every entity a unique id, the node as device and the status topic as availability', () => {
    const messages = discoveryMessages(id, { carp: [vhost], pools: [] });
    const ids = new Set<string>();
    for (const m of messages) {
      assert.match(m.topic, /^homeassistant\/(sensor|binary_sensor)\/tandem_fw-a\/[a-z0-9_]+\/config$/);
      assert.equal(m.retain, true);
      const config = JSON.parse(m.payload) as { unique_id: string; device: { identifiers: string[] }; availability: { topic: string }[]; state_topic: string };
      assert.ok(!ids.has(config.unique_id), `unique_id ${config.unique_id} repeats`);
      ids.add(config.unique_id);
      assert.deepEqual(config.device.identifiers, ['tandem_fw-a']);
      assert.equal(config.availability[0]!.topic, 'tandem/fw-a/status');
      assert.match(config.state_topic, /^tandem\/fw-a\//);
    }
    const master = messages.find((m) => m.topic.endsWith('/carp_42_master/config'))!;
    assert.equal((JSON.parse(master.payload) as { value_template: string }).value_template, "{{ 'ON' if value_json.state == 'MASTER' else 'OFF' }}");
  });
});

describe('Home Assistant metric sensors', () => {
  it('read paths that the metrics payload has', async () => {
    const { METRIC_SENSORS } = await import('../../../firmware/telemetry/discovery.js');
    // Typed as the metrics collector's payload, so a renamed field fails the type check too.
    const sample = {
      cpu: { percent: 12.5 },
      memory: { totalBytes: 100, availableBytes: 60, usedPercent: 40 },
      temperature: { maxCelsius: 51, zones: [] },
      demotion: 0,
      energy: { kWh: 1.5, savedKWh: 0.5, savedFraction: 0.25, hostsParked: 1, hosts: 3 },
    } satisfies Partial<import('../../../firmware/telemetry/metrics.js').NodeMetrics>;
    for (const sensor of METRIC_SENSORS) {
      const value = sensor.path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], sample);
      assert.equal(typeof value, 'number', `${sensor.path} is a number in the metrics payload`);
    }
  });
});

describe('stable since', () => {
  it('keeps one since per CARP state across millisecond jitter, and takes a new one on a transition', async () => {
    const { StableSince } = await import('../../../firmware/telemetry/publisher.js');
    const stable = new StableSince();
    const v = (state: string, since: string) => ({ vhid: 42, state, since }) as unknown as VhostStatus;
    assert.equal(stable.apply([v('MASTER', '2026-11-22T10:00:00.100Z')])[0]!.since, '2026-11-22T10:00:00.100Z');
    assert.equal(stable.apply([v('MASTER', '2026-11-22T10:00:00.101Z')])[0]!.since, '2026-11-22T10:00:00.100Z');
    assert.equal(stable.apply([v('BACKUP', '2026-11-22T10:00:05.000Z')])[0]!.since, '2026-11-22T10:00:05.000Z');
    assert.equal(stable.apply([v('BACKUP', '2026-11-22T10:00:09.000Z')])[0]!.since, '2026-11-22T10:00:09.000Z', 'far apart: a new stay');
  });
});

// Remote commands wired through the telemetry service into a real Daemon (firmware/daemon.ts →
// telemetry/service.ts → telemetry/commands.ts) on the in-memory broker and a FakeClock: the
// subscription exists only when commands are on with a readable key, replies carry the
// correlation data, and the outcome is published on the `events` topic.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { validate } from '../../../firmware/config/kit.js';
import { configSchema } from '../../../firmware/config/schema.js';
import { Daemon } from '../../../firmware/daemon.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { signedPayload } from '../../../firmware/telemetry/command-auth.js';
import { FakeBroker, FakeMqttPort, topicMatches } from '../../../firmware/telemetry/mqtt.js';
import type { EventPayload } from '../../../firmware/telemetry/topics.js';

const KEY = 'lab-key-0123456789abcdef';
const KEY_FILE = '/cfg/command.key';

/** A node with telemetry on the in-memory broker; `keyText` null: no key file at all. */
async function node(commands: Record<string, unknown>, keyText: string | null = `${KEY}\n`) {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 5 });
  segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
  const host = segment.host('fw-a');
  const files = new MemoryFileStore();
  if (keyText !== null) await files.writeAtomic(KEY_FILE, keyText);
  const broker = new FakeBroker();
  const { value: config, issues } = validate(configSchema, {
    node: { name: 'fw-a', stateDir: '/var/lib/tandem' },
    telemetry: { mqtt: { url: 'mqtt://198.51.100.5:1883' }, commands },
  });
  assert.ok(config, JSON.stringify(issues));
  const logs: string[] = [];
  const log = createLogger('warn', (line) => logs.push(line));
  const daemon = new Daemon(config, { clock, files, processes: new FakeProcessRunner(), packets: host, addresses: host, announcer: host, links: host, log, mqtt: new FakeMqttPort(broker) });
  await daemon.start();
  await clock.advance(100);
  let n = 0;
  const inject = (action: string, args: Record<string, unknown>, properties: { responseTopic?: string; correlationData?: Buffer } = {}) => {
    const payload = signedPayload(Buffer.from(KEY), { node: 'fw-a', action, args: args as never, time: clock.now(), nonce: `svc-nonce-${String(++n).padStart(8, '0')}`, by: 'monitor-1' });
    broker.inject({ topic: `tandem/fw-a/cmd/${action}`, payload: Buffer.from(payload), ...properties });
    return payload;
  };
  return { clock, broker, daemon, logs, inject, files };
}

describe('remote commands through the telemetry service', () => {
  it('on: a signed command acts, is answered with its correlation data, and shows up in events and status', async () => {
    const t = await node({ enabled: true, key: KEY_FILE });
    t.inject('maintenance', { on: true }, { responseTopic: 'tandem/fw-a/reply/monitor-1/x', correlationData: Buffer.from('c-1') });
    await t.clock.advance(100);
    assert.equal(t.daemon.status().maintenance, true);
    const reply = t.broker.log.find((m) => m.topic === 'tandem/fw-a/reply/monitor-1/x');
    assert.ok(reply, 'a reply was published');
    assert.deepEqual(JSON.parse(reply.payload), { ok: true, action: 'maintenance', nonce: 'svc-nonce-00000001', result: { maintenance: true } });
    assert.equal(Buffer.from(reply.correlationData!).toString(), 'c-1');
    assert.equal(reply.qos, 1);
    assert.equal(reply.retain, false);
    const types = (t.broker.messages('tandem/fw-a/events') as EventPayload[]).map((e) => e.type);
    assert.deepEqual(types.filter((x) => x === 'maintenance' || x.startsWith('command')), ['maintenance', 'commandExecuted']);
    assert.equal(t.daemon.status().telemetry?.commands?.executed, 1);
  });

  it('on: a replay is refused, answered, counted and changes nothing', async () => {
    const t = await node({ enabled: true, key: KEY_FILE });
    const payload = t.inject('demote', { by: 3 });
    await t.clock.advance(100);
    t.inject('demote', { reset: true });
    await t.clock.advance(100);
    t.broker.inject({ topic: 'tandem/fw-a/cmd/demote', payload: Buffer.from(payload), responseTopic: 'monitor/r' });
    await t.clock.advance(100);
    assert.equal(t.daemon.status().demotion.admin, 0);
    const reply = t.broker.log.find((m) => m.topic === 'monitor/r');
    assert.equal(reply && (JSON.parse(reply.payload) as { reason: string }).reason, 'replayed');
    assert.equal(t.daemon.status().telemetry?.commands?.replayed, 1);
    const refused = (t.broker.messages('tandem/fw-a/events') as (EventPayload & { reason?: string })[]).filter((e) => e.type === 'commandRefused');
    assert.deepEqual(refused.map((e) => e.reason), ['replayed']);
  });

  it('off (the default): nothing subscribes, so a command reaches nobody', async () => {
    const t = await node({});
    t.inject('maintenance', { on: true }, { responseTopic: 'monitor/r' });
    await t.clock.advance(100);
    assert.equal(t.daemon.status().maintenance, false);
    assert.equal(t.broker.log.some((m) => m.topic === 'monitor/r'), false);
    assert.equal(t.daemon.status().telemetry?.commands, undefined);
  });

  it('a key file that is too short leaves commands off, says why, and telemetry runs on', async () => {
    const t = await node({ enabled: true, key: KEY_FILE }, 'short\n');
    t.inject('maintenance', { on: true }, { responseTopic: 'monitor/r' });
    await t.clock.advance(100);
    assert.equal(t.daemon.status().maintenance, false);
    assert.ok(t.logs.some((l) => /remote commands stay off: telemetry.commands.key: \/cfg\/command.key: the key must be at least 16 bytes/.test(l)), t.logs.join('\n'));
    assert.deepEqual(t.broker.retainedJson('tandem/fw-a/status') !== undefined, true);
  });

  it('a missing key file says so, naming the setting', async () => {
    const t = await node({ enabled: true, key: KEY_FILE }, null);
    assert.ok(t.logs.some((l) => /telemetry.commands.key: \/cfg\/command.key does not exist/.test(l)), t.logs.join('\n'));
  });
});

describe('topicMatches', () => {
  const table: [string, string, boolean][] = [
    ['tandem/fw-a/cmd/+', 'tandem/fw-a/cmd/maintenance', true],
    ['tandem/fw-a/cmd/+', 'tandem/fw-a/cmd/a/b', false],
    ['tandem/fw-a/cmd/+', 'tandem/fw-a/cmd', false],
    ['tandem/fw-a/cmd/+', 'tandem/fw-b/cmd/failover', false],
    ['tandem/#', 'tandem/fw-a/cmd/x', true],
    ['tandem/fw-a/#', 'tandem/fw-a', true],
  ];
  for (const [filter, topic, expected] of table) {
    it(`${filter} ${expected ? 'matches' : 'does not match'} ${topic}`, () => assert.equal(topicMatches(filter, topic), expected));
  }
});

// Tests for the remote command handler (firmware/telemetry/commands.ts) in front of a real
// Daemon on a simulated segment: valid commands act exactly as the control socket does and are
// answered on the MQTT 5 response topic or the 3.1.1 `replyTo`; refused ones change nothing,
// are counted by reason and raise `commandRefused`.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { validate } from '../../../firmware/config/kit.js';
import { parseConfig } from '../../../firmware/config/load.js';
import { configSchema } from '../../../firmware/config/schema.js';
import { Daemon } from '../../../firmware/daemon.js';
import type { StampedEvent } from '../../../firmware/events.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { signedPayload, type CommandArgs } from '../../../firmware/telemetry/command-auth.js';
import { CommandHandler, type CommandReply, type IncomingCommand } from '../../../firmware/telemetry/commands.js';

const KEY = Buffer.from('lab-key-0123456789abcdef');
const STATE_DIR = '/var/lib/tandem';

interface Sent {
  topic: string;
  payload: CommandReply;
  correlationData?: Uint8Array;
}

async function setup() {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 3 });
  segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
  const host = segment.host('fw-a');
  const files = new MemoryFileStore();
  const { value: config, issues } = validate(configSchema, {
    node: { name: 'fw-a', stateDir: STATE_DIR },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret' }],
  });
  assert.ok(config, JSON.stringify(issues));
  const log = createLogger('error', () => undefined);
  const daemon = new Daemon(config, { clock, files, processes: new FakeProcessRunner(), packets: host, addresses: host, announcer: host, links: host, log });
  await daemon.start();
  await clock.advance(3500);
  const events: StampedEvent[] = [];
  daemon.events.on((e) => events.push(e));
  const handler = new CommandHandler({
    node: 'fw-a',
    prefix: 'tandem',
    key: KEY,
    maxAgeSeconds: 30,
    now: () => clock.now(),
    dispatch: (request) => daemon.handle(request),
    emit: (event) => daemon.events.emit(event),
    log,
  });
  // Commands stamped at or before the handler's start are refused (see below): start after it.
  await clock.advance(1000);
  const sent: Sent[] = [];
  const reply = (topic: string, payload: string, correlationData?: Uint8Array) => {
    sent.push({ topic, payload: JSON.parse(payload) as CommandReply, ...(correlationData ? { correlationData } : {}) });
  };
  let counter = 0;
  /** A signed command for fw-a, `ageMs` old by the daemon's clock. */
  const command = (action: string, args: CommandArgs, options: { ageMs?: number; replyTo?: string; key?: Buffer; node?: string } = {}) => {
    const nonce = `test-nonce-${String(++counter).padStart(8, '0')}`;
    const fields = { node: options.node ?? 'fw-a', action, args, time: clock.now() - (options.ageMs ?? 0), nonce, by: 'monitor-1' };
    return signedPayload(options.key ?? KEY, fields, options.replyTo);
  };
  const send = (action: string, payload: string, props: Partial<IncomingCommand> = {}) =>
    handler.handle({ topic: `tandem/fw-a/cmd/${action}`, payload: Buffer.from(payload), responseTopic: 'monitor/replies', correlationData: Buffer.from('corr-1'), ...props }, reply);
  return { clock, daemon, files, handler, events, sent, command, send };
}

const stateFile = `${STATE_DIR}/state.json`;

/** The maintenance flag the daemon wrote to its state file. */
async function persistedMaintenance(files: MemoryFileStore): Promise<boolean | undefined> {
  const text = await files.read(stateFile);
  return text === undefined ? undefined : (JSON.parse(text) as { maintenance?: boolean }).maintenance;
}

describe('remote commands: accepted', () => {
  it('maintenance on acts as the CLI does and replies on the MQTT 5 response topic with the correlation data', async () => {
    const t = await setup();
    assert.equal(t.daemon.status().maintenance, false);
    const result = await t.send('maintenance', t.command('maintenance', { on: true }));
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(t.daemon.status().maintenance, true);
    assert.equal(await persistedMaintenance(t.files), true);
    assert.equal(t.sent.length, 1);
    assert.equal(t.sent[0]!.topic, 'monitor/replies');
    assert.equal(Buffer.from(t.sent[0]!.correlationData!).toString(), 'corr-1');
    assert.deepEqual(t.sent[0]!.payload, { ok: true, action: 'maintenance', nonce: 'test-nonce-00000001', result: { maintenance: true } });
    assert.deepEqual(t.events.filter((e) => e.type.startsWith('command')).map((e) => ({ ...e, time: undefined })), [
      { type: 'commandExecuted', action: 'maintenance', by: 'monitor-1', time: undefined },
    ]);
    assert.equal(t.handler.counters().executed, 1);
  });

  it('on MQTT 3.1.1 answers on the payload replyTo; the MQTT 5 response topic wins when both are there', async () => {
    const t = await setup();
    await t.send('demote', t.command('demote', { by: 5 }, { replyTo: 'monitor/v311' }), { responseTopic: undefined, correlationData: undefined });
    assert.equal(t.daemon.status().demotion.admin, 5);
    assert.equal(t.sent[0]!.topic, 'monitor/v311');
    assert.equal(t.sent[0]!.correlationData, undefined);
    assert.equal(t.sent[0]!.payload.ok && t.sent[0]!.payload.nonce, 'test-nonce-00000001');
    await t.send('demote', t.command('demote', { reset: true }, { replyTo: 'monitor/v311' }));
    assert.equal(t.daemon.status().demotion.admin, 0);
    assert.equal(t.sent[1]!.topic, 'monitor/replies');
  });

  it('failover bows a MASTER out, as `tandem failover` does', async () => {
    const t = await setup();
    assert.equal(t.daemon.status().carp[0]!.state, 'MASTER');
    const result = await t.send('failover', t.command('failover', {}));
    assert.deepEqual(result.ok && result.result, { bowedOut: 1 });
  });

  it('runs commands one at a time in arrival order', async () => {
    const t = await setup();
    const first = t.send('maintenance', t.command('maintenance', { on: true }));
    const second = t.send('maintenance', t.command('maintenance', { on: false }));
    await Promise.all([first, second]);
    assert.equal(t.daemon.status().maintenance, false);
    assert.equal(await persistedMaintenance(t.files), false);
    assert.deepEqual(t.events.filter((e) => e.type === 'maintenance').map((e) => e.type === 'maintenance' && e.on), [true, false]);
  });
});

describe('remote commands: refused, and nothing changes', () => {
  const cases: [string, (t: Awaited<ReturnType<typeof setup>>) => string, string][] = [
    ['unsigned', (t) => JSON.stringify({ args: { on: true }, time: t.clock.now(), nonce: 'test-nonce-unsigned', by: 'x' }), 'unsigned'],
    ['signed with another key', (t) => t.command('maintenance', { on: true }, { key: Buffer.from('not-the-key-0123456789') }), 'badSignature'],
    ['signed for another node', (t) => t.command('maintenance', { on: true }, { node: 'fw-b' }), 'badSignature'],
    ['signed for another action', (t) => t.command('demote', { on: true }), 'badSignature'],
    ['40 s old', (t) => t.command('maintenance', { on: true }, { ageMs: 40_000 }), 'stale'],
    ['40 s ahead', (t) => t.command('maintenance', { on: true }, { ageMs: -40_000 }), 'stale'],
    ['not JSON', () => 'maintenance on', 'malformed'],
    ['with an argument maintenance does not take', (t) => t.command('maintenance', { on: true, force: true }), 'malformed'],
    ['with an argument of the wrong type', (t) => t.command('maintenance', { on: 'yes' }), 'malformed'],
  ];
  for (const [name, make, reason] of cases) {
    it(`${name}: ${reason}`, async () => {
      const t = await setup();
      const result = await t.send('maintenance', make(t));
      assert.equal(result.ok ? 'executed' : result.reason, reason, JSON.stringify(result));
      assert.equal(t.daemon.status().maintenance, false);
      assert.equal(await t.files.read(stateFile), undefined, 'nothing was persisted');
      assert.equal(t.events.some((e) => e.type === 'maintenance'), false);
      assert.deepEqual(t.events.map((e) => e.type === 'commandRefused' && e.reason), [reason]);
      assert.equal(t.sent.length, 1, 'the refusal is answered');
      assert.equal(!t.sent[0]!.payload.ok && t.sent[0]!.payload.reason, reason);
      assert.equal(t.handler.counters()[reason as 'stale'], 1);
      assert.equal(t.handler.counters().executed, 0);
    });
  }

  it('a replay of an executed command: replayed, and the state it set is left alone', async () => {
    const t = await setup();
    const on = t.command('maintenance', { on: true });
    assert.equal((await t.send('maintenance', on)).ok, true);
    await t.send('maintenance', t.command('maintenance', { on: false }));
    assert.equal(t.daemon.status().maintenance, false);
    await t.clock.advance(10_000);
    const replay = await t.send('maintenance', on);
    assert.equal(!replay.ok && replay.reason, 'replayed');
    assert.equal(t.daemon.status().maintenance, false);
    assert.deepEqual(t.handler.counters(), { executed: 2, unsigned: 0, badSignature: 0, stale: 0, replayed: 1, malformed: 0, unknownAction: 0, failed: 0 });
  });

  it('a command signed before the handler started is refused as replayed: a restart must not reopen the window', async () => {
    const t = await setup();
    // Fresh by age (5 s), but older than the handler: its nonce could have been used before a restart.
    const result = await t.send('maintenance', t.command('maintenance', { on: true }, { ageMs: 5000 }));
    assert.equal(!result.ok && result.reason, 'replayed');
    assert.match(!result.ok ? result.error : '', /restarted/);
    assert.equal(t.daemon.status().maintenance, false);
  });

  it('an unknown action is refused only after the signature is checked', async () => {
    const t = await setup();
    const unsigned = await t.send('reboot', JSON.stringify({ time: t.clock.now(), nonce: 'test-nonce-reboot00', by: 'x' }));
    assert.equal(!unsigned.ok && unsigned.reason, 'unsigned');
    const signed = await t.send('reboot', t.command('reboot', {}));
    assert.equal(!signed.ok && signed.reason, 'unknownAction');
    assert.match(!signed.ok ? signed.error : '', /known: demote, maintenance/);
  });

  it('pool-drain reaches the daemon\'s drain request (`tandem balancer drain`), whose refusal is answered as failed', async () => {
    const t = await setup();
    const result = await t.send('pool-drain', t.command('pool-drain', { host: 'web1' }));
    assert.deepEqual(!result.ok && [result.reason, result.error], ['failed', 'no host web1 in any pool']);
    const extra = await t.send('pool-undrain', t.command('pool-undrain', { host: 'web1', on: true }));
    assert.equal(!extra.ok && extra.reason, 'malformed', 'on is the action\'s to set, not an argument');
  });

  it('power-wake and power-park reach the daemon\'s power requests (`tandem power wake|park`)', async () => {
    const t = await setup();
    for (const action of ['power-wake', 'power-park'] as const) {
      const result = await t.send(action, t.command(action, { host: 'srv1' }));
      // This node has no `power` section: the daemon's own answer comes back.
      assert.deepEqual(!result.ok && [result.reason, result.error], ['failed', 'power management is not configured (no `power` section)']);
    }
    const missing = await t.send('power-wake', t.command('power-wake', {}));
    assert.equal(!missing.ok && missing.reason, 'malformed');
  });

  it('a request the daemon refuses is answered as failed', async () => {
    const t = await setup();
    const result = await t.send('firewall-confirm', t.command('firewall-confirm', {}));
    assert.equal(!result.ok && result.reason, 'failed', JSON.stringify(result));
    assert.equal(t.handler.counters().failed, 1);
    assert.deepEqual(t.events.map((e) => e.type === 'commandRefused' && e.reason), ['failed']);
  });

  it('never replies into the command space or to a wildcard, but still refuses or acts', async () => {
    const t = await setup();
    await t.send('maintenance', t.command('maintenance', { on: true }), { responseTopic: 'tandem/fw-a/cmd/maintenance' });
    await t.send('demote', t.command('demote', { by: 1 }), { responseTopic: 'monitor/#' });
    assert.equal(t.sent.length, 0);
    assert.equal(t.daemon.status().maintenance, true);
    assert.equal(t.daemon.status().demotion.admin, 1);
  });
});

describe('telemetry.commands config', () => {
  const yaml = (commands: string, mqtt = '  mqtt: { url: "mqtt://127.0.0.1:1883" }\n') =>
    `node: { name: fw-a }\ntelemetry:\n${mqtt}  commands: ${commands}\n`;

  it('is off by default, with a 30 s window', () => {
    const result = parseConfig('node: { name: fw-a }\ntelemetry:\n  mqtt: { url: "mqtt://127.0.0.1:1883" }\n');
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.telemetry?.commands, { enabled: false, maxAgeSeconds: 30 });
  });

  it('accepts enabled with a key file', () => {
    const result = parseConfig(yaml('{ enabled: true, key: /cfg/command.key, maxAgeSeconds: 10 }'));
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.telemetry?.commands, { enabled: true, key: '/cfg/command.key', maxAgeSeconds: 10 });
  });

  const bad: [string, string, string, RegExp][] = [
    ['enabled without a key', yaml('{ enabled: true }'), 'telemetry.commands.key', /required when telemetry.commands.enabled/],
    ['enabled without mqtt', yaml('{ enabled: true, key: /cfg/k }', ''), 'telemetry.commands.enabled', /telemetry.mqtt must be set/],
    ['a relative key path', yaml('{ enabled: true, key: command.key }'), 'telemetry.commands.key', /absolute path/],
    ['maxAgeSeconds 0', yaml('{ maxAgeSeconds: 0 }'), 'telemetry.commands.maxAgeSeconds', /1-3600/],
    ['an unknown key', yaml('{ secret: abc }'), 'telemetry.commands.secret', /unknown key/],
  ];
  for (const [name, text, path, message] of bad) {
    it(`refuses ${name}, naming ${path}`, () => {
      const result = parseConfig(text);
      assert.equal(result.ok, false);
      const issue = !result.ok ? result.issues.find((i) => i.path === path) : undefined;
      assert.ok(issue, JSON.stringify(result));
      assert.match(issue.message, message);
    });
  }
});

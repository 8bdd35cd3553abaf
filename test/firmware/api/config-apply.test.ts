// Tests for config apply with automatic rollback (firmware/api/config-apply.ts, issue 12 item 1,
// issue 14 item 1): invalid candidates leave file and running config alone and report the same
// issues as `tandem check`; a confirm window reverts by itself on a fake clock; a crash inside
// the window reverts at the next start; and a real Daemon on fakes puts each config in force.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { ConfigApply, recoverConfigApply, startingConfig, type ConfigApplyRecord } from '../../../firmware/api/config-apply.js';
import { parseConfig } from '../../../firmware/config/load.js';
import type { TandemConfig } from '../../../firmware/config/schema.js';
import { Daemon } from '../../../firmware/daemon.js';
import type { StampedEvent, TandemEvent } from '../../../firmware/events.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';

const PATH = '/cfg/tandem.yaml';
const LEDGER = '/var/lib/tandem/config-apply.json';
const quiet = createLogger('error', () => undefined);

export function configText(advskew: number, name = 'fw-a'): string {
  return [
    'node:',
    `  name: ${name}`,
    '  stateDir: /var/lib/tandem',
    'carp:',
    '  - vhid: 42',
    '    interface: eth0',
    '    addresses: [198.51.100.100/24]',
    '    password: labsecret',
    `    advskew: ${advskew}`,
    '',
  ].join('\n');
}

function setup(initial = configText(0)) {
  const clock = new FakeClock();
  const files = new MemoryFileStore();
  files.files.set(PATH, initial);
  const applied: TandemConfig[] = [];
  const events: TandemEvent[] = [];
  const make = () =>
    new ConfigApply({ files, clock, log: quiet, path: PATH, ledgerPath: LEDGER, apply: async (c) => void applied.push(c), emit: (e) => void events.push(e) });
  return { clock, files, applied, events, make, apply: make() };
}

const ledger = (files: MemoryFileStore): ConfigApplyRecord => JSON.parse(files.files.get(LEDGER) ?? '{}') as ConfigApplyRecord;

describe('config apply: checking', () => {
  it('gives the same issues as tandem check (path, line, message) and touches nothing', async () => {
    const t = setup();
    const bad = configText(300);
    const result = await t.apply.apply(bad, { confirmWithinSeconds: 30 });
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.reason === 'invalid');
    const expected = parseConfig(bad);
    assert.ok(!expected.ok);
    assert.deepEqual(result.issues, expected.issues);
    assert.equal(result.issues[0]?.path, 'carp[0].advskew');
    assert.equal(result.issues[0]?.line, 9);
    assert.equal(t.files.files.get(PATH), configText(0));
    assert.equal(t.files.files.has(LEDGER), false);
    assert.equal(t.applied.length, 0);
    assert.deepEqual(t.events.map((e) => e.type === 'configApply' && e.outcome), ['refused']);
  });

  it('reports YAML syntax errors with their line', () => {
    const t = setup();
    const result = t.apply.check('node:\n  name: [fw-a\n');
    assert.ok(!result.ok);
    assert.equal(result.issues[0]?.path, '(syntax)');
    assert.equal(typeof result.issues[0]?.line, 'number');
  });
});

describe('config apply: without a window', () => {
  it('writes the file and puts the config in force, no ledger written', async () => {
    const t = setup();
    const result = await t.apply.apply(configText(50));
    assert.deepEqual(result, { ok: true, phase: 'active' });
    assert.equal(t.files.files.get(PATH), configText(50));
    assert.equal(t.applied[0]?.carp[0]?.advskew, 50);
    assert.equal(t.files.files.has(LEDGER), false);
    assert.equal(t.apply.status().phase, 'active');
    assert.deepEqual(t.events.map((e) => e.type === 'configApply' && e.outcome), ['applied']);
  });

  it('a failing apply restores the previous file and config', async () => {
    const t = setup();
    let calls = 0;
    const apply = new ConfigApply({
      files: t.files, clock: t.clock, log: quiet, path: PATH, ledgerPath: LEDGER,
      apply: async (c) => {
        calls++;
        if (c.carp[0]?.advskew === 50) throw new Error('carp reload refused');
        t.applied.push(c);
      },
      emit: (e) => void t.events.push(e),
    });
    const result = await apply.apply(configText(50), { confirmWithinSeconds: 60 });
    assert.ok(!result.ok && result.reason === 'failed');
    assert.match(result.error, /carp reload refused.*previous config was restored/);
    assert.equal(calls, 2);
    assert.equal(t.applied[0]?.carp[0]?.advskew, 0);
    assert.equal(t.files.files.get(PATH), configText(0));
    assert.equal(ledger(t.files).pending, undefined);
    assert.equal(apply.status().phase, 'active');
  });
});

describe('config apply: confirm window', () => {
  it('reverts by itself when not confirmed: file, config, ledger, event and status', async () => {
    const t = setup();
    const result = await t.apply.apply(configText(50), { confirmWithinSeconds: 30 });
    assert.ok(result.ok && result.phase === 'pending');
    assert.equal(result.revertsAt, new Date(t.clock.now() + 30_000).toISOString());
    assert.equal(ledger(t.files).pending?.previous, configText(0));
    assert.equal(t.apply.status().phase, 'pending');
    assert.equal(t.apply.status().revertsInSeconds, 30);
    await t.clock.advance(29_000);
    assert.equal(t.files.files.get(PATH), configText(50));
    await t.clock.advance(1_000);
    assert.equal(t.files.files.get(PATH), configText(0));
    assert.deepEqual(t.applied.map((c) => c.carp[0]?.advskew), [50, 0]);
    assert.equal(ledger(t.files).pending, undefined);
    const status = t.apply.status();
    assert.equal(status.phase, 'active');
    assert.match(status.lastRevert?.why ?? '', /not confirmed within 30 s/);
    assert.deepEqual(t.events.map((e) => e.type === 'configApply' && e.outcome), ['applied', 'reverted']);
  });

  it('confirm keeps it; a later timer does nothing; a second confirm is refused', async () => {
    const t = setup();
    await t.apply.apply(configText(50), { confirmWithinSeconds: 30 });
    assert.deepEqual(await t.apply.confirm(), { ok: true });
    await t.clock.advance(60_000);
    assert.equal(t.files.files.get(PATH), configText(50));
    assert.deepEqual(t.applied.map((c) => c.carp[0]?.advskew), [50]);
    assert.deepEqual(ledger(t.files), {});
    assert.deepEqual(await t.apply.confirm(), { ok: false, error: 'no config apply is waiting for confirmation' });
  });

  it('a second apply inside the window reverts to the last confirmed text, on the new deadline', async () => {
    const t = setup();
    await t.apply.apply(configText(50), { confirmWithinSeconds: 30 });
    await t.clock.advance(20_000);
    await t.apply.apply(configText(100), { confirmWithinSeconds: 30 });
    await t.clock.advance(20_000);
    assert.equal(t.files.files.get(PATH), configText(100), 'the first deadline no longer applies');
    await t.clock.advance(10_000);
    assert.equal(t.files.files.get(PATH), configText(0));
    assert.deepEqual(t.applied.map((c) => c.carp[0]?.advskew), [50, 100, 0]);
  });

  it('an apply without a window inside one ends it (as if confirmed)', async () => {
    const t = setup();
    await t.apply.apply(configText(50), { confirmWithinSeconds: 30 });
    await t.apply.apply(configText(100));
    assert.equal(ledger(t.files).pending, undefined);
    await t.clock.advance(60_000);
    assert.equal(t.files.files.get(PATH), configText(100));
  });
});

describe('config apply: crash safety', () => {
  it('a restart inside the window resumes it; after the deadline it reverts', async () => {
    const t = setup();
    await t.apply.apply(configText(50), { confirmWithinSeconds: 30 });
    t.apply.stop(); // the process dies: its timer with it, the ledger stays
    await t.clock.advance(10_000);
    const second = t.make();
    await second.start();
    assert.equal(second.status().phase, 'pending');
    assert.equal(second.status().revertsInSeconds, 20);
    await t.clock.advance(20_000);
    assert.equal(t.files.files.get(PATH), configText(0));
    assert.equal(second.status().phase, 'active');
  });

  it('recoverConfigApply restores the file before the daemon is built, and start announces it once', async () => {
    const t = setup();
    await t.apply.apply(configText(50), { confirmWithinSeconds: 30 });
    t.apply.stop();
    assert.deepEqual(await recoverConfigApply({ files: t.files, path: PATH, ledgerPath: LEDGER, now: t.clock.now() + 29_000 }), { restored: false });
    assert.equal(t.files.files.get(PATH), configText(50));
    await t.clock.advance(31_000);
    const parsed = parseConfig(configText(50));
    assert.ok(parsed.ok);
    const config = await startingConfig({ files: t.files, path: PATH, config: parsed.config, now: t.clock.now(), log: quiet });
    assert.equal(config.carp[0]?.advskew, 0);
    assert.equal(t.files.files.get(PATH), configText(0));
    const events: TandemEvent[] = [];
    const restarted = new ConfigApply({ files: t.files, clock: t.clock, log: quiet, path: PATH, ledgerPath: LEDGER, apply: async () => undefined, emit: (e) => void events.push(e) });
    await restarted.start();
    assert.equal(events.length, 1);
    assert.ok(events[0]?.type === 'configApply' && events[0].outcome === 'reverted' && /restored at start/.test(events[0].detail ?? ''));
    assert.match(restarted.status().lastRevert?.why ?? '', /not confirmed/);
    const again: TandemEvent[] = [];
    await new ConfigApply({ files: t.files, clock: t.clock, log: quiet, path: PATH, ledgerPath: LEDGER, apply: async () => undefined, emit: (e) => void again.push(e) }).start();
    assert.equal(again.length, 0, 'announced once');
  });
});

describe('config apply on a Daemon (fakes)', () => {
  it('puts the candidate in force, reverts it unconfirmed, raises configApply and shows it in status', async () => {
    const clock = new FakeClock();
    const segment = new Segment(clock, { seed: 3 });
    segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
    const host = segment.host('fw-a');
    const files = new MemoryFileStore();
    files.files.set(PATH, configText(0));
    const initial = parseConfig(configText(0));
    assert.ok(initial.ok);
    const daemon = new Daemon(initial.config, {
      clock, files, processes: new FakeProcessRunner(), packets: host, addresses: host, announcer: host, links: host, log: quiet, configFile: PATH,
    });
    const events: StampedEvent[] = [];
    daemon.events.on((e) => events.push(e));
    await daemon.start();
    try {
      assert.ok(daemon.configApply);
      const result = await daemon.configApply.apply(configText(77), { confirmWithinSeconds: 10 });
      assert.ok(result.ok);
      assert.equal(daemon.status().carp[0]?.advskew, 77);
      assert.equal(daemon.status().configApply?.phase, 'pending');
      await clock.advance(10_000);
      assert.equal(daemon.status().carp[0]?.advskew, 0);
      assert.equal(daemon.status().configApply?.phase, 'active');
      assert.match(daemon.status().configApply?.lastRevert?.why ?? '', /not confirmed within 10 s/);
      assert.deepEqual(events.filter((e) => e.type === 'configApply').map((e) => e.type === 'configApply' && e.outcome), ['applied', 'reverted']);
    } finally {
      await daemon.stop();
    }
  });
});

describe('config apply across a kill -9 on a Daemon with a firewall (fakes)', () => {
  it('the restart after the deadline starts on the previous config, and the firewall loads its policy, not the candidate\'s', async () => {
    const { FakeNft } = await import('../../../firmware/firewall/fake.js');
    const clock = new FakeClock();
    const segment = new Segment(clock, { seed: 8 });
    segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
    const host = segment.host('fw-a');
    const files = new MemoryFileStore();
    const nft = new FakeNft();
    const withFirewall = (port: number) =>
      configText(0) +
      ['firewall:', '  zones:', '    lan: { interfaces: [eth0] }', '  rules:', `    - { on: lan, proto: tcp, to: { port: ${port} }, action: pass }`, ''].join('\n');
    files.files.set(PATH, withFirewall(22));
    const boot = async () => {
      const config = await startingConfig({ files, path: PATH, config: (parseConfig((await files.read(PATH)) ?? '') as { ok: true; config: TandemConfig }).config, now: clock.now(), log: quiet });
      const daemon = new Daemon(config, { clock, files, processes: new FakeProcessRunner(), packets: host, addresses: host, announcer: host, links: host, log: quiet, nft, configFile: PATH });
      const events: StampedEvent[] = [];
      daemon.events.on((e) => events.push(e));
      await daemon.start();
      return { daemon, events };
    };
    const first = await boot();
    assert.match(nft.ruleset ?? '', /tcp dport 22 /);
    const result = await first.daemon.configApply!.apply(withFirewall(2323), { confirmWithinSeconds: 6 });
    assert.ok(result.ok);
    assert.match(nft.ruleset ?? '', /tcp dport 2323 /);
    await first.daemon.crash();
    await clock.advance(10_000);
    assert.match(nft.ruleset ?? '', /tcp dport 2323 /, 'a crashed daemon reverts nothing');
    const second = await boot();
    try {
      assert.equal(files.files.get(PATH), withFirewall(22));
      assert.match(nft.ruleset ?? '', /tcp dport 22 /);
      assert.doesNotMatch(nft.ruleset ?? '', /2323/);
      assert.match(second.daemon.status().configApply?.lastRevert?.why ?? '', /restored at start/);
      assert.ok(second.events.some((e) => e.type === 'configApply' && e.outcome === 'reverted'));
    } finally {
      await second.daemon.stop();
    }
  });
});

describe('tandem status shows a pending config apply and the last revert', () => {
  it('formats both lines', async () => {
    const { formatStatus } = await import('../../../firmware/commands.js');
    const t = setup();
    await t.apply.apply(configText(50), { confirmWithinSeconds: 30 });
    const base = { node: 'fw-a', version: '0', uptimeSeconds: 1, maintenance: false, demotion: { total: 0 }, carp: [], unmatched: {}, pools: [], memory: { rssBytes: 0, heapUsedBytes: 0 } };
    const pending = formatStatus({ ...base, configApply: t.apply.status() } as never);
    assert.match(pending, /config applied .* through the API: PENDING, reverts in 30 s \(2026-11-22T10:00:30\.000Z\) unless confirmed/);
    await t.clock.advance(30_000);
    const reverted = formatStatus({ ...base, configApply: t.apply.status() } as never);
    assert.doesNotMatch(reverted, /PENDING/);
    assert.match(reverted, /config: last automatic revert 2026-11-22T10:00:30\.000Z: not confirmed within 30 s/);
  });
});

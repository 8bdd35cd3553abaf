// Apply, rollback, confirm and in-place table updates (firmware/firewall/service.ts) on a
// FakeClock and the in-memory nft, which passes the same contract as nft(8) itself.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { FakeNft } from '../../../firmware/firewall/fake.js';
import { compile, type Policy } from '../../../firmware/firewall/model.js';
import { renderNft } from '../../../firmware/firewall/render-nft.js';
import { Firewall } from '../../../firmware/firewall/service.js';
import { createLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';

function policy(extra: Record<string, unknown> = {}): Policy {
  const parsed = parseConfig(
    JSON.stringify({
      node: { name: 'fw-a' },
      carp: [{ vhid: 1, interface: 'eth0', addresses: ['203.0.113.10/24'], password: 'x' }],
      firewall: {
        zones: { wan: { interfaces: ['eth0'] }, lan: { interfaces: ['eth1'], networks: ['198.51.100.0/24'] } },
        tables: { web: { members: ['198.51.100.21', '198.51.100.22'], slots: 4 }, banned: { networks: true } },
        forwards: [{ on: 'wan', proto: 'tcp', to: { vip: 1, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
        ...extra,
      },
    }),
  );
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  const { policy: p } = compile(parsed.config);
  assert.ok(p);
  return p;
}

const first = policy();
const second = policy({ rules: [{ action: 'pass', direction: 'in', on: 'lan' }] });

function setup() {
  const clock = new FakeClock();
  const nft = new FakeNft();
  const logs: { level: string; msg: string }[] = [];
  const log = createLogger('debug', (line) => logs.push(JSON.parse(line) as { level: string; msg: string }));
  const firewall = new Firewall({ nft, clock, log });
  const runs = () => nft.calls.filter((c) => c.op === 'run').map((c) => c.script!);
  return { clock, nft, logs, firewall, runs };
}

describe('firewall apply', () => {
  it('checks with nft -c, then loads the whole table in one script', async () => {
    const { nft, firewall } = setup();
    assert.deepEqual(await firewall.apply(first), { ok: true, phase: 'active' });
    assert.deepEqual(nft.calls.map((c) => c.op), ['check', 'list', 'run']);
    assert.equal(nft.ruleset, renderNft(first));
    assert.equal(firewall.status().phase, 'active');
  });

  it('keeps the running ruleset when nft -c refuses the new one, and does not load it', async () => {
    const { nft, firewall, runs } = setup();
    await firewall.apply(first);
    nft.refuse = (script) => (script.includes('eth1') && script.includes('return comment "firewall.rules[0]"') ? 'Error: syntax error' : undefined);
    const result = await firewall.apply(second);
    assert.deepEqual(result, { ok: false, stage: 'check', error: 'Error: syntax error' });
    assert.equal(runs().length, 1);
    assert.equal(nft.ruleset, renderNft(first));
    assert.equal(firewall.policy, first);
    assert.match(firewall.status().lastError ?? '', /nft -c refused/);
  });

  it('keeps the running ruleset when loading fails after the check passed', async () => {
    const { nft, firewall } = setup();
    await firewall.apply(first);
    nft.failRun = () => 'Error: Could not process rule: Cannot allocate memory';
    const result = await firewall.apply(second);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.stage, 'load');
    assert.equal(nft.ruleset, renderNft(first));
    assert.equal(firewall.policy, first);
  });
});

describe('firewall apply with confirm', () => {
  it('reverts to the previous ruleset when nobody confirms in time', async () => {
    const { clock, nft, firewall, logs } = setup();
    await firewall.apply(first);
    const result = await firewall.apply(second, { confirmWithinMs: 30_000 });
    assert.deepEqual(result, { ok: true, phase: 'pending', revertsAt: new Date(clock.now() + 30_000).toISOString() });
    assert.equal(nft.ruleset, renderNft(second));
    await clock.advance(20_000);
    assert.equal(firewall.status().phase, 'pending');
    assert.equal(firewall.status().revertsInSeconds, 10);
    await clock.advance(10_000);
    assert.equal(nft.ruleset, renderNft(first));
    assert.equal(firewall.status().phase, 'active');
    assert.equal(firewall.policy, first);
    assert.match(firewall.status().lastRevert ?? '', /not confirmed in time; back to the previous ruleset/);
    assert.ok(logs.some((l) => l.level === 'warn' && /reverted to the previous ruleset/.test(l.msg)));
  });

  it('keeps the new ruleset once confirmed', async () => {
    const { clock, nft, firewall } = setup();
    await firewall.apply(first);
    await firewall.apply(second, { confirmWithinMs: 30_000 });
    await clock.advance(29_000);
    assert.deepEqual(await firewall.confirm(), { ok: true });
    await clock.advance(60_000);
    assert.equal(nft.ruleset, renderNft(second));
    assert.equal(firewall.status().phase, 'active');
    assert.equal(clock.pendingCount, 0);
  });

  it('says so when nothing waits for confirmation', async () => {
    const { firewall } = setup();
    assert.deepEqual(await firewall.confirm(), { ok: false, error: 'no firewall ruleset is waiting for confirmation' });
  });

  it('removes its table again when there was none before', async () => {
    const { clock, nft, firewall } = setup();
    await firewall.apply(first, { confirmWithinMs: 5000 });
    await clock.advance(5000);
    assert.equal(nft.ruleset, undefined);
    assert.equal(firewall.status().phase, 'unmanaged');
  });

  it('puts back the table the kernel held before this daemon loaded anything', async () => {
    const { clock, nft, firewall } = setup();
    const other = new FakeNft();
    await other.run(renderNft(second));
    nft.ruleset = other.ruleset;
    nft.elements = other.elements;
    const snapshot = await nft.listTable();
    await firewall.apply(first, { confirmWithinMs: 5000 });
    await clock.advance(5000);
    assert.ok(nft.ruleset?.endsWith(snapshot!));
    assert.equal(firewall.status().phase, 'unmanaged');
  });

  it('reverts to the last confirmed ruleset, however often one applies meanwhile', async () => {
    const { clock, nft, firewall } = setup();
    await firewall.apply(first);
    await firewall.apply(second, { confirmWithinMs: 10_000 });
    await clock.advance(8000);
    const third = policy({ rules: [{ action: 'block', direction: 'in', on: 'lan' }] });
    await firewall.apply(third, { confirmWithinMs: 10_000 });
    await clock.advance(8000);
    assert.equal(nft.ruleset, renderNft(third), 'the first timer was cancelled');
    await clock.advance(2000);
    assert.equal(nft.ruleset, renderNft(first));
  });

  it('a plain apply while pending makes the new ruleset the one in force', async () => {
    const { clock, nft, firewall } = setup();
    await firewall.apply(first);
    await firewall.apply(second, { confirmWithinMs: 10_000 });
    await firewall.apply(first);
    await clock.advance(20_000);
    assert.equal(nft.ruleset, renderNft(first));
    assert.equal(firewall.status().phase, 'active');
    assert.equal(firewall.status().lastRevert, undefined);
  });

  it('reverts at once when the daemon stops before confirmation', async () => {
    const { nft, firewall } = setup();
    await firewall.apply(first);
    await firewall.apply(second, { confirmWithinMs: 600_000 });
    await firewall.stop();
    assert.equal(nft.ruleset, renderNft(first));
  });
});

describe('table updates in place (TableUpdater)', () => {
  it('writes only the changed elements, never the ruleset', async () => {
    const { nft, firewall, runs } = setup();
    await firewall.apply(first);
    await firewall.setMembers('web', ['198.51.100.21', '198.51.100.23']);
    const update = runs().at(-1)!;
    assert.doesNotMatch(update, /^table |delete table|chain /m);
    assert.match(update, /^delete element inet tandem web-v4 \{ 198\.51\.100\.22 \}$/m);
    assert.match(update, /^add element inet tandem web-v4 \{ 198\.51\.100\.23 \}$/m);
    assert.deepEqual(nft.elements.get('web-v4'), ['198.51.100.21', '198.51.100.23']);
    assert.deepEqual(nft.elements.get('web-slots-v4'), ['0 : 198.51.100.21', '1 : 198.51.100.23', '2 : 198.51.100.21', '3 : 198.51.100.23']);
    assert.equal(firewall.status().tables?.web, 2);
  });

  it('weighs repeated members in the slots, and skips a write that changes nothing', async () => {
    const { nft, firewall, runs } = setup();
    await firewall.apply(first);
    await firewall.setMembers('web', ['198.51.100.21', '198.51.100.21', '198.51.100.21', '198.51.100.22']);
    assert.deepEqual(nft.elements.get('web-slots-v4'), ['0 : 198.51.100.21', '1 : 198.51.100.21', '2 : 198.51.100.22', '3 : 198.51.100.21']);
    const count = runs().length;
    await firewall.setMembers('web', ['198.51.100.21', '198.51.100.21', '198.51.100.21', '198.51.100.22']);
    assert.equal(runs().length, count);
  });

  it('keeps run-time members across a ruleset reload', async () => {
    const { nft, firewall } = setup();
    await firewall.apply(first);
    await firewall.setMembers('web', ['198.51.100.29']);
    await firewall.apply(second);
    assert.deepEqual(nft.elements.get('web-v4'), ['198.51.100.29']);
  });

  it('rewrites the whole set when the kernel holds something else than expected', async () => {
    const { nft, firewall, runs } = setup();
    await firewall.apply(first);
    nft.elements.set('web-v4', ['198.51.100.21']);
    await firewall.setMembers('web', ['198.51.100.23']);
    assert.match(runs().at(-1)!, /^flush set inet tandem web-v4$/m);
    assert.deepEqual(nft.elements.get('web-v4'), ['198.51.100.23']);
  });

  it('refuses what cannot be written, with the reason', async () => {
    const { firewall } = setup();
    await assert.rejects(firewall.setMembers('web', ['198.51.100.21']), /no firewall ruleset is loaded/);
    await firewall.apply(first);
    await assert.rejects(firewall.setMembers('nosuch', []), /no table "nosuch" in the firewall policy \(tables: web, banned\)/);
    await assert.rejects(firewall.setMembers('web', ['198.51.100.0/28']), /is a network; a redirect table holds single addresses/);
    await assert.rejects(firewall.setMembers('web', ['a', 'b']), /"a" is not an IP address or network/);
    const five = ['1', '2', '3', '4', '5'].map((i) => `198.51.100.${i}`);
    await assert.rejects(firewall.setMembers('web', five), /5 distinct members exceed its 4 slots/);
    await firewall.setMembers('banned', ['203.0.113.0/25', '2001:db8::/48']);
    const hashOnly = policy({ tables: { web: { members: [] }, plain: {} } });
    await firewall.apply(hashOnly);
    await assert.rejects(firewall.setMembers('plain', ['203.0.113.0/25']), /the table holds single addresses \(firewall\.tables\.plain\.networks: true would allow networks\)/);
  });

  it('never interleaves an update with an apply', async () => {
    const { nft, firewall, runs } = setup();
    await firewall.apply(first);
    const a = firewall.apply(second);
    const b = firewall.setMembers('web', ['198.51.100.30']);
    const c = firewall.apply(first);
    await Promise.all([a, b, c]);
    assert.equal(runs().length, 4);
    assert.match(runs()[2]!, /198\.51\.100\.30/);
    assert.deepEqual(nft.elements.get('web-v4'), ['198.51.100.30']);
  });
});

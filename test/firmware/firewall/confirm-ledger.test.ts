// Apply-with-confirm across a crash (firmware/firewall/confirm-ledger.ts and Firewall.start):
// a kill -9 during the window is a new Firewall on the same disk and the same kernel table,
// later on the wall clock. The ruleset applied and never confirmed must not stick.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { ConfirmLedger, firewallSource } from '../../../firmware/firewall/confirm-ledger.js';
import { FakeNft } from '../../../firmware/firewall/fake.js';
import { compile, type FirewallSource, type Policy } from '../../../firmware/firewall/model.js';
import { renderNft } from '../../../firmware/firewall/render-nft.js';
import { Firewall } from '../../../firmware/firewall/service.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';

const T0 = Date.UTC(2026, 11, 2, 12, 0, 0);
const PATH = '/cfg/state/firewall.json';

function compiled(rules: unknown[]): { policy: Policy; source: FirewallSource } {
  const parsed = parseConfig(
    JSON.stringify({
      node: { name: 'fw-a' },
      carp: [{ vhid: 1, interface: 'eth0', addresses: ['203.0.113.10/24'], password: 'secret' }],
      firewall: { zones: { wan: { interfaces: ['eth0'] }, lan: { interfaces: ['eth1'], networks: ['198.51.100.0/24'] } }, rules },
    }),
  );
  assert.ok(parsed.ok);
  const { policy } = compile(parsed.config);
  assert.ok(policy);
  return { policy, source: firewallSource(parsed.config) };
}

const A = compiled([{ action: 'pass', direction: 'in', on: 'lan' }]);
const B = compiled([{ action: 'block', direction: 'in', quick: true, on: 'lan' }]);
const C = compiled([{ action: 'pass', direction: 'in', on: 'lan', proto: 'tcp' }]);

/** One machine: its disk and its kernel table outlive any number of daemon runs. */
function machine() {
  const files = new MemoryFileStore();
  const nft = new FakeNft();
  const reverts: string[] = [];
  const boot = (atMs: number) => {
    const clock = new FakeClock(atMs);
    const firewall = new Firewall({ nft, clock, log: silentLogger, ledger: new ConfirmLedger(files, PATH), onRevert: (why) => reverts.push(why) });
    return { clock, firewall };
  };
  return { files, nft, reverts, boot };
}

describe('apply with confirm survives a crash', () => {
  it('loads the last confirmed ruleset at start once the window has passed, and keeps doing so', async () => {
    const m = machine();
    const first = m.boot(T0);
    await first.firewall.start(A.policy, A.source);
    assert.equal((await first.firewall.apply(B.policy, { confirmWithinMs: 6000, source: B.source })).ok, true);
    assert.equal(m.nft.ruleset, renderNft(B.policy));
    // kill -9: no revert ran; the kernel still holds B. The supervisor restarts 10 s later.
    const second = m.boot(T0 + 10_000);
    assert.deepEqual(await second.firewall.start(B.policy, B.source), { ok: true, phase: 'active' });
    assert.equal(m.nft.ruleset, renderNft(A.policy));
    const status = second.firewall.status();
    assert.equal(status.phase, 'active');
    assert.equal(status.rules, A.policy.rules.length);
    assert.match(status.unconfirmed ?? '', /not confirmed by .* \(the daemon was not running then\): the last confirmed ruleset is in force/);
    assert.equal(m.reverts.length, 1);
    // The config still says B; another restart must not bring it back.
    const third = m.boot(T0 + 60_000);
    await third.firewall.start(B.policy, B.source);
    assert.equal(m.nft.ruleset, renderNft(A.policy));
    assert.match(third.firewall.status().unconfirmed ?? '', /the last confirmed ruleset is in force/);
    // An explicit apply is the admin's choice: B is in force and, applied without a window, stays.
    await third.firewall.apply(B.policy, { source: B.source });
    assert.equal(third.firewall.status().unconfirmed, undefined);
    const fourth = m.boot(T0 + 120_000);
    await fourth.firewall.start(B.policy, B.source);
    assert.equal(m.nft.ruleset, renderNft(B.policy));
  });

  it('resumes the window after a restart inside it, then reverts to the confirmed ruleset', async () => {
    const m = machine();
    const first = m.boot(T0);
    await first.firewall.start(A.policy, A.source);
    await first.firewall.apply(B.policy, { confirmWithinMs: 6000, source: B.source });
    const second = m.boot(T0 + 2000);
    const resumed = await second.firewall.start(B.policy, B.source);
    assert.deepEqual(resumed, { ok: true, phase: 'pending', revertsAt: new Date(T0 + 6000).toISOString() });
    assert.equal(m.nft.ruleset, renderNft(B.policy));
    await second.clock.advance(4000);
    assert.equal(m.nft.ruleset, renderNft(A.policy), 'reverted to A, not to the B the kernel held at restart');
    assert.equal(second.firewall.status().phase, 'active');
  });

  it('keeps a ruleset confirmed before the crash', async () => {
    const m = machine();
    const first = m.boot(T0);
    await first.firewall.start(A.policy, A.source);
    await first.firewall.apply(B.policy, { confirmWithinMs: 6000, source: B.source });
    await first.firewall.confirm();
    const second = m.boot(T0 + 60_000);
    await second.firewall.start(B.policy, B.source);
    assert.equal(m.nft.ruleset, renderNft(B.policy));
    assert.equal(second.firewall.status().unconfirmed, undefined);
  });

  it('loads a config edited since the unconfirmed apply: that is a new choice', async () => {
    const m = machine();
    const first = m.boot(T0);
    await first.firewall.start(A.policy, A.source);
    await first.firewall.apply(B.policy, { confirmWithinMs: 6000, source: B.source });
    const second = m.boot(T0 + 60_000);
    await second.firewall.start(C.policy, C.source);
    assert.equal(m.nft.ruleset, renderNft(C.policy));
  });

  it('after a clean shutdown during the window, a restart keeps the confirmed ruleset', async () => {
    const m = machine();
    const first = m.boot(T0);
    await first.firewall.start(A.policy, A.source);
    await first.firewall.apply(B.policy, { confirmWithinMs: 60_000, source: B.source });
    await first.firewall.stop();
    assert.equal(m.nft.ruleset, renderNft(A.policy));
    const second = m.boot(T0 + 5000);
    await second.firewall.start(B.policy, B.source);
    assert.equal(m.nft.ruleset, renderNft(A.policy));
  });

  it('removes its table at start when nothing was ever confirmed', async () => {
    const m = machine();
    const first = m.boot(T0);
    await first.firewall.start(B.policy, B.source);
    // Start loaded B without a window: that is confirmed. A windowed apply of C, then a crash.
    await first.firewall.apply(C.policy, { confirmWithinMs: 1000, source: C.source });
    const second = m.boot(T0 + 5000);
    await second.firewall.start(C.policy, C.source);
    assert.equal(m.nft.ruleset, renderNft(B.policy));
    const fresh = machine();
    const only = fresh.boot(T0);
    await only.firewall.apply(C.policy, { confirmWithinMs: 1000, source: C.source });
    const again = fresh.boot(T0 + 5000);
    await again.firewall.start(C.policy, C.source);
    assert.equal(fresh.nft.ruleset, undefined, 'no Tandem table, as before the unconfirmed apply');
  });

  it('writes the card only when something changed', async () => {
    const m = machine();
    await m.boot(T0).firewall.start(A.policy, A.source);
    const writes = m.files.writes;
    await m.boot(T0 + 1000).firewall.start(A.policy, A.source);
    await m.boot(T0 + 2000).firewall.start(A.policy, A.source);
    assert.equal(m.files.writes, writes);
    assert.doesNotMatch(m.files.files.get(PATH) ?? '', /secret/, 'the record holds no CARP password');
  });

  it('refuses a windowed apply it cannot record, and loads nothing', async () => {
    const m = machine();
    const first = m.boot(T0);
    await first.firewall.start(A.policy, A.source);
    m.files.writeAtomic = async () => {
      throw new Error('EROFS: read-only file system');
    };
    const result = await first.firewall.apply(B.policy, { confirmWithinMs: 6000, source: B.source });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error : '', /cannot record the pending apply/);
    assert.equal(m.nft.ruleset, renderNft(A.policy));
  });
});

// The firewall inside the daemon, in memory: the config's policy loads at start, the control
// requests apply (with the confirm timer in the daemon), confirm and report, and the
// balancer's redirect pool keeps its table current through the firewall's TableUpdater,
// element by element, without reloading the ruleset.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScriptedChecks, FakeRelays } from '../../../firmware/balancer/fake.js';
import { parseConfig, type ParseResult } from '../../../firmware/config/load.js';
import { Daemon } from '../../../firmware/daemon.js';
import { FakeNft } from '../../../firmware/firewall/fake.js';
import type { FirewallStatus } from '../../../firmware/firewall/service.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';

function configText(rules: unknown[] = []): string {
  return JSON.stringify({
    node: { name: 'fw-a', stateDir: '/var/lib/tandem' },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['203.0.113.10/24'], password: 'labsecret' }],
    firewall: {
      zones: { wan: { interfaces: ['eth0'] }, lan: { interfaces: ['eth1'], networks: ['198.51.100.0/24'] } },
      rules,
      forwards: [{ on: 'wan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
    },
    balancer: {
      pools: [
        {
          name: 'web',
          port: 8080,
          hosts: [{ address: '198.51.100.21' }, { address: '198.51.100.22', weight: 2 }],
          check: { type: 'tcp', intervalSeconds: 1, timeoutSeconds: 0.5, downAfter: 1, upAfter: 1 },
          redirect: { table: 'web' },
        },
      ],
    },
  });
}

function setup() {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 4 });
  segment.attach('fw-a', { addresses: ['203.0.113.2/24'] });
  const host = segment.host('fw-a');
  const nft = new FakeNft();
  const checks = new ScriptedChecks();
  let text = configText();
  const read = async (): Promise<ParseResult> => parseConfig(text);
  const initial = parseConfig(text);
  assert.ok(initial.ok, JSON.stringify(!initial.ok && initial.issues));
  const daemon = new Daemon(
    initial.config,
    {
      clock,
      files: new MemoryFileStore(),
      processes: new FakeProcessRunner(),
      packets: host,
      addresses: host,
      announcer: host,
      links: host,
      log: createLogger('error', () => undefined),
      nft,
      healthChecks: checks,
      relays: new FakeRelays(),
    },
    read,
  );
  return { clock, nft, checks, daemon, edit: (rules: unknown[]) => (text = configText(rules)) };
}

async function request(daemon: Daemon, req: Parameters<Daemon['handle']>[0]): Promise<FirewallStatus> {
  const reply = await daemon.handle(req);
  assert.ok(reply.ok, !reply.ok ? reply.error : '');
  return reply.result as FirewallStatus;
}

describe('firewall in the daemon', () => {
  it('loads the policy at start, and the redirect pool fills its table in place', async () => {
    const { clock, nft, checks, daemon } = setup();
    await daemon.start();
    assert.match(nft.ruleset ?? '', /dnat ip to numgen inc mod 64 map @web-slots-v4 : 8080/);
    await clock.advance(3000);
    assert.deepEqual(nft.elements.get('web-v4'), ['198.51.100.21', '198.51.100.22']);
    const loads = () => nft.calls.filter((c) => c.op === 'run' && c.script!.includes('table inet tandem {')).length;
    assert.equal(loads(), 1);

    checks.fail('198.51.100.22');
    await clock.advance(3000);
    assert.deepEqual(nft.elements.get('web-v4'), ['198.51.100.21']);
    assert.ok(nft.elements.get('web-slots-v4')!.every((e) => e.endsWith('198.51.100.21')));
    checks.pass('198.51.100.22');
    await clock.advance(3000);
    // Weight 2: .22 holds two slots in three.
    const slots = nft.elements.get('web-slots-v4')!;
    assert.equal(slots.filter((e) => e.endsWith('.22')).length, 43);
    assert.equal(loads(), 1, 'no ruleset reload for table changes');
    await daemon.stop();
  });

  it('applies the edited config with a confirm timer that lives in the daemon', async () => {
    const { clock, nft, daemon, edit } = setup();
    await daemon.start();
    const before = nft.ruleset;
    edit([{ action: 'pass', direction: 'in', on: 'lan' }]);
    const pending = await request(daemon, { cmd: 'firewall-apply', confirmWithinSeconds: 60 });
    assert.equal(pending.phase, 'pending');
    assert.equal(pending.revertsInSeconds, 60);
    assert.match(nft.ruleset ?? '', /firewall\.rules\[0\]/);
    await clock.advance(61_000);
    assert.equal((await request(daemon, { cmd: 'firewall-status' })).phase, 'active');
    assert.doesNotMatch(nft.ruleset ?? '', /firewall\.rules\[0\]/);
    assert.match(nft.ruleset ?? '', /firewall\.forwards\[0\]/);
    assert.equal(nft.ruleset?.split('\n').filter((l) => !l.includes('elements')).join('\n'), before?.split('\n').filter((l) => !l.includes('elements')).join('\n'));

    await request(daemon, { cmd: 'firewall-apply', confirmWithinSeconds: 60 });
    const confirmed = await request(daemon, { cmd: 'firewall-confirm' });
    assert.equal(confirmed.phase, 'active');
    await clock.advance(120_000);
    assert.match(nft.ruleset ?? '', /firewall\.rules\[0\]/);
    await daemon.stop();
  });

  it('refuses an invalid edited config and changes nothing', async () => {
    const { nft, daemon, edit } = setup();
    await daemon.start();
    const before = nft.ruleset;
    edit([{ action: 'pass', on: 'dmz' }]);
    const reply = await daemon.handle({ cmd: 'firewall-apply' });
    assert.ok(!reply.ok);
    assert.match(reply.error, /firewall\.rules\[0\]\.on: unknown zone "dmz"/);
    assert.equal(nft.ruleset, before);
    await daemon.stop();
  });

  it('reports a confirm with nothing pending as an error', async () => {
    const { daemon } = setup();
    await daemon.start();
    const reply = await daemon.handle({ cmd: 'firewall-confirm' });
    assert.deepEqual(reply, { ok: false, error: 'no firewall ruleset is waiting for confirmation' });
    await daemon.stop();
  });
});

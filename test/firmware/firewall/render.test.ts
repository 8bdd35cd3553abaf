// Golden tests of both renderers over the example policies in test/fixtures/firewall/*.yaml
// (complete Tandem configs): each renders byte for byte to its .pf.golden and .nft.golden, and
// every pf.conf passes the pf.conf(5) grammar checker. The nftables side is checked by the
// kernel's own parser, `nft -c`, in test/netns/firewall-nft.test.ts.
//
// To regenerate the goldens after a deliberate renderer change (and then read the diff):
//   UPDATE_GOLDENS=1 node --import tsx --test test/firmware/firewall/render.test.ts

import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { compile, type Policy } from '../../../firmware/firewall/model.js';
import { fillSlots, renderNft, renderTableUpdate } from '../../../firmware/firewall/render-nft.js';
import { renderPf } from '../../../firmware/firewall/render-pf.js';
import { parsePf, type PfStatement } from './pf-grammar.js';

const FIXTURES = new URL('../../fixtures/firewall/', import.meta.url);
const UPDATE = process.env.UPDATE_GOLDENS === '1';

export async function fixturePolicies(): Promise<{ name: string; policy: Policy }[]> {
  const files = (await readdir(FIXTURES)).filter((f) => f.endsWith('.yaml')).sort();
  const out: { name: string; policy: Policy }[] = [];
  for (const file of files) {
    const parsed = parseConfig(await readFile(new URL(file, FIXTURES), 'utf8'));
    assert.ok(parsed.ok, `${file}: ${JSON.stringify(!parsed.ok && parsed.issues)}`);
    const { policy, issues } = compile(parsed.config);
    assert.ok(policy, `${file}: ${JSON.stringify(issues)}`);
    out.push({ name: file.replace(/\.yaml$/, ''), policy });
  }
  return out;
}

async function golden(name: string, actual: string): Promise<void> {
  const url = new URL(name, FIXTURES);
  if (UPDATE) {
    await writeFile(url, actual);
    return;
  }
  const expected = await readFile(url, 'utf8').catch(() => undefined);
  assert.ok(expected !== undefined, `${name} is missing: run with UPDATE_GOLDENS=1 to write it`);
  assert.equal(actual, expected, `${name} differs (UPDATE_GOLDENS=1 rewrites it after a deliberate change)`);
}

const policies = await fixturePolicies();

describe('renderers: golden files', () => {
  it('covers the fixtures the issue asks for', () => {
    const names = policies.map((p) => p.name);
    for (const required of ['ha-router', 'dmz-balancer']) assert.ok(names.includes(required), required);
  });
  for (const { name, policy } of policies) {
    it(`${name}: pf.conf matches ${name}.pf.golden and parses by pf.conf(5)`, async () => {
      const text = renderPf(policy);
      await golden(`${name}.pf.golden`, text);
      const parsed = parsePf(text);
      assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
    });
    it(`${name}: nftables matches ${name}.nft.golden`, async () => {
      await golden(`${name}.nft.golden`, renderNft(policy));
    });
    it(`${name}: rendering is pure (same text twice, policy untouched)`, () => {
      const before = structuredClone(policy);
      assert.equal(renderPf(policy), renderPf(policy));
      assert.equal(renderNft(policy), renderNft(policy));
      assert.deepEqual(policy, before);
    });
  }
});

const byName = (name: string) => policies.find((p) => p.name === name)!.policy;
const rules = (statements: PfStatement[]) => statements.filter((s): s is Extract<PfStatement, { kind: 'rule' }> => s.kind === 'rule');

describe('pf rendering of the HA router', () => {
  const text = renderPf(byName('ha-router'));
  const parsed = parsePf(text);
  assert.ok(parsed.ok);
  const all = rules(parsed.statements);

  it('translates outbound lan traffic to the wan VIP, so sessions survive failover', () => {
    const nat = all.filter((r) => r.translation?.kind === 'nat-to');
    assert.deepEqual(
      nat.map((r) => ({ action: r.action, dir: r.direction, on: r.interfaces, from: r.from, to: r.translation!.targets })),
      [{ action: 'match', dir: 'out', on: ['eth0'], from: ['198.51.100.0/25'], to: ['203.0.113.10'] }],
    );
  });

  it('forwards two ports to inner hosts with pass in quick ... rdr-to', () => {
    const rdr = all.filter((r) => r.translation?.kind === 'rdr-to');
    assert.deepEqual(
      rdr.map((r) => [r.quick, r.to, r.translation!.targets, r.translation!.port]),
      [
        [true, ['203.0.113.10'], ['198.51.100.21'], undefined],
        [true, ['203.0.113.10'], ['198.51.100.22'], '22'],
      ],
    );
  });

  it('passes CARP on every CARP interface and state sync on the sync zone, quick and stateless', () => {
    assert.match(text, /^pass quick on \{ eth0, eth1 \} proto carp all no state label "tandem: carp"$/m);
    assert.match(text, /^pass quick on \$sync proto pfsync all no state/m);
    assert.match(text, /^pass in quick on \$lan proto tcp to self port \{ 22, 443 \} label "tandem: anti-lockout"$/m);
  });

  it('writes macros for zones and blocks in by default', () => {
    assert.match(text, /^wan = "eth0"$/m);
    assert.match(text, /^block in all$/m);
    assert.match(text, /^antispoof quick for \$lan$/m);
  });
});

describe('pf rendering of the balancer redirect', () => {
  const parsed = parsePf(renderPf(byName('dmz-balancer')));
  assert.ok(parsed.ok);

  it('puts each table redirect in its own anchor under tandem/, round-robin over the table', () => {
    const inAnchor = rules(parsed.statements).filter((r) => r.anchor === 'tandem/redirect-web');
    assert.equal(inAnchor.length, 2);
    for (const r of inAnchor) {
      assert.deepEqual(r.translation?.targets, ['<web>']);
      assert.equal(r.translation?.pool, 'round-robin');
    }
  });

  it('defines the table once, members without repeats (pf tables hold no weights)', () => {
    const tables = parsed.statements.filter((s) => s.kind === 'table');
    assert.deepEqual(
      tables.map((t) => t.kind === 'table' && [t.name, t.addresses]),
      [
        ['web', ['198.51.100.130', '198.51.100.131', '2001:db8:2::130']],
        ['trusted', []],
      ],
    );
  });
});

describe('nftables rendering', () => {
  it('replaces only table inet tandem: create, delete, define, in one file', () => {
    const text = renderNft(byName('ha-router'));
    const head = text.split('\n').filter((l) => l && !l.startsWith('#')).slice(0, 3);
    assert.deepEqual(head, ['table inet tandem', 'delete table inet tandem', 'table inet tandem {']);
    assert.doesNotMatch(text, /flush ruleset/);
    const tableLines = text.split('\n').filter((l) => /^(delete )?table /.test(l));
    assert.deepEqual(tableLines, ['table inet tandem', 'delete table inet tandem', 'table inet tandem {']);
  });

  it("turns pf's last match into nft's first: quick rules in order, the others reversed, default last", () => {
    const text = renderNft(byName('ha-router'));
    const chain = /chain filter_in \{\n([\s\S]*?)\n\t\}/.exec(text)![1]!.split('\n');
    const order = chain.map((l) => /comment "([^":]*)/.exec(l)?.[1]).filter((c, i, a) => c && a.indexOf(c) === i);
    assert.deepEqual(order, [
      'firewall.ha.carp',
      'firewall.ha.stateSync',
      'firewall.ha.antiLockout',
      'firewall.ha.ndp',
      'antispoof wan',
      'antispoof lan',
      'antispoof sync',
      'firewall.rules[2]',
      'firewall.forwards[0]',
      'firewall.forwards[1]',
      'firewall.rules[1]',
      'firewall.rules[0]',
      'default',
    ]);
  });

  it('redirects to a table through a fixed slot map, so the rule never changes with the members', () => {
    const policy = byName('dmz-balancer');
    const a = renderNft(policy);
    const b = renderNft(policy, { members: new Map([['web', ['198.51.100.130']]]) });
    const dnat = (t: string) => t.split('\n').filter((l) => l.includes('dnat'));
    assert.deepEqual(dnat(a), dnat(b));
    assert.match(a, /dnat ip to numgen inc mod 60 map @web-slots-v4 comment/);
    assert.match(b, /elements = \{ 0 : 198\.51\.100\.130, 1 : 198\.51\.100\.130,/);
  });
});

describe('slots and table updates', () => {
  it('fills slots in turn, by weight', () => {
    assert.deepEqual(fillSlots(['a', 'b', 'c'], 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
    const weighted = fillSlots(['a', 'b', 'b'], 60);
    assert.equal(weighted.filter((m) => m === 'b').length, 40);
    assert.equal(weighted.filter((m) => m === 'a').length, 20);
    assert.deepEqual(weighted.slice(0, 3), ['b', 'a', 'b']);
    assert.deepEqual(fillSlots([], 64), []);
    const skewed = fillSlots([...Array<string>(100).fill('big'), 'small'], 64);
    assert.equal(skewed.length, 64);
  });

  it('writes only the difference when it knows what the kernel holds', () => {
    const table = { name: 'pool', members: [], networks: false, slots: 4, redirect: false };
    const members = Array.from({ length: 10_000 }, (_, i) => `198.51.${100 + Math.floor(i / 256) % 2}.${i % 256}`);
    assert.equal(renderTableUpdate(table, ['198.51.100.1', '198.51.100.2'], ['198.51.100.1', '198.51.100.3']), [
      'delete element inet tandem pool-v4 { 198.51.100.3 }',
      'add element inet tandem pool-v4 { 198.51.100.2 }',
      '',
    ].join('\n'));
    assert.equal(renderTableUpdate(table, members, members), '');
    assert.match(renderTableUpdate(table, ['2001:db8::1']), /^flush set inet tandem pool-v4\nflush set inet tandem pool-v6\nadd element inet tandem pool-v6 \{ 2001:db8::1 \}\n$/);
  });

  it('rewrites the slot map of a redirect table with the set', () => {
    const table = { name: 'web', members: [], networks: false, slots: 4, redirect: true };
    const script = renderTableUpdate(table, ['198.51.100.21', '198.51.100.22'], ['198.51.100.21']);
    assert.equal(
      script,
      [
        'add element inet tandem web-v4 { 198.51.100.22 }',
        'flush map inet tandem web-slots-v4',
        'add element inet tandem web-slots-v4 { 0 : 198.51.100.21, 1 : 198.51.100.22, 2 : 198.51.100.21, 3 : 198.51.100.22 }',
        '',
      ].join('\n'),
    );
  });
});

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';

const good = await readFile(new URL('../../fixtures/config/good.yaml', import.meta.url), 'utf8');

function issuesOf(text: string): string[] {
  const result = parseConfig(text);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.issues.map((i) => `${i.line ?? '?'}: ${i.path}: ${i.message}`);
}

const base = (carp: string) => `node:\n  name: fw-a\ncarp:\n${carp}`;
const entry = (extra = '', vhid = 42) =>
  `  - vhid: ${vhid}\n    interface: eth0\n    addresses: [198.51.100.100/24]\n    password: labsecret\n${extra}`;

describe('config', () => {
  it('accepts the documented example and fills in defaults', () => {
    const result = parseConfig(good);
    assert.ok(result.ok);
    const carp = result.config.carp[0]!;
    assert.equal(carp.vhid, 42);
    assert.deepEqual(carp.track.interfaces, ['eth1']);
    assert.equal(result.config.node.stateDir, '/cfg/state');
    assert.equal(result.config.log.level, 'info');
    assert.equal(result.config.hooks.timeoutSeconds, 30);
  });

  it('accepts JSON', () => {
    const result = parseConfig(JSON.stringify({ node: { name: 'fw-b' }, carp: [] }));
    assert.ok(result.ok);
    assert.equal(result.config.node.name, 'fw-b');
    assert.equal(result.config.control.socket, '/run/tandem/control.sock');
  });

  it('defaults advbase 1, advskew 0, preempt off, mac real', () => {
    const result = parseConfig(base(entry()));
    assert.ok(result.ok);
    const carp = result.config.carp[0]!;
    assert.deepEqual([carp.advbase, carp.advskew, carp.preempt, carp.mac], [1, 0, false, 'real']);
  });

  // One broken config per row: the exact line `tandem check` prints for it.
  const broken: [string, string, string[]][] = [
    ['advskew out of range', base(entry('    advskew: 300\n')), ['8: carp[0].advskew: must be 0-254, got 300']],
    ['vhid 0', base(entry('', 0)), ['4: carp[0].vhid: must be 1-255, got 0']],
    ['advbase not a number', base(entry('    advbase: fast\n')), ['8: carp[0].advbase: must be 0-254, got "fast"']],
    [
      'password over 19 bytes',
      base(entry().replace('labsecret', 'a-very-long-passphrase')),
      ['7: carp[0].password: must be at most 19 bytes (carp(4) keeps 19), is 22 bytes, got "a-very-long-passphrase"'],
    ],
    [
      'password over 19 bytes in UTF-8',
      base(entry().replace('labsecret', 'ééééééééééé')),
      ['7: carp[0].password: must be at most 19 bytes (carp(4) keeps 19), is 22 bytes, got "ééééééééééé"'],
    ],
    [
      'address without prefix',
      base(entry().replace('198.51.100.100/24', '198.51.100.100')),
      ['6: carp[0].addresses[0]: must be an address with a prefix length, like 198.51.100.100/24 or 2001:db8::100/64, got "198.51.100.100"'],
    ],
    [
      'prefix too long',
      base(entry().replace('198.51.100.100/24', '198.51.100.100/33')),
      ['6: carp[0].addresses[0]: must be an address with a prefix length, like 198.51.100.100/24 or 2001:db8::100/64, got "198.51.100.100/33"'],
    ],
    [
      'unknown key (typo)',
      base(entry('    advskw: 10\n')),
      ['8: carp[0].advskw: unknown key (expected one of: vhid, interface, addresses, password, advbase, advskew, preempt, peer, mac, track)'],
    ],
    [
      'duplicate vhid on one interface',
      base(entry() + entry().replace('198.51.100.100', '198.51.100.101')),
      ['8: carp[1].vhid: vhid 42 is already used on eth0 by carp[0]'],
    ],
    [
      'one address in two groups',
      base(entry() + entry('', 43)),
      ['10: carp[1].addresses[0]: 198.51.100.100 is already a virtual address of carp[0]'],
    ],
    [
      'IPv6 peer for an IPv4-only group',
      base(entry('    peer: 2001:db8::12\n')),
      ['8: carp[0].peer: an IPv6 peer cannot carry this group\'s adverts: it has no IPv6 virtual address'],
    ],
    [
      'mac mode misspelt',
      base(entry('    mac: virtaul\n')),
      ['8: carp[0].mac: must be one of real, virtual, got "virtaul"'],
    ],
    ['missing password', base(entry().replace('    password: labsecret\n', '')), ['4: carp[0].password: is required (a passphrase)']],
    ['missing node section', 'carp: []\n', ['1: node: is required (a mapping with name)']],
    ['bad interface name', base(entry().replace('eth0', 'this-name-is-too-long')), ['5: carp[0].interface: must be an interface name (1-15 characters: letters, digits, _ . - @ :), got "this-name-is-too-long"']],
    ['relative hook path', 'node: { name: fw-a }\nhooks:\n  master: hooks/master.sh\n', ['3: hooks.master: must be an absolute path, got "hooks/master.sh"']],
    ['preempt as a string', base(entry('    preempt: "yes"\n')), ['8: carp[0].preempt: must be true or false, got "yes"']],
    ['carp not a list', 'node: { name: fw-a }\ncarp: { vhid: 1 }\n', ['2: carp: must be a list, got a mapping']],
    ['empty address list', base(entry().replace('[198.51.100.100/24]', '[]')), ['6: carp[0].addresses: must have at least 1 item(s), got 0']],
    ['tracking the parent interface', base(entry('    track: { interfaces: [eth0] }\n')), ['8: carp[0].track.interfaces[0]: eth0 is the parent interface; its link already moves the group to INIT']],
    ['YAML syntax error', 'node:\n  name: [fw-a\n', ['3: (syntax): Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['duplicate YAML key', 'node:\n  name: a\n  name: b\n', ['3: (syntax): Map keys must be unique']],
  ];

  for (const [name, text, expected] of broken) {
    it(`rejects: ${name}`, () => {
      assert.deepEqual(issuesOf(text), expected);
    });
  }

  it('reports every error at once, not only the first', () => {
    const issues = issuesOf(base(entry('    advskew: 300\n    advbase: 255\n    mac: both\n')));
    assert.equal(issues.length, 3);
  });

  it('treats 2001:0db8::100 and 2001:db8::100 as the same address', () => {
    const issues = issuesOf(
      base(entry().replace('198.51.100.100/24', '2001:db8::100/64') + entry('', 43).replace('198.51.100.100/24', '2001:0db8::100/64')),
    );
    assert.match(issues[0]!, /2001:0db8::100 is already a virtual address of carp\[0\]/);
  });
});

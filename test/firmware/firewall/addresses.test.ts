// Address arithmetic behind the firewall's checks and its nftables sets.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonical, contains, networkOf, overlaps, parsePrefix, uncovered } from '../../../firmware/firewall/addresses.js';

const p = (text: string) => {
  const prefix = parsePrefix(text);
  assert.ok(prefix, text);
  return prefix;
};

describe('firewall addresses', () => {
  it('writes one canonical form (RFC 5952 for IPv6)', () => {
    const rows: [string, string][] = [
      ['198.51.100.7', '198.51.100.7'],
      ['198.51.100.7/24', '198.51.100.0/24'],
      ['198.51.100.7/32', '198.51.100.7'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8::/32', '2001:db8::/32'],
      ['2001:db8:1:2:3:4:5:6/64', '2001:db8:1:2::/64'],
      ['::ffff:198.51.100.1', '::ffff:c633:6401'],
      ['::', '::'],
    ];
    for (const [input, expected] of rows) assert.equal(canonical(p(input)), expected, input);
    assert.equal(networkOf(p('203.0.113.130/26')), '203.0.113.128/26');
  });

  it('refuses what is not an address or network', () => {
    for (const bad of ['198.51.100.256', '198.51.100.0/33', '2001:db8::/129', 'eth0', '198.51.100.0/', '198.51.100.0/2x', '']) {
      assert.equal(parsePrefix(bad), undefined, bad);
    }
  });

  it('knows overlap and containment', () => {
    assert.ok(overlaps(p('198.51.100.0/24'), p('198.51.100.7')));
    assert.ok(!overlaps(p('198.51.100.0/25'), p('198.51.100.128/25')));
    assert.ok(!overlaps(p('198.51.100.0/24'), p('2001:db8::/32')));
    assert.ok(contains(p('2001:db8::/32'), p('2001:db8:1::/48')));
    assert.ok(!contains(p('2001:db8:1::/48'), p('2001:db8::/32')));
  });

  it('keeps the members no other member covers, once, in their order', () => {
    assert.deepEqual(uncovered(['198.51.100.5', '198.51.100.0/25', '198.51.100.200', '198.51.100.5', '2001:db8::1', '2001:db8::/64']), [
      '198.51.100.0/25',
      '198.51.100.200',
      '2001:db8::/64',
    ]);
    assert.deepEqual(uncovered(['198.51.100.2', '198.51.100.1', '198.51.100.2']), ['198.51.100.2', '198.51.100.1']);
    assert.deepEqual(uncovered(['198.51.100.0/24', '198.51.100.0/25']), ['198.51.100.0/24']);
  });
});

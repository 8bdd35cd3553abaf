// The network planner (firmware/network/planner.ts) and its CIDR helpers: steps in order, only
// what differs, nothing for a box already up, and a config that does not fit the box refused
// before any step.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressBits, canonicalDestination, contains, isNetworkAddress, parseCidrText } from '../../../firmware/network/cidr.js';
import { describeStep, planNetwork, resolvText } from '../../../firmware/network/planner.js';
import type { ObservedNetwork } from '../../../firmware/network/ports.js';
import type { NetworkConfig } from '../../../firmware/network/schema.js';

const bare = (): ObservedNetwork => ({
  hostname: 'localhost\n',
  links: [
    { name: 'lo', mtu: 65536, up: true, addresses: [{ address: '127.0.0.1', prefix: 8 }] },
    { name: 'eth0', mtu: 1500, up: false, addresses: [] },
    { name: 'eth1', mtu: 1500, up: false, addresses: [{ address: 'fe80::1', prefix: 64 }] },
  ],
  routes: [],
  resolv: undefined,
});

const config = (over: Partial<NetworkConfig> = {}): NetworkConfig => ({
  hostname: 'fw-a',
  interfaces: [
    { name: 'eth0', addresses: ['198.51.100.2/24', '2001:db8::2/64'], mtu: 1400 },
    { name: 'eth1', addresses: ['203.0.113.2/24'] },
  ],
  routes: [
    { to: 'default', via: '198.51.100.1' },
    { to: '2001:db8:1::/48', via: '2001:db8::1', interface: 'eth0' },
  ],
  nameservers: ['198.51.100.53'],
  resolvConf: '/run/tandem/resolv.conf',
  ...over,
});

test('a bare box gets hostname, then per interface mtu, up and addresses, then routes, then resolv.conf', () => {
  const plan = planNetwork(config(), bare());
  assert.ok(plan.ok);
  assert.deepEqual(plan.steps.map(describeStep), [
    'hostname fw-a',
    'eth0: mtu 1400',
    'eth0: link up',
    'eth0: address 198.51.100.2/24',
    'eth0: address 2001:db8::2/64',
    'eth1: link up',
    'eth1: address 203.0.113.2/24',
    'route default via 198.51.100.1',
    'route 2001:db8:1::/48 via 2001:db8::1 dev eth0',
    '/run/tandem/resolv.conf: 1 nameserver(s)',
  ]);
  assert.deepEqual(plan.steps.map((s) => s.path), [
    'network.hostname',
    'network.interfaces[0].mtu',
    'network.interfaces[0].name',
    'network.interfaces[0].addresses[0]',
    'network.interfaces[0].addresses[1]',
    'network.interfaces[1].name',
    'network.interfaces[1].addresses[0]',
    'network.routes[0]',
    'network.routes[1]',
    'network.nameservers',
  ]);
});

test('a box already as configured plans nothing (other text forms of the same address count as the same)', () => {
  const observed: ObservedNetwork = {
    hostname: 'fw-a\n',
    links: [
      { name: 'eth0', mtu: 1400, up: true, addresses: [{ address: '198.51.100.2', prefix: 24 }, { address: '2001:db8:0:0::2', prefix: 64 }, { address: '198.51.100.100', prefix: 24 }] },
      { name: 'eth1', mtu: 1500, up: true, addresses: [{ address: '203.0.113.2', prefix: 24 }] },
    ],
    routes: [
      { to: 'default', family: 4, via: '198.51.100.1', interface: 'eth0' },
      { to: '2001:db8:1::/48', family: 6, via: '2001:db8::1', interface: 'eth0' },
    ],
    resolv: resolvText(['198.51.100.53']),
  };
  const plan = planNetwork(config(), observed);
  assert.deepEqual(plan, { ok: true, steps: [] });
});

test('a route to the same destination through another gateway or interface is replaced; an extra address is left alone', () => {
  const observed = bare();
  observed.routes = [
    { to: 'default', family: 4, via: '198.51.100.254', interface: 'eth0' },
    { to: '2001:db8:1::/48', family: 6, via: '2001:db8::1', interface: 'eth1' },
  ];
  const plan = planNetwork(config({ hostname: undefined, interfaces: [], nameservers: [] }), observed);
  assert.ok(plan.ok);
  assert.deepEqual(plan.steps.map(describeStep), ['route default via 198.51.100.1', 'route 2001:db8:1::/48 via 2001:db8::1 dev eth0']);
});

test('an interface the box does not have refuses the whole plan, with each path', () => {
  const plan = planNetwork(
    config({ interfaces: [{ name: 'eth0', addresses: [] }, { name: 'eth9', addresses: [] }], routes: [{ to: 'default', via: '198.51.100.1', interface: 'wan0' }] }),
    bare(),
  );
  assert.equal(plan.ok, false);
  assert.ok(!plan.ok);
  assert.deepEqual(plan.issues.map((i) => i.path), ['network.interfaces[1].name', 'network.routes[0].interface']);
  assert.match(plan.issues[0]!.message, /no interface eth9 on this box \(it has lo, eth0, eth1\)/);
});

test('loopback comes up even when the config does not list it', () => {
  const observed = bare();
  observed.links[0]!.up = false;
  const plan = planNetwork(config({ hostname: undefined, interfaces: [], routes: [], nameservers: [] }), observed);
  assert.deepEqual(plan, { ok: true, steps: [{ kind: 'linkUp', path: 'network', interface: 'lo' }] });
});

test('no nameservers: resolv.conf is not touched', () => {
  const plan = planNetwork(config({ nameservers: [] }), bare());
  assert.ok(plan.ok);
  assert.equal(plan.steps.some((s) => s.kind === 'resolv'), false);
});

test('CIDR helpers: network addresses, containment, canonical forms', () => {
  const table: Array<[string, boolean]> = [
    ['203.0.113.0/24', true],
    ['203.0.113.7/24', false],
    ['0.0.0.0/0', true],
    ['2001:db8:1::/48', true],
    ['2001:db8:1::1/48', false],
    ['2001:db8::/32', true],
    ['::ffff:198.51.100.0/120', true],
  ];
  for (const [text, expected] of table) assert.equal(isNetworkAddress(parseCidrText(text)!), expected, text);
  assert.equal(contains(parseCidrText('198.51.100.2/24')!, '198.51.100.1'), true);
  assert.equal(contains(parseCidrText('198.51.100.2/24')!, '198.51.101.1'), false);
  assert.equal(contains(parseCidrText('198.51.100.2/24')!, '2001:db8::1'), false);
  assert.equal(contains(parseCidrText('2001:db8::2/64')!, '2001:db8::ffff:1'), true);
  assert.equal(contains(parseCidrText('2001:db8::2/64')!, '2001:db8:0:1::1'), false);
  assert.equal(addressBits('::1'), 1n);
  assert.equal(addressBits('198.51.100.1'), 0xc6336401n);
  assert.equal(canonicalDestination('2001:0db8:0001::/48'), '2001:db8:1::/48');
  assert.equal(canonicalDestination('default'), 'default');
});

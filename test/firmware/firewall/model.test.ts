// The policy model's checks of meaning, through the config loader as `tandem check` sees them:
// each broken policy gives exactly the `path: message` lines listed, and a good one compiles
// into zones, networks, VIPs and the HA rules.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { compile } from '../../../firmware/firewall/model.js';

const CARP = [
  { vhid: 10, interface: 'eth0', addresses: ['203.0.113.10/24'], password: 'x' },
  { vhid: 20, interface: 'eth1', addresses: ['198.51.100.1/25', '2001:db8:1::1/64'], password: 'y' },
];
const ZONES = {
  wan: { interfaces: ['eth0'], addresses: ['203.0.113.2/24'] },
  lan: { interfaces: ['eth1'], addresses: ['198.51.100.2/25'] },
  sync: { interfaces: ['eth2'] },
};

function configWith(firewall: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ node: { name: 'fw-a' }, carp: CARP, firewall: { zones: ZONES, ...firewall }, ...extra });
}

function issues(firewall: Record<string, unknown>, extra?: Record<string, unknown>): string[] {
  const result = parseConfig(configWith(firewall, extra));
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
}

const tcp80 = { proto: 'tcp', to: { vip: 10, port: 80 } };

// [what, firewall section (zones default to wan/lan/sync), the exact lines]
const BROKEN: [string, Record<string, unknown>, string[]][] = [
  ['unknown zone in on', { rules: [{ action: 'pass', on: 'dmz' }] }, ['firewall.rules[0].on: unknown zone "dmz" (zones: wan, lan, sync)']],
  [
    'unknown zone in a list',
    { rules: [{ action: 'pass', on: ['lan', 'dmz'] }] },
    ['firewall.rules[0].on[1]: unknown zone "dmz" (zones: wan, lan, sync)'],
  ],
  ['ports on ICMP', { rules: [{ action: 'pass', proto: 'icmp', to: { port: 22 } }] }, ['firewall.rules[0].to.port: tcp/udp only, rule has proto icmp']],
  ['ports without proto', { rules: [{ action: 'pass', from: { port: '1024-65535' } }] }, ['firewall.rules[0].from.port: tcp/udp only, rule has no proto']],
  [
    'ports with a mixed proto list',
    { rules: [{ action: 'pass', proto: ['tcp', 'gre'], to: { port: 22 } }] },
    ['firewall.rules[0].to.port: tcp/udp only, rule has proto gre'],
  ],
  [
    'a table nothing defines',
    { tables: { web: {} }, rules: [{ action: 'block', from: { table: 'bad' } }] },
    ['firewall.rules[0].from.table: table "bad" is not defined in firewall.tables (tables: web)'],
  ],
  [
    'a forward to a table nothing defines',
    { forwards: [{ on: 'wan', ...tcp80, rdrTo: { table: 'web' } }] },
    ['firewall.forwards[0].rdrTo.table: table "web" is not defined in firewall.tables'],
  ],
  [
    'a NAT address that is neither VIP nor zone address',
    { nat: [{ on: 'wan', from: { zone: 'lan' }, natTo: { address: '203.0.113.99' } }] },
    ['firewall.nat[0].natTo.address: 203.0.113.99 is not a CARP virtual address or an address of a zone'],
  ],
  [
    'a NAT to a vhid that does not exist',
    { nat: [{ on: 'wan', natTo: { vip: 99 } }] },
    ['firewall.nat[0].natTo.vip: no CARP vhost has vhid 99 (vhids: 10, 20)'],
  ],
  ['a NAT with two targets', { nat: [{ on: 'wan', natTo: { vip: 10, interface: true } }] }, ['firewall.nat[0].natTo: give exactly one of vip, address, interface (got vip and interface)']],
  [
    'a NAT whose VIP has no address of the sources\' family',
    { nat: [{ on: 'wan', from: { address: '2001:db8:1::/64' }, natTo: { vip: 10 } }] },
    ['firewall.nat[0].natTo: has no IPv6 address for the sources it would translate'],
  ],
  [
    'overlapping port forwards',
    {
      forwards: [
        { on: 'wan', proto: 'tcp', to: { vip: 10, port: ['80', '8000-8100'] }, rdrTo: { address: '198.51.100.21' } },
        { on: 'wan', proto: ['tcp', 'udp'], to: { address: '203.0.113.0/24', port: 8080 }, rdrTo: { address: '198.51.100.22' } },
      ],
    },
    ['firewall.forwards[1].to.port: overlaps firewall.forwards[0] (tcp port 80, 8000-8100 on eth0): one connection cannot go to both'],
  ],
  [
    'a forward whose target family matches nothing',
    { forwards: [{ on: 'wan', ...tcp80, rdrTo: { address: '2001:db8:1::21' } }] },
    ['firewall.forwards[0]: no address family fits: the rule is IPv6, from is IPv4 and IPv6, to is IPv4'],
  ],
  ['a forward with address and table', { tables: { web: {} }, forwards: [{ on: 'wan', ...tcp80, rdrTo: { address: '198.51.100.21', table: 'web' } }] }, ['firewall.forwards[0].rdrTo: give exactly one of address, table (got both)']],
  [
    'a network in a redirect table',
    { tables: { web: { members: ['198.51.100.0/28'] } }, forwards: [{ on: 'wan', ...tcp80, rdrTo: { table: 'web' } }] },
    ['firewall.tables.web.members[0]: 198.51.100.0/28 is a network; a table that a forward redirects to holds single addresses'],
  ],
  [
    'a network in a table of single addresses',
    { tables: { banned: { members: ['203.0.113.66', '203.0.113.128/26'] } } },
    ['firewall.tables.banned.members[1]: 203.0.113.128/26 is a network; set networks: true to let the table hold networks'],
  ],
  [
    'networks in a redirect table',
    { tables: { web: { networks: true } }, forwards: [{ on: 'wan', ...tcp80, rdrTo: { table: 'web' } }] },
    ['firewall.tables.web.networks: a table that a forward redirects to holds single addresses'],
  ],
  [
    'more distinct members than slots',
    { tables: { web: { members: ['198.51.100.21', '198.51.100.22', '198.51.100.22'], slots: 1 } }, forwards: [{ on: 'wan', ...tcp80, rdrTo: { table: 'web' } }] },
    ["firewall.tables.web.members: 2 distinct members exceed the table's 1 slots"],
  ],
  [
    'an ICMP type without ICMP',
    { rules: [{ action: 'pass', proto: 'tcp', icmpType: 'echo-request' }] },
    ['firewall.rules[0].icmpType: icmp/icmp6 only, rule has proto tcp'],
  ],
  ['an ICMPv6 type on ICMP', { rules: [{ action: 'pass', proto: 'icmp', icmpType: 'packet-too-big' }] }, ['firewall.rules[0].icmpType: packet-too-big is not an ICMP type']],
  ['ICMP in an inet6 rule', { rules: [{ action: 'pass', family: 'inet6', proto: 'icmp' }] }, ['firewall.rules[0].proto: icmp is IPv4 only, rule has family inet6']],
  [
    'families that cannot meet',
    { rules: [{ action: 'pass', from: { address: '2001:db8::/32' }, to: { address: '198.51.100.0/24' } }] },
    ['firewall.rules[0]: no address family fits: from is IPv6, to is IPv4'],
  ],
  ['state options on a block rule', { rules: [{ action: 'block', state: { max: 3 } }] }, ['firewall.rules[0].state: state options apply to pass rules only']],
  ['an unknown vhid', { rules: [{ action: 'pass', to: { vip: 77 } }] }, ['firewall.rules[0].to.vip: no CARP vhost has vhid 77 (vhids: 10, 20)']],
  ['a zone without networks as an address', { rules: [{ action: 'pass', from: { zone: 'sync' } }] }, ['firewall.rules[0].from.zone: zone sync has no networks (give it addresses or networks)']],
  [
    'an interface in two zones',
    { zones: { ...ZONES, dmz: { interfaces: ['eth3', 'eth1'] } } },
    ['firewall.zones.dmz.interfaces[1]: eth1 is already in zone lan'],
  ],
  ['antispoof without networks', { zones: { ...ZONES, sync: { interfaces: ['eth2'], antispoof: true } } }, ['firewall.zones.sync.antispoof: zone sync has no networks to protect (give it addresses or networks)']],
  ['an unknown sync zone', { ha: { syncZone: 'pfsync' } }, ['firewall.ha.syncZone: unknown zone "pfsync" (zones: wan, lan, sync)']],
  [
    'no management zone to keep reachable',
    { zones: { wan: ZONES.wan, inside: ZONES.lan } },
    ['firewall.ha.antiLockout: no zone "mgmt" or "lan" to keep SSH and the web UI reachable from; name one with managementZone, or set antiLockout: false'],
  ],
  ['two forwards with one name', { forwards: [{ name: 'web', on: 'wan', ...tcp80, rdrTo: { address: '198.51.100.21' } }, { name: 'web', on: 'wan', proto: 'tcp', to: { vip: 10, port: 81 }, rdrTo: { address: '198.51.100.21' } }] }, ['firewall.forwards[1].name: "web" already names firewall.forwards[0]']],
  ['a reserved word as a zone name', { zones: { ...ZONES, pass: { interfaces: ['eth5'] } } }, ['firewall.zones.pass: must not be a pf.conf(5) reserved word, got "pass"']],
  ['a port range upside down', { rules: [{ action: 'pass', proto: 'tcp', to: { port: '2000-1000' } }] }, ['firewall.rules[0].to.port: must be a port 1-65535 or a range "1000-2000" (low end first), got "2000-1000"']],
  ['reflection for a zone the forward is already on', { forwards: [{ on: 'wan', ...tcp80, rdrTo: { address: '198.51.100.21' }, reflection: ['lan', 'wan'] }] }, ['firewall.forwards[0].reflection[1]: zone wan is already in on: its packets are forwarded without reflection']],
  ['reflection for a zone without networks', { forwards: [{ on: 'wan', ...tcp80, rdrTo: { address: '198.51.100.21' }, reflection: 'sync' }] }, ['firewall.forwards[0].reflection: zone sync has no networks to reflect for (give it addresses or networks)']],
  ['reflection for an unknown zone', { forwards: [{ on: 'wan', ...tcp80, rdrTo: { address: '198.51.100.21' }, reflection: 'dmz' }] }, ['firewall.forwards[0].reflection: unknown zone "dmz" (zones: wan, lan, sync)']],
  ['no ports on a forward', { forwards: [{ on: 'wan', to: { vip: 10 }, rdrTo: { address: '198.51.100.21' } }] }, ['firewall.forwards[0].to.port: is required (a port 1-65535 or a range "1000-2000", or a list of them)']],
];

describe('firewall checks of meaning', () => {
  for (const [what, firewall, expected] of BROKEN) {
    it(`refuses ${what}`, () => assert.deepEqual(issues(firewall), expected));
  }

  it('names the line in the YAML file', () => {
    const text = [
      'node: { name: fw-a }',
      'firewall:',
      '  zones:',
      '    lan: { interfaces: [eth1], networks: [198.51.100.0/24] }',
      '  rules:',
      '    - action: pass',
      '      proto: icmp',
      '      to:',
      '        port: 22',
      '',
    ].join('\n');
    const result = parseConfig(text);
    assert.ok(!result.ok);
    assert.deepEqual(
      result.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`),
      ['9: firewall.rules[0].to.port: tcp/udp only, rule has proto icmp'],
    );
  });

  it('lets a balancer pool define the table a forward redirects to', () => {
    const balancer = { pools: [{ name: 'web', port: 8080, hosts: [{ address: '198.51.100.21' }], redirect: { table: 'web' } }] };
    assert.deepEqual(issues({ forwards: [{ on: 'wan', ...tcp80, rdrTo: { table: 'web', port: 8080 } }] }, { balancer }), []);
  });
});

describe('the compiled policy', () => {
  const parsed = parseConfig(
    configWith({
      rules: [{ action: 'pass', direction: 'in', on: 'lan', from: { zone: 'lan' } }],
      nat: [{ on: 'wan', from: { zone: 'lan' }, natTo: { vip: 10 } }],
      forwards: [{ on: 'wan', ...tcp80, rdrTo: { address: '198.51.100.21', port: 8080 } }],
    }),
  );
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  const { policy } = compile(parsed.config);
  assert.ok(policy);

  it("takes a zone's networks from its addresses, its VIPs and `networks`", () => {
    const lan = policy.zones.find((z) => z.name === 'lan')!;
    assert.deepEqual(lan.networks.map((n) => n.text), ['198.51.100.0/25', '2001:db8:1::/64']);
    assert.equal(lan.antispoof, true);
    assert.equal(policy.zones.find((z) => z.name === 'sync')!.antispoof, false);
  });

  it('adds the HA rules: CARP on both CARP interfaces, anti-lockout on lan, ND', () => {
    assert.deepEqual(
      policy.builtins.map((b) => [b.builtin, b.on?.interfaces ?? [], b.protos.map((p) => p.name)]),
      [
        ['carp', ['eth0', 'eth1'], ['carp']],
        ['state-sync', ['eth2'], ['pfsync']],
        ['state-sync', ['eth2'], ['udp']],
        ['anti-lockout', ['eth1'], ['tcp']],
        ['ndp', [], ['icmp6']],
      ],
    );
  });

  it('drops each HA rule that is turned off', () => {
    const off = parseConfig(configWith({ ha: { carp: false, stateSync: false, antiLockout: false, ndp: false } }));
    assert.ok(off.ok);
    assert.deepEqual(compile(off.config).policy?.builtins, []);
  });

  it('resolves NAT to the VIP by family and the forward to its family', () => {
    assert.deepEqual(policy.nat[0]!.target, { kind: 'address', byFamily: { 4: '203.0.113.10' } });
    assert.deepEqual(policy.forwards[0]!.families, [4]);
  });

  it('has no policy without a firewall section', () => {
    assert.deepEqual(compile({ node: { name: 'x' }, carp: [] }), { policy: undefined, issues: [] });
  });
});

// `tandem network up` over the fake network port (firmware/network/up.ts, fake.ts): a second
// run changes nothing and says so, a bad config changes nothing, a failing step names its path;
// and the config section's checks of meaning (firmware/network/semantic.ts) through parseConfig.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { FakeNetworkPort } from '../../../firmware/network/fake.js';
import { ipArgs, LinuxNetworkPort } from '../../../firmware/network/linux.js';
import { networkUp } from '../../../firmware/network/up.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { parseArgs, UsageError } from '../../../firmware/cli.js';

const CONFIG = `node: { name: fw-a }
carp:
  - { vhid: 42, interface: eth0, addresses: [198.51.100.100/24], password: labsecret }
network:
  hostname: fw-a
  interfaces:
    - { name: eth0, addresses: [198.51.100.2/24], mtu: 1400 }
  routes:
    - { to: default, via: 198.51.100.1 }
  nameservers: [198.51.100.53]
`;

function box(): FakeNetworkPort {
  return new FakeNetworkPort({
    hostname: 'localhost',
    links: [
      { name: 'lo', mtu: 65536, up: true, addresses: [] },
      { name: 'eth0', mtu: 1500, up: false, addresses: [] },
    ],
    routes: [],
  });
}

async function withConfig(text: string, body: (file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-net-'));
  try {
    const file = join(dir, 'tandem.yaml');
    await writeFile(file, text);
    await body(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lines() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

test('the first run brings the box up, the second changes nothing and says so', async () => {
  await withConfig(CONFIG, async (file) => {
    const port = box();
    const first = lines();
    assert.equal(await networkUp(file, port, first.output), 'changed');
    assert.deepEqual(first.out, [
      'network: hostname fw-a',
      'network: eth0: mtu 1400',
      'network: eth0: link up',
      'network: eth0: address 198.51.100.2/24',
      'network: route default via 198.51.100.1',
      'network: /run/tandem/resolv.conf: 1 nameserver(s)',
      'network: 6 change(s) made',
    ]);
    assert.equal(port.files.get('/run/tandem/resolv.conf'), '# written by tandem network up from network.nameservers\nnameserver 198.51.100.53\n');
    const second = lines();
    assert.equal(await networkUp(file, port, second.output), 'unchanged');
    assert.deepEqual(second.out, ['network: already up as configured; nothing to change']);
    assert.equal(port.applied.length, 6);
  });
});

test('a config that does not validate, or names an interface the box lacks, changes nothing', async () => {
  await withConfig(CONFIG.replace('mtu: 1400', 'mtu: 20'), async (file) => {
    const port = box();
    const run = lines();
    assert.equal(await networkUp(file, port, run.output), 'invalid-config');
    assert.equal(port.applied.length, 0);
    assert.match(run.err[0]!, /tandem\.yaml:7: network\.interfaces\[0\]\.mtu: must be 68-65535, got 20/);
  });
  await withConfig(CONFIG.replace(/eth0/g, 'wan0'), async (file) => {
    const port = box();
    const run = lines();
    assert.equal(await networkUp(file, port, run.output), 'invalid-config');
    assert.equal(port.applied.length, 0);
    assert.match(run.err.join('\n'), /network\.interfaces\[0\]\.name: no interface wan0 on this box \(it has lo, eth0\)/);
  });
});

test('a failing step stops the run and names its config path and the step', async () => {
  await withConfig(CONFIG, async (file) => {
    const port = new FakeNetworkPort(box().state, (step) => (step.kind === 'route' ? 'RTNETLINK answers: Network is unreachable' : undefined));
    const run = lines();
    assert.equal(await networkUp(file, port, run.output), 'step-failed');
    assert.deepEqual(run.err, [`${file}: network.routes[0]: route default via 198.51.100.1: failed: RTNETLINK answers: Network is unreachable`]);
    assert.equal(port.applied.some((s) => s.kind === 'resolv'), false);
  });
});

test('no network section: nothing to do, not an error', async () => {
  await withConfig('node: { name: fw-a }\n', async (file) => {
    const run = lines();
    assert.equal(await networkUp(file, box(), run.output), 'not-configured');
  });
});

test('tandem check: gateways off every subnet, CARP groups and zones on interfaces not brought up, duplicates', () => {
  const result = parseConfig(`node: { name: fw-a }
carp:
  - { vhid: 42, interface: eth1, addresses: [198.51.100.100/24], password: labsecret, track: { interfaces: [eth2] } }
firewall:
  zones:
    lan: { interfaces: [eth0, eth3] }
network:
  interfaces:
    - { name: eth0, addresses: [198.51.100.2/24, 2001:db8::2/64] }
    - { name: eth0, addresses: [198.51.100.2/24] }
  routes:
    - { to: default, via: 203.0.113.1 }
    - { to: default, via: fe80::1 }
    - { to: 203.0.113.0/24, via: 2001:db8::1 }
    - { to: 2001:db8:5::/48, via: 2001:db8::1 }
`);
  assert.ok(!result.ok);
  const got = result.issues.map((i) => `${i.path}: ${i.message}`);
  assert.deepEqual(got, [
    'network.interfaces[1].name: eth0 is already listed as network.interfaces[0]',
    'network.interfaces[1].addresses[0]: 198.51.100.2 is already configured at network.interfaces[0].addresses[0]',
    "network.routes[0].via: 203.0.113.1 is not on a subnet of the addresses of network.interfaces",
    'network.routes[1].interface: is required with a link-local gateway (fe80::1)',
    'network.routes[2].via: an IPv6 gateway cannot route to 203.0.113.0/24',
    'carp[0].interface: eth1 is not in network.interfaces (eth0)',
    'carp[0].track.interfaces[0]: eth2 is not in network.interfaces (eth0)',
    'firewall.zones.lan.interfaces[1]: eth3 is not in network.interfaces (eth0)',
  ]);
});

test('schema: a route destination with host bits and a bad host name are refused with their paths', () => {
  const result = parseConfig(`node: { name: fw-a }
network:
  hostname: "fw a"
  interfaces: [{ name: eth0, addresses: [198.51.100.2/24] }]
  routes: [{ to: 203.0.113.7/24, via: 198.51.100.1 }]
`);
  assert.ok(!result.ok);
  assert.deepEqual(result.issues.map((i) => i.path), ['network.hostname', 'network.routes[0].to']);
});

test('Linux port: reads ip -j output (host routes without a prefix, IPv6 forms) and maps steps to ip arguments', async () => {
  const answers: Record<string, string> = {
    '-j link show': JSON.stringify([{ ifname: 'eth0', mtu: 1500, flags: ['BROADCAST', 'UP', 'LOWER_UP'] }, { ifname: 'eth1', mtu: 9000, flags: ['BROADCAST'] }]),
    '-j addr show': JSON.stringify([{ ifname: 'eth0', addr_info: [{ family: 'inet', local: '198.51.100.2', prefixlen: 24 }, {}] }, { ifname: 'eth1', addr_info: [] }]),
    '-j -4 route show table main': JSON.stringify([{ dst: 'default', gateway: '198.51.100.1', dev: 'eth0' }, { dst: '203.0.113.9', gateway: '198.51.100.1', dev: 'eth0' }]),
    '-j -6 route show table main': JSON.stringify([{ dst: '2001:0db8::/64', dev: 'eth0' }]),
  };
  const runner = new FakeProcessRunner((run) => ({ stdout: answers[run.args.join(' ')] ?? '' }));
  const port = new LinuxNetworkPort(runner, '/nonexistent/hostname');
  const seen = await port.observe('/nonexistent/resolv.conf');
  assert.deepEqual(seen, {
    hostname: '',
    links: [
      { name: 'eth0', mtu: 1500, up: true, addresses: [{ address: '198.51.100.2', prefix: 24 }] },
      { name: 'eth1', mtu: 9000, up: false, addresses: [] },
    ],
    routes: [
      { to: 'default', family: 4, via: '198.51.100.1', interface: 'eth0' },
      { to: '203.0.113.9/32', family: 4, via: '198.51.100.1', interface: 'eth0' },
      { to: '2001:db8::/64', family: 6, interface: 'eth0' },
    ],
    resolv: undefined,
  });
  assert.deepEqual(ipArgs({ kind: 'address', path: '', interface: 'eth0', cidr: '2001:db8::2/64' }), ['addr', 'replace', '2001:db8::2/64', 'dev', 'eth0']);
  assert.deepEqual(ipArgs({ kind: 'route', path: '', family: 6, to: 'default', via: 'fe80::1', interface: 'eth0' }), ['-6', 'route', 'replace', 'default', 'via', 'fe80::1', 'dev', 'eth0']);
  assert.deepEqual(ipArgs({ kind: 'mtu', path: '', interface: 'eth1', mtu: 1400 }), ['link', 'set', 'dev', 'eth1', 'mtu', '1400']);
  const failing = new LinuxNetworkPort(new FakeProcessRunner(() => ({ code: 2, stderr: 'Error: Nexthop has invalid gateway.\n' })));
  assert.deepEqual(await failing.apply({ kind: 'route', path: '', family: 4, to: 'default', via: '198.51.100.1' }), {
    ok: false,
    detail: 'ip -4 route replace default via 198.51.100.1: Error: Nexthop has invalid gateway.',
  });
});

test('CLI: network up [--config FILE]; anything else is a usage error; --help prints the usage', () => {
  assert.deepEqual(parseArgs(['network', 'up', '--config', '/cfg/tandem.yaml']), { kind: 'network-up', config: '/cfg/tandem.yaml' });
  assert.deepEqual(parseArgs(['network', 'up']), { kind: 'network-up', config: undefined });
  assert.throws(() => parseArgs(['network']), UsageError);
  assert.throws(() => parseArgs(['network', 'down']), UsageError);
  assert.deepEqual(parseArgs(['network', '--help']), { kind: 'help' });
});

// `tandem network up` from the built bundle inside a lab host's namespace (and its own UTS
// namespace, so the host name it sets is the lab's): brings eth0 down-to-up with a new address,
// MTU and routes, then pings a neighbour's addresses that are reachable only over those routes;
// a second run changes nothing, and a config naming a missing interface changes nothing. Then
// the network port's contract against both the fake and the Linux port.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Lab, netnsUnavailable } from './lab.js';
import { FakeNetworkPort } from '../../firmware/network/fake.js';
import { LinuxNetworkPort } from '../../firmware/network/linux.js';
import { describeStep, planNetwork, resolvText } from '../../firmware/network/planner.js';
import type { NetworkPort } from '../../firmware/network/ports.js';
import type { NetworkConfig } from '../../firmware/network/schema.js';
import { LinuxProcessRunner, type ProcessRunner } from '../../firmware/os/process.js';

const BUNDLE = fileURLToPath(new URL('../../dist/tandem.mjs', import.meta.url));

describe('tandem network up', { skip: netnsUnavailable() }, () => {
  let lab: Lab;
  let dir: string;

  before(async () => {
    lab = await Lab.create({ hosts: 2 });
    dir = await mkdtemp(join(tmpdir(), 'tandem-netup-'));
    // h2 is the router: addresses behind it that h1 reaches only through a configured route.
    await lab.exec(2, 'ip', ['addr', 'add', '203.0.113.99/32', 'dev', 'lo']);
    await lab.exec(2, 'ip', ['addr', 'add', '2001:db8:99::1/128', 'dev', 'lo']);
    // h1 starts as a box at boot: link down, without the address the config gives it.
    await lab.exec(1, 'ip', ['link', 'set', 'eth0', 'down']);
  });

  after(async () => {
    await lab?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const up = (config: string) =>
    // One UTS namespace for both runs: the second must find the host name the first set.
    lab.exec(1, 'unshare', ['--uts', 'sh', '-c', `"$0" network up --config "$1"; echo "exit=$?"; "$0" network up --config "$1"; echo "exit=$?"; hostname`, BUNDLE, config], 30_000);

  it('brings the interface up with its address, MTU and routes; the neighbour answers over them; a second run changes nothing', async () => {
    const config = join(dir, 'good.yaml');
    const resolv = join(dir, 'resolv.conf');
    await writeFile(
      config,
      `node: { name: fw-lab }
network:
  hostname: fw-lab
  interfaces:
    - { name: eth0, addresses: [198.51.100.31/24, 2001:db8::31/64], mtu: 1400 }
  routes:
    - { to: 203.0.113.0/24, via: 198.51.100.12 }
    - { to: 2001:db8:99::/64, via: 2001:db8::12 }
  nameservers: [198.51.100.53, 2001:db8::53]
  resolvConf: ${resolv}
`,
    );
    const { stdout } = await up(config);
    const [first, second, hostname] = stdout.split(/exit=\d+\n/);
    assert.match(stdout, /^exit=0$/m);
    assert.doesNotMatch(stdout, /exit=[1-9]/);
    assert.match(first!, /network: eth0: mtu 1400\nnetwork: eth0: link up\nnetwork: eth0: address 198\.51\.100\.31\/24\n/);
    assert.match(first!, /network: route 203\.0\.113\.0\/24 via 198\.51\.100\.12\nnetwork: route 2001:db8:99::\/64 via 2001:db8::12\n/);
    assert.match(first!, /network: hostname fw-lab\n/);
    assert.equal(second, 'network: already up as configured; nothing to change\n');
    assert.equal(hostname, 'fw-lab\n');
    assert.equal(await readFile(resolv, 'utf8'), '# written by tandem network up from network.nameservers\nnameserver 198.51.100.53\nnameserver 2001:db8::53\n');

    const link = JSON.parse((await lab.exec(1, 'ip', ['-j', 'link', 'show', 'eth0'])).stdout) as Array<{ mtu: number; flags: string[] }>;
    assert.equal(link[0]!.mtu, 1400);
    assert.ok(link[0]!.flags.includes('UP'));
    // Reachable only through the routes just added, from the address just added.
    await lab.exec(1, 'ping', ['-c', '1', '-W', '2', '-I', '198.51.100.31', '203.0.113.99']);
    await lab.exec(1, 'ping', ['-6', '-c', '1', '-W', '2', '2001:db8:99::1']);
    const { stdout: route } = await lab.exec(1, 'ip', ['route', 'get', '203.0.113.99']);
    assert.match(route, /via 198\.51\.100\.12 dev eth0/);
  });

  it('a config naming an interface the box lacks changes nothing and exits 1 with the path', async () => {
    const config = join(dir, 'missing.yaml');
    await writeFile(
      config,
      `node: { name: fw-lab }
network:
  interfaces:
    - { name: eth0, addresses: [198.51.100.32/24] }
    - { name: wan0, addresses: [203.0.113.2/24] }
`,
    );
    const before = (await lab.exec(1, 'ip', ['-j', 'addr', 'show'])).stdout;
    await assert.rejects(
      lab.exec(1, BUNDLE, ['network', 'up', '--config', config], 30_000),
      /network\.interfaces\[1\]\.name: no interface wan0 on this box[^]*nothing changed/,
    );
    assert.equal((await lab.exec(1, 'ip', ['-j', 'addr', 'show'])).stdout, before);
  });
});

// One contract, two ports (STYLE.md "OS ports"): what the planner relies on from observe() and
// apply(), run against the fake and against LinuxNetworkPort driving `ip -n` in a lab namespace
// (its host name goes to a temp file, never the host's).
describe('network port contract', () => {
  const config: NetworkConfig = {
    hostname: 'fw-contract',
    interfaces: [{ name: 'eth0', addresses: ['203.0.113.7/24', '2001:db8:7::7/64'], mtu: 1280 }],
    routes: [
      { to: '198.51.100.128/25', via: '203.0.113.1' },
      { to: '2001:db8:8::/48', via: '2001:db8:7::1', interface: 'eth0' },
    ],
    nameservers: ['203.0.113.53'],
    resolvConf: '',
  };

  async function contract(port: NetworkPort, resolvConf: string): Promise<void> {
    const cfg = { ...config, resolvConf };
    const before = await port.observe(resolvConf);
    const eth0 = before.links.find((l) => l.name === 'eth0');
    assert.ok(eth0, 'observe lists eth0');
    const plan = planNetwork(cfg, before);
    assert.ok(plan.ok);
    for (const step of plan.steps) assert.deepEqual(await port.apply(step), { ok: true }, describeStep(step));
    const after = await port.observe(resolvConf);
    const link = after.links.find((l) => l.name === 'eth0')!;
    assert.equal(link.mtu, 1280);
    assert.equal(link.up, true);
    assert.ok(link.addresses.some((a) => a.address === '203.0.113.7' && a.prefix === 24), JSON.stringify(link.addresses));
    assert.ok(link.addresses.some((a) => a.address === '2001:db8:7::7' && a.prefix === 64), JSON.stringify(link.addresses));
    assert.ok(after.routes.some((r) => r.to === '198.51.100.128/25' && r.via === '203.0.113.1'), JSON.stringify(after.routes));
    assert.ok(after.routes.some((r) => r.to === '2001:db8:8::/48' && r.via === '2001:db8:7::1' && r.interface === 'eth0'), JSON.stringify(after.routes));
    assert.equal(after.hostname.trim(), 'fw-contract');
    assert.equal(after.resolv, resolvText(['203.0.113.53']));
    // What the planner calls idempotence: the port reports back exactly what it was told.
    assert.deepEqual(planNetwork(cfg, after), { ok: true, steps: [] });
  }

  it('the fake', async () => {
    const port = new FakeNetworkPort({ hostname: 'localhost', links: [{ name: 'lo', mtu: 65536, up: true, addresses: [] }, { name: 'eth0', mtu: 1500, up: false, addresses: [] }], routes: [] });
    await contract(port, '/run/tandem/resolv.conf');
  });

  it('LinuxNetworkPort in a lab namespace', { skip: netnsUnavailable() }, async () => {
    const lab = await Lab.create({ hosts: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'tandem-netport-'));
    try {
      const ns = lab.host(1).netns;
      const base = new LinuxProcessRunner();
      // Every `ip` of the port runs against the lab host's namespace.
      const runner: ProcessRunner = { run: (cmd, args, options) => base.run(cmd, cmd === 'ip' ? ['-n', ns, ...args] : args, options) };
      const hostnameFile = join(dir, 'hostname');
      await writeFile(hostnameFile, 'localhost\n');
      await lab.exec(1, 'ip', ['link', 'set', 'eth0', 'down']);
      await contract(new LinuxNetworkPort(runner, hostnameFile), join(dir, 'resolv.conf'));
      // A step the kernel refuses comes back with ip's own words.
      const refused = await new LinuxNetworkPort(runner, hostnameFile).apply({ kind: 'route', path: 'network.routes[0]', family: 6, to: '2001:db8:9::/48', via: '2001:db8:ffff::1' });
      assert.equal(refused.ok, false);
      assert.match((refused as { detail: string }).detail, /^ip -6 route replace 2001:db8:9::\/48 via 2001:db8:ffff::1: .*(unreachable|invalid gateway|no route to host)/i);
    } finally {
      await lab.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

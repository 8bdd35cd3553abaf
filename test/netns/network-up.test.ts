// `tandem network up` from the built bundle inside a lab host's namespace (and its own UTS
// namespace, so the host name it sets is the lab's): brings eth0 down-to-up with a new address,
// MTU and routes, then pings a neighbour's addresses that are reachable only over those routes;
// a second run changes nothing, and a config naming a missing interface changes nothing.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Lab, netnsUnavailable } from './lab.js';

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

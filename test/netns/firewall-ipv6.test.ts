// IPv6 through the router and NAT reflection, with real packets: Tandem (the built bundle) in
// the router namespace of a dual-stack lab loads a policy that passes, blocks and forwards IPv6
// as it does IPv4; the HA rules for neighbour discovery and for CARP over IPv6 are shown to
// matter by applying a ruleset without each (it reverts by itself, unconfirmed); and a LAN
// client reaches a port forward on the VIP (hairpin) only with `reflection`. Needs root; ~60 s.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendControl } from '../../firmware/control/client.js';
import type { Status } from '../../firmware/daemon.js';
import type { FirewallStatus } from '../../firmware/firewall/service.js';
import { FirewallLab } from './firewall-lab.js';
import { eventually, netnsUnavailable } from './lab.js';
import { BUNDLE, bundleCommand } from './peers.js';

const skip = netnsUnavailable();

const VIP4 = '203.0.113.10';
const VIP6 = '2001:db8:2::10';
const CARP6_VIP = '2001:db8:2::20';
const INET6 = '2001:db8:2::50';
const LAN4 = '198.51.100.10';
const LAN4_CLIENT = '198.51.100.21';
const LAN6 = '2001:db8:1::10';
const LAN6_CLIENT = '2001:db8:1::21';

/** `reflection: false` forwards from the lan too, but without reflection's source translation. */
function firewall(extra: Record<string, unknown> = {}, reflection = true) {
  const reflect = reflection ? { on: 'wan', reflection: 'lan' } : { on: ['wan', 'lan'] };
  return {
    zones: {
      wan: { interfaces: ['eth0'], addresses: ['203.0.113.2/24', '2001:db8:2::2/64'] },
      lan: { interfaces: ['eth1'], addresses: ['198.51.100.1/24', '2001:db8:1::1/64'] },
    },
    rules: [
      { action: 'block', direction: 'in', quick: true, on: 'lan', proto: 'tcp', to: { port: 2323 } },
      { action: 'pass', direction: 'in', on: 'lan' },
    ],
    nat: [{ on: 'wan', family: 'inet', from: { zone: 'lan' }, natTo: { vip: 10 } }],
    forwards: [
      { name: 'ssh', proto: 'tcp', to: { vip: 10, port: 2222 }, rdrTo: { address: LAN4, port: 7000 }, ...reflect },
      { name: 'ssh6', proto: 'tcp', to: { vip: 10, port: 2222 }, rdrTo: { address: LAN6, port: 7000 }, ...reflect },
    ],
    ...extra,
  };
}

describe('IPv6 through the router, and NAT reflection', { skip }, () => {
  let lab: FirewallLab;
  let dir: string;
  let output = '';

  const path = (name: string) => join(dir, `${name}.json`);
  const socket = (name: string) => join(dir, `${name}.sock`);
  const config = (name: 'rt' | 'peer', fw: Record<string, unknown> | undefined) => ({
    node: { name, stateDir: join(dir, `${name}-state`) },
    control: { socket: socket(name) },
    log: { level: 'debug' },
    carp: [
      ...(name === 'rt' ? [{ vhid: 10, interface: 'eth0', addresses: [`${VIP4}/24`, `${VIP6}/64`], password: 'v6lab', advskew: 100 }] : []),
      { vhid: 20, interface: 'eth0', addresses: [`${CARP6_VIP}/64`], password: 'v6lab', advskew: name === 'rt' ? 100 : 0, preempt: name === 'peer' },
    ],
    ...(fw ? { firewall: fw } : {}),
  });
  const writeRouter = (fw: Record<string, unknown>) => writeFile(path('rt'), JSON.stringify(config('rt', fw), null, 2));
  const tandem = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [BUNDLE, ...args, '--config', path('rt'), '--control', socket('rt')], { encoding: 'utf8' }, (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
  const control = async (name: 'rt' | 'peer', cmd: 'status' | 'firewall-status') => {
    const reply = await sendControl(socket(name), { cmd }, 2000);
    assert.ok(reply.ok, !reply.ok ? reply.error : '');
    return reply.result;
  };
  const carpState = async (name: 'rt' | 'peer', vhid: number) => ((await control(name, 'status')) as Status).carp.find((c) => c.vhid === vhid)?.state;
  const firewallPhase = async () => ((await control('rt', 'firewall-status')) as FirewallStatus).phase;
  const flushNeighbours = async () => {
    for (const node of ['rt', 'lan', 'inet'] as const) await lab.exec(node, 'ip', ['-6', 'neigh', 'flush', 'all']);
  };

  async function start(name: 'rt' | 'peer'): Promise<void> {
    const child = lab.spawn(name, process.execPath, [...bundleCommand(), 'run', '--config', path(name)]);
    const collect = (chunk: Buffer) => (output += chunk.toString());
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    await eventually(`tandem in ${name} to answer`, async () => {
      if (child.exitCode !== null) throw new Error(`tandem in ${name} exited: ${output}`);
      return carpState(name, 20);
    }, 10_000);
  }

  before(async () => {
    lab = await FirewallLab.create({ ipv6: true });
    dir = await mkdtemp(join(tmpdir(), 'tandem-fw6-'));
    await lab.serve('lan', [7000]);
    await lab.serve('inet', [9000, 2323]);
    await writeRouter(firewall());
    await start('rt');
    await eventually('the router to hold both VIPs', async () => ((await carpState('rt', 10)) === 'MASTER' && (await carpState('rt', 20)) === 'MASTER' ? true : undefined), 8000);
  });

  after(async () => {
    await lab?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes IPv6 where the rules pass it, without NAT', async () => {
    assert.equal(await lab.connect('lan', INET6, 9000, 1500, LAN6), `hello ${INET6} ${LAN6}`);
  });

  it('blocks IPv6 where the rules block it, and by default from the wan', async () => {
    assert.equal(await lab.connect('lan', INET6, 2323, 800), 'ERR timeout');
    assert.equal(await lab.connect('inet', LAN6, 7000, 800), 'ERR timeout');
  });

  it('forwards a port on the IPv6 VIP to the inner host, keeping the client address', async () => {
    assert.equal(await lab.connect('inet', VIP6, 2222), `hello ${LAN6} ${INET6}`);
  });

  it('reflects a forward to LAN clients (hairpin), in IPv4 and IPv6', async () => {
    // The reflected connection reaches the inner host from the router's LAN address, so its
    // answer goes back through the router and the client sees the VIP answer.
    assert.equal(await lab.connect('lan', VIP4, 2222, 1500, LAN4_CLIENT), `hello ${LAN4} 198.51.100.1`);
    assert.equal(await lab.connect('lan', VIP6, 2222, 1500, LAN6_CLIENT), `hello ${LAN6} 2001:db8:1::1`);
  });

  it('forwarded from the lan but not reflected, the inner host answers the client directly, and fails (the control)', async () => {
    await writeRouter(firewall({}, false));
    assert.equal((await tandem(['firewall', 'apply'])).code, 0);
    // The translated SYN reaches the inner host with the client's own address as source; its
    // answer never passes the router's translation back, so the client sees no VIP answer.
    assert.match(await lab.connect('lan', VIP4, 2222, 800, LAN4_CLIENT), /^ERR /);
    assert.match(await lab.connect('lan', VIP6, 2222, 800, LAN6_CLIENT), /^ERR /);
    assert.equal(await lab.connect('inet', VIP6, 2222), `hello ${LAN6} ${INET6}`, 'from outside it still works');
    await writeRouter(firewall());
    assert.equal((await tandem(['firewall', 'apply'])).code, 0);
  });

  it('passes neighbour discovery; without the HA rule the router cannot find new neighbours', async () => {
    await flushNeighbours();
    assert.equal(await lab.connect('lan', INET6, 9000, 1500, LAN6), `hello ${INET6} ${LAN6}`);
    await writeRouter(firewall({ ha: { ndp: false } }));
    assert.equal((await tandem(['firewall', 'apply', '--confirm-within', '5'])).code, 0);
    await flushNeighbours();
    assert.equal(await lab.connect('lan', INET6, 9000, 1500, LAN6), 'ERR timeout');
    await eventually('the unconfirmed ruleset to revert', async () => ((await firewallPhase()) === 'active' ? true : undefined), 8000, 100);
    await flushNeighbours();
    assert.equal(await lab.connect('lan', INET6, 9000, 3000, LAN6), `hello ${INET6} ${LAN6}`);
    await writeRouter(firewall());
  });

  it('passes CARP over IPv6; without the HA rule the router stops hearing its peer', async () => {
    await writeFile(path('peer'), JSON.stringify(config('peer', undefined), null, 2));
    await start('peer');
    await eventually('the router to yield vhid 20 to its peer over IPv6', async () => ((await carpState('rt', 20)) === 'BACKUP' ? true : undefined), 8000, 100);
    assert.equal(await carpState('peer', 20), 'MASTER');
    await writeRouter(firewall({ ha: { carp: false } }));
    assert.equal((await tandem(['firewall', 'apply', '--confirm-within', '7'])).code, 0);
    await eventually('the router, deaf to IPv6 adverts, to take vhid 20 too', async () => ((await carpState('rt', 20)) === 'MASTER' ? true : undefined), 6500, 100);
    await eventually('the revert to bring the adverts back', async () => ((await carpState('rt', 20)) === 'BACKUP' ? true : undefined), 8000, 100);
    assert.equal(await firewallPhase(), 'active');
  });
});

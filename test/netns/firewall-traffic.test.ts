// The firewall on a real router, with real traffic: Tandem (the built bundle) runs in a router
// namespace between a lan and a wan segment and loads its policy; connections show what passes
// and what does not, that outbound NAT leaves with the CARP VIP as source, that port forwards
// reach inner hosts, that a forward to a table goes round-robin and follows member updates made
// in place (new connections only), that a ruleset nft -c refuses changes nothing, that an
// unconfirmed apply reverts by itself, even across a kill -9 of the daemon, and that CARP
// adverts pass (and, without the HA rule, would not). Needs root; about 45 s.

import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendControl } from '../../firmware/control/client.js';
import type { Status } from '../../firmware/daemon.js';
import { parseConfig } from '../../firmware/config/load.js';
import { LinuxNftPort } from '../../firmware/firewall/linux.js';
import { compile, type Policy } from '../../firmware/firewall/model.js';
import { renderNft, renderTableUpdate } from '../../firmware/firewall/render-nft.js';
import { Firewall, type FirewallStatus } from '../../firmware/firewall/service.js';
import { silentLogger } from '../../firmware/log.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { FirewallLab, TOOLS } from './firewall-lab.js';
import { eventually, netnsUnavailable } from './lab.js';
import { BUNDLE, bundleCommand } from './peers.js';

const skip = netnsUnavailable();

const VIP = '203.0.113.10';
const INET = '203.0.113.50';
const LAN_HOST = '198.51.100.10';
const WEB = ['198.51.100.21', '198.51.100.22'];

function routerFirewall(extra: Record<string, unknown> = {}, rules: unknown[] = []) {
  return {
    zones: {
      wan: { interfaces: ['eth0'], addresses: ['203.0.113.2/24'] },
      lan: { interfaces: ['eth1'], addresses: ['198.51.100.1/24'] },
    },
    tables: { web: { members: WEB, slots: 8 } },
    rules: [
      ...rules,
      { action: 'block', direction: 'in', quick: true, on: 'lan', proto: 'tcp', to: { port: 2323 } },
      { action: 'pass', direction: 'in', on: 'lan' },
    ],
    nat: [{ on: 'wan', from: { zone: 'lan' }, natTo: { vip: 10 } }],
    forwards: [
      { name: 'ssh', on: 'wan', proto: 'tcp', to: { vip: 10, port: 2222 }, rdrTo: { address: LAN_HOST, port: 7000 } },
      { name: 'web', on: 'wan', proto: 'tcp', to: { vip: 10, port: 80 }, rdrTo: { table: 'web', port: 8080 } },
    ],
    ...extra,
  };
}

describe('firewall on a router, with traffic', { skip }, () => {
  let lab: FirewallLab;
  let dir: string;
  let configPath: string;
  let socket: string;
  let daemonOutput = '';
  let directBefore = '';
  let router: ChildProcess | undefined;

  const config = (firewall: Record<string, unknown>, name = 'rt', advskew = 100, withFirewall = true) => ({
    node: { name, stateDir: join(dir, `${name}-state`) },
    control: { socket: join(dir, `${name}.sock`) },
    log: { level: 'debug' },
    carp: [{ vhid: 10, interface: 'eth0', addresses: [`${VIP}/24`], password: 'fwlab', advskew, preempt: name === 'peer' }],
    ...(withFirewall ? { firewall } : {}),
  });
  const writeConfig = (firewall: Record<string, unknown>) => writeFile(configPath, JSON.stringify(config(firewall), null, 2));

  const tandem = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [BUNDLE, ...args, '--config', configPath, '--control', socket], { encoding: 'utf8' }, (error, stdout, stderr) =>
        resolve({ code: error ? 1 : 0, stdout, stderr }),
      );
    });
  const control = async (sock: string, cmd: 'status' | 'firewall-status') => {
    const reply = await sendControl(sock, { cmd }, 2000);
    assert.ok(reply.ok, !reply.ok ? reply.error : '');
    return reply.result;
  };
  const carpState = async (sock: string) => ((await control(sock, 'status')) as Status).carp[0]?.state;
  const firewallPhase = async () => ((await control(socket, 'firewall-status')) as FirewallStatus).phase;
  const nftList = async () => (await lab.exec('rt', 'nft', ['list', 'table', 'inet', 'tandem'])).stdout;

  async function startTandem(node: 'rt' | 'peer', path: string, sock: string): Promise<void> {
    const child = lab.spawn(node, process.execPath, [...bundleCommand(), 'run', '--config', path]);
    if (node === 'rt') router = child;
    const collect = (chunk: Buffer) => {
      if (node === 'rt') daemonOutput += chunk.toString();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    await eventually(`tandem in ${node} to answer`, async () => {
      if (child.exitCode !== null) throw new Error(`tandem in ${node} exited: ${daemonOutput}`);
      return carpState(sock);
    }, 10_000);
  }

  before(async () => {
    lab = await FirewallLab.create();
    dir = await mkdtemp(join(tmpdir(), 'tandem-fw-'));
    configPath = join(dir, 'rt.json');
    socket = join(dir, 'rt.sock');
    await lab.serve('lan', [7000, 8080]);
    await lab.serve('inet', [9000, 2323]);
    directBefore = await lab.connect('inet', LAN_HOST, 7000);
    await writeConfig(routerFirewall());
    await startTandem('rt', configPath, socket);
    await eventually('the router to hold the VIP (CARP MASTER)', async () => ((await carpState(socket)) === 'MASTER' ? true : undefined), 8000);
  });

  after(async () => {
    await lab?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('without rules every path was open (the control for what follows)', () => {
    assert.equal(directBefore, `hello ${LAN_HOST} ${INET}`);
  });

  it('loads the rules at start', async () => {
    assert.match(await nftList(), /dnat ip to numgen inc mod 8 map @web-slots-v4:8080/);
    const status = await tandem(['firewall', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^firewall: active since .*: 2 rule\(s\), 2 forward\(s\), 1 NAT rule\(s\)$/m);
  });

  it('lets allowed flows pass, and outbound NAT leaves with the VIP as source', async () => {
    assert.equal(await lab.connect('lan', INET, 9000), `hello ${INET} ${VIP}`);
  });

  it('stops blocked flows', async () => {
    assert.equal(await lab.connect('lan', INET, 2323, 1000), 'ERR timeout', 'quick block on the lan');
    assert.equal(await lab.connect('inet', LAN_HOST, 7000, 1000), 'ERR timeout', 'default block in on the wan');
  });

  it('forwards a port to the inner host, keeping the client address', async () => {
    assert.equal(await lab.connect('inet', VIP, 2222), `hello ${LAN_HOST} ${INET}`);
  });

  it('forwards to a table round-robin; a member update in place moves only new connections', async () => {
    const served = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await lab.connect('inet', VIP, 80)).split(' ')[1]!);
      return out;
    };
    const first = await served(4);
    assert.deepEqual(new Set(first), new Set(WEB));
    assert.ok(first.every((a, i) => i === 0 || a !== first[i - 1]), `alternates: ${first.join(' ')}`);

    // An open connection, then the table changes under it.
    const session = lab.spawn('inet', process.execPath, [TOOLS, 'session', VIP, '80']);
    const lines: string[] = [];
    session.stdout!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const greeting = await eventually('the session greeting', () => lines[0]);
    const held = greeting.split(' ')[1]!;
    const other = WEB.find((a) => a !== held)!;

    const handles = async () => (await lab.exec('rt', 'nft', ['-a', 'list', 'chain', 'inet', 'tandem', 'prerouting'])).stdout;
    const handlesBefore = await handles();
    const nft = new LinuxNftPort(new LinuxProcessRunner(), ['ip', 'netns', 'exec', lab.ns('rt'), 'nft']);
    const table = { name: 'web', members: WEB, networks: false, slots: 8, redirect: true };
    assert.deepEqual(await nft.run(renderTableUpdate(table, [other], WEB)), { ok: true });

    assert.deepEqual(await served(3), [other, other, other]);
    session.stdin!.write('still there?\n');
    assert.equal(await eventually('the session echo', () => lines[1]), `echo ${held} still there?`);
    assert.equal(await handles(), handlesBefore, 'same rules, same handles: no reload');

    // No member at all: the map lookup fails, nothing is translated, and the default blocks.
    assert.deepEqual(await nft.run(renderTableUpdate(table, [], [other])), { ok: true });
    assert.equal(await lab.connect('inet', VIP, 80, 1000), 'ERR timeout');
    assert.deepEqual(await nft.run(renderTableUpdate(table, WEB, [])), { ok: true });
    assert.deepEqual(new Set(await served(2)), new Set(WEB));
    session.kill();
  });

  it('keeps the ruleset in force when nft -c refuses a new one', async () => {
    const parsed = parseConfig(JSON.stringify(config(routerFirewall())));
    assert.ok(parsed.ok);
    const good = compile(parsed.config).policy!;
    // What the schema would never let through: an interface name nft cannot parse.
    const broken: Policy = { ...good, zones: good.zones.map((z) => ({ ...z, interfaces: ['eth"0'] })), antispoof: good.antispoof.map((z) => ({ ...z, interfaces: ['eth"0'] })) };
    const nft = new LinuxNftPort(new LinuxProcessRunner(), ['ip', 'netns', 'exec', lab.ns('rt'), 'nft']);
    const before = await nftList();
    const firewall = new Firewall({ nft, clock: systemClock, log: silentLogger });
    const result = await firewall.apply(broken);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.stage, 'check');
    assert.match(!result.ok ? result.error : '', /Error/);
    // Even loaded without the check, nft -f is all or nothing.
    assert.equal((await nft.run(renderNft(broken))).ok, false);
    assert.equal(await nftList(), before);
    assert.equal(await lab.connect('inet', VIP, 2222), `hello ${LAN_HOST} ${INET}`);
  });

  it('reverts an applied ruleset that is not confirmed in time, and keeps a confirmed one', async () => {
    const blockWeb = [{ action: 'block', direction: 'in', quick: true, on: 'lan', proto: 'tcp', to: { port: 9000 } }];
    await writeConfig(routerFirewall({}, blockWeb));
    const applied = await tandem(['firewall', 'apply', '--confirm-within', '3']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /PENDING[\s\S]*reverts in 3 s/);
    assert.equal(await lab.connect('lan', INET, 9000, 800), 'ERR timeout');
    await eventually('the revert', async () => ((await firewallPhase()) === 'active' ? true : undefined), 6000, 100);
    assert.equal(await lab.connect('lan', INET, 9000), `hello ${INET} ${VIP}`);
    assert.match(daemonOutput, /not confirmed in time: reverted to the previous ruleset/);

    assert.equal((await tandem(['firewall', 'apply', '--confirm-within', '3'])).code, 0);
    const confirmed = await tandem(['firewall', 'confirm']);
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.match(confirmed.stdout, /^firewall: active/);
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(await lab.connect('lan', INET, 9000, 800), 'ERR timeout', 'confirmed: still in force');
    const nothing = await tandem(['firewall', 'confirm']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stderr, /no firewall ruleset is waiting for confirmation/);

    await writeConfig(routerFirewall());
    assert.equal((await tandem(['firewall', 'apply'])).code, 0);
    assert.equal(await lab.connect('lan', INET, 9000), `hello ${INET} ${VIP}`);
  });

  it('after a kill -9 during the confirm window, a restart loads the last confirmed ruleset, not the unconfirmed one', async () => {
    const blockWeb = [{ action: 'block', direction: 'in', quick: true, on: 'lan', proto: 'tcp', to: { port: 9000 } }];
    assert.equal(await lab.connect('lan', INET, 9000), `hello ${INET} ${VIP}`, 'the confirmed ruleset lets 9000 through');
    await writeConfig(routerFirewall({}, blockWeb));
    assert.equal((await tandem(['firewall', 'apply', '--confirm-within', '4'])).code, 0);
    assert.equal(await lab.connect('lan', INET, 9000, 800), 'ERR timeout', 'the unconfirmed ruleset is loaded');
    const dead = new Promise((resolve) => router!.once('exit', resolve));
    router!.kill('SIGKILL');
    await dead;
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal(await lab.connect('lan', INET, 9000, 800), 'ERR timeout', 'nothing reverted while the daemon was dead');

    daemonOutput = '';
    await startTandem('rt', configPath, socket);
    assert.equal(await lab.connect('lan', INET, 9000), `hello ${INET} ${VIP}`, 'the last confirmed ruleset is in force again');
    const status = await tandem(['firewall', 'status']);
    assert.match(status.stdout, /not confirmed by .*: the last confirmed ruleset is in force/);
    // The config still holds the unconfirmed policy: a second restart must not load it either.
    const stopped = new Promise((resolve) => router!.once('exit', resolve));
    router!.kill('SIGTERM');
    await stopped;
    await startTandem('rt', configPath, socket);
    assert.equal(await lab.connect('lan', INET, 9000), `hello ${INET} ${VIP}`);
    await writeConfig(routerFirewall());
    assert.equal((await tandem(['firewall', 'apply'])).code, 0);
    assert.equal(await lab.connect('lan', INET, 9000), `hello ${INET} ${VIP}`);
    await eventually('the router to be MASTER again', async () => ((await carpState(socket)) === 'MASTER' ? true : undefined), 8000, 100);
  });

  it('passes CARP adverts; without the HA rule the router would stop hearing its peer', async () => {
    const peerPath = join(dir, 'peer.json');
    const peerSocket = join(dir, 'peer.sock');
    await writeFile(peerPath, JSON.stringify(config({}, 'peer', 0, false)));
    await startTandem('peer', peerPath, peerSocket);
    // The peer (advskew 0, preempt) takes over: the router hears its adverts through the firewall.
    await eventually('the router to yield to its peer', async () => ((await carpState(socket)) === 'BACKUP' ? true : undefined), 8000, 100);
    assert.equal(await carpState(peerSocket), 'MASTER');

    await writeConfig(routerFirewall({ ha: { carp: false } }));
    assert.equal((await tandem(['firewall', 'apply', '--confirm-within', '7'])).code, 0);
    await eventually('the router, deaf to adverts, to take the VIP too', async () => ((await carpState(socket)) === 'MASTER' ? true : undefined), 6500, 100);
    await eventually('the revert to bring the adverts back, and the router back to BACKUP', async () => ((await carpState(socket)) === 'BACKUP' ? true : undefined), 8000, 100);
    assert.equal(await firewallPhase(), 'active');
    await writeConfig(routerFirewall());
  });
});

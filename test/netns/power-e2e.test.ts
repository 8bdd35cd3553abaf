// Power end to end (issue 10): two Tandem routers (the built bundle) hold the VIP with CARP and
// relay pool `web` to two backends whose power Tandem manages: park over real SSH (sshd with a
// forced command that puts the backend to "sleep": its server stops answering) and wake by
// real wake-on-LAN (a listener in the backend's namespace restarts the server on a byte-exact
// magic packet). Low demand parks web-2 after draining it; the master is killed; the backup
// takes over, rebuilds the picture from its checks without acting twice; demand rises and it
// wakes web-2, which is back in the pool before web-1 passes its capacity. Once with the pool
// relayed (Tandem counts connections) and once redirected by nftables (counted in conntrack).
// Tier "netns": run as root after `npm run build`.

import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PowerStatus } from '../../firmware/power/status.js';
import { REPO, VIP, curl, run } from './balancer-lab.js';
import { eventually, requireRoot, type HostRef, type Lab } from './lab.js';
import { BUNDLE, DaemonProcess, labPerTest, type Workdir } from './peers.js';

const AGENT = join(REPO, 'test/netns/power-host.ts');
const ROUTERS = [1, 2];
const WEB1 = 3;
const WEB2 = 4;
const CLIENT = 5;
const CAPACITY = 10;

class Agent {
  output = '';
  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
  }
  static async start(lab: Lab, host: HostRef): Promise<Agent> {
    const h = lab.host(host);
    const agent = new Agent(lab.spawn(host, process.execPath, ['--import', 'tsx', AGENT, h.name, h.mac], { cwd: REPO }));
    await eventually(`agent ${h.name} ready`, () => {
      if (agent.child.exitCode !== null) throw new Error(`agent ${h.name} exited: ${agent.output}`);
      return agent.output.includes('ready') ? true : undefined;
    }, 15_000);
    return agent;
  }
  count(line: RegExp): number {
    return this.output.split('\n').filter((l) => line.test(l)).length;
  }
}

/** sshd in the backend's namespace; the key's forced command sends the agent its SIGUSR1 "sleep". */
async function startSshd(lab: Lab, host: HostRef, dir: string, clientPub: string, agentPid: number): Promise<ChildProcess> {
  await mkdir(dir, { recursive: true });
  await mkdir('/run/sshd', { recursive: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await writeFile(join(dir, 'authorized_keys'), `restrict,command="kill -USR1 ${agentPid}; echo parking" ${clientPub}`, { mode: 0o600 });
  const config = [
    `ListenAddress ${lab.host(host).ipv4}:22`, `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PidFile none', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'PermitRootLogin forced-commands-only', 'StrictModes no', 'LogLevel VERBOSE',
  ];
  await writeFile(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
  const child = lab.spawn(host, '/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')]);
  await eventually(`sshd in ${lab.host(host).name} to listen`, async () => {
    if (child.exitCode !== null) throw new Error(`sshd exited ${child.exitCode}`);
    const { stdout } = await lab.exec(host, 'ss', ['-Htln']);
    return stdout.includes(`${lab.host(host).ipv4}:22`) ? true : undefined;
  }, 5000);
  return child;
}

/** Holds N TCP connections to VIP:80 open, reconnecting any that close (the relay counts them as demand). */
function holdConnections(lab: Lab, count: number): ChildProcess {
  const script = `
    const net = require('node:net'); let open = 0;
    const one = () => { const s = net.connect(80, '${VIP}'); let up = false;
      s.on('connect', () => { up = true; open++; console.log('open ' + open); });
      s.on('error', () => undefined);
      s.on('close', () => { if (up) open--; setTimeout(one, 200); }); };
    for (let i = 0; i < ${count}; i++) one();`;
  return lab.spawn(CLIENT, process.execPath, ['-e', script]);
}

class PowerRouter extends DaemonProcess {
  constructor(name: string, child: ChildProcess, socket: string, readonly stateDir: string) {
    super(name, child, socket);
  }
  static async start(lab: Lab, host: HostRef, work: Workdir, advskew: number, key: string, mode: Mode): Promise<PowerRouter> {
    const name = `fw-${lab.host(host).name}`;
    const dir = work.file(name);
    await mkdir(dir, { recursive: true });
    const stateDir = join(dir, 'state');
    const socket = join(dir, 'control.sock');
    const check = { type: 'http', path: '/health', port: 8080, intervalSeconds: 0.5, timeoutSeconds: 0.4, downAfter: 2, upAfter: 2 };
    const backend = (h: number) => ({ name: `web-${h - 2}`, address: lab.host(h).ipv4 });
    const managed = (h: number, watts: { idle: number; peak: number; parked: number }) => ({
      name: `web-${h - 2}`, pool: 'web', address: lab.host(h).ipv4, mac: lab.host(h).mac, capacity: CAPACITY, watts,
      wake: { method: 'wol', seconds: 3 },
      park: { method: 'ssh', seconds: 3, key, connectTimeoutSeconds: 3 },
    });
    const config = {
      node: { name, stateDir },
      control: { socket },
      log: { level: 'debug' },
      carp: [{ vhid: 42, interface: 'eth0', addresses: [`${VIP}/24`], password: 'labsecret', advbase: 1, advskew, preempt: false }],
      balancer: {
        pools: [{ name: 'web', port: 8080, hosts: [backend(WEB1), backend(WEB2)], check, ...(mode === 'relay' ? { relay: { listen: `${VIP}:80`, mode: 'tcp' } } : { redirect: { table: 'web' } }) }],
      },
      // Redirect: the kernel forwards VIP:80 to the pool's table (as balancer-redirect.test.ts).
      ...(mode === 'redirect'
        ? {
            firewall: {
              zones: { lan: { interfaces: ['eth0'], addresses: [`${lab.host(host).ipv4}/24`] } },
              rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
              nat: [{ on: 'lan', to: { table: 'web' }, natTo: { interface: true } }],
              forwards: [{ name: 'web', on: 'lan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
            },
          }
        : {}),
      power: {
        vhid: 42,
        intervalSeconds: 1,
        policy: { spares: 0, minAwake: 1, maxCyclesPerDay: 10, minAwakeSeconds: 0, minParkedSeconds: 0, targetUtilisation: 0.8, drainTimeoutSeconds: 4 },
        pools: [{ name: 'web', unit: 'connections' }],
        // web-2 draws more per connection: the planner parks it first.
        hosts: [managed(WEB1, { idle: 40, peak: 90, parked: 3 }), managed(WEB2, { idle: 60, peak: 150, parked: 5 })],
      },
    };
    return DaemonProcess.launch(lab, host, dir, config, socket, (child) => new PowerRouter(name, child, socket, stateDir));
  }
  async power(): Promise<PowerStatus> {
    return (await this.control({ cmd: 'power-status' })) as PowerStatus;
  }
  async host(name: string) {
    return (await this.power()).hosts.find((h) => h.name === name)!;
  }
}

type Mode = 'relay' | 'redirect';

describe('power end to end', () => {
  const { lab, work } = labPerTest(5);

  for (const mode of ['relay', 'redirect'] as const) {
    it(`${mode}: parks web-2 when demand is low, survives a router failover without acting twice, wakes it when demand rises`, async (t) => {
      if (!requireRoot(t)) return;
      if (mode === 'redirect') {
        for (const r of ROUTERS) await lab().exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']);
      }
      const key = work().file('id_ed25519');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tandem-power', '-f', key]);
      const pub = await readFile(`${key}.pub`, 'utf8');
      const agents = { web1: await Agent.start(lab(), WEB1), web2: await Agent.start(lab(), WEB2) };
      await startSshd(lab(), WEB1, work().file('sshd-h3'), pub, agents.web1.child.pid!);
      await startSshd(lab(), WEB2, work().file('sshd-h4'), pub, agents.web2.child.pid!);

      const a = await PowerRouter.start(lab(), ROUTERS[0]!, work(), 0, key, mode);
      await eventually('fw-h1 MASTER', async () => ((await a.status()).carp[0]?.state === 'MASTER' ? true : undefined), 8000);
      const b = await PowerRouter.start(lab(), ROUTERS[1]!, work(), 100, key, mode);
      await eventually('fw-h2 BACKUP', async () => ((await b.status()).carp[0]?.state === 'BACKUP' ? true : undefined), 8000);
      assert.equal((await b.power()).role, 'backup');

      // Low demand: two connections, one of them on web-2, which is drained, then parked over SSH.
      const low = holdConnections(lab(), 2);
      const parkStarted = Date.now();
      await eventually('fw-h1 to park web-2', async () => ((await a.host('web-2')).state === 'parked' ? true : undefined), 40_000, 200);
      t.diagnostic(`web-2 parked ${Date.now() - parkStarted} ms after the load started (drain timeout 4 s)`);
      assert.equal(agents.web2.count(/^parked$/), 1);
      assert.notEqual((await curl(lab(), CLIENT, ['--max-time', '2', `http://${lab().host(WEB2).ipv4}:8080/health`])).code, 0, "web-2's server no longer answers");
      const pool = (await a.status()).pools.find((p) => p.name === 'web')!;
      assert.equal(pool.hosts.find((h) => h.id === 'web-2')!.state, 'parked');
      assert.equal((await a.host('web-1')).state, 'awake');
      const parkedA = await a.host('web-2');
      assert.equal(parkedA.how, 'ssh');
      assert.equal(parkedA.park.learned, true);
      t.diagnostic(`learned park latency ${parkedA.park.seconds.toFixed(2)} s (ssh → checks fail)`);
      assert.ok((await a.power()).decisions.some((d) => d.host === 'web-2' && d.action === 'park'));
      const ledgerA = JSON.parse(await readFile(join(a.stateDir, 'power-ledger.json'), 'utf8')) as { hosts: Record<string, { state: string }> };
      assert.equal(ledgerA.hosts['web-2']!.state, 'parked', "the master's ledger on disk");

      // Failover: the master dies; the backup takes the VIP, rebuilds from its checks, acts on nothing.
      a.kill9();
      await eventually('fw-h2 MASTER', async () => ((await b.status()).carp[0]?.state === 'MASTER' ? true : undefined), 10_000);
      await eventually('fw-h2 power master', async () => ((await b.power()).role === 'master' ? true : undefined), 10_000);
      assert.equal((await b.host('web-2')).state, 'parked', 'the new master sees web-2 parked');
      assert.equal((await b.host('web-1')).state, 'awake');
      await new Promise((r) => setTimeout(r, 4000)); // a few planner rounds with the same low demand
      assert.equal(agents.web2.count(/^parked$/), 1, 'not parked twice');
      assert.equal(agents.web2.count(/^magic /), 0, 'not woken');
      assert.deepEqual((await b.power()).decisions, [], 'the new master decided nothing: the picture already fits');

      // Demand rises to 9 connections against web-1's capacity of 10 (target 80%): web-2 is woken.
      const high = holdConnections(lab(), 7);
      const riseAt = Date.now();
      let maxOnWeb1 = 0;
      await eventually('fw-h2 to wake web-2', async () => {
        const web = (await b.status()).pools.find((p) => p.name === 'web')!;
        maxOnWeb1 = Math.max(maxOnWeb1, web.hosts.find((h) => h.id === 'web-1')!.connections);
        return (await b.host('web-2')).state === 'awake' ? true : undefined;
      }, 40_000, 200);
      t.diagnostic(`web-2 awake ${Date.now() - riseAt} ms after demand rose; web-1 peaked at ${maxOnWeb1} connections (capacity ${CAPACITY})`);
      assert.ok(maxOnWeb1 <= CAPACITY, `web-1 carried ${maxOnWeb1}`);
      assert.ok(agents.web2.count(/^magic 102 ok 198\.51\.100\.12$/) >= 1, agents.web2.output);
      assert.equal(agents.web2.count(/^woken$/), 1);
      assert.equal(agents.web1.count(/^magic 102 ok/), 0, "web-1 ignores a packet for another MAC");
      const woken = await b.host('web-2');
      assert.equal(woken.wake.learned, true);
      t.diagnostic(`learned wake latency ${woken.wake.seconds.toFixed(2)} s (WoL → checks pass)`);
      const served = await curl(lab(), CLIENT, ['-sf', '--max-time', '3', `http://${lab().host(WEB2).ipv4}:8080/health`]);
      assert.equal(served.code, 0);
      const web = (await b.status()).pools.find((p) => p.name === 'web')!;
      assert.equal(web.hosts.find((h) => h.id === 'web-2')!.state, 'up', 'back in the pool');

      // The CLI as an admin runs it, against the new master's control socket.
      const cli = (...args: string[]) => run(process.execPath, [BUNDLE, ...args, '--control', b.socket]);
      const text = await cli('power', 'status');
      assert.match(text, /^power: master \(vhid 42\)/m);
      assert.match(text, /web-2 \(web 198\.51\.100\.14\): awake/);
      const json = JSON.parse(await cli('power', 'status', '--json')) as PowerStatus;
      assert.equal(json.hosts.find((h) => h.name === 'web-2')!.wake.learned, true);
      assert.match(await cli('power', 'pin', 'web-2', 'on'), /web-2 pinned awake/);
      assert.equal((await b.host('web-2')).pinned, true);
      low.kill();
      high.kill();
    });
  }
});

// The conntrackd failover lab of /work/shared/reference/conntrackd.md, for the netns test and the
// sync bench: a client, two routers holding the LAN/WAN VIPs through Tandem's CARP with SNAT to
// the WAN VIP, a server behind it, and a direct sync veth; all in namespaces under a per-run
// prefix, TEST-NET addresses only, deleted on dispose(), on exit and on SIGINT/SIGTERM.
//
//   P-cl  eth0 198.51.100.50/25 via VIP 198.51.100.1      (bridge namespace P-lsw)
//   P-r1  lan .2/25  wan 203.0.113.2/24  sync 198.51.100.253/30 --+
//   P-r2  lan .3/25  wan 203.0.113.3/24  sync 198.51.100.254/30 --+ (direct veth)
//   P-srv eth0 203.0.113.80/24, no route back: replies reach the WAN VIP only (bridge P-wsw)

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../../../firmware/control/client.js';
import type { ControlRequest } from '../../../firmware/control/protocol.js';
import type { Status } from '../../../firmware/daemon.js';

export const FLOWS = fileURLToPath(new URL('./flows.mjs', import.meta.url));
export const BUNDLE = fileURLToPath(new URL('../../../dist/tandem.mjs', import.meta.url));
export type Node = 'cl' | 'r1' | 'r2' | 'srv';
export const LAN_VIP = '198.51.100.1';
export const WAN_VIP = '203.0.113.1';
export const SERVER = '203.0.113.80';
export const SERVER6 = '2001:db8:2::80';
export const LAN_VIP6 = '2001:db8:1::1';
export const WAN_VIP6 = '2001:db8:2::1';

export function sh(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function must(cmd: string, args: readonly string[]): Promise<string> {
  const result = await sh(cmd, args);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/** The routers' ruleset (reference, "nftables ruleset used"), loaded on both, master or not. */
export const RULESET = `table inet synclab {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state invalid drop
    ct state established,related accept
    iifname "sync" udp dport 3780 accept comment "conntrackd FTFW"
    meta l4proto 112 accept comment "CARP adverts (IPv4 and IPv6)"
    ip protocol icmp accept
    meta l4proto ipv6-icmp accept comment "neighbour discovery"
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state invalid drop
    ct state established,related accept
    iifname "lan" oifname "wan" ct state new accept
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr 198.51.100.0/25 snat ip to ${WAN_VIP}
    oifname "wan" ip6 saddr 2001:db8:1::/64 snat ip6 to ${WAN_VIP6}
  }
}
`;

export class SyncLab {
  private readonly children = new Set<ChildProcess>();
  /** Processes started by the daemons (conntrackd) that the lab ends by PID if they outlive them. */
  readonly pids = new Set<number>();
  private disposed = false;
  private readonly onExit = () => this.disposeSync();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.disposeSync();
    process.kill(process.pid, signal);
  };

  private constructor(readonly prefix: string, readonly dir: string) {}

  ns(node: Node | 'lsw' | 'wsw'): string {
    return `${this.prefix}-${node}`;
  }

  private get all(): string[] {
    return (['cl', 'r1', 'r2', 'srv', 'lsw', 'wsw'] as const).map((n) => this.ns(n));
  }

  /**
   * `nft: false` leaves the routers without a ruleset, for Tandem's own firewall section;
   * `ipv6` adds 2001:db8:1::/64 (LAN, VIP ::1) and 2001:db8:2::/64 (WAN, VIP ::1, server ::80).
   */
  static async create(dir: string, options: { nft?: boolean; ipv6?: boolean } = {}): Promise<SyncLab> {
    const prefix = `s${process.pid.toString(36)}${randomBytes(2).readUInt16BE(0).toString(36)}`.slice(0, 9);
    const lab = new SyncLab(prefix, dir);
    process.once('exit', lab.onExit);
    process.once('SIGINT', lab.onSignal);
    process.once('SIGTERM', lab.onSignal);
    try {
      await lab.build(options.nft ?? true, options.ipv6 ?? false);
    } catch (error) {
      await lab.dispose();
      throw error;
    }
    return lab;
  }

  private async build(nft: boolean, ipv6: boolean): Promise<void> {
    const ip = (...args: string[]) => must('ip', args);
    for (const ns of this.all) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      const v6 = ipv6 ? '0' : '1';
      await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.all.disable_ipv6=${v6}`, `net.ipv6.conf.default.disable_ipv6=${v6}`]);
      // Static addresses usable at once: no duplicate detection, no router adverts.
      if (ipv6) await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0', 'net.ipv6.conf.default.autoconf=0']);
    }
    for (const sw of [this.ns('lsw'), this.ns('wsw')]) {
      await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0');
      await ip('-n', sw, 'link', 'set', 'br0', 'up');
    }
    let port = 0;
    const plug = async (node: Node, dev: string, sw: 'lsw' | 'wsw', cidr: string) => {
      const name = `${this.prefix}p${port++}`;
      await ip('link', 'add', dev, 'netns', this.ns(node), 'type', 'veth', 'peer', 'name', name, 'netns', this.ns(sw));
      await ip('-n', this.ns(sw), 'link', 'set', name, 'master', 'br0');
      await ip('-n', this.ns(sw), 'link', 'set', name, 'up');
      await ip('-n', this.ns(node), 'addr', 'add', cidr, 'dev', dev);
      await ip('-n', this.ns(node), 'link', 'set', dev, 'up');
    };
    await plug('cl', 'eth0', 'lsw', '198.51.100.50/25');
    await plug('r1', 'lan', 'lsw', '198.51.100.2/25');
    await plug('r2', 'lan', 'lsw', '198.51.100.3/25');
    await plug('r1', 'wan', 'wsw', '203.0.113.2/24');
    await plug('r2', 'wan', 'wsw', '203.0.113.3/24');
    await plug('srv', 'eth0', 'wsw', `${SERVER}/24`);
    await ip('link', 'add', 'sync', 'netns', this.ns('r1'), 'type', 'veth', 'peer', 'name', 'sync', 'netns', this.ns('r2'));
    await ip('-n', this.ns('r1'), 'addr', 'add', '198.51.100.253/30', 'dev', 'sync');
    await ip('-n', this.ns('r2'), 'addr', 'add', '198.51.100.254/30', 'dev', 'sync');
    await ip('-n', this.ns('r1'), 'link', 'set', 'sync', 'up');
    await ip('-n', this.ns('r2'), 'link', 'set', 'sync', 'up');
    await ip('-n', this.ns('cl'), 'route', 'add', 'default', 'via', LAN_VIP);
    if (ipv6) {
      const add6 = (node: Node, dev: string, cidr: string) => ip('-n', this.ns(node), 'addr', 'add', cidr, 'dev', dev, 'nodad');
      await add6('cl', 'eth0', '2001:db8:1::50/64');
      await add6('r1', 'lan', '2001:db8:1::2/64');
      await add6('r2', 'lan', '2001:db8:1::3/64');
      await add6('r1', 'wan', '2001:db8:2::2/64');
      await add6('r2', 'wan', '2001:db8:2::3/64');
      await add6('srv', 'eth0', `${SERVER6}/64`);
      await ip('-n', this.ns('cl'), '-6', 'route', 'add', 'default', 'via', LAN_VIP6);
      for (const r of ['r1', 'r2'] as const) await must('ip', ['netns', 'exec', this.ns(r), 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    }
    for (const r of ['r1', 'r2'] as const) {
      await must('ip', ['netns', 'exec', this.ns(r), 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      if (nft) await this.loadRuleset(r);
    }
  }

  async loadRuleset(node: 'r1' | 'r2'): Promise<void> {
    const file = join(this.dir, `${this.prefix}-${node}.nft`);
    await writeFile(file, RULESET);
    await must('ip', ['netns', 'exec', this.ns(node), 'nft', '-f', file]);
  }

  exec(node: Node, cmd: string, args: readonly string[], timeoutMs = 20_000) {
    return sh('ip', ['netns', 'exec', this.ns(node), cmd, ...args], timeoutMs);
  }

  spawn(node: Node, cmd: string, args: readonly string[]): ChildProcess {
    if (this.disposed) throw new Error('lab disposed');
    const child = spawn('ip', ['netns', 'exec', this.ns(node), cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Cuts every link of a router: the rest of "the master dies" after kill -9. */
  async cut(node: 'r1' | 'r2'): Promise<void> {
    for (const dev of ['sync', 'lan', 'wan']) await must('ip', ['-n', this.ns(node), 'link', 'set', dev, 'down']);
  }

  /** Brings a cut router's links back up. */
  async restore(node: 'r1' | 'r2'): Promise<void> {
    for (const dev of ['sync', 'lan', 'wan']) await must('ip', ['-n', this.ns(node), 'link', 'set', dev, 'up']);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([...this.children].map((child) => stopChild(child)));
    this.killPids();
    for (const ns of this.all) await sh('ip', ['netns', 'delete', ns]);
    this.unregister();
  }

  private killPids(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone (setpriv's parent-death signal took it along)
      }
    }
  }

  private disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const child of this.children) child.kill('SIGKILL');
    this.killPids();
    for (const ns of this.all) {
      try {
        execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    this.unregister();
  }

  private unregister(): void {
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** How the bundle's shebang runs it: node's flags, then the bundle. */
function bundleArgs(): string[] {
  const shebang = execFileSync('head', ['-c', '200', BUNDLE], { encoding: 'utf8' }).split('\n', 1)[0]!;
  const words = shebang.replace(/^#!\s*/, '').split(/\s+/).filter(Boolean);
  const node = words.findIndex((word) => word === 'node' || word.endsWith('/node'));
  return [...words.slice(node + 1), BUNDLE];
}

export interface RouterOptions {
  advskew: number;
  /** Off: the same pair without `sync`, the control run. */
  sync: boolean;
  /** FTFW over UDP unicast to the peer (default) or multicast. */
  transport?: 'udp' | 'multicast';
  /** IPv6 VIPs beside the IPv4 ones (the lab must have `ipv6`). */
  ipv6?: boolean;
  /**
   * Tandem's firewall section instead of the lab's ruleset: zones lan/wan/sync, NAT to the WAN
   * VIP, the HA built-ins; sync.conntrack then takes its link and address from the sync zone.
   */
  firewall?: boolean;
}

/** `tandem run` (the built bundle) in a router namespace, reached through its control socket. */
export class Router {
  output = '';
  readonly exited: Promise<number | null>;
  private constructor(readonly node: 'r1' | 'r2', readonly child: ChildProcess, readonly dir: string) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-200_000)));
    child.stderr?.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-200_000)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get socket(): string {
    return join(this.dir, 'control.sock');
  }

  get conntrackdConf(): string {
    return join(this.dir, 'conntrackd.conf');
  }

  static async start(lab: SyncLab, node: 'r1' | 'r2', options: RouterOptions): Promise<Router> {
    const dir = join(lab.dir, node);
    await mkdir(dir, { recursive: true });
    const own = node === 'r1' ? { lan: '198.51.100.2', wan: '203.0.113.2', sync: '198.51.100.253' } : { lan: '198.51.100.3', wan: '203.0.113.3', sync: '198.51.100.254' };
    const peer = node === 'r1' ? { lan: '198.51.100.3', wan: '203.0.113.3', sync: '198.51.100.254' } : { lan: '198.51.100.2', wan: '203.0.113.2', sync: '198.51.100.253' };
    const carp = (vhid: number, iface: string, ...vips: string[]) => ({ vhid, interface: iface, addresses: vips, password: 'labsecret', advbase: 1, advskew: options.advskew });
    const v6 = (cidr: string) => (options.ipv6 ? [cidr] : []);
    const config = {
      node: { name: `fw-${node}`, stateDir: join(dir, 'state') },
      control: { socket: join(dir, 'control.sock') },
      log: { level: 'debug' },
      carp: [carp(1, 'lan', `${LAN_VIP}/25`, ...v6(`${LAN_VIP6}/64`)), carp(2, 'wan', `${WAN_VIP}/24`, ...v6(`${WAN_VIP6}/64`))],
      ...(options.firewall
        ? {
            firewall: {
              zones: {
                lan: { interfaces: ['lan'], addresses: [`${own.lan}/25`] },
                wan: { interfaces: ['wan'], addresses: [`${own.wan}/24`] },
                sync: { interfaces: ['sync'], addresses: [`${own.sync}/30`] },
              },
              rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
              nat: [{ on: 'wan', from: { zone: 'lan' }, natTo: { vip: 2 } }],
            },
          }
        : {}),
      ...(options.sync
        ? {
            sync: {
              conntrack: {
                ...(options.firewall ? {} : { interface: 'sync', address: own.sync }),
                ...(options.transport === 'multicast' ? {} : { peer: peer.sync }),
                vhid: 1,
                ignore: options.firewall ? [peer.lan, peer.wan] : [peer.lan, peer.wan, own.lan, own.wan],
              },
            },
          }
        : {}),
    };
    const path = join(dir, 'tandem.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    const router = new Router(node, lab.spawn(node, process.execPath, [...bundleArgs(), 'run', '--config', path]), dir);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (router.child.exitCode !== null) throw new Error(`${node} exited: ${router.output}`);
      const status = await router.status().catch(() => undefined);
      if (status) break;
      if (Date.now() > deadline) throw new Error(`${node} did not answer: ${router.output}`);
      await sleep(100);
    }
    return router;
  }

  async control(request: ControlRequest): Promise<unknown> {
    const reply = await sendControl(this.socket, request, 2000);
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  }

  async status(): Promise<Status> {
    return (await this.control({ cmd: 'status' })) as Status;
  }

  async state(vhid: number): Promise<string | undefined> {
    return (await this.status().catch(() => undefined))?.carp.find((v) => v.vhid === vhid)?.state;
  }

  kill9(): void {
    this.child.kill('SIGKILL');
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value; rejects with `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

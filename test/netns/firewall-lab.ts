// A throwaway router lab for the firewall's netns tests: a router namespace between a lan
// namespace and a wan segment (a bridge namespace with an Internet host and a second CARP
// router on it), all under a unique per-run prefix, TEST-NET addresses only, deleted on
// dispose(), on exit and on SIGINT/SIGTERM. Nothing touches the root namespace except creating
// and deleting these named namespaces.
//
//   P-lan  eth0 198.51.100.10/24 (+ .21, .22: the balancer's web servers), via 198.51.100.1
//     |
//   P-rt   eth1 198.51.100.1/24   eth0 203.0.113.2/24 (VIP 203.0.113.10 while CARP master)
//                                   |
//   P-sw   bridge br0 ------------- P-inet eth0 203.0.113.50/24 (route to the lan via P-rt)
//                                   P-peer eth0 203.0.113.3/24 (the other CARP router)
//
// With `ipv6`: lan 2001:db8:1::10 and ::21 via ::1 (P-rt eth1), wan 2001:db8:2::2 (P-rt eth0),
// ::50 (P-inet, route to 2001:db8:1::/64 via ::2) and ::3 (P-peer); IPv6 forwarding on P-rt.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const TOOLS = fileURLToPath(new URL('./firewall-tools.mjs', import.meta.url));

export type Node = 'lan' | 'rt' | 'inet' | 'peer';

export function sh(cmd: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? 20_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

async function must(cmd: string, args: readonly string[]): Promise<string> {
  const result = await sh(cmd, args);
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

export class FirewallLab {
  private readonly children = new Set<ChildProcess>();
  private disposed = false;
  private readonly onExit = () => this.disposeSync();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.disposeSync();
    process.kill(process.pid, signal);
  };

  private constructor(
    readonly prefix: string,
    readonly ipv6: boolean,
  ) {}

  ns(node: Node | 'sw'): string {
    return `${this.prefix}-${node}`;
  }

  private get all(): string[] {
    return (['lan', 'rt', 'inet', 'peer', 'sw'] as const).map((n) => this.ns(n));
  }

  /** With `ipv6`, every link also gets the 2001:db8:1::/64 (lan) and 2001:db8:2::/64 (wan) addresses below. */
  static async create(options: { ipv6?: boolean } = {}): Promise<FirewallLab> {
    const prefix = `f${process.pid.toString(36)}${randomBytes(2).readUInt16BE(0).toString(36)}`.slice(0, 10);
    const lab = new FirewallLab(prefix, options.ipv6 === true);
    process.once('exit', lab.onExit);
    process.once('SIGINT', lab.onSignal);
    process.once('SIGTERM', lab.onSignal);
    try {
      await lab.build();
    } catch (error) {
      await lab.dispose();
      throw error;
    }
    return lab;
  }

  private async build(): Promise<void> {
    const ip = (...args: string[]) => must('ip', args);
    const inNs = (ns: string, ...args: string[]) => must('ip', ['netns', 'exec', ns, ...args]);
    for (const ns of this.all) {
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      const v6 = this.ipv6 ? '0' : '1';
      await inNs(ns, 'sysctl', '-qw', `net.ipv6.conf.all.disable_ipv6=${v6}`, `net.ipv6.conf.default.disable_ipv6=${v6}`);
      // Static addresses only: no router adverts, no autoconfiguration.
      if (this.ipv6) await inNs(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_ra=0', 'net.ipv6.conf.default.accept_ra=0', 'net.ipv6.conf.default.autoconf=0');
    }
    const [lan, rt, inet, peer, sw] = this.all as [string, string, string, string, string];
    await inNs(rt, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    if (this.ipv6) await inNs(rt, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
    // lan <-> router
    await ip('link', 'add', `${this.prefix}-l`, 'netns', rt, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan);
    await ip('-n', rt, 'link', 'set', `${this.prefix}-l`, 'name', 'eth1');
    // wan segment: a bridge with the router, the Internet host and the peer router
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0');
    await ip('-n', sw, 'link', 'set', 'br0', 'up');
    for (const [i, ns] of [rt, inet, peer].entries()) {
      const port = `${this.prefix}-p${i}`;
      await ip('link', 'add', port, 'netns', sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('-n', sw, 'link', 'set', port, 'master', 'br0');
      await ip('-n', sw, 'link', 'set', port, 'up');
    }
    const addr = async (ns: string, dev: string, ...cidrs: string[]) => {
      for (const c of cidrs) {
        if (c.includes(':') && !this.ipv6) continue;
        // nodad: the address works at once instead of after duplicate detection.
        await ip('-n', ns, 'addr', 'add', c, 'dev', dev, ...(c.includes(':') ? ['nodad'] : []));
      }
      await ip('-n', ns, 'link', 'set', dev, 'up');
    };
    await addr(lan, 'eth0', '198.51.100.10/24', '198.51.100.21/24', '198.51.100.22/24', '2001:db8:1::10/64', '2001:db8:1::21/64');
    await ip('-n', lan, 'route', 'add', 'default', 'via', '198.51.100.1');
    await addr(rt, 'eth1', '198.51.100.1/24', '2001:db8:1::1/64');
    await addr(rt, 'eth0', '203.0.113.2/24', '2001:db8:2::2/64');
    await addr(inet, 'eth0', '203.0.113.50/24', '2001:db8:2::50/64');
    await ip('-n', inet, 'route', 'add', '198.51.100.0/24', 'via', '203.0.113.2');
    await addr(peer, 'eth0', '203.0.113.3/24', '2001:db8:2::3/64');
    if (this.ipv6) {
      await ip('-n', lan, '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1');
      await ip('-n', inet, '-6', 'route', 'add', '2001:db8:1::/64', 'via', '2001:db8:2::2');
    }
  }

  exec(node: Node, cmd: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}) {
    return sh('ip', ['netns', 'exec', this.ns(node), cmd, ...args], options);
  }

  spawn(node: Node, cmd: string, args: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(node), cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Starts the traffic tool's servers in `node` and resolves once they listen. */
  async serve(node: Node, ports: number[]): Promise<void> {
    const child = this.spawn(node, process.execPath, [TOOLS, 'serve', ...ports.map(String)]);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('listening')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`servers in ${node} exited with ${code}: ${out}`)));
    });
  }

  /** One TCP connection: the server's greeting, or "ERR ..." when it does not get through. */
  async connect(from: Node, host: string, port: number, timeoutMs = 1500, source?: string): Promise<string> {
    const args = [TOOLS, 'connect', host, String(port), String(timeoutMs), ...(source ? [source] : [])];
    const result = await this.exec(from, process.execPath, args, { timeoutMs: timeoutMs + 5000 });
    return result.stdout.trim() || `ERR no output (exit ${result.code}): ${result.stderr.trim()}`;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const ns of this.all) await sh('ip', ['netns', 'delete', ns]);
    this.unregister();
  }

  private disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const child of this.children) child.kill('SIGKILL');
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

/** A throwaway namespace of its own, for `nft -c` and the NftPort contract. */
export async function scratchNamespace(tag: string): Promise<{ name: string; dispose(): Promise<void> }> {
  const name = `fw${tag}${process.pid.toString(36)}${randomBytes(3).toString('hex')}`.slice(0, 15);
  await must('ip', ['netns', 'add', name]);
  let gone = false;
  const cleanup = () => {
    if (gone) return;
    gone = true;
    try {
      execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  };
  process.once('exit', cleanup);
  return {
    name,
    dispose: async () => {
      process.removeListener('exit', cleanup);
      if (!gone) {
        gone = true;
        await sh('ip', ['netns', 'delete', name]);
      }
    },
  };
}

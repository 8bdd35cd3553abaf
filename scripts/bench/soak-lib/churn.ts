// The soak: a Tandem pair (h1, h2) in a namespace lab, each with CARP, a health-checked pool of
// two backends (h3, h4) redirected through its firewall table, and hooks that log every
// transition, put through bounded churn: a failover every few seconds, a backend stopped and
// started (its table entry written out and back), SIGHUP reloads, and control-socket clients.
// Sampled over time: RSS, JS heap and open descriptors per daemon. At the end: transitions
// lost (a failover whose hooks never ran), RSS growth after warm-up, and RSS against bare
// Node measured in the same lab. Used by scripts/bench/soak and the netns tier's short run.

import { readdir, readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { Backend } from '../../../test/netns/balancer-lab.js';
import { eventually, Lab } from '../../../test/netns/lab.js';
import { DaemonProcess, Workdir } from '../../../test/netns/peers.js';
import { shebangEnv } from '../memory-lib/shebang.js';
import { smapsOf, threadsOf } from '../memory-lib/smaps.js';

const VIP = '198.51.100.100';
const BACKENDS = ['198.51.100.13', '198.51.100.14'];

export interface SoakOptions {
  seconds: number;
  /** Samples are taken this often. */
  sampleSeconds: number;
  /** Growth is measured from the end of the warm-up. */
  warmupSeconds: number;
  failoverEverySeconds: number;
  flapEverySeconds: number;
  reloadEverySeconds: number;
  /** Control-socket status requests per second, spread over both daemons. */
  clientsPerSecond: number;
  progress?: (line: string) => void;
}

export interface Sample {
  t: number;
  node: string;
  rssMiB: number;
  /** The anonymous part of RSS (heaps, stacks) and the file-backed part (node's binary, libraries). */
  anonMiB: number;
  fileMiB: number;
  heapMiB: number;
  fds: number;
}

export interface SoakResult {
  seconds: number;
  samples: Sample[];
  failovers: number;
  /** Hook runs the failovers should have caused, and those seen. */
  transitionsExpected: number;
  transitionsSeen: number;
  transitionsLost: number;
  flaps: number;
  reloads: number;
  statusRequests: number;
  statusFailures: number;
  bareNodeRssMiB: number;
  /** Where RSS sits at the end (smaps regions, MiB), bare Node's beside it, and thread counts. */
  regionsMiB: Record<string, Record<string, number>>;
  threads: Record<string, number>;
  /** Per node: median RSS just after warm-up, at the end, growth in %, RSS / bare Node, fds. */
  nodes: { node: string; rssAfterWarmupMiB: number; rssEndMiB: number; growthPct: number; ratioToBareNode: number; heapEndMiB: number; fdsAfterWarmup: number; fdsEnd: number }[];
}

class SoakNode extends DaemonProcess {
  static async start(lab: Lab, host: number, work: Workdir, advskew: number): Promise<SoakNode> {
    const name = `fw-${lab.host(host).name}`;
    const dir = work.file(name);
    await mkdir(dir, { recursive: true });
    const hook = join(dir, 'hook.sh');
    await writeFile(hook, `#!/bin/sh\necho "$1 $2 $3" >> ${join(dir, 'hooks.log')}\n`);
    await chmod(hook, 0o755);
    const own = lab.host(host).ipv4;
    const config = {
      node: { name, stateDir: join(dir, 'state') },
      control: { socket: join(dir, 'control.sock') },
      log: { level: 'info' },
      carp: [{ vhid: 42, interface: 'eth0', addresses: [`${VIP}/24`], password: 'soak', advbase: 1, advskew }],
      hooks: { master: hook, backup: hook, init: hook },
      balancer: {
        pools: [
          {
            name: 'web',
            port: 8080,
            hosts: BACKENDS.map((address) => ({ address })),
            check: { type: 'http', path: '/health', intervalSeconds: 0.5, timeoutSeconds: 0.4, downAfter: 2, upAfter: 2 },
            redirect: { table: 'web' },
          },
        ],
      },
      firewall: {
        zones: { lan: { interfaces: ['eth0'], addresses: [`${own}/24`] } },
        rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
        nat: [{ on: 'lan', to: { table: 'web' }, natTo: { interface: true } }],
        forwards: [{ name: 'web', on: 'lan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
      },
    };
    return DaemonProcess.launch(lab, host, dir, config, config.control.socket, (child) => new SoakNode(name, child, config.control.socket, join(dir, 'hooks.log')));
  }

  private constructor(name: string, child: ChildProcess, socket: string, readonly hookLog: string) {
    super(name, child, socket);
  }

  async hookLines(): Promise<number> {
    return (await readFile(this.hookLog, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  }

  async sample(t: number): Promise<Sample> {
    const pid = this.child.pid!;
    const status = await this.status();
    const fds = (await readdir(`/proc/${pid}/fd`)).length;
    const kib = await statusKiB(pid);
    return { t, node: this.name, rssMiB: kib.VmRSS / 1024, anonMiB: kib.RssAnon / 1024, fileMiB: kib.RssFile / 1024, heapMiB: status.memory.heapUsedBytes / 2 ** 20, fds };
  }
}

async function statusKiB(pid: number): Promise<{ VmRSS: number; RssAnon: number; RssFile: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!match) throw new Error(`no ${name} for pid ${pid}`);
    return Number(match[1]);
  };
  return { VmRSS: field('VmRSS'), RssAnon: field('RssAnon'), RssFile: field('RssFile') };
}

const bareEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of Object.keys(shebangEnv())) delete env[name];
  return env;
};

/** A bare, idle Node process in the same lab (without the daemon's environment), after it settled: RSS and where it sits. */
async function bareNode(lab: Lab, host: number): Promise<{ rssMiB: number; regions: Record<string, number>; threads: number }> {
  const child = lab.spawn(host, process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: bareEnv() });
  try {
    await sleep(2000);
    const kib = await statusKiB(child.pid!);
    return { rssMiB: kib.VmRSS / 1024, regions: await regionsMiB(child.pid!), threads: await threadsOf(child.pid!) };
  } finally {
    child.kill('SIGTERM');
  }
}

async function regionsMiB(pid: number): Promise<Record<string, number>> {
  return Object.fromEntries([...(await smapsOf(pid))].map(([region, kib]) => [region, kib / 1024]));
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : NaN;
};

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const say = options.progress ?? (() => undefined);
  const lab = await Lab.create({ hosts: 4 });
  const work = await Workdir.create();
  // The daemons run as `tandem run` would: with the environment the bundle's shebang sets.
  const saved = { ...process.env };
  Object.assign(process.env, shebangEnv());
  try {
    for (const h of [1, 2]) await lab.exec(h, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const backends = await Promise.all([3, 4].map((h) => Backend.start(lab, h)));
    const nodes = [await SoakNode.start(lab, 1, work, 0), await SoakNode.start(lab, 2, work, 10)];
    await eventually('one MASTER, one BACKUP, both pools up', async () => {
      const states = await Promise.all(nodes.map((n) => n.status()));
      const carp = states.map((s) => s.carp[0]?.state).sort().join(',');
      return carp === 'BACKUP,MASTER' && states.every((s) => s.pools[0]?.state === 'up') ? true : undefined;
    }, 15_000);
    const bareAtStart = await bareNode(lab, 4);
    const bare = bareAtStart.rssMiB;
    say(`bare node RSS ${bare.toFixed(1)} MiB; soaking for ${options.seconds} s`);
    const hooksAtStart = await Promise.all(nodes.map((n) => n.hookLines()));

    const samples: Sample[] = [];
    let failovers = 0;
    let flaps = 0;
    let reloads = 0;
    let statusRequests = 0;
    let statusFailures = 0;
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    const due = { failover: options.failoverEverySeconds, flap: options.flapEverySeconds, reload: options.reloadEverySeconds, sample: 0 };
    let flapped = false;
    let clientTick = 0;
    const clientGap = 1000 / Math.max(1, options.clientsPerSecond);

    while (elapsed() < options.seconds) {
      const t = elapsed();
      if (t >= due.sample) {
        due.sample += options.sampleSeconds;
        for (const n of nodes) samples.push(await n.sample(Math.round(t)));
        const last = samples.slice(-2).map((s) => `${s.node} rss ${s.rssMiB.toFixed(1)} (anon ${s.anonMiB.toFixed(1)}) heap ${s.heapMiB.toFixed(1)} fds ${s.fds}`).join('  ');
        say(`t=${Math.round(t)}s  ${last}  failovers ${failovers} flaps ${flaps} reloads ${reloads}`);
      }
      if (t >= due.failover) {
        due.failover += options.failoverEverySeconds;
        const states = await Promise.all(nodes.map((n) => n.status()));
        const master = nodes[states.findIndex((s) => s.carp[0]?.state === 'MASTER')];
        const other = nodes.find((n) => n !== master);
        if (master && other) {
          await master.control({ cmd: 'failover' });
          await eventually('the other node to take over', async () => ((await other.status()).carp[0]?.state === 'MASTER' ? true : undefined), 5000, 20);
          await eventually('the old master to step back', async () => ((await master.status()).carp[0]?.state === 'BACKUP' ? true : undefined), 5000, 20);
          failovers++;
        }
      }
      if (t >= due.flap) {
        due.flap += options.flapEverySeconds;
        if (flapped) backends[0] = await Backend.start(lab, 3);
        else await backends[0]!.stop();
        flapped = !flapped;
        flaps++;
      }
      if (t >= due.reload) {
        due.reload += options.reloadEverySeconds;
        for (const n of nodes) await n.control({ cmd: 'reload' });
        reloads++;
      }
      // Control clients fill the time until the next tick.
      const until = Date.now() + 200;
      while (Date.now() < until) {
        statusRequests++;
        try {
          await nodes[clientTick++ % 2]!.status();
        } catch {
          statusFailures++;
        }
        await sleep(clientGap);
      }
    }

    // Let the last transitions' hooks finish, then count.
    await sleep(2000);
    const hooksAtEnd = await Promise.all(nodes.map((n) => n.hookLines()));
    const transitionsSeen = hooksAtEnd.reduce((sum, end, i) => sum + end - hooksAtStart[i]!, 0);
    const transitionsExpected = failovers * 2;
    for (const n of nodes) samples.push(await n.sample(Math.round(elapsed())));
    const regions: Record<string, Record<string, number>> = { 'bare node': bareAtStart.regions };
    const threads: Record<string, number> = { 'bare node': bareAtStart.threads };
    for (const n of nodes) {
      regions[n.name] = await regionsMiB(n.child.pid!);
      threads[n.name] = await threadsOf(n.child.pid!);
    }

    const perNode = nodes.map((n) => {
      const mine = samples.filter((s) => s.node === n.name);
      const afterWarmup = mine.filter((s) => s.t >= options.warmupSeconds);
      const window = Math.max(1, Math.round(afterWarmup.length / 5));
      const early = afterWarmup.slice(0, window);
      const late = afterWarmup.slice(-window);
      const rssAfterWarmupMiB = median(early.map((s) => s.rssMiB));
      const rssEndMiB = median(late.map((s) => s.rssMiB));
      return {
        node: n.name,
        rssAfterWarmupMiB,
        rssEndMiB,
        growthPct: ((rssEndMiB - rssAfterWarmupMiB) / rssAfterWarmupMiB) * 100,
        ratioToBareNode: rssEndMiB / bare,
        heapEndMiB: median(late.map((s) => s.heapMiB)),
        fdsAfterWarmup: median(early.map((s) => s.fds)),
        fdsEnd: median(late.map((s) => s.fds)),
      };
    });
    await Promise.all(nodes.map((n) => n.terminate()));
    await Promise.all(backends.map((b) => b.stop()));
    return {
      seconds: Math.round(elapsed()),
      samples,
      failovers,
      transitionsExpected,
      transitionsSeen,
      transitionsLost: Math.max(0, transitionsExpected - transitionsSeen),
      flaps,
      reloads,
      statusRequests,
      statusFailures,
      bareNodeRssMiB: bare,
      regionsMiB: regions,
      threads,
      nodes: perNode,
    };
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await lab.dispose();
    await work.dispose();
  }
}

export function formatSoak(result: SoakResult): string {
  const lines = [
    `soak: ${result.seconds} s, ${result.failovers} failovers, ${result.flaps} backend flaps, ${result.reloads} reloads, ` +
      `${result.statusRequests} status requests (${result.statusFailures} failed)`,
    `transitions: expected ${result.transitionsExpected}, hooks run ${result.transitionsSeen}, lost ${result.transitionsLost}`,
    `bare node RSS ${result.bareNodeRssMiB.toFixed(1)} MiB`,
    'node      RSS after warm-up  RSS at end  growth   x bare node  heap at end  fds after warm-up  fds at end',
  ];
  for (const n of result.nodes) {
    lines.push(
      `${n.node.padEnd(9)} ${n.rssAfterWarmupMiB.toFixed(1).padStart(10)} MiB ${n.rssEndMiB.toFixed(1).padStart(7)} MiB ` +
        `${(n.growthPct >= 0 ? '+' : '') + n.growthPct.toFixed(1)}%`.padStart(7) +
        `   ${n.ratioToBareNode.toFixed(2)}x      ${n.heapEndMiB.toFixed(1).padStart(6)} MiB   ${String(n.fdsAfterWarmup).padStart(10)}        ${String(n.fdsEnd).padStart(6)}`,
    );
  }
  const regions = [...new Set(Object.values(result.regionsMiB).flatMap((r) => Object.keys(r)))];
  lines.push('', `where RSS sits at the end (smaps, MiB): ${regions.join(' | ')} | threads`);
  for (const [name, r] of Object.entries(result.regionsMiB)) {
    lines.push(`${name.padEnd(10)} ${regions.map((g) => (r[g] ?? 0).toFixed(1).padStart(6)).join(' ')} ${String(result.threads[name]).padStart(6)}`);
  }
  return lines.join('\n');
}

// What each part of the daemon costs in RSS: the built bundle started in a namespace lab with its
// capabilities switched on one at a time (each step's config adds one section to the previous
// one), RSS sampled after the same settle time, and bare Node measured in the same run as the
// yardstick (the budget is 1.5x, issue 14 item 6). Used by scripts/bench/memory.

import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Backend } from '../../../test/netns/balancer-lab.js';
import { eventually, Lab } from '../../../test/netns/lab.js';
import { bundleCommand, DaemonProcess, Workdir } from '../../../test/netns/peers.js';
import { Mosquitto } from '../../../test/services/telemetry-lab.js';
import { shebangEnv } from './shebang.js';
import { rssKiBOf, smapsOf, threadsOf, type Region } from './smaps.js';

const run = promisify(execFile);
const VIP = '198.51.100.100';
export const STEPS = ['empty', 'carp', 'firewall', 'relay', 'telemetry', 'power', 'api'] as const;
export type Step = (typeof STEPS)[number];
export const STEP_TITLES: Record<Step, string> = {
  empty: 'empty config',
  carp: '+ CARP (one vhost)',
  firewall: '+ firewall (nftables)',
  relay: '+ relay pool, http checks, under wrk',
  telemetry: '+ telemetry to mosquitto',
  power: '+ power manager (wol/ssh)',
  api: '+ web UI and API (loopback, curl)',
};

/** A step's title; with `idle` the relay steps ran without load. */
export function titleOf(step: Step | 'bare node', idle = false): string {
  if (step === 'bare node') return 'bare node (setInterval)';
  return idle ? STEP_TITLES[step].replace('under wrk', 'no load') : STEP_TITLES[step];
}

export interface MemoryOptions {
  steps: readonly Step[];
  settleSeconds: number;
  loadSeconds: number;
  /** Extra node flags before the bundle (after the shebang's own). */
  nodeFlags: string[];
  /** Extra environment for the daemon. */
  env: Record<string, string>;
  /** Whether the shebang's flags and environment apply (false: a plain `node bundle`, for A/B runs). */
  shebang: boolean;
  /** Runs of every step (and of bare Node); the median RSS is reported. */
  repeat: number;
  /** No wrk load on the relay steps: the resident cost at rest (the pool is still checked). */
  idle: boolean;
  /** The node binary (or a wrapper that execs one, e.g. scripts/node18) for the daemon and for
   * bare Node alike; default this process's. */
  node: string;
  progress?: (line: string) => void;
}

export interface StepResult {
  step: Step | 'bare node';
  rssMiB: number;
  /** All runs' RSS, for the spread. */
  runsMiB: number[];
  peakMiB: number;
  heapMiB?: number;
  threads: number;
  regionsMiB: Partial<Record<Region, number>>;
  /** wrk's requests per second through the relay, for the steps under load: a flag that saves
   * memory by slowing the relay shows here. */
  requestsPerSecond?: number;
}

class MemoryNode extends DaemonProcess {
  static async spawn(lab: Lab, dir: string, config: Record<string, unknown>, options: MemoryOptions): Promise<MemoryNode> {
    const path = join(dir, 'tandem.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    const [flags, bundle] = [options.shebang ? bundleCommand().slice(0, -1) : [], bundleCommand().at(-1)!];
    const env = { ...process.env, ...(options.shebang ? shebangEnv() : {}), ...options.env };
    const child = lab.spawn(1, options.node, [...flags, ...options.nodeFlags, bundle, 'run', '--config', path], { env });
    const node = new MemoryNode('fw', child, (config.control as { socket: string }).socket);
    await eventually('the daemon to answer', async () => {
      if (child.exitCode !== null) throw new Error(`daemon exited: ${node.output}`);
      return (await node.status()).node;
    }, 10_000);
    return node;
  }
  private constructor(name: string, child: ChildProcess, socket: string) {
    super(name, child, socket);
  }
}

async function measure(pid: number): Promise<Omit<StepResult, 'step' | 'runsMiB' | 'heapMiB'>> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(await rssKiBOf(pid));
    if (i < 2) await sleep(500);
  }
  samples.sort((a, b) => a - b);
  const status = await import('node:fs/promises').then((fs) => fs.readFile(`/proc/${pid}/status`, 'utf8'));
  const peak = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  const regions = await smapsOf(pid);
  return {
    rssMiB: samples[1]! / 1024,
    peakMiB: peak / 1024,
    threads: await threadsOf(pid),
    regionsMiB: Object.fromEntries([...regions].map(([k, v]) => [k, v / 1024])),
  };
}

function configFor(step: Step, lab: Lab, dir: string, key: string): Record<string, unknown> {
  const upTo = STEPS.indexOf(step);
  const on = (s: Step) => STEPS.indexOf(s) <= upTo;
  const config: Record<string, unknown> = {
    node: { name: 'fw-mem', stateDir: join(dir, 'state') },
    control: { socket: join(dir, 'control.sock') },
    log: { level: 'info' },
  };
  if (on('carp')) config.carp = [{ vhid: 42, interface: 'eth0', addresses: [`${VIP}/24`], password: 'memory', advbase: 1 }];
  if (on('firewall')) {
    config.firewall = {
      zones: { lan: { interfaces: ['eth0'], addresses: [`${lab.host(1).ipv4}/24`] } },
      tables: { web: { members: [2, 3].map((h) => lab.host(h).ipv4) } },
      rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
      nat: [{ on: 'lan', to: { table: 'web' }, natTo: { interface: true } }],
      forwards: [{ name: 'web', on: 'lan', proto: 'tcp', to: { vip: 42, port: 81 }, rdrTo: { table: 'web', port: 8080 } }],
    };
  }
  if (on('relay')) {
    config.balancer = {
      pools: [
        {
          name: 'web',
          port: 8080,
          hosts: [2, 3].map((h) => ({ name: `web-${h - 1}`, address: lab.host(h).ipv4 })),
          check: { type: 'http', path: '/health', intervalSeconds: 0.5, timeoutSeconds: 0.4, downAfter: 2, upAfter: 2 },
          relay: { listen: `${VIP}:80`, mode: 'http' },
        },
      ],
    };
  }
  if (on('telemetry')) config.telemetry = { mqtt: { url: 'mqtt://127.0.0.1:1883' }, metricsIntervalSeconds: 5 };
  if (on('power')) {
    config.power = {
      vhid: 42,
      intervalSeconds: 1,
      // Both hosts stay awake (minAwake 2): the manager plans every second but never acts, so
      // this is its resident cost, not a park's.
      policy: { spares: 0, minAwake: 2, maxCyclesPerDay: 10, minAwakeSeconds: 0, minParkedSeconds: 0, targetUtilisation: 0.8, drainTimeoutSeconds: 4 },
      pools: [{ name: 'web', unit: 'connections' }],
      hosts: [2, 3].map((h) => ({
        name: `web-${h - 1}`, pool: 'web', address: lab.host(h).ipv4, mac: lab.host(h).mac, capacity: 100,
        watts: { idle: 40, peak: 90, parked: 3 },
        wake: { method: 'wol', seconds: 3 },
        park: { method: 'ssh', seconds: 3, key, connectTimeoutSeconds: 3 },
      })),
    };
  }
  if (on('api')) config.api = { listen: ['127.0.0.1:8080'] };
  return config;
}

/** A browser's first visit, roughly: the UI's files and a few API reads, over loopback in the daemon's namespace. */
async function browse(lab: Lab): Promise<void> {
  for (let i = 0; i < 10; i++) {
    for (const path of ['/', '/api/status', '/api/firewall', '/api/events']) {
      await lab.exec(1, 'curl', ['-s', '-o', '/dev/null', '--max-time', '5', `http://127.0.0.1:8080${path}`]).catch(() => undefined);
    }
  }
}

async function bareNode(lab: Lab, settleSeconds: number, node: string): Promise<Omit<StepResult, 'step' | 'runsMiB'>> {
  const child = lab.spawn(4, node, ['-e', 'setInterval(() => {}, 1000)']);
  try {
    await sleep(settleSeconds * 1000);
    return await measure(child.pid!);
  } finally {
    child.kill('SIGTERM');
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** Runs every step `repeat` times (steps interleaved, so drift hits all alike); medians per step. */
export async function runMemory(options: MemoryOptions): Promise<StepResult[]> {
  const say = options.progress ?? (() => undefined);
  const lab = await Lab.create({ hosts: 4 });
  const work = await Workdir.create();
  const backends: Backend[] = [];
  let broker: Mosquitto | undefined;
  try {
    for (const h of [2, 3]) backends.push(await Backend.start(lab, h));
    const key = work.file('park_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    // Every step from telemetry on has telemetry in its config (each step adds to the previous).
    if (options.steps.some((step) => STEPS.indexOf(step) >= STEPS.indexOf('telemetry'))) {
      broker = await Mosquitto.start(work.file('mosquitto'), ['listener 1883 127.0.0.1', 'allow_anonymous true'], { lab, host: 1 });
    }
    const runs = new Map<string, Omit<StepResult, 'step' | 'runsMiB'>[]>();
    const keep = (step: string, r: Omit<StepResult, 'step' | 'runsMiB'>) => runs.set(step, [...(runs.get(step) ?? []), r]);
    for (let round = 0; round < options.repeat; round++) {
      keep('bare node', await bareNode(lab, options.settleSeconds, options.node));
      say(`round ${round + 1}: bare node ${runs.get('bare node')!.at(-1)!.rssMiB.toFixed(1)} MiB`);
      for (const step of options.steps) {
        const dir = work.file(`${step}-${round}`);
        await mkdir(dir, { recursive: true });
        const node = await MemoryNode.spawn(lab, dir, configFor(step, lab, dir, key), options);
        try {
          let load: Promise<unknown> | undefined;
          if (STEPS.indexOf(step) >= STEPS.indexOf('relay')) {
            await eventually('the pool to be up and the vhost master', async () => {
              const s = await node.status();
              return s.pools[0]?.state === 'up' && s.carp[0]?.state === 'MASTER' ? true : undefined;
            }, 15_000);
            if (!options.idle) load = lab.exec(4, 'wrk', ['-t', '1', '-c', '16', '-d', `${options.loadSeconds}s`, `http://${VIP}/`], (options.loadSeconds + 20) * 1000);
          }
          if (STEPS.indexOf(step) >= STEPS.indexOf('api')) await browse(lab);
          await sleep(options.settleSeconds * 1000);
          // Under load the sample is taken while wrk still runs (settle < load) or right after.
          const m = await measure(node.child.pid!);
          const heapMiB = (await node.status()).memory.heapUsedBytes / 2 ** 20;
          keep(step, { ...m, heapMiB });
          say(`round ${round + 1}: ${titleOf(step, options.idle)} ${m.rssMiB.toFixed(1)} MiB (heap ${heapMiB.toFixed(1)}, ${m.threads} threads)`);
          const wrk = (await load) as { stdout: string } | undefined;
          const rps = wrk ? Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1]) : undefined;
          if (rps !== undefined) runs.get(step)!.at(-1)!.requestsPerSecond = rps;
        } finally {
          await node.terminate();
        }
      }
    }
    return [...runs].map(([step, rs]) => {
      const mid = rs.find((r) => r.rssMiB === median(rs.map((x) => x.rssMiB)))!;
      return { step: step as StepResult['step'], ...mid, runsMiB: rs.map((r) => r.rssMiB) };
    });
  } finally {
    await broker?.stop();
    await Promise.all(backends.map((b) => b.stop()));
    await lab.dispose();
    await work.dispose();
  }
}

export function formatMemory(results: StepResult[], idle = false): string {
  const bare = results.find((r) => r.step === 'bare node')!.rssMiB;
  const lines = ['step                                       RSS MiB   x bare  +prev MiB  peak MiB  heap MiB  threads   req/s  runs'];
  let previous = bare;
  for (const r of results) {
    const title = titleOf(r.step, idle);
    const delta = r.step === 'bare node' ? '' : (r.rssMiB - previous >= 0 ? '+' : '') + (r.rssMiB - previous).toFixed(1);
    lines.push(
      `${title.padEnd(40)} ${r.rssMiB.toFixed(1).padStart(8)} ${(r.rssMiB / bare).toFixed(2).padStart(7)}x ${delta.padStart(10)} ${r.peakMiB.toFixed(1).padStart(9)} ` +
        `${(r.heapMiB?.toFixed(1) ?? '').padStart(9)} ${String(r.threads).padStart(8)} ${(r.requestsPerSecond?.toFixed(0) ?? '').padStart(7)}  ${r.runsMiB.map((x) => x.toFixed(1)).join(' ')}`,
    );
    previous = r.rssMiB;
  }
  const regions = [...new Set(results.flatMap((r) => Object.keys(r.regionsMiB)))] as Region[];
  lines.push('', 'where the RSS sits (smaps, MiB): ' + regions.join(' | '));
  for (const r of results) {
    const title = titleOf(r.step, idle);
    lines.push(`${title.padEnd(40)} ${regions.map((g) => (r.regionsMiB[g] ?? 0).toFixed(1).padStart(6)).join(' ')}`);
  }
  return lines.join('\n');
}

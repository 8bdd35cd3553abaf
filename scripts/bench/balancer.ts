// scripts/bench/balancer: HTTP throughput and tail latency through Tandem's balancer, against
// Debian's haproxy over the same three backends in the same run, and straight to one backend.
//
// Lab (test/netns/lab.ts): h1 = the router (Tandem holding VIP 198.51.100.100, and haproxy
// beside it), h2-h4 = backends (test/netns/balancer-backend.ts, one Node process each), h5 =
// the client running wrk. Targets, each measured with the same wrk settings, in turn:
//   direct       wrk -> h2:8080
//   relay-tcp    Tandem relay, tcp mode, VIP:80        haproxy-tcp   mode tcp, VIP:90
//   relay-http   Tandem relay, http mode, VIP:81       haproxy-http  mode http, VIP:91
//   redirect     Tandem redirect: nftables dnat VIP:82 over the pool's table (masquerade
//                towards the backends, which share the segment), kept by the balancer
// haproxy runs with one thread (nbthread 1), as Tandem's relay is one event loop. Reported:
// requests/s, p50/p99 latency, socket errors, the proxy's CPU per request (the kernel's for
// redirect is not counted), and the ratios relay/haproxy and redirect/direct. It reports and does not assert: exit 0 when it ran.

import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { Backend, Router, VIP } from '../../test/netns/balancer-lab.js';
import { Lab, netnsUnavailable } from '../../test/netns/lab.js';
import { Workdir } from '../../test/netns/peers.js';
import { BenchCommandLine } from './command-line.js';

const PROFILER = new URL('./balancer-profile.mjs', import.meta.url).href;

const USAGE = `usage: scripts/bench/balancer [--duration S] [--connections N] [--threads N] [--trials N] [--json FILE]

  --duration S      seconds per wrk run (default 5; at most 60)
  --connections N   wrk connections (default 32; at most 256)
  --threads N       wrk threads (default 2)
  --trials N        runs per target; the median is reported (default 3)
  --json FILE       also write every run as JSON
  --profile DIR     run the router under node --cpu-prof, writing its .cpuprofile into DIR`;

interface Options {
  duration: number;
  connections: number;
  threads: number;
  trials: number;
  json?: string;
  profile?: string;
}

interface WrkRun {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  socketErrors: number;
  non2xx: number;
  /** CPU time the proxy process used during the run, per request, in microseconds. */
  cpuUsPerRequest?: number;
}

interface Target {
  id: string;
  url: string;
  /** PID whose CPU time is charged to this target. */
  pid?: () => number | undefined;
}

const commandLine = new BenchCommandLine('balancer bench', USAGE);
const fail = (message: string): never => commandLine.fail(message);

function parseOptions(): Options | undefined {
  const values = commandLine.parse({
    duration: { type: 'string' },
    connections: { type: 'string' },
    threads: { type: 'string' },
    trials: { type: 'string' },
    json: { type: 'string' },
    profile: { type: 'string' },
  });
  if (!values) return undefined;
  const int = (text: string | undefined, fallback: number, max: number, what: string) => commandLine.integer(what, text, fallback, 1, max);
  return {
    duration: int(values.duration, 5, 60, 'duration'),
    connections: int(values.connections, 32, 256, 'connections'),
    threads: int(values.threads, 2, 16, 'threads'),
    trials: int(values.trials, 3, 20, 'trials'),
    ...(values.json ? { json: values.json } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
  };
}

/** wrk prints latencies as 512.00us, 1.25ms, 2.01s. */
function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) return NaN;
  const value = Number(match[1]);
  return { us: value / 1000, ms: value, s: value * 1000, m: value * 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
}

export function parseWrk(output: string): Omit<WrkRun, 'cpuUsPerRequest'> {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s+50%\s+(\S+)/m.exec(output);
  const p99 = /^\s+99%\s+(\S+)/m.exec(output);
  const total = /(\d+) requests in/.exec(output);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  if (!rps || !p50 || !p99 || !total) throw new Error(`cannot read wrk's output:\n${output}`);
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: toMs(p50[1]!),
    p99Ms: toMs(p99[1]!),
    requests: Number(total[1]),
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

/** utime + stime of a process, in ms (clock ticks are 100 Hz on Linux). */
async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

async function wrk(lab: Lab, options: Options, target: Target, seconds: number): Promise<WrkRun> {
  const pid = target.pid?.();
  const before = await cpuMs(pid);
  const args = ['-t', String(options.threads), '-c', String(options.connections), '-d', `${seconds}s`, '--latency', '--timeout', '5s', target.url];
  const { stdout } = await lab.exec(5, 'wrk', args, (seconds + 20) * 1000);
  const after = await cpuMs(pid);
  const run = parseWrk(stdout);
  if (before !== undefined && after !== undefined && run.requests > 0) {
    return { ...run, cpuUsPerRequest: Math.round(((after - before) * 1000) / run.requests) };
  }
  return run;
}

function haproxyConfig(backends: string[]): string {
  const servers = backends.map((address, i) => `  server b${i + 2} ${address}:8080`).join('\n');
  return `global
  nbthread 1
  maxconn 4000
defaults
  timeout connect 3s
  timeout client 300s
  timeout server 300s
frontend tcp_in
  mode tcp
  bind ${VIP}:90
  default_backend tcp_pool
backend tcp_pool
  mode tcp
  balance roundrobin
${servers}
frontend http_in
  mode http
  bind ${VIP}:91
  option forwardfor
  default_backend http_pool
backend http_pool
  mode http
  balance roundrobin
${servers}
`;
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmt(value: number | undefined, digits = 0): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (!options) return 0;
  const why = netnsUnavailable();
  if (why) {
    console.error(`balancer bench: ${why}`);
    return 1;
  }
  const lab = await Lab.create({ hosts: 5 });
  const work = await Workdir.create();
  try {
    const backendAddresses = [2, 3, 4].map((h) => lab.host(h).ipv4);
    await Promise.all([2, 3, 4].map((h) => Backend.start(lab, h)));
    const hosts = backendAddresses.map((address) => ({ address }));
    const check = { type: 'http', path: '/health', intervalSeconds: 2, timeoutSeconds: 1 };
    await lab.exec(1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']);
    // --profile: the router alone is sampled (the backends started before this; NODE_OPTIONS
    // refuses --cpu-prof, so a preload does what it does); written when it exits at the end.
    const savedNodeOptions = process.env.NODE_OPTIONS;
    if (options.profile) {
      process.env.NODE_OPTIONS = `${savedNodeOptions ?? ''} --import ${PROFILER}`.trim();
      process.env.TANDEM_CPU_PROFILE_DIR = options.profile;
    }
    const routerStarting = Router.start(lab, 1, work, {
      pools: [
        { name: 'tcp', port: 8080, hosts, check, relay: { listen: `${VIP}:80`, mode: 'tcp', maxConnections: 20000 } },
        { name: 'http', port: 8080, hosts, check, relay: { listen: `${VIP}:81`, mode: 'http', maxConnections: 20000 } },
        { name: 'redirect', port: 8080, hosts, check, redirect: { table: 'web' } },
      ],
      firewall: {
        zones: { lan: { interfaces: ['eth0'], addresses: [`${lab.host(1).ipv4}/24`] } },
        rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
        nat: [{ on: 'lan', to: { table: 'web' }, natTo: { interface: true } }],
        forwards: [{ name: 'web', on: 'lan', proto: 'tcp', to: { vip: 42, port: 82 }, rdrTo: { table: 'web', port: 8080 } }],
      },
    });
    const router = await routerStarting.finally(() => {
      if (savedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = savedNodeOptions;
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const s = await router.status();
      const ready = s.pools.every((p) => p.state === 'up' && (p.relay ? p.relay.listening : p.redirect?.members.length === 3));
      if (s.carp[0]?.state === 'MASTER' && ready) break;
      if (Date.now() > deadline) throw new Error('the router did not become MASTER with every pool up');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const haproxyCfg = work.file('haproxy.cfg');
    await writeFile(haproxyCfg, haproxyConfig(backendAddresses));
    const haproxy = lab.spawn(1, 'haproxy', ['-db', '-f', haproxyCfg]);
    let haproxyOutput = '';
    haproxy.stderr?.on('data', (chunk: Buffer) => (haproxyOutput += chunk.toString()));
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${haproxyOutput}`);
    const haproxyVersion = (await lab.exec(1, 'haproxy', ['-v'])).stdout.split('\n')[0];

    const targets: Target[] = [
      { id: 'direct', url: `http://${backendAddresses[0]}:8080/` },
      { id: 'relay-tcp', url: `http://${VIP}:80/`, pid: () => router.child.pid },
      { id: 'haproxy-tcp', url: `http://${VIP}:90/`, pid: () => haproxy.pid },
      { id: 'relay-http', url: `http://${VIP}:81/`, pid: () => router.child.pid },
      { id: 'haproxy-http', url: `http://${VIP}:91/`, pid: () => haproxy.pid },
      { id: 'redirect', url: `http://${VIP}:82/` },
    ];
    const runs = new Map<string, WrkRun[]>(targets.map((t) => [t.id, []]));
    console.log(
      `balancer bench: wrk -t${options.threads} -c${options.connections} -d${options.duration}s, ${options.trials} trial(s) per target, ` +
        `${cpus().length} CPU(s), Node ${process.version}, ${haproxyVersion}`,
    );
    for (const target of targets) await wrk(lab, options, target, 1); // warm-up: JIT, keep-alive pools
    for (let trial = 1; trial <= options.trials; trial++) {
      // Interleaved, so a slow moment of the machine falls on every target alike.
      for (const target of targets) {
        const run = await wrk(lab, options, target, options.duration);
        runs.get(target.id)!.push(run);
        console.log(`  trial ${trial} ${target.id.padEnd(13)} ${fmt(run.requestsPerSecond).padStart(7)} req/s  p99 ${fmt(run.p99Ms, 2)} ms`);
      }
    }
    const summary = targets.map((t) => {
      const r = runs.get(t.id)!;
      return {
        id: t.id,
        rps: median(r.map((x) => x.requestsPerSecond)),
        p50: median(r.map((x) => x.p50Ms)),
        p99: median(r.map((x) => x.p99Ms)),
        errors: r.reduce((sum, x) => sum + x.socketErrors + x.non2xx, 0),
        cpu: median(r.map((x) => x.cpuUsPerRequest ?? NaN)),
      };
    });
    const by = (id: string) => summary.find((s) => s.id === id)!;
    console.log('\n| target | req/s | p50 ms | p99 ms | errors | proxy CPU µs/req |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const s of summary) console.log(`| ${s.id} | ${fmt(s.rps)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${s.errors} | ${fmt(s.cpu)} |`);
    const ratio = (a: string, b: string) => `${(by(a).rps / by(b).rps).toFixed(2)} (p99 ${(by(a).p99 / by(b).p99).toFixed(2)})`;
    console.log(`\nrelay/haproxy, tcp mode:  req/s ${ratio('relay-tcp', 'haproxy-tcp')}`);
    console.log(`relay/haproxy, http mode: req/s ${ratio('relay-http', 'haproxy-http')}`);
    console.log(`relay-tcp/direct:         req/s ${ratio('relay-tcp', 'direct')}`);
    console.log(`redirect/direct:          req/s ${ratio('redirect', 'direct')}`);
    if (options.json) {
      await writeFile(options.json, JSON.stringify({ options, haproxyVersion, runs: Object.fromEntries(runs), summary }, null, 2));
      console.log(`wrote ${options.json}`);
    }
    await router.terminate();
    return 0;
  } finally {
    await lab.dispose();
    await work.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`balancer bench: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);

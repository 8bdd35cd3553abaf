// scripts/bench/telemetry: what telemetry costs a CARP pair, in one run, in throwaway lab
// namespaces (test/netns/lab.ts), and how fast a transition reaches a subscriber.
//
// Three Tandem pairs (the built bundle) run at the same time on one segment, so the machine's
// load (other labs share its cores) falls on all alike: `off` (no telemetry section), `on` (MQTT
// at the defaults: metrics every 60 s, inventory worker at start) and `busy` (metrics every 5 s,
// /metrics scraped every second). Over one window each pair gets: the master's advert
// inter-arrival at its backup (tcpdump there, nanosecond stamps), both daemons' CPU time
// (/proc/PID/stat) and RSS (/proc/PID/status), false failovers. Then forced failovers of the
// `on` pair give the latency from a CARP transition (its `since`/`time`) to a subscriber's
// receipt (mosquitto_sub -F %U next to Debian's mosquitto on h7). Ratios are against `off`.
//
// It reports and does not assert: exit 0 when it ran, 1 on an error, 2 on bad arguments.

import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, Lab, netnsUnavailable } from '../../test/netns/lab.js';
import { BUNDLE, Workdir } from '../../test/netns/peers.js';
import { Mosquitto, TelemetryNode } from '../../test/services/telemetry-lab.js';
import { Capture } from './failover-lib/capture.js';
import { carpIntervalMs, carpMasterDownMs } from './failover-lib/configs.js';
import { max, percentile } from './failover-lib/stats.js';
import { measureLatency } from './telemetry-lib/latency.js';
import { BenchCommandLine } from './command-line.js';
import { report, type Options, type PhaseId, type PhaseResult } from './telemetry-lib/report.js';

const USAGE = `usage: scripts/bench/telemetry [--seconds N] [--failovers N] [--advskew M/B] [--json FILE]

  --seconds N     the measurement window (default 60: one metrics publish at the default rate)
  --failovers N   forced failovers for the transition → subscriber latency (default 20)
  --advskew M/B   master/backup advskew at advbase 0 (default 8/16: adverts every 31 ms, so a
                  window holds thousands of inter-arrival gaps)
  --json FILE     also write every measurement as JSON`;

const commandLine = new BenchCommandLine('telemetry bench', USAGE);
const fail = (message: string): never => commandLine.fail(message);

function parseOptions(): Options | undefined {
  const values = commandLine.parse({
    seconds: { type: 'string' },
    failovers: { type: 'string' },
    advskew: { type: 'string' },
    json: { type: 'string' },
  });
  if (!values) return undefined;
  const integer = commandLine.integer.bind(commandLine);
  const skews = (values.advskew ?? '8/16').split('/').map(Number);
  if (skews.length !== 2 || skews.some((s) => !Number.isInteger(s) || s < 1 || s > 254) || skews[0]! >= skews[1]!) {
    fail('--advskew must be M/B with 1 <= M < B <= 254');
  }
  return {
    seconds: integer('seconds', values.seconds, 60, 10, 600),
    failovers: integer('failovers', values.failovers, 20, 0, 200),
    masterSkew: skews[0]!,
    backupSkew: skews[1]!,
    json: values.json,
  };
}

/** utime + stime (proc(5) fields 14 and 15, in USER_HZ = 100 ticks) of a process, in ms. */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function memoryOf(pid: number): Promise<{ rssKiB: number; hwmKiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

function pidOf(child: ChildProcess): number {
  // `ip netns exec` execs the command in place, so the child's PID is node's.
  if (!child.pid) throw new Error('daemon has no pid');
  return child.pid;
}

interface Setup {
  lab: Lab;
  work: Workdir;
  brokerUrl: string;
  options: Options;
}

interface RunningPair {
  phase: PhaseId;
  master: TelemetryNode;
  backup: TelemetryNode;
  masterIp: string;
  backupHost: number;
}

/** Hosts per phase: each pair its own two lab hosts, its own vhid and VIP, on one segment; h7 is the broker. */
const LAYOUT: Record<PhaseId, { master: number; backup: number; vhid: number; vip: string }> = {
  off: { master: 1, backup: 2, vhid: 41, vip: '198.51.100.101/24' },
  on: { master: 3, backup: 4, vhid: 42, vip: '198.51.100.100/24' },
  busy: { master: 5, backup: 6, vhid: 43, vip: '198.51.100.102/24' },
};
const BROKER_HOST = 7;
const PROMETHEUS_PORT = 9120;

function telemetryFor(phase: PhaseId, setup: Setup): Record<string, unknown> | undefined {
  const masterIp = setup.lab.host(LAYOUT[phase].master).ipv4;
  if (phase === 'off') return undefined;
  if (phase === 'on') return { mqtt: { url: setup.brokerUrl } };
  return { mqtt: { url: setup.brokerUrl }, metricsIntervalSeconds: 5, prometheus: { listen: `${masterIp}:${PROMETHEUS_PORT}` } };
}

async function startPair(phase: PhaseId, setup: Setup, nodes: TelemetryNode[]): Promise<RunningPair> {
  const { lab, work, options } = setup;
  const layout = LAYOUT[phase];
  const telemetry = telemetryFor(phase, setup) as Record<string, unknown>;
  const launch = async (host: number, name: string, advskew: number) => {
    const node = await TelemetryNode.launchIn({ lab, host }, work, {
      name: `${name}-${phase}`,
      telemetry,
      carp: [{ vhid: layout.vhid, addresses: [layout.vip], advbase: 0, advskew }],
    });
    nodes.push(node);
    return node;
  };
  const master = await launch(layout.master, 'fw-a', options.masterSkew);
  await eventually(`${phase}: master`, async () => ((await master.status()).carp[0]?.state === 'MASTER' ? true : undefined), 15_000);
  const backup = await launch(layout.backup, 'fw-b', options.backupSkew);
  await eventually(`${phase}: backup hearing adverts`, async () => {
    const v = (await backup.status()).carp[0];
    return v?.state === 'BACKUP' && v.counters.received >= 20 ? true : undefined;
  }, 15_000);
  return { phase, master, backup, masterIp: lab.host(layout.master).ipv4, backupHost: layout.backup };
}

/**
 * The three pairs run at the same time, so the machine's load (other labs share its cores)
 * falls on all of them alike; each is measured over the same window.
 */
async function measureAll(setup: Setup, print: (line?: string) => void): Promise<PhaseResult[]> {
  const { lab, work, options } = setup;
  const interval = carpIntervalMs(0, options.masterSkew);
  const masterDown = carpMasterDownMs(0, options.backupSkew);
  const nodes: TelemetryNode[] = [];
  try {
    const pairs: RunningPair[] = [];
    for (const phase of ['off', 'on', 'busy'] as const) pairs.push(await startPair(phase, setup, nodes));
    // Start-up (bundle compile, inventory worker, MQTT connect) is not the steady cost measured.
    await sleep(3000);
    print(`  three pairs up; measuring ${options.seconds} s`);
    const pids = pairs.map((p) => ({ master: pidOf(p.master.child), backup: pidOf(p.backup.child) }));
    const captures = await Promise.all(
      pairs.map((p) => Capture.start(lab, p.backupHost, work.file(`adverts-${p.phase}.pcap`), `ip proto 112 and src host ${p.masterIp}`, 64)),
    );
    const cpu0 = await Promise.all(pids.map(async (p) => ({ master: await cpuMsOf(p.master), backup: await cpuMsOf(p.backup) })));
    const sent0 = await Promise.all(pairs.map(async (p) => (await p.backup.status()).carp[0]!.counters.sent));
    const started = Date.now();
    const end = started + options.seconds * 1000;
    const scrapes = { ok: 0, failed: 0 };
    const busyIp = lab.host(LAYOUT.busy.master).ipv4;
    while (Date.now() < end) {
      await sleep(Math.min(1000, end - Date.now()));
      await lab.exec(BROKER_HOST, 'curl', ['-sf', '-o', '/dev/null', `http://${busyIp}:${PROMETHEUS_PORT}/metrics`], 3000).then(
        () => scrapes.ok++,
        () => scrapes.failed++,
      );
    }
    const seconds = (Date.now() - started) / 1000;
    const cpu1 = await Promise.all(pids.map(async (p) => ({ master: await cpuMsOf(p.master), backup: await cpuMsOf(p.backup) })));
    const mem = await Promise.all(pids.map(async (p) => ({ master: await memoryOf(p.master), backup: await memoryOf(p.backup) })));
    const frames = await Promise.all(captures.map((c) => c.stop()));
    const results: PhaseResult[] = [];
    for (const [i, pair] of pairs.entries()) {
      const adverts = frames[i]!.filter((f) => f.kind === 'advert' && f.srcIp === pair.masterIp).map((f) => f.t);
      const gaps: number[] = [];
      for (let k = 1; k < adverts.length; k++) gaps.push(adverts[k]! - adverts[k - 1]!);
      const jitter = gaps.map((g) => Math.abs(g - interval));
      const backupVhost = (await pair.backup.status()).carp[0]!;
      const masterStatus = await pair.master.status();
      results.push({
        phase: pair.phase,
        seconds,
        gaps: {
          count: gaps.length,
          p50: percentile(gaps, 50),
          p99: percentile(gaps, 99),
          p999: percentile(gaps, 99.9),
          max: max(gaps),
          jitterP50: percentile(jitter, 50),
          jitterP99: percentile(jitter, 99),
          overMasterDown: gaps.filter((g) => g > masterDown).length,
        },
        master: { cpuMs: cpu1[i]!.master - cpu0[i]!.master, ...mem[i]!.master },
        backup: { cpuMs: cpu1[i]!.backup - cpu0[i]!.backup, ...mem[i]!.backup },
        // The backup sends adverts only as MASTER.
        falseFailovers: backupVhost.counters.sent > sent0[i]! || backupVhost.state !== 'BACKUP' ? 1 : 0,
        ...(masterStatus.telemetry ? { metricsPublished: masterStatus.telemetry.published.metrics } : {}),
        ...(pair.phase === 'busy' ? { scrapes } : {}),
      });
    }
    const on = pairs.find((p) => p.phase === 'on')!;
    if (options.failovers > 0) {
      print(`  ${options.failovers} failovers on the "on" pair`);
      results.find((r) => r.phase === 'on')!.latency = await measureLatency(lab, BROKER_HOST, on.master, on.backup, masterDown, options.failovers);
    }
    return results;
  } finally {
    await Promise.all(nodes.map((n) => Promise.race([n.terminate(), sleep(5000)])));
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.kill9();
  }
}

function preflight(): void {
  const reason = netnsUnavailable();
  if (reason) throw new Error(reason);
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`node scripts/build.mjs\` first`);
  for (const tool of ['tcpdump', 'mosquitto', 'mosquitto_sub', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is not installed`);
    }
  }
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (!options) return 0;
  preflight();
  const print = (line = '') => console.log(line);
  const started = Date.now();
  print('Tandem telemetry bench: the cost of telemetry to a CARP pair, and transition → subscriber latency');
  print(`node ${process.version}, kernel ${release()}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const lab = await Lab.create({ hosts: 7 });
  const work = await Workdir.create();
  let broker: Mosquitto | undefined;
  let results: PhaseResult[] = [];
  try {
    const brokerHost = lab.host(BROKER_HOST).ipv4;
    // set_tcp_nodelay as the README says: without it the broker holds small messages for Nagle.
    broker = await Mosquitto.start(work.file('broker'), [`listener 1883 ${brokerHost}`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true'], {
      lab,
      host: BROKER_HOST,
    });
    print(`pairs off (h1/h2), on (h3/h4: MQTT at the defaults), busy (h5/h6: metrics every 5 s, /metrics scraped every second), broker on h7`);
    results = await measureAll({ lab, work, brokerUrl: `mqtt://${brokerHost}:1883`, options }, print);
  } finally {
    await broker?.stop().catch(() => undefined);
    await lab.dispose().catch(() => undefined);
    await work.dispose().catch(() => undefined);
  }
  print();
  print(report(results, options));
  print(`(${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}; other labs on this machine share its ${cpus().length} cores)`);
  if (options.json) await writeFile(options.json, JSON.stringify({ options, results }, null, 2));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`telemetry bench: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);

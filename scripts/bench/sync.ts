// scripts/bench/sync: pair sync (issue 13). Connection part: for N tracked connections, the time
// from the master's death (kill -9 of its Tandem, whose conntrackd dies with it, plus its links
// cut) to the backup's kernel holding them all, the share of a sample of live TCP streams that
// survive, and the sync traffic at a steady rate of short connections. Lab: sync-lib/lab.ts.
//
// How the N connections are made cheaply: the client sends one UDP datagram per flow to distinct
// server ports (10000-59999, one source address per 50 000), forwarded and SNATed by the master
// like any flow; the routers' UDP timeouts are raised to 600 s so the unreplied entries stay, and
// the server drops them. conntrackd syncs them as it does TCP. The surviving share is measured on
// a sample of real TCP connections that get a 1-byte heartbeat from the server every second.
//
// It reports and does not assert: exit 0 when it ran, 1 on an error, 2 on bad arguments.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { BenchCommandLine } from './command-line.js';
import { FLOWS, Router, SERVER, SyncLab, sleep, until } from './sync-lib/lab.js';
import { parseConntrackStats } from '../../firmware/sync/conntrack-stats.js';

const USAGE = `usage: scripts/bench/sync [--sizes N,N,...] [--sample N] [--rate N] [--no-control] [--steady-rate N] [--steady-seconds N] [--json FILE]

  --sizes N,...       tracked connections per failover (default 1000,10000,100000)
  --sample N          live TCP streams checked for survival (default 200)
  --rate N            flows created per second on the master (default 20000)
  --no-control        skip the control run (the smallest N without sync, where nothing survives)
  --steady-rate N     short TCP connections per second for the sync-traffic figure (default 500;
                      0 skips it)
  --steady-seconds N  how long that rate is held (default 10)
  --json FILE         also write the measurements as JSON`;

const commandLine = new BenchCommandLine('sync', USAGE);

interface SizeResult {
  n: number;
  /** False for the control run: the same failover without sync.conntrack. */
  sync: boolean;
  /** The backup's conntrackd RSS with every flow in its external cache. */
  backupConntrackdKiB: number | undefined;
  createMs: number;
  /** From the last flow sent to the backup's external cache holding every flow. */
  replicateMs: number | undefined;
  /** Master's death to the backup's kernel holding them all; undefined when it never did. */
  deathToKernelMs: number | undefined;
  /** Master's death to the backup's CARP MASTER (detection: 3 x advbase + skew). */
  deathToMasterMs: number;
  commitStepMs: number | undefined;
  survived: number;
  sample: number;
}

interface SteadyResult {
  rate: number;
  seconds: number;
  connections: number;
  idleBytesPerSecond: number;
  bytesPerSecond: number;
  packetsPerSecond: number;
  bytesPerConnection: number;
}

function lines(child: ChildProcess, onLine: (value: Record<string, unknown>) => void): void {
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const line of parts) if (line.startsWith('{')) onLine(JSON.parse(line) as Record<string, unknown>);
  });
}

async function pair(lab: SyncLab, sync = true): Promise<{ r1: Router; r2: Router }> {
  for (const r of ['r1', 'r2'] as const) {
    // Unreplied UDP flows stay tracked for the run (per-namespace sysctls).
    await lab.exec(r, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_udp_timeout=600', 'net.netfilter.nf_conntrack_udp_timeout_stream=600']);
  }
  const r1 = await Router.start(lab, 'r1', { advskew: 0, sync });
  await until('r1 MASTER', async () => ((await r1.state(1)) === 'MASTER' && (await r1.state(2)) === 'MASTER' ? true : undefined), 10_000);
  const r2 = await Router.start(lab, 'r2', { advskew: 100, sync });
  await until('r2 BACKUP', async () => ((await r2.state(1)) === 'BACKUP' ? true : undefined), 10_000);
  for (const r of sync ? [r1, r2] : []) {
    const pid = await until(`${r.node} conntrackd`, async () => {
      const c = (await r.status()).sync?.conntrack;
      return c?.running && c.lastSteps?.done ? c.pid : undefined;
    }, 10_000);
    if (pid !== undefined) lab.pids.add(pid);
  }
  return { r1, r2 };
}

async function startServer(lab: SyncLab): Promise<void> {
  await lab.exec('srv', 'nft', ['add table inet sink; add chain inet sink input { type filter hook input priority filter; policy accept; udp dport 10000-59999 drop; }']);
  const server = lab.spawn('srv', process.execPath, [FLOWS, 'server', '5001', '5002']);
  await until('the server', async () => (server.stdout!.read() as Buffer | null)?.toString().includes('listening') || undefined, 5000, 50);
}

async function stats(lab: SyncLab, router: Router) {
  const result = await lab.exec(router.node, '/usr/sbin/conntrackd', ['-C', router.conntrackdConf, '-s']);
  return parseConntrackStats(result.stdout);
}

async function kernelCount(lab: SyncLab, node: 'r1' | 'r2'): Promise<number> {
  const result = await lab.exec(node, 'cat', ['/proc/sys/net/netfilter/nf_conntrack_count']);
  return Number(result.stdout.trim());
}

async function rssKiB(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

async function runSize(n: number, sample: number, rate: number, sync = true): Promise<SizeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-bench-sync-'));
  const lab = await SyncLab.create(dir);
  try {
    const sources = Array.from({ length: Math.ceil(n / 50_000) }, (_, i) => `198.51.100.${60 + i}`);
    for (const source of sources) await lab.exec('cl', 'ip', ['addr', 'add', `${source}/25`, 'dev', 'eth0']);
    const { r1, r2 } = await pair(lab, sync);
    await startServer(lab);

    const many = lab.spawn('cl', process.execPath, [FLOWS, 'many', SERVER, '5001', String(sample), '1000']);
    let report: Record<string, unknown> | undefined;
    let connected = 0;
    lines(many, (value) => {
      if (typeof value['connected'] === 'number') connected = value['connected'];
      if ('report' in value) report = value;
    });
    await until(`${sample} sample streams`, async () => (connected >= sample ? true : undefined), 30_000);

    const flood = await lab.exec('cl', process.execPath, [FLOWS, 'udpflood', SERVER, String(n), String(rate), sources.join(',')], 300_000);
    const floodEnd = Date.now();
    const createMs = (JSON.parse(flood.stdout.trim().split('\n').at(-1)!) as { ms: number }).ms;
    const master = await kernelCount(lab, 'r1');
    const want = n + sample;
    let replicateMs: number | undefined;
    let backupConntrackdKiB: number | undefined;
    if (sync) {
      await until(`r2's external cache to hold ${want}`, async () => ((await stats(lab, r2))!.external >= want ? true : undefined), 180_000, 200);
      replicateMs = Date.now() - floodEnd;
      backupConntrackdKiB = await rssKiB((await r2.status()).sync?.conntrack?.pid);
    }
    const backupBefore = await kernelCount(lab, 'r2');

    r1.kill9();
    const diedAt = Date.now();
    await lab.cut('r1');
    let masterAt = 0;
    let kernelAt: number | undefined;
    // Without sync the backup's kernel never gets them: 15 s after the death is enough to say so.
    await until('r2 to hold every flow in its kernel', async () => {
      if (!masterAt && (await r2.state(1)) === 'MASTER') masterAt = Date.now();
      return (await kernelCount(lab, 'r2')) >= backupBefore + want ? true : undefined;
    }, sync ? 120_000 : 15_000, 50).then(() => (kernelAt = Date.now()), (error: Error) => {
      if (sync) throw error;
    });
    if (!masterAt) masterAt = await until('r2 MASTER', async () => ((await r2.state(1)) === 'MASTER' ? Date.now() : undefined), 10_000);
    const steps = (await r2.status()).sync?.conntrack?.lastSteps;
    const commit = steps?.to === 'MASTER' ? steps.steps.find((s) => s.step === 'commit')?.ms : undefined;

    // Heartbeats come once a second; TCP resumes on its next retransmission after the takeover.
    await sleep(12_000);
    many.stdin!.write(`report ${masterAt}\n`);
    const answer = await until('the survival report', async () => report, 5000, 50);
    process.stderr.write(`  N=${n}: master kernel ${master} entries; r2 commit ${commit ?? '?'} ms\n`);
    return {
      n,
      sync,
      backupConntrackdKiB,
      createMs,
      replicateMs,
      deathToKernelMs: kernelAt === undefined ? undefined : kernelAt - diedAt,
      deathToMasterMs: masterAt - diedAt,
      commitStepMs: commit,
      survived: answer['after'] as number,
      sample: answer['count'] as number,
    };
  } finally {
    await lab.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

async function syncBytes(lab: SyncLab): Promise<{ bytes: number; packets: number }> {
  const read = async (name: string) => Number((await lab.exec('r1', 'cat', [`/sys/class/net/sync/statistics/${name}`])).stdout.trim());
  return { bytes: (await read('tx_bytes')) + (await read('rx_bytes')), packets: (await read('tx_packets')) + (await read('rx_packets')) };
}

async function runSteady(rate: number, seconds: number): Promise<SteadyResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-bench-sync-'));
  const lab = await SyncLab.create(dir);
  try {
    await pair(lab);
    await startServer(lab);
    const idleStart = await syncBytes(lab);
    await sleep(5000);
    const idleEnd = await syncBytes(lab);
    const start = await syncBytes(lab);
    const churn = await lab.exec('cl', process.execPath, [FLOWS, 'churn', SERVER, '5001', String(rate), String(seconds)], (seconds + 30) * 1000);
    const end = await syncBytes(lab);
    const result = JSON.parse(churn.stdout.trim().split('\n').at(-1)!) as { done: number; ms: number };
    // The churn's own window includes 2 s of draining after the last connection.
    const windowSeconds = result.ms / 1000;
    const idleBytesPerSecond = (idleEnd.bytes - idleStart.bytes) / 5;
    const bytes = end.bytes - start.bytes;
    return {
      rate,
      seconds,
      connections: result.done,
      idleBytesPerSecond: Math.round(idleBytesPerSecond),
      bytesPerSecond: Math.round(bytes / windowSeconds),
      packetsPerSecond: Math.round((end.packets - start.packets) / windowSeconds),
      bytesPerConnection: Math.round((bytes - idleBytesPerSecond * windowSeconds) / Math.max(1, result.done)),
    };
  } finally {
    await lab.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padStart(widths[i]!)).join(' | ') + ' |';
  return [line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const values = commandLine.parse({
    sizes: { type: 'string' },
    sample: { type: 'string' },
    rate: { type: 'string' },
    'steady-rate': { type: 'string' },
    'steady-seconds': { type: 'string' },
    json: { type: 'string' },
    'no-control': { type: 'boolean' },
  });
  if (!values) return;
  if (process.getuid?.() !== 0) commandLine.fail('needs root (network namespaces)', 1);
  const sizes = (values.sizes ?? '1000,10000,100000').split(',').map((text) => commandLine.integer('sizes', text, 0, 1, 150_000));
  const sample = commandLine.integer('sample', values.sample, 200, 1, 2000);
  const rate = commandLine.integer('rate', values.rate, 20_000, 100, 200_000);
  const steadyRate = commandLine.integer('steady-rate', values['steady-rate'], 500, 0, 5000);
  const steadySeconds = commandLine.integer('steady-seconds', values['steady-seconds'], 10, 1, 120);

  const results: SizeResult[] = [];
  for (const n of sizes) {
    process.stderr.write(`failover with ${n} tracked connections + ${sample} live streams...\n`);
    results.push(await runSize(n, sample, rate));
  }
  if (!values['no-control']) {
    const n = Math.min(...sizes);
    process.stderr.write(`control: the same failover with ${n} connections and no sync...\n`);
    results.push(await runSize(n, sample, rate, false));
  }
  console.log('\nConnection state through a failover (kill -9 of the master\'s Tandem + its links cut; advbase 1, backup advskew 100)\n');
  console.log(table(
    ['tracked N', 'sync', 'created in', 'on backup (external) after', 'backup conntrackd RSS', 'death -> backup MASTER', 'death -> all in backup kernel', 'commit (-c)', 'sample streams surviving'],
    results.map((r) => [
      String(r.n), r.sync ? 'conntrackd' : 'none', `${(r.createMs / 1000).toFixed(2)} s`, r.replicateMs === undefined ? '-' : `${(r.replicateMs / 1000).toFixed(2)} s`,
      r.backupConntrackdKiB === undefined ? '-' : `${(r.backupConntrackdKiB / 1024).toFixed(1)} MiB`, `${(r.deathToMasterMs / 1000).toFixed(2)} s`,
      r.deathToKernelMs === undefined ? 'never (15 s)' : `${(r.deathToKernelMs / 1000).toFixed(2)} s`, r.commitStepMs === undefined ? '-' : `${r.commitStepMs} ms`,
      `${r.survived}/${r.sample} (${((100 * r.survived) / r.sample).toFixed(0)} %)`,
    ]),
  ));
  let steady: SteadyResult | undefined;
  if (steadyRate > 0) {
    process.stderr.write(`sync traffic at ${steadyRate} connections/s for ${steadySeconds} s...\n`);
    steady = await runSteady(steadyRate, steadySeconds);
    console.log('\nSync traffic on the sync link (both directions, r1\'s veth) while short TCP connections open and close\n');
    console.log(table(
      ['rate', 'connections', 'idle', 'at that rate', 'packets', 'per connection'],
      [[`${steady.rate}/s`, String(steady.connections), `${steady.idleBytesPerSecond} B/s`, `${(steady.bytesPerSecond / 1024).toFixed(1)} KiB/s`, `${steady.packetsPerSecond}/s`, `${steady.bytesPerConnection} B`]],
    ));
  }
  if (values.json) await writeFile(values.json, JSON.stringify({ sizes: results, steady }, null, 2) + '\n');
}

main().catch((error: Error) => {
  console.error(`sync: ${error.stack ?? error.message}`);
  process.exit(1);
});

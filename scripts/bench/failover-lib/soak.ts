// The soak: a Tandem pair at a sub-second setting with every core kept busy by spawned busy
// loops, for a bounded time. It counts the backup's transitions to MASTER (false failovers;
// there must be none), measures the gaps between the master's adverts on the wire and how late
// a Node timer fires under the same load (with the time of every stall over 10 ms, to line up
// with the false failovers), then fails the master over while still loaded.

import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lab } from '../../../test/netns/lab.js';
import { Workdir } from '../../../test/netns/peers.js';
import { Capture } from './capture.js';
import type { BenchConfig } from './configs.js';
import { measureTakeoverCosts, type TakeoverCosts } from './costs.js';
import { CpuLoad, TimerProbe, type TimerLateness } from './load.js';
import { startPair, type Pair } from './pair.js';
import { max, percentile } from './stats.js';
import { measureFailover, type TrialResult } from './trial.js';

export interface AdvertGaps {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Gaps longer than the backup's master-down timeout: each one is a failover a backup with perfect timers would make. */
  overMasterDown: number;
  /** Gaps longer than half the master-down timeout. */
  overHalf: number;
  /** [wall-clock ms of the gap's start, its length] for the longest gaps over half the master-down. */
  longest: [number, number][];
}

export interface CpuShare {
  user: number;
  system: number;
  idle: number;
  steal: number;
  /** /proc/pressure/cpu "some" share of the soak, %. */
  pressure?: number;
}

export interface SoakResult {
  config: string;
  seconds: number;
  loadWorkers: number;
  /** Wall-clock ms when the load processes were spawned: their start-up is the soak's roughest moment. */
  loadStartedAt?: number;
  /** Backup transitions to MASTER during the soak: false failovers. */
  falseFailovers: number;
  /** Wall-clock ms of each, from the backup's log (Tandem). */
  falseFailoverTimes?: number[];
  /** Adverts the backup sent during the soak (it only sends as MASTER). */
  backupAdverts: number;
  gaps?: AdvertGaps;
  timers?: TimerLateness;
  cpu?: CpuShare;
  /** Once-a-second checks that found the master not advertising at its rate, a state off, or no answer. */
  anomalies?: string[];
  /** Seconds in which the master did not answer a status request within 2 s (its event loop held up). */
  masterSilentSeconds?: number;
  /** When the master first stopped answering, if it did. */
  masterSilentFrom?: number;
  /** False failovers that began while the master was not answering (±2 s). */
  failoversWhileSilent?: number;
  /** Notable lines from the daemons' logs during the soak: state changes, warnings, errors. */
  events?: { master: string[]; backup: string[] };
  /** The takeover path's pieces, measured under the same load. */
  costs?: TakeoverCosts;
  failover?: Omit<TrialResult, 'config' | 'trial'>;
  error?: string;
}

async function cpuTicks(): Promise<number[]> {
  const text = await readFile('/proc/stat', 'utf8');
  return text.split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
}

async function pressureTotalUs(): Promise<number | undefined> {
  const text = await readFile('/proc/pressure/cpu', 'utf8').catch(() => '');
  const m = /^some .*total=(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

const clock = (t: number) => new Date(t).toISOString().slice(11, 23);

export async function runSoak(config: BenchConfig, seconds: number, log: (line: string) => void): Promise<SoakResult> {
  const lab = await Lab.create({ hosts: 3 });
  const work = await Workdir.create();
  let pair: Pair | undefined;
  let load: CpuLoad | undefined;
  let probe: TimerProbe | undefined;
  const result: SoakResult = { config: config.id, seconds, loadWorkers: 0, falseFailovers: 0, backupAdverts: 0 };
  try {
    pair = await startPair(config, lab, work);
    const capture = await Capture.start(lab, 3, work.file('soak.pcap'), 'ip proto 112', 64);
    // The load outlives the soak by the failover at its end, and stops by itself after that.
    result.loadStartedAt = Date.now();
    load = CpuLoad.start(lab, 3, seconds + 120);
    result.loadWorkers = load.count;
    probe = TimerProbe.start(lab, 3, config.intervalMs, seconds);
    const before = await pair.backupMasterTransitions();
    const ticks0 = await cpuTicks();
    const pressure0 = await pressureTotalUs();
    const start = Date.now();
    const end = start + seconds * 1000;
    let nextReport = start + 60_000;
    let last = await pair.counters?.().catch(() => undefined);
    const anomalies: { t: number; text: string }[] = [];
    const silent: [number, number][] = [];
    while (Date.now() < end) {
      await sleep(Math.min(1000, Math.max(0, end - Date.now())));
      // Once a second: did the master keep advertising, is the backup still BACKUP?
      const t = Date.now();
      const now = await pair.counters?.().catch((error: Error) => {
        anomalies.push({ t, text: `no status: ${error.message.replace(/ on \/\S+/, '')}` });
        silent.push([t, Date.now()]);
        return undefined;
      });
      if (now && last) {
        const sent = now.master.sent - last.master.sent;
        const heard = now.backup.received - last.backup.received;
        const slow = sent < 500 / config.intervalMs;
        if (now.master.state !== 'MASTER' || now.backup.state !== 'BACKUP' || slow || heard < sent * 0.9) {
          anomalies.push({
            t,
            text: `master ${now.master.state} sent +${sent} (demote ${now.master.demote}), backup ${now.backup.state} heard +${heard}`,
          });
        }
      }
      if (now) last = now;
      if (Date.now() >= nextReport) {
        nextReport += 60_000;
        log(`    soak: ${Math.round((Date.now() - start) / 1000)} s of ${seconds} s, false failovers so far: ${(await pair.backupMasterTransitions()) - before}`);
      }
    }
    const ticks1 = await cpuTicks();
    const pressure1 = await pressureTotalUs();
    const d = ticks1.map((v, i) => v - (ticks0[i] ?? 0));
    const total = d.reduce((a, b) => a + b, 0) || 1;
    const share = (i: number) => (100 * (d[i] ?? 0)) / total;
    result.cpu = {
      user: share(0) + share(1),
      system: share(2) + share(5) + share(6),
      idle: share(3) + share(4),
      steal: share(7),
      pressure:
        pressure0 !== undefined && pressure1 !== undefined ? (100 * (pressure1 - pressure0)) / ((Date.now() - start) * 1000) : undefined,
    };
    result.anomalies = compact(anomalies);
    result.falseFailovers = (await pair.backupMasterTransitions()) - before;
    const logs = pair.logs();
    result.events = { master: notable(logs.master), backup: notable(logs.backup) };
    result.falseFailoverTimes = takeovers(logs.backup).filter((t) => t >= start - 1000);
    if (silent.length) {
      result.masterSilentSeconds = silent.reduce((sum, [a, b]) => sum + (b - a) / 1000, 0);
      result.masterSilentFrom = silent[0]![0];
      // A status request goes unanswered from before the check began: widen each window.
      result.failoversWhileSilent = result.falseFailoverTimes.filter((t) => silent.some(([a, b]) => t >= a - 2000 && t <= b + 2000)).length;
    }
    result.timers = await probe.result(15_000);
    const frames = await capture.stop();
    const h1 = lab.host(1).ipv4;
    const h2 = lab.host(2).ipv4;
    const adverts = frames.filter((f) => f.kind === 'advert' && f.srcIp === h1).map((f) => f.t);
    result.backupAdverts = frames.filter((f) => f.kind === 'advert' && f.srcIp === h2).length;
    const gaps: [number, number][] = [];
    for (let i = 1; i < adverts.length; i++) gaps.push([adverts[i - 1]!, adverts[i]! - adverts[i - 1]!]);
    if (gaps.length) {
      const lengths = gaps.map((g) => g[1]);
      result.gaps = {
        count: gaps.length,
        p50: percentile(lengths, 50),
        p99: percentile(lengths, 99),
        p999: percentile(lengths, 99.9),
        max: max(lengths),
        overMasterDown: lengths.filter((g) => g > config.masterDownMs).length,
        overHalf: lengths.filter((g) => g > config.masterDownMs / 2).length,
        longest: gaps
          .filter((g) => g[1] > config.masterDownMs / 2)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 20)
          .sort((a, b) => a[0] - b[0]),
      };
    }
    result.costs = await measureTakeoverCosts(lab, 3).catch(() => undefined);
    // The failover under load only means something from a healthy MASTER/BACKUP pair.
    const healthy = await waitHealthy(pair, 5000);
    if (healthy !== true) {
      result.failover = { error: `skipped: the pair is not MASTER/BACKUP after the soak (${healthy})` };
    } else {
      log('    soak: failing the master over, still under load');
      result.failover = await measureFailover(lab, pair, config, work);
    }
    return result;
  } catch (error) {
    result.error = (error as Error).message;
    return result;
  } finally {
    probe?.kill();
    await load?.stop().catch(() => undefined);
    await pair?.stop().catch(() => undefined);
    await lab.dispose().catch(() => undefined);
    await work.dispose().catch(() => undefined);
  }
}

async function waitHealthy(pair: Pair, timeoutMs: number): Promise<true | string> {
  const deadline = Date.now() + timeoutMs;
  let why = 'no status';
  while (Date.now() < deadline) {
    const c = await pair.counters?.().catch((error: Error) => {
      why = error.message.replace(/ on \/\S+/, '');
      return undefined;
    });
    if (!pair.counters) return true;
    if (c) {
      if (c.master.state === 'MASTER' && c.backup.state === 'BACKUP') return true;
      why = `master ${c.master.state}, backup ${c.backup.state}`;
    }
    await sleep(250);
  }
  return why;
}

/** Runs of the same anomaly in consecutive checks become one line with its time span. */
function compact(anomalies: { t: number; text: string }[]): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < anomalies.length) {
    let j = i;
    const kind = anomalies[i]!.text.split(' ')[0];
    while (j + 1 < anomalies.length && anomalies[j + 1]!.text.split(' ')[0] === kind && anomalies[j + 1]!.t - anomalies[j]!.t < 4000) j++;
    const a = anomalies[i]!;
    out.push(j === i ? `${clock(a.t)} ${a.text}` : `${clock(a.t)}–${clock(anomalies[j]!.t)} (${j - i + 1} checks) ${a.text}`);
    i = j + 1;
  }
  return out;
}

/** Wall-clock times of "BACKUP -> MASTER" in a Tandem JSON log. */
function takeovers(output: string): number[] {
  const times: number[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('BACKUP -> MASTER')) continue;
    try {
      const entry = JSON.parse(line) as { time?: string };
      if (entry.time) times.push(Date.parse(entry.time));
    } catch {
      // not JSON
    }
  }
  return times;
}

/** State changes, demotions, warnings and errors from a Tandem JSON log, compacted. */
function notable(output: string): string[] {
  const lines: string[] = [];
  for (const line of output.split('\n')) {
    let entry: { time?: string; level?: string; msg?: string; reason?: string; [k: string]: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const msg = entry.msg ?? '';
    if (entry.level === 'warn' || entry.level === 'error' || / -> |^demote |^link /.test(msg)) {
      lines.push(`${entry.time?.slice(11, 23) ?? ''} ${entry.level} ${msg}${entry.reason ? ` (${entry.reason})` : ''}`);
    }
  }
  return lines;
}

// One failover as a client sees it: h3 pings the VIP every 5 ms while h1 (master) and h2
// (backup) run; h1's cable is cut and its daemon SIGKILLed at once; the outage is the longest
// gap between consecutive replies. A capture on h3 splits the outage into its parts.

import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, Lab } from '../../../test/netns/lab.js';
import { Workdir, neighbourMac } from '../../../test/netns/peers.js';
import { Capture } from './capture.js';
import type { BenchConfig } from './configs.js';
import { startPair, type Pair } from './pair.js';
import type { Frame } from './pcap.js';
import { Pinger, longestGap } from './ping.js';

export const VIP = '198.51.100.100';
export const PING_INTERVAL_MS = 5;

/** Where the client-visible outage went, from the capture on h3 (all in ms). */
export interface Wire {
  /** From h1's last advert to the moment its service stopped (its last echo reply). */
  phaseMs: number;
  /** The formula's outage for this phase: master-down − phase. */
  expectedMs: number;
  /** h1's last echo reply → h2's first echo reply. */
  outageMs?: number;
  /** Outage beyond the formula: h2's first reply − (h1's last advert + master-down). */
  excessMs?: number;
  /** h2's first advert − (h1's last advert + master-down): timer lateness and receive path. */
  detectLateMs?: number;
  /** The backup's own log of its takeover − (h1's last advert + master-down). */
  timerLateMs?: number;
  /** Logged takeover → h2's first advert on the wire. */
  logToAdvertMs?: number;
  /** h2's first advert → its first gratuitous ARP for the VIP. */
  advertToGarpMs?: number;
  /** h2's first gratuitous ARP → its first echo reply to the client. */
  garpToReplyMs?: number;
  /** Gratuitous ARPs h2 sent for the VIP in the first second of its mastership. */
  garps: number;
  /** Longest gap between consecutive echo replies after the cut (any sender). */
  replyGapMs?: number;
  /** Longest gap between the client's echo requests around the outage: 5 ms when on schedule. */
  requestGapMs?: number;
}

export interface TrialResult {
  config: string;
  trial: number;
  /**
   * The outage: the longest gap between consecutive echo replies across the failure, as they
   * arrived at the client's interface (capture timestamps); the pinger's own count otherwise.
   */
  outageMs?: number;
  /** The same gap as the pinger process saw it (its receive times, subject to its scheduling). */
  clientGapMs?: number;
  /** Why the trial does not count (the client's probes stalled around the outage, …). */
  invalid?: string;
  wire?: Wire;
  /** How long the cut command took (scripts/lab link … down). */
  cutMs?: number;
  /** The longest gap between two echo requests around the failure (the schedule is 5 ms). */
  probeGapMs?: number;
  error?: string;
}

export interface MeasureOptions {
  /** Ping before the failure, ms. */
  preMs?: number;
  /** Steady replies wanted after the outage, ms. */
  postMs?: number;
}

export async function runTrial(config: BenchConfig, trial: number): Promise<TrialResult> {
  const lab = await Lab.create({ hosts: 3 });
  const work = await Workdir.create();
  let pair: Pair | undefined;
  try {
    pair = await startPair(config, lab, work);
    return { config: config.id, trial, ...(await measureFailover(lab, pair, config, work)) };
  } finally {
    await pair?.stop().catch(() => undefined);
    await lab.dispose().catch(() => undefined);
    await work.dispose().catch(() => undefined);
  }
}

/** The client must reach the VIP at h1 before the failure. */
async function clientReachesMaster(lab: Lab): Promise<void> {
  const mac = lab.host(1).mac;
  await eventually('the client to reach the VIP at h1', async () => {
    await lab.exec(3, 'ping', ['-c', '1', '-W', '1', VIP]).catch(() => undefined);
    return (await neighbourMac(lab, 3, VIP)) === mac ? true : undefined;
  }, 8000, 100);
}

export async function measureFailover(
  lab: Lab,
  pair: Pair,
  config: BenchConfig,
  work: Workdir,
  options: MeasureOptions = {},
): Promise<Omit<TrialResult, 'config' | 'trial'>> {
  // A random share of an advert interval on top, so that the failure falls at a random point
  // of the master's advert cycle: the outage depends on it (master-down minus the time since
  // the last advert), and a fixed delay after start-up would fix that phase for every trial.
  const preMs = options.preMs ?? Math.max(1000, config.intervalMs * 1.5) + Math.random() * config.intervalMs;
  const postMs = options.postMs ?? 1000;
  // Long enough for ucarp's extra second and then some; every wait below is bounded by it.
  const budgetMs = config.masterDownMs + Math.max(3000, config.masterDownMs) + 2000;
  await clientReachesMaster(lab);
  const capture = await Capture.start(lab, 3, work.file(`failover-${Date.now()}.pcap`), 'ip proto 112 or arp or icmp');
  const pinger = Pinger.start(lab, 3, VIP, PING_INTERVAL_MS, (preMs + budgetMs + postMs) / 1000 + 5);
  let frames: Frame[] = [];
  try {
    await sleep(preMs);
    if (pinger.replies.length < preMs / PING_INTERVAL_MS / 4) {
      throw new Error(`the client got only ${pinger.replies.length} replies before the failure${pinger.failure ? `: ${pinger.failure}` : ''}`);
    }
    // Cut first, then kill: killing alone leaves the VIP answering on h1, and a kill before
    // the cut would stop the adverts while h1 still answers, shortening the outage.
    const cutStart = Date.now();
    await lab.linkDown(1, 'port');
    const cutDone = Date.now();
    await pair.killMaster();

    const deadline = cutDone + budgetMs;
    let timedOut = false;
    for (;;) {
      const now = Date.now();
      const gap = longestGap(pinger.replies, cutStart);
      const last = pinger.lastReply ?? 0;
      if (gap && now - cutDone >= postMs && gap.to <= now - postMs && last >= now - 100) break;
      if (now > deadline) {
        timedOut = true;
        break;
      }
      await sleep(20);
    }
    await pinger.stop();
    await sleep(20);
    frames = await capture.stop();
    const gap = longestGap(pinger.replies, cutStart);
    const resumed = gap !== undefined && pinger.repliesSince(gap.to) > 0;
    const wire = breakdown(frames, lab, config, pair.takeoverLogged(), cutStart);
    const probeGapMs = pinger.sendJitter(cutStart - 100);
    if (timedOut && !(gap && gap.to > cutStart && resumed)) {
      return { cutMs: cutDone - cutStart, wire, probeGapMs, error: `no replies from the VIP within ${(budgetMs / 1000).toFixed(1)} s of the cut` };
    }
    // The client's probes must have gone out on schedule across the outage, or its ends are
    // blurred by however long the pinger was held up (it happens when the machine is busy).
    let invalid: string | undefined;
    if (!wire || wire.outageMs === undefined) invalid = 'the capture lacks the old or the new master\'s replies';
    else if (wire.requestGapMs !== undefined && wire.requestGapMs > PING_INTERVAL_MS * 2 + 2) {
      invalid = `the client's probes stalled ${wire.requestGapMs.toFixed(1)} ms around the outage`;
    }
    return {
      outageMs: wire?.replyGapMs ?? gap?.ms,
      clientGapMs: gap?.ms,
      wire,
      cutMs: cutDone - cutStart,
      probeGapMs,
      ...(invalid ? { invalid } : {}),
    };
  } finally {
    await pinger.stop();
    await capture.stop();
  }
}

function breakdown(frames: readonly Frame[], lab: Lab, config: BenchConfig, takeoverLog: number | undefined, cutStart: number): Wire | undefined {
  const h1 = lab.host(1);
  const h2 = lab.host(2);
  const lastOldAdvert = findLast(frames, (f) => f.kind === 'advert' && f.srcIp === h1.ipv4)?.t;
  const lastOldReply = findLast(frames, (f) => f.kind === 'echoReply' && f.srcMac === h1.mac)?.t;
  if (lastOldAdvert === undefined || lastOldReply === undefined) return undefined;
  const newFirstAdvert = frames.find((f) => f.kind === 'advert' && f.srcIp === h2.ipv4 && f.t > lastOldAdvert)?.t;
  const isGarp = (f: Frame) => f.kind === 'arp' && f.srcMac === h2.mac && f.srcIp === VIP && f.dstIp === VIP && f.t > lastOldAdvert;
  const newGarp = frames.find(isGarp)?.t;
  const newFirstReply = frames.find((f) => f.kind === 'echoReply' && f.srcMac === h2.mac && f.t > lastOldReply)?.t;
  const due = lastOldAdvert + config.masterDownMs;
  const phaseMs = lastOldReply - lastOldAdvert;
  const sub = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? a - b : undefined);
  const longest = (times: number[]) => {
    let worst: number | undefined;
    for (let i = 1; i < times.length; i++) worst = Math.max(worst ?? 0, times[i]! - times[i - 1]!);
    return worst;
  };
  const replies = frames.filter((f) => f.kind === 'echoReply').map((f) => f.t);
  const afterCut = replies.findIndex((t) => t > cutStart);
  const replyGapMs = afterCut > 0 ? longest(replies.slice(afterCut - 1)) : undefined;
  const windowEnd = (newFirstReply ?? lastOldReply + config.masterDownMs) + 10;
  const requests = frames.filter((f) => f.kind === 'echoRequest' && f.t >= lastOldReply - 10 && f.t <= windowEnd).map((f) => f.t);
  return {
    replyGapMs,
    requestGapMs: longest(requests),
    phaseMs,
    expectedMs: config.masterDownMs - phaseMs,
    outageMs: sub(newFirstReply, lastOldReply),
    excessMs: sub(newFirstReply, due),
    detectLateMs: sub(newFirstAdvert, due),
    timerLateMs: sub(takeoverLog, due),
    logToAdvertMs: sub(newFirstAdvert, takeoverLog),
    advertToGarpMs: sub(newGarp, newFirstAdvert),
    garpToReplyMs: sub(newFirstReply, newGarp),
    garps: newGarp === undefined ? 0 : frames.filter((f) => isGarp(f) && f.t < newGarp + 1000).length,
  };
}

function findLast<T>(items: readonly T[], predicate: (item: T) => boolean): T | undefined {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i]!)) return items[i];
  return undefined;
}

// The failover bench's closing report: the outage per setting, where the excess over the
// protocol formula goes, the ratios the issue asks for, the soak, and the issue's targets.

import { cpus } from 'node:os';
import type { BenchConfig } from './configs.js';
import type { TakeoverCosts } from './costs.js';
import type { SoakResult } from './soak.js';
import { delta, max, median, min, ms, ratio, table } from './stats.js';
import { PING_INTERVAL_MS, type TrialResult, type Wire } from './trial.js';

export interface ReportInput {
  configs: readonly BenchConfig[];
  soakConfig: BenchConfig;
  results: Map<string, TrialResult[]>;
  soak?: SoakResult;
  costs?: TakeoverCosts;
}

interface Summary {
  config: BenchConfig;
  outages: number[];
  excess: number[];
  errors: number;
  discarded: number;
  /** Median outage as it would be averaged over where in the advert cycle the master dies. */
  phaseAveraged: number;
  /** The implementation's own share per trial: detect late + advert→GARP. */
  takeover: number[];
  /**
   * The outage averaged over both kinds of luck, where in its advert cycle the master dies and
   * where in its probe cycle the client is: phase-avg with the measured GARP→reply (uniform over
   * one probe interval) replaced by its mean.
   */
  expected: number;
}

function summarize(config: BenchConfig, all: readonly TrialResult[]): Summary {
  const results = all.filter((r) => !r.invalid);
  const ok = results.filter((r) => r.outageMs !== undefined);
  const excess = ok.map((r) => r.wire?.excessMs).filter((v): v is number => v !== undefined);
  const takeover = ok
    .map((r) => (r.wire?.detectLateMs !== undefined && r.wire.advertToGarpMs !== undefined ? r.wire.detectLateMs + r.wire.advertToGarpMs : undefined))
    .filter((v): v is number => v !== undefined);
  return {
    config,
    outages: ok.map((r) => r.outageMs!),
    excess,
    errors: results.length - ok.length,
    discarded: all.length - results.length,
    phaseAveraged: config.masterDownMs - config.intervalMs / 2 + PING_INTERVAL_MS / 2 + median(excess),
    takeover,
    expected: config.masterDownMs - config.intervalMs / 2 + PING_INTERVAL_MS + median(takeover),
  };
}

function pick(results: readonly TrialResult[], key: keyof Wire): number[] {
  return results.filter((r) => !r.invalid).map((r) => r.wire?.[key]).filter((v): v is number => typeof v === 'number');
}

export function costLines(c: TakeoverCosts): string[] {
  const f = (l: { median: number; p90: number }) => `${ms(l.median).padStart(7)} (p90 ${ms(l.p90)})`;
  return [
    `    child_process.spawn() returning (fork+exec, blocks the event loop) ${f(c.spawnCall)}`,
    `    spawn('/bin/true') → 'close' (the floor for any program run)     ${f(c.trueExit)}`,
    `    spawn('ip addr add …') → 'close'                                 ${f(c.addrAdd)}`,
    `    spawn('ip addr del …') → 'close'                                 ${f(c.addrDel)}`,
    `    promote_secondaries sysctl write (first claim only)              ${f(c.sysctl)}`,
    `    addon.sendFrame(GARP): socket+sendto+close, blocks the loop      ${f(c.sendFrame)}  (close of an AF_PACKET socket waits for an RCU grace period)`,
    `    (a Node probe with a ${c.rssMb.toFixed(0)} MB RSS in a lab host, ${c.addrAdd.n} repetitions)`,
  ];
}

export function report(input: ReportInput): string {
  const { configs, results, soak, costs } = input;
  const out: string[] = [];
  const summaries = new Map<string, Summary>();
  for (const config of configs) summaries.set(config.id, summarize(config, results.get(config.id) ?? []));
  const med = (id: string) => median(summaries.get(id)?.outages ?? []);
  const avg = (id: string) => summaries.get(id)?.phaseAveraged ?? NaN;
  const expected = (id: string) => summaries.get(id)?.expected ?? NaN;

  out.push('═══ Summary: client-visible outage per setting ═══');
  out.push(
    table(
      [
        ['setting', 'interval', 'master-down', 'formula window', 'median', 'min', 'max', 'excess', 'phase-avg', 'takeover', 'expected', 'n'],
        ...[...summaries.values()].map((s) => [
          s.config.id,
          ms(s.config.intervalMs),
          ms(s.config.masterDownMs),
          `${ms(Math.max(0, s.config.masterDownMs - s.config.intervalMs))} – ${ms(s.config.masterDownMs)}`,
          ms(median(s.outages)),
          ms(min(s.outages)),
          ms(max(s.outages)),
          delta(median(s.excess)),
          ms(s.phaseAveraged),
          delta(median(s.takeover)),
          ms(s.expected),
          `${s.outages.length}${s.errors ? ` (+${s.errors} failed)` : ''}${s.discarded ? ` (${s.discarded} discarded)` : ''}`,
        ]),
      ],
      [false, true, true, true, true, true, true, true, true, true, true, true],
    ),
  );
  out.push(
    [
      'median/min/max: longest gap between replies to an ICMP echo sent every 5 ms, across the failure, as',
      '  they reach the client\'s interface (capture timestamps). Discarded trials (client stalled) not counted.',
      'formula window: master-down minus one advert interval … master-down, by when in the cycle the master died.',
      'excess (median): outage beyond the formula for that trial\'s phase = first reply from the new master −',
      '  (old master\'s last advert + master-down), from a capture on the client. Phase-free: compare this.',
      `phase-avg: master-down − interval/2 + ${PING_INTERVAL_MS / 2} ms (half a probe interval) + excess: the outage averaged over`,
      '  where in its advert cycle the master dies, so settings compare without the luck of a few trials.',
      'takeover (median): the implementation\'s own share of the excess: detect late + advert→GARP (below).',
      `expected: master-down − interval/2 + ${PING_INTERVAL_MS} ms (a whole probe interval: half before the failure, half after`,
      '  the GARP) + takeover: averaged over both the master\'s and the client\'s luck; only the takeover is measured.',
    ].join('\n'),
  );

  const split = configs.filter((c) => (results.get(c.id) ?? []).some((r) => r.wire));
  if (split.length) {
    out.push('');
    out.push('═══ Where the excess goes (medians over trials, capture on the client) ═══');
    out.push(
      table(
        [
          ['setting', 'timer late', '→advert', 'detect late', 'advert→GARP', 'GARP→reply', 'excess', 'GARPs'],
          ...split.map((c) => {
            const r = results.get(c.id)!;
            return [
              c.id,
              delta(median(pick(r, 'timerLateMs'))),
              delta(median(pick(r, 'logToAdvertMs'))),
              delta(median(pick(r, 'detectLateMs'))),
              delta(median(pick(r, 'advertToGarpMs'))),
              delta(median(pick(r, 'garpToReplyMs'))),
              delta(median(pick(r, 'excessMs'))),
              String(median(pick(r, 'garps'))),
            ];
          }),
        ],
        [false, true, true, true, true, true, true, true],
      ),
    );
    out.push(
      [
        'Each relative to the instant the formula says the backup takes over (old master\'s last advert on the wire +',
        'master-down). timer late: the backup\'s own log of its takeover (Tandem: JSON log, 1 ms resolution, written',
        'after its receive thread has carried the takeover out, so →advert is negative; ucarp: µs; keepalived logs whole',
        'seconds, so —). →advert: that log line to its first advert on the wire. detect late: the first advert itself.',
        'advert→GARP: first advert to first gratuitous ARP for the VIP (Tandem adds the address over rtnetlink in',
        'between; keepalived too; ucarp sends the ARP while its up script runs). GARP→reply: the client\'s next probe',
        '(every 5 ms) answered by the new master. GARPs: gratuitous ARPs in its first second.',
      ].join('\n'),
    );
  }
  if (costs) {
    out.push('');
    out.push('  What each way of taking over costs, no load (Tandem spawns nothing on the takeover path: these are why):');
    out.push(...costLines(costs));
  }

  out.push('');
  out.push('═══ Ratios (raw medians | phase-averaged | expected) ═══');
  const both = (label: string, a: string, b: string) => {
    if (!summaries.get(a)?.outages.length || !summaries.get(b)?.outages.length) return;
    out.push(
      `  ${label}: ${ms(med(a))} / ${ms(med(b))} = ${ratio(med(a), med(b))} | ${ms(avg(a))} / ${ms(avg(b))} = ${ratio(avg(a), avg(b))}` +
        ` | ${ms(expected(a))} / ${ms(expected(b))} = ${ratio(expected(a), expected(b))}`,
    );
  };
  const t1 = summaries.get('tandem-1');
  if (t1?.outages.length) {
    const formula = t1.config.masterDownMs - t1.config.intervalMs / 2 + PING_INTERVAL_MS / 2;
    out.push(
      `  Tandem advbase 1 / CARP formula (phase-averaged ${ms(formula)}): ${ms(t1.phaseAveraged)} / ${ms(formula)} = ` +
        `${ratio(t1.phaseAveraged, formula)}; excess ${delta(median(t1.excess))} median, ${delta(max(t1.excess))} worst`,
    );
  }
  both('Tandem / ucarp, advbase 1', 'tandem-1', 'ucarp-1');
  both('Tandem / keepalived, 1 s adverts', 'tandem-1', 'keepalived-1');
  both('Tandem / keepalived, ~50 ms adverts (50.8 vs 50 ms)', 'tandem-0/13/14', 'keepalived-0.05');
  both('Tandem / keepalived, ~10 ms adverts (11.7 vs 10 ms)', 'tandem-0/3/4', 'keepalived-0.01');
  both('Tandem / keepalived, ~10 ms adverts (7.8 vs 10 ms)', 'tandem-0/2/3', 'keepalived-0.01');
  both(`Tandem shortest (${input.soakConfig.id}) / keepalived minimum`, input.soakConfig.id, 'keepalived-0.01');
  const excessLine = (label: string, a: string, b: string) => {
    const x = median(summaries.get(a)?.excess ?? []);
    const y = median(summaries.get(b)?.excess ?? []);
    if (Number.isFinite(x) && Number.isFinite(y)) out.push(`  ${label}: excess over its own formula ${delta(x)} vs ${delta(y)}`);
  };
  excessLine('Tandem vs ucarp, advbase 1', 'tandem-1', 'ucarp-1');
  excessLine('Tandem vs keepalived, 1 s', 'tandem-1', 'keepalived-1');
  excessLine('Tandem vs keepalived, ~50 ms', 'tandem-0/13/14', 'keepalived-0.05');
  excessLine('Tandem vs keepalived, ~10 ms', 'tandem-0/2/3', 'keepalived-0.01');

  if (soak) out.push('', ...soakLines(soak));

  out.push('');
  out.push('═══ Targets (as measured here) ═══');
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
  if (t1?.excess.length) {
    out.push(`  advbase 1 within 150 ms of the CARP formula: worst excess ${delta(max(t1.excess))} → ${verdict(max(t1.excess) <= 150)}`);
  }
  for (const [a, b, label] of [
    ['tandem-1', 'keepalived-1', '1 s'],
    ['tandem-0/13/14', 'keepalived-0.05', '~50 ms'],
    ['tandem-0/3/4', 'keepalived-0.01', '~10 ms (Tandem 11.7 ms)'],
    ['tandem-0/2/3', 'keepalived-0.01', '~10 ms (Tandem 7.8 ms)'],
  ] as const) {
    if (!summaries.get(a)?.outages.length || !summaries.get(b)?.outages.length) continue;
    out.push(
      `  no worse than keepalived at equal intervals, ${label}: expected ${ms(expected(a))} vs ${ms(expected(b))} → ${verdict(expected(a) <= expected(b))};` +
        ` phase-averaged ${ms(avg(a))} vs ${ms(avg(b))} → ${verdict(avg(a) <= avg(b))} (raw medians ${ms(med(a))} vs ${ms(med(b))})`,
    );
  }
  const shortest = summaries.get(input.soakConfig.id);
  if (shortest?.outages.length) {
    out.push(
      `  shortest setting (${shortest.config.id}) outage ≤ 40 ms: median ${ms(median(shortest.outages))}, worst ${ms(max(shortest.outages))}` +
        ` → ${verdict(max(shortest.outages) <= 40)} (median: ${verdict(median(shortest.outages) <= 40)})`,
    );
  }
  if (soak && !soak.error) {
    const long = soak.seconds >= 600 ? '' : ` (a ${soak.seconds} s soak; the target is 600 s: --soak-seconds 600)`;
    out.push(`  no false failover with both cores loaded (${soak.config}): ${soak.falseFailovers} → ${verdict(soak.falseFailovers === 0)}${long}`);
  }
  return out.join('\n');
}

function soakLines(soak: SoakResult): string[] {
  const out: string[] = [];
  const clock = (t: number) => new Date(t).toISOString().slice(11, 23);
  out.push(`═══ Soak: ${soak.config}, ${soak.seconds} s, ${soak.loadWorkers} busy-loop processes on ${cpus().length} cores ═══`);
  if (soak.error) out.push(`  ERROR: ${soak.error}`);
  out.push(`  false failovers (backup → MASTER): ${soak.falseFailovers}; adverts the backup sent: ${soak.backupAdverts}`);
  if (soak.loadStartedAt !== undefined) out.push(`    load processes spawned at ${clock(soak.loadStartedAt)}`);
  if (soak.falseFailoverTimes?.length) {
    out.push(`    at ${soak.falseFailoverTimes.slice(0, 12).map(clock).join(', ')}${soak.falseFailoverTimes.length > 12 ? ', …' : ''}`);
  }
  if (soak.masterSilentSeconds !== undefined) {
    out.push(
      `  the master did not answer status requests for ${soak.masterSilentSeconds.toFixed(0)} s of the soak, from ${clock(soak.masterSilentFrom!)}; ` +
        `${soak.failoversWhileSilent} of the false failovers fall in those stretches`,
    );
  }
  if (soak.cpu) {
    const c = soak.cpu;
    out.push(
      `  CPU over the soak: user ${c.user.toFixed(1)} %, system ${c.system.toFixed(1)} %, idle ${c.idle.toFixed(1)} %, steal ${c.steal.toFixed(1)} %` +
        (c.pressure !== undefined ? `; some task waiting for a CPU ${c.pressure.toFixed(1)} % of the time (PSI)` : ''),
    );
  }
  if (soak.gaps) {
    const g = soak.gaps;
    out.push(
      `  the master's advert gaps on the wire (${g.count}): p50 ${ms(g.p50)}, p99 ${ms(g.p99)}, p99.9 ${ms(g.p999)}, max ${ms(g.max)}; ` +
        `${g.overHalf} over half the master-down, ${g.overMasterDown} over it`,
    );
    if (g.longest.length) {
      out.push(`    longest: ${g.longest.slice(0, 12).map(([t, l]) => `${clock(t)} ${ms(l)}`).join(', ')}`);
    }
  }
  if (soak.timers) {
    const t = soak.timers;
    out.push(
      `  a Node setTimeout(${t.delay.toFixed(2)} ms) loop under the same load (${t.samples} firings), lateness: ` +
        `p50 ${ms(t.p50)}, p90 ${ms(t.p90)}, p99 ${ms(t.p99)}, p99.9 ${ms(t.p999)}, max ${ms(t.max)}; >5 ms ${t.over5}, >10 ms ${t.over10}, >20 ms ${t.over20}`,
    );
    const big = t.stalls.filter(([, l]) => l > 15);
    if (big.length) out.push(`    over 15 ms: ${big.slice(0, 12).map(([at, l]) => `${clock(at)} +${ms(l)}`).join(', ')}${big.length > 12 ? ', …' : ''}`);
  }
  if (soak.anomalies?.length) {
    out.push(`  once-a-second checks that found something off (${soak.anomalies.length}${soak.anomalies.length > 12 ? ', first 12' : ''}):`);
    for (const l of soak.anomalies.slice(0, 12)) out.push(`    ${l}`);
  }
  if (soak.events) {
    for (const who of ['master', 'backup'] as const) {
      const lines = soak.events[who];
      if (!lines.length) continue;
      out.push(`  ${who} log (${lines.length} notable line(s)${lines.length > 12 ? ', first 12' : ''}):`);
      for (const l of lines.slice(0, 12)) out.push(`    ${l}`);
    }
  }
  if (soak.costs) {
    out.push('  Tandem\'s takeover path piece by piece, under the same load:');
    out.push(...costLines(soak.costs));
  }
  if (soak.failover) {
    const f = soak.failover;
    const w = f.wire;
    out.push(
      `  failover under load: outage ${ms(f.outageMs)}` +
        (w
          ? ` (since last advert ${ms(w.phaseMs)}, excess ${delta(w.excessMs)}: timer ${delta(w.timerLateMs)}, →advert ${delta(w.logToAdvertMs)}, ` +
            `advert→GARP ${delta(w.advertToGarpMs)}, GARP→reply ${delta(w.garpToReplyMs)})`
          : '') +
        (f.invalid ? ` [does not count: ${f.invalid}]` : '') +
        (f.error ? ` [${f.error}]` : ''),
    );
  }
  return out;
}

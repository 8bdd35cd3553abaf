// The telemetry bench's results and its printed report: the three pairs side by side, ratios
// against `off` from the same run, and the transition → subscriber latency.

import { carpIntervalMs, carpMasterDownMs } from '../failover-lib/configs.js';
import { max, ms, percentile, ratio, table } from '../failover-lib/stats.js';

export type PhaseId = 'off' | 'on' | 'busy';

export interface Options {
  seconds: number;
  failovers: number;
  masterSkew: number;
  backupSkew: number;
  json?: string;
}

export interface ProcessCost {
  cpuMs: number;
  rssKiB: number;
  hwmKiB: number;
}

export interface PhaseResult {
  phase: PhaseId;
  seconds: number;
  gaps: { count: number; p50: number; p99: number; p999: number; max: number; jitterP50: number; jitterP99: number; overMasterDown: number };
  master: ProcessCost;
  backup: ProcessCost;
  falseFailovers: number;
  metricsPublished?: number;
  scrapes?: { ok: number; failed: number };
  latency?: Latency;
  error?: string;
}

export interface Latency {
  failovers: number;
  state: number[];
  events: number[];
}


const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const cpuShare = (c: ProcessCost, seconds: number) => `${((c.cpuMs / (seconds * 1000)) * 100).toFixed(2)}%`;

export function report(results: PhaseResult[], options: Options): string {
  const lines: string[] = [];
  const base = results.find((r) => r.phase === 'off' && !r.error);
  lines.push(
    table(
      [
        ['phase', 'adverts', 'gap p50', 'p99', 'p99.9', 'max', 'jitter p99', '>master-down', 'false failovers', 'CPU master', 'CPU backup', 'RSS master', 'RSS backup', 'metrics sent'],
        ...results.map((r) =>
          r.error
            ? [r.phase, `ERROR ${r.error}`]
            : [
                r.phase,
                String(r.gaps.count),
                ms(r.gaps.p50),
                ms(r.gaps.p99),
                ms(r.gaps.p999),
                ms(r.gaps.max),
                ms(r.gaps.jitterP99),
                String(r.gaps.overMasterDown),
                String(r.falseFailovers),
                cpuShare(r.master, r.seconds),
                cpuShare(r.backup, r.seconds),
                mib(r.master.rssKiB),
                mib(r.backup.rssKiB),
                r.metricsPublished === undefined ? '—' : String(r.metricsPublished),
              ],
        ),
      ],
      [false, true, true, true, true, true, true, true, true, true, true, true, true, true],
    ),
  );
  if (base) {
    lines.push('');
    lines.push(`against off (same run): ratio of the phase's figure to off's`);
    const rows = [['phase', 'gap p99', 'jitter p99', 'gap max', 'CPU master', 'CPU backup', 'RSS master', 'RSS added (master)', 'RSS added (backup)']];
    for (const r of results) {
      if (r.phase === 'off' || r.error) continue;
      const perS = (c: ProcessCost, s: number) => c.cpuMs / s;
      rows.push([
        r.phase,
        ratio(r.gaps.p99, base.gaps.p99),
        ratio(r.gaps.jitterP99, base.gaps.jitterP99),
        ratio(r.gaps.max, base.gaps.max),
        ratio(perS(r.master, r.seconds), perS(base.master, base.seconds)),
        ratio(perS(r.backup, r.seconds), perS(base.backup, base.seconds)),
        ratio(r.master.rssKiB, base.master.rssKiB),
        `${((r.master.rssKiB - base.master.rssKiB) / 1024).toFixed(1)} MiB`,
        `${((r.backup.rssKiB - base.backup.rssKiB) / 1024).toFixed(1)} MiB`,
      ]);
    }
    lines.push(table(rows, [false, true, true, true, true, true, true, true, true]));
  }
  const busy = results.find((r) => r.phase === 'busy');
  if (busy?.scrapes) lines.push(`busy: /metrics scraped from h7 ${busy.scrapes.ok} times (${busy.scrapes.failed} failed)`);
  const on = results.find((r) => r.latency);
  if (on?.latency) {
    const l = on.latency;
    const line = (name: string, v: number[]) =>
      `  ${name}: n=${v.length}, p50 ${ms(percentile(v, 50))}, p99 ${ms(percentile(v, 99))}, max ${ms(max(v))}`;
    lines.push('');
    lines.push(`CARP transition → subscriber receipt on mosquitto (QoS 1, ${l.failovers} forced failovers, both nodes' transitions; target p99 ≤ 50 ms):`);
    lines.push(line('carp/<vhid>/state (since → receipt)', l.state));
    lines.push(line('events carpTransition (time → receipt)', l.events));
    const p99 = percentile(l.state, 99);
    lines.push(`  state p99 ${Number.isFinite(p99) && p99 <= 50 ? 'meets' : 'misses'} the 50 ms target`);
  }
  lines.push('');
  lines.push(
    `(advbase 0, advskew ${options.masterSkew}/${options.backupSkew}: adverts every ${ms(carpIntervalMs(0, options.masterSkew))}, master-down ${ms(carpMasterDownMs(0, options.backupSkew))}; ` +
      `one ${options.seconds} s window, the three pairs at once; CPU is the daemon's utime+stime over the window; RSS is VmRSS at its end)`,
  );
  return lines.join('\n');
}


// scripts/bench/energy: what parking saves, measured by replaying a week of diurnal demand
// (see energy-traces.ts for where its shape comes from) through the real planner for a pool of
// 8 heterogeneous servers, against always-on and the clairvoyant optimum (firmware/power/
// optimum.ts), then a flash crowd (demand doubling within 2 minutes) on the same week.
// It reports and does not assert: exit 0 when it ran, 1 on an error, 2 on bad arguments.

import { writeFile } from 'node:fs/promises';
import { DEFAULT_TUNING } from '../../firmware/power/planner.js';
import { simulate, type SimSetup, type SimulationReport } from '../../firmware/power/simulate.js';
import { formatTrace, type Trace } from '../../firmware/power/trace.js';
import { BenchCommandLine } from './command-line.js';
import { diurnalTrace, withFlashCrowd } from './energy-traces.js';

const USAGE = `usage: scripts/bench/energy [--days N] [--seed N] [--peak N] [--noise PCT] [--json FILE] [--trace-out FILE]

  --days N         days of trace (default 7)
  --seed N         PRNG seed of the trace's noise (default 1)
  --peak N         weekday peak demand in connections (default 3000; the pool holds 5600)
  --noise PCT      noise around the daily curve, % of demand (default 2; 4 and 6 are also
                   summarised)
  --json FILE      also write both reports as JSON
  --trace-out FILE also write the diurnal trace as CSV (for tandem power simulate)`;

const commandLine = new BenchCommandLine('energy', USAGE);
const fail = (message: string, code?: number): never => commandLine.fail(message, code);
const values =
  commandLine.parse({
    days: { type: 'string' },
    seed: { type: 'string' },
    peak: { type: 'string' },
    noise: { type: 'string' },
    json: { type: 'string' },
    'trace-out': { type: 'string' },
  }) ?? process.exit(0);
const count = (name: string, text: string | undefined, fallback: number, max: number) => commandLine.integer(name, text, fallback, 1, max);
const DAYS = count('days', values.days, 7, 60);
const SEED = count('seed', values.seed, 1, 2 ** 31);
const PEAK = count('peak', values.peak, 3000, 5000);
const NOISE = count('noise', values.noise, 2, 30) / 100;

// The pool: two generations of S3-capable servers (suspend to RAM, wake-on-LAN: about 5 s to
// serve again) and two older generations that only power off (boot about 120 s). Watts are
// typical 1U figures: newer boxes idle lower and serve more per watt.
const setup: SimSetup = {
  intervalSeconds: 30,
  policy: { spares: 1, minAwake: 1, maxCyclesPerDay: 4, minAwakeSeconds: 600, minParkedSeconds: 600, targetUtilisation: 0.8 },
  pool: { name: 'web', unit: 'connections' },
  hosts: [
    ...[1, 2].map((i) => ({ name: `web-${i}`, capacity: 1000, watts: { idle: 60, peak: 180, parked: 2 }, wakeSeconds: 5, parkSeconds: 10, pinned: false })),
    ...[3, 4].map((i) => ({ name: `web-${i}`, capacity: 800, watts: { idle: 75, peak: 190, parked: 3 }, wakeSeconds: 5, parkSeconds: 10, pinned: false })),
    ...[5, 6].map((i) => ({ name: `web-${i}`, capacity: 600, watts: { idle: 95, peak: 210, parked: 5 }, wakeSeconds: 120, parkSeconds: 30, pinned: false })),
    ...[7, 8].map((i) => ({ name: `web-${i}`, capacity: 400, watts: { idle: 105, peak: 190, parked: 4 }, wakeSeconds: 120, parkSeconds: 30, pinned: false })),
  ],
};

const diurnal = diurnalTrace({ days: DAYS, peak: PEAK, step: 60, seed: SEED, noise: NOISE });
// The flash crowd arrives on day 2 at 11:00, a rising morning: demand doubles within 2 minutes
// and holds for an hour.
const flash = withFlashCrowd(diurnal, Math.min(DAYS - 1, 2) * 86_400 + 11 * 3600, 2, 120, 3600);

function show(title: string, r: SimulationReport, trace: Trace): void {
  const s = r.summary;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const peak = Math.max(...trace.points.map((p) => p.demand));
  console.log(`\n${title}: ${(s.hours / 24).toFixed(1)} days, peak demand ${peak} conn`);
  console.log(`  always-on            ${s.alwaysOnKWh.toFixed(2)} kWh`);
  console.log(`  planner              ${s.energyKWh.toFixed(2)} kWh, saved ${s.savedKWh.toFixed(2)} kWh (${pct(s.savedFraction)})`);
  console.log(
    `  clairvoyant optimum  ${s.optimum.energyKWh.toFixed(2)} kWh, saved ${s.optimum.savedKWh.toFixed(2)} kWh ` +
      `(${s.optimum.exact ? 'exact DP' : 'DP with a state budget: not proven best'}; shortfall ${s.optimum.shortfallSeconds} s)`,
  );
  console.log(`  free-parking floor   ${s.optimum.boundKWh.toFixed(2)} kWh (no latency, dwell or cycle cap: unreachable)`);
  console.log(`  planner / optimum    ${s.optimumRatio === null ? 'n/a' : pct(s.optimumRatio)} of the optimum's saving`);
  console.log(`  shortfall            ${s.shortfallSeconds.toFixed(0)} s`);
  console.log(`  below the policy     ${s.belowPolicySeconds.toFixed(0)} s (serving capacity net of spares under the target; optimum ${s.optimum.belowPolicySeconds.toFixed(0)} s)`);
  console.log('  host     kWh  always-on  parks  cycles/day  most in 24 h');
  for (const h of s.hosts) {
    console.log(
      `  ${h.name.padEnd(6)} ${h.kWh.toFixed(2).padStart(6)} ${h.alwaysOnKWh.toFixed(2).padStart(10)} ${String(h.parks).padStart(6)} ` +
        `${s.cyclesPerHostPerDay[h.name]!.toFixed(2).padStart(11)} ${String(s.maxCyclesIn24h[h.name]).padStart(13)}`,
    );
  }
}

try {
  console.log('energy bench: 8 servers, 5600 conn in all');
  for (const h of setup.hosts) {
    console.log(
      `  ${h.name}: ${h.capacity} conn, ${h.watts.idle}/${h.watts.peak}/${h.watts.parked} W idle/peak/parked, ` +
        `wake ${h.wakeSeconds} s, park ${h.parkSeconds} s (${h.wakeSeconds <= 5 ? 'S3 + WoL' : 'power off + boot'})`,
    );
  }
  const p = setup.policy;
  console.log(
    `  policy: spares ${p.spares}, minAwake ${p.minAwake}, ≤ ${p.maxCyclesPerDay} cycles/day, dwell ${p.minAwakeSeconds}/${p.minParkedSeconds} s, ` +
      `target ${p.targetUtilisation}, round ${setup.intervalSeconds} s; tuning ${JSON.stringify({ ...DEFAULT_TUNING, ...setup.tuning })}`,
  );
  const started = performance.now();
  const week = await simulate(setup, diurnal);
  show(`diurnal (seed ${SEED}, noise ${(NOISE * 100).toFixed(0)}%)`, week, diurnal);
  const crowd = await simulate(setup, flash);
  show('diurnal + flash crowd (×2 within 120 s on day 3, 11:00, for an hour)', crowd, flash);
  const w = week.summary;
  const c = crowd.summary;
  console.log(
    `\nflash crowd cost: shortfall ${c.shortfallSeconds.toFixed(0)} s (without the crowd ${w.shortfallSeconds.toFixed(0)} s), ` +
      `below the policy ${c.belowPolicySeconds.toFixed(0)} s (${w.belowPolicySeconds.toFixed(0)} s); energy +${(c.energyKWh - w.energyKWh).toFixed(2)} kWh ` +
      `(always-on +${(c.alwaysOnKWh - w.alwaysOnKWh).toFixed(2)} kWh for the same extra demand); wakes in its first 10 minutes:`,
  );
  const crowdWakes = crowd.transitions.filter((t) => t.action === 'wake' && t.t >= 2 * 86_400 + 11 * 3600 && t.t < 2 * 86_400 + 11 * 3600 + 600);
  for (const t of crowdWakes) console.log(`  +${(t.t - (2 * 86_400 + 11 * 3600)).toFixed(0)} s ${t.host}: ${t.reason}`);
  console.log('\nsensitivity (same seed; planner saving as a fraction of the optimum\'s, shortfall, below-policy s, most cycles/day):');
  for (const noise of [0.02, 0.04, 0.06]) {
    const trace = diurnalTrace({ days: DAYS, peak: PEAK, step: 60, seed: SEED, noise });
    for (const seasonal of [true, false]) {
      const r = (await simulate({ ...setup, seasonal }, trace)).summary;
      const cycles = Math.max(...Object.values(r.cyclesPerHostPerDay));
      console.log(
        `  noise ${(noise * 100).toFixed(0)}% ${seasonal ? 'with yesterday   ' : 'without history  '} ${((r.optimumRatio ?? 0) * 100).toFixed(1)}%  ` +
          `saved ${(r.savedFraction * 100).toFixed(1)}% (optimum ${((r.optimum.savedKWh / r.alwaysOnKWh) * 100).toFixed(1)}%)  shortfall ${r.shortfallSeconds.toFixed(0)} s  ` +
          `below policy ${r.belowPolicySeconds.toFixed(0)} s  cycles/day ≤ ${cycles.toFixed(2)}`,
      );
    }
  }
  console.log(`\nreplays took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (values['trace-out']) await writeFile(values['trace-out'], formatTrace(diurnal));
  if (values.json) await writeFile(values.json, JSON.stringify({ setup, diurnal: week, flash: crowd }, null, 2));
} catch (error) {
  console.error(`energy: ${(error as Error).stack ?? error}`);
  process.exit(1);
}

// What the `tandem power ...` commands do (issue 10); cli.ts parses, commands.ts dispatches here.
// `simulate` runs offline: the config's power section and a demand trace, no daemon.

import { readFile } from 'node:fs/promises';
import { configPathFrom, formatIssue, loadConfigFile } from '../config/load.js';
import { setupFromConfig, simulate, type SimulationReport } from './simulate.js';
import { parseTrace } from './trace.js';

export interface SimulateOptions {
  config?: string | undefined;
  trace: string;
  pool?: string | undefined;
  json: boolean;
}

export async function powerSimulate(options: SimulateOptions): Promise<number> {
  const path = configPathFrom(options.config);
  const loaded = await loadConfigFile(path);
  if (!loaded.ok) {
    for (const issue of loaded.issues) process.stderr.write(formatIssue(path, issue) + '\n');
    return 1;
  }
  const power = loaded.config.power;
  if (power === undefined) {
    process.stderr.write(`tandem: ${path}: no power section: nothing to simulate\n`);
    return 1;
  }
  const setup = setupFromConfig(power, options.pool);
  if (!setup.ok) {
    process.stderr.write(`tandem: ${setup.message}\n`);
    return 1;
  }
  let text: string;
  try {
    text = await readFile(options.trace, 'utf8');
  } catch (error) {
    process.stderr.write(`tandem: cannot read trace ${options.trace}: ${(error as Error).message}\n`);
    return 1;
  }
  const trace = parseTrace(text);
  if (!trace.ok) {
    for (const e of trace.errors) process.stderr.write(`${options.trace}:${e.line}: ${e.message}\n`);
    return 1;
  }
  const report = await simulate(setup.setup, trace.trace);
  if (options.json) {
    const { summary, transitions } = report;
    process.stdout.write(JSON.stringify({ summary, transitions: transitions.map(({ t, host, action, reason }) => ({ t, host, action, reason })) }, null, 2) + '\n');
  } else {
    process.stdout.write(formatReport(report) + '\n');
  }
  return 0;
}

export function formatReport(report: SimulationReport): string {
  const s = report.summary;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines = [
    `pool ${s.pool} (${s.unit}), ${s.hours.toFixed(1)} h replayed`,
    `  always-on    ${s.alwaysOnKWh.toFixed(3)} kWh`,
    `  planned      ${s.energyKWh.toFixed(3)} kWh: saves ${s.savedKWh.toFixed(3)} kWh (${pct(s.savedFraction)})`,
    `  clairvoyant  ${s.optimum.energyKWh.toFixed(3)} kWh: saves ${s.optimum.savedKWh.toFixed(3)} kWh` +
      (s.optimumRatio === null ? '' : `; the plan reaches ${pct(s.optimumRatio)} of that`),
    `  shortfall ${s.shortfallSeconds.toFixed(0)} s; below the policy ${s.belowPolicySeconds.toFixed(0)} s (clairvoyant: ${s.optimum.belowPolicySeconds.toFixed(0)} s)`,
    `  host        kWh  always-on  parks  cycles/day`,
  ];
  for (const h of s.hosts) {
    lines.push(
      `  ${h.name.padEnd(9)} ${h.kWh.toFixed(3).padStart(7)} ${h.alwaysOnKWh.toFixed(3).padStart(10)} ${String(h.parks).padStart(6)} ${(s.cyclesPerHostPerDay[h.name] ?? 0).toFixed(2).padStart(11)}`,
    );
  }
  lines.push(`  ${report.transitions.length} transition(s)${report.transitions.length > 0 ? ', first ones:' : ''}`);
  for (const t of report.transitions.slice(0, 10)) lines.push(`    ${String(t.t).padStart(7)} s  ${t.action.padEnd(4)} ${t.host}: ${t.reason ?? ''}`);
  return lines.join('\n');
}

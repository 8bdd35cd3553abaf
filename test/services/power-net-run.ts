// Runs power drivers from the method registry (snmp, redfish, tasmota, shelly, webhook, ...) with
// their Linux ports, for the services tests that start this inside a lab namespace (the router's
// side). Argument: JSON { host, runs: [{ method, settings, steps: ["wake"|"park"|"read"|"reboot"
// |"wait:MS", ...] }] }; each run's settings are checked with its method's own schema. Prints one
// JSON line: { runs: [{ issues } | { results: [...] }] }. One process for many runs: each
// start of node with tsx costs seconds on a loaded machine.

import { s, validate, type Shape } from '../../firmware/config/kit.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { silentLogger } from '../../firmware/log.js';
import type { DriverHost } from '../../firmware/power/driver.js';
import { createDriver, METHODS } from '../../firmware/power/methods.js';

interface Run {
  method: string;
  settings: unknown;
  steps: string[];
}

const { host, runs } = JSON.parse(process.argv[2] ?? '{}') as { host: DriverHost; runs: Run[] };
const out: unknown[] = [];
for (const run of runs) {
  // Through the method registry, as the daemon builds drivers: its settings shape, then its factory.
  const entry = (METHODS as Record<string, { settings: Shape }>)[run.method];
  if (!entry) throw new Error(`no method ${run.method}`);
  const checked = validate(s.object(entry.settings), run.settings);
  if (checked.issues.length > 0) {
    out.push({ issues: checked.issues });
    continue;
  }
  const built = createDriver({ method: run.method, ...(checked.value as object) }, { clock: systemClock, processes: new LinuxProcessRunner(), log: silentLogger, stateDir: '/nonexistent' });
  if (!built.ok) throw new Error(built.detail);
  const driver = built.driver as unknown as Record<string, ((h: DriverHost, signal: AbortSignal) => Promise<unknown>) | undefined>;
  const results: unknown[] = [];
  for (const step of run.steps) {
    const wait = /^wait:(\d+)$/.exec(step);
    if (wait) {
      await new Promise((resolve) => setTimeout(resolve, Number(wait[1])));
      continue;
    }
    const call = driver[step];
    const started = performance.now();
    const result = call ? await call.call(driver, host, new AbortController().signal) : { ok: false, failure: 'unsupported', detail: `no ${step}` };
    results.push({ step, ms: Math.round(performance.now() - started), ...(result as object) });
  }
  out.push({ results });
}
process.stdout.write(JSON.stringify({ runs: out }) + '\n');

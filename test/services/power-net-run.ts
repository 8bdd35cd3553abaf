// Runs a power driver from the method registry (snmp, redfish, tasmota, shelly, webhook, ...)
// with its Linux ports, for the services tests that start it inside a lab namespace (the router's side).
// Argument: JSON { method, settings, host, steps: ["wake"|"park"|"read"|"reboot", ...] };
// validates the settings with the method's own schema, runs the steps in order, prints one JSON
// line: { issues } or { results: [...] }.

import { s, validate, type Shape } from '../../firmware/config/kit.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { silentLogger } from '../../firmware/log.js';
import type { DriverHost } from '../../firmware/power/driver.js';
import { createDriver, METHODS } from '../../firmware/power/methods.js';

const { method, settings, host, steps } = JSON.parse(process.argv[2] ?? '{}') as { method: string; settings: unknown; host: DriverHost; steps: string[] };
// Through the method registry, as the daemon builds drivers: its settings shape, then its factory.
const entry = (METHODS as Record<string, { settings: Shape }>)[method];
if (!entry) throw new Error(`no method ${method}`);
const checked = validate(s.object(entry.settings), settings);
if (checked.issues.length > 0) {
  process.stdout.write(JSON.stringify({ issues: checked.issues }) + '\n');
} else {
  const built = createDriver({ method, ...(checked.value as object) }, { clock: systemClock, processes: new LinuxProcessRunner(), log: silentLogger, stateDir: '/nonexistent' });
  if (!built.ok) throw new Error(built.detail);
  const driver = built.driver;
  const results: unknown[] = [];
  for (const step of steps) {
    const call = (driver as unknown as Record<string, ((h: DriverHost, signal: AbortSignal) => Promise<unknown>) | undefined>)[step];
    const started = performance.now();
    const result = call ? await call.call(driver, host, new AbortController().signal) : { ok: false, failure: 'unsupported', detail: `no ${step}` };
    results.push({ step, ms: Math.round(performance.now() - started), ...(result as object) });
  }
  process.stdout.write(JSON.stringify({ results }) + '\n');
}

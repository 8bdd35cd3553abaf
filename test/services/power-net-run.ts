// Runs one of the network power drivers (snmp, redfish, tasmota, shelly, webhook) with its Linux
// ports, for the services tests that start it inside a lab namespace (the router's side).
// Argument: JSON { method, settings, host, steps: ["wake"|"park"|"read"|"reboot", ...] };
// validates the settings with the method's own schema, runs the steps in order, prints one JSON
// line: { issues } or { results: [...] }.

import { s, validate, type Shape } from '../../firmware/config/kit.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { silentLogger } from '../../firmware/log.js';
import type { DriverDeps, DriverHost, PowerDriver } from '../../firmware/power/driver.js';
import { createSnmp, snmpSettings } from '../../firmware/power/snmp-pdu.js';

type Factory = { shape: Shape; create(settings: never, deps: DriverDeps): PowerDriver };
const FACTORIES: Record<string, Factory> = {
  snmp: { shape: snmpSettings, create: createSnmp as Factory['create'] },
};

const { method, settings, host, steps } = JSON.parse(process.argv[2] ?? '{}') as { method: string; settings: unknown; host: DriverHost; steps: string[] };
const factory = FACTORIES[method];
if (!factory) throw new Error(`no driver ${method}`);
const checked = validate(s.object(factory.shape), settings);
if (checked.issues.length > 0) {
  process.stdout.write(JSON.stringify({ issues: checked.issues }) + '\n');
} else {
  const driver = factory.create(checked.value as never, { clock: systemClock, processes: new LinuxProcessRunner(), log: silentLogger, stateDir: '/nonexistent' });
  const results: unknown[] = [];
  for (const step of steps) {
    const call = (driver as unknown as Record<string, ((h: DriverHost, signal: AbortSignal) => Promise<unknown>) | undefined>)[step];
    const started = performance.now();
    const result = call ? await call.call(driver, host, new AbortController().signal) : { ok: false, failure: 'unsupported', detail: `no ${step}` };
    results.push({ step, ms: Math.round(performance.now() - started), ...(result as object) });
  }
  process.stdout.write(JSON.stringify({ results }) + '\n');
}

// What the daemon needs to run power management: the service built over the daemon's balancer,
// clock, files and processes, and its answers to the control requests `power-status`,
// `power-wake`, `power-park` and `power-pin`. Keeps daemon.ts to wiring lines.

import { join } from 'node:path';
import type { Balancer } from '../balancer/service.js';
import type { ControlReply } from '../control/protocol.js';
import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import type { ProcessRunner } from '../os/process.js';
import { BalancerPowerPools } from './pools.js';
import type { PowerConfig } from './schema.js';
import { PowerService } from './service.js';
import type { DriverFactory } from './targets.js';

export interface PowerWiring {
  clock: Clock;
  files: FileStore;
  processes: ProcessRunner;
  log: Logger;
  stateDir: string;
  balancer: Balancer;
  emit(event: TandemEvent): void;
  /** CARP state of a vhid on this node. */
  carpState(vhid: number): string | undefined;
  /** Drivers other than the registry's (the demo's simulated hosts). */
  drivers?: DriverFactory;
}

export const LEDGER_FILE = 'power-ledger.json';

export function createPowerService(config: PowerConfig, wiring: PowerWiring): PowerService {
  const log = wiring.log;
  const vhid = config.vhid;
  return new PowerService(config, {
    clock: wiring.clock,
    pools: new BalancerPowerPools(wiring.balancer),
    driverDeps: { clock: wiring.clock, processes: wiring.processes, log, stateDir: wiring.stateDir },
    ...(wiring.drivers ? { drivers: wiring.drivers } : {}),
    files: wiring.files,
    ledgerPath: join(wiring.stateDir, LEDGER_FILE),
    emit: wiring.emit,
    log,
    ...(vhid !== undefined ? { isMaster: () => wiring.carpState(vhid) === 'MASTER' } : {}),
  });
}

export type PowerRequest =
  | { cmd: 'power-status' }
  | { cmd: 'power-wake'; host: string }
  | { cmd: 'power-park'; host: string }
  | { cmd: 'power-pin'; host: string; on: boolean };

export async function handlePowerRequest(power: PowerService | undefined, request: PowerRequest): Promise<ControlReply> {
  if (!power) return { ok: false, error: 'power management is not configured (no `power` section)' };
  switch (request.cmd) {
    case 'power-status':
      return { ok: true, result: power.status() };
    case 'power-wake':
    case 'power-park': {
      const outcome = power.order(request.host, request.cmd === 'power-wake' ? 'wake' : 'park');
      return outcome.ok ? { ok: true, result: { started: outcome.detail } } : outcome;
    }
    case 'power-pin': {
      const outcome = await power.pin(request.host, request.on);
      return outcome.ok ? { ok: true, result: { pinned: request.on, host: request.host } } : outcome;
    }
  }
}

// Builds the conntrackd supervisor from the config for the daemon (issue 13 item 1), so
// daemon.ts only holds the calls: which vhid drives it, and its status under `sync.conntrack`.

import type { TandemConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import type { ProcessRunner } from '../os/process.js';
import { HookRunner, type HookPaths } from '../carp/hooks.js';
import type { StateName } from '../carp/machine.js';
import { resolveConntrack } from './conntrack-conf.js';
import { LinuxDaemonLauncher, type DaemonLauncher } from './conntrack-launcher.js';
import { ConntrackService } from './conntrack-service.js';

export interface ConntrackWireDeps {
  clock: Clock;
  processes: ProcessRunner;
  launcher?: DaemonLauncher;
  log: Logger;
  /** The CARP state of a vhid now, so a conntrackd restarted by a reload gets its state's steps. */
  carpState?: (vhid: number, iface: string) => StateName | undefined;
}

/** The supervisor for `sync.conntrack`, or undefined without the section (or with an invalid one, logged). */
export function createConntrackSync(config: TandemConfig, deps: ConntrackWireDeps): ConntrackService | undefined {
  const resolved = resolveConntrack(config);
  if (!resolved) return undefined;
  if (!resolved.ok) {
    // `tandem check` and reloads refuse this config; reaching here means a caller skipped them.
    deps.log.error('sync.conntrack not started', { issues: resolved.issues.map((i) => `${i.path}: ${i.message}`) });
    return undefined;
  }
  return new ConntrackService(resolved.setup, {
    clock: deps.clock,
    processes: deps.processes,
    launcher: deps.launcher ?? new LinuxDaemonLauncher(),
    log: deps.log,
  }, deps.carpState?.(resolved.setup.vhid, resolved.setup.vhidInterface) ?? 'INIT');
}

/**
 * The CARP hook queue with conntrackd's steps in front: for each transition the steps run after
 * its address work, and the transition's hook script after the steps (keepalived's notify runs
 * primary-backup.sh the same way), so a script never sees the kernel table before the commit.
 */
export class SyncedHookRunner extends HookRunner {
  constructor(
    paths: HookPaths,
    runner: ProcessRunner,
    log: Logger,
    private readonly conntrack: () => ConntrackService | undefined,
  ) {
    super(paths, runner, log);
  }

  override transition(vhid: number, state: StateName, iface: string, after: Promise<unknown> = Promise.resolve()): Promise<void> {
    const steps = this.conntrack()?.transition(vhid, iface, state, after);
    return super.transition(vhid, state, iface, steps ? Promise.all([after, steps]) : after);
  }
}

/** Whether a reload must restart conntrackd: its section changed. */
export function conntrackChanged(before: TandemConfig, after: TandemConfig): boolean {
  return JSON.stringify(resolveConntrack(before)) !== JSON.stringify(resolveConntrack(after));
}

// Transition hooks, run the way ucarp's up/down scripts are but never concurrently: one queue
// for the whole node, in transition order, each with a timeout, so a MASTER→BACKUP script can
// never overtake the BACKUP→MASTER script before it.

import type { Logger } from '../log.js';
import type { ProcessRunner, RunResult } from '../os/process.js';
import type { StateName } from './machine.js';

export interface HookPaths {
  master?: string;
  backup?: string;
  init?: string;
  timeoutSeconds: number;
}

export class HookRunner {
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private paths: HookPaths, private readonly runner: ProcessRunner, private readonly log: Logger) {}

  configure(paths: HookPaths): void {
    this.paths = paths;
  }

  get queued(): number {
    return this.pending;
  }

  /**
   * Queues the hook for `state`; it starts once everything queued before it has finished and
   * `after` has settled (the vhost's address changes: the takeover must not wait for a fork).
   * Resolves when the hook has finished.
   */
  transition(vhid: number, state: StateName, iface: string, after: Promise<unknown> = Promise.resolve()): Promise<void> {
    const path = state === 'MASTER' ? this.paths.master : state === 'BACKUP' ? this.paths.backup : this.paths.init;
    if (!path) return this.queue;
    const timeoutMs = this.paths.timeoutSeconds * 1000;
    this.pending++;
    this.queue = this.queue.then(async () => {
      await after.catch(() => undefined);
      const args = [String(vhid), state, iface];
      let result: RunResult;
      try {
        result = await this.runner.run(path, args, { timeoutMs });
      } catch (error) {
        // A runner that throws must not reject the queue: every later hook would be skipped.
        this.pending--;
        this.log.error(`hook could not run: ${(error as Error).message}`, { hook: path, args });
        return;
      }
      this.pending--;
      const fields = { hook: path, args, code: result.code, stderr: result.stderr.trim().slice(0, 500) };
      if (result.timedOut) this.log.error(`hook killed after ${this.paths.timeoutSeconds} s`, fields);
      else if (result.code !== 0) this.log.warn('hook failed', fields);
      else this.log.info('hook ran', fields);
    });
    return this.queue;
  }

  idle(): Promise<void> {
    return this.queue;
  }
}

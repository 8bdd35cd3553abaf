// The slow inventory (CPU model, OS, board, disks) behind a port: the Linux adapter runs
// inventory-worker.ts as a child process that gathers once through systeminformation and exits,
// so its spawns and execSync never touch the event loop and none of its memory stays behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../os/clock.js';

export interface Inventory {
  cpu: { manufacturer: string; brand: string; cores: number; physicalCores: number; speedGHz: number };
  os: { platform: string; distro: string; release: string; kernel: string; arch: string };
  system: { manufacturer: string; model: string; virtual: boolean };
  disks: { device: string; type: string; name: string; sizeBytes: number }[];
  /** How long systeminformation took, in the worker process. */
  tookMs: number;
  scheduling: WorkerScheduling;
}

/** What the worker process ran at: policy as in sched(7) (0 SCHED_OTHER, 1 FIFO, 2 RR). */
export interface WorkerScheduling {
  tid: number;
  inheritedPolicy: number;
  policy: number;
  nice: number;
}

export type InventoryOutcome = { ok: true; inventory: Inventory } | { ok: false; reason: 'failed' | 'timedOut' | 'workerExited'; detail: string };

export interface InventorySource {
  gather(): Promise<InventoryOutcome>;
}

/**
 * Where the worker's code is: `dist/inventory-worker.mjs` beside the bundle (scripts/build.mjs
 * builds both), or beside this module in the source tree when run through tsx.
 */
export function inventoryWorkerUrl(moduleUrl = import.meta.url): URL {
  return moduleUrl.endsWith('.ts') ? new URL('./inventory-worker.ts', moduleUrl) : new URL('./inventory-worker.mjs', moduleUrl);
}

function startWorker(url: URL): ChildProcess {
  // A small young generation: the worker lives for one answer, so a big nursery is waste.
  const node = ['--max-semi-space-size=1', ...(url.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [])];
  return spawn(process.execPath, [...node, fileURLToPath(url)], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs the worker as a child process that prints one JSON answer and exits. */
export class ProcessInventory implements InventorySource {
  private running: Promise<InventoryOutcome> | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs = 60_000,
    private readonly url: URL = inventoryWorkerUrl(),
  ) {}

  /** One worker at a time: a second ask while one runs shares its answer. */
  gather(): Promise<InventoryOutcome> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private run(): Promise<InventoryOutcome> {
    return new Promise((resolve) => {
      const worker = startWorker(this.url);
      let settled = false;
      let stdout = '';
      let stderr = '';
      const finish = (outcome: InventoryOutcome) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve(outcome);
        // The worker exits by itself after answering; the kill covers a hung or failed one.
        if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
      };
      const timer = this.clock.setTimer(this.timeoutMs, () =>
        finish({ ok: false, reason: 'timedOut', detail: `no inventory after ${this.timeoutMs} ms` }),
      );
      worker.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const newline = stdout.indexOf('\n');
        if (newline < 0) return;
        try {
          const message = JSON.parse(stdout.slice(0, newline)) as { ok: true; inventory: Inventory } | { ok: false; error: string };
          finish(message.ok ? { ok: true, inventory: message.inventory } : { ok: false, reason: 'failed', detail: message.error });
        } catch {
          finish({ ok: false, reason: 'failed', detail: `the worker answered something that is not JSON: ${stdout.slice(0, 200)}` });
        }
      });
      worker.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
      worker.once('error', (error) => finish({ ok: false, reason: 'failed', detail: error.message }));
      worker.once('close', (code) =>
        finish({ ok: false, reason: 'workerExited', detail: `worker exited with code ${code} before answering${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}` }),
      );
    });
  }
}

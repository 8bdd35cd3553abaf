// The slow inventory (CPU model, OS, board, disks) behind a port: the Linux adapter runs
// inventory-worker.ts in a worker thread that gathers once through systeminformation and exits,
// so its spawns and execSync never touch the event loop and its memory is released afterwards.

import { Worker } from 'node:worker_threads';
import type { Clock } from '../os/clock.js';

export interface Inventory {
  cpu: { manufacturer: string; brand: string; cores: number; physicalCores: number; speedGHz: number };
  os: { platform: string; distro: string; release: string; kernel: string; arch: string };
  system: { manufacturer: string; model: string; virtual: boolean };
  disks: { device: string; type: string; name: string; sizeBytes: number }[];
  /** How long systeminformation took, in the worker. */
  tookMs: number;
  scheduling: WorkerScheduling;
}

/** What the worker thread ran at: policy as in sched(7) (0 SCHED_OTHER, 1 FIFO, 2 RR). */
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

function startWorker(url: URL): Worker {
  // A small young generation: the worker lives for one answer, so a big nursery is waste.
  const options = { resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 } };
  if (!url.pathname.endsWith('.ts')) return new Worker(url, options);
  // Source tree (tests): a worker does not inherit tsx's loader, so it registers it first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(code, { ...options, eval: true });
}

export class WorkerInventory implements InventorySource {
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
      const finish = (outcome: InventoryOutcome) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve(outcome);
        // The worker exits by itself after posting; terminate covers a hung or failed one.
        void worker.terminate();
      };
      const timer = this.clock.setTimer(this.timeoutMs, () =>
        finish({ ok: false, reason: 'timedOut', detail: `no inventory after ${this.timeoutMs} ms` }),
      );
      worker.once('message', (message: { ok: true; inventory: Inventory } | { ok: false; error: string }) =>
        finish(message.ok ? { ok: true, inventory: message.inventory } : { ok: false, reason: 'failed', detail: message.error }),
      );
      worker.once('error', (error) => finish({ ok: false, reason: 'failed', detail: error.message }));
      worker.once('exit', (code) => finish({ ok: false, reason: 'workerExited', detail: `worker exited with code ${code} before answering` }));
    });
  }
}

// The daemon's side of A/B upgrades (issue 15 item 4, contracts 3, 4 and 6): at start it reads
// /run/tandem/boot.json and the boot env, records and acknowledges a rollback, and on a trial
// boot commits the slot once the daemon has been healthy for upgrade.commitAfterSeconds; it runs
// one install at a time with progress for the CLI, the API and the event stream, and reboots
// through its port when asked.

import { join } from 'node:path';
import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import { bootEnvStore, type BootEnvStore } from './env.js';
import { installBundle, type InstallOutcome, type InstallProgress, type InstallStep } from './install.js';
import { acknowledgeRollback, bootPicture, commitTrial, decodeBootInfo, readBootVars, type BootInfo, type BootState, type Slot } from './machine.js';
import type { BlockDevices, Rebooter } from './ports.js';
import type { UpgradeConfig } from './schema.js';
import { BOOT_INFO_PATH, NOT_AN_IMAGE } from './format.js';

export const RECORD_FILE = 'upgrade.json';

export type UpgradeResult = 'committed' | 'rolled-back' | 'installed' | 'failed';

export interface UpgradeRecord {
  result: UpgradeResult;
  version: string;
  at: string;
  slot?: Slot;
  step?: InstallStep;
  reason?: string;
}

export interface UpgradeStatus {
  state: BootState | 'not-an-image';
  booted: Slot | null;
  committed: Slot | null;
  /** The running image's version (boot.json). */
  version: string | null;
  trial: { slot: Slot; booted: boolean } | null;
  last: UpgradeRecord | null;
  /** What each slot holds, as far as this box wrote or booted it; null when unknown. */
  slots: { A: string | null; B: string | null };
  installing: (InstallProgress & { version: string | null }) | null;
  /** On a trial boot: how long health must hold, and what it still waits for. */
  commit?: { afterSeconds: number; healthyForSeconds: number; waiting: string[] };
  /** Why the boot state is unknown (boot.json or the env unreadable). */
  problem?: string;
}

/** What `upgrade.json` in the stateDir keeps across boots: the last outcome and what each slot holds. */
interface UpgradeLedger {
  last: UpgradeRecord | null;
  slots: { A: string | null; B: string | null };
}

export interface UpgradeDeps {
  clock: Clock;
  files: FileStore;
  devices: BlockDevices;
  rebooter: Rebooter;
  log: Logger;
  stateDir: string;
  emit(event: TandemEvent): void;
  /** What keeps a trial from committing now (empty: healthy). */
  health(): string[];
  /** Runs before the reboot: CARP bows out, so the peer takes over at once rather than after master-down. */
  beforeReboot?(): Promise<void>;
  bootInfoPath?: string;
}

export type InstallReply = InstallOutcome & { rebooting?: boolean };

const HEALTH_TICK_MS = 1000;
const REBOOT_DELAY_MS = 1000;

export class UpgradeService {
  private boot: BootInfo | undefined;
  private env: BootEnvStore | undefined;
  private state: BootState | 'not-an-image' = 'not-an-image';
  private committed: Slot | null = null;
  private trial: { slot: Slot; booted: boolean } | null = null;
  private problem: string | undefined;
  private record: UpgradeLedger = { last: null, slots: { A: null, B: null } };
  private installing: (InstallProgress & { version: string | null }) | null = null;
  private healthTimer: TimerHandle | undefined;
  private healthySince: number | undefined;
  private waiting: string[] = [];
  private lastProgressEvent = '';

  constructor(
    private config: UpgradeConfig,
    private readonly deps: UpgradeDeps,
  ) {}

  private get recordPath(): string {
    return join(this.deps.stateDir, RECORD_FILE);
  }

  async start(): Promise<void> {
    this.record = await this.readRecord();
    const text = await this.deps.files.read(this.deps.bootInfoPath ?? BOOT_INFO_PATH).catch((error: Error) => {
      this.problem = `cannot read boot.json: ${error.message}`;
      return undefined;
    });
    if (text === undefined) return;
    const boot = decodeBootInfo(text);
    if (!boot.ok) {
      this.problem = boot.reason;
      this.deps.log.error(`upgrade: ${boot.reason}`);
      return;
    }
    this.boot = boot.value;
    this.env = bootEnvStore(boot.value, this.deps.devices);
    if (this.record.slots[boot.value.slot] !== boot.value.version) {
      this.record.slots[boot.value.slot] = boot.value.version;
      await this.writeRecord();
    }
    if (!this.env) {
      // bootloader "none" (a VM booted with -kernel): the slot runs, nothing to commit or roll back.
      this.state = 'committed';
      this.committed = boot.value.slot;
      return;
    }
    await this.refresh();
    if (this.state === 'rolled-back') await this.recordRollback();
    else if (this.state === 'trial') this.armHealth();
  }

  stop(): void {
    this.healthTimer?.cancel();
    this.healthTimer = undefined;
  }

  reload(config: UpgradeConfig): void {
    this.config = config;
  }

  /** Booted from an image (boot.json read), or boot.json is there but unusable. */
  get onImage(): boolean {
    return this.boot !== undefined || this.problem !== undefined;
  }

  status(): UpgradeStatus {
    const boot = this.boot;
    return {
      state: this.state,
      booted: boot?.slot ?? null,
      committed: this.committed,
      version: boot?.version ?? null,
      trial: this.trial,
      last: this.record.last,
      slots: { ...this.record.slots },
      installing: this.installing,
      ...(this.state === 'trial'
        ? { commit: { afterSeconds: this.config.commitAfterSeconds, healthyForSeconds: this.healthySince === undefined ? 0 : Math.floor((this.deps.clock.monotonic() - this.healthySince) / 1000), waiting: this.waiting } }
        : {}),
      ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  /** `tandem upgrade commit`: keep the trial slot now, whatever health says. */
  async commit(by: 'manual' | 'healthy'): Promise<{ ok: true; result: UpgradeStatus } | { ok: false; error: string }> {
    if (!this.boot) return { ok: false, error: this.problem ?? NOT_AN_IMAGE };
    if (this.state !== 'trial' || !this.env) return { ok: true, result: this.status() };
    try {
      await this.env.update(commitTrial(this.boot.slot));
    } catch (error) {
      this.deps.log.error(`upgrade: cannot commit slot ${this.boot.slot}: ${(error as Error).message}`);
      return { ok: false, error: `cannot commit slot ${this.boot.slot}: ${(error as Error).message}` };
    }
    this.stop();
    await this.refresh();
    this.state = 'committed';
    this.record.last = { result: 'committed', version: this.boot.version, at: this.isoNow(), slot: this.boot.slot, ...(by === 'manual' ? { reason: 'committed by hand' } : {}) };
    await this.writeRecord();
    this.deps.log.info(`upgrade: slot ${this.boot.slot} (${this.boot.version}) committed${by === 'healthy' ? ` after ${this.config.commitAfterSeconds} s of health` : ' by hand'}`);
    this.deps.emit({ type: 'upgrade', phase: 'committed', slot: this.boot.slot, version: this.boot.version, detail: by });
    return { ok: true, result: this.status() };
  }

  /** Streams a bundle into the other slot; `reboot` restarts into it once it is in place. */
  async install(source: AsyncIterable<Uint8Array>, options: { reboot: boolean }): Promise<InstallReply> {
    if (!this.boot || !this.env) {
      return { ok: false, step: 'state', reason: this.problem ?? (this.boot ? 'this image has no boot env (bootloader none): it cannot switch slots' : NOT_AN_IMAGE) };
    }
    if (this.installing) return { ok: false, step: 'state', reason: `an upgrade is already being written to slot ${this.installing.slot}` };
    const boot = this.boot;
    const target: Slot = boot.slot === 'A' ? 'B' : 'A';
    this.installing = { phase: 'write', slot: target, bytes: 0, total: 0, version: null };
    this.lastProgressEvent = '';
    this.deps.emit({ type: 'upgrade', phase: 'started', slot: target });
    let outcome: InstallOutcome;
    try {
      outcome = await installBundle(source, {
        boot,
        env: this.env,
        devices: this.deps.devices,
        publicKey: this.config.publicKey,
        trialTimeoutSeconds: this.config.trialTimeoutSeconds,
        accepted: (manifest) => {
          if (this.installing) this.installing.version = manifest.version;
          // From here the slot's old content is being overwritten.
          this.record.slots[target] = null;
        },
        progress: (progress) => this.progress(progress),
      });
    } catch (error) {
      outcome = { ok: false, step: 'write', reason: (error as Error).message };
    }
    const version = this.installing?.version ?? 'unknown';
    this.installing = null;
    if (!outcome.ok) {
      this.record.last = { result: 'failed', version, at: this.isoNow(), slot: target, step: outcome.step, reason: outcome.reason };
      await this.writeRecord();
      this.deps.log.error(`upgrade failed at ${outcome.step}: ${outcome.reason}`);
      this.deps.emit({ type: 'upgrade', phase: 'failed', slot: target, version, step: outcome.step, detail: outcome.reason });
      await this.refresh().catch(() => undefined);
      return outcome;
    }
    this.record.slots[target] = outcome.version;
    this.record.last = { result: 'installed', version: outcome.version, at: this.isoNow(), slot: target };
    await this.writeRecord();
    await this.refresh().catch(() => undefined);
    this.deps.log.info(`upgrade: slot ${target} holds ${outcome.version} (${outcome.bytes} bytes, sha256 ${outcome.sha256}), verified; it boots once on the next boot`);
    this.deps.emit({ type: 'upgrade', phase: 'installed', slot: target, version: outcome.version, bytes: outcome.bytes });
    if (!options.reboot) return outcome;
    this.deps.emit({ type: 'upgrade', phase: 'rebooting', slot: target, version: outcome.version });
    this.scheduleReboot(target);
    return { ...outcome, rebooting: true };
  }

  /** Reboots into an upgrade that was written without a reboot; refused when none waits. */
  rebootIntoTrial(): { ok: true; result: { rebooting: Slot } } | { ok: false; error: string } {
    if (!this.boot) return { ok: false, error: this.problem ?? NOT_AN_IMAGE };
    if (this.installing) return { ok: false, error: `an upgrade is still being written to slot ${this.installing.slot}` };
    const trial = this.trial;
    if (!trial || trial.booted) return { ok: false, error: 'no upgrade is waiting for a reboot (write one first)' };
    this.deps.emit({ type: 'upgrade', phase: 'rebooting', slot: trial.slot, ...(this.record.slots[trial.slot] ? { version: this.record.slots[trial.slot]! } : {}) });
    this.scheduleReboot(trial.slot);
    return { ok: true, result: { rebooting: trial.slot } };
  }

  private scheduleReboot(target: Slot): void {
    // After the reply has gone out: the client hears the outcome before the box goes down.
    this.deps.clock.setTimer(REBOOT_DELAY_MS, () => {
      void (async () => {
        await this.deps.beforeReboot?.().catch((error: Error) => this.deps.log.warn(`upgrade: stopping before the reboot: ${error.message}`));
        this.deps.log.info(`upgrade: rebooting to try slot ${target}`);
        await this.deps.rebooter.reboot();
      })().catch((error: Error) => this.deps.log.error(`upgrade: reboot failed: ${error.message}; reboot by hand to try slot ${target}`));
    });
  }

  private progress(progress: InstallProgress): void {
    this.installing = { ...progress, version: this.installing?.version ?? null };
    // Events are throttled to 5 % steps of the write and 25 % of the read-back: the event ring
    // and MQTT should hear the progress, not every megabyte of it.
    const step = progress.phase === 'write' ? 5 : 25;
    const bucket = `${progress.phase}:${Math.floor((progress.bytes / Math.max(1, progress.total)) * (100 / step))}`;
    if (bucket === this.lastProgressEvent) return;
    this.lastProgressEvent = bucket;
    this.deps.emit({ type: 'upgrade', phase: 'progress', slot: progress.slot, bytes: progress.bytes, total: progress.total, detail: progress.phase });
  }

  private async refresh(): Promise<void> {
    if (!this.boot || !this.env) return;
    try {
      const vars = readBootVars(await this.env.read());
      if (!vars.ok) throw new Error(vars.reason);
      const picture = bootPicture(this.boot.slot, vars.value);
      // A rollback stays this boot's state after it is acknowledged: the status says what happened.
      if (this.state !== 'rolled-back') this.state = picture.state;
      this.committed = picture.committed;
      this.trial = picture.trial;
      this.problem = undefined;
    } catch (error) {
      this.problem = `cannot read the boot env: ${(error as Error).message}`;
      this.deps.log.error(`upgrade: ${this.problem}`);
    }
  }

  private async recordRollback(): Promise<void> {
    const boot = this.boot!;
    const failed = this.trial?.slot ?? (boot.slot === 'A' ? 'B' : 'A');
    const version = this.record.slots[failed] ?? 'unknown';
    const reason = `the trial boot of slot ${failed} did not commit in time; the bootloader went back to slot ${boot.slot}`;
    this.record.last = { result: 'rolled-back', version, at: this.isoNow(), slot: failed, reason };
    await this.writeRecord();
    this.deps.log.warn(`upgrade: rolled back: ${reason}`);
    this.deps.emit({ type: 'upgrade', phase: 'rolled-back', slot: failed, version, detail: reason });
    try {
      await this.env!.update(acknowledgeRollback());
      this.trial = null;
    } catch (error) {
      this.deps.log.error(`upgrade: cannot clear the failed trial from the boot env: ${(error as Error).message}`);
    }
  }

  private armHealth(): void {
    this.healthTimer = this.deps.clock.setTimer(HEALTH_TICK_MS, () => void this.checkHealth());
  }

  private async checkHealth(): Promise<void> {
    this.healthTimer = undefined;
    if (this.state !== 'trial') return;
    const now = this.deps.clock.monotonic();
    this.waiting = this.deps.health();
    if (this.waiting.length > 0) this.healthySince = undefined;
    else {
      this.healthySince ??= now;
      if (now - this.healthySince >= this.config.commitAfterSeconds * 1000) {
        const result = await this.commit('healthy');
        if (result.ok) return;
      }
    }
    this.armHealth();
  }

  private isoNow(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }

  private async readRecord(): Promise<UpgradeLedger> {
    const empty: UpgradeLedger = { last: null, slots: { A: null, B: null } };
    const text = await this.deps.files.read(this.recordPath).catch(() => undefined);
    if (!text) return empty;
    try {
      const parsed = JSON.parse(text) as Partial<UpgradeLedger>;
      const slot = (v: unknown) => (typeof v === 'string' ? v : null);
      return { last: parsed.last && typeof parsed.last === 'object' ? parsed.last : null, slots: { A: slot(parsed.slots?.A), B: slot(parsed.slots?.B) } };
    } catch {
      this.deps.log.warn(`ignoring unreadable ${this.recordPath}`);
      return empty;
    }
  }

  private async writeRecord(): Promise<void> {
    await this.deps.files.writeAtomic(this.recordPath, JSON.stringify(this.record) + '\n').catch((error: Error) => this.deps.log.error(`upgrade: cannot write ${this.recordPath}: ${error.message}`));
  }
}

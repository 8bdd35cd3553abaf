// Config apply with automatic rollback, for the web UI (issue 12 item 1, issue 14 item 1): a
// candidate is checked exactly as `tandem check` checks it, written atomically over the config
// file and put in force. With a confirm window the previous text waits in a ledger,
// `<node.stateDir>/config-apply.json`, and goes back by itself unless confirmed in time, also
// across a crash (`recoverConfigApply` before the daemon is built): firewall/confirm-ledger.ts's
// pattern. The ledger is written only on apply, confirm and revert: the card is read-mostly.

import { parseConfig, type LocatedIssue } from '../config/load.js';
import type { TandemConfig } from '../config/schema.js';
import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import type { ConfigAccess } from './types.js';

export const LEDGER_FILE = 'config-apply.json';

/** What must survive a crash; `deadline` is wall-clock ms, since a restart has no monotonic clock. */
export interface ConfigApplyRecord {
  pending?: { deadline: number; appliedAt: string; previous: string };
  /** The last automatic revert; `announced` once its event was raised (a revert at start raises it later). */
  lastRevert?: { at: string; why: string; announced?: boolean };
}

export type ConfigCheck = { ok: true; config: TandemConfig } | { ok: false; issues: LocatedIssue[] };

export type ConfigApplyResult =
  | { ok: true; phase: 'active' | 'pending'; revertsAt?: string }
  | { ok: false; reason: 'invalid'; issues: LocatedIssue[] }
  | { ok: false; reason: 'failed'; error: string };

export interface ConfigApplyStatus {
  /** pending: applied, goes back to the previous config unless confirmed by `revertsAt`. */
  phase: 'active' | 'pending';
  path: string;
  appliedAt?: string;
  revertsAt?: string;
  revertsInSeconds?: number;
  lastRevert?: { at: string; why: string };
  lastError?: string;
}

/** What the API drives; `Daemon.configApply` is one. */
export interface ConfigApplyPort extends ConfigAccess {
  check(text: string): ConfigCheck;
  apply(text: string, options?: { confirmWithinSeconds?: number }): Promise<ConfigApplyResult>;
  confirm(): Promise<{ ok: true } | { ok: false; error: string }>;
  status(): ConfigApplyStatus;
}

export interface ConfigApplyDeps {
  files: FileStore;
  clock: Clock;
  log: Logger;
  /** The config file. */
  path: string;
  ledgerPath: string;
  /** Puts a checked config in force (`Daemon.applyConfig`). */
  apply(config: TandemConfig): Promise<void>;
  emit(event: TandemEvent): void;
}

/** Exactly `tandem check`: the same parser, schema and semantic checks, issues with paths and lines. */
export function checkConfigText(text: string): ConfigCheck {
  return parseConfig(text);
}

async function readRecord(files: FileStore, path: string, log?: Logger): Promise<ConfigApplyRecord> {
  const text = await files.read(path).catch((error: Error) => {
    log?.error(`cannot read ${path}: ${error.message}`);
    return undefined;
  });
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as ConfigApplyRecord;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    log?.warn(`${path} is not JSON; ignoring it`);
    return {};
  }
}

function writeRecord(files: FileStore, path: string, record: ConfigApplyRecord): Promise<void> {
  return files.writeAtomic(path, JSON.stringify(record) + '\n');
}

/**
 * Before the daemon is built (`tandem run`): a config applied and never confirmed whose window
 * passed while no daemon ran goes back now, so the daemon starts on the previous one, never
 * even briefly on the unconfirmed one. The revert is announced once the daemon runs.
 */
export async function recoverConfigApply(options: { files: FileStore; path: string; ledgerPath: string; now: number; log?: Logger }): Promise<{ restored: boolean }> {
  const { files, path, ledgerPath, now, log } = options;
  const record = await readRecord(files, ledgerPath, log);
  if (!record.pending || record.pending.deadline > now) return { restored: false };
  await files.writeAtomic(path, record.pending.previous);
  const why = `applied ${record.pending.appliedAt} and not confirmed by ${new Date(record.pending.deadline).toISOString()}; the previous config was restored at start`;
  await writeRecord(files, ledgerPath, { lastRevert: { at: new Date(now).toISOString(), why, announced: false } });
  log?.warn(`config: ${why}`);
  return { restored: true };
}

export class ConfigApply implements ConfigApplyPort {
  private record: ConfigApplyRecord = {};
  private timer: { handle: TimerHandle; token: number } | undefined;
  private tokens = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private appliedAt: string | undefined;
  private lastError: string | undefined;

  constructor(private readonly deps: ConfigApplyDeps) {}

  get path(): string {
    return this.deps.path;
  }

  /** Serial: an apply, a confirm and a revert never interleave. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resumes a window that was open when the daemon stopped, and announces a revert made at start. */
  start(): Promise<void> {
    return this.serial(async () => {
      const { files, ledgerPath, clock } = this.deps;
      this.record = await readRecord(files, ledgerPath, this.deps.log);
      const pending = this.record.pending;
      if (pending) {
        this.appliedAt = pending.appliedAt;
        if (pending.deadline <= clock.now()) await this.revert('the confirm window passed while the daemon was down');
        else this.arm(pending.deadline - clock.now());
      }
      const revert = this.record.lastRevert;
      if (revert && !revert.announced) {
        this.deps.emit({ type: 'configApply', outcome: 'reverted', detail: revert.why });
        this.record = { ...this.record, lastRevert: { at: revert.at, why: revert.why, announced: true } };
        await this.persist();
      }
    });
  }

  /** The timer goes; the ledger stays, so a restart after the deadline still reverts. */
  stop(): void {
    this.timer?.handle.cancel();
    this.timer = undefined;
  }

  async read(): Promise<{ path: string; text: string }> {
    const text = await this.deps.files.read(this.deps.path);
    if (text === undefined) throw new Error(`the config file ${this.deps.path} does not exist`);
    return { path: this.deps.path, text };
  }

  check(text: string): ConfigCheck {
    return checkConfigText(text);
  }

  apply(text: string, options: { confirmWithinSeconds?: number } = {}): Promise<ConfigApplyResult> {
    return this.serial(async () => {
      const { files, clock, log, path } = this.deps;
      const checked = checkConfigText(text);
      if (!checked.ok) {
        this.deps.emit({ type: 'configApply', outcome: 'refused', detail: `${checked.issues.length} issue(s); the running config stays in force` });
        return { ok: false as const, reason: 'invalid' as const, issues: checked.issues };
      }
      // A second apply inside a window keeps the first one's previous text: a revert goes back
      // to the last config someone confirmed, not to an intermediate one.
      let previous = this.record.pending?.previous;
      if (previous === undefined) {
        previous = await files.read(path).catch(() => undefined);
        if (previous === undefined) return this.fail(`cannot read the running config file ${path}; nothing applied`);
      }
      const now = clock.now();
      const appliedAt = new Date(now).toISOString();
      const seconds = options.confirmWithinSeconds;
      const before = this.record;
      const next: ConfigApplyRecord = seconds !== undefined ? { ...before, pending: { deadline: now + seconds * 1000, appliedAt, previous } } : withoutPending(before);
      try {
        // The window is recorded before the file changes: a crash between the two still finds it.
        if (seconds !== undefined) await writeRecord(files, this.deps.ledgerPath, next);
        await files.writeAtomic(path, text);
      } catch (error) {
        if (seconds !== undefined) await writeRecord(files, this.deps.ledgerPath, before).catch(() => undefined);
        return this.fail(`cannot write ${path}: ${(error as Error).message}; nothing applied`);
      }
      try {
        await this.deps.apply(checked.config);
      } catch (error) {
        // Half-applied is the worst state for a router: back to the previous file and config.
        const message = (error as Error).message;
        await files.writeAtomic(path, previous).catch(() => undefined);
        const back = parseConfig(previous);
        if (back.ok) await this.deps.apply(back.config).catch((e: Error) => log.error(`config: restoring the previous config failed: ${e.message}`));
        this.record = withoutPending(before);
        await this.persist();
        return this.fail(`applying failed (${message}); the previous config was restored`);
      }
      this.record = next;
      if (seconds === undefined && before.pending) await this.persist();
      this.stop();
      this.appliedAt = appliedAt;
      this.lastError = undefined;
      if (seconds === undefined) {
        log.info('config: applied');
        this.deps.emit({ type: 'configApply', outcome: 'applied' });
        return { ok: true as const, phase: 'active' as const };
      }
      this.arm(seconds * 1000);
      const revertsAt = new Date(now + seconds * 1000).toISOString();
      log.warn(`config: applied; it reverts at ${revertsAt} unless confirmed`);
      this.deps.emit({ type: 'configApply', outcome: 'applied', revertsAt });
      return { ok: true as const, phase: 'pending' as const, revertsAt };
    });
  }

  confirm(): Promise<{ ok: true } | { ok: false; error: string }> {
    return this.serial(async () => {
      if (!this.record.pending) return { ok: false as const, error: 'no config apply is waiting for confirmation' };
      this.stop();
      this.record = withoutPending(this.record);
      await this.persist();
      this.deps.log.info('config: confirmed');
      this.deps.emit({ type: 'configApply', outcome: 'confirmed' });
      return { ok: true as const };
    });
  }

  status(): ConfigApplyStatus {
    const pending = this.record.pending;
    const revert = this.record.lastRevert;
    return {
      phase: pending ? 'pending' : 'active',
      path: this.deps.path,
      ...(this.appliedAt ? { appliedAt: this.appliedAt } : {}),
      ...(pending
        ? { revertsAt: new Date(pending.deadline).toISOString(), revertsInSeconds: Math.max(0, Math.ceil((pending.deadline - this.deps.clock.now()) / 1000)) }
        : {}),
      ...(revert ? { lastRevert: { at: revert.at, why: revert.why } } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private arm(ms: number): void {
    this.stop();
    const token = ++this.tokens;
    this.timer = { token, handle: this.deps.clock.setTimer(ms, () => void this.expire(token)) };
  }

  private expire(token: number): Promise<void> {
    return this.serial(async () => {
      if (this.timer?.token !== token || !this.record.pending) return;
      this.timer = undefined;
      const seconds = Math.round((this.record.pending.deadline - Date.parse(this.record.pending.appliedAt)) / 1000);
      await this.revert(`not confirmed within ${seconds} s`);
    });
  }

  /** Back to the previous text, in the file and in force; called inside serial(). */
  private async revert(why: string): Promise<void> {
    const { files, log, path, clock } = this.deps;
    const previous = this.record.pending?.previous;
    if (previous === undefined) return;
    try {
      await files.writeAtomic(path, previous);
    } catch (error) {
      this.lastError = `cannot restore ${path}: ${(error as Error).message}`;
      log.error(`config: ${this.lastError}`);
    }
    const back = parseConfig(previous);
    if (back.ok) {
      try {
        await this.deps.apply(back.config);
      } catch (error) {
        this.lastError = `restoring the previous config failed: ${(error as Error).message}`;
        log.error(`config: ${this.lastError}`);
      }
    } else {
      this.lastError = `the previous config no longer checks (${back.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}); it was written back but not applied`;
      log.error(`config: ${this.lastError}`);
    }
    this.record = { lastRevert: { at: new Date(clock.now()).toISOString(), why, announced: true } };
    await this.persist();
    log.warn(`config: reverted to the previous config: ${why}`);
    this.deps.emit({ type: 'configApply', outcome: 'reverted', detail: why });
  }

  private async persist(): Promise<void> {
    try {
      await writeRecord(this.deps.files, this.deps.ledgerPath, this.record);
    } catch (error) {
      this.lastError = `cannot write ${this.deps.ledgerPath}: ${(error as Error).message}`;
      this.deps.log.error(`config: ${this.lastError}`);
    }
  }

  private fail(error: string): ConfigApplyResult {
    this.lastError = error;
    this.deps.log.error(`config: ${error}`);
    this.deps.emit({ type: 'configApply', outcome: 'failed', detail: error });
    return { ok: false, reason: 'failed', error };
  }
}

function withoutPending(record: ConfigApplyRecord): ConfigApplyRecord {
  const { pending: _pending, ...rest } = record;
  return rest;
}

/** `tandem run`: the config to start on, after `recoverConfigApply` had its say. */
export async function startingConfig(options: { files: FileStore; path: string; config: TandemConfig; now: number; log: Logger }): Promise<TandemConfig> {
  const { files, path, config, now, log } = options;
  const { restored } = await recoverConfigApply({ files, path, ledgerPath: `${config.node.stateDir.replace(/\/+$/, '')}/${LEDGER_FILE}`, now, log });
  if (!restored) return config;
  const back = parseConfig((await files.read(path)) ?? '');
  if (back.ok) return back.config;
  log.error(`config: the restored previous config does not check; starting on the unconfirmed one: ${back.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return config;
}

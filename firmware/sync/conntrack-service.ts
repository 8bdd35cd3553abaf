// Supervises Debian's conntrackd for connection-state sync (issue 13, item 1): writes its config,
// runs it in the foreground with restart backoff, and on each CARP transition of the driving vhid
// runs the primary-backup steps (conntrack-steps.ts) one at a time, in transition order, off the
// CARP timing path. Talks to the daemon with `conntrackd -C FILE -c|-f|-R|-B|-t|-n|-s`.

import type { StateName } from '../carp/machine.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { ProcessRunner } from '../os/process.js';
import { renderConntrackdConf, type ConntrackSetup } from './conntrack-conf.js';
import type { ChildExit, DaemonChild, DaemonLauncher } from './conntrack-launcher.js';
import { parseConntrackStats, type ConntrackCounters } from './conntrack-stats.js';
import { planSteps, STEP_FLAG, type ConntrackStep } from './conntrack-steps.js';

export type StepOutcome = 'ok' | 'failed' | 'timedOut' | 'notRunning';

export interface StepResult {
  step: ConntrackStep;
  outcome: StepOutcome;
  ms: number;
  detail?: string;
}

export interface TransitionRecord {
  from: StateName;
  to: StateName;
  /** Why the steps ran: a CARP transition, or conntrackd (re)started under a settled state. */
  cause: 'transition' | 'restart';
  at: number;
  steps: StepResult[];
  done: boolean;
}

export interface ConntrackStatus {
  running: boolean;
  pid?: number;
  restarts: number;
  lastExit?: string;
  vhid: number;
  transport: 'udp' | 'multicast';
  interface: string;
  lastSteps?: TransitionRecord;
  counters?: ConntrackCounters;
  countersAgeSeconds?: number;
}

export interface ConntrackPorts {
  clock: Clock;
  processes: ProcessRunner;
  launcher: DaemonLauncher;
  log: Logger;
}

const READY_POLL_MS = 50;
const READY_TIMEOUT_MS = 10_000;
const CLIENT_TIMEOUT_MS = 30_000;
const STATS_EVERY_MS = 5_000;
const STOP_GRACE_MS = 3_000;

export class ConntrackService {
  private child: DaemonChild | undefined;
  private ready = false;
  private stopping = false;
  private launching: Promise<boolean> | undefined;
  private starting: Promise<void> | undefined;
  private restartTimer: TimerHandle | undefined;
  private statsTimer: TimerHandle | undefined;
  private backoffMs: number;
  private restarts = 0;
  private lastExit: string | undefined;
  private childStartedAt = 0;
  private queue: Promise<void> = Promise.resolve();
  private lastSteps: TransitionRecord | undefined;
  private counters: { value: ConntrackCounters; at: number } | undefined;
  private statsRunning = false;
  /** The driving vhid's state as the transitions reported it. */
  private vhidState: StateName = 'INIT';
  private transitionSeen = false;

  /** `state`: the driving vhid's CARP state now, when this service replaces one (a reload). */
  constructor(readonly setup: ConntrackSetup, private readonly ports: ConntrackPorts, state: StateName = 'INIT') {
    this.backoffMs = setup.restartMinMs;
    this.vhidState = state;
  }

  /** Writes the config and starts conntrackd; transitions queued meanwhile wait for it. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      await this.ports.launcher.writeFile(this.setup.paths.conf, renderConntrackdConf(this.setup));
      const ok = await this.launch();
      this.scheduleStats();
      // Started under a settled state (a reload): its caches are empty, so that state's row runs,
      // unless a transition since has queued its own.
      if (ok && this.vhidState !== 'INIT' && !this.transitionSeen) void this.enqueue('INIT', this.vhidState, 'restart', Promise.resolve());
    })();
    return this.starting;
  }

  /**
   * A CARP transition to `to`: the steps are queued behind earlier ones and run after `after`
   * (the transition's address work). Resolves when they have run; other vhids resolve at once.
   */
  transition(vhid: number, iface: string, to: StateName, after: Promise<unknown> = Promise.resolve()): Promise<void> {
    if (vhid !== this.setup.vhid || iface !== this.setup.vhidInterface || this.stopping) return Promise.resolve();
    const from = this.vhidState;
    this.vhidState = to;
    this.transitionSeen = true;
    return this.enqueue(from, to, 'transition', after);
  }

  idle(): Promise<void> {
    return this.queue;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.restartTimer?.cancel();
    this.statsTimer?.cancel();
    await this.starting?.catch(() => undefined);
    await this.queue;
    await this.launching;
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    // SIGTERM makes conntrackd remove its lock file; one that hangs is killed.
    let timer: TimerHandle | undefined;
    const late = new Promise<'late'>((resolve) => (timer = this.ports.clock.setTimer(STOP_GRACE_MS, () => resolve('late'))));
    if ((await Promise.race([child.exited, late])) === 'late') {
      child.kill('SIGKILL');
      await this.ports.launcher.removeFile(this.setup.paths.lock);
    }
    timer?.cancel();
    this.child = undefined;
    this.ready = false;
  }

  /** Simulated kill -9 of Tandem: the child dies with it (setpriv's parent-death signal). */
  abandon(): void {
    this.stopping = true;
    this.restartTimer?.cancel();
    this.statsTimer?.cancel();
    this.child?.kill('SIGKILL');
  }

  status(): ConntrackStatus {
    const counters = this.counters;
    return {
      running: this.ready,
      ...(this.child?.pid !== undefined ? { pid: this.child.pid } : {}),
      restarts: this.restarts,
      ...(this.lastExit !== undefined ? { lastExit: this.lastExit } : {}),
      vhid: this.setup.vhid,
      transport: this.setup.peer !== undefined ? 'udp' : 'multicast',
      interface: this.setup.interface,
      ...(this.lastSteps ? { lastSteps: structuredClone(this.lastSteps) } : {}),
      ...(counters
        ? { counters: { ...counters.value }, countersAgeSeconds: Math.round((this.ports.clock.monotonic() - counters.at) / 100) / 10 }
        : {}),
    };
  }

  /** Runs `conntrackd -C FILE flag` to completion; exit 0 is success. */
  private async client(flag: string): Promise<{ outcome: StepOutcome; stdout: string; detail?: string }> {
    const result = await this.ports.processes.run(this.setup.binary, ['-C', this.setup.paths.conf, flag], { timeoutMs: CLIENT_TIMEOUT_MS });
    if (result.timedOut) return { outcome: 'timedOut', stdout: result.stdout };
    if (result.code === 0) return { outcome: 'ok', stdout: result.stdout };
    const detail = lastErrorLine(result.stderr) ?? `exit ${result.code ?? result.signal}`;
    return { outcome: 'failed', stdout: result.stdout, detail };
  }

  private enqueue(from: StateName, to: StateName, cause: TransitionRecord['cause'], after: Promise<unknown>): Promise<void> {
    const steps = planSteps(from, to);
    if (steps.length === 0) return this.queue;
    this.queue = this.queue.then(async () => {
      await after.catch(() => undefined);
      if (this.stopping) return;
      const record: TransitionRecord = { from, to, cause, at: this.ports.clock.now(), steps: [], done: false };
      this.lastSteps = record;
      let running = true;
      for (const step of steps) {
        const started = this.ports.clock.monotonic();
        let result: { outcome: StepOutcome; detail?: string };
        // A new MASTER skips the -s probe of a live child: the commit is what the traffic waits for.
        if (step === 'ensureRunning') result = (running = await this.ensureRunning(to !== 'MASTER')) ? { outcome: 'ok' } : { outcome: 'notRunning' };
        else if (!running) result = { outcome: 'notRunning' };
        else result = await this.client(STEP_FLAG[step]).catch((error: Error) => ({ outcome: 'failed' as const, detail: error.message }));
        record.steps.push({ step, ...result, ms: Math.round(this.ports.clock.monotonic() - started) });
      }
      record.done = true;
      const fields = { from, to, cause, steps: record.steps.map((s) => `${s.step}:${s.outcome}:${s.ms}ms`) };
      if (record.steps.every((s) => s.outcome === 'ok')) this.ports.log.info('conntrackd steps ran', fields);
      else this.ports.log.warn('conntrackd steps failed', fields);
      await this.refreshStats();
    });
    return this.queue;
  }

  private async ensureRunning(probe: boolean): Promise<boolean> {
    await this.starting?.catch(() => undefined);
    if (this.launching) return this.launching;
    if (this.child && this.ready) {
      if (!probe || (await this.client('-s')).outcome === 'ok') return true;
    }
    if (this.child) return false;
    // Dead and waiting out its backoff: a transition needs it now.
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    return this.launch();
  }

  private launch(): Promise<boolean> {
    this.launching ??= this.launchOnce().finally(() => (this.launching = undefined));
    return this.launching;
  }

  private async launchOnce(): Promise<boolean> {
    // A daemon answering on our socket that is not our child is an orphan of an earlier run:
    // it would hold the lock and the socket, so it is told to stop first.
    if ((await this.client('-s')).outcome === 'ok') {
      this.ports.log.warn('an orphaned conntrackd answered on the socket; stopping it');
      await this.client('-k');
      await this.sleep(200);
    }
    // No child of ours is alive now, so the lock left by a crash is stale.
    await this.ports.launcher.removeFile(this.setup.paths.lock);
    if (this.stopping) return false;
    const child = this.ports.launcher.spawn(this.setup.binary, ['-C', this.setup.paths.conf], (line) => this.daemonSaid(line));
    this.child = child;
    this.ready = false;
    this.childStartedAt = this.ports.clock.monotonic();
    void child.exited.then((exit) => this.exited(child, exit));
    const deadline = this.ports.clock.monotonic() + READY_TIMEOUT_MS;
    while (this.child === child && this.ports.clock.monotonic() < deadline) {
      if ((await this.client('-s')).outcome === 'ok') {
        if (this.child !== child) return false;
        this.ready = true;
        this.ports.log.info('conntrackd running', { pid: child.pid, transport: this.setup.peer !== undefined ? 'udp' : 'multicast' });
        return true;
      }
      await this.sleep(READY_POLL_MS);
    }
    if (this.child === child) {
      this.ports.log.error('conntrackd did not answer after start; killing it');
      child.kill('SIGKILL');
    }
    return false;
  }

  private exited(child: DaemonChild, exit: ChildExit): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.ready = false;
    if (this.stopping) return;
    this.restarts++;
    this.lastExit = `${exit.signal ? `signal ${exit.signal}` : `exit ${exit.code}`}${lastErrorLine(exit.stderr) ? `: ${lastErrorLine(exit.stderr)}` : ''}`;
    // A daemon that ran a while before dying starts over from the shortest wait.
    if (this.ports.clock.monotonic() - this.childStartedAt >= this.setup.restartMaxMs) this.backoffMs = this.setup.restartMinMs;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.setup.restartMaxMs);
    this.ports.log.warn(`conntrackd stopped (${this.lastExit}); restarting in ${delay} ms`);
    this.restartTimer = this.ports.clock.setTimer(delay, () => {
      this.restartTimer = undefined;
      void this.launch().then((ok) => {
        // Its caches are empty: redo the current state's steps (a MASTER bulk-sends, a BACKUP asks for a resync).
        const state = this.vhidState;
        if (ok && state !== 'INIT') void this.enqueue('INIT', state, 'restart', Promise.resolve());
      });
    });
  }

  /** conntrackd's own log lines ("[time] (pid=N) [level] text") into Tandem's log. */
  private daemonSaid(line: string): void {
    const match = /^\[[^\]]*\] \(pid=\d+\) \[(\w+)\] (.*)$/.exec(line.trim());
    const level = match?.[1] ?? 'notice';
    const text = (match?.[2] ?? line).slice(0, 500);
    if (level === 'ERROR' || level === 'warning') this.ports.log.warn(`conntrackd: ${text}`);
    else this.ports.log.info(`conntrackd: ${text}`);
  }

  private scheduleStats(): void {
    if (this.stopping) return;
    this.statsTimer = this.ports.clock.setTimer(STATS_EVERY_MS, () => {
      void this.refreshStats().finally(() => this.scheduleStats());
    });
  }

  private async refreshStats(): Promise<void> {
    if (!this.ready || this.statsRunning) return;
    this.statsRunning = true;
    try {
      const result = await this.client('-s');
      const parsed = result.outcome === 'ok' ? parseConntrackStats(result.stdout) : undefined;
      if (parsed) this.counters = { value: parsed, at: this.ports.clock.monotonic() };
    } finally {
      this.statsRunning = false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.ports.clock.setTimer(ms, resolve));
  }
}

function lastErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const error = lines.filter((l) => l.includes('[ERROR]')).at(-1) ?? lines.at(-1);
  return error?.replace(/^\[[^\]]*\] \(pid=\d+\) /, '').slice(0, 300);
}

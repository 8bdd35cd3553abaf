// The board service: shows the daemon's state on the LEDs (patterns.ts decides, this file only
// writes changes), turns a long press of the button into maintenance on/off through the
// daemon's own maintenance path, and keeps the watchdog fed (watchdog.ts). The watchdog starts
// first and stops last, so a hang anywhere in between still resets the board.

import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import { buttonEdge, idleButton, type ButtonEdge, type ButtonOutcome, type ButtonState } from './button.js';
import { faultReasons, ledPatterns, type BoardInputs, type LedPattern, type LedRole } from './patterns.js';
import type { BoardDriverFactory, ButtonPort, LedPort } from './ports.js';
import type { ResolvedBoard } from './profiles.js';
import { WatchdogFeeder, type WatchdogStatus } from './watchdog.js';

// Faults without an event of their own (a capability that stopped) are noticed this often.
const REFRESH_MS = 5000;

export interface BoardDeps {
  clock: Clock;
  log: Logger;
  drivers: BoardDriverFactory;
  inputs: () => BoardInputs;
  /** The daemon's maintenance path (persisted, evented), as `tandem maintenance on|off` takes. */
  maintenance: { get(): boolean; set(on: boolean, by: string): Promise<void> };
}

export interface BoardStatus {
  profile: string;
  leds: Partial<Record<LedRole, { line: string; pattern: LedPattern | 'unset'; error?: string }>>;
  faults: string[];
  button?: { line: string; longPressSeconds: number; presses: Record<Exclude<ButtonOutcome, 'ignored'>, number>; lastLongPressAt?: string; error?: string };
  watchdog?: WatchdogStatus;
}

interface LedSlot {
  port: LedPort;
  shown: LedPattern | 'unset';
  /** Writes to one LED run one after another, so the last pattern asked for is the one left. */
  queue: Promise<void>;
  error?: string;
}

export class BoardService {
  private readonly leds = new Map<LedRole, LedSlot>();
  private button: ButtonPort | undefined;
  private buttonState: ButtonState = idleButton;
  private presses = { 'long-press': 0, 'short-press': 0 };
  private lastLongPressAt: number | undefined;
  private buttonError: string | undefined;
  private watchdog: WatchdogFeeder | undefined;
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(
    private readonly board: ResolvedBoard,
    private readonly deps: BoardDeps,
  ) {}

  async start(): Promise<void> {
    const { drivers, log, clock } = this.deps;
    if (this.board.watchdog) {
      const port = drivers.watchdog(this.board.watchdog.device);
      this.watchdog = new WatchdogFeeder(port, this.board.watchdog.timeoutSeconds, clock, log);
      try {
        await this.watchdog.start();
        log.info(`watchdog ${port.label}: feeding every ${this.watchdog.status().intervalMs} ms`);
      } catch (error) {
        this.watchdog.fail(error as Error);
        log.error(`watchdog ${port.label} not opened: ${(error as Error).message}`);
      }
    }
    for (const [role, line] of Object.entries(this.board.leds) as [LedRole, NonNullable<ResolvedBoard['leds'][LedRole]>][]) {
      this.leds.set(role, { port: drivers.led(line), shown: 'unset', queue: Promise.resolve() });
    }
    this.running = true;
    this.refresh();
    const tick = () => {
      this.refresh();
      this.timer = clock.setTimer(REFRESH_MS, tick);
    };
    this.timer = clock.setTimer(REFRESH_MS, tick);
    if (this.board.button) {
      const button = drivers.button(this.board.button);
      try {
        await button.start(
          (edge) => this.onEdge(edge),
          (error) => {
            this.buttonError = error.message;
            log.error(`button ${button.label}: ${error.message}`);
          },
        );
        this.button = button;
      } catch (error) {
        this.buttonError = (error as Error).message;
        log.error(`button ${button.label} not started: ${this.buttonError}`);
      }
    }
  }

  /** Shows the daemon's state now; called on every event and every few seconds. */
  refresh(): void {
    if (!this.running) return;
    const patterns = ledPatterns(this.deps.inputs());
    for (const [role, slot] of this.leds) this.show(role, slot, patterns[role]);
  }

  /** Resolves once every LED shows what was last asked of it. */
  async settled(): Promise<void> {
    await Promise.all([...this.leds.values()].map((slot) => slot.queue));
  }

  private show(role: LedRole, slot: LedSlot, pattern: LedPattern): void {
    if (slot.shown === pattern) return;
    slot.shown = pattern;
    slot.queue = slot.queue.then(() =>
      slot.port.set(pattern).then(
        () => {
          slot.error = undefined;
        },
        (error: Error) => {
          // Written again at the next change; an LED must never take the daemon down.
          slot.error = error.message;
          slot.shown = 'unset';
          this.deps.log.warn(`led ${role} (${slot.port.label}): ${error.message}`);
        },
      ),
    );
  }

  private onEdge(edge: ButtonEdge): void {
    const { state, outcome } = buttonEdge(this.buttonState, edge, this.board.longPressMs);
    this.buttonState = state;
    if (outcome === undefined || outcome === 'ignored') return;
    this.presses[outcome]++;
    if (outcome !== 'long-press') return;
    this.lastLongPressAt = this.deps.clock.now();
    const on = !this.deps.maintenance.get();
    this.deps.log.info(`button ${this.button?.label ?? ''}: long press: maintenance ${on ? 'on' : 'off'}`);
    this.deps.maintenance.set(on, 'button').then(
      () => this.refresh(),
      (error: Error) => this.deps.log.error(`button: maintenance ${on ? 'on' : 'off'} failed: ${error.message}`),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await this.button?.stop().catch(() => undefined);
    await this.settled();
    for (const slot of this.leds.values()) await slot.port.close().catch(() => undefined);
    await this.watchdog?.stop();
  }

  /** Crash: the watchdog is left armed (no magic close), so the board resets unless tandem returns. */
  async abandon(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    await this.button?.stop().catch(() => undefined);
    await this.watchdog?.abandon();
  }

  status(): BoardStatus {
    const inputs = this.running ? this.deps.inputs() : undefined;
    return {
      profile: this.board.profile,
      leds: Object.fromEntries(
        [...this.leds].map(([role, slot]) => [role, { line: slot.port.label, pattern: slot.shown, ...(slot.error ? { error: slot.error } : {}) }]),
      ),
      faults: inputs ? faultReasons(inputs) : [],
      ...(this.board.button
        ? {
            button: {
              line: this.button?.label ?? (this.board.button.type === 'input' ? `input:${this.board.button.device}` : `gpio:${this.board.button.line}`),
              longPressSeconds: this.board.longPressMs / 1000,
              presses: { ...this.presses },
              ...(this.lastLongPressAt !== undefined ? { lastLongPressAt: new Date(this.lastLongPressAt).toISOString() } : {}),
              ...(this.buttonError !== undefined ? { error: this.buttonError } : {}),
            },
          }
        : {}),
      ...(this.watchdog ? { watchdog: this.watchdog.status() } : {}),
    };
  }
}

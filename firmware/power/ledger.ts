// The parked-host ledger (issue 10, item 5): who is parked, since when and how, runtime pins,
// learned latencies and the cycle history, as one JSON file under `node.stateDir`. Written
// atomically (firmware/os/files.ts) and only when its content changed: CF cards get no
// periodic writes. The functions are pure; LedgerStore is the only part that touches disk.

import type { FileStore } from '../os/files.js';
import { learn, sanitiseLatency, type LatencyKind, type LatencyTable } from './latency.js';

/** Where a host stands as far as this node last acted or saw; parking/waking mark an action in flight. */
export type LedgerState = 'awake' | 'parking' | 'parked' | 'waking';
const STATES: readonly LedgerState[] = ['awake', 'parking', 'parked', 'waking'];

export interface LedgerHost {
  state: LedgerState;
  /** Epoch ms when the host entered `state`. */
  since: number;
  /** The method that parked (or woke) it. */
  how?: string;
  /** Runtime pin from `tandem power pin`: while set it overrides the config's `pinned`. */
  pin?: boolean;
  /** Epoch ms of each park (the start of a park+wake cycle), the last week at most. */
  cycles: number[];
  latency: LatencyTable;
  lastError?: { at: number; detail: string };
}

export interface Ledger {
  version: 1;
  hosts: Record<string, LedgerHost>;
}

const WEEK_MS = 7 * 86_400_000;
const MAX_CYCLES = 200;

export function emptyLedger(): Ledger {
  return { version: 1, hosts: {} };
}

export function ledgerHost(ledger: Ledger, name: string, at: number): LedgerHost {
  return ledger.hosts[name] ?? { state: 'awake', since: at, cycles: [], latency: {} };
}

function put(ledger: Ledger, name: string, host: LedgerHost): Ledger {
  return { ...ledger, hosts: { ...ledger.hosts, [name]: host } };
}

/** A host enters `state`; a park starts a cycle. */
export function transition(ledger: Ledger, name: string, state: LedgerState, at: number, how?: string): Ledger {
  const host = ledgerHost(ledger, name, at);
  // A host seen for the first time is recorded, so its `since` holds from now on (dwell times).
  if (ledger.hosts[name] && host.state === state && host.how === how) return ledger;
  const cycles = state === 'parking' ? [...host.cycles, at].filter((t) => t > at - WEEK_MS).slice(-MAX_CYCLES) : host.cycles;
  const next: LedgerHost = { ...host, state, since: host.state === state ? host.since : at, cycles };
  if (how !== undefined) next.how = how;
  else delete next.how;
  return put(ledger, name, next);
}

export function recordLatency(ledger: Ledger, name: string, kind: LatencyKind, method: string, seconds: number, at: number): Ledger {
  const host = ledgerHost(ledger, name, at);
  return put(ledger, name, { ...host, latency: learn(host.latency, kind, method, seconds) });
}

export function setPin(ledger: Ledger, name: string, pin: boolean | undefined, at: number): Ledger {
  const host = { ...ledgerHost(ledger, name, at) };
  if (pin === undefined) delete host.pin;
  else host.pin = pin;
  return put(ledger, name, host);
}

export function recordError(ledger: Ledger, name: string, detail: string | undefined, at: number): Ledger {
  const host = { ...ledgerHost(ledger, name, at) };
  if (detail === undefined) delete host.lastError;
  else host.lastError = { at, detail };
  return put(ledger, name, host);
}

/** Cycles started in the 24 h before `at`. */
export function cyclesToday(host: LedgerHost | undefined, at: number): number {
  return host ? host.cycles.filter((t) => t > at - 86_400_000).length : 0;
}

/** Reads a ledger from disk text; anything malformed is dropped (and said), never trusted. */
export function parseLedger(text: string): { ledger: Ledger; problem?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ledger: emptyLedger(), problem: `not JSON (${(error as Error).message})` };
  }
  const hostsRaw = (raw as { hosts?: unknown })?.hosts;
  if ((raw as { version?: unknown })?.version !== 1 || typeof hostsRaw !== 'object' || hostsRaw === null) {
    return { ledger: emptyLedger(), problem: 'not a version 1 ledger' };
  }
  const hosts: Record<string, LedgerHost> = {};
  for (const [name, value] of Object.entries(hostsRaw as Record<string, unknown>)) {
    const h = value as Record<string, unknown>;
    if (typeof h !== 'object' || h === null || !STATES.includes(h.state as LedgerState) || typeof h.since !== 'number') continue;
    const host: LedgerHost = {
      state: h.state as LedgerState,
      since: h.since,
      cycles: Array.isArray(h.cycles) ? h.cycles.filter((t): t is number => typeof t === 'number') : [],
      latency: sanitiseLatency(h.latency),
    };
    if (typeof h.how === 'string') host.how = h.how;
    if (typeof h.pin === 'boolean') host.pin = h.pin;
    const error = h.lastError as { at?: unknown; detail?: unknown } | undefined;
    if (error && typeof error.at === 'number' && typeof error.detail === 'string') host.lastError = { at: error.at, detail: error.detail };
    hosts[name] = host;
  }
  return { ledger: { version: 1, hosts } };
}

export function serialiseLedger(ledger: Ledger): string {
  return `${JSON.stringify(ledger, null, 1)}\n`;
}

/**
 * The ledger file: load once, then `save` writes only when the text differs from what is on
 * disk, one write at a time (a later save waits for the earlier one and writes the newest).
 */
export class LedgerStore {
  private written: string | undefined;
  private wanted: string | undefined;
  private writing: Promise<void> | undefined;
  writes = 0;
  lastError: string | undefined;

  constructor(
    readonly path: string,
    private readonly files: FileStore,
  ) {}

  async load(): Promise<{ ledger: Ledger; problem?: string }> {
    const text = await this.files.read(this.path);
    if (text === undefined) return { ledger: emptyLedger() };
    const parsed = parseLedger(text);
    this.written = parsed.problem ? undefined : serialiseLedger(parsed.ledger);
    return parsed;
  }

  save(ledger: Ledger): Promise<void> {
    this.wanted = serialiseLedger(ledger);
    this.writing ??= this.flush().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async flush(): Promise<void> {
    while (this.wanted !== undefined && this.wanted !== this.written) {
      const next = this.wanted;
      try {
        await this.files.writeAtomic(this.path, next);
        this.written = next;
        this.writes++;
        this.lastError = undefined;
      } catch (error) {
        // Kept in memory and tried again at the next change; status shows the error.
        this.lastError = (error as Error).message;
        return;
      }
    }
  }

  idle(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }
}

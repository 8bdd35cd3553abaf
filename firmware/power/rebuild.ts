// What a node that becomes MASTER takes each managed host to be before it acts (issue 10,
// item 5): the checks decide when they have a verdict; a controller's read-back (PDU, BMC)
// decides when they do not; the ledger only when neither knows. Pure rule plus the bounded
// read-back it needs.

import type { Clock } from '../os/clock.js';
import type { DriverHost, PowerDriver, PowerReading } from './driver.js';
import type { LedgerState } from './ledger.js';

export interface RebuildInput {
  health: 'unknown' | 'up' | 'down' | undefined;
  reading: PowerReading | undefined;
  ledger: LedgerState;
}

export interface RebuildVerdict {
  state: 'awake' | 'parked';
  why: string;
}

/**
 * A host that passes its checks serves: awake, whatever the ledger says (someone woke it). One
 * that fails them serves nothing: parked, so the planner wakes it if it is needed (a wake the
 * old master sent is not repeated unless the planner needs the host after a check round). With
 * no verdict from the checks, the controller's reading decides, then the ledger; an action in
 * flight on the old master counts as not done.
 */
export function rebuildVerdict(input: RebuildInput): RebuildVerdict {
  if (input.health === 'up') return { state: 'awake', why: 'passes its checks' };
  if (input.health === 'down') return { state: 'parked', why: `fails its checks${input.reading === 'off' ? ', controller reads off' : ''}` };
  if (input.reading === 'on') return { state: 'awake', why: 'no check verdict yet, controller reads on' };
  if (input.reading === 'off') return { state: 'parked', why: 'no check verdict yet, controller reads off' };
  return input.ledger === 'awake' ? { state: 'awake', why: 'no verdict from checks or controller: the ledger says awake' } : { state: 'parked', why: `no verdict from checks or controller: the ledger says ${input.ledger}` };
}

/** The first definite reading of the host's controllers, each asked for at most `timeoutMs`. */
export async function readBack(readers: readonly PowerDriver[], host: DriverHost, clock: Clock, timeoutMs = 5000): Promise<PowerReading | undefined> {
  for (const reader of readers) {
    if (!reader.read) continue;
    const controller = new AbortController();
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = clock.setTimer(timeoutMs, () => {
        controller.abort();
        resolve(undefined);
      });
    });
    const result = await Promise.race([reader.read(host, controller.signal).catch(() => undefined), timeout]);
    timer?.cancel();
    if (result?.ok && result.reading !== 'unknown') return result.reading;
  }
  return undefined;
}

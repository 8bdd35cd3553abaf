// The page's model as signals (components read them directly): the daemon's status and events as
// the live stream delivers them, trends sampled from each status, the apply awaiting
// confirmation, the demo's cluster when there is one, and the notices the live region reads out.

import { batch, signal } from '@preact/signals';
import type { Status } from '../firmware/daemon.js';
import { ApiError, get, refreshSession, session } from './api.js';
import { applyReducer, type ApplyInput, type ApplyView } from './lib/apply.js';
import type { Sample } from './lib/chart.js';
import { emptyTrends, sampleTrends } from './lib/trends.js';
import { describeEvent, fromRecent, mergeEvents, prependEvent, type UiEvent } from './lib/events.js';
import type { DemoView } from '../firmware/api/routes-demo.js';

export const EVENT_LIMIT = 200;

export const status = signal<Status | undefined>(undefined);
export const events = signal<UiEvent[]>([]);
/** live: the stream is open; connecting: (re)opening; lost: closed and not retrying. */
export const stream = signal<'connecting' | 'live' | 'lost'>('connecting');
/** Ticks once a second, so "since" and countdowns move without a new status. */
export const now = signal(Date.now());
/** Per pool: its demand (connections, or the power planner's unit) over the last ten minutes (lib/trends.ts). */
export const demand = signal<Record<string, Sample[]>>({});
/** Energy saved by parking, kWh since the daemon started. */
export const energySaved = signal<Sample[]>([]);
/** Per VHID: advertisements per second (sent as MASTER, received as BACKUP); gaps show as dips. */
export const adverts = signal<Record<number, Sample[]>>({});
export const apply = signal<ApplyView>({ phase: 'idle' });
export const demo = signal<DemoView | undefined>(undefined);
/** What the polite live region says: the latest state change or action result. */
export const notice = signal<{ text: string; tone: 'good' | 'bad' | 'idle'; at: number } | undefined>(undefined);

export function say(text: string, tone: 'good' | 'bad' | 'idle' = 'idle'): void {
  notice.value = { text, tone, at: Date.now() };
}

export function applyInput(input: ApplyInput): void {
  apply.value = applyReducer(apply.value, input);
}

let trends = emptyTrends();

export function setStatus(next: Status): void {
  trends = sampleTrends(trends, next, Date.now());
  batch(() => {
    // A config apply awaiting confirmation (from another tab, or before a reload) shows its countdown here too.
    const pending = next.configApply?.phase === 'pending' ? next.configApply.revertsAt : undefined;
    if (pending && apply.value.phase !== 'pending') applyInput({ kind: 'started', target: 'config', revertsAt: pending, at: '' });
    status.value = next;
    demand.value = trends.demand;
    energySaved.value = trends.energySaved;
    adverts.value = trends.adverts;
  });
}

export function addEvent(event: UiEvent): void {
  batch(() => {
    events.value = prependEvent(events.value, event, EVENT_LIMIT);
    applyInput({ kind: 'event', event });
    // The demo panel shows every node's VHIDs: a transition here means it is stale.
    if (event.type === 'carpTransition' && demo.value) void loadDemo();
    // State changes are what a screen reader user wants read out; routine lines are not.
    if (event.type === 'carpTransition' || event.type === 'poolHealth' || event.type === 'firewallApply' || event.type === 'configApply') {
      const line = describeEvent(event);
      say(line.text, line.tone === 'bad' ? 'bad' : line.tone === 'good' ? 'good' : 'idle');
    }
  });
}

let source: EventSource | undefined;
let ticker: ReturnType<typeof setInterval> | undefined;
let demoPoll: ReturnType<typeof setInterval> | undefined;

/** The status before the session is known (a 401 here only confirms what the session check says). */
export function prefetchStatus(): void {
  void fetch('/api/status', { headers: { accept: 'application/json' }, credentials: 'same-origin' }).then(
    async (response) => {
      if (response.ok) setStatus((await response.json()) as Status);
    },
    () => undefined,
  );
}

/** Loads status and recent events, opens the live stream; called once logged in. */
export function connect(): void {
  disconnect();
  ticker = setInterval(() => (now.value = Date.now()), 1000);
  // Both at once (no waterfall): the stream's first message is the status too, whichever is first wins.
  void get<Status>('/api/status').then(setStatus, () => undefined);
  loadRecent();
  void loadDemo();
  openStream();
}

/** The API's ring of recent events merged with what the page holds (nothing twice). */
function loadRecent(): void {
  void get<UiEvent[] | { events: UiEvent[] }>('/api/events/recent').then(
    (reply) => {
      const list = Array.isArray(reply) ? reply : reply.events;
      events.value = mergeEvents(events.value, fromRecent(list, EVENT_LIMIT), EVENT_LIMIT);
    },
    () => undefined,
  );
}

function openStream(): void {
  stream.value = 'connecting';
  const es = new EventSource('/api/events');
  source = es;
  let dropped = false;
  es.addEventListener('open', () => {
    stream.value = 'live';
    // Back after a drop (the daemon restarted, the Wi-Fi blinked): fetch what happened meanwhile.
    if (dropped) loadRecent();
    dropped = false;
  });
  es.addEventListener('status', (e) => {
    try {
      setStatus(JSON.parse((e as MessageEvent<string>).data) as Status);
      stream.value = 'live';
    } catch {
      /* a malformed frame: the next status replaces it */
    }
  });
  es.addEventListener('event', (e) => {
    try {
      addEvent(JSON.parse((e as MessageEvent<string>).data) as UiEvent);
    } catch {
      /* as above */
    }
  });
  es.addEventListener('error', () => {
    if (source !== es) return;
    dropped = true;
    // The browser retries by itself unless the reply was not a stream (401 after a logout or expiry).
    if (es.readyState === EventSource.CLOSED) {
      stream.value = 'lost';
      void refreshSession().then((ok) => {
        if (ok && source === es) setTimeout(() => source === es && openStream(), 2000);
      });
    } else stream.value = 'connecting';
  });
}

export async function loadDemo(): Promise<void> {
  try {
    demo.value = await get<DemoView>('/api/demo');
    demoPoll ??= setInterval(() => void get<DemoView>('/api/demo').then((v) => (demo.value = v), () => undefined), 2000);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) demo.value = undefined;
  }
}

export function disconnect(): void {
  source?.close();
  source = undefined;
  if (ticker) clearInterval(ticker);
  if (demoPoll) clearInterval(demoPoll);
  ticker = undefined;
  demoPoll = undefined;
}

/** Logged out (or the session expired): forget what the page held. */
session.subscribe((s) => {
  if (s === null) {
    disconnect();
    batch(() => {
      status.value = undefined;
      events.value = [];
      demo.value = undefined;
      trends = emptyTrends();
    });
  }
});

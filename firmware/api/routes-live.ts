// Live handlers: the SSE stream, the recent-events ring and Prometheus /metrics. The stream and
// the ring belong to one backend (one daemon): startLive() records events from the moment the
// API starts and stopLive() ends every stream; a backend never started gets them on first use.

import { systemClock } from '../os/clock.js';
import { CONTENT_TYPE } from '../telemetry/prometheus.js';
import { RecentEvents } from './recent-events.js';
import { fail, ok } from './routes-common.js';
import { LiveStream, SSE_HEADERS } from './sse.js';
import type { ApiBackend, ApiRequest, ApiResponse } from './types.js';

type Handler = (request: ApiRequest, backend: ApiBackend) => Promise<ApiResponse>;

interface Live {
  recent: RecentEvents;
  stream: LiveStream;
  detach: () => void;
}

const lives = new WeakMap<ApiBackend, Live>();

/** Call when the API starts serving `backend` (the ring then holds events from that moment). */
export function startLive(backend: ApiBackend): Live {
  const existing = lives.get(backend);
  if (existing) return existing;
  const recent = new RecentEvents();
  const detach = recent.attach(backend.events);
  const stream = new LiveStream({ status: () => backend.status(), events: backend.events, clock: backend.clock ?? systemClock });
  const live = { recent, stream, detach };
  lives.set(backend, live);
  return live;
}

/** Call when the API stops: every SSE stream ends, the ring stops listening. */
export function stopLive(backend: ApiBackend): void {
  const live = lives.get(backend);
  if (!live) return;
  lives.delete(backend);
  live.detach();
  live.stream.stop();
}

export const getEvents: Handler = async (_request, backend) => {
  const live = startLive(backend);
  return { status: 200, json: null, headers: { ...SSE_HEADERS }, stream: (target) => void live.stream.open(target) };
};

/** `{ events: [...] }`, oldest first, at most 200. */
export const getRecentEvents: Handler = async (_request, backend) => ok({ events: startLive(backend).recent.list() });

export const getMetrics: Handler = async (_request, backend) => {
  if (!backend.metrics) return fail(404, 'metrics are not available on this node');
  try {
    return { status: 200, json: null, text: await backend.metrics(), headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' } };
  } catch (error) {
    return fail(500, `metrics failed: ${(error as Error).message}`);
  }
};

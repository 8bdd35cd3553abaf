// Tests for the live stream (firmware/api/sse.ts) and the recent-events ring
// (firmware/api/recent-events.ts) with a fake response and a FakeClock: status first, events as
// they come, status again only when it changed and at most every 500 ms, pings every 15 s, a
// client that does not read dropped at the bound, every stream ended on stop, timers gone
// when the last client leaves; and the GET /api/events route on a real Daemon.

import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';

import { RecentEvents } from '../../../firmware/api/recent-events.js';
import { stopLive } from '../../../firmware/api/routes.js';
import { formatSse, LiveStream, MAX_BUFFERED_BYTES, SseWriter } from '../../../firmware/api/sse.js';
import type { StreamTarget } from '../../../firmware/api/types.js';
import type { Status } from '../../../firmware/daemon.js';
import { EventBus, type StampedEvent } from '../../../firmware/events.js';
import { createLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { call, lab } from './routes-lab.js';

/** A response whose client reads everything (`reading`) or nothing (bytes pile up). */
class FakeResponse extends EventEmitter implements StreamTarget {
  chunks: string[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;
  constructor(public reading = true) {
    super();
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    if (!this.reading) this.writableLength += Buffer.byteLength(chunk);
    return this.writableLength < 16 * 1024;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  /** The SSE messages received so far, parsed. */
  messages(): { event?: string; data?: unknown; comment?: string }[] {
    return this.chunks
      .join('')
      .split('\n\n')
      .filter((block) => block.length > 0)
      .map((block) => {
        const out: { event?: string; data?: unknown; comment?: string } = {};
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) out.event = line.slice(7);
          else if (line.startsWith('data: ')) out.data = JSON.parse(line.slice(6));
          else if (line.startsWith(': ')) out.comment = line.slice(2);
        }
        return out;
      });
  }
}

function source(clock = new FakeClock()) {
  const bus = new EventBus(() => clock.now(), createLogger('error', () => undefined));
  let demote = 0;
  let uptime = 0;
  const status = () => ({ node: 'fw-a', uptimeSeconds: uptime++, memory: { rssBytes: uptime, heapUsedBytes: 1 }, demotion: { total: demote } }) as unknown as Status;
  const stream = new LiveStream({ status, events: bus, clock });
  return { clock, bus, stream, setDemote: (n: number) => (demote = n) };
}

describe('formatSse', () => {
  it('is one event line, one data line and a blank line; newlines in strings stay escaped', () => {
    assert.equal(formatSse('event', { a: 'x\ny' }), 'event: event\ndata: {"a":"x\\ny"}\n\n');
  });
});

describe('LiveStream', () => {
  it('sends the status first, then each event, then status again only when it changed', async () => {
    const s = source();
    const res = new FakeResponse();
    s.stream.open(res);
    assert.equal(res.chunks[0]?.startsWith('retry: 2000\n'), true);
    assert.deepEqual(res.messages().map((m) => m.event), ['status']);
    await s.clock.advance(2_000);
    assert.equal(res.messages().length, 1, 'uptime and memory alone are no change');
    s.bus.emit({ type: 'maintenance', on: true });
    const afterEvent = res.messages();
    assert.equal(afterEvent[1]?.event, 'event');
    assert.deepEqual({ ...(afterEvent[1]?.data as StampedEvent), time: undefined }, { type: 'maintenance', on: true, time: undefined });
    s.setDemote(5);
    await s.clock.advance(500);
    const status = res.messages().filter((m) => m.event === 'status');
    assert.equal(status.length, 2);
    assert.equal((status[1]?.data as { demotion: { total: number } }).demotion.total, 5);
    s.stream.stop();
  });

  it('an event sends the changed status at once, but never twice within 500 ms', async () => {
    const s = source();
    const res = new FakeResponse();
    await s.clock.advance(1_000);
    s.stream.open(res);
    await s.clock.advance(600);
    s.setDemote(1);
    s.bus.emit({ type: 'demotion', total: 1, admin: 1 });
    assert.equal(res.messages().filter((m) => m.event === 'status').length, 2, 'sent with the event');
    s.setDemote(2);
    s.bus.emit({ type: 'demotion', total: 2, admin: 2 });
    assert.equal(res.messages().filter((m) => m.event === 'status').length, 2, 'throttled');
    await s.clock.advance(1_000);
    const status = res.messages().filter((m) => m.event === 'status');
    assert.equal(status.length, 3);
    assert.equal((status[2]?.data as { demotion: { total: number } }).demotion.total, 2);
    s.stream.stop();
  });

  it('pings every 15 s', async () => {
    const s = source();
    const res = new FakeResponse();
    s.stream.open(res);
    await s.clock.advance(14_999);
    assert.equal(res.messages().filter((m) => m.comment === 'ping').length, 0);
    await s.clock.advance(1);
    await s.clock.advance(15_000);
    assert.equal(res.messages().filter((m) => m.comment === 'ping').length, 2);
    s.stream.stop();
  });

  it('drops a client that does not read once its unsent bytes pass the bound; others go on', async () => {
    const s = source();
    const slow = new FakeResponse(false);
    const fast = new FakeResponse(true);
    s.stream.open(slow);
    s.stream.open(fast);
    const big = 'x'.repeat(10_000);
    let sent = 0;
    while (!slow.destroyed && sent < 100) {
      s.bus.emit({ type: 'commandRefused', action: big, reason: 'test' });
      sent++;
    }
    assert.ok(slow.destroyed, 'destroyed, not ended politely');
    assert.ok(slow.writableLength > MAX_BUFFERED_BYTES && slow.writableLength < MAX_BUFFERED_BYTES + 20_000);
    assert.equal(s.stream.dropped, 1);
    assert.equal(s.stream.clients, 1);
    const before = slow.chunks.length;
    s.bus.emit({ type: 'maintenance', on: false });
    assert.equal(slow.chunks.length, before, 'nothing more is written to a dropped client');
    assert.equal(fast.messages().filter((m) => m.event === 'event').length, sent + 1);
    s.stream.stop();
  });

  it('stop ends every stream, refuses new ones, and leaves no timer or listener behind', async () => {
    const s = source();
    const a = new FakeResponse();
    const b = new FakeResponse();
    s.stream.open(a);
    s.stream.open(b);
    assert.ok(s.clock.pendingCount > 0);
    s.stream.stop();
    assert.ok(a.ended && b.ended);
    assert.equal(s.stream.clients, 0);
    assert.equal(s.clock.pendingCount, 0);
    const late = new FakeResponse();
    assert.equal(s.stream.open(late), undefined);
    assert.ok(late.ended);
    const before = a.chunks.length;
    s.bus.emit({ type: 'maintenance', on: true });
    assert.equal(a.chunks.length, before);
  });

  it('a client that goes away is forgotten; with none left no timers run', async () => {
    const s = source();
    const res = new FakeResponse();
    s.stream.open(res);
    res.emit('close');
    assert.equal(s.stream.clients, 0);
    assert.equal(s.clock.pendingCount, 0);
  });

  it('SseWriter: a closed writer refuses to send', () => {
    const res = new FakeResponse();
    const closed: string[] = [];
    const writer = new SseWriter(res, (_w, reason) => closed.push(reason));
    assert.equal(writer.send('a'), true);
    writer.close('stopped');
    assert.equal(writer.send('b'), false);
    assert.deepEqual(res.chunks, ['a']);
    assert.deepEqual(closed, ['stopped']);
  });
});

describe('RecentEvents', () => {
  it('keeps the last N, oldest first', () => {
    const ring = new RecentEvents(3);
    const e = (n: number) => ({ type: 'demotion', total: n, admin: n, time: `t${n}` }) as StampedEvent;
    assert.deepEqual(ring.list(), []);
    for (let i = 1; i <= 5; i++) ring.push(e(i));
    assert.deepEqual(ring.list().map((x) => x.time), ['t3', 't4', 't5']);
    assert.equal(ring.size, 3);
    assert.throws(() => new RecentEvents(0), RangeError);
  });
});

describe('GET /api/events and /api/events/recent on a Daemon', () => {
  it('streams the status then the failover transition; recent holds at most 200; stopLive ends the stream', async () => {
    const l = lab({ power: false, firewall: false });
    const a = l.node('fw-a', 0);
    const b = l.node('fw-b', 100);
    await a.daemon.start();
    await b.daemon.start();
    try {
      const recentFirst = await call(b.backend, 'GET', '/api/events/recent');
      assert.deepEqual(recentFirst.json, { events: [] });
      const response = await call(b.backend, 'GET', '/api/events');
      assert.equal(response.status, 200);
      assert.match(response.headers?.['content-type'] ?? '', /^text\/event-stream/);
      const res = new FakeResponse();
      response.stream?.(res);
      await l.clock.advance(5_000);
      await call(a.backend, 'POST', '/api/failover');
      await l.clock.advance(5_000);
      const messages = res.messages();
      assert.equal(messages[0]?.event, 'status');
      const transitions = messages.filter((m) => m.event === 'event' && (m.data as StampedEvent).type === 'carpTransition').map((m) => (m.data as { to: string }).to);
      assert.ok(transitions.includes('MASTER'), JSON.stringify(transitions));
      const lastStatus = messages.filter((m) => m.event === 'status').at(-1)?.data as Status;
      assert.equal(lastStatus.carp[0]?.state, 'MASTER');
      for (let i = 0; i < 250; i++) b.daemon.events.emit({ type: 'demotion', total: i, admin: i });
      const recent = (await call(b.backend, 'GET', '/api/events/recent')).json as { events: StampedEvent[] };
      assert.equal(recent.events.length, 200);
      assert.deepEqual(recent.events.at(-1), { type: 'demotion', total: 249, admin: 249, time: recent.events.at(-1)?.time });
      stopLive(b.backend);
      assert.ok(res.ended);
    } finally {
      await l.stop();
    }
  });
});

describe('LiveStream over a real HTTP socket on loopback', () => {
  it('drops a client that stopped reading once the kernel and the response buffers are full; a reading client gets every event', async () => {
    const { createServer, get } = await import('node:http');
    const { systemClock } = await import('../../../firmware/os/clock.js');
    const { SSE_HEADERS } = await import('../../../firmware/api/sse.js');
    const bus = new EventBus(() => Date.now(), createLogger('error', () => undefined));
    const stream = new LiveStream({ status: () => ({ node: 'fw-a' }) as unknown as Status, events: bus, clock: systemClock });
    const server = createServer((_req, res) => {
      res.writeHead(200, SSE_HEADERS);
      res.flushHeaders();
      stream.open(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const open = (initiallyReading: boolean) =>
      new Promise<{ received: () => number; closed: Promise<void>; resume: () => void }>((resolve) => {
        // node's client decodes the chunked encoding; pausing the response stops reading the socket.
        get({ host: '127.0.0.1', port, path: '/api/events', agent: false }, (res) => {
          let reading = initiallyReading;
          let text = '';
          let count = 0;
          const closed = new Promise<void>((done) => res.once('close', () => done()));
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            const parts = text.split('\n\n');
            text = parts.pop() ?? '';
            count += parts.filter((p) => p.startsWith('event: event')).length;
            if (!reading) res.pause();
            resolve({
              received: () => count,
              closed,
              resume: () => {
                reading = true;
                res.resume();
              },
            });
          });
        });
      });
    try {
      const slow = await open(false);
      const fast = await open(true);
      assert.equal(stream.clients, 2);
      const payload = 'x'.repeat(16 * 1024);
      let emitted = 0;
      // Bounded: 4,000 events of 16 KiB (64 MiB) is far beyond what loopback's buffers hold.
      while (stream.dropped === 0 && emitted < 4_000) {
        bus.emit({ type: 'commandRefused', action: payload, reason: String(emitted) });
        emitted++;
        if (emitted % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(stream.dropped, 1, `dropped after ${emitted} events`);
      // Reading again, it finds the end of the stream after what the buffers held.
      slow.resume();
      await slow.closed;
      assert.equal(stream.clients, 1);
      await eventuallyTrue(() => fast.received() === emitted);
    } finally {
      stream.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  });
});

async function eventuallyTrue(check: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// Per-route request deadlines (firmware/api/server.ts): node's requestTimeout is one value for
// the whole server, so the server bounds each request itself. A JSON body still arriving at the
// JSON deadline is cut; a streamed upload (POST /api/upgrade) may take longer than that, up to
// its own deadline, past which it is cut too. Real sockets, real (short) time.

import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { hashPassword, SessionStore, Users } from '../../../firmware/api/auth.js';
import { LoginLimiter } from '../../../firmware/api/rate-limit.js';
import { routes } from '../../../firmware/api/routes.js';
import { ApiServer } from '../../../firmware/api/server.js';
import type { ApiBackend } from '../../../firmware/api/types.js';
import type { Status } from '../../../firmware/daemon.js';
import { EventBus } from '../../../firmware/events.js';
import { silentLogger } from '../../../firmware/log.js';
import { systemClock } from '../../../firmware/os/clock.js';
import { CHEAP, login, PASSWORD } from './server-harness.js';

/** POSTs `pieces` chunks of 1000 bytes, one every `everyMs`; resolves with the status or the error. */
function trickle(url: string, path: string, session: { cookie: string; csrf: string }, pieces: number, everyMs: number, byte = 0x20): Promise<{ status?: number; text?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(new URL(path, url), { method: 'POST', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-length': String(pieces * 1000) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', (error) => resolve({ error: error.message }));
    let sent = 0;
    const timer = setInterval(() => {
      if (req.destroyed) return clearInterval(timer);
      req.write(Buffer.alloc(1000, byte));
      if (++sent === pieces) {
        clearInterval(timer);
        req.end();
      }
    }, everyMs);
  });
}

describe('api server: request deadlines per route', () => {
  let server: ApiServer;
  let url = '';
  let session: { cookie: string; csrf: string };
  const received: number[] = [];

  before(async () => {
    const backend: ApiBackend = {
      status: () => ({}) as unknown as Status,
      handle: async () => ({ ok: true, result: {} }),
      events: new EventBus(() => 0, silentLogger),
      config: { read: async () => ({ path: '', text: '' }) },
      upgradeInstall: async (source) => {
        let bytes = 0;
        for await (const chunk of source) bytes += chunk.length;
        received.push(bytes);
        return { ok: true, slot: 'B', version: 'x', bytes, sha256: '' };
      },
    };
    server = new ApiServer({
      routes, backend, log: silentLogger, clock: systemClock, maxBodyBytes: 1 << 20,
      users: new Users([{ name: 'admin', passwordHash: await hashPassword(PASSWORD, CHEAP) }]),
      sessions: new SessionStore(systemClock, { idleMinutes: 30, absoluteHours: 8 }),
      limiter: new LoginLimiter(systemClock),
      requestDeadlineMs: { json: 400, stream: 2500 },
    });
    url = (await server.listen({ host: '127.0.0.1', port: 0 })).url;
    session = await login(url);
  });
  after(async () => {
    await server.close();
  });

  it('cuts a JSON body still arriving at its deadline', async () => {
    const reply = await trickle(url, '/api/maintenance', session, 10, 100);
    assert.ok(reply.error, `expected the connection cut, got ${JSON.stringify(reply)}`);
  });

  it('lets a streamed upload run past the JSON deadline, and cuts one past its own', async () => {
    const slow = await trickle(url, '/api/upgrade', session, 10, 100);
    assert.equal(slow.status, 200, JSON.stringify(slow));
    assert.deepEqual(received, [10_000]);
    const stalled = await trickle(url, '/api/upgrade', session, 40, 100);
    assert.ok(stalled.error || (stalled.status ?? 0) >= 400, `expected the upload cut, got ${JSON.stringify(stalled)}`);
    assert.ok((received[1] ?? 0) < 40_000, 'the handler did not get the whole body');
  });
});

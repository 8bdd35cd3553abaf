// The API server on real loopback sockets (firmware/api/server.ts): login and its cookie, wrong
// passwords, rate limits per address and per user with Retry-After, idle and absolute session
// expiry on a FakeClock, logout, security headers on every kind of reply, bounded bodies, the
// static UI's caching and gzip, errors as JSON, and HTTPS with a self-signed certificate.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';

import { get as httpGet } from 'node:http';

import { SESSION_COOKIE } from '../../../firmware/api/server.js';
import { StaticFiles } from '../../../firmware/api/static.js';
import type { Route } from '../../../firmware/api/types.js';
import { makeSelfSignedCertificate } from '../../../firmware/os/x509.js';
import { call, login, PASSWORD, startHarness, type Harness, type Reply } from './server-harness.js';

const run = promisify(execFile);

const testRoutes: Route[] = [
  { method: 'GET', path: '/api/status', access: 'session', handle: async (_r, b) => ({ status: 200, json: b.status() }) },
  { method: 'POST', path: '/api/echo', access: 'session', action: 'echo', handle: async (r) => ({ status: 200, json: { body: r.body, user: r.user } }) },
  { method: 'POST', path: '/api/boom', access: 'session', action: 'boom', handle: async () => { throw new Error('kaboom'); } },
  {
    method: 'GET',
    path: '/api/stream',
    access: 'session',
    handle: async () => ({ status: 200, json: null, headers: { 'content-type': 'text/event-stream' }, stream: (target) => void target.write(': hello\n\n') }),
  },
  { method: 'GET', path: '/metrics', access: 'session', handle: async () => ({ status: 200, json: null, text: 'up 1\n', headers: { 'content-type': 'text/plain; version=0.0.4' } }) },
];

function assertSecurityHeaders(reply: Reply, what: string, secure = false): void {
  const csp = String(reply.headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/, `${what}: CSP`);
  assert.match(csp, /script-src 'self'(;|$)/, `${what}: no inline script`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: frame-ancestors`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${what}: nothing unsafe`);
  assert.equal(reply.headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.equal(reply.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(reply.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  if (secure) assert.match(String(reply.headers['strict-transport-security']), /max-age=\d{7,}/, `${what}: HSTS`);
  else assert.equal(reply.headers['strict-transport-security'], undefined, `${what}: no HSTS over HTTP`);
}

describe('api server: login, sessions, limits', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ routes: testRoutes, users: ['admin', 'ops', 'ann'] });
  });
  after(() => h.close());

  it('logs in: 200, {csrfToken}, an HttpOnly SameSite=Strict cookie on Path=/, not Secure over HTTP', async () => {
    const { reply, cookie, csrf } = await login(h.url);
    assert.equal(reply.status, 200);
    assert.equal(reply.json.user, 'admin');
    assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
    const set = reply.headers['set-cookie']![0]!;
    assert.match(set, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `));
    assert.match(set, /; HttpOnly/);
    assert.match(set, /; SameSite=Strict/);
    assert.match(set, /; Path=\//);
    assert.match(set, /; Max-Age=28800/);
    assert.doesNotMatch(set, /Secure/);
    assert.equal(reply.headers['cache-control'], 'no-store');
    const session = await call(h.url, 'GET', '/api/session', { cookie });
    assert.deepEqual(session.json, { user: 'admin', csrfToken: csrf });
    const status = await call(h.url, 'GET', '/api/status', { cookie });
    assert.equal(status.status, 200);
    assert.equal(status.json.node, 'fw-a');
  });

  it('refuses a wrong password and an unknown user alike (401), and malformed logins (400)', async () => {
    const wrong = await call(h.url, 'POST', '/api/login', { body: { user: 'ops', password: 'nope' }, from: '127.0.0.20' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['set-cookie'], undefined);
    const unknown = await call(h.url, 'POST', '/api/login', { body: { user: 'mallory', password: PASSWORD }, from: '127.0.0.20' });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json.error, wrong.json.error, 'the same answer: no user enumeration');
    const malformed = await call(h.url, 'POST', '/api/login', { body: { user: 'ops' }, from: '127.0.0.20' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.path, 'password');
    const notJson = await call(h.url, 'POST', '/api/login', { raw: '{"user": ', from: '127.0.0.20' });
    assert.equal(notJson.status, 400);
    assert.match(notJson.json.error, /not JSON/);
    const audit = h.lines.filter((l) => l.action === 'login' && l.remote === '127.0.0.20');
    assert.deepEqual(audit.map((l) => l.outcome), ['unauthenticated', 'unauthenticated', 'rejected', 'rejected']);
    assert.equal(audit[0]!.user, 'ops');
  });

  it('limits failed logins per source address: 5, then 429 with Retry-After, even for a right password', async () => {
    const from = '127.0.0.30';
    for (let i = 0; i < 5; i++) {
      const r = await call(h.url, 'POST', '/api/login', { body: { user: `guess${i}`, password: 'x' }, from });
      assert.equal(r.status, 401, `attempt ${i + 1}`);
    }
    const locked = await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, from });
    assert.equal(locked.status, 429);
    assert.equal(locked.headers['retry-after'], '1');
    assert.match(locked.json.error, /address/);
    // Another address is not locked, and admin itself is not.
    assert.equal((await login(h.url, 'admin', PASSWORD, '127.0.0.31')).reply.status, 200);
    // The lockout doubles with each further failure once it has passed.
    await h.clock.advance(1000);
    assert.equal((await call(h.url, 'POST', '/api/login', { body: { user: 'guess9', password: 'x' }, from })).status, 401);
    const again = await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, from });
    assert.equal(again.status, 429);
    assert.equal(again.headers['retry-after'], '2');
    await h.clock.advance(2000);
    assert.equal((await login(h.url, 'admin', PASSWORD, from)).reply.status, 200, 'a right password after the lockout');
  });

  it('limits failed logins per user name across addresses', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await call(h.url, 'POST', '/api/login', { body: { user: 'ann', password: 'wrong' }, from: `127.0.1.${i + 1}` });
      assert.equal(r.status, 401);
    }
    const locked = await call(h.url, 'POST', '/api/login', { body: { user: 'ann', password: PASSWORD }, from: '127.0.1.99' });
    assert.equal(locked.status, 429);
    assert.match(locked.json.error, /user/);
    assert.ok(Number(locked.headers['retry-after']) >= 1);
    assert.ok(h.lines.some((l) => l.action === 'login' && l.outcome === 'limited' && l.user === 'ann'));
    await h.clock.advance(1000);
    assert.equal((await login(h.url, 'ann', PASSWORD, '127.0.1.99')).reply.status, 200);
  });

  it('ends a session idle for 30 minutes, and any session 8 hours after login', async () => {
    const idle = await login(h.url, 'admin', PASSWORD, '127.0.2.1');
    await h.clock.advance(29 * 60_000);
    assert.equal((await call(h.url, 'GET', '/api/status', { cookie: idle.cookie })).status, 200);
    await h.clock.advance(29 * 60_000); // used 29 min ago: still alive
    assert.equal((await call(h.url, 'GET', '/api/status', { cookie: idle.cookie })).status, 200);
    await h.clock.advance(30 * 60_000);
    const timedOut = await call(h.url, 'GET', '/api/status', { cookie: idle.cookie });
    assert.equal(timedOut.status, 401);
    assert.match(timedOut.json.error, /timed out/);

    const busy = await login(h.url, 'admin', PASSWORD, '127.0.2.1');
    for (let t = 0; t < 8 * 60 - 20; t += 20) {
      await h.clock.advance(20 * 60_000);
      assert.equal((await call(h.url, 'GET', '/api/status', { cookie: busy.cookie })).status, 200, `at ${t + 20} min`);
    }
    await h.clock.advance(20 * 60_000);
    const expired = await call(h.url, 'GET', '/api/status', { cookie: busy.cookie });
    assert.equal(expired.status, 401);
    assert.match(expired.json.error, /expired/);
  });

  it('logs out: the cookie is cleared and the session no longer works', async () => {
    const s = await login(h.url, 'admin', PASSWORD, '127.0.2.2');
    const noToken = await call(h.url, 'POST', '/api/logout', { cookie: s.cookie });
    assert.equal(noToken.status, 403, 'logout is a mutation too');
    const out = await call(h.url, 'POST', '/api/logout', { cookie: s.cookie, csrf: s.csrf });
    assert.equal(out.status, 200);
    assert.match(out.headers['set-cookie']![0]!, new RegExp(`^${SESSION_COOKIE}=; .*Max-Age=0`));
    assert.equal((await call(h.url, 'GET', '/api/status', { cookie: s.cookie })).status, 401);
    assert.ok(h.lines.some((l) => l.action === 'logout' && l.outcome === 'done' && l.user === 'admin'));
  });

  it('does not keep a session id sent before login (fixation)', async () => {
    const first = await login(h.url, 'admin', PASSWORD, '127.0.2.3');
    const second = await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, cookie: first.cookie, from: '127.0.2.3' });
    assert.equal(second.status, 200);
    assert.notEqual(second.headers['set-cookie']![0]!.split(';')[0], first.cookie);
    assert.equal((await call(h.url, 'GET', '/api/status', { cookie: first.cookie })).status, 401);
  });
});

/** Opens the test stream; resolves once its first bytes arrived, with a promise of its end. */
function openStream(base: string, cookie: string): Promise<{ first: string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    httpGet(new URL('/api/stream', base), { headers: { cookie }, agent: false }, (res) => {
      const ended = new Promise<void>((done) => res.on('end', done).on('close', done));
      res.once('data', (chunk: Buffer) => resolve({ first: chunk.toString(), ended }));
      res.on('error', () => undefined);
    }).on('error', reject);
  });
}

describe('api server: a login flood', () => {
  it('turns logins beyond the checks it can run away with 503 and Retry-After, without counting them', async () => {
    // Production-cost hashes (tens of ms each): six logins sent at once overlap for sure.
    const h = await startHarness({ routes: testRoutes, checks: { concurrent: 1, queued: 1 }, hash: { N: 16384, r: 8, p: 1 } });
    try {
      const replies = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((i) => call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, from: `127.0.4.${i}` })),
      );
      const statuses = replies.map((r) => r.status).sort();
      assert.ok(statuses.includes(200), statuses.join(' '));
      assert.ok(statuses.includes(503), statuses.join(' '));
      for (const r of replies.filter((x) => x.status === 503)) {
        assert.equal(r.headers['retry-after'], '1');
        assert.match(r.json.error, /too many logins at once/);
      }
      assert.deepEqual(statuses.filter((x) => x !== 200 && x !== 503), []);
    } finally {
      await h.close();
    }
  });
});

describe('api server: live streams and origins', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ routes: testRoutes });
  });
  after(() => h.close());

  it('ends a live stream at logout, and at the sweep after its session timed out', async () => {
    const s = await login(h.url);
    const stream = await openStream(h.url, s.cookie);
    assert.equal(stream.first, ': hello\n\n');
    assert.equal(h.server.openStreams, 1);
    assert.equal((await call(h.url, 'POST', '/api/logout', { cookie: s.cookie, csrf: s.csrf })).status, 200);
    await stream.ended;
    assert.equal(h.server.openStreams, 0);

    const t = await login(h.url);
    const idle = await openStream(h.url, t.cookie);
    let over = false;
    void idle.ended.then(() => (over = true));
    await h.clock.advance(29 * 60_000);
    assert.equal(over, false, 'the session is still live at 29 minutes');
    assert.equal(h.server.openStreams, 1);
    await h.clock.advance(2 * 60_000); // idle 31 min: the next sweep ends it
    await idle.ended;
    assert.equal(h.server.openStreams, 0);
  });

  it('refuses mutations from other sites (Origin, Sec-Fetch-Site), login included, touching nothing', async () => {
    const host = new URL(h.url).host;
    const evil = await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, headers: { origin: 'https://evil.example' } });
    assert.equal(evil.status, 403);
    assert.match(evil.json.error, /cross-site/);
    assert.equal(evil.headers['set-cookie'], undefined);
    const sandboxed = await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, headers: { origin: 'null' } });
    assert.equal(sandboxed.status, 403);
    const own = await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, headers: { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' } });
    assert.equal(own.status, 200);
    const s = await login(h.url);
    h.touched.length = 0;
    const crossSite = await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, csrf: s.csrf, body: { a: 1 }, headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(crossSite.status, 403);
    const otherPort = await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, csrf: s.csrf, body: { a: 1 }, headers: { origin: 'http://127.0.0.1:1' } });
    assert.equal(otherPort.status, 403);
    assert.deepEqual(h.touched, []);
    const fine = await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, csrf: s.csrf, body: { a: 1 }, headers: { origin: `http://${host}` } });
    assert.equal(fine.status, 200);
    // Reads are not refused by origin: a GET changes nothing.
    assert.equal((await call(h.url, 'GET', '/api/status', { cookie: s.cookie, headers: { 'sec-fetch-site': 'cross-site' } })).status, 200);
  });
});

describe('api server: replies', () => {
  let h: Harness;
  let dir: string;
  let s: { cookie: string; csrf: string };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tandem-ui-'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Tandem</title><script src="/app-3f9c2a1b.js"></script>\n');
    await writeFile(join(dir, 'app-3f9c2a1b.js'), `console.log(${JSON.stringify('x'.repeat(4000))});\n`);
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'app.css'), 'body { color: black }\n');
    await writeFile(join(tmpdir(), 'tandem-secret.txt'), 'secret\n');
    h = await startHarness({ routes: testRoutes, maxBodyBytes: 1024, files: new StaticFiles(dir) });
    s = await login(h.url);
  });
  after(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
    await rm(join(tmpdir(), 'tandem-secret.txt'), { force: true });
  });

  it('puts the security headers on every kind of reply', async () => {
    const replies: [string, Reply][] = [
      ['index', await call(h.url, 'GET', '/')],
      ['asset', await call(h.url, 'GET', '/app-3f9c2a1b.js')],
      ['static 404', await call(h.url, 'GET', '/nope.png')],
      ['static 405', await call(h.url, 'POST', '/index.html')],
      ['api 200', await call(h.url, 'GET', '/api/status', { cookie: s.cookie })],
      ['api 401', await call(h.url, 'GET', '/api/status')],
      ['api 403', await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, body: {} })],
      ['api 404', await call(h.url, 'GET', '/api/nothing-here')],
      ['api 405', await call(h.url, 'DELETE', '/api/status', { cookie: s.cookie, csrf: s.csrf })],
      ['api 413', await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, csrf: s.csrf, raw: JSON.stringify({ a: 'x'.repeat(2000) }) })],
      ['api 500', await call(h.url, 'POST', '/api/boom', { cookie: s.cookie, csrf: s.csrf })],
      ['text', await call(h.url, 'GET', '/metrics', { cookie: s.cookie })],
      ['login 401', await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: 'no' }, from: '127.0.3.1' })],
    ];
    const statuses = replies.map(([what, r]) => `${what}:${r.status}`);
    assert.deepEqual(statuses, [
      'index:200', 'asset:200', 'static 404:404', 'static 405:405', 'api 200:200', 'api 401:401', 'api 403:403',
      'api 404:404', 'api 405:405', 'api 413:413', 'api 500:500', 'text:200', 'login 401:401',
    ]);
    for (const [what, reply] of replies) assertSecurityHeaders(reply, what);
    // Errors are JSON with an error string.
    for (const [what, reply] of replies.filter(([w]) => w.startsWith('api 4') || w.startsWith('api 5'))) {
      assert.match(String(reply.headers['content-type']), /^application\/json/, what);
      assert.equal(typeof reply.json.error, 'string', what);
    }
    assert.equal(replies[8]![1].headers.allow, 'GET');
    assert.equal(replies[11]![1].text, 'up 1\n');
    assert.equal(replies[11]![1].headers['content-type'], 'text/plain; version=0.0.4');
    assert.ok(h.lines.some((l) => l.action === 'boom' && l.outcome === 'failed'), 'the 500 is audited as failed');
  });

  it('bounds bodies: 413 by content-length and when streamed chunked, accepts one at the bound', async () => {
    const body = (n: number) => JSON.stringify({ a: 'x'.repeat(n - 8) });
    const atLimit = await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, csrf: s.csrf, raw: body(1024) });
    assert.equal(atLimit.status, 200, atLimit.text);
    assert.equal(atLimit.json.body.a.length, 1016);
    assert.equal(atLimit.json.user, 'admin');
    const declared = await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, csrf: s.csrf, raw: body(1025) });
    assert.equal(declared.status, 413);
    assert.match(declared.json.error, /1024-byte limit/);
    const chunked = await call(h.url, 'POST', '/api/echo', { cookie: s.cookie, csrf: s.csrf, raw: body(100_000), chunked: true });
    assert.equal(chunked.status, 413);
    assert.ok(h.lines.some((l) => l.action === 'echo' && l.status === 413 && l.outcome === 'rejected'));
  });

  it('serves the UI: index no-cache, hashed names immutable, gzip, app paths to index, nothing outside', async () => {
    const index = await call(h.url, 'GET', '/');
    assert.match(index.text, /<title>Tandem<\/title>/);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(index.headers['cache-control'], 'no-cache');
    const asset = await call(h.url, 'GET', '/app-3f9c2a1b.js', { headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(asset.headers['content-encoding'], 'gzip');
    assert.equal(asset.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.ok(Number(asset.headers['content-length']) < 200);
    const plain = await call(h.url, 'GET', '/app-3f9c2a1b.js');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.text, await readFile(join(dir, 'app-3f9c2a1b.js'), 'utf8'));
    const revalidated = await call(h.url, 'GET', '/', { headers: { 'if-none-match': String(index.headers.etag) } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.text, '');
    assertSecurityHeaders(revalidated, '304');
    assert.equal((await call(h.url, 'GET', '/', { headers: { 'if-none-match': '"other"' } })).status, 200);
    const css = await call(h.url, 'GET', '/sub/app.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['cache-control'], 'no-cache');
    const appPath = await call(h.url, 'GET', '/firewall');
    assert.match(appPath.text, /<title>Tandem<\/title>/);
    for (const path of ['/../tandem-secret.txt', '/%2e%2e/tandem-secret.txt', '/sub/..%2f..%2ftandem-secret.txt', '/%00']) {
      const r = await call(h.url, 'GET', path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.text, /secret/);
    }
    const head = await call(h.url, 'HEAD', '/');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    // Gzip over the same bytes: what the budget counts is what is sent.
    const { request } = await import('node:http');
    const raw = await new Promise<Buffer>((resolve, reject) =>
      request(new URL('/app-3f9c2a1b.js', h.url), { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject).end(),
    );
    assert.equal(gunzipSync(raw).toString(), plain.text);
  });
});

describe('api server over HTTPS', () => {
  it('serves with a self-signed certificate: node with it as CA and curl --cacert; HSTS and a Secure cookie', async () => {
    const cert = await makeSelfSignedCertificate({ commonName: 'fw-a', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], now: new Date() });
    const h = await startHarness({ routes: testRoutes, listen: { tls: { certPem: cert.certPem, keyPem: cert.keyPem } } });
    const dir = await mkdtemp(join(tmpdir(), 'tandem-tls-'));
    try {
      assert.match(h.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
      const reply = await call(h.url, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD }, ca: cert.certPem });
      assert.equal(reply.status, 200);
      assertSecurityHeaders(reply, 'https login', true);
      assert.match(reply.headers['set-cookie']![0]!, /; Secure/);
      const cookie = reply.headers['set-cookie']![0]!.split(';')[0]!;
      // A client without the certificate as its CA refuses the connection.
      await assert.rejects(call(h.url, 'GET', '/api/status', { cookie }), /self[- ]signed/i);
      const caFile = join(dir, 'ca.pem');
      await writeFile(caFile, cert.certPem);
      const curl = await run('curl', ['-sS', '--cacert', caFile, '-H', `Cookie: ${cookie}`, '-D', '-', `${h.url}api/status`]);
      assert.match(curl.stdout, /^HTTP\/1\.1 200/);
      assert.match(curl.stdout, /strict-transport-security: max-age=31536000/i);
      assert.match(curl.stdout, /"node":"fw-a"/);
      await assert.rejects(run('curl', ['-sS', `${h.url}api/status`]), /certificate/i);
    } finally {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

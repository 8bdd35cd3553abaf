// THE LIST TEST (issue 12, done-when): every route the server serves, walked from the table
// itself, so a new endpoint cannot forget the rules. Every non-GET `session` route: no session
// → 401, a session without X-CSRF-Token → 403, a wrong token → 403, and the backend untouched
// in all three; every `session` GET without a session → 401. Then the same table with a valid
// session and token reaches the backend, so the recorder above is shown able to notice.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';

import { routes } from '../../../firmware/api/routes.js';
import { call, login, startHarness, type Harness } from './server-harness.js';

/** A concrete path for a route (`:pool` → `x`). */
const pathOf = (pattern: string) => pattern.replace(/:[^/]+/g, 'x');

describe('every route enforces session and CSRF from the table', () => {
  let h: Harness;
  let session: { cookie: string; csrf: string };
  before(async () => {
    h = await startHarness({ routes });
    session = await login(h.url);
    assert.equal(session.csrf.length > 20, true);
  });
  after(() => h.close());

  it('walks the real route table (with login, logout and session added by the server)', () => {
    const paths = h.server.routes.map((r) => `${r.method} ${r.path}`);
    for (const route of routes) assert.ok(paths.includes(`${route.method} ${route.path}`));
    assert.ok(paths.includes('POST /api/login') && paths.includes('POST /api/logout') && paths.includes('GET /api/session'));
    // Only login is public among mutations; only the table's own GETs may be public at all.
    const publicRoutes = h.server.routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(publicRoutes, ['POST /api/login']);
  });

  it('refuses every mutation without a session, without the token and with a wrong one, touching nothing', async () => {
    const mutations = h.server.routes.filter((r) => r.method !== 'GET' && r.access === 'session');
    assert.ok(mutations.length >= 14, `only ${mutations.length} mutations in the table`);
    const wrong = session.csrf.slice(0, -2) + (session.csrf.endsWith('AA') ? 'BB' : 'AA');
    for (const route of mutations) {
      const path = pathOf(route.path);
      const body = { by: 1, on: true, host: 'web-1', text: 'node: {name: x}\n' };
      h.touched.length = 0;

      const anonymous = await call(h.url, route.method, path, { body });
      assert.equal(anonymous.status, 401, `${route.method} ${path} without a session: ${anonymous.text}`);
      assert.equal(typeof anonymous.json?.error, 'string');

      const noToken = await call(h.url, route.method, path, { body, cookie: session.cookie });
      assert.equal(noToken.status, 403, `${route.method} ${path} without X-CSRF-Token: ${noToken.text}`);

      const badToken = await call(h.url, route.method, path, { body, cookie: session.cookie, csrf: wrong });
      assert.equal(badToken.status, 403, `${route.method} ${path} with a wrong X-CSRF-Token: ${badToken.text}`);

      const emptyToken = await call(h.url, route.method, path, { body, cookie: session.cookie, csrf: '' });
      assert.equal(emptyToken.status, 403, `${route.method} ${path} with an empty X-CSRF-Token`);

      assert.deepEqual(h.touched, [], `${route.method} ${path}: the backend was touched (${h.touched.join(', ')})`);
    }
    assert.deepEqual(h.commands, []);
    // Every refusal was audited as such.
    const audits = h.lines.filter((l) => l.audit === true && l.action !== 'login');
    assert.equal(audits.filter((l) => l.outcome === 'unauthenticated').length, mutations.length);
    assert.equal(audits.filter((l) => l.outcome === 'forbidden').length, mutations.length * 3);
  });

  it('refuses a token of another session', async () => {
    const other = await login(h.url);
    const reply = await call(h.url, 'POST', '/api/demote', { body: { by: 1 }, cookie: session.cookie, csrf: other.csrf });
    assert.equal(reply.status, 403);
    assert.deepEqual(h.commands, []);
  });

  it('refuses every session GET without a session', async () => {
    const reads = h.server.routes.filter((r) => r.method === 'GET' && r.access === 'session');
    assert.ok(reads.length >= 8);
    h.touched.length = 0;
    for (const route of reads) {
      const reply = await call(h.url, 'GET', pathOf(route.path));
      assert.equal(reply.status, 401, `GET ${route.path} without a session`);
      const forged = await call(h.url, 'GET', pathOf(route.path), { cookie: 'tandem_session=forged-id' });
      assert.equal(forged.status, 401, `GET ${route.path} with an unknown session id`);
    }
    assert.deepEqual(h.touched, []);
  });

  it('lets the same requests through with the session and its token (the recorder notices)', async () => {
    const demote = await call(h.url, 'POST', '/api/demote', { body: { by: 1 }, cookie: session.cookie, csrf: session.csrf });
    assert.equal(demote.status, 200, demote.text);
    assert.deepEqual(h.commands, [{ cmd: 'demote', by: 1 }]);
    const status = await call(h.url, 'GET', '/api/status', { cookie: session.cookie });
    assert.equal(status.status, 200);
    assert.equal(status.json.node, 'fw-a');
    const audit = h.lines.find((l) => l.audit === true && l.action === 'demote' && l.outcome === 'done');
    assert.ok(audit, 'the demote is in the audit log');
    assert.equal(audit.user, 'admin');
    assert.equal(audit.remote, '127.0.0.1');
  });
});

// The API as a daemon capability (firmware/api/service.ts, tls.ts, the wiring in daemon.ts): what
// is served where (HTTP on loopback only, nothing but loopback without users), the self-signed
// certificate made once and kept, and a real Daemon serving its own status on a loopback port,
// reloading users without logging out the ones it keeps.

import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';

import { hashPassword } from '../../../firmware/api/auth.js';
import { apiConfigIssues, apiSchema, isLoopback, type ApiConfig } from '../../../firmware/api/schema.js';
import { planListeners } from '../../../firmware/api/service.js';
import { CERT_FILE, KEY_FILE, loadTlsIdentity } from '../../../firmware/api/tls.js';
import { formatStatus } from '../../../firmware/commands.js';
import { parseConfig } from '../../../firmware/config/load.js';
import { validate } from '../../../firmware/config/kit.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { makeSelfSignedCertificate } from '../../../firmware/os/x509.js';
import { CHEAP, PASSWORD, call, login } from './server-harness.js';
import { CONFIG_PATH, labConfig, lab, STATE_DIR } from './routes-lab.js';

function apiConfig(input: unknown): ApiConfig {
  const { value, issues } = validate(apiSchema, input);
  assert.deepEqual(issues, []);
  return value!;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('api listeners', () => {
  it('knows loopback', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.ok(isLoopback(host), host);
    for (const host of ['0.0.0.0', '::', '198.51.100.2', '2001:db8::1', '::ffff:198.51.100.2', '128.0.0.1']) assert.ok(!isLoopback(host), host);
  });

  it('serves loopback over HTTP, other addresses over HTTPS, and nothing but loopback without users', () => {
    const noUsers = apiConfig({ listen: ['127.0.0.1:8080', '[::1]:8080', '198.51.100.2:8443', '[2001:db8::2]:8443'] });
    assert.deepEqual(planListeners(noUsers), [
      { listen: '127.0.0.1:8080', host: '127.0.0.1', port: 8080, scheme: 'http' },
      { listen: '[::1]:8080', host: '::1', port: 8080, scheme: 'http' },
      { listen: '198.51.100.2:8443', refused: 'not loopback, and no users are configured (api.users): run `tandem passwd`' },
      { listen: '[2001:db8::2]:8443', refused: 'not loopback, and no users are configured (api.users): run `tandem passwd`' },
    ]);
    const withUser = apiConfig({ ...noUsers, users: [{ name: 'admin', passwordHash: 'scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==' }] });
    assert.deepEqual(planListeners(withUser).map((p) => ('scheme' in p ? p.scheme : 'refused')), ['http', 'http', 'https', 'https']);
  });

  it('defaults and config errors name the path', async () => {
    const defaults = apiConfig({});
    assert.deepEqual(defaults.listen, ['127.0.0.1:8080']);
    assert.deepEqual(defaults.session, { idleMinutes: 30, absoluteHours: 8 });
    assert.equal(defaults.maxBodyBytes, 262_144);
    const hash = await hashPassword('pw', CHEAP);
    const bad = parseConfig(
      JSON.stringify({
        node: { name: 'fw-a' },
        api: {
          listen: ['198.51.100.2', '[::1]:8080', '[::1]:8080'],
          users: [{ name: 'admin', passwordHash: hash }, { name: 'admin', passwordHash: hash }, { name: 'ops', passwordHash: 'hunter2' }],
          tls: { cert: '/cfg/api.pem' },
          session: { idleMinutes: 0 },
        },
      }),
    );
    assert.ok(!bad.ok);
    const messages = bad.issues.map((i) => `${i.path}: ${i.message}`);
    assert.ok(messages.some((m) => m.startsWith('api.listen[0]: must be address:port')), messages.join('\n'));
    assert.ok(messages.some((m) => m.startsWith('api.users[2].passwordHash: must be scrypt$N$r$p$salt$hash')), messages.join('\n'));
    assert.ok(messages.some((m) => m.startsWith('api.tls.key: is required')), messages.join('\n'));
    assert.ok(messages.some((m) => m.startsWith('api.session.idleMinutes: must be 1-1440')), messages.join('\n'));
    // Meaning checks run once the fields are well-formed.
    const dup = apiConfigIssues(apiConfig({ listen: ['[::1]:8080', '[0:0:0:0:0:0:0:1]:8080'], users: [{ name: 'a', passwordHash: hash }, { name: 'a', passwordHash: hash }] }));
    assert.deepEqual(dup.map((i) => i.path), ['api.users[1].name', 'api.listen[1]']);
  });
});

describe('api certificate', () => {
  it('makes a self-signed certificate once, keeps it, and replaces it near its end', async () => {
    const files = new MemoryFileStore();
    const base = { files, stateDir: '/var/lib/tandem', nodeName: 'fw-a', ipAddresses: ['198.51.100.2', '0.0.0.0'] };
    const first = await loadTlsIdentity({ ...base, now: new Date('2026-12-03T00:00:00Z') });
    assert.equal(first.source, 'selfSignedNew');
    const cert = new X509Certificate(first.certPem);
    assert.equal(cert.fingerprint256, first.fingerprintSha256);
    assert.equal(cert.subjectAltName, 'DNS:fw-a, DNS:localhost, IP Address:198.51.100.2');
    assert.equal(files.files.get(`/var/lib/tandem/${KEY_FILE}`), first.keyPem);
    const again = await loadTlsIdentity({ ...base, now: new Date('2027-12-03T00:00:00Z') });
    assert.equal(again.source, 'selfSigned');
    assert.equal(again.fingerprintSha256, first.fingerprintSha256);
    const late = await loadTlsIdentity({ ...base, now: new Date('2036-11-20T00:00:00Z') });
    assert.equal(late.source, 'selfSignedNew');
    assert.notEqual(late.fingerprintSha256, first.fingerprintSha256);
    // A key that does not match the certificate (a torn pair) is not served: a new pair is made.
    const other = await makeSelfSignedCertificate({ commonName: 'x', now: new Date('2036-11-20T00:00:00Z') });
    files.files.set(`/var/lib/tandem/${KEY_FILE}`, other.keyPem);
    const torn = await loadTlsIdentity({ ...base, now: new Date('2036-11-21T00:00:00Z') });
    assert.equal(torn.source, 'selfSignedNew');
    assert.equal(files.files.get(`/var/lib/tandem/${CERT_FILE}`), torn.certPem);
  });

  it('reads api.tls files, with errors naming the key', async () => {
    const files = new MemoryFileStore();
    const made = await makeSelfSignedCertificate({ commonName: 'fw-a', now: new Date() });
    files.files.set('/cfg/api.pem', made.certPem);
    files.files.set('/cfg/api.key', made.keyPem);
    const base = { files, stateDir: '/s', nodeName: 'fw-a', ipAddresses: [], now: new Date() };
    const loaded = await loadTlsIdentity({ ...base, configured: { cert: '/cfg/api.pem', key: '/cfg/api.key' } });
    assert.equal(loaded.source, 'configured');
    assert.equal(loaded.fingerprintSha256, made.fingerprintSha256);
    await assert.rejects(loadTlsIdentity({ ...base, configured: { cert: '/cfg/none.pem', key: '/cfg/api.key' } }), /^Error: api\.tls\.cert: cannot read/);
    files.files.set('/cfg/junk.pem', 'not a certificate');
    await assert.rejects(loadTlsIdentity({ ...base, configured: { cert: '/cfg/junk.pem', key: '/cfg/api.key' } }), /^Error: api\.tls\.cert: not a PEM certificate/);
  });
});

describe('the daemon serves its API', () => {
  it('on loopback: status as `tandem status --json` gives it, api status, reload keeps kept users logged in', async () => {
    const port = await freePort();
    const adminHash = await hashPassword(PASSWORD, CHEAP);
    const opsHash = await hashPassword(PASSWORD, CHEAP);
    const config = (users: { name: string; passwordHash: string }[], listen = [`127.0.0.1:${port}`, '198.51.100.77:8443']) => ({
      ...labConfig('fw-a', 0, { firewall: false }),
      api: { listen, users },
    });
    const l = lab({ power: false });
    const n = l.node('fw-a', 0, JSON.stringify(config([{ name: 'admin', passwordHash: adminHash }, { name: 'ops', passwordHash: opsHash }])));
    await n.daemon.start();
    try {
      const base = `http://127.0.0.1:${port}/`;
      const status = n.daemon.status().api!;
      assert.deepEqual(status.listening, [{ listen: `127.0.0.1:${port}`, url: base }]);
      // 198.51.100.77 is not on this box: refused with the kernel's reason, the rest still serves.
      assert.equal(status.refused.length, 1);
      assert.match(status.refused[0]!.reason, /EADDRNOTAVAIL/);
      assert.match(status.tls!.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.equal(status.tls!.source, 'selfSigned');
      assert.ok(n.files.files.has(`${STATE_DIR}/api/key.pem`));
      assert.equal(status.users, 2);
      assert.equal(status.note, undefined);
      const text = formatStatus(n.daemon.status());
      assert.match(text, new RegExp(`^  api ${base.replace(/\./g, '\\.')}  users 2  sessions 0$`, 'm'));
      assert.match(text, /^  api certificate \(selfSigned, until 20\d\d-.*\) SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
      assert.match(text, /^  api NOT serving 198\.51\.100\.77:8443: .*EADDRNOTAVAIL/m);

      assert.equal((await call(base, 'GET', '/api/status')).status, 401);
      const admin = await login(base, 'admin');
      const ops = await login(base, 'ops');
      assert.equal(admin.reply.status, 200);
      const reply = await call(base, 'GET', '/api/status', { cookie: admin.cookie });
      assert.equal(reply.status, 200);
      assert.equal(reply.json.node, 'fw-a');
      assert.equal(reply.json.carp[0].vhid, 42);
      assert.equal(reply.json.api.sessions, 2);
      const demote = await call(base, 'POST', '/api/demote', { cookie: admin.cookie, csrf: admin.csrf, body: { by: 3 } });
      assert.equal(demote.status, 200, demote.text);
      assert.equal(n.daemon.status().demotion.admin, 3);

      // ops removed, admin kept with the same hash: admin's session survives, ops's ends.
      n.files.files.set(CONFIG_PATH, JSON.stringify(config([{ name: 'admin', passwordHash: adminHash }])));
      assert.deepEqual(await n.daemon.reload(), { ok: true });
      assert.equal((await call(base, 'GET', '/api/status', { cookie: admin.cookie })).status, 200);
      assert.equal((await call(base, 'GET', '/api/status', { cookie: ops.cookie })).status, 401);
      assert.equal(n.daemon.status().api!.users, 1);

      // No users left: the non-loopback listener is refused for that reason and status says so.
      n.files.files.set(CONFIG_PATH, JSON.stringify(config([])));
      assert.deepEqual(await n.daemon.reload(), { ok: true });
      const empty = n.daemon.status().api!;
      assert.match(empty.note!, /no users configured/);
      assert.match(empty.refused[0]!.reason, /no users are configured/);
      assert.equal((await call(base, 'GET', '/api/status', { cookie: admin.cookie })).status, 401);
      const noLogin = await call(base, 'POST', '/api/login', { body: { user: 'admin', password: PASSWORD } });
      assert.equal(noLogin.status, 401);
      assert.match(noLogin.json.error, /tandem passwd/);
    } finally {
      await l.stop();
    }
    // Stopped: the port is free again.
    const again = createServer();
    await new Promise<void>((resolve, reject) => again.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => again.close(resolve));
  });
});

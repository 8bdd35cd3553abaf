// The check kinds against small servers on loopback (the namespace tests repeat them across a
// real link, with TLS): each outcome of tcp, http, send-expect and script, and how ping's
// output is read.

import { strict as assert } from 'node:assert';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { checkSpec, type CheckResult, type CheckSpec } from '../../../firmware/balancer/check.js';
import { icmpResult } from '../../../firmware/balancer/check-icmp.js';
import { NetworkChecks } from '../../../firmware/balancer/checks.js';
import { validate } from '../../../firmware/config/kit.js';
import { balancerSchema } from '../../../firmware/balancer/schema.js';
import { systemClock } from '../../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../../firmware/os/process.js';

const LOOPBACK = '127.0.0.1';
const BODY = 'tandem health ok\n';
const checks = new NetworkChecks(systemClock, new LinuxProcessRunner());

function spec(check: Record<string, unknown>): CheckSpec {
  const { value, issues } = validate(balancerSchema, { pools: [{ name: 'p', port: 1, hosts: [{ address: LOOPBACK }], check: { intervalSeconds: 5, timeoutSeconds: 0.4, ...check } }] });
  assert.ok(value, JSON.stringify(issues));
  return checkSpec(value.pools[0]!.check);
}

async function runCheck(check: Record<string, unknown>, port: number | undefined, address = LOOPBACK): Promise<CheckResult> {
  return checks.create(spec(check)).run({ address, port });
}

async function listen(server: Server | HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return (server.address() as { port: number }).port;
}

describe('checks on loopback', () => {
  const servers: (Server | HttpServer)[] = [];
  const sockets = new Set<Socket>();
  let http = 0;
  let silent = 0;
  let garbage = 0;
  let banner = 0;
  let closed = 0;
  let dir = '';

  before(async () => {
    const web = createHttpServer((req, res) => {
      if (req.url === '/broken') {
        res.writeHead(500);
        res.end('oops');
      } else res.end(BODY);
    });
    const quiet = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    const junk = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    });
    const smtp = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.write('220 mail.example ESMTP\r\n');
      socket.on('data', (chunk: Buffer) => {
        if (chunk.toString().startsWith('QUIT')) socket.end('221 bye\r\n');
      });
    });
    servers.push(web, quiet, junk, smtp);
    [http, silent, garbage, banner] = [await listen(web), await listen(quiet), await listen(junk), await listen(smtp)];
    const gone = createServer();
    closed = await listen(gone);
    await new Promise((resolve) => gone.close(resolve));
    dir = await mkdtemp(join(tmpdir(), 'tandem-check-'));
    const scripts: Record<string, string> = {
      'good.sh': '#!/bin/sh\n[ "$1" = 127.0.0.1 ] && [ "$2" = 8080 ]\n',
      'bad.sh': '#!/bin/sh\necho "backend says no" >&2\nexit 3\n',
      'slow.sh': '#!/bin/sh\nexec sleep 5\n',
    };
    for (const [name, text] of Object.entries(scripts)) {
      await writeFile(join(dir, name), text);
      await chmod(join(dir, name), 0o755);
    }
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('tcp: ok with a round-trip time, refused, no port', async () => {
    const ok = await runCheck({ type: 'tcp' }, http);
    assert.equal(ok.outcome, 'ok');
    assert.ok(ok.rttMs !== undefined && ok.rttMs >= 0 && ok.rttMs < 400);
    assert.deepEqual(await runCheck({ type: 'tcp' }, closed), { outcome: 'connect-refused', detail: 'ECONNREFUSED' });
  });

  it('http: ok, wrong code, digest good and bad, match good and bad', async () => {
    assert.equal((await runCheck({ type: 'http', path: '/health' }, http)).outcome, 'ok');
    assert.deepEqual(
      { ...(await runCheck({ type: 'http', path: '/broken' }, http)), rttMs: 0 },
      { outcome: 'http-code-fail', rttMs: 0, detail: 'status 500, want 200' },
    );
    assert.equal((await runCheck({ type: 'http', path: '/broken', status: 500 }, http)).outcome, 'ok');
    const sha256 = createHash('sha256').update(BODY).digest('hex');
    const sha1 = createHash('sha1').update(BODY).digest('hex');
    assert.equal((await runCheck({ type: 'http', digest: `sha256:${sha256}` }, http)).outcome, 'ok');
    assert.equal((await runCheck({ type: 'http', digest: `sha1:${sha1}` }, http)).outcome, 'ok');
    const wrong = await runCheck({ type: 'http', digest: `sha1:${'0'.repeat(40)}` }, http);
    assert.equal(wrong.outcome, 'http-digest-fail');
    assert.equal(wrong.detail, `sha1 ${sha1}`);
    assert.equal((await runCheck({ type: 'http', match: 'health ok' }, http)).outcome, 'ok');
    assert.equal((await runCheck({ type: 'http', match: '^degraded' }, http)).outcome, 'http-match-fail');
    assert.equal((await runCheck({ type: 'http', method: 'HEAD' }, http)).outcome, 'ok');
  });

  it('http: refused, a silent server times out reading, garbage is malformed', async () => {
    assert.equal((await runCheck({ type: 'http' }, closed)).outcome, 'connect-refused');
    const started = Date.now();
    const quiet = await runCheck({ type: 'http' }, silent);
    assert.equal(quiet.outcome, 'read-timeout');
    assert.ok(Date.now() - started < 1000);
    const junk = await runCheck({ type: 'http' }, garbage);
    assert.equal(junk.outcome, 'http-malformed');
    assert.match(junk.detail ?? '', /^HPE_/);
  });

  it('tls: a server that never answers the handshake times out in the tls phase', async () => {
    const started = Date.now();
    assert.deepEqual(await runCheck({ type: 'tls' }, silent), { outcome: 'tls-timeout', detail: 'no answer within 400 ms (tls)' });
    assert.ok(Date.now() - started < 1000);
    assert.equal((await runCheck({ type: 'tls' }, http)).outcome, 'tls-handshake-fail');
  });

  it('send-expect: a banner, a reply to what was sent, a mismatch, silence', async () => {
    assert.equal((await runCheck({ type: 'send-expect', expect: '^220 ' }, banner)).outcome, 'ok');
    assert.equal((await runCheck({ type: 'send-expect', send: 'QUIT\r\n', expect: '221 bye' }, banner)).outcome, 'ok');
    const mismatch = await runCheck({ type: 'send-expect', send: 'QUIT\r\n', expect: '^\\+PONG' }, banner);
    assert.equal(mismatch.outcome, 'expect-fail');
    assert.match(mismatch.detail ?? '', /220 mail\.example/);
    assert.equal((await runCheck({ type: 'send-expect', send: 'PING\r\n', expect: 'PONG' }, silent)).outcome, 'read-timeout');
    assert.equal((await runCheck({ type: 'send-expect', send: 'PING\r\n' }, silent)).outcome, 'ok', 'no expect: sent is enough');
  });

  it('script: exit 0 healthy with address and port, exit 3 fails with its stderr, a hang is killed, a missing one errors', async () => {
    assert.equal((await runCheck({ type: 'script', script: join(dir, 'good.sh') }, 8080)).outcome, 'ok');
    const bad = await runCheck({ type: 'script', script: join(dir, 'bad.sh') }, 8080);
    assert.equal(bad.outcome, 'script-fail');
    assert.equal(bad.detail, 'exit 3: backend says no');
    const started = Date.now();
    assert.deepEqual(await runCheck({ type: 'script', script: join(dir, 'slow.sh') }, 8080), { outcome: 'script-timeout', detail: 'killed after 400 ms' });
    assert.ok(Date.now() - started < 2000);
    const missing = await runCheck({ type: 'script', script: join(dir, 'missing.sh') }, 8080);
    assert.equal(missing.outcome, 'script-error');
    assert.match(missing.detail ?? '', /ENOENT/);
  });

  it('icmp: loopback answers', async () => {
    const result = await runCheck({ type: 'icmp' }, undefined);
    assert.equal(result.outcome, 'ok', JSON.stringify(result));
    assert.ok(result.rttMs !== undefined && result.rttMs < 100);
  });
});

describe("ping's output (iputils)", () => {
  const rows: [string, number | null, string, string, boolean, CheckResult][] = [
    [
      'a reply',
      0,
      '--- 198.51.100.21 ping statistics ---\n1 packets transmitted, 1 received, 0% packet loss, time 0ms\nrtt min/avg/max/mdev = 0.041/0.041/0.041/0.000 ms\n',
      '',
      false,
      { outcome: 'ok', rttMs: 0.041 },
    ],
    ['no reply', 1, '1 packets transmitted, 0 received, 100% packet loss, time 0ms\n', '', false, { outcome: 'icmp-timeout', detail: 'no echo reply within 1000 ms' }],
    [
      'unreachable',
      1,
      '1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n',
      '',
      false,
      { outcome: 'icmp-unreachable', detail: 'destination unreachable' },
    ],
    ['killed', null, '', '', true, { outcome: 'icmp-timeout', detail: 'no echo reply within 1000 ms' }],
    ['an error', 2, '', 'ping: connect: Network is unreachable\n', false, { outcome: 'icmp-error', detail: 'ping: connect: Network is unreachable' }],
    ['not installed', null, '', 'ping: ENOENT', false, { outcome: 'icmp-error', detail: 'ping: ENOENT' }],
  ];
  for (const [what, code, stdout, stderr, timedOut, expected] of rows) {
    it(what, () => assert.deepEqual(icmpResult(code, stdout, stderr, timedOut, 1000), expected));
  }
});

// Every health check kind across a real link, passing and failing: a Tandem router (the built
// bundle) in h1 with one single-host pool per case, a backend in h2 (HTTP, HTTPS with a
// certificate from a test CA, a banner service, a silent port), and h3 that ignores pings and
// drops TCP to one port. Each pool's host must end on the expected outcome after one round.
// Tier "netns": run as root after `npm run build`.

import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Outcome } from '../../firmware/balancer/check.js';
import { STATIC_PAGE } from './balancer-backend.js';
import { Backend, Router, makePki } from './balancer-lab.js';
import { eventually, requireRoot } from './lab.js';
import { labPerTest } from './peers.js';

const BACKEND = '198.51.100.12';
const BACKEND6 = '2001:db8::12';
const DEAF = '198.51.100.13';

describe('health checks against real servers in namespaces', () => {
  const { lab, work } = labPerTest(3);

  it('each check kind passes against a healthy server and fails with the right outcome', async (t) => {
    if (!requireRoot(t)) return;
    const pki = await makePki(work().path, BACKEND);
    await Backend.start(lab(), 2, ['--http', '8080', '--https', '8443', '--cert', pki.cert, '--key', pki.key, '--banner', '7000', '--silent', '7001']);
    // h3 answers no ping and drops TCP to 9999 without a reset, as a firewalled or hung host does.
    await lab().exec(3, 'sysctl', ['-qw', 'net.ipv4.icmp_echo_ignore_all=1']);
    await lab().exec(3, 'nft', ['add table inet lab; add chain inet lab input { type filter hook input priority 0; }; add rule inet lab input tcp dport 9999 drop']);

    const script = join(work().path, 'check.sh');
    await writeFile(script, '#!/bin/sh\nexec curl -sf -o /dev/null --max-time 1 "http://$1:$2/static"\n');
    const slow = join(work().path, 'slow.sh');
    await writeFile(slow, '#!/bin/sh\nexec sleep 10\n');
    await chmod(script, 0o755);
    await chmod(slow, 0o755);

    const sha256 = createHash('sha256').update(STATIC_PAGE).digest('hex');
    const sha1 = createHash('sha1').update(STATIC_PAGE).digest('hex');
    const https = (extra: Record<string, unknown>) => ({ type: 'https', tls: { verify: true, ca: pki.ca }, ...extra });
    // [pool name, host, port, check, expected outcome]
    const cases: [string, string, number | undefined, Record<string, unknown>, Outcome][] = [
      ['icmp-ok', BACKEND, undefined, { type: 'icmp' }, 'ok'],
      ['icmp-ignored', DEAF, undefined, { type: 'icmp' }, 'icmp-timeout'],
      ['icmp-ok-v6', BACKEND6, undefined, { type: 'icmp' }, 'ok'],
      ['tcp-ok', BACKEND, 8080, { type: 'tcp' }, 'ok'],
      ['tcp-ok-v6', BACKEND6, 8080, { type: 'tcp' }, 'ok'],
      ['http-ok-v6', BACKEND6, 8080, { type: 'http', path: '/static', match: 'health page' }, 'ok'],
      ['tcp-refused', BACKEND, 9, { type: 'tcp' }, 'connect-refused'],
      ['tcp-dropped', DEAF, 9999, { type: 'tcp' }, 'connect-timeout'],
      ['send-ok', BACKEND, 7000, { type: 'send-expect', send: 'PING\r\n', expect: '\\+PONG' }, 'ok'],
      ['banner-ok', BACKEND, 7000, { type: 'send-expect', expect: '^220 h2 ready' }, 'ok'],
      ['send-mismatch', BACKEND, 7000, { type: 'send-expect', send: 'PING\r\n', expect: '^\\+OK' }, 'expect-fail'],
      ['send-silent', BACKEND, 7001, { type: 'send-expect', send: 'PING\r\n', expect: 'PONG' }, 'read-timeout'],
      ['http-ok', BACKEND, 8080, { type: 'http', path: '/static', digest: `sha256:${sha256}`, match: 'health page' }, 'ok'],
      ['http-sha1', BACKEND, 8080, { type: 'http', path: '/static', digest: `sha1:${sha1}` }, 'ok'],
      ['http-code', BACKEND, 8080, { type: 'http', path: '/status/503' }, 'http-code-fail'],
      ['http-digest', BACKEND, 8080, { type: 'http', path: '/static', digest: `sha256:${'0'.repeat(64)}` }, 'http-digest-fail'],
      ['http-match', BACKEND, 8080, { type: 'http', path: '/static', match: '^maintenance' }, 'http-match-fail'],
      ['http-refused', BACKEND, 9, { type: 'http' }, 'connect-refused'],
      ['http-silent', BACKEND, 7001, { type: 'http' }, 'read-timeout'],
      ['http-dropped', DEAF, 9999, { type: 'http' }, 'connect-timeout'],
      ['https-ok', BACKEND, 8443, https({ path: '/static', digest: `sha256:${sha256}` }), 'ok'],
      ['https-code', BACKEND, 8443, https({ path: '/status/500' }), 'http-code-fail'],
      ['https-other-ca', BACKEND, 8443, https({ tls: { verify: true, ca: pki.otherCa } }), 'tls-verify-fail'],
      ['https-unverified', BACKEND, 8443, { type: 'https', tls: { verify: false } }, 'ok'],
      ['https-plain-port', BACKEND, 8080, https({}), 'tls-handshake-fail'],
      ['tls-ok', BACKEND, 8443, { type: 'tls', tls: { verify: true, ca: pki.ca } }, 'ok'],
      ['tls-by-name', BACKEND, 8443, { type: 'tls', tls: { verify: true, ca: pki.ca, servername: 'backend.test' } }, 'ok'],
      ['tls-wrong-name', BACKEND, 8443, { type: 'tls', tls: { verify: true, ca: pki.ca, servername: 'www.example.org' } }, 'tls-verify-fail'],
      ['tls-other-ca', BACKEND, 8443, { type: 'tls', tls: { verify: true, ca: pki.otherCa } }, 'tls-verify-fail'],
      ['tls-plain-port', BACKEND, 8080, { type: 'tls' }, 'tls-handshake-fail'],
      ['tls-silent', BACKEND, 7001, { type: 'tls' }, 'tls-timeout'],
      ['script-ok', BACKEND, 8080, { type: 'script', script }, 'ok'],
      ['script-fail', BACKEND, 9, { type: 'script', script }, 'script-fail'],
      ['script-slow', BACKEND, 8080, { type: 'script', script: slow }, 'script-timeout'],
    ];
    const pools = cases.map(([name, address, port, check]) => ({
      name,
      hosts: [{ address, ...(port !== undefined ? { port } : {}) }],
      check: { intervalSeconds: 5, timeoutSeconds: 1, downAfter: 1, upAfter: 1, ...check },
      demote: 0,
    }));
    const router = await Router.start(lab(), 1, work(), { carp: false, pools });

    const status = await eventually('every pool to finish a round', async () => {
      const s = await router.status();
      return s.pools.every((p) => p.hosts[0]!.checks > 0) ? s : undefined;
    }, 8000);
    const got = Object.fromEntries(status.pools.map((p) => [p.name, p.hosts[0]!.lastOutcome]));
    const want = Object.fromEntries(cases.map(([name, , , , outcome]) => [name, outcome]));
    assert.deepEqual(got, want);
    for (const pool of status.pools) {
      const host = pool.hosts[0]!;
      if (host.lastOutcome === 'ok') {
        assert.equal(host.state, 'up', pool.name);
        assert.ok(host.rttMs !== undefined && host.rttMs >= 0 && host.rttMs < 1000, `${pool.name} rtt ${host.rttMs}`);
      } else {
        assert.equal(host.state, 'down', pool.name);
        assert.equal(host.lastError?.outcome, host.lastOutcome, pool.name);
      }
    }
    // The details say what went wrong, for status and telemetry.
    const detail = (name: string) => status.pools.find((p) => p.name === name)!.hosts[0]!.lastError?.detail;
    assert.equal(detail('http-code'), 'status 503, want 200');
    assert.equal(detail('tcp-refused'), 'ECONNREFUSED');
    assert.match(detail('tls-wrong-name') ?? '', /ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.match(detail('https-other-ca') ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    await router.terminate();
  });
});

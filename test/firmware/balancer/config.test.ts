// The `balancer` config section: defaults, the typed check spec, and one broken config per row
// with the exact line `tandem check` prints for it (schema and semantic checks).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkSpec } from '../../../firmware/balancer/check.js';
import { parseConfig } from '../../../firmware/config/load.js';

const head = 'node:\n  name: fw-a\nbalancer:\n  pools:\n';

function issuesOf(text: string): string[] {
  const result = parseConfig(text);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.issues.map((i) => `${i.line ?? '?'}: ${i.path}: ${i.message}`);
}

describe('balancer config', () => {
  it('fills in defaults: tcp check every 10 s, down after 3, up after 2, demote 1, relay tcp roundrobin', () => {
    const result = parseConfig(
      head +
        '    - name: web\n      port: 80\n      hosts: [{ address: 198.51.100.21 }, { address: "2001:db8::22", weight: 3 }]\n' +
        '      relay: { listen: "198.51.100.100:80" }\n',
    );
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    const pool = result.config.balancer.pools[0]!;
    assert.deepEqual(pool.check, { type: 'tcp', intervalSeconds: 10, timeoutSeconds: 2, downAfter: 3, upAfter: 2 });
    assert.equal(pool.demote, 1);
    assert.deepEqual(pool.hosts[1], { address: '2001:db8::22', weight: 3, mode: 'active' });
    assert.deepEqual(pool.relay, {
      listen: '198.51.100.100:80',
      mode: 'tcp',
      algorithm: 'roundrobin',
      maxConnections: 4096,
      connectTimeoutSeconds: 3,
      idleTimeoutSeconds: 300,
      retries: 2,
    });
  });

  it('no balancer section means no pools', () => {
    const result = parseConfig('node:\n  name: fw-a\n');
    assert.ok(result.ok);
    assert.deepEqual(result.config.balancer, { pools: [] });
  });

  it('turns an https check into its typed spec', () => {
    const result = parseConfig(
      head +
        '    - name: web\n      port: 443\n      hosts: [{ address: 198.51.100.21 }]\n' +
        '      check:\n        type: https\n        path: /health\n        status: 204\n        timeoutSeconds: 1.5\n' +
        '        digest: SHA256:' + 'AB'.repeat(32) + '\n        tls: { verify: true, ca: /cfg/ca.pem, servername: www.example.org }\n',
    );
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    assert.deepEqual(checkSpec(result.config.balancer.pools[0]!.check), {
      type: 'https',
      timeoutMs: 1500,
      method: 'GET',
      path: '/health',
      host: undefined,
      status: 204,
      digest: { algorithm: 'sha256', hex: 'ab'.repeat(32) },
      match: undefined,
      tls: { verify: true, ca: '/cfg/ca.pem', servername: 'www.example.org' },
    });
  });

  it('parses a lower-case digest', () => {
    const result = parseConfig(
      head + '    - name: web\n      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n' +
        `      check: { type: http, digest: "sha1:${'ab'.repeat(20)}" }\n`,
    );
    assert.ok(result.ok);
    const spec = checkSpec(result.config.balancer.pools[0]!.check);
    assert.ok(spec.type === 'http');
    assert.deepEqual(spec.digest, { algorithm: 'sha1', hex: 'ab'.repeat(20) });
  });

  const pool = (body: string) => head + '    - name: web\n' + body;
  const rows: [string, string, string[]][] = [
    [
      'timeout not below interval',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      check: { type: tcp, intervalSeconds: 2, timeoutSeconds: 2 }\n'),
      ['8: balancer.pools[0].check.timeoutSeconds: must be less than intervalSeconds (2), got 2'],
    ],
    [
      'a field of another check type',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      check: { type: tcp, path: /health }\n'),
      ['8: balancer.pools[0].check.path: a tcp check takes no path (only http, https)'],
    ],
    [
      'a script check without a script',
      pool('      hosts: [{ address: 198.51.100.21 }]\n      check: { type: script }\n'),
      ['7: balancer.pools[0].check.script: a script check needs the script to run'],
    ],
    [
      'no port for a tcp check',
      pool('      hosts: [{ address: 198.51.100.21 }]\n'),
      ['6: balancer.pools[0].hosts[0].port: a tcp check needs a port: set check.port, the pool\'s port or the host\'s'],
    ],
    [
      'a bad digest',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      check: { type: http, digest: "md5:abc" }\n'),
      ['8: balancer.pools[0].check.digest: must be sha1:<40 hex digits> or sha256:<64 hex digits>, got "md5:abc"'],
    ],
    [
      'a bad regular expression',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      check: { type: http, match: "ok(" }\n'),
      ['8: balancer.pools[0].check.match: is not a regular expression (Invalid regular expression: /ok(/: Unterminated group), got "ok("'],
    ],
    [
      'redirect and relay at once',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      redirect: { table: web }\n      relay: { listen: "198.51.100.100:80" }\n'),
      ['9: balancer.pools[0].relay: a pool is either redirected by the kernel (redirect) or relayed (relay), not both'],
    ],
    [
      'a relayed host without a port',
      pool('      hosts: [{ address: 198.51.100.21 }]\n      check: { type: icmp }\n      relay: { listen: "198.51.100.100:80" }\n'),
      ["6: balancer.pools[0].hosts[0].port: a relayed host needs a port (here or as the pool's port)"],
    ],
    [
      'a listen address without a port',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      relay: { listen: 198.51.100.100 }\n'),
      ['8: balancer.pools[0].relay.listen: must be address:port, like 198.51.100.100:80 or [2001:db8::100]:80, got "198.51.100.100"'],
    ],
    [
      'the same host twice',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }, { address: 198.51.100.21, port: 80 }]\n'),
      ['7: balancer.pools[0].hosts[1]: 198.51.100.21 port 80 is already hosts[0]'],
    ],
    [
      'two pools, one table',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      redirect: { table: web }\n') +
        '    - name: web2\n      port: 80\n      hosts: [{ address: 198.51.100.22 }]\n      redirect: { table: web }\n',
      ['12: balancer.pools[1].redirect.table: table web is already fed by balancer.pools[0]'],
    ],
    [
      'a pool name twice',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n') + '    - name: web\n      port: 80\n      hosts: [{ address: 198.51.100.22 }]\n',
      ['8: balancer.pools[1].name: pool web is already defined by balancer.pools[0]'],
    ],
    [
      'mixed families in a redirect pool',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }, { address: "2001:db8::21" }]\n      redirect: { table: web }\n'),
      ['7: balancer.pools[0].hosts: a redirect table holds one address family: use one pool for IPv4 hosts and one for IPv6'],
    ],
    [
      'a table name nftables or pf would refuse',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      redirect: { table: web-pool }\n'),
      ['8: balancer.pools[0].redirect.table: must be 1-31 characters: a letter, then letters, digits, _, got "web-pool"'],
    ],
    [
      'HEAD with a digest',
      pool(`      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      check: { type: http, method: HEAD, digest: "sha1:${'a'.repeat(40)}" }\n`),
      ['8: balancer.pools[0].check.method: a HEAD response has no body to digest or match: use GET'],
    ],
    [
      'a weight of 0',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21, weight: 0 }]\n'),
      ['7: balancer.pools[0].hosts[0].weight: must be 1-100, got 0'],
    ],
    [
      'an unknown algorithm',
      pool('      port: 80\n      hosts: [{ address: 198.51.100.21 }]\n      relay: { listen: "198.51.100.100:80", algorithm: leastconn }\n'),
      ['8: balancer.pools[0].relay.algorithm: must be one of roundrobin, least-connections, source-hash, random, got "leastconn"'],
    ],
  ];
  for (const [what, text, expected] of rows) {
    it(`rejects ${what}`, () => {
      assert.deepEqual(issuesOf(text), expected);
    });
  }
});

// The relay with real traffic: a Tandem router in h1 holding the VIP, three HTTP backends in
// h2-h4, a client in h5 using curl. One pool relays tcp on VIP:80, one http on VIP:81. Traffic
// spreads, a stopped backend leaves within interval x downAfter and comes back after a restart,
// a drained backend finishes its open download and gets nothing new, X-Forwarded-For carries
// the client, and a dead pool resets (tcp) or answers 503 (http) at once.
// Tier "netns": run as root after `npm run build`.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Backend, Router, VIP, backendsHit, curl } from './balancer-lab.js';
import { eventually, requireRoot } from './lab.js';
import { labPerTest } from './peers.js';

const CLIENT = 5;
const INTERVAL = 0.5;
const DOWN_AFTER = 2;
const UP_AFTER = 2;
const BACKENDS = ['198.51.100.12', '198.51.100.13', '198.51.100.14'];

function pools(modes: Record<string, string> = {}) {
  const hosts = BACKENDS.map((address) => ({ address, ...(modes[address] ? { mode: modes[address] } : {}) }));
  const check = { type: 'http', path: '/health', intervalSeconds: INTERVAL, timeoutSeconds: 0.4, downAfter: DOWN_AFTER, upAfter: UP_AFTER };
  return [
    { name: 'web', port: 8080, hosts, check, relay: { listen: `${VIP}:80`, mode: 'tcp', algorithm: 'roundrobin' } },
    { name: 'webhttp', port: 8080, hosts, check, relay: { listen: `${VIP}:81`, mode: 'http', algorithm: 'roundrobin' } },
  ];
}

describe('relay through the VIP with real traffic', () => {
  const { lab, work } = labPerTest(5);

  it('spreads, fails over, recovers, drains, forwards the client address and refuses cleanly when all are down', async (t) => {
    if (!requireRoot(t)) return;
    const backends = await Promise.all([2, 3, 4].map((h) => Backend.start(lab(), h)));
    const router = await Router.start(lab(), 1, work(), { pools: pools() });
    await eventually('MASTER with both relays listening and every host up', async () => {
      const s = await router.status();
      const ready = s.carp[0]?.state === 'MASTER' && s.pools.every((p) => p.relay?.listening && p.state === 'up');
      return ready ? true : undefined;
    }, 8000);

    // Round robin over fresh connections, in tcp mode and in http mode.
    assert.deepEqual(await backendsHit(lab(), CLIENT, `http://${VIP}/`, 6), ['h2', 'h3', 'h4', 'h2', 'h3', 'h4']);
    assert.deepEqual(await backendsHit(lab(), CLIENT, `http://${VIP}:81/`, 3), ['h2', 'h3', 'h4']);

    // http mode adds X-Forwarded-For with the client's address; tcp mode leaves bytes alone.
    const viaHttp = await curl(lab(), CLIENT, ['-f', `http://${VIP}:81/`]);
    assert.equal((JSON.parse(viaHttp.stdout) as { xff: string }).xff, lab().host(CLIENT).ipv4);
    const viaTcp = await curl(lab(), CLIENT, ['-f', `http://${VIP}/`]);
    assert.equal((JSON.parse(viaTcp.stdout) as { xff: string | null }).xff, null);

    // Stop h3's server: it leaves the pool within interval x downAfter (plus the round in progress).
    const stoppedAt = Date.now();
    await backends[1]!.stop();
    // Requests in the meantime still succeed: a refused connect goes to the next host.
    const during = await backendsHit(lab(), CLIENT, `http://${VIP}/`, 4);
    assert.ok(!during.includes('h3'), during.join(' '));
    const detectedMs = await eventually('h3 to be down', async () => {
      const host = (await router.pool('web')).hosts.find((h) => h.address === BACKENDS[1]);
      return host?.state === 'down' ? Date.now() - stoppedAt : undefined;
    }, 5000, 20);
    t.diagnostic(`stopped backend down after ${detectedMs} ms (interval ${INTERVAL} s x downAfter ${DOWN_AFTER})`);
    assert.ok(detectedMs <= (INTERVAL * DOWN_AFTER + INTERVAL) * 1000 + 300, `down after ${detectedMs} ms`);
    const web = await router.pool('web');
    assert.equal(web.state, 'degraded');
    assert.equal(web.hosts[1]!.lastError?.outcome, 'connect-refused');
    assert.deepEqual((await backendsHit(lab(), CLIENT, `http://${VIP}/`, 4)).sort(), ['h2', 'h2', 'h4', 'h4']);

    // Restart it: back after upAfter good checks.
    backends[1] = await Backend.start(lab(), 3);
    const restartedAt = Date.now();
    const backMs = await eventually('h3 to be up again', async () => {
      const host = (await router.pool('web')).hosts.find((h) => h.address === BACKENDS[1]);
      return host?.state === 'up' ? Date.now() - restartedAt : undefined;
    }, 5000, 20);
    t.diagnostic(`restarted backend up after ${backMs} ms (upAfter ${UP_AFTER})`);
    assert.ok(backMs <= (INTERVAL * UP_AFTER + INTERVAL) * 1000 + 300, `up after ${backMs} ms`);
    assert.ok((await backendsHit(lab(), CLIENT, `http://${VIP}/`, 6)).includes('h3'));

    // Drain the host that serves a long download: the download finishes, nothing new goes there.
    const download = curl(lab(), CLIENT, ['-f', '--max-time', '10', `http://${VIP}/slow?ms=2500`]);
    const busy = await eventually('the download to open a connection', async () => {
      return (await router.pool('web')).hosts.find((h) => h.connections === 1);
    }, 3000, 20);
    await router.reloadPools(pools({ [busy.address]: 'draining' }));
    const drained = await router.pool('web');
    const drainedHost = drained.hosts.find((h) => h.address === busy.address)!;
    assert.equal(drainedHost.state, 'draining');
    assert.equal(drainedHost.connections, 1);
    const name = `h${Number(busy.address.split('.').pop()) - 10}`;
    const meanwhile = await backendsHit(lab(), CLIENT, `http://${VIP}/`, 6);
    assert.ok(!meanwhile.includes(name), `${name} drained, yet got: ${meanwhile.join(' ')}`);
    const finished = await download;
    assert.equal(finished.code, 0, finished.stderr);
    const lines = finished.stdout.trim().split('\n');
    assert.equal(lines.length, 12);
    assert.equal(lines[0], `${name} slow start`);
    assert.equal(lines.at(-1), `${name} slow end`);
    await eventually('the drained host to have no connection left', async () => {
      const host = (await router.pool('web')).hosts.find((h) => h.address === busy.address);
      return host?.connections === 0 ? true : undefined;
    });
    await router.reloadPools(pools());

    // Every backend down: tcp clients are reset at once, http clients get a 503 at once.
    await Promise.all(backends.map((b) => b.stop()));
    await eventually('both pools down', async () => {
      const s = await router.status();
      return s.pools.every((p) => p.state === 'down') ? s : undefined;
    }, 5000);
    const noHostBefore = (await router.pool('web')).relay!.noHost;
    const reset = await curl(lab(), CLIENT, ['--max-time', '5', `http://${VIP}/`]);
    // The relay accepts and resets at once; when the reset overtakes curl's check of its
    // non-blocking connect, curl reports "couldn't connect" (7) instead of a reset (56).
    assert.ok(reset.code === 56 || reset.code === 7, `curl ${reset.code}: ${reset.stderr}`);
    assert.ok(reset.ms < 1000, `reset after ${reset.ms} ms`);
    assert.equal((await router.pool('web')).relay!.noHost, noHostBefore + 1, 'the relay itself refused it (a reset, not a missing listener)');
    const unavailable = await curl(lab(), CLIENT, ['--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${VIP}:81/`]);
    assert.equal(unavailable.stdout, '503');
    assert.ok(unavailable.ms < 1000);
    const status = await router.status();
    assert.equal(status.demotion.total, 2, 'each dead pool demotes by 1');
    assert.ok(status.pools[0]!.relay!.noHost >= 1);
    await router.terminate();
  });
});

// Redirect mode with real traffic: the router in h1 forwards VIP:80 to table `web` with nftables
// (dnat over the table's slot map, masquerade towards the backends since everything shares one
// segment), and the pool keeps the table equal to its healthy hosts among h2-h4. A stopped
// backend leaves the table within interval x downAfter, comes back after a restart, a drained
// one finishes its open download (conntrack keeps it) and gets nothing new — and the ruleset is
// never reloaded for any of it: the rule handles stay the same. `tandem balancer drain` does the
// same at run time, and a restarted router still drains the host. Tier "netns": root, nftables.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { Backend, Router, VIP, backendsHit, curl } from './balancer-lab.js';
import { eventually, requireRoot } from './lab.js';
import { BUNDLE, labPerTest } from './peers.js';

const CLIENT = 5;
const INTERVAL = 0.5;
const DOWN_AFTER = 2;
const BACKENDS = ['198.51.100.12', '198.51.100.13', '198.51.100.14'];

const firewall = {
  zones: { lan: { interfaces: ['eth0'], addresses: ['198.51.100.11/24'] } },
  rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
  // One segment: without this the backends would answer the client directly, from the wrong address.
  nat: [{ on: 'lan', to: { table: 'web' }, natTo: { interface: true } }],
  forwards: [{ name: 'web', on: 'lan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
};

function pools(modes: Record<string, string> = {}) {
  const hosts = BACKENDS.map((address) => ({ address, ...(modes[address] ? { mode: modes[address] } : {}) }));
  return [
    {
      name: 'web',
      port: 8080,
      hosts,
      check: { type: 'http', path: '/health', intervalSeconds: INTERVAL, timeoutSeconds: 0.4, downAfter: DOWN_AFTER, upAfter: 2 },
      redirect: { table: 'web' },
    },
  ];
}

describe('redirect through the firewall table with real traffic', () => {
  const { lab, work } = labPerTest(5);

  it('the slot map follows host health in place; traffic moves away, comes back, drains', async (t) => {
    if (!requireRoot(t)) return;
    await lab().exec(1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']);
    const backends = await Promise.all([2, 3, 4].map((h) => Backend.start(lab(), h)));
    const router = await Router.start(lab(), 1, work(), { pools: pools(), firewall });
    const slots = async () => {
      const { stdout } = await lab().exec(1, 'nft', ['-j', 'list', 'map', 'inet', 'tandem', 'web-slots-v4']);
      const map = (JSON.parse(stdout) as { nftables: { map?: { elem?: [number, string][] } }[] }).nftables.find((e) => e.map)?.map;
      return new Set((map?.elem ?? []).map(([, address]) => address));
    };
    const handles = async () => (await lab().exec(1, 'nft', ['-a', 'list', 'chain', 'inet', 'tandem', 'prerouting'])).stdout.match(/# handle \d+/g)?.join(' ');
    await eventually('MASTER, pool up, every backend in the table', async () => {
      const s = await router.status();
      const ok = s.carp[0]?.state === 'MASTER' && s.pools[0]?.state === 'up' && (await slots()).size === 3;
      return ok ? true : undefined;
    }, 10_000);
    const rules = await handles();
    assert.ok(rules, 'the prerouting chain has rules');

    const hits = await backendsHit(lab(), CLIENT, `http://${VIP}/`, 9);
    assert.deepEqual([...new Set(hits)].sort(), ['h2', 'h3', 'h4']);
    const seen = await curl(lab(), CLIENT, ['-f', `http://${VIP}/`]);
    assert.equal((JSON.parse(seen.stdout) as { remote: string }).remote.replace(/^::ffff:/, ''), lab().host(1).ipv4, 'masqueraded');

    const stoppedAt = Date.now();
    await backends[1]!.stop();
    const gone = await eventually('h3 to leave the slot map', async () => ((await slots()).has(BACKENDS[1]!) ? undefined : Date.now() - stoppedAt), 5000, 20);
    t.diagnostic(`stopped backend out of the kernel table after ${gone} ms`);
    assert.ok(gone <= (INTERVAL * DOWN_AFTER + INTERVAL) * 1000 + 500, `${gone} ms`);
    assert.deepEqual([...new Set(await backendsHit(lab(), CLIENT, `http://${VIP}/`, 9))].sort(), ['h2', 'h4']);

    backends[1] = await Backend.start(lab(), 3);
    await eventually('h3 back in the slot map', async () => ((await slots()).has(BACKENDS[1]!) ? true : undefined), 5000, 20);
    assert.ok((await backendsHit(lab(), CLIENT, `http://${VIP}/`, 9)).includes('h3'));

    // Drain the host serving a download: conntrack keeps the flow, the table drops the host.
    const download = curl(lab(), CLIENT, ['-f', '--max-time', '10', `http://${VIP}/slow?ms=2500`]);
    const established = async (h: number) =>
      (await lab().exec(h, 'ss', ['-Htn', 'state', 'established', '( sport = :8080 )'])).stdout.trim().length > 0;
    // Sampled twice: a health check's connection lasts a millisecond, the download seconds.
    const busy = await eventually('the download to reach a backend', async () => {
      for (const h of [2, 3, 4]) if ((await established(h)) && (await new Promise((r) => setTimeout(r, 150)), await established(h))) return h;
      return undefined;
    }, 2000, 50);
    const name = `h${busy}`;
    const address = BACKENDS[busy - 2]!;
    await router.reloadPools(pools({ [address]: 'draining' }));
    await eventually(`${name} out of the slot map`, async () => ((await slots()).has(address) ? undefined : true), 3000, 20);
    assert.ok(!(await backendsHit(lab(), CLIENT, `http://${VIP}/`, 6)).includes(name));
    const finished = await download;
    assert.equal(finished.code, 0, finished.stderr);
    assert.equal(finished.stdout.trim().split('\n').at(-1), `${name} slow end`);

    assert.equal(await handles(), rules, 'the ruleset was never reloaded: same rule handles');
    const status = await router.pool('web');
    assert.deepEqual(status.redirect?.members.slice().sort(), BACKENDS.filter((a) => a !== address));
    assert.ok((status.redirect?.writes ?? 0) >= 4);

    // The same at run time, from the CLI, and persisted across a restart.
    await router.reloadPools(pools());
    await eventually(`${name} back in the slot map`, async () => ((await slots()).has(address) ? true : undefined), 3000, 20);
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, [BUNDLE, ...args, '--control', router.socket], { encoding: 'utf8' }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr })),
      );
    const drained = await cli('balancer', 'drain', address);
    assert.equal(drained.code, 0, drained.stderr);
    assert.equal(drained.stdout.trim(), `draining: web/${address}`);
    await eventually(`${name} out of the slot map`, async () => ((await slots()).has(address) ? undefined : true), 3000, 20);
    assert.ok(!(await backendsHit(lab(), CLIENT, `http://${VIP}/`, 6)).includes(name));
    const host = async (r: Router) => (await r.pool('web')).hosts.find((h) => h.address === address)!;
    assert.equal((await host(router)).drained, true);
    await router.terminate();
    const again = await Router.start(lab(), 1, work(), { pools: pools(), firewall });
    await eventually('the restarted router up, the drained host still out', async () => {
      const s = await again.status();
      return s.carp[0]?.state === 'MASTER' && s.pools[0]?.state === 'up' && (await slots()).size === 2 && !(await slots()).has(address) ? true : undefined;
    }, 10_000);
    assert.equal((await host(again)).state, 'draining');
    const unknown = await cli('balancer', 'undrain', '198.51.100.99');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no host 198\.51\.100\.99 in any pool/);
    assert.equal(again.socket, router.socket, 'the same control socket path');
    const back = await cli('balancer', 'undrain', address, '--pool', 'web');
    assert.equal(back.code, 0, back.stderr);
    await eventually(`${name} back in the slot map`, async () => ((await slots()).has(address) ? true : undefined), 3000, 20);
    await again.terminate();
  });
});

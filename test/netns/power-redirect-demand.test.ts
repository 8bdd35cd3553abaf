// A redirect pool's demand measured from the real kernel (issue 10, item 4): the router in h1
// forwards VIP:80 with nftables to table `web` (as balancer-redirect.test.ts), a client in h5
// holds 6 connections open, and the pool's status counts them from the router namespace's
// conntrack table, per backend; closing them brings the count back to 0.
// Tier "netns": root, nftables, after `npm run build`.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Backend, Router, VIP } from './balancer-lab.js';
import { eventually, requireRoot } from './lab.js';
import { labPerTest } from './peers.js';

const CLIENT = 5;
const BACKENDS = ['198.51.100.12', '198.51.100.13', '198.51.100.14'];
const HELD = 6;

const firewall = {
  zones: { lan: { interfaces: ['eth0'], addresses: ['198.51.100.11/24'] } },
  rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
  nat: [{ on: 'lan', to: { table: 'web' }, natTo: { interface: true } }],
  forwards: [{ name: 'web', on: 'lan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
};

const pools = [
  {
    name: 'web',
    port: 8080,
    hosts: BACKENDS.map((address) => ({ address })),
    check: { type: 'http', path: '/health', intervalSeconds: 0.5, timeoutSeconds: 0.4, downAfter: 2, upAfter: 2 },
    redirect: { table: 'web' },
  },
];

describe('redirect pool demand from conntrack', () => {
  const { lab, work } = labPerTest(5);

  it('counts the connections the kernel redirects, per backend', async (t) => {
    if (!requireRoot(t)) return;
    await lab().exec(1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']);
    await Promise.all([2, 3, 4].map((h) => Backend.start(lab(), h)));
    const router = await Router.start(lab(), 1, work(), { pools, firewall });
    await eventually('MASTER and pool up', async () => {
      const s = await router.status();
      return s.carp[0]?.state === 'MASTER' && s.pools[0]?.state === 'up' ? true : undefined;
    }, 10_000);
    const idle = await router.pool('web');
    assert.equal(idle.demand.measured, true, 'a redirect pool is measured once conntrack was read');
    assert.equal(idle.demand.connections, 0);

    const script = `const net = require('node:net'); let n = 0;
      for (let i = 0; i < ${HELD}; i++) net.connect(80, '${VIP}').on('connect', () => { if (++n === ${HELD}) console.log('held'); }).on('error', (e) => console.log(e.message));`;
    const holder = lab().spawn(CLIENT, process.execPath, ['-e', script]);
    let output = '';
    holder.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    await eventually('connections held', () => (output.includes('held') ? true : undefined), 10_000);
    const counted = await eventually('the pool to count them', async () => {
      const web = await router.pool('web');
      return web.demand.connections === HELD ? web : undefined;
    }, 5000, 100);
    const perHost = counted.hosts.map((h) => h.connections);
    t.diagnostic(`per backend: ${perHost.join(' ')}`);
    assert.equal(perHost.reduce((a, b) => a + b, 0), HELD);
    assert.ok(counted.demand.requestsPerSecond > 0, 'the new flows are metered');

    holder.kill();
    await eventually('the count to fall back to 0', async () => ((await router.pool('web')).demand.connections === 0 ? true : undefined), 10_000, 100);
  });
});

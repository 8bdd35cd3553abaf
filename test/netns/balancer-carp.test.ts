// CARP coupling with real daemons: fw-a (h1, advskew 0) and fw-b (h2, advskew 100) hold VIP
// 198.51.100.100 and relay VIP:80 to one backend in h3. When h3 stops answering fw-a (an nft
// rule in h3 drops fw-a's packets, as a cut server LAN would), fw-a's pool is entirely down:
// fw-a demotes, fw-b becomes MASTER, its relay binds the VIP, and the client in h4 still gets
// through. Tier "netns": run as root after `npm run build`.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Backend, Router, VIP, curl } from './balancer-lab.js';
import { eventually, requireRoot } from './lab.js';
import { labPerTest } from './peers.js';

const BACKEND = '198.51.100.13';

const pools = [
  {
    name: 'web',
    port: 8080,
    hosts: [{ address: BACKEND }],
    check: { type: 'http', path: '/health', intervalSeconds: 0.5, timeoutSeconds: 0.3, downAfter: 2, upAfter: 2 },
    demote: 1,
    relay: { listen: `${VIP}:80` },
  },
];

describe('a whole pool down demotes CARP', () => {
  const { lab, work } = labPerTest(4);

  it('the master that loses its pool yields the VIP to the peer, and lifts the demotion on recovery', async (t) => {
    if (!requireRoot(t)) return;
    await Backend.start(lab(), 3);
    const a = await Router.start(lab(), 1, work(), { advskew: 0, pools });
    const b = await Router.start(lab(), 2, work(), { advskew: 100, pools });
    await eventually('fw-a MASTER, fw-b BACKUP, both pools up', async () => {
      const [sa, sb] = [await a.status(), await b.status()];
      const ok = sa.carp[0]?.state === 'MASTER' && sb.carp[0]?.state === 'BACKUP' && sa.pools[0]?.state === 'up' && sb.pools[0]?.state === 'up';
      return ok ? true : undefined;
    }, 10_000);
    assert.equal((await a.pool('web')).relay?.listening, true);
    assert.equal((await b.pool('web')).relay?.listening, false, 'the VIP is not on fw-b yet');
    const first = await curl(lab(), 4, ['-f', '--max-time', '3', `http://${VIP}/`]);
    assert.equal(first.code, 0, first.stderr);

    // h3 drops whatever fw-a sends it: only fw-a's pool goes down.
    await lab().exec(3, 'nft', [`add table inet lab; add chain inet lab input { type filter hook input priority 0; }; add rule inet lab input ip saddr ${lab().host(1).ipv4} drop`]);
    const cutAt = Date.now();
    await eventually('fw-b to become MASTER', async () => ((await b.carpState()) === 'MASTER' ? true : undefined), 8000, 50);
    t.diagnostic(`fw-b MASTER ${Date.now() - cutAt} ms after fw-a lost its backend`);
    const sa = await a.status();
    assert.equal(sa.pools[0]!.state, 'down');
    assert.equal(sa.pools[0]!.hosts[0]!.lastOutcome, 'connect-timeout');
    assert.deepEqual(sa.demotion.external, { 'balancer:web': 1 });
    assert.equal(sa.pools[0]!.demote, 1);
    await eventually('fw-a to be BACKUP', async () => ((await a.carpState()) === 'BACKUP' ? true : undefined), 3000);
    assert.equal((await b.status()).pools[0]!.state, 'up');

    // The client reaches the backend through fw-b's relay, which binds the VIP once it holds it.
    const through = await eventually('the client to get through fw-b', async () => {
      const reply = await curl(lab(), 4, ['-f', '--max-time', '2', `http://${VIP}/`]);
      return reply.code === 0 ? reply : undefined;
    }, 5000, 100);
    assert.equal((JSON.parse(through.stdout) as { remote: string }).remote.replace(/^::ffff:/, ''), lab().host(2).ipv4);
    assert.equal((await b.pool('web')).relay?.listening, true);

    // h3 answers fw-a again: the demotion is lifted (fw-b stays MASTER: no preempt).
    await lab().exec(3, 'nft', ['delete table inet lab']);
    await eventually('fw-a pool up and demotion lifted', async () => {
      const s = await a.status();
      return s.pools[0]!.state === 'up' && s.demotion.total === 0 ? true : undefined;
    }, 5000);
    assert.equal(await b.carpState(), 'MASTER');
    await a.terminate();
    await b.terminate();
  });
});

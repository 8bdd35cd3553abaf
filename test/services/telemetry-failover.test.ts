// Issue 11's "done when", CARP side: two Tandem nodes (the built bundle) in lab namespaces report to
// Debian's mosquitto in a third; after a failover the retained CARP states on the broker are right
// for both nodes, and a node killed with -9 (or hung: SIGSTOP) shows `{"online": false}` within
// 1.5 x keepalive.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { eventually, requireRoot } from '../netns/lab.js';
import { labPerTest } from '../netns/peers.js';
import { LabSubscriber, Mosquitto, TelemetryNode, retainedIn } from './telemetry-lab.js';

const KEEPALIVE = 2;

describe('telemetry: CARP failover as the broker sees it', () => {
  const { lab, work } = labPerTest(3);

  it('retained states follow a failover; kill -9 leaves the last will within 1.5 x keepalive', { timeout: 90_000 }, async (t) => {
    if (!requireRoot(t)) return;
    const brokerHost = lab().host(3).ipv4;
    const broker = await Mosquitto.start(work().file('broker'), [`listener 1883 ${brokerHost}`, 'allow_anonymous true', 'persistence false'], { lab: lab(), host: 3 });
    try {
      const telemetry = { mqtt: { url: `mqtt://${brokerHost}:1883`, keepaliveSeconds: KEEPALIVE } };
      const a = await TelemetryNode.launchIn({ lab: lab(), host: 1 }, work(), { name: 'fw-a', telemetry, carp: [{ advskew: 0 }] });
      const b = await TelemetryNode.launchIn({ lab: lab(), host: 2 }, work(), { name: 'fw-b', telemetry, carp: [{ advskew: 100 }] });
      const live = LabSubscriber.start(lab(), 3, brokerHost, ['tandem/#']);
      const state = (node: string) => live.last(`tandem/${node}/carp/42/state`)?.state;
      await eventually('fw-a MASTER and fw-b BACKUP on the broker', () => (state('fw-a') === 'MASTER' && state('fw-b') === 'BACKUP' ? true : undefined), 15_000);

      await a.control({ cmd: 'failover' });
      await eventually('fw-b MASTER and fw-a BACKUP on the broker', () => (state('fw-b') === 'MASTER' && state('fw-a') === 'BACKUP' ? true : undefined), 10_000);
      // What a monitor that subscribes now gets: the retained messages alone.
      const retained = await retainedIn(lab(), 3, brokerHost, 'tandem/#');
      assert.equal(retained.get('tandem/fw-a/carp/42/state')?.state, 'BACKUP');
      assert.equal(retained.get('tandem/fw-b/carp/42/state')?.state, 'MASTER');
      assert.equal(retained.get('tandem/fw-a/status')?.online, true);
      assert.equal(retained.get('tandem/fw-b/status')?.online, true);
      const bState = retained.get('tandem/fw-b/carp/42/state')!;
      // status() converts CARP's monotonic stamp at each call: it may differ by a millisecond.
      const statusSince = Date.parse((await b.status()).carp[0]!.since);
      assert.ok(Math.abs(Date.parse(bState.since as string) - statusSince) <= 2, `${bState.since} vs status ${statusSince}`);
      assert.deepEqual(bState.addresses, ['198.51.100.100/24']);
      // The failover is in both nodes' event streams, numbered.
      const events = live.lines.filter((l) => l.startsWith('tandem/fw-b/events ')).map((l) => JSON.parse(l.slice('tandem/fw-b/events '.length)) as { seq: number; type: string; to?: string });
      assert.ok(events.some((e) => e.type === 'carpTransition' && e.to === 'MASTER'), JSON.stringify(events));

      // kill -9: the kernel closes the socket, so the broker publishes the will at once.
      const killedAt = Date.now();
      b.kill9();
      const offlineAt = await eventually('fw-b offline on the broker', () => (live.last('tandem/fw-b/status')?.online === false ? Date.now() : undefined), 15_000);
      const elapsed = (offlineAt - killedAt) / 1000;
      t.diagnostic(`kill -9 to {"online": false}: ${elapsed.toFixed(2)} s (keepalive ${KEEPALIVE} s)`);
      // mosquitto's deadline is 1.5 x keepalive; 0.5 s covers the subscriber's side and the poll.
      assert.ok(elapsed <= 1.5 * KEEPALIVE + 0.5, `offline after ${elapsed} s`);
      await eventually('fw-a MASTER again on the broker', () => (state('fw-a') === 'MASTER' ? true : undefined), 10_000);

      // A node that hangs (or loses power) closes nothing: only the keepalive tells the broker.
      const stoppedAt = Date.now();
      a.child.kill('SIGSTOP');
      try {
        const hungAt = await eventually('fw-a offline after a hang', () => (live.last('tandem/fw-a/status')?.online === false ? Date.now() : undefined), 15_000);
        const hung = (hungAt - stoppedAt) / 1000;
        t.diagnostic(`SIGSTOP to {"online": false}: ${hung.toFixed(2)} s (keepalive ${KEEPALIVE} s)`);
        // 1.5 x keepalive counts from the last packet the broker got (up to one keepalive before the
        // hang); mosquitto looks once a second with a whole-second clock (up to 1 s more), and the
        // subscriber and this poll add their share on a loaded machine (0.5 s).
        assert.ok(hung <= 1.5 * KEEPALIVE + 1.5, `offline after ${hung} s`);
        assert.ok(hung > 0.5, `offline after ${hung} s: that was a closed socket, not the keepalive`);
      } finally {
        a.child.kill('SIGCONT');
      }
      // Back from the hang: it reconnects and says so.
      await eventually('fw-a online again', () => (live.last('tandem/fw-a/status')?.online === true ? true : undefined), 15_000);

      // A clean shutdown publishes offline itself, after its final INIT state.
      await a.terminate();
      await eventually('fw-a offline', () => (live.last('tandem/fw-a/status')?.online === false ? true : undefined), 5000);
      assert.equal(state('fw-a'), 'INIT');
      live.stop();
    } finally {
      await broker.stop();
    }
  });
});

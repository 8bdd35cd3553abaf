// Issue 11's "done when", event side: events raised while Debian's mosquitto is down, and across
// a restart of the daemon (the built bundle), all arrive afterwards, in order, none twice, with
// `seq` +1 each. The broker runs on a free loopback port; the daemon has no CARP vhosts (the
// events are maintenance on/off through the control socket), so nothing leaves loopback. After a
// kill -9 the next seq is above every one handed out before (a gap, never a repeat).

import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import { eventually } from '../netns/lab.js';
import { Workdir } from '../netns/peers.js';
import { Mosquitto, TelemetryNode, freePort } from './telemetry-lab.js';

interface EventMessage {
  seq: number;
  node: string;
  time: string;
  type: string;
  on?: boolean;
}

describe('telemetry: no event lost', () => {
  it('delivers events from a broker outage and across a daemon restart in order, none twice', { timeout: 90_000 }, async (t) => {
    const work = await Workdir.create();
    const port = await freePort();
    // Persistence keeps the subscriber's session (and what is queued for it) across the broker's restart.
    const brokerLines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${work.file('broker')}/`];
    let broker = await Mosquitto.start(work.file('broker'), brokerLines);
    const received: EventMessage[] = [];
    const subscriber = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'monitor', clean: false, reconnectPeriod: 200 });
    let node: TelemetryNode | undefined;
    try {
      subscriber.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString()) as EventMessage));
      await subscriber.subscribeAsync('tandem/fw-q/events', { qos: 1 });
      const telemetry = { mqtt: { url: `mqtt://127.0.0.1:${port}`, keepaliveSeconds: 5, reconnectMinSeconds: 1, reconnectMaxSeconds: 2 } };
      const start = () => TelemetryNode.launchIn(undefined, work, { name: 'fw-q', telemetry });
      const maintenance = async (on: boolean) => node!.control({ cmd: 'maintenance', on });
      node = await start();
      await eventually('fw-q connected', async () => ((await node!.status()).telemetry?.connection.state === 'connected' ? true : undefined), 10_000);

      await maintenance(true);
      await eventually('the first event', () => (received.length >= 1 ? true : undefined), 5000);

      // The broker goes away; two events wait in the queue.
      await broker.stop();
      await maintenance(false);
      await maintenance(true);
      const away = (await node.status()).telemetry!;
      assert.equal(away.queue.pending, 2);
      await eventually('fw-q to see the broker gone', async () => ((await node!.status()).telemetry?.connection.state === 'reconnecting' ? true : undefined), 10_000);

      // The daemon restarts while the broker is still away (SIGTERM writes the queue) and raises one more.
      assert.equal(await node.terminate(), 0);
      const file = JSON.parse(await readFile(work.file('fw-q/state/telemetry-queue.json'), 'utf8')) as { nextSeq: number; pending: EventMessage[] };
      assert.deepEqual(file.pending.map((e) => e.on), [false, true]);
      node = await start();
      await maintenance(false);
      assert.equal((await node.status()).telemetry!.queue.pending, 3);

      broker = await Mosquitto.start(work.file('broker'), brokerLines);
      await eventually('all four events', () => (received.length >= 4 ? true : undefined), 20_000).catch(async (error: Error) => {
        throw new Error(`${error.message}; received ${JSON.stringify(received)}; status ${JSON.stringify((await node!.status()).telemetry)}`);
      });
      await eventually('the queue drained', async () => ((await node!.status()).telemetry?.queue.pending === 0 ? true : undefined), 5000);
      // Anything late or doubled would show now.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const seqs = received.map((e) => e.seq);
      t.diagnostic(`received seq ${seqs.join(',')}`);
      assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'seq +1 each, in order, none twice');
      assert.deepEqual(received.filter((e) => e.type === 'maintenance').map((e) => e.on), [true, false, true, false]);
      assert.ok(received.every((e) => e.node === 'fw-q' && !Number.isNaN(Date.parse(e.time))));
      assert.equal((await node.status()).telemetry!.queue.dropped, 0);

      // kill -9: what was acknowledged since the queue's last write comes again (same seq, same
      // event: a monitor drops it by seq), and the next run never reuses a seq (a gap instead).
      const before = received.length;
      node.kill9();
      await node.exited;
      node = await start();
      await maintenance(true);
      const fresh = await eventually('the event raised after the crash', () => received.slice(before).find((e) => e.on === true && e.type === 'maintenance' && !seqs.includes(e.seq)), 10_000);
      t.diagnostic(`after kill -9: seq ${received.slice(before).map((e) => e.seq).join(',')} (last before: ${seqs.at(-1)})`);
      assert.ok(fresh.seq > seqs.at(-1)!, `new seq ${fresh.seq} above every earlier one`);
      const bySeq = new Map<number, string>();
      for (const e of received) {
        const text = JSON.stringify(e);
        assert.equal(bySeq.get(e.seq) ?? text, text, `seq ${e.seq} names one event only`);
        bySeq.set(e.seq, text);
      }
    } finally {
      await node?.terminate();
      await subscriber.endAsync(true);
      await broker.stop();
      await work.dispose();
    }
  });
});

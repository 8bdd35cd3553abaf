// Issue 11's "done when", TLS: the daemon (the built bundle) reaches Debian's mosquitto over
// mqtts:// with a client certificate from a CA made here with openssl; a daemon trusting another
// CA refuses the broker and says why in its log and in `status` (telemetry.connection.lastError).

import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';
import { eventually } from '../netns/lab.js';
import { Workdir } from '../netns/peers.js';
import { Mosquitto, TelemetryNode, freePort, makeCa } from './telemetry-lab.js';

describe('telemetry over TLS', () => {
  it('connects with a client certificate; a wrong CA fails with a clear error', { timeout: 90_000 }, async (t) => {
    const work = await Workdir.create();
    const good = await makeCa(work.file('pki'), 'good');
    const other = await makeCa(work.file('pki'), 'other');
    const port = await freePort();
    const broker = await Mosquitto.start(work.file('broker'), [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      `cafile ${good.ca}`,
      `certfile ${good.serverCert}`,
      `keyfile ${good.serverKey}`,
      'require_certificate true',
    ]);
    const nodes: TelemetryNode[] = [];
    const url = `mqtts://127.0.0.1:${port}`;
    let monitor: mqtt.MqttClient | undefined;
    try {
      const ok = await TelemetryNode.launchIn(undefined, work, {
        name: 'fw-tls',
        telemetry: { mqtt: { url, ca: good.ca, cert: good.clientCert, key: good.clientKey } },
      });
      nodes.push(ok);
      await eventually('fw-tls connected over TLS', async () => ((await ok.status()).telemetry?.connection.state === 'connected' ? true : undefined), 10_000);

      // The broker holds its retained status: read it back over TLS with another client certificate.
      monitor = await mqtt.connectAsync(url, {
        ca: await readFile(good.ca),
        cert: await readFile(good.clientCert),
        key: await readFile(good.clientKey),
        clientId: 'monitor',
      });
      const status = new Promise<Record<string, unknown>>((resolve) =>
        monitor!.on('message', (topic, payload) => topic === 'tandem/fw-tls/status' && resolve(JSON.parse(payload.toString()) as Record<string, unknown>)),
      );
      await monitor.subscribeAsync('tandem/fw-tls/status', { qos: 1 });
      assert.equal((await status).online, true);

      const wrong = await TelemetryNode.launchIn(undefined, work, {
        name: 'fw-wrongca',
        telemetry: { mqtt: { url, ca: other.ca, cert: good.clientCert, key: good.clientKey, reconnectMinSeconds: 1 } },
      });
      nodes.push(wrong);
      const connection = await eventually('fw-wrongca to report its error', async () => {
        const c = (await wrong.status()).telemetry?.connection;
        return c?.lastError ? c : undefined;
      }, 10_000);
      t.diagnostic(`wrong CA: ${connection.lastError}`);
      assert.notEqual(connection.state, 'connected');
      assert.match(connection.lastError!, /certificate is not trusted/);
      assert.match(connection.lastError!, /telemetry\.mqtt\.ca/);
      assert.match(wrong.output, /"level":"error","msg":"telemetry: TLS: the broker's certificate is not trusted/);

      // No client certificate: mosquitto requires one and ends the handshake.
      const anonymous = await TelemetryNode.launchIn(undefined, work, { name: 'fw-nocert', telemetry: { mqtt: { url, ca: good.ca } } });
      nodes.push(anonymous);
      const refused = await eventually('fw-nocert to report its error', async () => (await anonymous.status()).telemetry?.connection.lastError, 10_000);
      assert.notEqual((await anonymous.status()).telemetry?.connection.state, 'connected');
      t.diagnostic(`no client certificate: ${refused}`);
      assert.match(refused, /TLS: the broker refused this node's client certificate .*CERTIFICATE_REQUIRED/);
    } finally {
      await monitor?.endAsync(true);
      for (const node of nodes) await node.terminate();
      await broker.stop();
      await work.dispose();
    }
  });
});

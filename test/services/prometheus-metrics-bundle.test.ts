// Services tier, the shipped bundle end to end (issue 11 items 1, 2 and 7): `tandem run` from
// dist/tandem.mjs with telemetry to Debian's mosquitto on loopback and /metrics on
// telemetry.prometheus.listen. The `metrics` topic carries the node's figures and the inventory
// that dist/inventory-worker.mjs gathered in its worker thread; /metrics parses with promtool.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import mqtt from 'mqtt';

import { eventually } from '../netns/lab.js';
import { BUNDLE, Workdir } from '../netns/peers.js';
import { freePort, Mosquitto, TelemetryNode } from './telemetry-lab.js';

function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

const missing = !existsSync(BUNDLE) || !existsSync(BUNDLE.replace(/tandem\.mjs$/, 'inventory-worker.mjs')) ? 'the bundle is not built (npm run build)' : undefined;

describe('the bundle: metrics topic and /metrics', { skip: missing }, () => {
  it('publishes metrics with the inventory and serves /metrics that promtool accepts', { timeout: 60_000 }, async () => {
    const work = await Workdir.create();
    const [mqttPort, metricsPort] = [await freePort(), await freePort()];
    const broker = await Mosquitto.start(work.file('broker'), [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'set_tcp_nodelay true']);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
    let node: TelemetryNode | undefined;
    try {
      const received: Record<string, unknown>[] = [];
      client.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString()) as Record<string, unknown>));
      await client.subscribeAsync('tandem/fw-metrics/metrics', { qos: 0 });
      node = await TelemetryNode.launchIn(undefined, work, {
        name: 'fw-metrics',
        telemetry: { mqtt: { url: `mqtt://127.0.0.1:${mqttPort}` }, metricsIntervalSeconds: 5, prometheus: { listen: `127.0.0.1:${metricsPort}` } },
      });
      // The first publish comes one interval after start; the inventory worker is done long before.
      const metrics = await eventually('a metrics message with the inventory', () => received.find((m) => m['inventory']), 20_000);
      assert.equal(metrics['node'], 'fw-metrics');
      const inventory = metrics['inventory'] as { os: { platform: string }; cpu: { cores: number }; scheduling: { policy: number; nice: number } };
      assert.equal(inventory.os.platform, 'linux');
      assert.ok(inventory.cpu.cores >= 1);
      assert.deepEqual([inventory.scheduling.policy, inventory.scheduling.nice], [0, 19]);
      const memory = metrics['memory'] as { totalBytes: number; usedPercent: number };
      assert.ok(memory.totalBytes > 0 && memory.usedPercent > 0 && memory.usedPercent < 100);
      assert.ok((metrics['interfaces'] as Record<string, unknown>)['lo'], 'the loopback interface');
      assert.ok((metrics['process'] as { rssBytes: number }).rssBytes > 20 * 1024 * 1024);

      const reply = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(reply.status, 200);
      const text = await reply.text();
      assert.match(text, /^tandem_info\{node="fw-metrics",version="[^"]+"\} 1$/m);
      assert.match(text, /^tandem_telemetry_connected 1$/m);
      assert.match(text, /^tandem_telemetry_published_total\{kind="metrics"\} [1-9]\d*$/m);
      assert.deepEqual(await promtool(text), { code: 0, output: '' });
    } finally {
      await node?.terminate();
      await client.endAsync();
      await broker.stop();
      await work.dispose();
    }
  });
});

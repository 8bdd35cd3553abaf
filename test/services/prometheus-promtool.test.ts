// Services tier for the Prometheus endpoint (issue 11 item 7): the `/metrics` body parses with a
// real parser, Debian's promtool (`promtool check metrics`, the Go library's own text parser
// and its linter). Checked on the renderer's full output with hostile label values, and end to
// end: a Daemon configured with telemetry.prometheus.listen, reading this machine's real /proc
// and /sys, scraped over HTTP on loopback.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';

import { validate } from '../../firmware/config/kit.js';
import { configSchema } from '../../firmware/config/schema.js';
import { Daemon } from '../../firmware/daemon.js';
import { createLogger } from '../../firmware/log.js';
import { Segment } from '../../firmware/net/segment.js';
import { FakeClock } from '../../firmware/os/clock.js';
import { MemoryFileStore } from '../../firmware/os/files.js';
import { FakeProcessRunner } from '../../firmware/os/process.js';
import { renderPrometheus } from '../../firmware/telemetry/prometheus.js';
import { poolFixture, snapshotFixture, statusFixture } from '../firmware/telemetry/metrics-fixture.js';

interface Checked {
  code: number | null;
  output: string;
}

function promtool(text: string): Promise<Checked> {
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

const available = await promtool('').then(
  () => undefined,
  (error: Error) => `promtool is not installed (Debian package prometheus): ${error.message}`,
);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('promtool check metrics', { skip: available }, () => {
  it('rejects broken exposition text (the check can fail)', async () => {
    for (const bad of ['tandem_x{a="b} 1\n', '# TYPE tandem_x gauge\ntandem_x one\n', '# TYPE tandem_x_total counter\n# TYPE tandem_x_total counter\ntandem_x_total 1\n']) {
      const result = await promtool(bad);
      assert.notEqual(result.code, 0, `${JSON.stringify(bad)} passed: ${result.output}`);
    }
  });

  it('accepts every family the renderer has, hostile label values included, with no lint', async () => {
    const nasty = 'we"b\\1\nx';
    const status = statusFixture({ pools: [poolFixture(), poolFixture(nasty)], unmatched: { 'eth1.10': { badVhid: 7, short: 1 } } });
    const text = renderPrometheus(snapshotFixture({ status }));
    assert.ok(text.includes('pool="we\\"b\\\\1\\nx"'));
    const result = await promtool(text);
    assert.deepEqual(result, { code: 0, output: '' });
  });

  it('accepts what a running daemon serves on telemetry.prometheus.listen, from the real /proc and /sys', async () => {
    const port = await freePort();
    const { value: config, issues } = validate(configSchema, {
      node: { name: 'fw-a', stateDir: '/var/lib/tandem' },
      carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret' }],
      telemetry: { prometheus: { listen: `127.0.0.1:${port}` } },
    });
    assert.ok(config, JSON.stringify(issues));
    const clock = new FakeClock();
    const segment = new Segment(clock, { seed: 3 });
    segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
    const host = segment.host('fw-a');
    const daemon = new Daemon(config, {
      clock,
      files: new MemoryFileStore(),
      processes: new FakeProcessRunner(),
      packets: host,
      addresses: host,
      announcer: host,
      links: host,
      log: createLogger('error'),
    });
    await daemon.start();
    try {
      await clock.advance(3500);
      const reply = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(reply.status, 200);
      const text = await reply.text();
      assert.match(text, /^tandem_carp_state\{vhid="42",interface="eth0"\} 2$/m);
      assert.match(text, /^tandem_carp_adverts_sent_total\{vhid="42",interface="eth0"\} [1-9]/m);
      assert.match(text, /^tandem_node_network_receive_bytes_total\{interface="lo"\} \d+$/m);
      assert.match(text, /^tandem_node_cpu_seconds_total\{mode="idle"\} [\d.]+$/m);
      assert.match(text, /^tandem_process_resident_memory_bytes \d+$/m);
      assert.deepEqual(await promtool(text), { code: 0, output: '' });
    } finally {
      await daemon.stop();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'the listener closes with the daemon');
  });
});

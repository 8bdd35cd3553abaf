// The demo's telemetry (firmware/demo/broker.ts, demo.ts): `npm start`'s simulated nodes report to
// the in-process aedes broker on loopback over mqtt.js; `telemetry on` prints the retained state
// and then live messages, mosquitto_sub -v style, and a crashed node's last will shows up.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

const bundle = new URL('../../../dist/tandem.mjs', import.meta.url).pathname;

describe('tandem demo telemetry', () => {
  it('prints what the nodes publish to the in-process broker, and a crash as the will', { timeout: 30000 }, async () => {
    const demo = spawn(process.execPath, [bundle, 'demo'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    const waitFor = async (pattern: RegExp, timeoutMs = 8000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`no ${pattern} in demo output:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await waitFor(/MQTT broker \(aedes\) on mqtt:\/\/127\.0\.0\.1:\d+/);
      await waitFor(/fw-a +vhid 42: BACKUP -> MASTER/);
      // Off by default: nothing from the broker yet.
      assert.doesNotMatch(output, /^tandem\//m);
      demo.stdin.write('telemetry on\n');
      await waitFor(/^tandem\/fw-a\/status \{"online":true,"node":"fw-a".*"protocolVersion":4\}$/m);
      await waitFor(/^tandem\/fw-a\/carp\/42\/state \{"state":"MASTER"/m);
      await waitFor(/^tandem\/fw-c\/pools\/web \{"state":"up"/m);
      demo.stdin.write('crash a\n');
      await waitFor(/^tandem\/fw-a\/status \{"online":false\}$/m);
      await waitFor(/^tandem\/fw-b\/events \{"seq":\d+,"node":"fw-b".*"type":"carpTransition","vhid":42.*"to":"MASTER"/m);
      demo.stdin.write('telemetry off\nquit\n');
      assert.equal(await exited, 0);
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });
});

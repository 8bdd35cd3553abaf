import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

const bundle = new URL('../../../dist/tandem.mjs', import.meta.url).pathname;

describe('tandem demo (what npm start runs)', () => {
  it('elects masters, survives a crash of one, and quits on command', { timeout: 30000 }, async () => {
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
      await waitFor(/fw-a +vhid 42: BACKUP -> MASTER/);
      await waitFor(/fw-b +vhid 43: BACKUP -> MASTER/);
      demo.stdin.write('crash a\n');
      await waitFor(/fw-a +crashed/);
      await waitFor(/fw-b +vhid 42: BACKUP -> MASTER \(masterDown\)/);
      demo.stdin.write('status\n');
      await waitFor(/client reaches: 198\.51\.100\.100\/24 -> fw-b/);
      demo.stdin.write('quit\n');
      assert.equal(await exited, 0);
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });
});

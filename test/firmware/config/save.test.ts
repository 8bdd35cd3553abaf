import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { ConfigRejected, saveConfigText } from '../../../firmware/config/save.js';

// Large enough that a write takes several syscalls and a kill can land in the middle of one.
function bigConfig(name: string): string {
  const padding = Array.from({ length: 20000 }, (_, i) => `# ${name} padding line ${i} ${'x'.repeat(40)}`).join('\n');
  return `node:\n  name: ${name}\ncarp: []\n${padding}\n`;
}

describe('config save', () => {
  it('refuses an invalid config and leaves the file as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-save-'));
    try {
      const path = join(dir, 'tandem.yaml');
      await saveConfigText(path, 'node: { name: fw-a }\n');
      await assert.rejects(saveConfigText(path, 'node: { name: fw-a }\ncarp: [{ vhid: 300 }]\n'), (error: unknown) => {
        assert.ok(error instanceof ConfigRejected);
        assert.ok(error.issues.some((i) => i.path === 'carp[0].vhid'));
        return true;
      });
      assert.equal(await readFile(path, 'utf8'), 'node: { name: fw-a }\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a writer killed with SIGKILL mid-save leaves the old or the new config, never a torn one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-save-'));
    try {
      const path = join(dir, 'tandem.yaml');
      const a = bigConfig('fw-a');
      const b = bigConfig('fw-b');
      await writeFile(join(dir, 'a.yaml'), a);
      await writeFile(join(dir, 'b.yaml'), b);
      await saveConfigText(path, a);
      const seen = new Set<string>();
      for (let trial = 0; trial < 8; trial++) {
        const child = spawn(process.execPath, ['--import', 'tsx', new URL('./save-child.ts', import.meta.url).pathname, path, join(dir, 'a.yaml'), join(dir, 'b.yaml')], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        // Let it complete a few saves, then kill it in the middle of its endless save loop.
        const wanted = 2 + (trial % 4);
        await new Promise<void>((resolve) => {
          let saves = 0;
          child.stdout.on('data', (chunk: Buffer) => {
            saves += chunk.toString().split('\n').filter((l) => l.startsWith('saved')).length;
            if (saves >= wanted) resolve();
          });
        });
        await new Promise((resolve) => setTimeout(resolve, trial % 3));
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
        const text = await readFile(path, 'utf8');
        assert.ok(text === a || text === b, `trial ${trial}: the file is neither config (${text.length} bytes)`);
        const parsed = parseConfig(text);
        assert.ok(parsed.ok);
        seen.add(parsed.config.node.name);
      }
      // Kills landed at different points of the alternating saves, so both versions turned up.
      assert.deepEqual([...seen].sort(), ['fw-a', 'fw-b']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

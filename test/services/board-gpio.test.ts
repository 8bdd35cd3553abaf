// onoff against a fake sysfs GPIO tree (issue 15 item 5): onoff hardcodes /sys/class/gpio, so
// the child runs in a private mount namespace (unshare -m) where a tmpfs covers /sys/class and
// the fake tree is bind-mounted at /sys/class/gpio; nothing outside that namespace sees it.
// The test presses the button by writing the line's value file and reads the LEDs' value files.
// A regular file cannot raise the edge interrupt (epoll refuses it), so the button is read by
// polling here: the same path a line without interrupt support takes on a real board.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./board-gpio-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function unavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (a private mount namespace over /sys/class)';
  const probe = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /sys/class'], { stdio: 'ignore' });
  return probe.status === 0 ? undefined : 'unshare -m with a tmpfs over /sys/class failed here';
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await Promise.resolve().then(check).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('board GPIO through onoff on a fake sysfs tree', { skip: unavailable() }, () => {
  let fake: string;
  let child: ChildProcess;
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';

  before(async () => {
    fake = await mkdtemp(join(tmpdir(), 'tandem-gpio-'));
    await writeFile(join(fake, 'export'), '');
    await writeFile(join(fake, 'unexport'), '');
    for (const line of [17, 18, 27]) {
      // Exported already (as a board's init or udev would): onoff configures it in place.
      const dir = join(fake, `gpio${line}`);
      await mkdir(dir);
      await writeFile(join(dir, 'value'), '0');
      await writeFile(join(dir, 'direction'), 'in');
      await writeFile(join(dir, 'active_low'), '0');
      await writeFile(join(dir, 'edge'), 'none');
    }
    child = spawn(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /sys/class && mkdir /sys/class/gpio && mount --bind "$0" /sys/class/gpio && exec node --import tsx "$1"', fake, CHILD],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    await until('the board service to start', () => lines.find((l) => l.started), 20_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${stderr}`);
    });
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
    }
    if (fake) await rm(fake, { recursive: true, force: true });
  });

  const value = (line: number, file = 'value') => readFile(join(fake, `gpio${line}`, file), 'utf8');

  it('configures the lines as onoff does: LEDs as outputs (active-low where asked), the button as an input on both edges', async () => {
    assert.equal(await value(17, 'direction'), 'low');
    assert.equal(await value(17, 'active_low'), '1');
    assert.equal(await value(18, 'active_low'), '0');
    assert.equal(await value(27, 'direction'), 'in');
    assert.equal(await value(27, 'edge'), 'both');
    assert.equal(await value(27, 'active_low'), '1');
    const status = lines.find((l) => l.started)!.status as { leds: Record<string, { line: string; pattern: string }>; button: { line: string } };
    assert.deepEqual(status.leds.master, { line: 'gpio:17', pattern: 'on' });
    assert.equal(status.button.line, 'gpio:27');
  });

  it('the master LED is lit and the fault LED toggles on the daemon\'s clock', async () => {
    // Steady: read over 200 ms, while the fault LED blinks every 100 ms.
    for (let i = 0; i < 5; i++) {
      assert.equal(await value(17), '1');
      await new Promise((r) => setTimeout(r, 40));
    }
    const seen = new Set<string>();
    await until('the fault LED to show both levels', async () => {
      seen.add(await value(18));
      return seen.size === 2 ? true : undefined;
    });
  });

  it('a long press on the button toggles maintenance; a short one does not', async () => {
    await writeFile(join(fake, 'gpio27', 'value'), '1');
    await new Promise((r) => setTimeout(r, 150));
    await writeFile(join(fake, 'gpio27', 'value'), '0');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(lines.filter((l) => 'maintenance' in l).length, 0, 'a 150 ms press is short');
    await writeFile(join(fake, 'gpio27', 'value'), '1');
    await new Promise((r) => setTimeout(r, 800));
    await writeFile(join(fake, 'gpio27', 'value'), '0');
    const toggled = await until('maintenance on', () => lines.find((l) => 'maintenance' in l));
    assert.deepEqual(toggled, { maintenance: true, by: 'button' });
  });

  it('a clean stop turns the LEDs off and unexports the lines', async () => {
    child.kill('SIGTERM');
    await until('the child to stop', () => lines.find((l) => l.stopped));
    assert.equal(await value(17), '0');
    assert.equal(await value(18), '0');
    // onoff writes each line's number to unexport; the fake file keeps the last one written.
    assert.match(await readFile(join(fake, 'unexport'), 'utf8'), /^(17|18|27)$/);
  });
});

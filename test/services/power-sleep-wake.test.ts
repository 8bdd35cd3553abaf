// Park over SSH, wake over LAN, against a lab host that sleeps like a real one
// (power-sleeper.py: its server stops on the forced command's signal and comes back only on
// a magic packet for its MAC and SecureOn password). The router's side is the real ssh client
// and the WoL driver with its Linux ports, both inside the router's namespace.

import { strict as assert } from 'node:assert';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../firmware/os/clock.js';
import { silentLogger } from '../../firmware/log.js';
import { createSsh } from '../../firmware/power/ssh.js';
import { netnsUnavailable } from '../netns/lab.js';
import { createPowerLab, eventually, forcedCommandLine, keygen, LineReader, PYTHON, startSshd, type PowerLab } from './power-lab.js';

const SLEEPER = fileURLToPath(new URL('./power-sleeper.py', import.meta.url));
const SENDER = fileURLToPath(new URL('./power-wol-send.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const PASSWORD = 'a1:b2:c3:d4:e5:f6';

describe('park over SSH, wake over LAN, in lab namespaces', { skip: netnsUnavailable() }, () => {
  let power: PowerLab;
  let events: LineReader;
  let state: string;
  // h1 the router, h2 the host that sleeps.
  const host = () => ({ name: 'web-2', address: power.lab.host('h2').ipv4, mac: power.lab.host('h2').mac });

  before(async () => {
    power = await createPowerLab(2);
    state = join(power.dir, 'state');
    await mkdir(join(state, 'power'), { recursive: true, mode: 0o700 });
    const routerKey = await keygen(join(state, 'power', 'id_ed25519'), 'tandem-router');
    const sleeper = power.lab.spawn('h2', PYTHON, ['-u', SLEEPER, host().mac, PASSWORD.replaceAll(':', ''), '9', '--', PYTHON, '-m', 'http.server', '8080', '--bind', host().address]);
    events = new LineReader(sleeper);
    const ready = JSON.parse(await events.next()) as { event: string; pid: number };
    assert.equal(ready.event, 'ready');
    // What `systemctl suspend` does to this host: detached, so ssh returns before it sleeps.
    await startSshd(power, 'h2', [forcedCommandLine(`kill -USR1 ${ready.pid}; echo parking`, routerKey)]);
  });
  after(async () => {
    await power?.dispose();
  });

  async function answers(): Promise<boolean> {
    const { stdout } = await power.lab.exec('h1', 'curl', ['-s', '-o', '/dev/null', '-m', '1', '-w', '%{http_code}', `http://${host().address}:8080/`]).catch(() => ({ stdout: '000' }));
    return stdout === '200';
  }

  async function wol(settings: object): Promise<unknown> {
    const { stdout } = await power.lab.exec('h1', process.execPath, ['--import', TSX, SENDER, JSON.stringify({ settings, host: host() })], 20_000);
    return JSON.parse(stdout);
  }

  it('parks the serving host over SSH: it stops answering', async (t) => {
    await eventually('the host to serve', async () => (await answers()) || undefined, 5000, 100);
    const ssh = createSsh({ user: 'root', port: 22, command: 'suspend', connectTimeoutSeconds: 3 }, { clock: systemClock, processes: power.runnerIn('h1'), log: silentLogger, stateDir: state });
    const started = performance.now();
    assert.deepEqual(await ssh.park!(host(), new AbortController().signal), { ok: true, detail: `ssh root@${host().address}:22 ran systemctl suspend: parking` });
    assert.deepEqual(JSON.parse(await events.next()), { event: 'asleep' });
    await eventually('the host to stop answering', async () => (!(await answers()) ? true : undefined), 5000, 100);
    t.diagnostic(`park → unreachable: ${Math.round(performance.now() - started)} ms`);
  });

  it('a magic packet with the wrong SecureOn password does not wake it', async () => {
    assert.deepEqual(await wol({ password: 'a1:b2:c3:d4:e5:00', repeat: 1 }), { ok: true, detail: `1 x 108-byte magic packet for ${host().mac} to 198.51.100.255:9 from 198.51.100.11` });
    assert.deepEqual(JSON.parse(await events.next()), { event: 'ignored', reason: 'not our magic packet', bytes: 108 });
    assert.equal(await answers(), false);
  });

  it('wakes it with the right password: it serves again', async (t) => {
    const started = performance.now();
    const sent = (await wol({ password: PASSWORD })) as { ok: boolean };
    assert.equal(sent.ok, true);
    assert.deepEqual(JSON.parse(await events.next()), { event: 'woke', src: '198.51.100.11', bytes: 108 });
    await eventually('the host to serve again', async () => (await answers()) || undefined, 5000, 100);
    t.diagnostic(`wake sent → serving: ${Math.round(performance.now() - started)} ms (includes starting node in the namespace)`);
    // The copies after the first reach an awake host, which ignores them, as a NIC does.
    assert.deepEqual(JSON.parse(await events.next()), { event: 'ignored', reason: 'awake', bytes: 108 });
  });
});

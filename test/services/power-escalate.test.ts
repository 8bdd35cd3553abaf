// The power executor's escalation against real counterparts (issue 10, item 5): the host's
// sshd refuses to suspend (its forced command fails as systemctl does when sleep is not
// supported), so the park escalates to the BMC (Debian's ipmi_sim) and is verified by its
// read-back; then a wake-on-LAN packet nobody answers (real driver, sent inside the lab)
// escalates to the BMC's power-on, verified when the host's server answers again.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TandemEvent } from '../../firmware/events.js';
import { silentLogger } from '../../firmware/log.js';
import { systemClock } from '../../firmware/os/clock.js';
import type { DriverHost, DriverResult, PowerDriver } from '../../firmware/power/driver.js';
import { Executor, type ActionTarget, type PoolObservation } from '../../firmware/power/executor.js';
import { createIpmi } from '../../firmware/power/ipmi.js';
import { createSsh } from '../../firmware/power/ssh.js';
import { netnsUnavailable } from '../netns/lab.js';
import { createPowerLab, eventually, forcedCommandLine, keygen, REPO_ROOT, startIpmiSim, startSshd, type PowerLab } from './power-lab.js';

const execFileAsync = promisify(execFile);
const SENDER = fileURLToPath(new URL('./power-wol-send.ts', import.meta.url));

describe('executor escalation against sshd and ipmi_sim', { skip: netnsUnavailable() }, () => {
  let power: PowerLab;
  let state: string;
  let health: PoolObservation['health'] = 'unknown';
  let poller: NodeJS.Timeout | undefined;
  // A look still waiting on curl when after() runs would schedule the next one: the flag stops it
  // (without it a CI run's file never exited once the lab was gone).
  let polling = true;
  // h1 the router, h2 the BMC, h3 the managed host.
  const host = (): DriverHost => ({ name: 'db-1', address: power.lab.host('h3').ipv4, mac: power.lab.host('h3').mac });
  let ipmi: PowerDriver;
  let ssh: PowerDriver;

  before(async () => {
    power = await createPowerLab(3);
    state = join(power.dir, 'state');
    await mkdir(join(state, 'power'), { recursive: true, mode: 0o700 });
    const key = await keygen(join(state, 'power', 'id_ed25519'), 'tandem-router');
    // systemctl's answer on a box whose firmware has no S3.
    await startSshd(power, 'h3', [forcedCommandLine('echo "Failed to suspend system: Sleep verb \\"suspend\\" not supported" >&2; exit 1', key)]);
    const bmc = await startIpmiSim(power, 'h2', 'h3', { user: 'user', password: 'pass' });
    const deps = { clock: systemClock, processes: power.runnerIn('h1'), log: silentLogger, stateDir: state };
    ipmi = createIpmi({ address: bmc.address, user: 'user', password: 'pass', port: 623, cipherSuite: 3, parkAction: 'off' }, deps);
    ssh = createSsh({ user: 'root', port: 22, command: 'suspend', connectTimeoutSeconds: 3 }, deps);
    // The balancer's view, from the router: the host's server answers or not.
    const look = async () => {
      const { stdout } = await power.lab.exec('h1', 'curl', ['-s', '-o', '/dev/null', '-m', '0.5', '-w', '%{http_code}', `http://${host().address}:8080/`]).catch(() => ({ stdout: '000' }));
      health = stdout === '200' ? 'up' : 'down';
      if (polling) poller = setTimeout(() => void look(), 150);
    };
    void look();
    // Powered on to start with.
    assert.equal((await ipmi.wake!(host(), new AbortController().signal)).ok, true);
    await eventually('the host to serve', () => (health === 'up' ? true : undefined), 10_000);
  });
  after(async () => {
    polling = false;
    clearTimeout(poller);
    poller = undefined;
    await power?.dispose();
  });

  /** The real WoL driver, run inside the router's namespace so the broadcast stays in the lab. */
  const wolInLab: PowerDriver = {
    method: 'wol',
    async wake(h: DriverHost): Promise<DriverResult> {
      const { stdout } = await execFileAsync('ip', ['netns', 'exec', power.lab.host('h1').netns, process.execPath, '--import', 'tsx', SENDER, JSON.stringify({ settings: { repeat: 2 }, host: h })], { cwd: REPO_ROOT });
      return JSON.parse(stdout) as DriverResult;
    },
  };

  function executor(events: TandemEvent[]): Executor {
    const pools = {
      setPower: async () => undefined,
      observe: (): PoolObservation => ({ health, connections: 0 }),
    };
    return new Executor({ clock: systemClock, pools, emit: (e) => events.push(e), log: silentLogger, pollMs: 100, readEveryMs: 500 });
  }
  const target = (primary: ActionTarget['primary'], fallback: ActionTarget['fallback']): ActionTarget => ({
    name: 'db-1', pool: 'db', hostId: 'db-1', driverHost: host(), primary, ...(fallback ? { fallback } : {}), readers: [ipmi],
  });
  const steps = (events: TandemEvent[]) => events.map((e) => (e.type === 'powerAction' ? `${e.action}:${e.method}:${e.outcome}` : e.type));

  it('sleep refused over SSH: the BMC powers the host off, verified by its read-back', async () => {
    const events: TandemEvent[] = [];
    const result = await executor(events).park(
      target({ method: 'ssh', seconds: 2, driver: ssh }, { method: 'ipmi', seconds: 2, driver: ipmi }),
      { drainMs: 0, detectMs: 1000 },
      'idle',
      new AbortController().signal,
    );
    assert.equal(result.outcome, 'escalated', JSON.stringify(result));
    assert.equal(result.method, 'ipmi');
    assert.deepEqual(steps(events), ['park:ssh:started', 'escalate:ipmi:started', 'escalate:ipmi:done', 'park:ipmi:done']);
    const escalation = events.find((e) => e.type === 'powerAction' && e.action === 'escalate' && e.outcome === 'started') as { reason: string };
    assert.match(escalation.reason, /refused.*exited 1.*not supported/);
    assert.deepEqual(await ipmi.read!(host(), new AbortController().signal), { ok: true, reading: 'off' });
    await eventually('the host to stop answering', () => (health === 'down' ? true : undefined), 5000);
  });

  it('WoL unanswered: the BMC powers the host on, verified when it serves again', async () => {
    const events: TandemEvent[] = [];
    const started = Date.now();
    const result = await executor(events).wake(
      target({ method: 'wol', seconds: 1, driver: wolInLab }, { method: 'ipmi', seconds: 5, driver: ipmi }),
      { drainMs: 0, detectMs: 1000 },
      'demand',
      new AbortController().signal,
    );
    assert.equal(result.outcome, 'escalated', JSON.stringify(result));
    assert.deepEqual(steps(events), ['wake:wol:started', 'escalate:ipmi:started', 'escalate:ipmi:done', 'wake:ipmi:done']);
    assert.ok(Date.now() - started >= 2000, 'the fallback waited for the WoL deadline (2 x 1 s)');
    assert.equal(health, 'up');
    assert.deepEqual(await ipmi.read!(host(), new AbortController().signal), { ok: true, reading: 'on' });
  });
});

// IPMI against Debian's ipmi_sim as the BMC (issue 10 "done when"): ipmi_sim runs in the BMC's
// lab namespace with a chassis hook that starts and stops a stand-in server (an HTTP server) in
// the host's namespace; the driver runs the real ipmitool in the router's namespace, powers the
// host off and on and reads it back. Recipe: ../shared/reference/power-counterparts.md §1.

import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../firmware/os/clock.js';
import { silentLogger } from '../../firmware/log.js';
import { createIpmi, type IpmiSettings } from '../../firmware/power/ipmi.js';
import { netnsUnavailable } from '../netns/lab.js';
import { createPowerLab, eventually, startIpmiSim, type IpmiBmc, type PowerLab } from './power-lab.js';

describe('ipmi against ipmi_sim in a lab namespace', { skip: netnsUnavailable() }, () => {
  let power: PowerLab;
  // h1 the router, h2 the BMC, h3 the managed host.
  let bmc: IpmiBmc;
  const served = () => power.lab.host('h3').ipv4;
  const signal = new AbortController().signal;
  const HOST = { name: 'db-1', address: '', mac: '02:00:5e:10:00:03' };

  before(async () => {
    power = await createPowerLab(3);
    await writeFile(join(power.dir, 'bmc.pass'), 'pass\n', { mode: 0o600 });
    bmc = await startIpmiSim(power, 'h2', 'h3', { user: 'user', password: 'pass' });
    HOST.address = served();
  });
  after(async () => {
    await power?.dispose();
  });

  const driver = (settings: Partial<IpmiSettings> = {}) =>
    createIpmi(
      { address: bmc.address, user: 'user', password: 'pass', port: 623, cipherSuite: 3, parkAction: 'soft', ...settings },
      { clock: systemClock, processes: power.runnerIn('h1'), log: silentLogger, stateDir: power.dir },
    );

  /** Whether the host's stand-in server answers HTTP from the router. */
  async function answers(): Promise<boolean> {
    const { stdout } = await power.lab.exec('h1', 'curl', ['-s', '-o', '/dev/null', '-m', '1', '-w', '%{http_code}', `http://${served()}:8080/`]).catch(() => ({ stdout: '000' }));
    return stdout === '200';
  }

  it('reads off, powers on (the host serves), reads on', async () => {
    const ipmi = driver();
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'off' });
    assert.equal(await answers(), false);
    assert.deepEqual(await ipmi.wake!(HOST, signal), { ok: true, detail: `BMC ${bmc.address}: Chassis Power Control: Up/On` });
    await eventually('the host to serve', async () => (await answers()) || undefined, 5000, 100);
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'on' });
  });

  it('parks with a soft shutdown: the host stops serving and reads off', async () => {
    const ipmi = driver();
    assert.deepEqual(await ipmi.park!(HOST, signal), { ok: true, detail: `BMC ${bmc.address}: Chassis Power Control: Soft` });
    await eventually('the host to stop serving', async () => (!(await answers()) ? true : undefined), 5000, 100);
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'off' });
  });

  it('with the password from a file: on, then parks with power off, and cycles', async () => {
    const ipmi = driver({ password: undefined, passwordFile: join(power.dir, 'bmc.pass'), parkAction: 'off' });
    assert.equal((await ipmi.wake!(HOST, signal)).ok, true);
    await eventually('the host to serve', async () => (await answers()) || undefined, 5000, 100);
    const before = await bmc.serverPid();
    assert.deepEqual(await ipmi.chassis('cycle', signal), { ok: true, detail: `BMC ${bmc.address}: Chassis Power Control: Cycle` });
    await eventually('a new host process after the cycle', async () => {
      const now = await bmc.serverPid();
      return now !== undefined && now !== before && (await answers()) ? true : undefined;
    }, 8000, 100);
    assert.deepEqual(await ipmi.park!(HOST, signal), { ok: true, detail: `BMC ${bmc.address}: Chassis Power Control: Down/Off` });
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'off' });
    assert.equal(await answers(), false);
  });

  it('fails with auth on a wrong password or user, and nothing changes', async () => {
    const hookCalls = (await bmc.hookCalls()).length;
    assert.deepEqual(await driver({ password: 'wrong' }).wake!(HOST, signal), { ok: false, failure: 'auth', detail: `BMC ${bmc.address}: password refused (RAKP 2 HMAC is invalid)` });
    assert.deepEqual(await driver({ user: 'nobody' }).read!(HOST, signal), { ok: false, failure: 'auth', detail: `BMC ${bmc.address}: user unknown to the BMC (unauthorized name)` });
    assert.equal((await bmc.hookCalls()).length, hookCalls, 'the BMC never ran its hook');
  });

  it('fails with unreachable when no BMC answers', async () => {
    const result = await driver({ address: '198.51.100.99' }).read!(HOST, signal);
    assert.deepEqual(result, { ok: false, failure: 'unreachable', detail: 'BMC 198.51.100.99: no answer from the BMC (Error: Unable to establish IPMI v2 / RMCP+ session)' });
  });
});

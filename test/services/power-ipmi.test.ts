// IPMI against Debian's ipmi_sim as the BMC (issue 10 "done when"): ipmi_sim runs in the BMC's
// lab namespace with a chassis hook that starts and stops a stand-in server (an HTTP server) in
// the host's namespace; the driver runs the real ipmitool in the router's namespace, powers the
// host off and on and reads it back. Recipe: ../shared/reference/power-counterparts.md §1.

import { strict as assert } from 'node:assert';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../firmware/os/clock.js';
import { silentLogger } from '../../firmware/log.js';
import { createIpmi, type IpmiSettings } from '../../firmware/power/ipmi.js';
import { netnsUnavailable } from '../netns/lab.js';
import { createPowerLab, eventually, PYTHON, type PowerLab } from './power-lab.js';

// The hook ipmi_sim runs (popen, synchronously) for chassis control: "power" is the stand-in
// server being alive in the host's namespace. It must return at once, children fully redirected.
const CHASSIS_HOOK = `#!/bin/bash
S=$1 NS=$2 ADDR=$3 op=$4 what=$5 val=$6
alive() { local st; st=$(ps -o stat= -p "$(cat "$S/server.pid" 2>/dev/null)" 2>/dev/null)
          [ -n "$st" ] && [ "\${st#Z}" = "$st" ]; }
echo "$op $what $val" >> "$S/hook.log"
case "$op $what" in
  "get power") if alive; then echo power:1; else echo power:0; fi ;;
  "set power") if [ "$val" = 1 ]; then
                 alive || { ip netns exec "$NS" ${PYTHON} -m http.server 8080 --bind "$ADDR" \\
                              > "$S/server.log" 2>&1 < /dev/null & echo $! > "$S/server.pid"; }
               else alive && kill -9 "$(cat "$S/server.pid")"; rm -f "$S/server.pid"; fi ;;
  "set shutdown") alive && kill -TERM "$(cat "$S/server.pid")" ;;
esac; exit 0
`;

describe('ipmi against ipmi_sim in a lab namespace', { skip: netnsUnavailable() }, () => {
  let power: PowerLab;
  // h1 the router, h2 the BMC, h3 the managed host.
  const bmc = () => power.lab.host('h2').ipv4;
  const served = () => power.lab.host('h3').ipv4;
  const signal = new AbortController().signal;
  const HOST = { name: 'db-1', address: '', mac: '02:00:5e:10:00:03' };

  before(async () => {
    power = await createPowerLab(3);
    const d = power.dir;
    await writeFile(join(d, 'chassis.sh'), CHASSIS_HOOK);
    await chmod(join(d, 'chassis.sh'), 0o755);
    await writeFile(join(d, 'bmc.pass'), 'pass\n', { mode: 0o600 });
    await writeFile(
      join(d, 'lan.conf'),
      [
        'name "bmc1"',
        'startlan 1',
        `  addr ${bmc()} 623`,
        '  priv_limit admin',
        '  allowed_auths_admin md5',
        '  guid a123456789abcdefa123456789abcdef', // without a GUID, RMCP+ sessions fail
        'endlan',
        `chassis_control "${join(d, 'chassis.sh')} ${d} ${power.lab.host('h3').netns} ${served()}"`,
        'user 2 true "user" "pass" admin 10 md5',
        '',
      ].join('\n'),
    );
    await writeFile(join(d, 'bmc.emu'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n');
    // -n: no console (stdin is not a terminal); -p: persist nothing.
    power.lab.spawn('h2', 'ipmi_sim', ['-c', join(d, 'lan.conf'), '-f', join(d, 'bmc.emu'), '-n', '-p']);
    await power.listening('h2', 'udp', bmc(), 623);
    HOST.address = served();
  });
  after(async () => {
    // The hook's server is ours too, but not the lab's child: end it by its recorded PID.
    const pid = Number(await readFile(join(power.dir, 'server.pid'), 'utf8').catch(() => ''));
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await power?.dispose();
  });

  const driver = (settings: Partial<IpmiSettings> = {}) =>
    createIpmi(
      { address: bmc(), user: 'user', password: 'pass', port: 623, cipherSuite: 3, parkAction: 'soft', ...settings },
      { clock: systemClock, processes: power.runnerIn('h1'), log: silentLogger, stateDir: power.dir },
    );

  /** Whether the host's stand-in server answers HTTP from the router. */
  async function answers(): Promise<boolean> {
    const { stdout } = await power.lab.exec('h1', 'curl', ['-s', '-o', '/dev/null', '-m', '1', '-w', '%{http_code}', `http://${served()}:8080/`]).catch(() => ({ stdout: '000' }));
    return stdout === '200';
  }
  const serverPid = async () => (await readFile(join(power.dir, 'server.pid'), 'utf8').catch(() => '')).trim();

  it('reads off, powers on (the host serves), reads on', async () => {
    const ipmi = driver();
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'off' });
    assert.equal(await answers(), false);
    assert.deepEqual(await ipmi.wake!(HOST, signal), { ok: true, detail: `BMC ${bmc()}: Chassis Power Control: Up/On` });
    await eventually('the host to serve', async () => (await answers()) || undefined, 5000, 100);
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'on' });
  });

  it('parks with a soft shutdown: the host stops serving and reads off', async () => {
    const ipmi = driver();
    assert.deepEqual(await ipmi.park!(HOST, signal), { ok: true, detail: `BMC ${bmc()}: Chassis Power Control: Soft` });
    await eventually('the host to stop serving', async () => (!(await answers()) ? true : undefined), 5000, 100);
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'off' });
  });

  it('with the password from a file: on, then parks with power off, and cycles', async () => {
    const ipmi = driver({ password: undefined, passwordFile: join(power.dir, 'bmc.pass'), parkAction: 'off' });
    assert.equal((await ipmi.wake!(HOST, signal)).ok, true);
    await eventually('the host to serve', async () => (await answers()) || undefined, 5000, 100);
    const before = await serverPid();
    assert.deepEqual(await ipmi.chassis('cycle', signal), { ok: true, detail: `BMC ${bmc()}: Chassis Power Control: Cycle` });
    await eventually('a new host process after the cycle', async () => {
      const now = await serverPid();
      return now !== '' && now !== before && (await answers()) ? true : undefined;
    }, 8000, 100);
    assert.deepEqual(await ipmi.park!(HOST, signal), { ok: true, detail: `BMC ${bmc()}: Chassis Power Control: Down/Off` });
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'off' });
    assert.equal(await answers(), false);
  });

  it('fails with auth on a wrong password or user, and nothing changes', async () => {
    const hookCalls = (await readFile(join(power.dir, 'hook.log'), 'utf8')).split('\n').length;
    assert.deepEqual(await driver({ password: 'wrong' }).wake!(HOST, signal), { ok: false, failure: 'auth', detail: `BMC ${bmc()}: password refused (RAKP 2 HMAC is invalid)` });
    assert.deepEqual(await driver({ user: 'nobody' }).read!(HOST, signal), { ok: false, failure: 'auth', detail: `BMC ${bmc()}: user unknown to the BMC (unauthorized name)` });
    assert.equal((await readFile(join(power.dir, 'hook.log'), 'utf8')).split('\n').length, hookCalls, 'the BMC never ran its hook');
  });

  it('fails with unreachable when no BMC answers', async () => {
    const result = await driver({ address: '198.51.100.99' }).read!(HOST, signal);
    assert.deepEqual(result, { ok: false, failure: 'unreachable', detail: 'BMC 198.51.100.99: no answer from the BMC (Error: Unable to establish IPMI v2 / RMCP+ session)' });
  });
});

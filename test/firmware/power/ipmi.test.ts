// IPMI (firmware/power/ipmi.ts): ipmitool's exact arguments (lanplus, suite 3, no password in
// argv), its real output (captured from ipmi_sim 1.0.13 / ipmitool 1.8.19 on this machine)
// classified, and the driver over a recording ProcessRunner.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import type { ProcessRunner, RunOptions, RunResult } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { classifyIpmi, createIpmi, ipmiArgs, ipmiSettings, type IpmiSettings } from '../../../firmware/power/ipmi.js';

const HOST = { name: 'db-1', address: '198.51.100.30', mac: '02:00:5e:10:00:30' };
const BASE: IpmiSettings = { address: '198.51.100.10', user: 'user', password: 'pass', port: 623, cipherSuite: 3, parkAction: 'soft' };
const VERBOSE_OK = 'Loading IANA PEN Registry...\nRunning Get VSO Capabilities my_addr 0x20, transit 0, target 0x20\nInvalid completion code received: Invalid command\nDiscovered IPMB address 0x0\n';

describe('ipmiSettings', () => {
  const schema = s.object(ipmiSettings);
  it('needs the BMC address and user; suite 3, port 623, soft park by default', () => {
    assert.deepEqual(validate(schema, { address: '198.51.100.10', user: 'admin', password: 'x' }).value, { address: '198.51.100.10', user: 'admin', password: 'x', port: 623, cipherSuite: 3, parkAction: 'soft' });
    assert.deepEqual(validate(schema, {}).issues.map((i) => i.path), ['address', 'user']);
  });
  it('refuses cipher suite 0, which takes any password', () => {
    assert.deepEqual(validate(schema, { ...BASE, cipherSuite: 0 }).issues, [{ path: 'cipherSuite', message: 'must be 1-17, got 0' }]);
  });
});

describe('ipmiArgs', () => {
  it('passes the password by environment, never argv', () => {
    assert.deepEqual(ipmiArgs(BASE, 'soft'), ['-v', '-I', 'lanplus', '-C', '3', '-N', '1', '-R', '1', '-H', '198.51.100.10', '-p', '623', '-U', 'user', '-E', 'chassis', 'power', 'soft']);
  });
  it('or by file', () => {
    const args = ipmiArgs({ ...BASE, password: undefined, passwordFile: '/cfg/bmc.pass' }, 'status');
    assert.deepEqual(args.slice(-5), ['-f', '/cfg/bmc.pass', 'chassis', 'power', 'status']);
  });
});

describe('classifyIpmi', () => {
  const where = 'BMC 198.51.100.10';
  const rows: [string, Partial<RunResult>, string, string][] = [
    ['wrong password', { code: 1, stderr: 'Loading IANA PEN Registry...\n> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session\n' }, 'auth', `${where}: password refused (RAKP 2 HMAC is invalid)`],
    ['wrong user', { code: 1, stderr: 'Loading IANA PEN Registry...\nRAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session\n' }, 'auth', `${where}: user unknown to the BMC (unauthorized name)`],
    ['suite the BMC lacks', { code: 1, stderr: 'Error in open session response message : invalid authentication algorithm\n' }, 'auth', `${where}: Error in open session response message : invalid authentication algorithm`],
    ['silent BMC', { code: 1, stderr: 'Loading IANA PEN Registry...\nGet Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request\nError: Unable to establish IPMI v2 / RMCP+ session\n' }, 'unreachable', `${where}: no answer from the BMC (Error: Unable to establish IPMI v2 / RMCP+ session)`],
    ['BMC without chassis control', { code: 1, stderr: 'Set Chassis Power Control to Up/On failed: Invalid data field in request\n' }, 'refused', `${where}: Set Chassis Power Control to Up/On failed: Invalid data field in request`],
    ['timed out', { code: null, timedOut: true }, 'unreachable', `${where}: ipmitool gave no answer in time`],
    ['not installed', { code: null, stderr: 'ipmitool: ENOENT' }, 'misconfigured', 'cannot run ipmitool: ipmitool: ENOENT'],
  ];
  for (const [name, result, failure, detail] of rows) {
    it(name, () => {
      assert.deepEqual(classifyIpmi({ code: 1, stdout: '', stderr: '', timedOut: false, ...result }, where), { failure, detail });
    });
  }
});

class Recorder implements ProcessRunner {
  readonly runs: { command: string; args: readonly string[]; options: RunOptions | undefined }[] = [];
  constructor(private readonly answer: (args: readonly string[]) => Partial<RunResult>) {}
  async run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    this.runs.push({ command, args, options });
    return { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...this.answer(args) };
  }
}

describe('createIpmi', () => {
  const signal = new AbortController().signal;
  const said: Record<string, string> = { on: 'Up/On', soft: 'Soft', off: 'Down/Off', cycle: 'Cycle' };
  function driver(settings: Partial<IpmiSettings> = {}, power = 'off') {
    const runner = new Recorder((args) => {
      const action = args.at(-1)!;
      if (action === 'status') return { stdout: `${VERBOSE_OK}Chassis Power is ${power}\n` };
      return { stdout: `${VERBOSE_OK}Chassis Power Control: ${said[action]}\n` };
    });
    return { runner, ipmi: createIpmi({ ...BASE, ...settings }, { clock: new FakeClock(), processes: runner, log: silentLogger, stateDir: '/x' }) };
  }

  it('wakes with on, parks with soft, reads the status; the password only in the environment', async () => {
    const { runner, ipmi } = driver({}, 'on');
    assert.deepEqual(await ipmi.wake!(HOST, signal), { ok: true, detail: 'BMC 198.51.100.10: Chassis Power Control: Up/On' });
    assert.deepEqual(await ipmi.park!(HOST, signal), { ok: true, detail: 'BMC 198.51.100.10: Chassis Power Control: Soft' });
    assert.deepEqual(await ipmi.read!(HOST, signal), { ok: true, reading: 'on' });
    assert.deepEqual(await ipmi.chassis('cycle', signal), { ok: true, detail: 'BMC 198.51.100.10: Chassis Power Control: Cycle' });
    assert.deepEqual(runner.runs.map((r) => r.args.at(-1)), ['on', 'soft', 'status', 'cycle']);
    for (const run of runner.runs) {
      assert.equal(run.command, 'ipmitool');
      assert.ok(!run.args.includes('pass'), 'no password in argv');
      assert.equal(run.options?.env?.IPMI_PASSWORD, 'pass');
      assert.deepEqual(Object.keys(run.options?.env ?? {}).sort(), ['IPMI_PASSWORD', 'PATH']);
    }
  });

  it('parks with off when configured', async () => {
    const { runner, ipmi } = driver({ parkAction: 'off' });
    assert.equal((await ipmi.park!(HOST, signal)).ok, true);
    assert.equal(runner.runs[0]!.args.at(-1), 'off');
  });

  it('is misconfigured without exactly one of password and passwordFile, and runs nothing', async () => {
    for (const settings of [{ password: undefined }, { passwordFile: '/cfg/p' }]) {
      const { runner, ipmi } = driver(settings);
      const result = await ipmi.wake!(HOST, signal);
      assert.equal(!result.ok && result.failure, 'misconfigured');
      assert.match(!result.ok ? result.detail : '', /^BMC 198\.51\.100\.10: (needs password or passwordFile|give password or passwordFile, not both)$/);
      assert.equal(runner.runs.length, 0);
    }
  });

  it('refuses an exit 0 without the confirmation line', async () => {
    const runner = new Recorder(() => ({ stdout: VERBOSE_OK }));
    const ipmi = createIpmi(BASE, { clock: new FakeClock(), processes: runner, log: silentLogger, stateDir: '/x' });
    assert.equal((await ipmi.wake!(HOST, signal)).ok, false);
    const read = await ipmi.read!(HOST, signal);
    assert.equal(!read.ok && read.failure, 'refused');
  });
});

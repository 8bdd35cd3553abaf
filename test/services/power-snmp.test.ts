// The SNMP PDU driver against Debian's snmpd with a pass_persist PDU (test/services/pdu-pass.py:
// APC sPDU, rPDU, rPDU2 and Raritan PDU2 outlet tables) in a lab namespace, over v2c and v3;
// the driver runs in the router's namespace. Recipe: shared/reference/power-counterparts.md §2(a).

import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkCase, PDU_CASES } from './pdu-contract.js';
import { createPowerLab, eventually, PYTHON, REPO_ROOT, requireRoot, type PowerLab } from './power-lab.js';

const host = { name: 'web-1', address: '198.51.100.30', mac: '02:00:5e:10:00:30' };

interface StepResult {
  step: string;
  ms: number;
  ok: boolean;
  failure?: string;
  detail?: string;
  reading?: string;
}

type Run = [settings: Record<string, unknown>, steps: string[]];

/** Runs the driver in the router's namespace, one process for all `runs`; each run's step results. */
async function runAll(pl: PowerLab, runs: Run[]): Promise<StepResult[][]> {
  const address = pl.lab.host(2).ipv4;
  const arg = JSON.stringify({ host, runs: runs.map(([settings, steps]) => ({ method: 'snmp', settings: { address, ...settings }, steps })) });
  const { stdout } = await pl.lab.exec(1, process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/services/power-net-run.ts'), arg], 120_000);
  const out = JSON.parse(stdout) as { runs: Array<{ results?: StepResult[]; issues?: unknown }> };
  return out.runs.map((r, i) => {
    assert.ok(r.results, `run ${i} settings refused: ${JSON.stringify(r.issues)}`);
    return r.results;
  });
}

interface PduState {
  outlets: Record<string, 'on' | 'off'>;
  log: Array<{ outlet: number; command: string; via: string }>;
}

test('snmpd PDU: switch and read back outlets over v2c and v3 on every MIB; bad credentials fail clearly', { timeout: 180_000 }, async (t) => {
  if (!requireRoot(t)) return;
  const pl = await createPowerLab(2);
  try {
    const pduAddress = pl.lab.host(2).ipv4;
    const state = join(pl.dir, 'outlets.json');
    await mkdir(join(pl.dir, 'persist'));
    const script = join(REPO_ROOT, 'test/services/pdu-pass.py');
    // Each outlet change runs the hook (the way a lab outlet would start or stop a host's server).
    const hookScript = join(pl.dir, 'outlet-hook.sh');
    const hookLog = join(pl.dir, 'hook.log');
    await writeFile(hookScript, `echo "$1 $2" >> ${hookLog}\n`);
    const conf = [
      `agentAddress udp:${pduAddress}:161`,
      'rocommunity public 198.51.100.0/24',
      'rwcommunity private 198.51.100.0/24',
      'createUser pduadmin SHA "authpass123" AES "privpass123"',
      'rwuser pduadmin priv',
      'createUser opsmd5 MD5 "authpass456"',
      'rwuser opsmd5 auth',
      'dontLogTCPWrappersConnects yes',
      // snmpd splits this line on blanks and honours no quotes: the paths carry no spaces.
      `pass_persist .1.3.6.1.4.1.318 ${PYTHON} ${script} ${state} 8 /bin/sh ${hookScript}`,
      `pass_persist .1.3.6.1.4.1.13742 ${PYTHON} ${script} ${state} 8 /bin/sh ${hookScript}`,
    ].join('\n');
    await writeFile(join(pl.dir, 'snmpd.conf'), conf + '\n');
    const snmpd = pl.lab.spawn(2, 'env', ['MIBS=', `SNMP_PERSISTENT_DIR=${join(pl.dir, 'persist')}`, '/usr/sbin/snmpd', '-f', '-C', '-c', join(pl.dir, 'snmpd.conf'), '-Lo']);
    let log = '';
    snmpd.stdout?.on('data', (c: Buffer) => (log += c.toString()));
    snmpd.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    await pl.listening(2, 'udp', pduAddress, 161).catch((error: Error) => {
      throw new Error(`${error.message}; snmpd said: ${log}`);
    });
    const pdu = async () => JSON.parse(await readFile(state, 'utf8')) as PduState;

    const v3 = { version: 3, user: 'pduadmin', authKey: 'authpass123', privProtocol: 'aes', privKey: 'privpass123' };
    const good = await runAll(pl, [
      // v2c with the default communities: public reads, private switches.
      [{ outlet: 1, mib: 'apc-rpdu2' }, ['read', 'wake', 'read', 'park', 'read']],
      [{ outlet: 2, mib: 'apc-spdu', community: 'private' }, ['wake', 'read']],
      [{ outlet: 3, mib: 'apc-rpdu', community: 'private' }, ['wake', 'read']],
      [{ outlet: 4, mib: 'raritan', community: 'private' }, ['wake', 'read']],
      // v3 authPriv (SHA + AES) and authNoPriv (MD5).
      [{ ...v3, outlet: 5, mib: 'raritan' }, ['wake', 'read', 'park', 'read']],
      [{ version: '3', user: 'opsmd5', authProtocol: 'md5', authKey: 'authpass456', outlet: 6, mib: 'apc-rpdu' }, ['wake', 'read']],
      // Reboot: off at once, on again after the PDU's 2 s delay.
      [{ outlet: 7, mib: 'apc-rpdu2' }, ['wake', 'reboot', 'read', 'wait:2500', 'read']],
    ]);
    const shape = (rs: StepResult[]) => rs.map((r) => [r.step, r.ok, r.reading]);
    assert.deepEqual(shape(good[0]!), [['read', true, 'off'], ['wake', true, undefined], ['read', true, 'on'], ['park', true, undefined], ['read', true, 'off']], JSON.stringify(good[0]));
    for (const i of [1, 2, 3, 5]) assert.deepEqual(shape(good[i]!), [['wake', true, undefined], ['read', true, 'on']], JSON.stringify(good[i]));
    assert.deepEqual(shape(good[4]!), [['wake', true, undefined], ['read', true, 'on'], ['park', true, undefined], ['read', true, 'off']], JSON.stringify(good[4]));
    assert.deepEqual(shape(good[6]!), [['wake', true, undefined], ['reboot', true, undefined], ['read', true, 'off'], ['read', true, 'on']], JSON.stringify(good[6]));
    t.diagnostic(`v2c per call (the first includes loading net-snmp): ${good[0]!.map((r) => `${r.step} ${r.ms} ms`).join(', ')}`);
    t.diagnostic(`v3 authPriv per call: ${good[4]!.map((r) => `${r.step} ${r.ms} ms`).join(', ')}`);
    // What the PDU itself did, from its state file, not from the driver's reading.
    const after = await pdu();
    assert.deepEqual(after.log, [
      { outlet: 1, command: 'on', via: 'rpdu2-ctl' }, { outlet: 1, command: 'off', via: 'rpdu2-ctl' },
      { outlet: 2, command: 'on', via: 'spdu' }, { outlet: 3, command: 'on', via: 'rpdu-ctl' }, { outlet: 4, command: 'on', via: 'raritan-ctl' },
      { outlet: 5, command: 'on', via: 'raritan-ctl' }, { outlet: 5, command: 'off', via: 'raritan-ctl' },
      { outlet: 6, command: 'on', via: 'rpdu-ctl' },
      { outlet: 7, command: 'on', via: 'rpdu2-ctl' }, { outlet: 7, command: 'reboot', via: 'rpdu2-ctl' },
    ]);
    // Outlet 7's file entry stays off until the agent's next read applies the reboot's on (done above).
    assert.deepEqual({ ...after.outlets, 7: undefined }, { 1: 'off', 2: 'on', 3: 'on', 4: 'on', 5: 'off', 6: 'on', 7: undefined, 8: 'off' });

    const hooked = await eventually('the outlet hook to have run for every change', async () => {
      const lines = (await readFile(hookLog, 'utf8').catch(() => '')).trim().split('\n').sort();
      return lines.length === 11 ? lines : undefined;
    }, 5000);
    assert.deepEqual(hooked, ['1 off', '1 on', '2 on', '3 on', '4 on', '5 off', '5 on', '6 on', '7 off', '7 on', '7 on']);

    const bad = await runAll(pl, [
      // A wrong community: the agent stays silent.
      [{ outlet: 1, mib: 'apc-rpdu2', community: 'nope', timeoutSeconds: 0.5, retries: 0 }, ['wake']],
      // The read-only community may not switch.
      [{ outlet: 1, mib: 'apc-rpdu2', community: 'public' }, ['wake']],
      // v3: an unknown user, a wrong auth key, a wrong priv key.
      [{ ...v3, user: 'mallory', outlet: 1, mib: 'apc-rpdu2' }, ['wake']],
      [{ ...v3, authKey: 'wrongpass9', outlet: 1, mib: 'apc-rpdu2' }, ['wake']],
      [{ ...v3, privKey: 'wrongpriv9', timeoutSeconds: 0.5, retries: 0, outlet: 1, mib: 'apc-rpdu2' }, ['wake']],
      // An outlet the PDU does not have.
      [{ outlet: 99, mib: 'apc-rpdu2' }, ['read', 'wake']],
    ]);
    const expect: Array<[string, RegExp]> = [
      ['unreachable', /wrong community/],
      ['auth', /noAccess.*may only read/i],
      ['auth', /user mallory is unknown/],
      ['auth', /wrong authKey or authProtocol/],
      ['unreachable', /wrong privKey/],
      ['refused', /no such outlet/],
    ];
    expect.forEach(([failure, detail], i) => {
      const r = bad[i]![0]!;
      assert.equal(r.failure, failure, JSON.stringify(r));
      assert.match(r.detail ?? '', detail);
    });
    assert.equal(bad[5]![1]!.failure, 'refused', JSON.stringify(bad[5]));
    assert.deepEqual((await pdu()).log.length, after.log.length, 'no failed call switched anything');

    // The table the unit test runs against the in-memory PDU, here against snmpd.
    const contract = await runAll(pl, PDU_CASES.map((c) => [c.settings, c.steps]));
    PDU_CASES.forEach((c, i) => checkCase(c, contract[i]!));
  } finally {
    await pl.dispose();
  }
});

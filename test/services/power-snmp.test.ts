// The SNMP PDU driver against Debian's snmpd with a pass_persist PDU (test/services/pdu-pass.py:
// APC sPDU, rPDU, rPDU2 and Raritan PDU2 outlet tables) in a lab namespace, over v2c and v3;
// the driver runs in the router's namespace. Recipe: shared/reference/power-counterparts.md §2(a).

import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
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

async function run(pl: PowerLab, settings: Record<string, unknown>, steps: string[]): Promise<StepResult[]> {
  const arg = JSON.stringify({ method: 'snmp', settings: { address: pl.lab.host(2).ipv4, ...settings }, host, steps });
  const { stdout } = await pl.lab.exec(1, process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/services/power-net-run.ts'), arg], 60_000);
  const out = JSON.parse(stdout) as { results?: StepResult[]; issues?: unknown };
  assert.ok(out.results, `settings refused: ${JSON.stringify(out.issues)}`);
  return out.results;
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
      `pass_persist .1.3.6.1.4.1.318 ${PYTHON} ${script} ${state} 8`,
      `pass_persist .1.3.6.1.4.1.13742 ${PYTHON} ${script} ${state} 8`,
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

    // v2c with the default communities: public reads, private switches.
    const rpdu2 = await run(pl, { outlet: 1, mib: 'apc-rpdu2' }, ['read', 'wake', 'read', 'park', 'read']);
    assert.deepEqual(rpdu2.map((r) => [r.step, r.ok, r.reading]), [
      ['read', true, 'off'], ['wake', true, undefined], ['read', true, 'on'], ['park', true, undefined], ['read', true, 'off'],
    ], JSON.stringify(rpdu2));
    assert.deepEqual((await pdu()).log.slice(0, 2), [{ outlet: 1, command: 'on', via: 'rpdu2-ctl' }, { outlet: 1, command: 'off', via: 'rpdu2-ctl' }]);
    t.diagnostic(`v2c per call (incl. the driver's first-use import): ${rpdu2.map((r) => `${r.step} ${r.ms} ms`).join(', ')}`);

    for (const [mib, outlet, via] of [['apc-spdu', 2, 'spdu'], ['apc-rpdu', 3, 'rpdu-ctl'], ['raritan', 4, 'raritan-ctl']] as const) {
      const r = await run(pl, { outlet, mib, community: 'private' }, ['wake', 'read']);
      assert.deepEqual(r.map((x) => [x.ok, x.reading]), [[true, undefined], [true, 'on']], `${mib}: ${JSON.stringify(r)}`);
      const now = await pdu();
      assert.equal(now.outlets[String(outlet)], 'on');
      assert.deepEqual(now.log.at(-1), { outlet, command: 'on', via });
    }

    // v3 authPriv (SHA + AES) and authNoPriv (MD5).
    const v3 = { version: 3, user: 'pduadmin', authKey: 'authpass123', privProtocol: 'aes', privKey: 'privpass123' };
    const priv = await run(pl, { ...v3, outlet: 5, mib: 'raritan' }, ['wake', 'read', 'park', 'read']);
    assert.deepEqual(priv.map((x) => [x.ok, x.reading]), [[true, undefined], [true, 'on'], [true, undefined], [true, 'off']], JSON.stringify(priv));
    t.diagnostic(`v3 authPriv per call: ${priv.map((r) => `${r.step} ${r.ms} ms`).join(', ')}`);
    const md5 = await run(pl, { version: '3', user: 'opsmd5', authProtocol: 'md5', authKey: 'authpass456', outlet: 6, mib: 'apc-rpdu' }, ['wake', 'read']);
    assert.deepEqual(md5.map((x) => [x.ok, x.reading]), [[true, undefined], [true, 'on']], JSON.stringify(md5));

    // Reboot: off at once, on again after the PDU's delay.
    const reboot = await run(pl, { outlet: 7, mib: 'apc-rpdu2' }, ['wake', 'reboot', 'read']);
    assert.deepEqual(reboot.map((x) => [x.ok, x.reading]), [[true, undefined], [true, undefined], [true, 'off']], JSON.stringify(reboot));
    await eventually('outlet 7 back on after the reboot delay', async () => ((await run(pl, { outlet: 7, mib: 'apc-rpdu2' }, ['read']))[0]?.reading === 'on' ? true : undefined), 10_000, 500);

    const before = (await pdu()).log.length;
    // A wrong community: the agent stays silent.
    const wrong = await run(pl, { outlet: 1, mib: 'apc-rpdu2', community: 'nope', timeoutSeconds: 0.5, retries: 0 }, ['wake']);
    assert.equal(wrong[0]?.failure, 'unreachable', JSON.stringify(wrong));
    assert.match(wrong[0]?.detail ?? '', /wrong community/);
    // The read-only community may not switch.
    const ro = await run(pl, { outlet: 1, mib: 'apc-rpdu2', community: 'public' }, ['wake']);
    assert.equal(ro[0]?.failure, 'auth', JSON.stringify(ro));
    assert.match(ro[0]?.detail ?? '', /noAccess.*may only read/i);
    // v3: an unknown user, a wrong auth key, a wrong priv key.
    const unknown = await run(pl, { ...v3, user: 'mallory', outlet: 1, mib: 'apc-rpdu2' }, ['wake']);
    assert.equal(unknown[0]?.failure, 'auth', JSON.stringify(unknown));
    assert.match(unknown[0]?.detail ?? '', /user mallory is unknown/);
    const badAuth = await run(pl, { ...v3, authKey: 'wrongpass9', outlet: 1, mib: 'apc-rpdu2' }, ['wake']);
    assert.equal(badAuth[0]?.failure, 'auth', JSON.stringify(badAuth));
    assert.match(badAuth[0]?.detail ?? '', /wrong authKey or authProtocol/);
    const badPriv = await run(pl, { ...v3, privKey: 'wrongpriv9', timeoutSeconds: 0.5, retries: 0, outlet: 1, mib: 'apc-rpdu2' }, ['wake']);
    assert.equal(badPriv[0]?.failure, 'unreachable', JSON.stringify(badPriv));
    assert.match(badPriv[0]?.detail ?? '', /wrong privKey/);
    // An outlet the PDU does not have.
    const missing = await run(pl, { outlet: 99, mib: 'apc-rpdu2' }, ['read', 'wake']);
    assert.deepEqual(missing.map((x) => x.failure), ['refused', 'refused'], JSON.stringify(missing));
    assert.equal((await pdu()).log.length, before, 'no failed call switched anything');
  } finally {
    await pl.dispose();
  }
});

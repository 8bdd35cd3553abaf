// The SNMP PDU driver against the in-memory PDU: every MIB's on/off/reboot and read-back, the
// v2c community split, v3 users, and each failure's outcome and detail.

import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validate, s } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakePdu } from '../../../firmware/power/pdu-fake.js';
import { controlOid, decodeState, stateOid } from '../../../firmware/power/pdu-oids.js';
import { createSnmp, snmpSettings, type SnmpSettings } from '../../../firmware/power/snmp-pdu.js';

const host = { name: 'web-1', address: '198.51.100.21', mac: '02:00:5e:10:00:21' };
const signal = new AbortController().signal;

function settings(raw: Record<string, unknown>): SnmpSettings {
  const { value, issues } = validate(s.object(snmpSettings), { address: '198.51.100.20', outlet: 3, mib: 'apc-rpdu2', ...raw });
  assert.deepEqual(issues, []);
  return value as SnmpSettings;
}

function driver(raw: Record<string, unknown>, pdu: FakePdu) {
  return createSnmp(settings(raw), { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/nonexistent', snmp: pdu.agent });
}

test('the OID tables: rPDU2 state is reversed, Raritan indexes by pduId.outlet and reads on 7 / off 8', () => {
  assert.equal(stateOid('apc-rpdu2', 5), '1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.5');
  assert.equal(controlOid('apc-spdu', 2), '1.3.6.1.4.1.318.1.1.4.4.2.1.3.2');
  assert.equal(controlOid('raritan', 4), '1.3.6.1.4.1.13742.6.4.1.2.1.2.1.4');
  assert.equal(stateOid('raritan', 4), '1.3.6.1.4.1.13742.6.4.1.2.1.3.1.4');
  assert.equal(decodeState('apc-rpdu2', 1), 'off');
  assert.equal(decodeState('apc-rpdu', 1), 'on');
  assert.equal(decodeState('raritan', 7), 'on');
  assert.equal(decodeState('raritan', 9), 'unknown');
});

for (const mib of ['apc-spdu', 'apc-rpdu', 'apc-rpdu2', 'raritan'] as const) {
  test(`${mib}: wake switches the outlet on, park off, and read follows`, async () => {
    const pdu = new FakePdu(8);
    const d = driver({ mib }, pdu);
    assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'off' });
    const woke = await d.wake(host, signal);
    assert.equal(woke.ok, true, JSON.stringify(woke));
    assert.equal(pdu.outlets.get(3), 'on');
    assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'on' });
    assert.equal((await d.park(host, signal)).ok, true);
    assert.equal(pdu.outlets.get(3), 'off');
    assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'off' });
    assert.equal((await d.reboot(host, signal)).ok, true);
    assert.deepEqual(pdu.commands.map((c) => c.command), ['on', 'off', 'reboot']);
  });
}

test('v2c: reads with the read community and switches with the write one; `community` sets both', async () => {
  const pdu = new FakePdu(4, { readCommunity: 'ro-x', writeCommunity: 'rw-x' });
  const split = driver({ readCommunity: 'ro-x', writeCommunity: 'rw-x' }, pdu);
  assert.equal((await split.read(host, signal)).ok, true);
  assert.equal((await split.wake(host, signal)).ok, true);
  const readOnly = driver({ community: 'ro-x' }, pdu);
  const refused = await readOnly.park(host, signal);
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.failure, 'auth');
  assert.match(!refused.ok ? refused.detail : '', /may only read/);
});

test('v2c: a wrong community is silence, reported as unreachable naming the community as the likely cause', async () => {
  const pdu = new FakePdu(4);
  const r = await driver({ community: 'nope' }, pdu).wake(host, signal);
  assert.equal(!r.ok && r.failure, 'unreachable');
  assert.match(!r.ok ? r.detail : '', /wrong community/);
  assert.equal(pdu.commands.length, 0);
});

test('v3: the right user switches; an unknown user and a wrong auth key fail as auth with the USM cause', async () => {
  const users = [{ name: 'pduadmin', authProtocol: 'sha' as const, authKey: 'authpass123', privProtocol: 'aes' as const, privKey: 'privpass123' }];
  const pdu = new FakePdu(4, { users });
  const good = { version: 3, user: 'pduadmin', authKey: 'authpass123', privProtocol: 'aes', privKey: 'privpass123' };
  assert.equal((await driver(good, pdu).wake(host, signal)).ok, true);
  const unknown = await driver({ ...good, user: 'mallory' }, pdu).park(host, signal);
  assert.equal(!unknown.ok && unknown.failure, 'auth');
  assert.match(!unknown.ok ? unknown.detail : '', /user mallory is unknown/);
  const badKey = await driver({ ...good, authKey: 'wrongpass1' }, pdu).park(host, signal);
  assert.equal(!badKey.ok && badKey.failure, 'auth');
  assert.match(!badKey.ok ? badKey.detail : '', /wrong authKey/);
  assert.equal(pdu.outlets.get(3), 'on');
});

test('v3: keys from files (one trailing newline dropped); a missing user or key is misconfigured', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-snmp-'));
  await writeFile(join(dir, 'auth'), 'authpass123\n');
  const pdu = new FakePdu(4, { users: [{ name: 'u1', authProtocol: 'md5', authKey: 'authpass123' }] });
  const fromFile = await driver({ version: '3', user: 'u1', authProtocol: 'md5', authKeyFile: join(dir, 'auth') }, pdu).wake(host, signal);
  assert.equal(fromFile.ok, true, JSON.stringify(fromFile));
  const noUser = await driver({ version: '3', authKey: 'authpass123' }, pdu).wake(host, signal);
  assert.equal(!noUser.ok && noUser.failure, 'misconfigured');
  const noFile = await driver({ version: '3', user: 'u1', authKeyFile: join(dir, 'missing') }, pdu).wake(host, signal);
  assert.match(!noFile.ok ? noFile.detail : '', /ENOENT/);
});

test('an outlet the PDU lacks is refused, naming the outlet or mib', async () => {
  const pdu = new FakePdu(2);
  const r = await driver({}, pdu).wake(host, signal);
  assert.equal(!r.ok && r.failure, 'refused');
  const read = await driver({}, pdu).read(host, signal);
  assert.match(!read.ok ? read.detail : '', /no such outlet/);
});

test('settings: version accepts 3 as a number, keys need 8 characters (not echoed), errors name the key', () => {
  const bad = validate(s.object(snmpSettings), { address: '198.51.100.20', outlet: 0, mib: 'cyberpower', version: 1, authKey: 'short' });
  const paths = bad.issues.map((i) => i.path).sort();
  assert.deepEqual(paths, ['authKey', 'mib', 'outlet', 'version']);
  assert.doesNotMatch(JSON.stringify(bad.issues), /short/, 'a pass phrase is never echoed');
  assert.equal(settings({ version: 3 }).version, '3');
  assert.equal(settings({}).version, '2c');
});

test('the shared PDU contract table (also run against snmpd in test/services/power-snmp.test.ts)', async () => {
  const { PDU_CASES, PDU_USERS, checkCase } = await import('../../services/pdu-contract.js');
  const pdu = new FakePdu(8, { users: PDU_USERS });
  for (const c of PDU_CASES) {
    const d = driver(c.settings, pdu) as unknown as Record<string, (h: typeof host, s: AbortSignal) => Promise<{ ok: boolean }>>;
    const results = [];
    for (const step of c.steps) results.push(await d[step]!(host, signal));
    checkCase(c, results);
  }
});

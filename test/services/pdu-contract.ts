// One table of SNMP PDU driver runs and what each step must give, shared by the unit test (the
// in-memory FakePdu) and the services test (Debian's snmpd with pdu-pass.py), so the fake the
// unit tests trust fails the way the real agent does. Both PDUs hold 8 outlets, communities
// public (read) and private (write), users pduadmin (SHA + AES) and opsmd5 (MD5, no privacy).

import assert from 'node:assert/strict';
import type { SnmpV3User } from '../../firmware/power/snmp-client.js';

export const PDU_USERS: SnmpV3User[] = [
  { name: 'pduadmin', authProtocol: 'sha', authKey: 'authpass123', privProtocol: 'aes', privKey: 'privpass123' },
  { name: 'opsmd5', authProtocol: 'md5', authKey: 'authpass456' },
];

export type Expected = { reading?: 'on' | 'off' } | { failure: string; detail: RegExp };

export interface PduCase {
  name: string;
  settings: Record<string, unknown>;
  steps: string[];
  expect: Expected[];
}

const v3 = { version: 3, user: 'pduadmin', authKey: 'authpass123', privProtocol: 'aes', privKey: 'privpass123' };
const quick = { timeoutSeconds: 0.5, retries: 0 };

export const PDU_CASES: PduCase[] = [
  { name: 'v2c default communities, rPDU2', settings: { outlet: 1, mib: 'apc-rpdu2' }, steps: ['read', 'wake', 'read', 'park', 'read'], expect: [{ reading: 'off' }, {}, { reading: 'on' }, {}, { reading: 'off' }] },
  { name: 'v2c one community, MasterSwitch', settings: { outlet: 2, mib: 'apc-spdu', community: 'private' }, steps: ['park', 'wake', 'read'], expect: [{}, {}, { reading: 'on' }] },
  { name: 'v2c, rPDU', settings: { outlet: 3, mib: 'apc-rpdu' }, steps: ['park', 'wake', 'read'], expect: [{}, {}, { reading: 'on' }] },
  { name: 'waking an outlet already on', settings: { outlet: 8, mib: 'apc-rpdu' }, steps: ['wake', 'wake', 'read'], expect: [{}, { failure: 'refused', detail: /outlet 8 is already on.*onWake: reboot/ }, { reading: 'on' }] },
  { name: 'v3 authPriv, Raritan', settings: { ...v3, outlet: 5, mib: 'raritan' }, steps: ['wake', 'read', 'park', 'read'], expect: [{}, { reading: 'on' }, {}, { reading: 'off' }] },
  { name: 'v3 authNoPriv MD5', settings: { version: '3', user: 'opsmd5', authProtocol: 'md5', authKey: 'authpass456', outlet: 6, mib: 'apc-rpdu' }, steps: ['park', 'wake', 'read'], expect: [{}, {}, { reading: 'on' }] },
  { name: 'wrong community', settings: { ...quick, outlet: 1, mib: 'apc-rpdu2', community: 'nope' }, steps: ['wake'], expect: [{ failure: 'unreachable', detail: /wrong community/ }] },
  { name: 'read-only community switching', settings: { outlet: 1, mib: 'apc-rpdu2', community: 'public' }, steps: ['wake'], expect: [{ failure: 'auth', detail: /noAccess.*may only read/i }] },
  { name: 'unknown v3 user', settings: { ...v3, user: 'mallory', outlet: 1, mib: 'apc-rpdu2' }, steps: ['wake'], expect: [{ failure: 'auth', detail: /user mallory is unknown/ }] },
  { name: 'wrong v3 auth key', settings: { ...v3, authKey: 'wrongpass9', outlet: 1, mib: 'apc-rpdu2' }, steps: ['wake'], expect: [{ failure: 'auth', detail: /wrong authKey or authProtocol/ }] },
  { name: 'wrong v3 auth protocol', settings: { ...v3, authProtocol: 'md5', outlet: 1, mib: 'apc-rpdu2' }, steps: ['wake'], expect: [{ failure: 'auth', detail: /wrong authKey or authProtocol/ }] },
  { name: 'wrong v3 priv key', settings: { ...v3, ...quick, privKey: 'wrongpriv9', outlet: 1, mib: 'apc-rpdu2' }, steps: ['wake'], expect: [{ failure: 'unreachable', detail: /wrong privKey/ }] },
  { name: 'v3 user that needs privacy, asked without', settings: { version: 3, user: 'pduadmin', authKey: 'authpass123', outlet: 1, mib: 'apc-rpdu2' }, steps: ['wake'], expect: [{ failure: 'auth', detail: /pduadmin/ }] },
  { name: 'missing outlet', settings: { outlet: 99, mib: 'apc-rpdu2' }, steps: ['read', 'wake'], expect: [{ failure: 'refused', detail: /no such outlet/ }, { failure: 'refused', detail: /no such outlet|notWritable/i }] },
];

/** Asserts one case's step results (as the driver returned them) against its expectations. */
export function checkCase(c: PduCase, results: Array<{ ok: boolean; reading?: string; failure?: string; detail?: string }>): void {
  assert.equal(results.length, c.expect.length, `${c.name}: ${JSON.stringify(results)}`);
  c.expect.forEach((e, i) => {
    const r = results[i]!;
    if ('failure' in e) {
      assert.equal(r.ok, false, `${c.name} step ${i}: ${JSON.stringify(r)}`);
      assert.equal(r.failure, e.failure, `${c.name} step ${i}: ${JSON.stringify(r)}`);
      assert.match(r.detail ?? '', e.detail, `${c.name} step ${i}`);
    } else {
      assert.equal(r.ok, true, `${c.name} step ${i}: ${JSON.stringify(r)}`);
      assert.equal(r.reading, e.reading, `${c.name} step ${i}: ${JSON.stringify(r)}`);
    }
  });
}

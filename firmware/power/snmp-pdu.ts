// Switched PDU outlets over SNMP (issue 10): outlet on to wake, off to park, reboot, and the
// state read back, on the MIBs of pdu-oids.ts, over v2c (RFC 1901) or v3 USM (RFC 3414). The
// SNMP client is a port (snmp-client.ts: net-snmp, loaded on first use, and an in-memory PDU).

import { optional, s, type ConfigIssue, type FieldDoc, type ObjectOf, type Schema, type StringRule } from '../config/kit.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver, PowerReading } from './driver.js';
import { readSecret } from './http.js';
import { controlOid, decodeState, PDU_MIBS, PDU_TABLES, stateOid, type OutletCommand } from './pdu-oids.js';
import { NetSnmpClient, type SnmpAccess, type SnmpClient } from './snmp-client.js';

/** `version: 3` and `version: "3"` both mean v3: YAML gives the first as a number. */
class SnmpVersionSchema implements Schema<'2c' | '3'> {
  readonly kind = 'enum';
  readonly summary = '2c or 3';
  doc: FieldDoc = { description: '' };
  optional = false;
  defaultValue: '2c' | '3' | undefined = undefined;
  check(value: unknown, path: string, issues: ConfigIssue[]): '2c' | '3' | undefined {
    if (value === undefined) {
      if (this.defaultValue === undefined && !this.optional) issues.push({ path, message: `is required (${this.summary})` });
      return this.defaultValue;
    }
    if (value === '2c' || value === '3' || value === 3) return value === 3 ? '3' : value;
    issues.push({ path, message: `must be 2c or 3, got ${JSON.stringify(value)}` });
    return undefined;
  }
  describe(description: string): this {
    this.doc = { description };
    return this;
  }
}

/** A USM pass phrase: at least 8 characters (RFC 3414 section 11.2); a bad one is never echoed. */
class PassPhraseSchema implements Schema<string> {
  readonly kind = 'string';
  readonly summary = 'a pass phrase of 8+ characters';
  doc: FieldDoc = { description: '' };
  optional = false;
  defaultValue: string | undefined = undefined;
  check(value: unknown, path: string, issues: ConfigIssue[]): string | undefined {
    if (value === undefined) {
      if (!this.optional) issues.push({ path, message: `is required (${this.summary})` });
      return undefined;
    }
    if (typeof value !== 'string' || value.length < 8) {
      issues.push({ path, message: 'must be a pass phrase of at least 8 characters (RFC 3414 USM; the value is not shown)' });
      return undefined;
    }
    return value;
  }
  describe(description: string): this {
    this.doc = { description };
    return this;
  }
}
const isHost: StringRule = (v) => (/^[A-Za-z0-9.:_-]{1,253}$/.test(v) ? undefined : 'must be an address or host name');

export const snmpSettings = {
  address: s.string('an address or host name', isHost).describe("The PDU's management address."),
  port: optional(s.int(1, 65535).describe('UDP port of the PDU\'s SNMP agent.'), 161),
  outlet: s.int(1, 4096).describe('The outlet that feeds this host (1-based, as on the PDU\'s front).'),
  mib: s.enumOf(...PDU_MIBS).describe('Which outlet table the PDU speaks: `apc-spdu` (MasterSwitch sPDUOutletCtl), `apc-rpdu` (rPDU), `apc-rpdu2` (AP8xxx rPDU2) or `raritan` (PDU2-MIB).'),
  version: optional(new SnmpVersionSchema().describe('SNMP version: `2c` (communities) or `3` (USM user).'), '2c'),
  community: optional(s.string().describe('v2c: one community for both reading and switching (inline; or `communityFile`).')),
  communityFile: optional(s.string('a file path').describe('v2c: a file holding the community (one line), instead of `community`.')),
  readCommunity: optional(s.string().describe('v2c: community for reading state, when `community` is not set.'), 'public'),
  writeCommunity: optional(s.string().describe('v2c: community for switching, when `community` is not set.'), 'private'),
  user: optional(s.string().describe('v3: the USM user name.')),
  authProtocol: optional(s.enumOf('sha', 'md5', 'sha256').describe('v3: authentication protocol.'), 'sha'),
  authKey: optional(new PassPhraseSchema().describe('v3: authentication pass phrase, 8+ characters (inline; or `authKeyFile`).')),
  authKeyFile: optional(s.string('a file path').describe('v3: a file holding the authentication pass phrase.')),
  privProtocol: optional(s.enumOf('aes', 'des').describe('v3: privacy (encryption) protocol; without it, authNoPriv.')),
  privKey: optional(new PassPhraseSchema().describe('v3: privacy pass phrase, 8+ characters (inline; or `privKeyFile`).')),
  privKeyFile: optional(s.string('a file path').describe('v3: a file holding the privacy pass phrase.')),
  onWake: optional(s.enumOf('on', 'reboot').describe('What wake sends: `on`, or `reboot` (off, then on after the PDU\'s reboot delay) for a host that hangs powered.'), 'on'),
  timeoutSeconds: optional(s.number(0.1, 60).describe('Seconds to wait for each SNMP answer.'), 2),
  retries: optional(s.int(0, 5).describe('Requests resent after a timeout.'), 1),
};

export type SnmpSettings = ObjectOf<typeof snmpSettings>;

export interface SnmpDeps extends DriverDeps {
  snmp?: SnmpClient;
}

export function createSnmp(settings: SnmpSettings, deps: SnmpDeps): SnmpPduDriver {
  return new SnmpPduDriver(settings, deps.snmp ?? new NetSnmpClient());
}

export class SnmpPduDriver implements PowerDriver {
  readonly method = 'snmp';
  constructor(
    private readonly settings: SnmpSettings,
    private readonly client: SnmpClient,
  ) {}

  async wake(host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    if (this.settings.onWake === 'on') {
      // Switching on an outlet that is on changes nothing: a host that is off or asleep behind it
      // needs WoL, or an off-on cycle (`onWake: reboot`). Saying so lets the executor escalate now.
      // A failed read is left to the set, which fails the same way or works.
      const now = await this.read(host, signal);
      if (now.ok && now.reading === 'on') {
        const { address, outlet } = this.settings;
        return { ok: false, failure: 'refused', detail: `${address} outlet ${outlet} is already on: switching it on cannot start the host (a suspended one needs wol; \`onWake: reboot\` cycles it)` };
      }
    }
    return this.switchOutlet(this.settings.onWake, signal);
  }

  park(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.switchOutlet('off', signal);
  }

  /** Off, then on after the PDU's own reboot delay: for a host that hangs with power on. */
  reboot(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.switchOutlet('reboot', signal);
  }

  async read(_host: DriverHost, signal: AbortSignal): Promise<{ ok: true; reading: PowerReading } | { ok: false; failure: DriverFailure; detail: string }> {
    const access = await this.access('read');
    if (!access.ok) return access;
    const { mib, outlet } = this.settings;
    const got = await this.client.get(access.value, stateOid(mib, outlet), signal);
    if (!got.ok) return got;
    return { ok: true, reading: decodeState(mib, got.value) };
  }

  private async switchOutlet(command: OutletCommand, signal: AbortSignal): Promise<DriverResult> {
    const access = await this.access('write');
    if (!access.ok) return access;
    const { mib, outlet, address } = this.settings;
    const value = PDU_TABLES[mib].commands[command];
    const set = await this.client.set(access.value, controlOid(mib, outlet), value, signal);
    if (!set.ok) return set;
    return { ok: true, detail: `${address} outlet ${outlet} ${command} (${mib})` };
  }

  /** Credentials for one request: v2c reads with the read community and switches with the write one. */
  private async access(purpose: 'read' | 'write'): Promise<{ ok: true; value: SnmpAccess } | { ok: false; failure: 'misconfigured'; detail: string }> {
    const c = this.settings;
    const base = { address: c.address, port: c.port, timeoutMs: Math.round(c.timeoutSeconds * 1000), retries: c.retries };
    if (c.version === '2c') {
      const community = await readSecret(c.community, c.communityFile);
      if (!community.ok) return { ok: false, failure: 'misconfigured', detail: `snmp communityFile: ${community.detail}` };
      const chosen = community.value ?? (purpose === 'read' ? c.readCommunity : c.writeCommunity);
      return { ok: true, value: { ...base, version: '2c', community: chosen } };
    }
    if (c.user === undefined) return { ok: false, failure: 'misconfigured', detail: 'snmp version 3 needs `user` (and `authKey`)' };
    const authKey = await readSecret(c.authKey, c.authKeyFile);
    if (!authKey.ok) return { ok: false, failure: 'misconfigured', detail: `snmp authKeyFile: ${authKey.detail}` };
    if (authKey.value === undefined) return { ok: false, failure: 'misconfigured', detail: 'snmp version 3 needs `authKey` or `authKeyFile` (noAuthNoPriv is not offered: it would switch power unauthenticated)' };
    const privKey = await readSecret(c.privKey, c.privKeyFile);
    if (!privKey.ok) return { ok: false, failure: 'misconfigured', detail: `snmp privKeyFile: ${privKey.detail}` };
    if (c.privProtocol !== undefined && privKey.value === undefined) return { ok: false, failure: 'misconfigured', detail: 'snmp privProtocol is set but neither `privKey` nor `privKeyFile`' };
    return {
      ok: true,
      value: {
        ...base,
        version: '3',
        user: {
          name: c.user,
          authProtocol: c.authProtocol,
          authKey: authKey.value,
          ...(c.privProtocol !== undefined && privKey.value !== undefined ? { privProtocol: c.privProtocol, privKey: privKey.value } : {}),
        },
      },
    };
  }
}

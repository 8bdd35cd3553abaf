// The SNMP port of the PDU driver: one GET or SET of an INTEGER, with every failure mapped to
// the driver's outcomes and a detail naming the likely cause (a v2c agent drops a wrong
// community silently, RFC 3584; a v3 agent reports usmStats*, RFC 3414 section 3.2). The Linux
// side is net-snmp, imported on first use (it costs ~13 MiB); the fake is an in-memory agent.

import type { DriverFailure } from './driver.js';

export interface SnmpV3User {
  name: string;
  authProtocol: 'sha' | 'md5' | 'sha256';
  authKey: string;
  privProtocol?: 'aes' | 'des';
  privKey?: string;
}

export interface SnmpAccess {
  address: string;
  port: number;
  version: '2c' | '3';
  community?: string;
  user?: SnmpV3User;
  timeoutMs: number;
  retries: number;
}

export type SnmpOutcome = { ok: true; value: number } | { ok: false; failure: DriverFailure; detail: string };

export interface SnmpClient {
  get(access: SnmpAccess, oid: string, signal?: AbortSignal): Promise<SnmpOutcome>;
  set(access: SnmpAccess, oid: string, value: number, signal?: AbortSignal): Promise<SnmpOutcome>;
}

/** What a timeout most likely means, by version: the agent says nothing about bad credentials in v2c. */
export function timeoutDetail(access: SnmpAccess, operation: 'get' | 'set'): string {
  const waited = `no answer from ${access.address}:${access.port} to ${operation} within ${access.timeoutMs} ms x ${access.retries + 1}`;
  if (access.version === '2c') return `${waited}: wrong community (v2c agents ignore one silently), or the PDU is unreachable`;
  return `${waited}: wrong privKey or privProtocol (the agent cannot decrypt and stays silent), or the PDU is unreachable`;
}

/** The USM report names (net-snmp's wording) mapped to what to fix. */
export function usmDetail(report: string, access: SnmpAccess): string {
  const user = access.user?.name ?? '?';
  if (/unknown user/i.test(report)) return `SNMPv3 user ${user} is unknown to the PDU (usmStatsUnknownUserNames)`;
  if (/wrong digest/i.test(report)) return `SNMPv3 authentication failed for ${user}: wrong authKey or authProtocol (usmStatsWrongDigests)`;
  if (/security level/i.test(report)) return `SNMPv3 user ${user} does not allow this security level: check privProtocol/privKey (usmStatsUnsupportedSecLevels)`;
  if (/decryption/i.test(report)) return `SNMPv3 decryption failed for ${user}: wrong privKey or privProtocol (usmStatsDecryptionErrors)`;
  return `SNMPv3 report: ${report}`;
}

/** An SNMP error-status in a response, as a driver outcome (RFC 3416 section 3). */
export function errorStatusFailure(status: string, oid: string, access: SnmpAccess): { ok: false; failure: DriverFailure; detail: string } {
  if (/noAccess|authorizationError/i.test(status)) {
    const who = access.version === '2c' ? `community "${access.community ?? ''}" may only read` : `user ${access.user?.name ?? '?'} may not write here`;
    return { ok: false, failure: 'auth', detail: `${access.address} refused the set of ${oid}: ${status} (${who}; use the read-write one)` };
  }
  if (/notWritable|noSuchName|noCreation/i.test(status)) {
    return { ok: false, failure: 'refused', detail: `${access.address}: ${status} for ${oid} (no such outlet, or the wrong mib for this PDU)` };
  }
  return { ok: false, failure: 'refused', detail: `${access.address}: ${status} for ${oid}` };
}

type NetSnmp = typeof import('net-snmp');
let loaded: Promise<NetSnmp> | undefined;

export class NetSnmpClient implements SnmpClient {
  get(access: SnmpAccess, oid: string, signal?: AbortSignal): Promise<SnmpOutcome> {
    return this.exchange(access, oid, undefined, signal);
  }

  set(access: SnmpAccess, oid: string, value: number, signal?: AbortSignal): Promise<SnmpOutcome> {
    return this.exchange(access, oid, value, signal);
  }

  private async exchange(access: SnmpAccess, oid: string, value: number | undefined, signal?: AbortSignal): Promise<SnmpOutcome> {
    // net-snmp is CommonJS: Node's import gives its exports as names and as `default`, the bundle's
    // split chunk only as `default`.
    loaded ??= import('net-snmp').then((m) => (m as unknown as { default?: NetSnmp }).default ?? m);
    const snmp = await loaded;
    const operation = value === undefined ? 'get' : 'set';
    const options = {
      port: access.port,
      retries: access.retries,
      timeout: access.timeoutMs,
      backoff: 1,
      transport: access.address.includes(':') ? ('udp6' as const) : ('udp4' as const),
    };
    let session: import('net-snmp').Session;
    try {
      if (access.version === '2c') {
        session = snmp.createSession(access.address, access.community ?? 'public', { ...options, version: snmp.Version2c });
      } else {
        const u = access.user;
        if (!u) return { ok: false, failure: 'misconfigured', detail: 'SNMPv3 without a user' };
        session = snmp.createV3Session(
          access.address,
          {
            name: u.name,
            level: u.privProtocol ? snmp.SecurityLevel.authPriv : snmp.SecurityLevel.authNoPriv,
            authProtocol: snmp.AuthProtocols[u.authProtocol],
            authKey: u.authKey,
            ...(u.privProtocol ? { privProtocol: snmp.PrivProtocols[u.privProtocol], privKey: u.privKey ?? '' } : {}),
          },
          { ...options, version: snmp.Version3 },
        );
      }
    } catch (error) {
      return { ok: false, failure: 'misconfigured', detail: `SNMP session: ${(error as Error).message}` };
    }
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: SnmpOutcome) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        try {
          session.close();
        } catch {
          // Already closed by a socket error.
        }
        resolve(outcome);
      };
      const onAbort = () => finish({ ok: false, failure: 'unreachable', detail: `SNMP ${operation} to ${access.address} aborted` });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      session.on('error', (error) => finish({ ok: false, failure: 'unreachable', detail: `${access.address}: ${error.message}` }));
      const done = (error: Error | null, varbinds: import('net-snmp').Varbind[]) => {
        if (error) return finish(this.failureOf(snmp, error, access, operation, oid));
        const vb = varbinds[0];
        if (!vb) return finish({ ok: false, failure: 'refused', detail: `${access.address}: empty answer for ${oid}` });
        if (snmp.isVarbindError(vb)) {
          return finish({ ok: false, failure: 'refused', detail: `${access.address}: ${snmp.varbindError(vb)} (no such outlet, or the wrong mib for this PDU)` });
        }
        if (typeof vb.value !== 'number') return finish({ ok: false, failure: 'refused', detail: `${access.address}: ${oid} is not an INTEGER` });
        finish({ ok: true, value: vb.value });
      };
      if (value === undefined) session.get([oid], done);
      else session.set([{ oid, type: snmp.ObjectType.Integer, value }], done);
    });
  }

  private failureOf(snmp: NetSnmp, error: Error, access: SnmpAccess, operation: 'get' | 'set', oid: string): SnmpOutcome {
    if (error.name === 'RequestTimedOutError') return { ok: false, failure: 'unreachable', detail: timeoutDetail(access, operation) };
    const code = (error as Error & { code?: number }).code;
    if (error.name === 'ResponseInvalidError' && code === snmp.ResponseInvalidCode.EAuthFailure) {
      return { ok: false, failure: 'auth', detail: usmDetail(error.message, access) };
    }
    if (error.name === 'RequestFailedError') return errorStatusFailure(error.message, oid, access);
    return { ok: false, failure: 'unreachable', detail: `${access.address}: ${error.name}: ${error.message}` };
  }
}

/**
 * An in-memory SNMP agent holding INTEGER cells, with v2c communities and v3 users that fail the
 * way a real agent does (silence for a wrong community or privKey, reports for v3 users). A PDU
 * model built on it (`FakePdu` in pdu-fake.ts) gives the cells their outlet meaning.
 */
export interface FakeAgentOptions {
  readCommunity?: string;
  writeCommunity?: string;
  users?: SnmpV3User[];
  /** Called for a SET of an existing writable cell; returns the error-status name, or undefined. */
  onSet(oid: string, value: number): string | undefined;
  /** The current value of a cell, or undefined when no such instance exists. */
  onGet(oid: string): number | undefined;
}

export class FakeSnmpAgent implements SnmpClient {
  readonly sets: Array<{ oid: string; value: number }> = [];
  constructor(private readonly options: FakeAgentOptions) {}

  async get(access: SnmpAccess, oid: string): Promise<SnmpOutcome> {
    const denied = this.authenticate(access, 'get', 'read');
    if (denied) return denied;
    const value = this.options.onGet(oid);
    if (value === undefined) return { ok: false, failure: 'refused', detail: `${access.address}: NoSuchInstance: ${oid} (no such outlet, or the wrong mib for this PDU)` };
    return { ok: true, value };
  }

  async set(access: SnmpAccess, oid: string, value: number): Promise<SnmpOutcome> {
    const denied = this.authenticate(access, 'set', 'write');
    if (denied) return denied;
    const status = this.options.onSet(oid, value);
    if (status) return errorStatusFailure(status, oid, access);
    this.sets.push({ oid, value });
    return { ok: true, value };
  }

  private authenticate(access: SnmpAccess, operation: 'get' | 'set', need: 'read' | 'write'): SnmpOutcome | undefined {
    const o = this.options;
    if (access.version === '2c') {
      const read = o.readCommunity ?? 'public';
      const write = o.writeCommunity ?? 'private';
      if (access.community !== read && access.community !== write) return { ok: false, failure: 'unreachable', detail: timeoutDetail(access, operation) };
      if (need === 'write' && access.community !== write) return errorStatusFailure('noAccess', '(set)', access);
      return undefined;
    }
    const user = o.users?.find((u) => u.name === access.user?.name);
    if (!user || !access.user) return { ok: false, failure: 'auth', detail: usmDetail('Unknown User Name', access) };
    if (user.authProtocol !== access.user.authProtocol || user.authKey !== access.user.authKey) {
      return { ok: false, failure: 'auth', detail: usmDetail('Wrong Digest', access) };
    }
    if (user.privProtocol !== undefined && access.user.privProtocol === undefined) {
      return { ok: false, failure: 'auth', detail: usmDetail('Unsupported Security Level', access) };
    }
    if (user.privProtocol !== access.user.privProtocol || user.privKey !== access.user.privKey) {
      return { ok: false, failure: 'unreachable', detail: timeoutDetail(access, operation) };
    }
    return undefined;
  }
}

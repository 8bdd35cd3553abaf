// IPMI chassis power (issue 10) through ipmitool over RMCP+ (`-I lanplus`, IPMI v2.0 §13):
// park = `chassis power soft` (or off), wake = `on`, read = `status`, plus cycle. Never cipher
// suite 0 (it takes any password); the password goes by environment (-E) or file (-f), never
// argv. ipmitool's verbose lines tell a refused password from a silent BMC.

import { isIP } from 'node:net';
import { optional, s, type ObjectOf, type StringRule } from '../config/kit.js';
import type { RunResult } from '../os/process.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver, PowerReading } from './driver.js';

export type ChassisAction = 'on' | 'soft' | 'off' | 'cycle' | 'status';

const isBmc: StringRule = (v) => (isIP(v) || (/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(v) && !v.startsWith('-')) ? undefined : 'must be an address or host name');
const isAbsolute: StringRule = (v) => (v.startsWith('/') ? undefined : 'must be an absolute path');
const isIpmiUser: StringRule = (v) => (v.length <= 16 && !v.startsWith('-') ? undefined : 'must be at most 16 characters (IPMI user names), not starting with -');
const isIpmiPassword: StringRule = (v) => (v.length <= 20 ? undefined : 'must be at most 20 characters (IPMI v2.0 passwords)');

export const ipmiSettings = {
  address: s.string('an address', isBmc).describe('The BMC\'s address (not the host\'s).', { example: '198.51.100.10' }),
  user: s.string('a user name', isIpmiUser).describe('BMC user with operator or administrator privilege.'),
  password: optional(s.string('a password', isIpmiPassword).describe('BMC password (passed to ipmitool in its environment, never on the command line); or `passwordFile`.')),
  passwordFile: optional(s.string('a file path', isAbsolute).describe('File holding the BMC password (ipmitool -f); instead of `password`.')),
  port: optional(s.int(1, 65535).describe('RMCP port.'), 623),
  cipherSuite: optional(s.int(1, 17).describe('RMCP+ cipher suite (3: HMAC-SHA1, AES-128); suite 0 takes any password and is refused.'), 3),
  parkAction: optional(s.enumOf('soft', 'off').describe('How to park: `soft` (ACPI shutdown) or `off` (cut power).'), 'soft'),
};
export type IpmiSettings = ObjectOf<typeof ipmiSettings>;

/** The settings' one rule the schema kit cannot express: exactly one of password, passwordFile. */
export function ipmiSettingsProblem(settings: Pick<IpmiSettings, 'password' | 'passwordFile'>): string | undefined {
  if (settings.password !== undefined && settings.passwordFile !== undefined) return 'give password or passwordFile, not both';
  if (settings.password === undefined && settings.passwordFile === undefined) return 'needs password or passwordFile';
  return undefined;
}

/** ipmitool's arguments for one chassis command; the password is not among them. */
export function ipmiArgs(settings: IpmiSettings, action: ChassisAction): string[] {
  return [
    '-v', // the verbose lines name the cause: "RAKP 2 HMAC is invalid" against "Get Auth Capabilities error"
    '-I', 'lanplus',
    '-C', String(settings.cipherSuite ?? 3),
    // One retry of a 1 s timeout: a dead BMC answers in 2 s instead of ipmitool's 20.
    '-N', '1',
    '-R', '1',
    '-H', settings.address,
    '-p', String(settings.port ?? 623),
    '-U', settings.user,
    ...(settings.passwordFile !== undefined ? ['-f', settings.passwordFile] : ['-E']),
    'chassis', 'power', action,
  ];
}

const CONTROL_DONE = /Chassis Power Control: (Up\/On|Soft|Down\/Off|Cycle|Reset)/;
const STATUS = /Chassis Power is (on|off)/;

/** The failure and its detail from a failed ipmitool run (its verbose lines included). */
export function classifyIpmi(result: Pick<RunResult, 'code' | 'stdout' | 'stderr' | 'timedOut'>, where: string): { failure: DriverFailure; detail: string } {
  const lines = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Loading IANA PEN Registry|^Running Get VSO|^Invalid completion code received: Invalid command|^Discovered IPMB/.test(l));
  const has = (pattern: RegExp) => lines.find((l) => pattern.test(l));
  const last = lines[lines.length - 1] ?? `exit ${result.code}`;
  if (result.timedOut) return { failure: 'unreachable', detail: `${where}: ipmitool gave no answer in time` };
  if (result.code === null) return { failure: 'misconfigured', detail: `cannot run ipmitool: ${last}` };
  if (has(/RAKP 2 HMAC is invalid/)) return { failure: 'auth', detail: `${where}: password refused (RAKP 2 HMAC is invalid)` };
  if (has(/unauthorized name/)) return { failure: 'auth', detail: `${where}: user unknown to the BMC (unauthorized name)` };
  const auth = has(/invalid authentication algorithm|Invalid user name|insufficient privilege|Insufficient privilege|privilege level/i);
  if (auth) return { failure: 'auth', detail: `${where}: ${auth}` };
  const refused = has(/failed: /);
  if (refused) return { failure: 'refused', detail: `${where}: ${refused}` };
  if (has(/Get Auth Capabilities error|Channel Authentication Capabilities|No response|Unable to establish|Address lookup/)) {
    return { failure: 'unreachable', detail: `${where}: no answer from the BMC (${last})` };
  }
  return { failure: 'refused', detail: `${where}: ${last}` };
}

export interface IpmiDriver extends PowerDriver {
  /** Any chassis power command, for the CLI and the executor's escalation (cycle). */
  chassis(action: Exclude<ChassisAction, 'status'>, signal: AbortSignal): Promise<DriverResult>;
}

export function createIpmi(settings: IpmiSettings, deps: DriverDeps): IpmiDriver {
  const where = `BMC ${settings.address}`;
  const timeoutMs = 15_000; // -N 1 -R 1 fails a silent BMC in about 2 s; a slow one may need more
  const problem = ipmiSettingsProblem(settings);
  // PATH only: ipmitool needs nothing else, and the daemon's environment stays out of it.
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...(settings.password !== undefined ? { IPMI_PASSWORD: settings.password } : {}) };

  async function ipmitool(action: ChassisAction, signal: AbortSignal): Promise<{ ok: true; stdout: string } | { ok: false; failure: DriverFailure; detail: string }> {
    if (problem) return { ok: false, failure: 'misconfigured', detail: `${where}: ${problem}` };
    if (signal.aborted) return { ok: false, failure: 'unreachable', detail: `${where}: aborted before chassis power ${action}` };
    const result = await deps.processes.run('ipmitool', ipmiArgs(settings, action), { timeoutMs, env });
    if (result.code === 0 && !result.timedOut) return { ok: true, stdout: result.stdout };
    return { ok: false, ...classifyIpmi(result, where) };
  }

  async function chassis(action: Exclude<ChassisAction, 'status'>, signal: AbortSignal): Promise<DriverResult> {
    const done = await ipmitool(action, signal);
    if (!done.ok) return done;
    const said = CONTROL_DONE.exec(done.stdout);
    if (!said) return { ok: false, failure: 'refused', detail: `${where}: chassis power ${action} gave no confirmation (${done.stdout.trim() || 'no output'})` };
    deps.log.info('ipmi chassis power', { bmc: settings.address, action });
    return { ok: true, detail: `${where}: ${said[0]}` };
  }

  return {
    method: 'ipmi',
    chassis,
    wake: (_host: DriverHost, signal: AbortSignal) => chassis('on', signal),
    park: (_host: DriverHost, signal: AbortSignal) => chassis(settings.parkAction ?? 'soft', signal),
    async read(_host: DriverHost, signal: AbortSignal) {
      const done = await ipmitool('status', signal);
      if (!done.ok) return done;
      const state = STATUS.exec(done.stdout);
      if (!state) return { ok: false, failure: 'refused', detail: `${where}: unreadable power status (${done.stdout.trim() || 'no output'})` };
      return { ok: true, reading: state[1] as PowerReading };
    },
  };
}

// Sleep over SSH (issue 10): park a Linux host by asking it for `systemctl suspend|hibernate|
// hybrid-sleep|poweroff` with a dedicated key whose authorized_keys line has a forced command,
// so the host decides what runs. OpenSSH's ssh(1) through the ProcessRunner, no shell; its
// messages (ssh.c, sshconnect.c) are mapped to the DriverFailure union. Park only.

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { optional, s, type ObjectOf, type StringRule } from '../config/kit.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver } from './driver.js';

export const SSH_COMMANDS = ['suspend', 'hibernate', 'hybrid-sleep', 'poweroff'] as const;
export type SshCommand = (typeof SSH_COMMANDS)[number];

const isUser: StringRule = (v) => (/^[a-z_][a-z0-9_.-]{0,31}$/i.test(v) ? undefined : 'must be a user name');
const isAbsolute: StringRule = (v) => (v.startsWith('/') ? undefined : 'must be an absolute path');
const isHost: StringRule = (v) => (/^[A-Za-z0-9.:_-]{1,253}$/.test(v) && !v.startsWith('-') ? undefined : 'must be an address or host name');

export const sshSettings = {
  user: optional(s.string('a user name', isUser).describe('Login user on the host; its authorized_keys line should force the command.'), 'root'),
  key: optional(s.string('a file path', isAbsolute).describe('Private key (mode 0600); default `<node.stateDir>/power/id_ed25519`.')),
  address: optional(s.string('an address', isHost).describe('Where to connect; default the host\'s `address`.')),
  port: optional(s.int(1, 65535).describe('SSH port.'), 22),
  command: optional(
    s.enumOf(...SSH_COMMANDS).describe('Requested as `systemctl <command>`; the forced command on the host decides what really runs.'),
    'suspend',
  ),
  connectTimeoutSeconds: optional(s.int(1, 60).describe('Give up connecting after this long.'), 5),
};
export type SshSettings = ObjectOf<typeof sshSettings>;

/** Where the driver keeps its known_hosts and default key: `<stateDir>/power/`. */
export function sshPaths(stateDir: string): { dir: string; key: string; knownHosts: string } {
  const dir = join(stateDir, 'power');
  return { dir, key: join(dir, 'id_ed25519'), knownHosts: join(dir, 'known_hosts') };
}

/** The ssh(1) argument list: no config files, key only, first host key pinned, keep-alives on. */
export function sshArgs(settings: SshSettings, host: DriverHost, stateDir: string): string[] {
  const paths = sshPaths(stateDir);
  const connectTimeout = settings.connectTimeoutSeconds ?? 5;
  return [
    '-F', '/dev/null', // the daemon's behaviour must not depend on root's ~/.ssh/config
    '-T',
    '-i', settings.key ?? paths.key,
    '-o', 'IdentitiesOnly=yes', // never offer other keys (an agent's, ~/.ssh's) to a managed host
    '-o', 'BatchMode=yes', // never prompt for a password or a host key
    '-o', 'StrictHostKeyChecking=accept-new', // pin the first key seen; a changed key is refused
    '-o', `UserKnownHostsFile=${paths.knownHosts}`,
    '-o', `ConnectTimeout=${connectTimeout}`,
    // A host that suspends before answering would hang the call forever without keep-alives.
    '-o', 'ServerAliveInterval=1',
    '-o', 'ServerAliveCountMax=2',
    '-p', String(settings.port ?? 22),
    '-l', settings.user ?? 'root',
    '--',
    settings.address ?? host.address,
    `systemctl ${settings.command ?? 'suspend'}`,
  ];
}

/** ssh's noise that explains nothing about a failure. */
const NOISE = /^(Warning: Permanently added|@{10,}|\s*$)/;

/** The closed failure and a detail from ssh's exit status and stderr. */
export function classifySsh(code: number | null, stderr: string, where: string, key: string, knownHosts: string): { failure: DriverFailure; detail: string } {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => !NOISE.test(l));
  const last = lines[lines.length - 1] ?? `exit ${code}`;
  const has = (pattern: RegExp) => lines.some((l) => pattern.test(l));
  if (code === null) return { failure: 'misconfigured', detail: `cannot run ssh: ${last}` };
  if (code !== 255) return { failure: 'refused', detail: `${where}: the host's command exited ${code}${lines.length ? `: ${last}` : ''}` };
  if (has(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/)) {
    return { failure: 'auth', detail: `${where}: host key changed (not the one in ${knownHosts}); if the host was reinstalled, remove its line there` };
  }
  if (has(/UNPROTECTED PRIVATE KEY FILE|bad permissions/)) return { failure: 'misconfigured', detail: `${where}: key ${key} is readable by others; chmod 600 it` };
  if (has(/Identity file .* not accessible|no such identity/i)) return { failure: 'misconfigured', detail: `${where}: no key at ${key} (ssh-keygen -t ed25519 -N '' -f ${key})` };
  if (has(/Permission denied/)) return { failure: 'auth', detail: `${where}: key refused (${last}); put ${key}.pub in the host's authorized_keys with a forced command` };
  if (has(/Could not resolve hostname/)) return { failure: 'misconfigured', detail: `${where}: ${last}` };
  if (has(/Connection refused|Connection timed out|timed out|not responding|No route to host|Network is unreachable|Connection closed|Connection reset/)) {
    return { failure: 'unreachable', detail: `${where}: ${last}` };
  }
  return { failure: 'refused', detail: `${where}: ${last}` };
}

/** Ports SSH needs beyond the common ones: making `<stateDir>/power` (Linux: mkdir -p, mode 0700). */
export interface SshDeps extends DriverDeps {
  ensureDir?: (path: string) => Promise<void>;
}

const linuxEnsureDir = async (path: string): Promise<void> => {
  await mkdir(path, { recursive: true, mode: 0o700 });
};

/**
 * Makes the default key `<stateDir>/power/id_ed25519` with ssh-keygen(1) when it is missing and
 * returns its public line, for the admin to put in each host's authorized_keys behind a forced
 * command. An existing key is never replaced: hosts already trust it.
 */
export async function ensureSshKey(stateDir: string, deps: Pick<SshDeps, 'processes' | 'ensureDir'> & { readFile?: (path: string) => Promise<string | undefined> }): Promise<{ ok: true; publicKey: string; created: boolean } | { ok: false; detail: string }> {
  const paths = sshPaths(stateDir);
  const read = deps.readFile ?? ((path: string) => readFile(path, 'utf8').catch(() => undefined));
  const existing = await read(`${paths.key}.pub`);
  if (existing !== undefined) return { ok: true, publicKey: existing.trim(), created: false };
  try {
    await (deps.ensureDir ?? linuxEnsureDir)(paths.dir);
  } catch (error) {
    return { ok: false, detail: `cannot make ${paths.dir}: ${(error as Error).message}` };
  }
  const made = await deps.processes.run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tandem-power', '-f', paths.key], { timeoutMs: 30_000 });
  if (made.code !== 0) return { ok: false, detail: `ssh-keygen -f ${paths.key}: ${made.stderr.trim() || `exit ${made.code}`}` };
  const created = await read(`${paths.key}.pub`);
  if (created === undefined) return { ok: false, detail: `ssh-keygen made no ${paths.key}.pub` };
  return { ok: true, publicKey: created.trim(), created: true };
}

export function createSsh(settings: SshSettings, deps: SshDeps): PowerDriver {
  const ensureDir = deps.ensureDir ?? linuxEnsureDir;
  const paths = sshPaths(deps.stateDir);
  const key = settings.key ?? paths.key;
  // Connect, key exchange and auth, then a forced command that should detach and return at once.
  const timeoutMs = ((settings.connectTimeoutSeconds ?? 5) + 15) * 1000;
  return {
    method: 'ssh',
    async park(host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
      const user = settings.user ?? 'root';
      const address = settings.address ?? host.address;
      const where = `ssh ${user}@${address}:${settings.port ?? 22}`;
      if (signal.aborted) return { ok: false, failure: 'unreachable', detail: `${where}: aborted before connecting` };
      try {
        await ensureDir(paths.dir);
      } catch (error) {
        return { ok: false, failure: 'misconfigured', detail: `cannot make ${paths.dir}: ${(error as Error).message}` };
      }
      const result = await deps.processes.run('ssh', sshArgs(settings, host, deps.stateDir), { timeoutMs });
      if (result.timedOut) return { ok: false, failure: 'unreachable', detail: `${where}: no answer within ${timeoutMs / 1000} s` };
      if (result.code === 0) {
        const said = result.stdout.trim().split('\n').pop() ?? '';
        deps.log.info('ssh park requested', { host: host.name, command: settings.command ?? 'suspend', said });
        return { ok: true, detail: `${where} ran systemctl ${settings.command ?? 'suspend'}${said ? `: ${said}` : ''}` };
      }
      const { failure, detail } = classifySsh(result.code, result.stderr, where, key, paths.knownHosts);
      return { ok: false, failure, detail };
    },
  };
}

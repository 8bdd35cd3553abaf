// Shared helpers for the power counterparts' tests (ipmi_sim, sshd, snmpd, a WoL listener):
// a Lab of namespaces (test/netns/lab.ts) plus a temp dir, a ProcessRunner that runs real
// programs inside one lab namespace, readiness polls and a line reader for spawned servers.
// Recipes: ../shared/reference/power-counterparts.md.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LinuxProcessRunner, type ProcessRunner, type RunOptions, type RunResult } from '../../firmware/os/process.js';
import { eventually, Lab, type HostRef } from '../netns/lab.js';

export { eventually, requireRoot } from '../netns/lab.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Debian's python: the `python3` on PATH here may be a pyenv shim that costs 0.6 s a start. */
export const PYTHON = '/usr/bin/python3';

export interface PowerLab {
  lab: Lab;
  /** A private temp dir, removed by dispose(). */
  dir: string;
  /** Runs programs inside `host`'s namespace (the router's side of a driver). */
  runnerIn(host: HostRef): ProcessRunner;
  /** Polls `ss` in the host's namespace until ADDRESS:PORT is bound (tcp or udp). */
  listening(host: HostRef, protocol: 'tcp' | 'udp', address: string, port: number, timeoutMs?: number): Promise<void>;
  /** Runs `cleanup` in dispose(), before the lab goes: for processes the lab did not spawn itself. */
  onDispose(cleanup: () => Promise<void>): void;
  dispose(): Promise<void>;
}

export async function createPowerLab(hosts: number): Promise<PowerLab> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-power-'));
  let lab: Lab;
  try {
    lab = await Lab.create({ hosts });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const linux = new LinuxProcessRunner();
  const cleanups: (() => Promise<void>)[] = [];
  return {
    lab,
    dir,
    runnerIn(host) {
      const netns = lab.host(host).netns;
      return {
        run: (command: string, args: readonly string[], options?: RunOptions): Promise<RunResult> =>
          linux.run('ip', ['netns', 'exec', netns, command, ...args], options),
      };
    },
    async listening(host, protocol, address, port, timeoutMs = 5000) {
      const flag = protocol === 'tcp' ? '-Htln' : '-Huln';
      await eventually(
        `${protocol} ${address}:${port} in ${lab.host(host).name}`,
        async () => {
          const { stdout } = await lab.exec(host, 'ss', [flag]);
          return stdout.split('\n').some((line) => line.split(/\s+/).includes(`${address}:${port}`)) ? true : undefined;
        },
        timeoutMs,
        20,
      );
    },
    onDispose(cleanup) {
      cleanups.push(cleanup);
    },
    async dispose() {
      try {
        for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
        await lab.dispose();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

const execFileAsync = promisify(execFile);

/** An ed25519 key pair at `path` (no passphrase); returns the public line. */
export async function keygen(path: string, comment: string): Promise<string> {
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return (await readFile(`${path}.pub`, 'utf8')).trim();
}

/** An authorized_keys line that runs only `command` (sh syntax) whatever the client asks. */
export function forcedCommandLine(command: string, publicKey: string): string {
  return `restrict,command="${command.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}" ${publicKey}`;
}

export interface SshdHost {
  address: string;
  /** The public line of the host key sshd serves. */
  hostKeyPub: string;
  /** sshd's log so far (-e: stderr), e.g. "Root login accepted for forced command". */
  log(): string;
}

/**
 * OpenSSH's sshd in `host`'s namespace on ADDRESS:22, keys from `authorizedKeys` (lines, e.g.
 * from forcedCommandLine), root allowed for forced commands only. Recipe and pitfalls:
 * ../shared/reference/power-counterparts.md §3 (/run/sshd, absolute path, StrictModes no).
 */
export async function startSshd(power: PowerLab, host: HostRef, authorizedKeys: readonly string[]): Promise<SshdHost> {
  const address = power.lab.host(host).ipv4;
  const d = await mkdtemp(join(power.dir, 'sshd-'));
  await mkdir('/run/sshd', { recursive: true }); // privilege separation dir; systemd makes it at boot
  const hostKeyPub = await keygen(join(d, 'host_key'), 'lab-host');
  await writeFile(join(d, 'authorized_keys'), authorizedKeys.map((line) => line + '\n').join(''));
  await writeFile(
    join(d, 'sshd_config'),
    [
      `ListenAddress ${address}:22`,
      `HostKey ${join(d, 'host_key')}`,
      `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
      'PidFile none',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin forced-commands-only',
      'StrictModes no', // the lab's files live under /tmp
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  // sshd re-execs itself, so it must be started by absolute path.
  const sshd = power.lab.spawn(host, '/usr/sbin/sshd', ['-D', '-e', '-f', join(d, 'sshd_config')]);
  let log = '';
  sshd.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  await power.listening(host, 'tcp', address, 22);
  return { address, hostKeyPub, log: () => log };
}

export interface IpmiBmc {
  address: string;
  /** Every call of the chassis hook so far ("get power", "set power 1", ...). */
  hookCalls(): Promise<string[]>;
  /** The stand-in server's PID while "powered", else undefined. */
  serverPid(): Promise<number | undefined>;
}

// The hook ipmi_sim runs (popen, synchronously) for chassis control: "power" is the stand-in
// server being alive in the host's namespace. It must return at once, children fully redirected.
const CHASSIS_HOOK = `#!/bin/bash
S=$1 NS=$2; shift 2; op=$1 what=$2 val=$3
alive() { local st; st=$(ps -o stat= -p "$(cat "$S/server.pid" 2>/dev/null)" 2>/dev/null)
          [ -n "$st" ] && [ "\${st#Z}" = "$st" ]; }
echo "$op $what $val" >> "$S/hook.log"
case "$op $what" in
  "get power") if alive; then echo power:1; else echo power:0; fi ;;
  "set power") if [ "$val" = 1 ]; then
                 alive || { ip netns exec "$NS" "$S/server.sh" > "$S/server.log" 2>&1 < /dev/null & echo $! > "$S/server.pid"; }
               else alive && kill -9 "$(cat "$S/server.pid")"; rm -f "$S/server.pid"; fi ;;
  "set shutdown") alive && kill -TERM "$(cat "$S/server.pid")" ;;
  "set reset") alive && kill -9 "$(cat "$S/server.pid")"; rm -f "$S/server.pid"; exec "$0" "$S" "$NS" set power 1 ;;
esac; exit 0
`;

/**
 * Debian's ipmi_sim as the BMC in `bmc`'s namespace (RMCP+ on ADDRESS:623, one admin user),
 * whose chassis power is `server` (argv, exec'd in `host`'s namespace; default an HTTP server
 * on the host's address, port 8080). dispose() of the lab does not reach the server, which the
 * BMC started: the helper registers it to be killed by its PID. Recipe: power-counterparts.md §1.
 */
export async function startIpmiSim(
  power: PowerLab,
  bmc: HostRef,
  host: HostRef,
  options: { user: string; password: string; server?: readonly string[] },
): Promise<IpmiBmc> {
  const address = power.lab.host(bmc).ipv4;
  const d = await mkdtemp(join(power.dir, 'bmc-'));
  const server = options.server ?? [PYTHON, '-m', 'http.server', '8080', '--bind', power.lab.host(host).ipv4];
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  await writeFile(join(d, 'server.sh'), `#!/bin/sh\nexec ${server.map(quote).join(' ')}\n`, { mode: 0o755 });
  await writeFile(join(d, 'chassis.sh'), CHASSIS_HOOK, { mode: 0o755 });
  await writeFile(
    join(d, 'lan.conf'),
    [
      'name "bmc1"',
      'startlan 1',
      `  addr ${address} 623`,
      '  priv_limit admin',
      '  allowed_auths_admin md5',
      '  guid a123456789abcdefa123456789abcdef', // without a GUID, RMCP+ sessions fail
      'endlan',
      `chassis_control "${join(d, 'chassis.sh')} ${d} ${power.lab.host(host).netns}"`,
      `user 2 true "${options.user}" "${options.password}" admin 10 md5`,
      '',
    ].join('\n'),
  );
  await writeFile(join(d, 'bmc.emu'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n');
  const serverPid = async () => {
    const pid = Number((await readFile(join(d, 'server.pid'), 'utf8').catch(() => '')).trim());
    return pid > 0 ? pid : undefined;
  };
  power.onDispose(async () => {
    const pid = await serverPid();
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  // -n: no console (stdin is not a terminal); -p: persist nothing.
  power.lab.spawn(bmc, 'ipmi_sim', ['-c', join(d, 'lan.conf'), '-f', join(d, 'bmc.emu'), '-n', '-p']);
  await power.listening(bmc, 'udp', address, 623);
  return {
    address,
    hookCalls: async () => (await readFile(join(d, 'hook.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean),
    serverPid,
  };
}

/** Collects a spawned process's stdout lines; `next()` resolves with the next one. */
export class LineReader {
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;
  stderr = '';
  constructor(child: ChildProcess) {
    let partial = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      for (let at = partial.indexOf('\n'); at >= 0; at = partial.indexOf('\n')) {
        this.push(partial.slice(0, at));
        partial = partial.slice(at + 1);
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }
  private push(line: string): void {
    const waiter = this.waiting;
    this.waiting = undefined;
    if (waiter) waiter(line);
    else this.lines.push(line);
  }
  /** Lines received and not yet taken. */
  get pending(): number {
    return this.lines.length;
  }
  next(timeoutMs = 5000): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no line within ${timeoutMs} ms; stderr: ${this.stderr.trim()}`));
      }, timeoutMs);
      this.waiting = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
    });
  }
}

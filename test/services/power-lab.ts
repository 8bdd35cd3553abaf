// Shared helpers for the power counterparts' tests (ipmi_sim, sshd, snmpd, a WoL listener):
// a Lab of namespaces (test/netns/lab.ts) plus a temp dir, a ProcessRunner that runs real
// programs inside one lab namespace, readiness polls and a line reader for spawned servers.
// Recipes: ../shared/reference/power-counterparts.md.

import { mkdtemp, rm } from 'node:fs/promises';
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
    async dispose() {
      try {
        await lab.dispose();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
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

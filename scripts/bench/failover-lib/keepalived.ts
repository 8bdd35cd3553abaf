// keepalived (VRRPv3) in a lab host, for the failover comparison: one vrrp_instance on eth0
// with the VIP, its own config and pid files in the bench's work directory. keepalived forks a
// VRRP child; with -R the parent does not respawn it, and kill9() ends both by the PIDs the
// pid files we gave it name (children of a process this bench spawned).

import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually, type HostRef, type Lab } from '../../../test/netns/lab.js';
import type { Workdir } from '../../../test/netns/peers.js';

export interface KeepalivedOptions {
  vrid?: number;
  priority: number;
  /** Seconds; VRRPv3 allows centiseconds (0.01 is the minimum). */
  advertInt: number;
  address?: string;
}

export class KeepalivedNode {
  output = '';
  readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess, readonly vrrpPidFile: string) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(lab: Lab, host: HostRef, work: Workdir, options: KeepalivedOptions): Promise<KeepalivedNode> {
    const h = lab.host(host);
    const dir = work.file(`keepalived-${h.name}`);
    await mkdir(dir, { recursive: true });
    const conf = join(dir, 'keepalived.conf');
    await writeFile(
      conf,
      [
        'global_defs {',
        `  router_id ${h.name}`,
        '  vrrp_version 3',
        '}',
        'vrrp_instance VI_1 {',
        '  state BACKUP',
        '  interface eth0',
        `  virtual_router_id ${options.vrid ?? 42}`,
        `  priority ${options.priority}`,
        `  advert_int ${options.advertInt}`,
        '  virtual_ipaddress {',
        `    ${options.address ?? '198.51.100.100/24'} dev eth0`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    const pid = join(dir, 'keepalived.pid');
    const vrrpPid = join(dir, 'vrrp.pid');
    // -n foreground, -l -D log details to the console, -G no syslog, -P VRRP only,
    // -R never respawn the child (a killed child must stay dead).
    const child = lab.spawn(host, 'keepalived', [
      '-n', '-l', '-D', '-G', '-P', '-R', '-f', conf, '-p', pid, '-r', vrrpPid,
      '-c', join(dir, 'checkers.pid'), '-b', join(dir, 'bfd.pid'),
    ]);
    const node = new KeepalivedNode(child, vrrpPid);
    await eventually('keepalived to finish starting', () => {
      if (child.exitCode !== null) throw new Error(`keepalived exited: ${node.output}`);
      return /Startup complete/.test(node.output) ? true : undefined;
    }, 10_000);
    return node;
  }

  /** The state keepalived last logged entering. */
  get state(): 'MASTER' | 'BACKUP' | 'FAULT' | undefined {
    const last = [...this.output.matchAll(/Entering (MASTER|BACKUP|FAULT) STATE/g)].pop();
    return last?.[1] as 'MASTER' | 'BACKUP' | 'FAULT' | undefined;
  }

  async vrrpPid(): Promise<number | undefined> {
    const text = await readFile(this.vrrpPidFile, 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  }

  /** SIGKILL to the parent (spawned here) and to its VRRP child (named by our pid file). */
  async kill9(): Promise<void> {
    const vrrp = await this.vrrpPid();
    this.child.kill('SIGKILL');
    if (vrrp !== undefined) {
      try {
        process.kill(vrrp, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM, then SIGKILL to both after `graceMs`. */
  async stop(graceMs = 4000): Promise<void> {
    const vrrp = await this.vrrpPid();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    if (vrrp !== undefined) {
      // The child normally exits with its parent; make sure, without touching a reused PID:
      // only if it is still keepalived.
      const comm = await readFile(`/proc/${vrrp}/comm`, 'utf8').catch(() => '');
      if (comm.trim() === 'keepalived') {
        try {
          process.kill(vrrp, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
  }
}

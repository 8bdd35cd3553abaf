// Tandem in a lab host without transition hooks: the same bundle and config as
// test/netns/peers.ts's TandemNode, minus the hooks, to measure what the hook spawned at the
// moment of takeover costs the failover.

import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendControl } from '../../../firmware/control/client.js';
import type { Status } from '../../../firmware/daemon.js';
import { eventually, type HostRef, type Lab } from '../../../test/netns/lab.js';
import { bundleCommand, type Workdir } from '../../../test/netns/peers.js';

export class BareTandem {
  output = '';
  readonly exited: Promise<void>;

  private constructor(readonly name: string, readonly child: ChildProcess, readonly socket: string) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(lab: Lab, host: HostRef, work: Workdir, advbase: number, advskew: number): Promise<BareTandem> {
    const name = `bare-${lab.host(host).name}`;
    const dir = work.file(name);
    await mkdir(dir, { recursive: true });
    const config = {
      node: { name, stateDir: join(dir, 'state') },
      control: { socket: join(dir, 'control.sock') },
      log: { level: 'debug' },
      carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret', advbase, advskew, preempt: false }],
    };
    const path = join(dir, 'tandem.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    const node = new BareTandem(name, lab.spawn(host, process.execPath, [...bundleCommand(), 'run', '--config', path]), config.control.socket);
    await eventually(`${name} to answer on its control socket`, async () => {
      if (node.child.exitCode !== null) throw new Error(`${name} exited: ${node.output}`);
      return (await node.status()).node;
    }, 10_000);
    return node;
  }

  async status(): Promise<Status> {
    const reply = await sendControl(this.socket, { cmd: 'status' }, 2000);
    if (!reply.ok) throw new Error(reply.error);
    return reply.result as Status;
  }

  async state(): Promise<string | undefined> {
    return (await this.status()).carp[0]?.state;
  }

  async waitFor(state: 'MASTER' | 'BACKUP', timeoutMs: number): Promise<void> {
    await eventually(`${this.name} to be ${state}`, async () => ((await this.state()) === state ? true : undefined), timeoutMs);
  }

  /** Transitions to MASTER, counted from the JSON log. */
  masterTransitions(): number {
    return [...this.output.matchAll(/-> MASTER/g)].length;
  }

  async kill9(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  async terminate(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

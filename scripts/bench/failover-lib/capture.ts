// tcpdump in a lab host, nanosecond timestamps, written packet by packet to a pcap file.

import type { ChildProcess } from 'node:child_process';
import { eventually, type HostRef, type Lab } from '../../../test/netns/lab.js';
import { readPcap, type Frame } from './pcap.js';

export class Capture {
  private stderr = '';
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, readonly file: string) {
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    child.stdout?.resume();
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts tcpdump and waits until it is listening. */
  static async start(lab: Lab, host: HostRef, file: string, filter: string, snaplen = 128): Promise<Capture> {
    const child = lab.spawn(host, 'tcpdump', [
      '-i', 'eth0', '-n', '-U', '--immediate-mode', '--time-stamp-precision=nano', '-s', String(snaplen), '-w', file, filter,
    ]);
    const capture = new Capture(child, file);
    await eventually('tcpdump to listen', () => {
      if (child.exitCode !== null) throw new Error(`tcpdump exited: ${capture.stderr}`);
      return /listening on/.test(capture.stderr) ? true : undefined;
    }, 5000, 10);
    return capture;
  }

  /** Stops tcpdump (SIGINT flushes the file) and reads what it captured. */
  async stop(): Promise<Frame[]> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(kill);
    return readPcap(this.file).catch(() => []);
  }
}

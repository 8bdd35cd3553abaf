// The client's view: an ICMP echo every 5 ms to the VIP from a lab host, on a fixed schedule,
// and the time each reply arrived. The outage a client sees is the longest gap between
// consecutive replies.
//
// Not iputils ping: with replies outstanding it waits MIN_INTERVAL_MS (10 ms) between probes
// whenever the interval is below the scheduler tick it assumes (ping_common.c main_loop), so
// during an outage it probes every 10 ms, not 5, and the outage it reports is up to 10 ms
// coarse at its end (measured: requests at 2.3, 12.4, 22.6, 32.7 ms… after the last reply).
// This pinger is a Node child in the host that sends through Tandem's own raw-socket addon
// (protocol 1, no multicast group) on an absolute 5 ms schedule, whatever comes back.

import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HostRef, Lab } from '../../../test/netns/lab.js';

const ADDON = fileURLToPath(new URL('../../../build/Release/tandem_raw.node', import.meta.url));

/**
 * argv: addon path, target, interval ms, run time ms. Prints "S <ms> <seq>" per echo request
 * sent and "R <ms> <seq>" per matching reply, wall-clock ms with µs, as they happen.
 */
const PINGER = `const addon = require(process.argv[1]);
const target = process.argv[2];
const interval = Number(process.argv[3]);
const runMs = Number(process.argv[4]);
const id = process.pid & 0xffff;
const wall = () => performance.timeOrigin + performance.now();
const out = [];
const flush = () => { if (out.length) { process.stdout.write(out.join('')); out.length = 0; } };
const sock = new addon.IpSocket({ family: 4, iface: 'eth0', protocol: 1, ttl: 64, group: '' }, (error, d) => {
  if (error || !d) return;
  const t = wall();
  const ihl = (d.data[0] & 15) * 4;
  if (d.data.length < ihl + 8 || d.data[ihl] !== 0 || d.data.readUInt16BE(ihl + 4) !== id) return;
  out.push('R ' + t.toFixed(3) + ' ' + d.data.readUInt16BE(ihl + 6) + '\\n');
  flush();
});
const echo = (seq) => {
  const b = Buffer.alloc(24);
  b[0] = 8;
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq & 0xffff, 6);
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += b.readUInt16BE(i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  b.writeUInt16BE(~sum & 0xffff, 2);
  return b;
};
const start = performance.now();
let k = 0;
const stop = () => { flush(); sock.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const tick = () => {
  const now = performance.now();
  if (now - start > runMs) return stop();
  // One probe per slot; a slot missed by a late timer is skipped, not sent in a burst.
  k = Math.max(k, Math.floor((now - start) / interval));
  try { sock.send(target, echo(k)); out.push('S ' + wall().toFixed(3) + ' ' + (k & 0xffff) + '\\n'); } catch (e) { out.push('E ' + wall().toFixed(3) + ' ' + e.message + '\\n'); }
  flush();
  k++;
  setTimeout(tick, Math.max(0, start + k * interval - performance.now()));
};
tick();`;

export interface Reply {
  /** Wall-clock ms. */
  t: number;
  seq: number;
}

export class Pinger {
  readonly replies: Reply[] = [];
  readonly sent: number[] = [];
  errors = 0;
  private buffered = '';
  private stderr = '';
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, readonly intervalMs: number) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        const [kind, t, seq] = this.buffered.slice(0, newline).split(' ');
        this.buffered = this.buffered.slice(newline + 1);
        if (kind === 'R') this.replies.push({ t: Number(t), seq: Number(seq) });
        else if (kind === 'S') this.sent.push(Number(t));
        else if (kind === 'E') this.errors++;
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Pings `target` from `host` every intervalMs for at most maxSeconds. */
  static start(lab: Lab, host: HostRef, target: string, intervalMs: number, maxSeconds: number): Pinger {
    const child = lab.spawn(host, process.execPath, ['-e', PINGER, ADDON, target, String(intervalMs), String(Math.ceil(maxSeconds * 1000))]);
    return new Pinger(child, intervalMs);
  }

  get lastReply(): number | undefined {
    return this.replies.at(-1)?.t;
  }

  get failure(): string | undefined {
    return this.child.exitCode !== null && this.child.exitCode !== 0 ? this.stderr.trim() || `exit ${this.child.exitCode}` : undefined;
  }

  /** Replies received after wall-clock ms `t`. */
  repliesSince(t: number): number {
    let n = 0;
    for (let i = this.replies.length - 1; i >= 0 && this.replies[i]!.t > t; i--) n++;
    return n;
  }

  /** The longest gap between consecutive echo requests sent after `t`: the schedule's slack. */
  sendJitter(after: number): number {
    let worst = 0;
    for (let i = 1; i < this.sent.length; i++) if (this.sent[i]! > after) worst = Math.max(worst, this.sent[i]! - this.sent[i - 1]!);
    return worst;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(kill);
  }
}

export interface Gap {
  /** Last reply before the gap and first after it (wall-clock ms). */
  from: number;
  to: number;
  ms: number;
}

/** The longest gap between consecutive replies whose later reply falls after `after`. */
export function longestGap(replies: readonly Reply[], after = -Infinity): Gap | undefined {
  let best: Gap | undefined;
  for (let i = 1; i < replies.length; i++) {
    const to = replies[i]!.t;
    if (to <= after) continue;
    const from = replies[i - 1]!.t;
    if (!best || to - from > best.ms) best = { from, to, ms: to - from };
  }
  return best;
}

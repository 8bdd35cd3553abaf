// CPU load for the soak and a probe of how late Node's timers fire under it. Both are Node
// children spawned in a lab host (the lab ends them on dispose); each also stops by itself at
// its deadline, so nothing outlives the bench even if it is killed hard.

import type { ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import type { HostRef, Lab } from '../../../test/netns/lab.js';

/** A busy loop that checks the clock now and then and exits at its deadline. */
const BUSY = `const end = Date.now() + Number(process.argv[1]);
let x = 0;
while (Date.now() < end) { for (let i = 0; i < 1e5; i++) x += i; }
process.exitCode = x === -1 ? 1 : 0;`;

/**
 * Arms setTimeout(delay) again and again, as Tandem's advert timer does, and records how late
 * each fires (ms after the requested delay). Prints one JSON line with the percentiles.
 */
const PROBE = `const delay = Number(process.argv[1]);
const end = Date.now() + Number(process.argv[2]);
const late = [];
const stalls = [];
let armed = performance.now();
const tick = () => {
  const now = performance.now();
  const l = now - armed - delay;
  late.push(l);
  if (l > 10 && stalls.length < 200) stalls.push([Math.round(performance.timeOrigin + armed + delay), Math.round(l * 10) / 10]);
  if (Date.now() < end) { armed = performance.now(); setTimeout(tick, delay); return; }
  late.sort((a, b) => a - b);
  const p = (q) => late[Math.min(late.length - 1, Math.max(0, Math.ceil(q / 100 * late.length) - 1))];
  console.log(JSON.stringify({ delay, samples: late.length, p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max: late.at(-1),
    over5: late.filter((v) => v > 5).length, over10: late.filter((v) => v > 10).length, over20: late.filter((v) => v > 20).length, stalls }));
};
setTimeout(tick, delay);`;

export interface TimerLateness {
  delay: number;
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  over5: number;
  over10: number;
  over20: number;
  /** [wall-clock ms when the timer was due, ms late] for each firing more than 10 ms late. */
  stalls: [number, number][];
}

export class CpuLoad {
  private constructor(private readonly children: ChildProcess[]) {}

  /** One busy loop per core (default), each ending by itself after `seconds`. */
  static start(lab: Lab, host: HostRef, seconds: number, workers = cpus().length): CpuLoad {
    const children = Array.from({ length: workers }, () =>
      lab.spawn(host, process.execPath, ['-e', BUSY, String(Math.ceil(seconds * 1000))]),
    );
    return new CpuLoad(children);
  }

  get count(): number {
    return this.children.length;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
  }
}

export class TimerProbe {
  private output = '';
  private readonly done: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.resume();
    this.done = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static start(lab: Lab, host: HostRef, delayMs: number, seconds: number): TimerProbe {
    return new TimerProbe(lab.spawn(host, process.execPath, ['-e', PROBE, String(delayMs), String(Math.ceil(seconds * 1000))]));
  }

  /** Waits for the probe to finish (at most `timeoutMs`) and returns its percentiles. */
  async result(timeoutMs: number): Promise<TimerLateness | undefined> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.done;
    clearTimeout(timer);
    const line = this.output.trim().split('\n').pop();
    try {
      return line ? (JSON.parse(line) as TimerLateness) : undefined;
    } catch {
      return undefined;
    }
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

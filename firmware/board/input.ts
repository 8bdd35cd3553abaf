// A button read from an input event device (/dev/input/eventN, e.g. gpio_keys_polled's
// "apu2-keys" on the APU): the device is opened non-blocking and read every `pollMs` through
// the injected clock. Why not a stream: a blocking read on a character device parks one libuv
// threadpool thread forever (there are four, shared with fs and DNS); a non-blocking read that
// finds nothing returns EAGAIN at once. The kernel's own driver polls the line every 100 ms.

import { constants } from 'node:fs';
import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { ButtonEdge } from './button.js';
import { decodeInputEvents, EV_KEY, INPUT_EVENT_SIZE } from './input-codec.js';
import type { ButtonPort } from './ports.js';

const READ_RECORDS = 64;

/** `/dev/input/eventN` for an input device name, through /sys/class/input/eventN/device/name. */
export async function findInputDevice(name: string, sysfsRoot: string, devDir = '/dev/input'): Promise<string | undefined> {
  const classDir = join(sysfsRoot, 'class', 'input');
  const entries = await readdir(classDir).catch(() => [] as string[]);
  for (const entry of entries.filter((e) => /^event\d+$/.test(e)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))) {
    const found = await readFile(join(classDir, entry, 'device', 'name'), 'utf8').catch(() => undefined);
    if (found?.trim() === name) return join(devDir, entry);
  }
  return undefined;
}

export class InputButton implements ButtonPort {
  readonly label: string;
  private handle: FileHandle | undefined;
  private timer: TimerHandle | undefined;
  private rest: Uint8Array = new Uint8Array(0);
  private readonly buffer = Buffer.alloc(INPUT_EVENT_SIZE * READ_RECORDS);
  private stopped = false;

  constructor(
    private readonly device: string,
    private readonly code: number,
    private readonly clock: Clock,
    private readonly options: { sysfsRoot: string; devDir?: string; pollMs?: number },
  ) {
    this.label = `input:${device}`;
  }

  async start(onEdge: (edge: ButtonEdge) => void, onError: (error: Error) => void): Promise<void> {
    const path = this.device.startsWith('/') ? this.device : await findInputDevice(this.device, this.options.sysfsRoot, this.options.devDir);
    if (path === undefined) throw new Error(`no input device named ${JSON.stringify(this.device)} under ${join(this.options.sysfsRoot, 'class', 'input')}`);
    this.handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.stopped = false;
    const pollMs = this.options.pollMs ?? 50;
    const poll = () => {
      this.timer = undefined;
      this.drain(onEdge)
        // A read in flight when stop() closed the device fails with EBADF: not an error to report.
        .catch((error: Error) => {
          if (!this.stopped) onError(error);
        })
        .finally(() => {
          if (!this.stopped) this.timer = this.clock.setTimer(pollMs, poll);
        });
    };
    poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async drain(onEdge: (edge: ButtonEdge) => void): Promise<void> {
    for (;;) {
      const handle = this.handle;
      if (!handle) return;
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(this.buffer, 0, this.buffer.length, null));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return;
        throw error;
      }
      // 0: a FIFO with no writer (tests); a real device never ends.
      if (bytesRead === 0) return;
      const joined = Buffer.concat([this.rest, this.buffer.subarray(0, bytesRead)]);
      const { events, rest } = decodeInputEvents(joined);
      this.rest = Uint8Array.from(rest);
      for (const event of events) {
        // 2 is autorepeat: the hold is measured from the press, not re-announced.
        if (event.type === EV_KEY && event.code === this.code && (event.value === 0 || event.value === 1)) {
          onEdge({ pressed: event.value === 1, atMs: event.timeMs });
        }
      }
      if (bytesRead < this.buffer.length) return;
    }
  }
}

// The Linux watchdog device as a port: open (arms it), write one byte per feed, 'V' then close
// for a clean stop. Writes are async (the threadpool) and tiny; the driver's current timeout is
// read from /sys/class/watchdog/<name>/timeout (/dev/watchdog is watchdog0's legacy node).

import { open, readFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { WatchdogPort } from './ports.js';

const FEED = Buffer.from([0]);
const MAGIC = Buffer.from('V');

export class LinuxWatchdog implements WatchdogPort {
  private handle: FileHandle | undefined;

  constructor(
    private readonly device: string,
    private readonly sysfsRoot = '/sys',
  ) {}

  get label(): string {
    return this.device;
  }

  async open(): Promise<{ driverTimeoutSeconds: number | undefined }> {
    this.handle = await open(this.device, 'w');
    const name = basename(this.device) === 'watchdog' ? 'watchdog0' : basename(this.device);
    const text = await readFile(join(this.sysfsRoot, 'class', 'watchdog', name, 'timeout'), 'utf8').catch(() => undefined);
    const seconds = text === undefined ? NaN : Number(text.trim());
    return { driverTimeoutSeconds: Number.isInteger(seconds) && seconds > 0 ? seconds : undefined };
  }

  async feed(): Promise<void> {
    if (!this.handle) throw new Error(`${this.device} is not open`);
    await this.handle.write(FEED);
  }

  async close(magic: boolean): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return;
    try {
      if (magic) await handle.write(MAGIC);
    } finally {
      await handle.close();
    }
  }
}

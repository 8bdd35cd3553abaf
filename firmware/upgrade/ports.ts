// The upgrade's OS ports: block devices (a slot, the boot partition holding the env) opened for
// positioned async reads and writes, and the reboot. The Linux adapter uses fs/promises file
// handles, so a plain file stands in for a device in tests; the memory fake adds faults.

import { open, readFile, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ProcessRunner } from '../os/process.js';

export interface BlockDevice {
  readonly path: string;
  /** Size in bytes: a block device's from sysfs, a file's from stat. */
  size(): Promise<number>;
  write(offset: number, bytes: Uint8Array): Promise<void>;
  read(offset: number, length: number): Promise<Buffer>;
  /** fsync: what was written is on the medium when this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface BlockDevices {
  open(path: string, mode: 'read' | 'write'): Promise<BlockDevice>;
}

export interface Rebooter {
  /** Asks init for a clean reboot (filesystems synced); resolves once asked. */
  reboot(): Promise<void>;
}

class LinuxBlockDevice implements BlockDevice {
  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  async size(): Promise<number> {
    const info = await this.handle.stat();
    if (!info.isBlockDevice()) return info.size;
    // stat(2) says 0 for a block device; sysfs gives its size in 512-byte sectors.
    const name = basename(await realpath(this.path));
    const sectors = (await readFile(`/sys/class/block/${name}/size`, 'utf8')).trim();
    return Number(sectors) * 512;
  }

  async write(offset: number, bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, offset + done);
      if (bytesWritten <= 0) throw new Error(`${this.path}: write returned ${bytesWritten} at byte ${offset + done}`);
      done += bytesWritten;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? out : out.subarray(0, done);
  }

  async sync(): Promise<void> {
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

export class LinuxBlockDevices implements BlockDevices {
  async open(path: string, mode: 'read' | 'write'): Promise<BlockDevice> {
    const info = await stat(path);
    if (!info.isBlockDevice() && !info.isFile()) throw new Error(`${path} is neither a block device nor a file`);
    // r+ never creates or truncates: a slot or env that is not there is an error, not a new file.
    return new LinuxBlockDevice(path, await open(path, mode === 'write' ? 'r+' : 'r'));
  }
}

/**
 * `busybox sync` then `busybox reboot -f`, as the image's init does for a failed trial: its PID 1
 * is a shell script that handles no signal, so a plain `reboot` (SIGTERM to PID 1) would do
 * nothing, and the rootfs has no other reboot(8). The daemon has bowed out of CARP and /cfg is
 * written atomically, so nothing is lost by skipping a shutdown sequence (init holds none).
 */
export class LinuxRebooter implements Rebooter {
  constructor(private readonly processes: ProcessRunner) {}

  async reboot(): Promise<void> {
    await this.processes.run('busybox', ['sync'], { timeoutMs: 30_000 });
    const result = await this.processes.run('busybox', ['reboot', '-f'], { timeoutMs: 10_000 });
    if (result.code !== 0) throw new Error(`busybox reboot -f exited ${result.code}: ${result.stderr.trim()}`);
  }
}

/** In-memory devices; `corrupt` flips a byte of what a write stored (a device that does not keep it). */
export class MemoryBlockDevices implements BlockDevices {
  readonly devices = new Map<string, Buffer>();
  readonly syncs = new Map<string, number>();
  corrupt: { path: string; offset: number } | undefined;

  add(path: string, bytes: Buffer): void {
    this.devices.set(path, bytes);
  }

  async open(path: string, mode: 'read' | 'write'): Promise<BlockDevice> {
    const store = this.devices.get(path);
    if (!store) throw new Error(`ENOENT: no such device ${path}`);
    const self = this;
    return {
      path,
      size: async () => store.length,
      write: async (offset, bytes) => {
        if (mode !== 'write') throw new Error(`EBADF: ${path} opened read-only`);
        if (offset + bytes.length > store.length) throw new Error(`ENOSPC: write past the end of ${path}`);
        store.set(bytes, offset);
        const fault = self.corrupt;
        if (fault?.path === path && fault.offset >= offset && fault.offset < offset + bytes.length) store[fault.offset] = store[fault.offset]! ^ 0xff;
      },
      read: async (offset, length) => Buffer.from(store.subarray(offset, Math.min(store.length, offset + length))),
      sync: async () => {
        self.syncs.set(path, (self.syncs.get(path) ?? 0) + 1);
      },
      close: async () => undefined,
    };
  }
}

export class FakeRebooter implements Rebooter {
  reboots = 0;
  async reboot(): Promise<void> {
    this.reboots++;
  }
}

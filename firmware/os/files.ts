// Files that must survive power loss: config, maintenance flag, parked-host ledger. A write
// goes to a temp file in the same directory, is fsynced, renamed over the target and the
// directory is fsynced, so after a crash the reader finds the old content or the new, never a
// torn mix (the classic rename(2) recipe).

import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface FileStore {
  read(path: string): Promise<string | undefined>;
  writeAtomic(path: string, content: string): Promise<void>;
}

export class LinuxFileStore implements FileStore {
  async read(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async writeAtomic(path: string, content: string): Promise<void> {
    await writeFileAtomic(path, content);
  }
}

export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temp = join(directory, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export class MemoryFileStore implements FileStore {
  readonly files = new Map<string, string>();
  writes = 0;

  async read(path: string): Promise<string | undefined> {
    return this.files.get(path);
  }

  async writeAtomic(path: string, content: string): Promise<void> {
    this.writes++;
    this.files.set(path, content);
  }
}

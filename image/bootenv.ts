// Reads and edits the boot env (grubenv, contract 3 of issue 15) inside a built disk image, in
// place at its byte offset (p1's start from the MBR plus build.json's env.offsetBytes), as
// `tandem upgrade` does on the device. For tests and hands: set TRIAL=B on a copy to boot B once.
//   node --import tsx image/bootenv.ts IMAGE [KEY=VALUE ...]   (prints the env after any change)

import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeGrubenv, encodeGrubenv, GRUBENV_SIZE } from './grubenv.js';

/** Byte offset of the env block in the image: MBR entry 1's start LBA * 512 + the block's offset in p1. */
export async function envOffsetInImage(image: string, buildJson = join(dirname(image), 'build.json')): Promise<number> {
  const build = JSON.parse(await readFile(buildJson, 'utf8')) as { env: { offsetBytes: number } };
  const handle = await open(image, 'r');
  try {
    const mbr = Buffer.alloc(512);
    await handle.read(mbr, 0, 512, 0);
    if (mbr.readUInt16LE(510) !== 0xaa55) throw new Error(`${image}: no MBR signature`);
    return mbr.readUInt32LE(446 + 8) * 512 + build.env.offsetBytes;
  } finally {
    await handle.close();
  }
}

export async function editBootEnv(image: string, changes: Record<string, string>, buildJson?: string): Promise<Map<string, string>> {
  const offset = await envOffsetInImage(image, buildJson);
  const handle = await open(image, Object.keys(changes).length > 0 ? 'r+' : 'r');
  try {
    const block = Buffer.alloc(GRUBENV_SIZE);
    await handle.read(block, 0, GRUBENV_SIZE, offset);
    const decoded = decodeGrubenv(block);
    if (!decoded.ok) throw new Error(`${image}: boot env at byte ${offset}: ${decoded.reason}`);
    const env = decoded.value;
    if (Object.keys(changes).length === 0) return env;
    for (const [key, value] of Object.entries(changes)) env.set(key, value);
    const encoded = encodeGrubenv(env);
    if (!encoded.ok) throw new Error(`boot env: ${encoded.reason}`);
    await handle.write(encoded.value, 0, GRUBENV_SIZE, offset);
    await handle.sync();
    return env;
  } finally {
    await handle.close();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const [image, ...assignments] = process.argv.slice(2);
  if (!image) {
    console.error('usage: node --import tsx image/bootenv.ts IMAGE [KEY=VALUE ...]');
    process.exit(2);
  }
  const changes = Object.fromEntries(assignments.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
  const env = await editBootEnv(image, changes);
  for (const [key, value] of env) console.log(`${key}=${value}`);
}

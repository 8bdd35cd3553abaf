// The boot env where boot.json says it is (contract 3/4): `env.sizeBytes` at `env.offsetBytes`
// of `env.device`, read and written in place (same bytes, same blocks: pwrite then fsync),
// never through a mount, as GRUB's save_env and fw_setenv do. grubenv for GRUB, a single U-Boot
// env (CRC32) for U-Boot.

import { decodeGrubEnv, encodeGrubEnv, grubEnvVars, updateGrubEnv } from './grubenv.js';
import type { BootInfo } from './machine.js';
import type { BlockDevices } from './ports.js';
import { decodeUBootEnv, encodeUBootEnv } from './ubootenv.js';

export interface BootEnvStore {
  read(): Promise<Record<string, string>>;
  /** Applies the changes (`''` sets an empty value, as grub-editenv `set K=`) in one write. */
  update(changes: Record<string, string>): Promise<void>;
}

export function bootEnvStore(boot: BootInfo, devices: BlockDevices): BootEnvStore | undefined {
  const env = boot.env;
  if (boot.bootloader === 'none' || !env) return undefined;
  const readBlock = async () => {
    const device = await devices.open(env.device, 'read');
    try {
      const bytes = await device.read(env.offsetBytes, env.sizeBytes);
      if (bytes.length !== env.sizeBytes) throw new Error(`${env.device}: the boot env at byte ${env.offsetBytes} is cut short (${bytes.length} of ${env.sizeBytes} bytes)`);
      return bytes;
    } finally {
      await device.close();
    }
  };
  const writeBlock = async (bytes: Buffer) => {
    const device = await devices.open(env.device, 'write');
    try {
      await device.write(env.offsetBytes, bytes);
      await device.sync();
      // Read back: a card that lies about a write must not leave us believing the env changed.
      const back = await device.read(env.offsetBytes, bytes.length);
      if (!back.equals(bytes)) throw new Error(`${env.device}: the boot env read back differs from what was written`);
    } finally {
      await device.close();
    }
  };
  if (boot.bootloader === 'grub') {
    return {
      read: async () => {
        const decoded = decodeGrubEnv(await readBlock());
        if (!decoded.ok) throw new Error(`${env.device}@${env.offsetBytes}: ${decoded.reason}`);
        return grubEnvVars(decoded.value);
      },
      update: async (changes) => {
        const decoded = decodeGrubEnv(await readBlock());
        if (!decoded.ok) throw new Error(`${env.device}@${env.offsetBytes}: ${decoded.reason}`);
        const encoded = encodeGrubEnv(updateGrubEnv(decoded.value, changes));
        if (!encoded.ok) throw new Error(encoded.reason);
        await writeBlock(encoded.bytes);
      },
    };
  }
  return {
    read: async () => {
      const decoded = decodeUBootEnv(await readBlock(), 'single');
      if (!decoded.ok) throw new Error(`${env.device}@${env.offsetBytes}: ${decoded.reason}`);
      return decoded.value.vars;
    },
    update: async (changes) => {
      const decoded = decodeUBootEnv(await readBlock(), 'single');
      if (!decoded.ok) throw new Error(`${env.device}@${env.offsetBytes}: ${decoded.reason}`);
      const encoded = encodeUBootEnv({ ...decoded.value, vars: { ...decoded.value.vars, ...changes } });
      if (!encoded.ok) throw new Error(encoded.reason);
      await writeBlock(encoded.bytes);
    },
  };
}

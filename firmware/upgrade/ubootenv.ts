// U-Boot's saved environment (include/env_internal.h `env_t`, tools/env/fw_env.c): a CRC32
// (zlib's, little-endian) over the data area, then, for a redundant environment, one flag byte
// (the newer copy has the higher flag, wrapping at 255), then `key=value\0...` ending in an
// empty string (`\0\0`), the rest of the data area padded. The CRC covers the whole data area,
// padding included, exactly as env_crc_update does.

export type UBootEnvLayout = 'single' | 'redundant';

export interface UBootEnv {
  /** Whole size on the medium (CONFIG_ENV_SIZE), header included. */
  size: number;
  layout: UBootEnvLayout;
  /** The redundant copy's flag byte; 0 for a single environment. */
  flag: number;
  vars: Record<string, string>;
}

export type UBootEnvDecode = { ok: true; value: UBootEnv } | { ok: false; reason: string };

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** zlib's CRC32 (IEEE 802.3), which U-Boot uses; node:zlib has crc32 only from Node 20.15. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function headerSize(layout: UBootEnvLayout): number {
  return layout === 'redundant' ? 5 : 4;
}

export function decodeUBootEnv(bytes: Uint8Array, layout: UBootEnvLayout): UBootEnvDecode {
  const header = headerSize(layout);
  if (bytes.length < header + 2) return { ok: false, reason: `U-Boot environment of ${bytes.length} bytes is too short` };
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const stored = buffer.readUInt32LE(0);
  const data = buffer.subarray(header);
  const computed = crc32(data);
  if (stored !== computed) {
    return { ok: false, reason: `U-Boot environment CRC mismatch (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${computed.toString(16).padStart(8, '0')})` };
  }
  const vars: Record<string, string> = {};
  let at = 0;
  for (;;) {
    const nul = data.indexOf(0, at);
    if (nul < 0) return { ok: false, reason: 'U-Boot environment has no terminating empty entry' };
    if (nul === at) break;
    const entry = data.subarray(at, nul).toString('utf8');
    const eq = entry.indexOf('=');
    if (eq <= 0) return { ok: false, reason: `U-Boot environment entry without "=" at byte ${header + at}` };
    vars[entry.slice(0, eq)] = entry.slice(eq + 1);
    at = nul + 1;
  }
  return { ok: true, value: { size: bytes.length, layout, flag: layout === 'redundant' ? buffer[4]! : 0, vars } };
}

export type UBootEnvEncode = { ok: true; bytes: Buffer } | { ok: false; reason: string };

/** Entries in sorted order, as U-Boot's hexport writes them; padding is 0x00. */
export function encodeUBootEnv(env: UBootEnv): UBootEnvEncode {
  const header = headerSize(env.layout);
  const entries = Object.keys(env.vars)
    .sort()
    .map((key) => {
      const value = env.vars[key]!;
      if (!key || key.includes('=') || key.includes('\0') || value.includes('\0')) throw new Error(`not a U-Boot variable: ${JSON.stringify(key)}`);
      return `${key}=${value}\0`;
    })
    .join('');
  const body = Buffer.from(entries + '\0', 'utf8');
  if (body.length > env.size - header) return { ok: false, reason: `the variables need ${body.length} bytes, more than the ${env.size - header}-byte data area` };
  const out = Buffer.alloc(env.size, 0);
  body.copy(out, header);
  if (env.layout === 'redundant') out[4] = env.flag & 0xff;
  out.writeUInt32LE(crc32(out.subarray(header)), 0);
  return { ok: true, bytes: out };
}

/**
 * Of two redundant copies, the one U-Boot loads (env_import_redund): a valid one over an invalid
 * one, else the higher flag, where 0 counts as newer than 255 (the flag wraps).
 */
export function newerCopy(a: UBootEnvDecode, b: UBootEnvDecode): 0 | 1 | undefined {
  if (!a.ok && !b.ok) return undefined;
  if (!b.ok) return 0;
  if (!a.ok) return 1;
  const fa = a.value.flag;
  const fb = b.value.flag;
  if (fa === 255 && fb === 0) return 1;
  if (fb === 255 && fa === 0) return 0;
  return fb > fa ? 1 : 0;
}

// GRUB's environment block (grub-core/lib/envblk.c; contract 3): exactly 1024 bytes,
// "# GRUB Environment Block\n", then `KEY=value\n` lines, the rest padded with '#'. GRUB's
// save_env rewrites the file's blocks in place, so the size never changes.

export const GRUBENV_SIZE = 1024;
export const GRUBENV_HEADER = '# GRUB Environment Block\n';

export type EnvDecode = { ok: true; value: Map<string, string> } | { ok: false; reason: string };
export type EnvEncode = { ok: true; value: Buffer } | { ok: false; reason: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function encodeGrubenv(vars: ReadonlyMap<string, string> | Record<string, string>): EnvEncode {
  const entries = vars instanceof Map ? [...vars.entries()] : Object.entries(vars);
  let body = GRUBENV_HEADER;
  for (const [name, value] of entries) {
    if (!NAME.test(name)) return { ok: false, reason: `${name}: not a variable name` };
    // envblk.c escapes '\\' and '\n' with a backslash; our values never need it, so refuse them.
    if (/[\n\\]/.test(value)) return { ok: false, reason: `${name}: value holds a newline or backslash` };
    body += `${name}=${value}\n`;
  }
  const bytes = Buffer.from(body, 'utf8');
  if (bytes.length > GRUBENV_SIZE) return { ok: false, reason: `variables need ${bytes.length} bytes, the block holds ${GRUBENV_SIZE}` };
  const block = Buffer.alloc(GRUBENV_SIZE, '#');
  bytes.copy(block);
  return { ok: true, value: block };
}

export function decodeGrubenv(block: Uint8Array): EnvDecode {
  if (block.length !== GRUBENV_SIZE) return { ok: false, reason: `block is ${block.length} bytes, not ${GRUBENV_SIZE}` };
  const text = Buffer.from(block).toString('latin1');
  if (!text.startsWith(GRUBENV_HEADER)) return { ok: false, reason: 'no "# GRUB Environment Block" header' };
  // As GRUB's grub_envblk_iterate: a line starting with '#' is a comment (grub-editenv writes a
  // "# WARNING: Do not edit..." line; the padding is one comment without a newline).
  const vars = new Map<string, string>();
  let at = GRUBENV_HEADER.length;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    if (text[at] === '#') {
      if (end < 0) break;
      at = end + 1;
      continue;
    }
    if (end < 0) return { ok: false, reason: 'last variable has no newline' };
    const line = text.slice(at, end);
    const eq = line.indexOf('=');
    if (eq <= 0) return { ok: false, reason: `line "${line}" is not KEY=value` };
    vars.set(line.slice(0, eq), line.slice(eq + 1));
    at = end + 1;
  }
  return { ok: true, value: vars };
}

/** The env a fresh image ships with: slot A committed, no trial (contract 3). */
export function initialBootEnv(trialTimeoutSeconds = 180): Map<string, string> {
  return new Map([
    ['SLOT', 'A'],
    ['TRIAL', ''],
    ['TRIAL_BOOTED', '0'],
    ['TRIAL_TIMEOUT', String(trialTimeoutSeconds)],
  ]);
}

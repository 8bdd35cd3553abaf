// The A/B boot state (issue 15 contracts 3 and 4): what the booted slot plus the boot env's
// SLOT/TRIAL/TRIAL_BOOTED say (committed, on trial, rolled back), and the env changes for each
// step userspace takes: start a trial, commit it, acknowledge a rollback. Pure: no I/O, no clock.

import { validate, s, optional, type Infer } from '../config/kit.js';
import { ARCHES } from './schema.js';

export type Slot = 'A' | 'B';
export type BootState = 'committed' | 'trial' | 'rolled-back';

export function otherSlot(slot: Slot): Slot {
  return slot === 'A' ? 'B' : 'A';
}

const slotSchema = s.enumOf('A', 'B');
const device = s.string('an absolute path');

/** /run/tandem/boot.json, written by the image's init before tandem starts (contract 4). */
export const bootInfoSchema = s.object({
  arch: s.enumOf(...ARCHES),
  version: s.string('a version'),
  slot: slotSchema,
  trial: s.variant('kind', {}, { none: {}, trial: { timeoutSeconds: s.int(1, 86_400) } }),
  bootloader: s.enumOf('grub', 'uboot', 'none'),
  devices: s.object({ disk: optional(device), boot: optional(device), A: device, B: device, cfg: optional(device) }),
  env: optional(s.object({ device, offsetBytes: s.int(0, Number.MAX_SAFE_INTEGER), sizeBytes: s.int(16, 1 << 20) })),
});

export type BootInfo = Infer<typeof bootInfoSchema>;

export type BootInfoDecode = { ok: true; value: BootInfo } | { ok: false; reason: string };

/** Parses boot.json; its `trial` (false or `{timeoutSeconds}`) becomes a tagged value. */
export function decodeBootInfo(text: string): BootInfoDecode {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `boot.json is not JSON: ${(error as Error).message}` };
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const raw = parsed as Record<string, unknown>;
    const trial = raw.trial === false || raw.trial === undefined || raw.trial === null ? { kind: 'none' } : { kind: 'trial', ...(raw.trial as object) };
    // Keys init may add later are ignored rather than refused: boot.json is read, not configured.
    parsed = { ...(pick(raw, ['arch', 'version', 'slot', 'bootloader']) as object), trial, devices: pick(raw.devices, ['disk', 'boot', 'A', 'B', 'cfg']), ...(raw.env === undefined ? {} : { env: pick(raw.env, ['device', 'offsetBytes', 'sizeBytes']) }) };
  }
  const { value, issues } = validate(bootInfoSchema, parsed);
  if (!value) return { ok: false, reason: `boot.json: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}` };
  if (value.bootloader !== 'none' && !value.env) return { ok: false, reason: `boot.json: env: is required with bootloader ${value.bootloader}` };
  return { ok: true, value };
}

function pick(value: unknown, keys: string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of keys) if ((value as Record<string, unknown>)[key] !== undefined) out[key] = (value as Record<string, unknown>)[key];
  return out;
}

/** The boot env's variables as the bootloader and userspace share them (contract 3). */
export interface BootVars {
  slot: Slot;
  trial: Slot | undefined;
  trialBooted: boolean;
  trialTimeoutSeconds: number;
}

export type BootVarsDecode = { ok: true; value: BootVars } | { ok: false; reason: string };

export function readBootVars(vars: Record<string, string>): BootVarsDecode {
  const slot = vars.SLOT;
  if (slot !== 'A' && slot !== 'B') return { ok: false, reason: `boot env: SLOT must be A or B, got ${JSON.stringify(slot ?? null)}` };
  const trial = vars.TRIAL ?? '';
  if (trial !== '' && trial !== 'A' && trial !== 'B') return { ok: false, reason: `boot env: TRIAL must be empty, A or B, got ${JSON.stringify(trial)}` };
  const booted = vars.TRIAL_BOOTED ?? '0';
  if (booted !== '0' && booted !== '1') return { ok: false, reason: `boot env: TRIAL_BOOTED must be 0 or 1, got ${JSON.stringify(booted)}` };
  const timeout = vars.TRIAL_TIMEOUT ?? '180';
  if (!/^\d{1,6}$/.test(timeout)) return { ok: false, reason: `boot env: TRIAL_TIMEOUT must be a number of seconds, got ${JSON.stringify(timeout)}` };
  return { ok: true, value: { slot, trial: trial === '' ? undefined : trial, trialBooted: booted === '1', trialTimeoutSeconds: Number(timeout) } };
}

export interface BootPicture {
  state: BootState;
  booted: Slot;
  committed: Slot;
  /** An upgrade written and waiting for its one boot (`booted: false`), or being tried now. */
  trial: { slot: Slot; booted: boolean } | null;
}

/**
 * The bootloader's rule read backwards: booted TRIAL with TRIAL_BOOTED=1 is a trial; booted
 * SLOT while TRIAL is set with TRIAL_BOOTED=1 means the trial boot failed and the bootloader
 * fell back (a rollback, not yet acknowledged); anything else is a committed boot.
 */
export function bootPicture(booted: Slot, vars: BootVars): BootPicture {
  const trial = vars.trial === undefined ? null : { slot: vars.trial, booted: vars.trialBooted };
  let state: BootState = 'committed';
  if (vars.trial !== undefined && vars.trialBooted) {
    if (booted === vars.trial && booted !== vars.slot) state = 'trial';
    else if (booted === vars.slot) state = 'rolled-back';
  }
  return { state, booted, committed: vars.slot, trial };
}

/** Env changes (grub-editenv set semantics) for each step; `''` clears a variable's value. */
export type EnvChanges = Record<string, string>;

/** An upgrade wrote `slot`: boot it once (contract 3). */
export function startTrial(slot: Slot, timeoutSeconds: number): EnvChanges {
  return { TRIAL: slot, TRIAL_BOOTED: '0', TRIAL_TIMEOUT: String(timeoutSeconds) };
}

/** A healthy trial boot becomes what boots. */
export function commitTrial(booted: Slot): EnvChanges {
  return { SLOT: booted, TRIAL: '', TRIAL_BOOTED: '0' };
}

/** The rollback is recorded: forget the failed trial. */
export function acknowledgeRollback(): EnvChanges {
  return { TRIAL: '', TRIAL_BOOTED: '0' };
}

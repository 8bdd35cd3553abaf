// Signed remote commands, the pure core: the canonical encoding a command's HMAC-SHA256 covers,
// signing, and verification against a clock reading and a bounded window of seen nonces
// (issue 11 item 3). No I/O and no clock of its own: `now` enters as an argument.
//
// Wire form (the MQTT payload of `<prefix>/<node>/cmd/<action>`, JSON):
//   { "args": {...}, "time": <ms since epoch>, "nonce": "<16-64 of A-Za-z0-9_->",
//     "by": "<sender>", "sig": "<64 hex>", "replyTo": "<topic, MQTT 3.1.1 only>" }
// The MAC covers JSON.stringify(["tandem-command/1", node, action, time, nonce, by, args]) with
// the args' keys sorted at every level; the node and the action come from the topic, so a
// command signed for one node or one action is refused on another. `replyTo` is not covered:
// where a reply may go is the broker ACL's business (README "Remote commands").

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Why a command was refused; the same strings are the telemetry counter names. */
export type CommandRefusal = 'unsigned' | 'badSignature' | 'stale' | 'replayed' | 'malformed' | 'unknownAction' | 'failed';

export const COMMAND_REFUSALS: readonly CommandRefusal[] = ['unsigned', 'badSignature', 'stale', 'replayed', 'malformed', 'unknownAction', 'failed'];

export const CANONICAL_TAG = 'tandem-command/1';
/** A shared key shorter than this is refused: 128 bits is HMAC-SHA256's floor in NIST SP 800-107. */
export const MIN_KEY_BYTES = 16;
/** Larger payloads are refused before JSON parsing: no command needs more. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const SIG = /^[0-9a-f]{64}$/;
const BY = /^[\x21-\x7e][\x20-\x7e]{0,63}$/;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type CommandArgs = { [key: string]: JsonValue };

/** What the MAC covers, beside the key. */
export interface CommandFields {
  node: string;
  action: string;
  args: CommandArgs;
  time: number;
  nonce: string;
  by: string;
}

/** A verified command: authentic, fresh and seen for the first time. */
export type VerifiedCommand = CommandFields;

export type Verdict =
  | { ok: true; command: VerifiedCommand }
  | { ok: false; reason: Exclude<CommandRefusal, 'unknownAction' | 'failed'>; detail: string };

/** JSON with object keys sorted at every level, so signer and verifier agree byte for byte. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function canonicalEncoding(fields: CommandFields): Buffer {
  const text = `[${[CANONICAL_TAG, fields.node, fields.action, fields.time, fields.nonce, fields.by].map((v) => JSON.stringify(v)).join(',')},${canonicalJson(fields.args)}]`;
  return Buffer.from(text, 'utf8');
}

export function sign(key: Uint8Array, fields: CommandFields): string {
  return createHmac('sha256', key).update(canonicalEncoding(fields)).digest('hex');
}

/** The payload a sender publishes: the fields (minus node and action, which are the topic) and the MAC. */
export function signedPayload(key: Uint8Array, fields: CommandFields, replyTo?: string): string {
  const body: Record<string, unknown> = { args: fields.args, time: fields.time, nonce: fields.nonce, by: fields.by, sig: sign(key, fields) };
  if (replyTo !== undefined) body.replyTo = replyTo;
  return JSON.stringify(body);
}

/**
 * The nonces accepted within the freshness window. Bounded: when full, the entry with the
 * oldest time is dropped and `floor` rises to that time; from then on a command at or below
 * the floor is refused as a possible replay, because its nonce can no longer be checked. A
 * flood (which needs the key) thus costs refusals of older commands, never a replay.
 */
export class NonceWindow {
  private readonly entries = new Map<string, number>();
  private floorTime = -Infinity;

  constructor(readonly capacity = 1024) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`nonce window capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get floor(): number {
    return this.floorTime;
  }

  /**
   * Refuses every command stamped at or before `time`. A new window knows no nonces, so one
   * opened after a restart or reload starts here: a command captured before it cannot replay.
   */
  raiseFloor(time: number): void {
    this.floorTime = Math.max(this.floorTime, time);
  }

  /** Forgets nonces whose commands are stale by now anyway. */
  prune(oldestFreshTime: number): void {
    for (const [nonce, time] of this.entries) if (time < oldestFreshTime) this.entries.delete(nonce);
  }

  /** Whether a command with this nonce and time must be refused as (possibly) replayed. */
  replayed(nonce: string, time: number): boolean {
    return this.entries.has(nonce) || time <= this.floorTime;
  }

  remember(nonce: string, time: number): void {
    if (this.entries.size >= this.capacity) {
      let oldest: [string, number] | undefined;
      for (const entry of this.entries) if (!oldest || entry[1] < oldest[1]) oldest = entry;
      this.entries.delete(oldest![0]);
      this.floorTime = Math.max(this.floorTime, oldest![1]);
    }
    this.entries.set(nonce, time);
  }
}

export interface VerifyContext {
  key: Uint8Array;
  node: string;
  action: string;
  /** Wall-clock ms since the epoch. */
  now: number;
  /** A command older than this, or this far ahead of `now`, is stale. */
  maxAgeMs: number;
  nonces: NonceWindow;
}

/** The JSON object in a payload, or why there is none. */
export function parsePayload(payload: Uint8Array): { ok: true; body: Record<string, unknown> } | { ok: false; detail: string } {
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return { ok: false, detail: `payload is ${payload.byteLength} bytes, at most ${MAX_PAYLOAD_BYTES} allowed` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return { ok: false, detail: 'payload is not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, detail: 'payload must be a JSON object' };
  return { ok: true, body: parsed as Record<string, unknown> };
}

/**
 * Checks one command body in the order that leaks least: shape, then MAC (in constant time),
 * then freshness, then replay. Only an authentic, fresh, new command enters the nonce window.
 */
export function verify(body: Record<string, unknown>, context: VerifyContext): Verdict {
  if (body.sig === undefined) return { ok: false, reason: 'unsigned', detail: 'the command carries no "sig"' };
  const args = body.args === undefined ? {} : body.args;
  const { time, nonce, by, sig } = body;
  if (typeof sig !== 'string' || !SIG.test(sig)) return malformed('"sig" must be 64 lowercase hex digits (HMAC-SHA256)');
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return malformed('"args" must be a JSON object');
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) return malformed('"time" must be an integer: milliseconds since the epoch');
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) return malformed('"nonce" must be 16-64 characters of A-Z a-z 0-9 _ -');
  if (typeof by !== 'string' || !BY.test(by)) return malformed('"by" must be 1-64 printable ASCII characters naming the sender');

  const fields: CommandFields = { node: context.node, action: context.action, args: args as CommandArgs, time, nonce, by };
  const expected = createHmac('sha256', context.key).update(canonicalEncoding(fields)).digest();
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) {
    return { ok: false, reason: 'badSignature', detail: 'the signature does not match this node, action and arguments under the shared key' };
  }

  const age = context.now - time;
  if (age > context.maxAgeMs) return { ok: false, reason: 'stale', detail: `the command is ${(age / 1000).toFixed(1)} s old, at most ${context.maxAgeMs / 1000} s allowed` };
  if (-age > context.maxAgeMs) return { ok: false, reason: 'stale', detail: `the command is ${(-age / 1000).toFixed(1)} s in the future, at most ${context.maxAgeMs / 1000} s allowed` };

  context.nonces.prune(context.now - context.maxAgeMs);
  if (context.nonces.replayed(nonce, time)) {
    const detail = context.nonces.floor >= time ? 'the command is older than what this node can still check for replays (it restarted, or a flood filled the window): send a new one' : `nonce ${nonce} was already used`;
    return { ok: false, reason: 'replayed', detail };
  }
  context.nonces.remember(nonce, time);
  return { ok: true, command: fields };
}

function malformed(detail: string): Verdict {
  return { ok: false, reason: 'malformed', detail };
}

/**
 * The shared key from the text of a key file: surrounding whitespace (an editor's or echo's
 * newline) is not part of it; what remains must be at least MIN_KEY_BYTES bytes.
 */
export function keyFromFileText(text: string): { ok: true; key: Buffer } | { ok: false; problem: string } {
  const key = Buffer.from(text.trim(), 'utf8');
  if (key.length < MIN_KEY_BYTES) return { ok: false, problem: `the key must be at least ${MIN_KEY_BYTES} bytes, the file holds ${key.length}` };
  return { ok: true, key };
}

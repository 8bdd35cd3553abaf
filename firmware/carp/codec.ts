// CARP advertisement codec: the 36-byte message of carp(4), its Internet checksum, its
// HMAC-SHA1 over vhid + virtual addresses + counter, and the receive-side checks in carp(4)'s
// order. Pure: no I/O, no clock, no logging; nothing here throws on packet bytes.
//
// | Off | Size      | Field    | Notes                                                       |
// |-----|-----------|----------|-------------------------------------------------------------|
// | 0   | high nib. | version  | 2                                                           |
// | 0   | low nib.  | type     | 1 = advertisement, so byte 0 is 0x21                        |
// | 1   | 1         | vhid     | 1-255                                                       |
// | 2   | 1         | advskew  | 1/256 s; 255 only in a bow-out advert                       |
// | 3   | 1         | authlen  | 7 = (counter + HMAC) in 32-bit words                        |
// | 4   | 1         | demote   | OpenBSD's demotion count; FreeBSD/UCarp `pad1`, send 0      |
// | 5   | 1         | advbase  | seconds                                                     |
// | 6   | 2         | checksum | Internet checksum of these 36 bytes, no pseudo-header       |
// | 8   | 8         | counter  | OpenBSD: fixed random cookie; UCarp/FreeBSD: incrementing   |
// | 16  | 20        | hmac     | HMAC-SHA1, see computeHmac                                  |
//
// Sources: OpenBSD sys/netinet/ip_carp.h 1.47 (struct carp_header) and ip_carp.c 1.342
// (carp_proto_input_if, carp_proto_input_c, carp_hmac_prepare_ctx); UCarp src/carp.c;
// /work/shared/reference/carp.md "Header layout" and "HMAC recipe".

import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { internetChecksum } from '../net/checksum.js';

export const CARP_PROTOCOL = 112;
export const CARP_V4_GROUP = '224.0.0.18';
export const CARP_V6_GROUP = 'ff02::12';
export const CARP_HEADER_LENGTH = 36;

export const CARP_VERSION = 2;
export const CARP_TYPE_ADVERTISEMENT = 1;
/** (8-byte counter + 20-byte HMAC) / 4. */
export const CARP_AUTHLEN = 7;
/** carp(4) sends with TTL / hop limit 255 and drops anything else (CARP_DFLTTL). */
export const CARP_TTL = 255;
/** advbase = advskew = 255 marks a bow-out advert (ip_carp.c carp_send_ad, sc_bow_out). */
export const CARP_BOW_OUT = 255;
/** ifconfig's strlcpy into the 20-byte sc_key keeps at most 19 bytes; UCarp refuses more. */
export const CARP_MAX_PASSWORD_BYTES = 19;
export const CARP_COUNTER_LENGTH = 8;
export const CARP_HMAC_LENGTH = 20;

export const VERSION_MASK = 0xf0;
export const VERSION_SHIFT = 4;
export const TYPE_MASK = 0x0f;

const OFFSET_VERSION_TYPE = 0;
const OFFSET_VHID = 1;
const OFFSET_ADVSKEW = 2;
const OFFSET_AUTHLEN = 3;
const OFFSET_DEMOTE = 4;
const OFFSET_ADVBASE = 5;
const OFFSET_CHECKSUM = 6;
const OFFSET_COUNTER = 8;
const OFFSET_HMAC = 16;

export interface Advert {
  vhid: number;
  advskew: number;
  advbase: number;
  demote: number;
  /** 8 bytes exactly as on the wire. */
  counter: Uint8Array;
  /** 20 bytes. */
  hmac: Uint8Array;
}

export type DecodeFailure = 'short' | 'badVersion' | 'badType' | 'badChecksum';

/**
 * Decodes one CARP message (the IP payload). Checks run in the kernel's order: length, then
 * checksum, then version (carp_proto_input_if / carp_proto_input_c).
 *
 * - Bytes beyond 36 are accepted and ignored, as carp(4) does: it only requires
 *   `len >= iplen + sizeof(*ch)` and checksums `sizeof(*ch)` bytes; FreeBSD and UCarp also only
 *   reject short packets. The checksum therefore covers the 36-byte message, not the trailer.
 * - Type and authlen are not checked by any kernel, only by Wireshark's CARP heuristic; we
 *   require type 1 and authlen 7 and report either mismatch as 'badType' (the message is not
 *   an advertisement in the only layout we know), keeping the failure union closed.
 */
export function decodeAdvert(
  bytes: Uint8Array,
): { ok: true; value: Advert } | { ok: false; reason: DecodeFailure } {
  if (bytes.length < CARP_HEADER_LENGTH) return { ok: false, reason: 'short' };
  const message = bytes.subarray(0, CARP_HEADER_LENGTH);
  if (internetChecksum(message) !== 0) return { ok: false, reason: 'badChecksum' };
  const versionType = message[OFFSET_VERSION_TYPE]!;
  if ((versionType & VERSION_MASK) >> VERSION_SHIFT !== CARP_VERSION) {
    return { ok: false, reason: 'badVersion' };
  }
  if ((versionType & TYPE_MASK) !== CARP_TYPE_ADVERTISEMENT) return { ok: false, reason: 'badType' };
  if (message[OFFSET_AUTHLEN] !== CARP_AUTHLEN) return { ok: false, reason: 'badType' };
  return {
    ok: true,
    value: {
      vhid: message[OFFSET_VHID]!,
      advskew: message[OFFSET_ADVSKEW]!,
      advbase: message[OFFSET_ADVBASE]!,
      demote: message[OFFSET_DEMOTE]!,
      // Copies, so the advert never aliases a reused receive buffer.
      counter: new Uint8Array(message.subarray(OFFSET_COUNTER, OFFSET_COUNTER + CARP_COUNTER_LENGTH)),
      hmac: new Uint8Array(message.subarray(OFFSET_HMAC, OFFSET_HMAC + CARP_HMAC_LENGTH)),
    },
  };
}

export { internetChecksum };

export interface AuthKey {
  /** At most 19 bytes of UTF-8 (CARP_MAX_PASSWORD_BYTES). */
  password: string;
  /** The virtual addresses, IPv4 and IPv6, with or without /prefix. */
  addresses: string[];
}

export type HmacVariant = 'nov6ll' | 'orig';

/**
 * OpenBSD's HMAC (carp_hmac_prepare_ctx + carp_hmac_generate): HMAC-SHA1 keyed with the
 * password over 0x02 0x01 vhid, the IPv4 addresses ascending, the IPv6 addresses in memcmp order
 * with the embedded scope zeroed ('nov6ll' skips link-local ones, 'orig' keeps them), then the
 * counter. The kernel's hand-rolled HMAC zero-pads the 20-byte key to 64 and XORs 0x36/0x5c,
 * which is exactly standard HMAC with the ≤19-byte password as key.
 *
 * The kernel picks "next address strictly above the last one", so duplicates are hashed once
 * and 0.0.0.0, 255.255.255.255, :: and ff..ff never are; we reproduce that. The 6-byte
 * link-layer address OpenBSD adds when the carp lladdr was changed by hand is not supported.
 *
 * Throws RangeError/TypeError only for a bad key (password too long or with NUL, unparsable
 * address): the configuration is validated before it gets here, so that is a programming error.
 */
export function computeHmac(
  key: AuthKey,
  vhid: number,
  counter: Uint8Array,
  variant: HmacVariant = 'nov6ll',
): Uint8Array {
  const hmac = createHmac('sha1', passwordBytes(key.password));
  hmac.update(Uint8Array.of(CARP_VERSION, CARP_TYPE_ADVERTISEMENT, vhid & 0xff));
  for (const address of hmacAddresses(key.addresses, variant)) hmac.update(address);
  hmac.update(counter);
  return new Uint8Array(hmac.digest());
}

/** Encodes a 36-byte advert with the checksum filled in and the HMAC over the 'nov6ll' variant. */
export function encodeAdvert(fields: Omit<Advert, 'hmac'>, key: AuthKey): Uint8Array {
  for (const name of ['vhid', 'advskew', 'advbase', 'demote'] as const) {
    const value = fields[name];
    if (!Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new RangeError(`carp advert ${name} must be 0..255, got ${value}`);
    }
  }
  if (fields.counter.length !== CARP_COUNTER_LENGTH) {
    const length = fields.counter.length;
    throw new RangeError(`carp advert counter must be ${CARP_COUNTER_LENGTH} bytes, got ${length}`);
  }
  const message = new Uint8Array(CARP_HEADER_LENGTH);
  message[OFFSET_VERSION_TYPE] = (CARP_VERSION << VERSION_SHIFT) | CARP_TYPE_ADVERTISEMENT;
  message[OFFSET_VHID] = fields.vhid;
  message[OFFSET_ADVSKEW] = fields.advskew;
  message[OFFSET_AUTHLEN] = CARP_AUTHLEN;
  message[OFFSET_DEMOTE] = fields.demote;
  message[OFFSET_ADVBASE] = fields.advbase;
  message.set(fields.counter, OFFSET_COUNTER);
  message.set(computeHmac(key, fields.vhid, fields.counter, 'nov6ll'), OFFSET_HMAC);
  const checksum = internetChecksum(message);
  message[OFFSET_CHECKSUM] = checksum >>> 8;
  message[OFFSET_CHECKSUM + 1] = checksum & 0xff;
  return message;
}

/** carp_hmac_verify: accepts the HMAC of either variant, compared in constant time. */
export function verifyHmac(advert: Advert, key: AuthKey): boolean {
  if (advert.hmac.length !== CARP_HMAC_LENGTH) return false;
  let matched = false;
  for (const variant of ['orig', 'nov6ll'] as const) {
    // Both variants are always computed so the time taken does not depend on which matched.
    if (timingSafeEqual(computeHmac(key, advert.vhid, advert.counter, variant), advert.hmac)) matched = true;
  }
  return matched;
}

export type Rejection =
  | 'short'
  | 'badVersion'
  | 'badType'
  | 'badChecksum'
  | 'badAuth'
  | 'badTtl'
  | 'badVhid'
  | 'loop';

export interface VhidEntry {
  key: AuthKey;
  /** The counter of the last advert we sent for this vhid, if any. */
  lastSentCounter?: Uint8Array;
}

/**
 * The receive-side checks of carp(4) in order: TTL 255 (carps_badttl), the decode checks
 * (length, checksum, version, type/authlen), a vhid we serve (carps_badvhid), the HMAC
 * (carps_badauth), and our own counter coming back ("replay or network loop detected").
 * OpenBSD looks the vhid up before checking the version; we finish decoding first, which only
 * changes the reason given for a packet that is wrong in both ways. The counter is never
 * required to increase (carp.md "Counter and replay protection").
 */
export function classifyPacket(
  packet: { ttl: number; payload: Uint8Array },
  lookup: (vhid: number) => VhidEntry | undefined,
): { ok: true; advert: Advert } | { ok: false; reason: Rejection } {
  if (packet.ttl !== CARP_TTL) return { ok: false, reason: 'badTtl' };
  const decoded = decodeAdvert(packet.payload);
  if (!decoded.ok) return decoded;
  const advert = decoded.value;
  const entry = lookup(advert.vhid);
  if (!entry) return { ok: false, reason: 'badVhid' };
  if (!verifyHmac(advert, entry.key)) return { ok: false, reason: 'badAuth' };
  if (entry.lastSentCounter && bytesEqual(entry.lastSentCounter, advert.counter)) {
    return { ok: false, reason: 'loop' };
  }
  return { ok: true, advert };
}

/**
 * Parses "198.51.100.100", "198.51.100.100/24", "2001:db8::1/64", "fe80::1%eth0",
 * "::ffff:198.51.100.1" into network-order bytes. The /prefix and %zone are dropped; the prefix
 * must still be a valid length for the family. Returns undefined for anything invalid, so the
 * config schema can use it as a validator; it never throws.
 */
export function parseAddress(text: string): { family: 4 | 6; bytes: Uint8Array } | undefined {
  let address = text.trim();
  let prefix: string | undefined;
  const slash = address.indexOf('/');
  if (slash >= 0) {
    prefix = address.slice(slash + 1);
    address = address.slice(0, slash);
  }
  const percent = address.indexOf('%');
  if (percent >= 0) {
    if (percent === address.length - 1) return undefined;
    address = address.slice(0, percent);
  }
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  if (family === 4 && percent >= 0) return undefined;
  if (prefix !== undefined) {
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) return undefined;
  }
  return family === 4
    ? { family: 4, bytes: ipv4Bytes(address) }
    : { family: 6, bytes: ipv6Bytes(address.toLowerCase()) };
}

function ipv4Bytes(address: string): Uint8Array {
  return Uint8Array.from(address.split('.'), Number);
}

/** Expands an address that isIP() accepted as IPv6: '::' and a trailing dotted IPv4 part. */
function ipv6Bytes(address: string): Uint8Array {
  const bytes = new Uint8Array(16);
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a, b, c, d] = ipv4Bytes(group);
        groups.push((a! << 8) | b!, (c! << 8) | d!);
      } else {
        groups.push(parseInt(group, 16));
      }
    }
    return groups;
  };
  const gap = address.indexOf('::');
  const head = toGroups(gap >= 0 ? address.slice(0, gap) : address);
  const tail = gap >= 0 ? toGroups(address.slice(gap + 2)) : [];
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  groups.forEach((group, i) => {
    bytes[2 * i] = group >>> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

function passwordBytes(password: string): Uint8Array {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > CARP_MAX_PASSWORD_BYTES) {
    const limit = CARP_MAX_PASSWORD_BYTES;
    throw new RangeError(`carp password must be at most ${limit} bytes, got ${bytes.length}`);
  }
  // strlcpy would stop at a NUL, so bytes after it would not be part of the kernel's key.
  if (bytes.includes(0)) throw new RangeError('carp password must not contain NUL');
  return bytes;
}

/** IN6_IS_SCOPE_EMBED: link-local unicast fe80::/10, and interface- or link-local multicast. */
function hasEmbeddedScope(bytes: Uint8Array): boolean {
  const first = bytes[0]!;
  const second = bytes[1]!;
  if (first === 0xfe && (second & 0xc0) === 0x80) return true;
  return first === 0xff && ((second & 0x0f) === 0x01 || (second & 0x0f) === 0x02);
}

function hmacAddresses(addresses: readonly string[], variant: HmacVariant): Uint8Array[] {
  const v4: Uint8Array[] = [];
  const v6: Uint8Array[] = [];
  for (const text of addresses) {
    const parsed = parseAddress(text);
    if (!parsed) throw new TypeError(`carp address is not an IP address: ${JSON.stringify(text)}`);
    if (parsed.family === 4) {
      v4.push(parsed.bytes);
      continue;
    }
    const bytes = parsed.bytes;
    if (hasEmbeddedScope(bytes)) {
      if (variant === 'nov6ll') continue;
      // KAME keeps the scope id in the second 16-bit word; the kernel zeroes it before hashing.
      bytes[2] = 0;
      bytes[3] = 0;
    }
    v6.push(bytes);
  }
  // Big-endian bytes compare like ntohl() numbers, so memcmp order serves both families.
  return [...strictlyAscending(v4), ...strictlyAscending(v6)];
}

/** Sorted, without duplicates, without the all-zero and all-ones values the kernel's scan skips. */
function strictlyAscending(list: Uint8Array[]): Uint8Array[] {
  const sorted = [...list].sort(compareBytes);
  return sorted.filter(
    (bytes, i) =>
      (i === 0 || compareBytes(sorted[i - 1]!, bytes) !== 0) &&
      !bytes.every((b) => b === 0) &&
      !bytes.every((b) => b === 0xff),
  );
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

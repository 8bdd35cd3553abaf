// Tests for the CARP codec: the captured ucarp adverts, byte-literal vectors, truncations, each
// bad field, the HMAC address ordering of OpenBSD, and a seeded fuzz run.

import { strict as assert } from 'node:assert';
import { createHash, createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import {
  type Advert,
  type AuthKey,
  type Rejection,
  CARP_HEADER_LENGTH,
  classifyPacket,
  computeHmac,
  decodeAdvert,
  encodeAdvert,
  internetChecksum,
  parseAddress,
  verifyHmac,
} from '../../../firmware/carp/codec.js';
import { readCarpPackets } from './pcap.js';
import { seededRandom } from '../../../firmware/net/segment.js';

const fixture = fileURLToPath(new URL('../../fixtures/carp/ucarp-adverts.pcap', import.meta.url));
const labKey: AuthKey = { password: 'labsecret', addresses: ['198.51.100.100'] };
const lab = (vhid: number) => (vhid === 42 ? { key: labKey } : undefined);

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Frame 2 of the capture: ucarp a (198.51.100.11), vhid 42, advskew 10, advbase 1. */
const capturedAdvert = hex(`
  21 2a 0a 07 00 01 78 4d
  d8 5d 96 19 2e 2d 43 5e
  03 7e 38 28 66 af f9 05 8f c2 00 6a 0d dd eb 37 48 2b 0f b5`);

/** Returns a copy of `bytes` with `edit` applied and the checksum recomputed. */
function withFix(bytes: Uint8Array, edit: (b: Uint8Array) => void): Uint8Array {
  const copy = new Uint8Array(bytes);
  edit(copy);
  copy[6] = 0;
  copy[7] = 0;
  const sum = internetChecksum(copy.subarray(0, CARP_HEADER_LENGTH));
  copy[6] = sum >>> 8;
  copy[7] = sum & 0xff;
  return copy;
}

/** OpenBSD's hand-rolled HMAC (carp_hmac_prepare_ctx): 20-byte key zero-padded to 64. */
function kernelHmac(password: string, message: Uint8Array): Uint8Array {
  const pad = new Uint8Array(64);
  pad.set(Buffer.from(password, 'utf8').subarray(0, 19));
  const inner = createHash('sha1')
    .update(pad.map((b) => b ^ 0x36))
    .update(message)
    .digest();
  return new Uint8Array(
    createHash('sha1')
      .update(pad.map((b) => b ^ 0x5c))
      .update(inner)
      .digest(),
  );
}

describe('captured ucarp adverts (test/fixtures/carp/ucarp-adverts.pcap)', () => {
  const packets = readCarpPackets(fixture);

  it('holds 354 protocol-112 datagrams: 347 CARP messages and 7 short VRRP ones', () => {
    assert.equal(packets.length, 354);
    assert.equal(packets.filter((p) => p.payload.length === 36).length, 347);
    assert.equal(packets.filter((p) => p.payload.length === 20).length, 7);
  });

  it('accepts all 333 ucarp adverts (298 from .11, 35 from .12) and the 6 good Node adverts from .13', () => {
    const accepted = new Map<string, number>();
    for (const packet of packets) {
      const result = classifyPacket(packet, lab);
      if (result.ok) accepted.set(packet.source, (accepted.get(packet.source) ?? 0) + 1);
    }
    assert.deepEqual(
      Object.fromEntries(accepted),
      { '198.51.100.11': 298, '198.51.100.12': 35, '198.51.100.13': 6 },
    );
  });

  it('decodes every ucarp advert with the expected fields and verifies its HMAC', () => {
    const ucarp = packets.filter((p) => p.source === '198.51.100.11' || p.source === '198.51.100.12');
    assert.equal(ucarp.length, 333);
    for (const packet of ucarp) {
      assert.equal(packet.ttl, 255);
      const decoded = decodeAdvert(packet.payload);
      assert.ok(decoded.ok, `frame ${packet.frame}`);
      const { vhid, advskew, advbase, demote } = decoded.value;
      assert.deepEqual(
        { vhid, advskew, advbase, demote },
        { vhid: 42, advskew: packet.source === '198.51.100.11' ? 10 : 100, advbase: 1, demote: 0 },
      );
      assert.ok(verifyHmac(decoded.value, labKey), `frame ${packet.frame}`);
      // Our encoder reproduces ucarp's bytes exactly, checksum included.
      assert.equal(toHex(encodeAdvert(decoded.value, labKey)), toHex(packet.payload), `frame ${packet.frame}`);
    }
  });

  it('rejects the deliberately bad ones, each for its reason', () => {
    const rejected = new Map<string, number>();
    for (const packet of packets) {
      const result = classifyPacket(packet, lab);
      if (!result.ok) {
        const key = `${packet.source} ${result.reason}`;
        rejected.set(key, (rejected.get(key) ?? 0) + 1);
      }
    }
    assert.deepEqual(Object.fromEntries(rejected), {
      '198.51.100.13 badAuth': 3, // vhid 42, wrong password (frames 152, 153, 155)
      '198.51.100.101 badVhid': 4, // vhid 43, not ours
      '198.51.100.13 short': 7, // keepalived VRRPv3, 20-byte payload
      '198.51.100.13 badTtl': 1, // vhid 99 sent with TTL 1
    });
  });

  it('rejects the vhid-43 adverts from .101 as badAuth when we serve vhid 43 with the lab key', () => {
    const from101 = packets.filter((p) => p.source === '198.51.100.101');
    assert.equal(from101.length, 4);
    for (const packet of from101) {
      assert.deepEqual(classifyPacket(packet, () => ({ key: labKey })), { ok: false, reason: 'badAuth' });
    }
  });

  it('rejects the TTL-1 advert as badTtl even though its message is well formed', () => {
    const ttl1 = packets.filter((p) => p.ttl === 1);
    assert.equal(ttl1.length, 1);
    const decoded = decodeAdvert(ttl1[0]!.payload);
    assert.ok(decoded.ok);
    assert.equal(decoded.value.vhid, 99);
  });
});

describe('decodeAdvert', () => {
  it('decodes the byte-literal captured advert', () => {
    assert.deepEqual(decodeAdvert(capturedAdvert), {
      ok: true,
      value: {
        vhid: 42,
        advskew: 10,
        advbase: 1,
        demote: 0,
        counter: hex('d85d96192e2d435e'),
        hmac: hex('037e382866aff9058fc2006a0dddeb37482b0fb5'),
      },
    });
  });

  it('does not alias the input buffer', () => {
    const bytes = new Uint8Array(capturedAdvert);
    const decoded = decodeAdvert(bytes);
    assert.ok(decoded.ok);
    bytes.fill(0);
    assert.equal(toHex(decoded.value.counter), 'd85d96192e2d435e');
  });

  describe('truncations', () => {
    for (let length = 0; length < CARP_HEADER_LENGTH; length++) {
      it(`${length} bytes -> short`, () => {
        assert.deepEqual(decodeAdvert(capturedAdvert.subarray(0, length)), { ok: false, reason: 'short' });
      });
    }
  });

  it('accepts and ignores bytes after the 36-byte message, as carp(4) does', () => {
    const extended = new Uint8Array(40);
    extended.set(capturedAdvert);
    extended.set([0xde, 0xad, 0xbe, 0xef], 36);
    assert.deepEqual(decodeAdvert(extended), decodeAdvert(capturedAdvert));
  });

  const badFields: Array<[string, Uint8Array, string]> = [
    ['version 1', withFix(capturedAdvert, (b) => (b[0] = 0x11)), 'badVersion'],
    ['version 3', withFix(capturedAdvert, (b) => (b[0] = 0x31)), 'badVersion'],
    ['type 2', withFix(capturedAdvert, (b) => (b[0] = 0x22)), 'badType'],
    ['type 0', withFix(capturedAdvert, (b) => (b[0] = 0x20)), 'badType'],
    ['authlen 6', withFix(capturedAdvert, (b) => (b[3] = 6)), 'badType'],
    ['authlen 0', withFix(capturedAdvert, (b) => (b[3] = 0)), 'badType'],
    ['checksum off by one', capturedAdvert.map((b, i) => (i === 7 ? b ^ 1 : b)), 'badChecksum'],
    ['payload bit flipped', capturedAdvert.map((b, i) => (i === 20 ? b ^ 0x80 : b)), 'badChecksum'],
    ['all zero', new Uint8Array(36), 'badChecksum'],
    // The checksum is checked before the version, as in carp_proto_input_if.
    ['bad version and bad checksum', capturedAdvert.map((b, i) => (i === 0 ? 0x11 : b)), 'badChecksum'],
  ];
  for (const [name, bytes, reason] of badFields) {
    it(`${name} -> ${reason}`, () => {
      assert.deepEqual(decodeAdvert(bytes), { ok: false, reason });
    });
  }
});

describe('internetChecksum', () => {
  it('matches the RFC 1071 example', () => {
    // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2, so the checksum is 220d.
    assert.equal(internetChecksum(hex('0001f203f4f5f6f7')), 0x220d);
  });

  it('pads an odd last byte with zero', () => {
    assert.equal(internetChecksum(hex('0001f203f4f5f6')), internetChecksum(hex('0001f203f4f5f600')));
  });

  it('is 0 over a message with its checksum filled in, 0xffff over nothing', () => {
    assert.equal(internetChecksum(capturedAdvert), 0);
    assert.equal(internetChecksum(new Uint8Array(0)), 0xffff);
  });
});

describe('encodeAdvert', () => {
  it('reproduces the captured ucarp advert byte for byte', () => {
    const advert = encodeAdvert(
      { vhid: 42, advskew: 10, advbase: 1, demote: 0, counter: hex('d85d96192e2d435e') },
      labKey,
    );
    assert.equal(toHex(advert), toHex(capturedAdvert));
  });

  const roundTrips: Array<Omit<Advert, 'hmac'>> = [
    { vhid: 1, advskew: 0, advbase: 0, demote: 0, counter: new Uint8Array(8) },
    { vhid: 255, advskew: 254, advbase: 254, demote: 255, counter: hex('ffffffffffffffff') },
    { vhid: 42, advskew: 255, advbase: 255, demote: 1, counter: hex('0123456789abcdef') },
  ];
  for (const fields of roundTrips) {
    it(`round-trips vhid ${fields.vhid} advbase ${fields.advbase} advskew ${fields.advskew} demote ${fields.demote}`, () => {
      const bytes = encodeAdvert(fields, labKey);
      assert.equal(bytes.length, 36);
      const decoded = decodeAdvert(bytes);
      assert.ok(decoded.ok);
      assert.deepEqual(decoded.value, { ...fields, hmac: computeHmac(labKey, fields.vhid, fields.counter) });
      assert.ok(verifyHmac(decoded.value, labKey));
      assert.deepEqual(classifyPacket({ ttl: 255, payload: bytes }, () => ({ key: labKey })), {
        ok: true,
        advert: decoded.value,
      });
    });
  }

  it('refuses out-of-range fields and a counter of the wrong length', () => {
    const counter = new Uint8Array(8);
    assert.throws(() => encodeAdvert({ vhid: 256, advskew: 0, advbase: 1, demote: 0, counter }, labKey), RangeError);
    assert.throws(() => encodeAdvert({ vhid: 1, advskew: -1, advbase: 1, demote: 0, counter }, labKey), RangeError);
    assert.throws(() => encodeAdvert({ vhid: 1, advskew: 0, advbase: 1.5, demote: 0, counter }, labKey), RangeError);
    assert.throws(
      () => encodeAdvert({ vhid: 1, advskew: 0, advbase: 1, demote: 0, counter: new Uint8Array(7) }, labKey),
      RangeError,
    );
  });
});

describe('computeHmac', () => {
  const counter = hex('0011223344556677');

  it('follows the recipe 02 01 vhid ‖ VIP ‖ counter for a single IPv4 VIP (carp.md)', () => {
    const expected = createHmac('sha1', 'labsecret').update(hex('02012ac6336464')).update(counter).digest();
    assert.equal(toHex(computeHmac(labKey, 42, counter)), expected.toString('hex'));
  });

  it('equals the kernel hand-rolled HMAC for a 19-byte password', () => {
    const password = 'nineteen-bytes-pass';
    assert.equal(Buffer.byteLength(password), 19);
    const key = { password, addresses: ['198.51.100.100'] };
    const message = new Uint8Array([...hex('02012ac6336464'), ...counter]);
    assert.equal(toHex(computeHmac(key, 42, counter)), toHex(kernelHmac(password, message)));
    const advert = encodeAdvert({ vhid: 42, advskew: 0, advbase: 1, demote: 0, counter }, key);
    assert.deepEqual(classifyPacket({ ttl: 255, payload: advert }, () => ({ key })).ok, true);
  });

  it('equals the kernel HMAC for the empty password (an all-zero key)', () => {
    const key = { password: '', addresses: ['198.51.100.100'] };
    const message = new Uint8Array([...hex('02012ac6336464'), ...counter]);
    assert.equal(toHex(computeHmac(key, 42, counter)), toHex(kernelHmac('', message)));
  });

  it('refuses a 20-byte password and one with NUL, which the kernel would truncate', () => {
    assert.throws(() => computeHmac({ password: 'twenty-bytes-passwd!', addresses: [] }, 1, counter), RangeError);
    assert.throws(() => computeHmac({ password: 'ab\0cd', addresses: [] }, 1, counter), RangeError);
  });

  it('refuses an address that does not parse', () => {
    assert.throws(() => computeHmac({ password: 'x', addresses: ['198.51.100.300'] }, 1, counter), TypeError);
  });

  // 9.0.0.1 < 10.0.0.1 numerically though not as strings; 2001:db8::3 < 2001:db8::20 by memcmp.
  const unsorted = ['2001:db8::20/64', '198.51.100.200', 'fe80::1%eth0', '10.0.0.1/8', '2001:db8::3', '9.0.0.1'];
  const v4 = '09000001 0a000001 c63364c8';
  const v6 = '20010db8000000000000000000000003 20010db8000000000000000000000020';
  const linkLocal = 'fe800000000000000000000000000001';
  const multi = (addresses: string[]) => ({ password: 'labsecret', addresses });
  const recipe = (addresses: string) =>
    toHex(createHmac('sha1', 'labsecret').update(hex(`020107 ${addresses}`)).update(counter).digest());

  it('hashes IPv4 ascending numerically, then IPv6 by memcmp, skipping link-local (nov6ll)', () => {
    assert.equal(toHex(computeHmac(multi(unsorted), 7, counter, 'nov6ll')), recipe(`${v4} ${v6}`));
  });

  it('includes link-local addresses, scope zeroed, in the orig variant', () => {
    assert.equal(toHex(computeHmac(multi(unsorted), 7, counter, 'orig')), recipe(`${v4} ${v6} ${linkLocal}`));
    // A KAME-embedded scope id in bytes 2-3 is zeroed before hashing.
    const embedded = unsorted.map((a) => (a.startsWith('fe80') ? 'fe80:4::1' : a));
    assert.equal(toHex(computeHmac(multi(embedded), 7, counter, 'orig')), recipe(`${v4} ${v6} ${linkLocal}`));
  });

  it('gives the same HMAC for any order of the same addresses, and hashes duplicates once', () => {
    const sorted = ['9.0.0.1', '10.0.0.1', '198.51.100.200', '2001:db8::3', '2001:db8::20', 'fe80::1'];
    const reversed = [...sorted].reverse();
    const duplicated = [...sorted, '10.0.0.1/32', '2001:DB8:0:0::3'];
    for (const variant of ['nov6ll', 'orig'] as const) {
      const reference = toHex(computeHmac(multi(sorted), 7, counter, variant));
      assert.equal(toHex(computeHmac(multi(unsorted), 7, counter, variant)), reference);
      assert.equal(toHex(computeHmac(multi(reversed), 7, counter, variant)), reference);
      assert.equal(toHex(computeHmac(multi(duplicated), 7, counter, variant)), reference);
    }
  });

  it('encodes with nov6ll and verifies adverts of either variant', () => {
    const key = multi(unsorted);
    const fields = { vhid: 7, advskew: 0, advbase: 1, demote: 0, counter };
    const sent = decodeAdvert(encodeAdvert(fields, key));
    assert.ok(sent.ok);
    assert.equal(toHex(sent.value.hmac), toHex(computeHmac(key, 7, counter, 'nov6ll')));
    assert.ok(verifyHmac(sent.value, key));
    const orig = { ...fields, hmac: computeHmac(key, 7, counter, 'orig') };
    assert.ok(verifyHmac(orig, key));
    assert.notEqual(toHex(orig.hmac), toHex(sent.value.hmac));
    // Without the link-local address the orig variant of the peer no longer matches.
    assert.ok(!verifyHmac(orig, multi(unsorted.filter((a) => !a.startsWith('fe80')))));
    assert.ok(!verifyHmac({ ...orig, hmac: orig.hmac.subarray(0, 19) }, key));
  });

  it('depends on the vhid, the counter, the password and every address', () => {
    const reference = toHex(computeHmac(labKey, 42, counter));
    assert.notEqual(toHex(computeHmac(labKey, 43, counter)), reference);
    assert.notEqual(toHex(computeHmac(labKey, 42, hex('0011223344556678'))), reference);
    assert.notEqual(toHex(computeHmac({ ...labKey, password: 'labsecreT' }, 42, counter)), reference);
    assert.notEqual(
      toHex(computeHmac({ ...labKey, addresses: ['198.51.100.100', '198.51.100.101'] }, 42, counter)),
      reference,
    );
  });
});

describe('classifyPacket', () => {
  const ours = (vhid: number) => (vhid === 42 ? { key: labKey } : undefined);
  const rows: Array<[string, { ttl: number; payload: Uint8Array }, Rejection | 'ok']> = [
    ['good advert', { ttl: 255, payload: capturedAdvert }, 'ok'],
    ['TTL 254', { ttl: 254, payload: capturedAdvert }, 'badTtl'],
    ['TTL 1 beats a short payload', { ttl: 1, payload: new Uint8Array(3) }, 'badTtl'],
    ['35 bytes', { ttl: 255, payload: capturedAdvert.subarray(0, 35) }, 'short'],
    ['bad checksum', { ttl: 255, payload: capturedAdvert.map((b, i) => (i === 9 ? b ^ 4 : b)) }, 'badChecksum'],
    ['version 1', { ttl: 255, payload: withFix(capturedAdvert, (b) => (b[0] = 0x11)) }, 'badVersion'],
    ['type 2', { ttl: 255, payload: withFix(capturedAdvert, (b) => (b[0] = 0x22)) }, 'badType'],
    ['vhid 43', { ttl: 255, payload: withFix(capturedAdvert, (b) => (b[1] = 43)) }, 'badVhid'],
    ['HMAC bit flipped', { ttl: 255, payload: withFix(capturedAdvert, (b) => (b[35]! ^= 1)) }, 'badAuth'],
    ['advskew changed under the HMAC', { ttl: 255, payload: withFix(capturedAdvert, (b) => (b[2] = 0)) }, 'ok'],
  ];
  for (const [name, packet, expected] of rows) {
    it(`${name} -> ${expected}`, () => {
      const result = classifyPacket(packet, ours);
      assert.equal(result.ok ? 'ok' : result.reason, expected);
    });
  }

  it('drops our own advert coming back (loop), but not a peer advert with another counter', () => {
    const counter = hex('d85d96192e2d435e');
    assert.deepEqual(
      classifyPacket({ ttl: 255, payload: capturedAdvert }, () => ({ key: labKey, lastSentCounter: counter })),
      { ok: false, reason: 'loop' },
    );
    const other = hex('d85d96192e2d435f');
    assert.equal(
      classifyPacket({ ttl: 255, payload: capturedAdvert }, () => ({ key: labKey, lastSentCounter: other })).ok,
      true,
    );
  });

  it('checks the HMAC before the loop, so a forged copy of our counter is badAuth', () => {
    const counter = hex('d85d96192e2d435e');
    const forged = withFix(capturedAdvert, (b) => (b[20]! ^= 1));
    assert.deepEqual(classifyPacket({ ttl: 255, payload: forged }, () => ({ key: labKey, lastSentCounter: counter })), {
      ok: false,
      reason: 'badAuth',
    });
  });
});

describe('parseAddress', () => {
  const good: Array<[string, 4 | 6, string]> = [
    ['198.51.100.100', 4, 'c6336464'],
    ['198.51.100.100/24', 4, 'c6336464'],
    ['0.0.0.0/0', 4, '00000000'],
    [' 10.0.0.1 ', 4, '0a000001'],
    ['::', 6, '00000000000000000000000000000000'],
    ['::1', 6, '00000000000000000000000000000001'],
    ['1::', 6, '00010000000000000000000000000000'],
    ['2001:db8::1/64', 6, '20010db8000000000000000000000001'],
    ['2001:DB8:0:0:1:0:0:1', 6, '20010db8000000000001000000000001'],
    ['2001:db8:1:2:3:4:5:6', 6, '20010db8000100020003000400050006'],
    ['2001:db8::1:2:3:4:5', 6, '20010db8000000010002000300040005'],
    ['fe80::1%eth0', 6, 'fe800000000000000000000000000001'],
    ['fe80::1%eth0/64', 6, 'fe800000000000000000000000000001'],
    ['::ffff:198.51.100.1', 6, '00000000000000000000ffffc6336401'],
    ['64:ff9b::192.0.2.33', 6, '0064ff9b0000000000000000c0000221'],
    ['1:2:3:4:5:6:1.2.3.4', 6, '00010002000300040005000601020304'],
    ['ff02::12', 6, 'ff020000000000000000000000000012'],
  ];
  for (const [text, family, bytes] of good) {
    it(`parses ${JSON.stringify(text)}`, () => {
      const parsed = parseAddress(text);
      assert.ok(parsed);
      assert.deepEqual({ family: parsed.family, bytes: toHex(parsed.bytes) }, { family, bytes });
    });
  }

  const bad = [
    '',
    '198.51.100',
    '198.51.100.256',
    '198.51.100.01',
    '198.51.100.1/33',
    '198.51.100.1/',
    '198.51.100.1/x',
    '198.51.100.1%eth0',
    '2001:db8::1/129',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    '::g',
    'fe80::1%',
    'host.example',
  ];
  for (const text of bad) {
    it(`returns undefined for ${JSON.stringify(text)}`, () => {
      assert.equal(parseAddress(text), undefined);
    });
  }

  it('agrees with the WHATWG URL parser on 2,000 random IPv6 addresses', () => {
    const random = seededRandom(0x5eed);
    for (let n = 0; n < 2000; n++) {
      const bytes = new Uint8Array(16);
      // Runs of zero groups exercise the '::' compression.
      for (let i = 0; i < 16; i += 2) {
        if (random() < 0.4) continue;
        bytes[i] = random() < 0.5 ? 0 : Math.floor(random() * 256);
        bytes[i + 1] = Math.floor(random() * 256);
      }
      const full = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(':');
      const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      assert.equal(toHex(parseAddress(full)!.bytes), toHex(bytes), full);
      assert.equal(toHex(parseAddress(compressed)!.bytes), toHex(bytes), compressed);
    }
  });
});

describe('fuzz', () => {
  it('never throws on 120,000 mutated captured adverts', () => {
    const seeds = readCarpPackets(fixture).map((p) => p.payload);
    const random = seededRandom(0xc0ffee);
    const reasons = new Map<string, number>();
    const keyed = (vhid: number) =>
      vhid === 42 ? { key: labKey, lastSentCounter: hex('d85d96192e2d435e') } : undefined;
    const iterations = 120_000;
    for (let n = 0; n < iterations; n++) {
      const seed = seeds[Math.floor(random() * seeds.length)]!;
      let bytes = mutate(seed, random);
      // Half of the time repair the checksum so the checks behind it are reached too.
      if (bytes.length >= 36 && random() < 0.5) bytes = withFix(bytes, () => {});
      const decoded = decodeAdvert(bytes);
      if (decoded.ok) {
        assert.equal(decoded.value.counter.length, 8);
        assert.equal(decoded.value.hmac.length, 20);
      }
      const ttl = random() < 0.9 ? 255 : Math.floor(random() * 256);
      const result = classifyPacket({ ttl, payload: bytes }, keyed);
      const outcome = result.ok ? 'ok' : result.reason;
      reasons.set(outcome, (reasons.get(outcome) ?? 0) + 1);
    }
    // Every outcome is reached, so the fuzzing got past each check.
    assert.deepEqual(
      [...reasons.keys()].sort(),
      ['badAuth', 'badChecksum', 'badTtl', 'badType', 'badVersion', 'badVhid', 'loop', 'ok', 'short'],
    );
    assert.equal([...reasons.values()].reduce((a, b) => a + b), iterations);
  });
});


function mutate(seed: Uint8Array, random: () => number): Uint8Array {
  const choice = random();
  if (choice < 0.15) return seed.slice(0, Math.floor(random() * (seed.length + 1)));
  if (choice < 0.3) {
    const extended = new Uint8Array(seed.length + 1 + Math.floor(random() * 64));
    extended.set(seed);
    for (let i = seed.length; i < extended.length; i++) extended[i] = Math.floor(random() * 256);
    return extended;
  }
  const bytes = new Uint8Array(seed);
  if (bytes.length === 0) return bytes;
  if (choice < 0.45) {
    // Set one header byte to a random value: reaches version, type, authlen and vhid.
    bytes[Math.floor(random() * Math.min(8, bytes.length))] = Math.floor(random() * 256);
    return bytes;
  }
  const flips = 1 + Math.floor(random() * 4);
  for (let i = 0; i < flips; i++) {
    const bit = Math.floor(random() * bytes.length * 8);
    bytes[bit >>> 3]! ^= 1 << (bit & 7);
  }
  return bytes;
}

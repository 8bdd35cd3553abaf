// Frame codecs against byte vectors captured from the Linux kernel's own announcements
// (arp_notify / ndisc_notify after a MAC change, kernel 6.18, captured with tcpdump in a
// lab namespace) and against hand-checked IPv4 headers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeIpv4Header,
  encodeGratuitousArp,
  encodeUnsolicitedNa,
  formatMac,
  icmpv6Checksum,
  internetChecksum,
  NA_FLAG_OVERRIDE,
  NA_FLAG_ROUTER,
  parseIpv4,
  parseIpv6,
  parseMac,
} from '../../../firmware/net/frames.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// Linux arp_notify: 00:00:5e:00:01:2a announcing 198.51.100.11.
const KERNEL_GARP = hex(`
  ff ff ff ff ff ff 00 00 5e 00 01 2a 08 06 00 01
  08 00 06 04 00 01 00 00 5e 00 01 2a c6 33 64 0b
  00 00 00 00 00 00 c6 33 64 0b`);

// Linux ndisc_notify: 2001:db8::11 is at 00:00:5e:00:01:2a (Override, not Router).
const KERNEL_NA_GLOBAL = hex(`
  33 33 00 00 00 01 00 00 5e 00 01 2a 86 dd 60 00
  00 00 00 20 3a ff 20 01 0d b8 00 00 00 00 00 00
  00 00 00 00 00 11 ff 02 00 00 00 00 00 00 00 00
  00 00 00 00 00 01 88 00 9b e1 20 00 00 00 20 01
  0d b8 00 00 00 00 00 00 00 00 00 00 00 11 02 01
  00 00 5e 00 01 2a`);

// The same for the link-local address fe80::5eff:fe10:1.
const KERNEL_NA_LINK_LOCAL = hex(`
  33 33 00 00 00 01 00 00 5e 00 01 2a 86 dd 60 00
  00 00 00 20 3a ff fe 80 00 00 00 00 00 00 00 00
  5e ff fe 10 00 01 ff 02 00 00 00 00 00 00 00 00
  00 00 00 00 00 01 88 00 40 51 20 00 00 00 fe 80
  00 00 00 00 00 00 00 00 5e ff fe 10 00 01 02 01
  00 00 5e 00 01 2a`);

// A ucarp advert's IPv4 header as an IPv4 raw socket returns it (TOS 0x10, DF, TTL 255,
// protocol 112, 198.51.100.11 -> 224.0.0.18, 56 bytes), followed by 36 payload bytes.
const UCARP_IP_HEADER = hex('45 10 00 38 12 34 40 00 ff 70 00 00 c6 33 64 0b e0 00 00 12');

test('gratuitous ARP is byte-identical to the kernel announcement', () => {
  assert.deepEqual(encodeGratuitousArp({ mac: '00:00:5e:00:01:2a', ip: '198.51.100.11' }), KERNEL_GARP);
});

test('unsolicited NA is byte-identical to the kernel announcement, checksum included', () => {
  assert.deepEqual(encodeUnsolicitedNa({ mac: '00:00:5e:00:01:2a', ip: '2001:db8::11' }), KERNEL_NA_GLOBAL);
  assert.deepEqual(
    encodeUnsolicitedNa({ mac: '00-00-5E-00-01-2A', ip: 'fe80::5eff:fe10:1' }),
    KERNEL_NA_LINK_LOCAL,
  );
});

test('NA Router flag sets bit 31 and changes the checksum accordingly', () => {
  const frame = encodeUnsolicitedNa({ mac: '00:00:5e:00:01:2a', ip: '2001:db8::11', router: true });
  const view = new DataView(frame.buffer);
  assert.equal(view.getUint32(58), (NA_FLAG_ROUTER | NA_FLAG_OVERRIDE) >>> 0);
  const icmp = frame.slice(54);
  assert.equal(icmpv6Checksum(frame.subarray(22, 38), frame.subarray(38, 54), icmp), 0, 'verifies to 0');
  assert.equal(view.getUint16(56), 0x9be1 - 0x8000, 'RFC 1624: +0x8000 in one word lowers ~sum by 0x8000');
});

test('encoders reject malformed or multicast input', () => {
  assert.throws(() => encodeGratuitousArp({ mac: '00:00:5e:00:01', ip: '198.51.100.1' }), /not a MAC/);
  assert.throws(() => encodeGratuitousArp({ mac: '01:00:5e:00:01:2a', ip: '198.51.100.1' }), /unicast/);
  assert.throws(() => encodeGratuitousArp({ mac: '00:00:5e:00:01:2a', ip: '198.51.100.256' }), /IPv4/);
  assert.throws(() => encodeUnsolicitedNa({ mac: '00:00:5e:00:01:2a', ip: '198.51.100.1' }), /IPv6/);
  assert.throws(() => encodeUnsolicitedNa({ mac: '00:00:5e:00:01:2a', ip: 'fe80::1%eth0' }), /IPv6/);
});

test('decodeIpv4Header reads what the CARP checks need', () => {
  const datagram = new Uint8Array(56);
  datagram.set(UCARP_IP_HEADER);
  const decoded = decodeIpv4Header(datagram);
  assert.deepEqual(decoded, {
    ok: true,
    value: {
      headerLength: 20,
      tos: 0x10,
      totalLength: 56,
      dontFragment: true,
      ttl: 255,
      protocol: 112,
      source: '198.51.100.11',
      destination: '224.0.0.18',
    },
  });
});

test('decodeIpv4Header honours IHL (options) and total length', () => {
  const datagram = new Uint8Array(24 + 36 + 4);
  datagram.set(UCARP_IP_HEADER);
  datagram[0] = 0x46; // 24-byte header
  new DataView(datagram.buffer).setUint16(2, 60);
  const decoded = decodeIpv4Header(datagram);
  assert.ok(decoded.ok);
  assert.equal(decoded.value.headerLength, 24);
  assert.equal(decoded.value.totalLength, 60);
});

test('decodeIpv4Header rejects truncated and inconsistent input', () => {
  const full = new Uint8Array(56);
  full.set(UCARP_IP_HEADER);
  const cases: Array<[string, Uint8Array, string]> = [
    ['empty', new Uint8Array(0), 'truncated'],
    ['19 bytes', full.slice(0, 19), 'truncated'],
    ['shorter than total length', full.slice(0, 55), 'truncated'],
    ['IPv6 version nibble', Uint8Array.from([0x65, ...full.slice(1)]), 'notIpv4'],
    ['IHL 4', Uint8Array.from([0x44, ...full.slice(1)]), 'badHeaderLength'],
    ['IHL 15 beyond data', Uint8Array.from([0x4f, ...full.slice(1, 40)]), 'truncated'],
  ];
  for (const [name, bytes, reason] of cases) {
    assert.deepEqual(decodeIpv4Header(bytes), { ok: false, reason }, name);
  }
  const shortTotal = full.slice();
  new DataView(shortTotal.buffer).setUint16(2, 19);
  assert.deepEqual(decodeIpv4Header(shortTotal), { ok: false, reason: 'badTotalLength' });
});

test('internet checksum: RFC 1071 example and odd lengths', () => {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d.
  assert.equal(internetChecksum(hex('0001f203f4f5f6f7')), 0x220d);
  assert.equal(internetChecksum(hex('01')), 0xfeff);
  assert.equal(internetChecksum(new Uint8Array(0)), 0xffff);
});

test('address parsers', () => {
  assert.deepEqual(parseMac('00:00:5e:00:01:2a'), hex('00005e00012a'));
  assert.equal(parseMac('00:00:5e:00:01:2g'), undefined);
  assert.equal(parseMac('0:0:5e:0:1:2a'), undefined);
  assert.equal(formatMac(hex('00005e00012a')), '00:00:5e:00:01:2a');
  assert.deepEqual(parseIpv4('198.51.100.100'), hex('c6336464'));
  assert.equal(parseIpv4('198.51.100'), undefined);
  assert.deepEqual(parseIpv6('ff02::12'), hex('ff020000000000000000000000000012'));
  assert.deepEqual(parseIpv6('::'), new Uint8Array(16));
  assert.deepEqual(parseIpv6('2001:db8::'), hex('20010db8000000000000000000000000'));
  assert.deepEqual(parseIpv6('::ffff:198.51.100.1'), hex('00000000000000000000ffffc6336401'));
  assert.deepEqual(parseIpv6('2001:db8:1:2:3:4:5:6'), hex('20010db8000100020003000400050006'));
  assert.deepEqual(parseIpv6('2001:db8::1:0:0:1'), hex('20010db8000000000001000000000001'));
  assert.equal(parseIpv6('2001:db8::g'), undefined);
  assert.equal(parseIpv6('fe80::1%eth0'), undefined);
});

// Self-signed X.509 v3 certificates made in-process with node:crypto (RFC 5280 §4.1, DER per
// X.690): an ECDSA P-256 key, a TBSCertificate written by the tiny ASN.1 writer below, signed
// ecdsa-with-SHA256 (RFC 5758 §3.2). No openssl process: a router may not have one.

import { createHash, generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

export interface SelfSignedOptions {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Validity in days from `now`; 3650 when absent. */
  days?: number;
  now: Date;
}

export interface SelfSignedCertificate {
  certPem: string;
  keyPem: string;
  /** `AB:CD:...`, the form `openssl x509 -fingerprint -sha256` prints. */
  fingerprintSha256: string;
}

// ---- ASN.1 DER writer (X.690 §8, definite lengths only) ----

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octetString = (content: Buffer): Buffer => tlv(0x04, content);
const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
const booleanTrue = (): Buffer => tlv(0x01, Buffer.from([0xff]));
/** [n] EXPLICIT, constructed context tag. */
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content);

/** INTEGER from unsigned big-endian bytes: leading zeros trimmed, a 0x00 added if the top bit is set. */
function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = bytes.subarray(start);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

/** BIT STRING with no unused bits. */
const bitString = (content: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), content]));

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime before 2050, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-12-03T02:08:57.123Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, ''); // 20261203020857
  const year = date.getUTCFullYear();
  if (year < 2050) return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'));
  return tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

// ---- OIDs ----

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), booleanTrue(), octetString(value)) : sequence(oid(id), octetString(value));
}

/** An IPv4 or IPv6 literal as the 4 or 16 bytes of a SAN iPAddress. */
export function ipBytes(address: string): Buffer {
  const family = isIP(address);
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  if (family !== 6) throw new Error(`not an IP address: ${address}`);
  // An embedded dotted quad (::ffff:192.0.2.1) becomes its two hex groups first.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const halves = text.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((x) => parseInt(x, 16)));
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function subjectAltName(dnsNames: string[], ipAddresses: string[]): Buffer {
  // GeneralName: [2] IMPLICIT IA5String dNSName, [7] IMPLICIT OCTET STRING iPAddress.
  const names = [
    ...dnsNames.map((name) => tlv(0x82, Buffer.from(name, 'ascii'))),
    ...ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  return sequence(...names);
}

function generateP256(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('ec', { namedCurve: 'prime256v1' }, (error, publicKey, privateKey) => {
      if (error) reject(error);
      else resolve({ publicKey, privateKey });
    });
  });
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function colonHex(digest: Buffer): string {
  return [...digest].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

/** A certificate's SHA-256 fingerprint over its DER bytes, `AB:CD:...` like openssl prints it. */
export function fingerprintOf(certPem: string): string {
  // X509Certificate.fingerprint256 is the same digest in the same form; computed here from the
  // DER so the function also accepts a PEM that node would reject for other reasons.
  const body = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return colonHex(createHash('sha256').update(Buffer.from(body, 'base64')).digest());
}

export async function makeSelfSignedCertificate(options: SelfSignedOptions): Promise<SelfSignedCertificate> {
  const days = options.days ?? 3650;
  const dnsNames = options.dnsNames ?? [];
  const ipAddresses = options.ipAddresses ?? [];
  if (!options.commonName) throw new Error('commonName must not be empty');
  if (!(days > 0)) throw new Error(`days must be positive, got ${days}`);
  for (const ip of ipAddresses) if (!isIP(ip)) throw new Error(`ipAddresses: not an IP address: ${ip}`);

  const { publicKey, privateKey } = await generateP256();
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const name = sequence(set(sequence(oid(OID.commonName), utf8String(options.commonName))));
  const algorithm = sequence(oid(OID.ecdsaWithSHA256)); // parameters absent (RFC 5758 §3.2)
  // Serial: 16 random bytes, top bit cleared so it stays positive within 20 octets (§4.1.2.2).
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  // Back-date a minute so a peer whose clock is slightly behind accepts it at once.
  const notBefore = new Date(options.now.getTime() - 60_000);
  const notAfter = new Date(options.now.getTime() + days * 86_400_000);

  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, sequence()), // cA FALSE is the DEFAULT, so omitted
    // keyUsage digitalSignature: bit 0 -> 0x80, 7 unused bits.
    extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x07, 0x80]))),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
  ];
  if (dnsNames.length + ipAddresses.length > 0) {
    extensions.push(extension(OID.subjectAltName, false, subjectAltName(dnsNames, ipAddresses)));
  }

  const tbs = sequence(
    explicit(0, tlv(0x02, Buffer.from([2]))), // version v3
    unsignedInteger(serial),
    algorithm,
    name, // issuer: self-signed
    sequence(time(notBefore), time(notAfter)),
    name, // subject
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value, as X.509 wants
  const der = sequence(tbs, algorithm, bitString(signature));
  const certPem = pem('CERTIFICATE', der);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem, keyPem, fingerprintSha256: colonHex(createHash('sha256').update(der).digest()) };
}

/** Parses a PEM with node's own X.509 reader (throws if it is not a certificate). */
export function parseCertificate(certPem: string): X509Certificate {
  return new X509Certificate(certPem);
}

// Self-signed certificates (firmware/os/x509.ts) checked by three independent readers: node's
// X509Certificate, the openssl command line, and a real TLS handshake on loopback with the
// certificate on both ends (mutual TLS, the peer pinned by fingerprint as pair sync does it).

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

import { fingerprintOf, ipBytes, makeSelfSignedCertificate } from '../../../firmware/os/x509.js';

const run = promisify(execFile);
const NOW = new Date(Date.UTC(2026, 11, 3, 2, 0, 0));

describe('x509 self-signed certificates', () => {
  it('node parses subject, SANs, validity, extensions and verifies the self-signature', async () => {
    const made = await makeSelfSignedCertificate({
      commonName: 'tandem-a',
      dnsNames: ['tandem-a.example', 'localhost'],
      ipAddresses: ['127.0.0.1', '198.51.100.7', '2001:db8::1', '::1'],
      days: 30,
      now: NOW,
    });
    const cert = new X509Certificate(made.certPem);
    assert.equal(cert.subject, 'CN=tandem-a');
    assert.equal(cert.issuer, 'CN=tandem-a');
    assert.equal(
      cert.subjectAltName,
      'DNS:tandem-a.example, DNS:localhost, IP Address:127.0.0.1, IP Address:198.51.100.7, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:0:0:1',
    );
    assert.equal(new Date(cert.validFrom).getTime(), NOW.getTime() - 60_000);
    assert.equal(new Date(cert.validTo).getTime(), NOW.getTime() + 30 * 86_400_000);
    assert.equal(cert.ca, false);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(cert.verify(cert.publicKey), 'the signature verifies with its own key');
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.fingerprint256, made.fingerprintSha256);
    assert.equal(fingerprintOf(made.certPem), made.fingerprintSha256);
    assert.match(made.fingerprintSha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.ok(cert.checkHost('tandem-a.example'));
    assert.ok(cert.checkIP('198.51.100.7'));
    assert.equal(cert.checkIP('203.0.113.1'), undefined);
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(made.keyPem)));
  });

  it('two certificates differ in key, serial and fingerprint', async () => {
    const a = await makeSelfSignedCertificate({ commonName: 'x', now: NOW });
    const b = await makeSelfSignedCertificate({ commonName: 'x', now: NOW });
    assert.notEqual(a.fingerprintSha256, b.fingerprintSha256);
    assert.notEqual(new X509Certificate(a.certPem).serialNumber, new X509Certificate(b.certPem).serialNumber);
    assert.notEqual(a.keyPem, b.keyPem);
  });

  it('uses GeneralizedTime from 2050 on', async () => {
    const made = await makeSelfSignedCertificate({ commonName: 'late', now: new Date(Date.UTC(2049, 11, 31)), days: 10 });
    const cert = new X509Certificate(made.certPem);
    assert.equal(new Date(cert.validTo).toISOString(), '2050-01-10T00:00:00.000Z');
    assert.ok(cert.verify(cert.publicKey));
  });

  it('rejects bad options', async () => {
    await assert.rejects(makeSelfSignedCertificate({ commonName: '', now: NOW }), /commonName/);
    await assert.rejects(makeSelfSignedCertificate({ commonName: 'a', ipAddresses: ['nope'], now: NOW }), /not an IP/);
    await assert.rejects(makeSelfSignedCertificate({ commonName: 'a', days: 0, now: NOW }), /days/);
  });

  it('writes IP addresses as 4 or 16 bytes', () => {
    assert.equal(ipBytes('198.51.100.7').toString('hex'), 'c6336407');
    assert.equal(ipBytes('2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
    assert.equal(ipBytes('::').toString('hex'), '0'.repeat(32));
    assert.equal(ipBytes('::ffff:198.51.100.7').toString('hex'), '00000000000000000000ffffc6336407');
    assert.equal(ipBytes('2001:db8:1:2:3:4:5:6').toString('hex'), '20010db8000100020003000400050006');
    assert.equal(ipBytes('fe80::').toString('hex'), 'fe80' + '0'.repeat(28));
  });

  it('openssl reads it and agrees on the fingerprint', async () => {
    const made = await makeSelfSignedCertificate({
      commonName: 'tandem-b',
      dnsNames: ['tandem-b.example'],
      ipAddresses: ['203.0.113.9'],
      now: NOW,
    });
    const dir = await mkdtemp(join(tmpdir(), 'tandem-x509-'));
    try {
      const file = join(dir, 'cert.pem');
      await writeFile(file, made.certPem);
      const text = (await run('openssl', ['x509', '-in', file, '-noout', '-text'])).stdout;
      assert.match(text, /Version: 3 \(0x2\)/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text, /Subject: CN\s?=\s?tandem-b/);
      assert.match(text, /ASN1 OID: prime256v1/);
      assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature/);
      assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
      assert.match(text, /DNS:tandem-b\.example, IP Address:203\.0\.113\.9/);
      const fp = (await run('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256'])).stdout;
      assert.equal(fp.trim().replace(/^sha256 Fingerprint=/i, ''), made.fingerprintSha256);
      // openssl verifies the self-signature against itself as the trust anchor.
      const verified = await run('openssl', ['verify', '-CAfile', file, '-partial_chain', file]);
      assert.match(verified.stdout, /: OK/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('completes a mutual TLS handshake on loopback, each side pinning the other by fingerprint', async () => {
    const server = await makeSelfSignedCertificate({ commonName: 'node-a', ipAddresses: ['127.0.0.1'], now: new Date() });
    const client = await makeSelfSignedCertificate({ commonName: 'node-b', now: new Date() });
    const stranger = await makeSelfSignedCertificate({ commonName: 'node-c', now: new Date() });

    const seenByServer: string[] = [];
    const tlsServer = createServer(
      { cert: server.certPem, key: server.keyPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' },
      (socket: TLSSocket) => {
        const peer = socket.getPeerCertificate();
        const fp = peer && 'fingerprint256' in peer ? peer.fingerprint256 : '';
        seenByServer.push(fp);
        // Pinning: only the one peer certificate is welcome.
        if (fp !== client.fingerprintSha256) return socket.destroy();
        socket.end('hello node-b');
      },
    );
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const port = (tlsServer.address() as { port: number }).port;

    const talk = (identity: { certPem: string; keyPem: string }, pin: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect({
          host: '127.0.0.1',
          port,
          cert: identity.certPem,
          key: identity.keyPem,
          ca: [server.certPem],
          checkServerIdentity: (_host, cert) =>
            cert.fingerprint256 === pin ? undefined : new Error(`server fingerprint ${cert.fingerprint256} is not the pinned ${pin}`),
        });
        let data = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (data += chunk));
        socket.on('end', () => resolve(data));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });

    try {
      assert.equal(await talk(client, server.fingerprintSha256), 'hello node-b');
      assert.equal(seenByServer[0], client.fingerprintSha256);
      // The wrong pin fails on the client side; the stranger is dropped by the server.
      await assert.rejects(talk(client, stranger.fingerprintSha256), /not the pinned/);
      assert.equal(await talk(stranger, server.fingerprintSha256).catch(() => ''), '');
      assert.equal(seenByServer.at(-1), stranger.fingerprintSha256);
    } finally {
      await new Promise((resolve) => tlsServer.close(resolve));
    }
  });
});

// The API's HTTPS identity: `api.tls` files when configured, otherwise a self-signed certificate
// made on first start and kept in `<node.stateDir>/api/` (key 0600, written atomically), reused
// across restarts so its fingerprint, logged and shown in status, stays what the admin checked.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { FileStore } from '../os/files.js';
import { fingerprintOf, makeSelfSignedCertificate } from '../os/x509.js';

export interface TlsIdentity {
  certPem: string;
  keyPem: string;
  fingerprintSha256: string;
  source: 'configured' | 'selfSigned' | 'selfSignedNew';
  validTo: string;
}

export const CERT_FILE = 'api/cert.pem';
export const KEY_FILE = 'api/key.pem';
/** A self-signed certificate this close to its end is replaced at start. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export interface TlsOptions {
  files: FileStore;
  stateDir: string;
  configured?: { cert: string; key: string };
  /** For the self-signed certificate: CN and DNS name. */
  nodeName: string;
  /** The listen addresses, as IP SANs (wildcards left out). */
  ipAddresses: string[];
  now: Date;
}

export async function loadTlsIdentity(options: TlsOptions): Promise<TlsIdentity> {
  if (options.configured) {
    const certPem = await options.files.read(options.configured.cert);
    const keyPem = await options.files.read(options.configured.key);
    if (certPem === undefined) throw new Error(`api.tls.cert: cannot read ${options.configured.cert}`);
    if (keyPem === undefined) throw new Error(`api.tls.key: cannot read ${options.configured.key}`);
    const cert = parse(certPem, 'api.tls.cert');
    return { certPem, keyPem, fingerprintSha256: cert.fingerprint256, source: 'configured', validTo: new Date(cert.validTo).toISOString() };
  }
  const certPath = join(options.stateDir, CERT_FILE);
  const keyPath = join(options.stateDir, KEY_FILE);
  const certPem = await options.files.read(certPath);
  const keyPem = await options.files.read(keyPath);
  if (certPem !== undefined && keyPem !== undefined) {
    const cert = tryParse(certPem);
    if (cert && new Date(cert.validTo).getTime() - options.now.getTime() > RENEW_BEFORE_MS && matchesKey(cert, keyPem)) {
      return { certPem, keyPem, fingerprintSha256: fingerprintOf(certPem), source: 'selfSigned', validTo: new Date(cert.validTo).toISOString() };
    }
  }
  const made = await makeSelfSignedCertificate({
    commonName: options.nodeName,
    dnsNames: [options.nodeName, 'localhost'],
    ipAddresses: [...new Set(options.ipAddresses.filter((ip) => ip !== '0.0.0.0' && ip !== '::'))],
    days: 3650,
    now: options.now,
  });
  // The key first: a crash between the two writes leaves a certificate without its key, which
  // the check above refuses, so the next start makes a new pair instead of serving a mismatch.
  await options.files.writeAtomic(keyPath, made.keyPem);
  await options.files.writeAtomic(certPath, made.certPem);
  const validTo = new Date(new X509Certificate(made.certPem).validTo).toISOString();
  return { certPem: made.certPem, keyPem: made.keyPem, fingerprintSha256: made.fingerprintSha256, source: 'selfSignedNew', validTo };
}

function parse(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new Error(`${path}: not a PEM certificate (${(error as Error).message})`);
  }
}

function tryParse(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function matchesKey(cert: X509Certificate, keyPem: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

// This node's identity for mutual TLS: a self-signed certificate made on first start
// (firmware/os/x509.ts) and kept in `<stateDir>/sync/`, so its fingerprint, which the peers pin,
// stays the same across restarts. Written once; never rewritten while it reads back whole.

import { join } from 'node:path';
import type { FileStore } from '../os/files.js';
import { fingerprintOf, makeSelfSignedCertificate } from '../os/x509.js';

export interface NodeIdentity {
  certPem: string;
  keyPem: string;
  /** `AB:CD:...`, as `openssl x509 -fingerprint -sha256` prints it; what the peer's config pins. */
  fingerprint: string;
  created: boolean;
}

export async function loadOrCreateIdentity(files: FileStore, stateDir: string, nodeName: string, now: Date, ipAddresses: string[]): Promise<NodeIdentity> {
  const dir = join(stateDir, 'sync');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const [certPem, keyPem] = await Promise.all([files.read(certPath), files.read(keyPath)]);
  if (certPem?.includes('BEGIN CERTIFICATE') && keyPem?.includes('PRIVATE KEY')) {
    return { certPem, keyPem, fingerprint: fingerprintOf(certPem), created: false };
  }
  const made = await makeSelfSignedCertificate({ commonName: nodeName, ipAddresses, now });
  // Key first: a power cut between the two writes leaves no certificate without its key.
  await files.writeAtomic(keyPath, made.keyPem);
  await files.writeAtomic(certPath, made.certPem);
  return { certPem: made.certPem, keyPem: made.keyPem, fingerprint: made.fingerprintSha256, created: true };
}

// The `sync.config` keys (issue 13 item 2): which vhid's MASTER pushes the shared sections, where
// this node listens for pushes, and its peers with the proof each must give (a pinned certificate
// fingerprint for mutual TLS, or one pre-shared key for TLS-PSK). Semantic checks are below.

import { isIP } from 'node:net';
import { optional, s, type ConfigIssue, type Infer, type StringRule } from '../config/kit.js';

const isAddress: StringRule = (v) => (isIP(v) ? undefined : 'must be an IPv4 or IPv6 address');
const isNodeName: StringRule = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(v) ? undefined : 'must be 1-63 characters: letters, digits, _ . -';

/** SHA-256 of the DER certificate: 64 hex digits, with or without colons (openssl and Node print colons). */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/:/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

const isFingerprint: StringRule = (v) =>
  normalizeFingerprint(v) ? undefined : 'must be a SHA-256 certificate fingerprint: 64 hex digits, colons allowed (as `tandem sync status` prints it)';

// TLS-PSK keys are used as-is by OpenSSL; below 16 bytes a guessed key is within reach.
const isPsk: StringRule = (v) => (Buffer.byteLength(v, 'utf8') >= 16 && Buffer.byteLength(v, 'utf8') <= 256 ? undefined : 'must be 16-256 bytes');

const peer = s
  .object({
    name: s.string('a node name', isNodeName).describe("The peer's node.name; with a PSK it is also the TLS-PSK identity it presents."),
    address: s.string('an IP address', isAddress).describe("The peer's address where it listens for pushes (its sync.config.address)."),
    port: optional(s.int(1, 65535).describe('TCP port the peer listens on.'), 7443),
    fingerprint: optional(
      s
        .string('a SHA-256 fingerprint', isFingerprint)
        .describe("The peer's certificate fingerprint (shown by `tandem sync status` on the peer): mutual TLS accepts exactly this certificate. Without it and without a psk the peer is refused."),
    ),
  })
  .describe('One peer of the pair (or trio).');

export const configSyncSchema = s
  .object({
    vhid: s.int(1, 255).describe('The MASTER of this CARP vhid pushes the shared sections to its peers.', { example: 42 }),
    address: s.string('an IP address', isAddress).describe('This node listens for pushes on this address (a sync or management link).'),
    port: optional(s.int(1, 65535).describe('TCP port it listens on.', { requiresRestart: true }), 7443),
    peers: s.list(peer, 1).describe('The other nodes; a push goes to each of them.'),
    psk: optional(
      s
        .string('a key of 16-256 bytes', isPsk)
        .describe('Pre-shared key for TLS-PSK (ECDHE-PSK, TLS 1.2) instead of pinned certificates; the same on every node. Keep the file mode 0600.'),
    ),
    checkSeconds: optional(
      s.int(1, 86_400).describe('The master checks an in-sync peer this often, so a peer that comes back with an older config is brought up to date.'),
      30,
    ),
    retrySeconds: optional(s.int(1, 3600).describe('The master retries an unreachable or not yet applied peer this often.'), 5),
    timeoutSeconds: optional(s.int(1, 120).describe('One push (connect, check and apply on the peer) may take this long.'), 20),
  })
  .describe('Config sync: the shared sections (firewall, balancer, power, telemetry) go from the master to its peers (README "Config sync").');

export type ConfigSyncConfig = Infer<typeof configSyncSchema>;
export type ConfigSyncPeer = ConfigSyncConfig['peers'][number];

/** Checks across fields: the vhid must exist, and each peer needs a proof of identity. */
export function configSyncIssues(config: {
  node: { name: string };
  carp: readonly { vhid: number }[];
  sync?: { config?: ConfigSyncConfig | undefined } | undefined;
}): ConfigIssue[] {
  const sync = config.sync?.config;
  if (!sync) return [];
  const issues: ConfigIssue[] = [];
  if (!config.carp.some((c) => c.vhid === sync.vhid)) {
    issues.push({ path: 'sync.config.vhid', message: `no carp entry has vhid ${sync.vhid}; only the MASTER of a configured vhid can push` });
  }
  const names = new Set<string>();
  sync.peers.forEach((p, i) => {
    if (p.name === config.node.name) issues.push({ path: `sync.config.peers[${i}].name`, message: `${p.name} is this node (node.name)` });
    if (names.has(p.name)) issues.push({ path: `sync.config.peers[${i}].name`, message: `${p.name} is listed twice` });
    names.add(p.name);
    if (p.address === sync.address) issues.push({ path: `sync.config.peers[${i}].address`, message: `${p.address} is this node's own sync.config.address` });
  });
  return issues;
}

/** Whether a reload changed `sync.config` so that the service must be made again (added, removed, moved). */
export function configSyncRestart(before: { sync?: { config?: ConfigSyncConfig | undefined } | undefined }, after: { sync?: { config?: ConfigSyncConfig | undefined } | undefined }): boolean {
  const a = before.sync?.config;
  const b = after.sync?.config;
  if (!a || !b) return a !== b;
  return a.address !== b.address || a.port !== b.port;
}

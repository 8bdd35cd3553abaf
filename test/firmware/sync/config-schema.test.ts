// sync.config through the real loader: defaults, errors with paths for bad fingerprints and keys,
// and the cross-field checks (the vhid exists, a peer is not this node, no peer twice).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { configSyncRestart, normalizeFingerprint } from '../../../firmware/sync/config-schema.js';

const base = (sync: string) => `node: { name: fw-a }
carp:
  - { vhid: 42, interface: eth0, addresses: [198.51.100.100/24], password: labsecret }
sync:
  config:
${sync}`;

function issues(text: string): string[] {
  const result = parseConfig(text);
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('sync.config', () => {
  it('fills in the defaults', () => {
    const result = parseConfig(base('    vhid: 42\n    address: 198.51.100.11\n    peers: [{ name: fw-b, address: 198.51.100.12 }]\n'));
    assert.ok(result.ok);
    const sync = result.config.sync!.config!;
    assert.equal(sync.port, 7443);
    assert.equal(sync.peers[0]!.port, 7443);
    assert.deepEqual([sync.checkSeconds, sync.retrySeconds, sync.timeoutSeconds], [30, 5, 20]);
  });

  it('names the path of a bad fingerprint, a short key and an unknown vhid', () => {
    const found = issues(base('    vhid: 7\n    address: 198.51.100.11\n    psk: short\n    peers: [{ name: fw-b, address: 198.51.100.12, fingerprint: "AB:CD" }]\n'));
    assert.ok(found.some((i) => i.startsWith('sync.config.psk: must be 16-256 bytes')), found.join('\n'));
    assert.ok(found.some((i) => i.startsWith('sync.config.peers[0].fingerprint: must be a SHA-256 certificate fingerprint')), found.join('\n'));
    const vhid = issues(base('    vhid: 7\n    address: 198.51.100.11\n    peers: [{ name: fw-b, address: 198.51.100.12 }]\n'));
    assert.deepEqual(vhid, ['sync.config.vhid: no carp entry has vhid 7; only the MASTER of a configured vhid can push']);
  });

  it('refuses this node as its own peer and a peer listed twice', () => {
    const found = issues(base('    vhid: 42\n    address: 198.51.100.11\n    peers:\n      - { name: fw-a, address: 198.51.100.12 }\n      - { name: fw-b, address: 198.51.100.11 }\n      - { name: fw-b, address: 198.51.100.13 }\n'));
    assert.deepEqual(found, [
      'sync.config.peers[0].name: fw-a is this node (node.name)',
      "sync.config.peers[1].address: 198.51.100.11 is this node's own sync.config.address",
      'sync.config.peers[2].name: fw-b is listed twice',
    ]);
  });

  it('reads fingerprints as openssl and node print them', () => {
    const hex = 'ab'.repeat(32);
    assert.equal(normalizeFingerprint(hex.toUpperCase().match(/../g)!.join(':')), hex);
    assert.equal(normalizeFingerprint(hex.slice(2)), undefined);
  });

  it('restarts the service only when it is added, removed or moved', () => {
    const a = { sync: { config: { address: '198.51.100.11', port: 7443 } } } as never;
    assert.equal(configSyncRestart(a, a), false);
    assert.equal(configSyncRestart(a, { sync: { config: { address: '198.51.100.11', port: 7444 } } } as never), true);
    assert.equal(configSyncRestart(a, {}), true);
    assert.equal(configSyncRestart({}, {}), false);
  });
});

// Unit tests for the shared part of a config: what travels, what stays per node, the canonical
// hash, the zone-by-name merge, the interface check and the line diff.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCandidate, parseSyncRequest } from '../../../firmware/sync/config-apply.js';
import { canonicalJson, extractShared, lineDiff, mergeShared, sharedHash, zoneHints } from '../../../firmware/sync/config-shared.js';
import { FakeInterfaces } from '../../../firmware/sync/peer-interfaces.js';
import { nodeConfig, parsed } from './config-fixtures.js';

describe('shared config', () => {
  it('leaves out node, carp and the per-node keys, so two nodes of one pair hash the same', () => {
    const a = parsed(nodeConfig('fw-a', { advskew: 0 }));
    const b = parsed(nodeConfig('fw-b', { advskew: 100, lan: 'enp2s0' }));
    const sa = extractShared(a);
    assert.deepEqual(Object.keys(sa).sort(), ['balancer', 'firewall', 'telemetry']);
    assert.equal((sa.firewall as { zones: { lan: Record<string, unknown> } }).zones.lan.interfaces, undefined);
    assert.equal((sa.firewall as { zones: { lan: Record<string, unknown> } }).zones.lan.addresses, undefined);
    assert.equal((sa.telemetry as { mqtt: Record<string, unknown> }).mqtt.clientId, undefined);
    assert.equal(sharedHash(sa), sharedHash(extractShared(b)));
  });

  it('hashes content, not key order or formatting, and changes with any shared value', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
    const a = extractShared(parsed(nodeConfig('fw-a')));
    const changed = extractShared(parsed(nodeConfig('fw-a', { extraRule: '    - { action: pass, on: lan, proto: tcp, to: { port: 80 } }' })));
    assert.notEqual(sharedHash(a), sharedHash(changed));
  });

  it('maps zones by name: the peer keeps its own interfaces and addresses whatever the order', () => {
    const master = parsed(nodeConfig('fw-a', { extraRule: '    - { action: pass, on: lan, proto: tcp, to: { port: 80 } }' }));
    const localText = nodeConfig('fw-b', { lan: 'enp2s0', wan: 'enp1s0' });
    const local = parsed(localText);
    const merged = mergeShared({}, local, extractShared(master), zoneHints(master)) as { firewall: { zones: Record<string, { interfaces: string[]; addresses: string[] }>; rules: unknown[] } };
    assert.deepEqual(merged.firewall.zones.lan!.interfaces, ['enp2s0']);
    assert.deepEqual(merged.firewall.zones.wan!.interfaces, ['enp1s0']);
    assert.deepEqual(merged.firewall.zones.lan!.addresses, ['203.0.113.3/24']);
    assert.equal(merged.firewall.rules.length, 2);
  });

  it("builds the peer's candidate: its comments and node/carp kept, checked like tandem check", async () => {
    const master = parsed(nodeConfig('fw-a', { extraRule: '    - { action: pass, on: lan, proto: tcp, to: { port: 80 } }' }));
    const localText = nodeConfig('fw-b', { lan: 'enp2s0', advskew: 100 });
    const shared = extractShared(master);
    const candidate = await buildCandidate(localText, parsed(localText), shared, zoneHints(master), sharedHash(shared), new FakeInterfaces(['lo', 'eth0', 'enp2s0']));
    assert.equal(candidate.ok, true, JSON.stringify(candidate));
    if (!candidate.ok) return;
    assert.match(candidate.text, /# fw-b: kept as written/);
    assert.equal(candidate.config.node.name, 'fw-b');
    assert.equal(candidate.config.carp[0]!.advskew, 100);
    assert.equal(candidate.config.firewall!.rules.length, 2);
    assert.equal(candidate.config.telemetry!.mqtt!.clientId, 'client-fw-b');
    assert.equal(sharedHash(extractShared(candidate.config)), sharedHash(shared));
  });

  it('a new zone takes the master interface names, and one the peer lacks is refused by path', async () => {
    const master = parsed(nodeConfig('fw-a').replace('  rules:', '    dmz:\n      interfaces: [eth9]\n  rules:'));
    const localText = nodeConfig('fw-b');
    const shared = extractShared(master);
    const refused = await buildCandidate(localText, parsed(localText), shared, zoneHints(master), sharedHash(shared), new FakeInterfaces(['lo', 'eth0', 'eth1']));
    assert.deepEqual(refused, { ok: false, issues: ['firewall.zones.dmz.interfaces[0]: this node has no interface eth9'] });
    const taken = await buildCandidate(localText, parsed(localText), shared, zoneHints(master), sharedHash(shared), new FakeInterfaces(['lo', 'eth0', 'eth1', 'eth9']));
    assert.equal(taken.ok, true);
  });

  it('refuses a candidate that tandem check would refuse, with the path', async () => {
    const master = parsed(nodeConfig('fw-a'));
    const shared = extractShared(master) as { firewall: { rules: unknown[] } };
    shared.firewall.rules.push({ action: 'pass', on: 'nosuchzone' });
    const localText = nodeConfig('fw-b');
    const result = await buildCandidate(localText, parsed(localText), shared, zoneHints(master), sharedHash(shared), new FakeInterfaces(['eth0', 'eth1']));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.match(result.issues.join('\n'), /^firewall\.rules\[1\]\.on/m);
  });

  it('diffs line by line', () => {
    assert.deepEqual(lineDiff('a\nb\nc', 'a\nc\nd'), ['  a', '- b', '  c', '+ d']);
  });

  it('checks the shape of requests before acting on them', () => {
    assert.deepEqual(parseSyncRequest({ type: 'fetch' }), { type: 'fetch' });
    assert.match((parseSyncRequest({ type: 'push', shared: { node: {} }, hints: { zones: {} }, lineage: { hash: 'a'.repeat(64), generation: 1, ancestors: [] } }) as { error: string }).error, /node is not a shared section/);
    assert.match((parseSyncRequest({ type: 'push', shared: {}, hints: { zones: {} }, lineage: { hash: 'xyz', generation: 1, ancestors: [] } }) as { error: string }).error, /lineage/);
  });
});

// `tandem sync status|diff|push [--force]`: argument parsing, the control request's shape, and
// the status lines an admin reads (fingerprint to pin, refusals, each peer's reason).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '../../../firmware/cli.js';
import { parseRequest } from '../../../firmware/control/protocol.js';
import { formatSyncStatus } from '../../../firmware/sync/config-client.js';

describe('tandem sync', () => {
  it('parses status, diff and push [--force]', () => {
    assert.deepEqual(parseArgs(['sync', 'status', '--json']), { kind: 'sync-status', json: true, config: undefined, control: undefined });
    assert.deepEqual(parseArgs(['sync', 'push', '--force']), { kind: 'sync-push', force: true, json: false, config: undefined, control: undefined });
    assert.equal((parseArgs(['sync', 'diff']) as { kind: string }).kind, 'sync-diff');
    assert.throws(() => parseArgs(['sync', 'status', '--force']), /--force goes with sync push only/);
    assert.throws(() => parseArgs(['sync']), /sync needs status, diff or push/);
  });

  it('the control protocol carries force as a boolean and refuses anything else', () => {
    assert.deepEqual(parseRequest('{"cmd":"sync-push","force":true}'), { cmd: 'sync-push', force: true });
    assert.deepEqual(parseRequest('{"cmd":"sync-push"}'), { cmd: 'sync-push', force: false });
    assert.deepEqual(parseRequest('{"cmd":"sync-push","force":"yes"}'), { error: 'sync-push: "force" must be true or false' });
    assert.deepEqual(parseRequest('{"cmd":"sync-diff"}'), { cmd: 'sync-diff' });
  });

  it('status shows the fingerprint to pin, refusals and why a peer refused', () => {
    const lines = formatSyncStatus({
      vhid: 42, role: 'MASTER', hash: 'ab'.repeat(32), generation: 3, auth: 'certificate', fingerprint: 'AA:BB', listen: '198.51.100.11:7443', listening: true,
      refused: { badKey: 0, unknownIdentity: 0, badCertificate: 2, badRequest: 0 },
      peers: [{ name: 'fw-b', address: '198.51.100.12', outcome: 'refused', detail: 'firewall.zones.dmz.interfaces[0]: this node has no interface eth9', pushes: 1, failures: 0 }],
    });
    const text = lines.join('\n');
    assert.match(text, /pin it on the peers\): AA:BB/);
    assert.match(text, /badCertificate 2/);
    assert.match(text, /peer fw-b \(198\.51\.100\.12\): refused\n {4}firewall\.zones\.dmz\.interfaces\[0\]: this node has no interface eth9/);
  });
});

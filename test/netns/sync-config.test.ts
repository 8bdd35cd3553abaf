// Config sync between two real Tandem daemons (the built bundle) in network namespaces (issue 13
// "Done when" 2 and 3): certificates made on first start and pinned from status; a firewall edit
// on the master is in the backup's nftables within seconds; a change naming an interface the
// backup lacks is refused with the reason on the master; a wrong certificate is refused and counted.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../firmware/config/load.js';
import { fingerprintOf, makeSelfSignedCertificate } from '../../firmware/os/x509.js';
import { eventually, requireRoot } from './lab.js';
import { BUNDLE, bundleCommand, labPerTest } from './peers.js';
import { SyncNode, startPinnedPair } from './sync-config-lab.js';

function cli(node: SyncNode, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [first, ...rest] = bundleCommand();
    execFile(process.execPath, [first!, ...rest, ...args, '--control', node.socket], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('config sync between two Tandem daemons', { concurrency: false }, () => {
  const { lab, work } = labPerTest(2);

  /** The ruleset of a host once it has a rule to `port` (a taken push is in force a moment after its hash shows). */
  const rulePresent = (host: number, port: number) =>
    eventually(`a rule to port ${port} in h${host}'s nftables`, async () => {
      const { stdout } = await lab().exec(host, 'nft', ['list', 'ruleset']);
      return new RegExp(`dport ${port}\\b`).test(stdout) ? stdout : undefined;
    }, 10_000);

  /** Cuts (or heals) h2 off from h1 in h2's own table, which Tandem's reloads leave alone. */
  const partition = async (on: boolean) => {
    const master = lab().host(1).ipv4;
    const script = on
      ? `table inet partition {\n chain in { type filter hook input priority -10; ip saddr ${master} drop; }\n chain out { type filter hook output priority -10; ip daddr ${master} drop; }\n}\n`
      : 'delete table inet partition\n';
    await lab().exec(2, 'sh', ['-c', `printf '%s' "$0" | nft -f -`, script]);
  };

  it('pins certificates made on first start; a firewall edit on the master is in force on the backup; a lacking interface is refused', async (t) => {
    if (!requireRoot(t)) return;
    assert.ok(BUNDLE);
    const { master, backup } = await startPinnedPair(lab(), work());

    // Certificates were made on first start in <stateDir>/sync/ and status shows their fingerprints.
    const certA = await readFile(join(work().file('fw-a'), 'state', 'sync', 'cert.pem'), 'utf8');
    assert.equal((await master.sync()).fingerprint, fingerprintOf(certA));

    // Pinned: the pair agrees at once (same shared sections, each with its own zone addresses).
    await eventually('the master to see the backup in sync', async () => {
      const peer = (await master.sync()).peers[0]!;
      return peer.outcome === 'in-sync' ? peer : undefined;
    }, 10_000);
    assert.equal((await backup.sync()).hash, (await master.sync()).hash);

    // A firewall edit on the master reaches the backup's kernel.
    const before = (await lab().exec(2, 'nft', ['list', 'ruleset'])).stdout;
    assert.doesNotMatch(before, /dport 8080/);
    const hashBefore = (await master.sync()).hash;
    await master.edit((c) => c.firewall.rules.push({ action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: 8080 }, label: 'pushed' }));
    const started = Date.now();
    await eventually('the master to record its edit', async () => ((await master.sync()).hash !== hashBefore ? true : undefined), 10_000);
    await backup.waitForHash((await master.sync()).hash, 10_000);
    await eventually('the pushed rule in the backup nftables', async () => {
      const { stdout } = await lab().exec(2, 'nft', ['list', 'ruleset']);
      return /tcp dport 8080/.test(stdout) ? stdout : undefined;
    }, 10_000);
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`firewall edit on the master in force on the backup after ${seconds.toFixed(2)} s`);
    assert.ok(seconds < 10);
    const backupFile = await readFile(backup.configPath, 'utf8');
    const taken = parseConfig(backupFile);
    assert.ok(taken.ok, 'the file the backup wrote passes tandem check');
    assert.deepEqual(taken.config.firewall!.zones.wan!.addresses, ['198.51.100.12/24'], "the backup's own zone address stays");
    assert.equal(taken.config.carp[0]!.advskew, 100, "the backup's own CARP settings stay in its file");
    assert.equal(taken.config.node.name, 'fw-b');

    // The master adds a zone on an interface only it has: the backup refuses, says why, keeps its config.
    await lab().exec(1, 'ip', ['link', 'add', 'dmz0', 'type', 'veth', 'peer', 'name', 'dmz1']);
    const backupHash = (await backup.sync()).hash;
    await master.edit((c) => {
      c.firewall.zones.dmz = { interfaces: ['dmz0'] };
      c.firewall.rules.push({ action: 'pass', direction: 'in', on: 'dmz', proto: 'tcp', to: { self: true, port: 9090 } });
    });
    const refused = await eventually('the master to show the refusal', async () => {
      const peer = (await master.sync()).peers[0]!;
      return peer.outcome === 'refused' ? peer : undefined;
    }, 10_000);
    assert.equal(refused.detail, 'firewall.zones.dmz.interfaces[0]: this node has no interface dmz0');
    const shown = await cli(master, ['sync', 'status']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /peer fw-b \(198\.51\.100\.12\): refused[^\n]*\n\s+firewall\.zones\.dmz\.interfaces\[0\]: this node has no interface dmz0/);
    assert.equal((await backup.sync()).hash, backupHash);
    assert.equal(await readFile(backup.configPath, 'utf8'), backupFile, "the backup's file is untouched");
    const still = (await lab().exec(2, 'nft', ['list', 'ruleset'])).stdout;
    assert.match(still, /tcp dport 8080/, "the backup's running ruleset stays");
    assert.doesNotMatch(still, /dport 9090/);
    const diff = await cli(master, ['sync', 'diff']);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /\+\s+"dmz"/);
    const push = await cli(master, ['sync', 'push']);
    assert.equal(push.code, 1, 'a push that did not land exits 1');
    assert.match(push.stdout, /refused/);
  });

  it('a peer with a wrong certificate is refused and counted; the master shows it', async (t) => {
    if (!requireRoot(t)) return;
    const { master, backup } = await startPinnedPair(lab(), work());
    // 30 s: a first push that finds the peer not yet listening waits out retrySeconds (5) on both
    // sides; a clean-clone run under load took longer than the 10 s this allowed before.
    await eventually('in sync', async () => ((await master.sync()).peers[0]!.outcome === 'in-sync' ? true : undefined), 30_000);
    // The backup now pins a certificate that is not the master's.
    const stranger = await makeSelfSignedCertificate({ commonName: 'stranger', now: new Date() });
    await backup.edit((c) => (c.sync.config.peers[0]!.fingerprint = stranger.fingerprintSha256));
    await eventually('the backup to pin the stranger', async () => ((await backup.sync()).listening ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    await master.edit((c) => c.firewall.rules.push({ action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: 8081 } }));
    const peer = await eventually('the master to show the refusal', async () => {
      const p = (await master.sync()).peers[0]!;
      return p.outcome === 'auth-failed' ? p : undefined;
    }, 10_000);
    assert.match(peer.detail!, /certificate not accepted/);
    const refused = (await backup.sync()).refused;
    assert.ok(refused.badCertificate >= 1, JSON.stringify(refused));
    const { stdout } = await lab().exec(2, 'nft', ['list', 'ruleset']);
    assert.doesNotMatch(stdout, /dport 8081/);

    // TLS-PSK instead: a wrong key is refused and counted the same way.
    await backup.edit((c) => (c.sync.config.psk = 'the backup key, not the same'));
    await master.edit((c) => (c.sync.config.psk = 'the master key, 16+ bytes long'));
    const byKey = await eventually('the master to show the PSK refusal', async () => {
      const s = await master.sync();
      return s.auth === 'psk' && s.peers[0]!.outcome === 'auth-failed' && /SSL/.test(s.peers[0]!.detail ?? '') ? s.peers[0]! : undefined;
    }, 10_000);
    assert.ok(byKey.failures >= 1);
    await eventually('the backup to count the bad key', async () => ((await backup.sync()).refused.badKey >= 1 ? true : undefined), 10_000);
    // The same key: the pending change lands.
    await backup.edit((c) => (c.sync.config.psk = 'the master key, 16+ bytes long'));
    await backup.waitForHash((await master.sync()).hash, 10_000);
    await rulePresent(2, 8081);
  });

  it('a backup that restarts with an older config is brought up to date; edits apart are diverged until push --force', async (t) => {
    if (!requireRoot(t)) return;
    const { master, backup } = await startPinnedPair(lab(), work());
    await eventually('in sync', async () => ((await master.sync()).peers[0]!.outcome === 'in-sync' ? true : undefined), 30_000);

    // The backup is down while the master's config changes; it comes back with its old file.
    await backup.terminate();
    await master.edit((c) => c.firewall.rules.push({ action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: 8080 } }));
    await eventually('the master to miss the backup', async () => ((await master.sync()).peers[0]!.outcome === 'unreachable' ? true : undefined), 10_000);
    const again = await SyncNode.start(lab(), 2, work(), backup.config);
    await again.waitForHash((await master.sync()).hash, 10_000);
    await rulePresent(2, 8080);

    // A partition (links up, nothing from or to the master passes): both become MASTER and each
    // is edited; after it heals the master reports diverged.
    await partition(true);
    await again.waitForState('MASTER', 10_000);
    await master.edit((c) => c.firewall.rules.push({ action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: 8081 } }));
    await again.edit((c) => c.firewall.rules.push({ action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: 8082 } }));
    await eventually('the backup to record its own edit', async () => {
      const s = await again.sync();
      return s.hash !== (await master.sync()).hash && s.generation >= 3 ? true : undefined;
    }, 10_000);
    await partition(false);
    await again.waitForState('BACKUP', 15_000);
    let seen = '';
    const diverged = await eventually('the master to report diverged', async () => {
      const p = (await master.sync()).peers[0]!;
      seen = JSON.stringify({ master: p, backup: await again.sync() });
      return p.outcome === 'diverged' ? p : undefined;
    }, 15_000).catch((error: Error) => {
      const logs = (n: SyncNode) => n.output.split('\n').filter((l) => /sync|config|SIGHUP|transition|MASTER/.test(l)).join('\n');
      throw new Error(`${error.message}; last seen ${seen}\nMASTER LOG\n${logs(master)}\nBACKUP LOG\n${logs(again)}`);
    });
    assert.match(diverged.detail!, /sync push --force/);
    let rules = (await lab().exec(2, 'nft', ['list', 'ruleset'])).stdout;
    assert.match(rules, /dport 8082/, 'the backup kept its own edit: never silently overwritten');
    assert.doesNotMatch(rules, /dport 8081/);
    const diff = await cli(master, ['sync', 'diff']);
    assert.match(diff.stdout, /-\s+"port": \[?\s*8082|8082/);

    const forced = await cli(master, ['sync', 'push', '--force']);
    assert.equal(forced.code, 0, forced.stdout + forced.stderr);
    assert.match(forced.stdout, /applied/);
    await again.waitForHash((await master.sync()).hash, 10_000);
    rules = await rulePresent(2, 8081);
    assert.doesNotMatch(rules, /dport 8082/);
  });
});

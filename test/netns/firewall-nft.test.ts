// nftables in a throwaway namespace: every golden ruleset and every kind of table update is
// accepted by the kernel (`nft -c`, then loaded for real), the Linux NftPort passes the same
// contract as the in-memory fake, and our file leaves other tables alone. Needs root.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../firmware/config/load.js';
import { LinuxNftPort } from '../../firmware/firewall/linux.js';
import { compile } from '../../firmware/firewall/model.js';
import { renderNft, renderRemoval, renderTableUpdate } from '../../firmware/firewall/render-nft.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { nftContract } from '../firmware/firewall/nft-contract.js';
import { scratchNamespace, sh } from './firewall-lab.js';
import { netnsUnavailable } from './lab.js';
import { BUNDLE } from './peers.js';

const FIXTURES = new URL('../fixtures/firewall/', import.meta.url);
const skip = netnsUnavailable();

if (!skip) {
  nftContract('LinuxNftPort (nft in a namespace)', async () => {
    const ns = await scratchNamespace('c');
    return { port: new LinuxNftPort(new LinuxProcessRunner(), ['ip', 'netns', 'exec', ns.name, 'nft']), dispose: () => ns.dispose() };
  });
}

describe('nftables rulesets in the kernel', { skip }, () => {
  let ns: { name: string; dispose(): Promise<void> };
  const nft = (args: string[], input?: string) => sh('ip', ['netns', 'exec', ns.name, 'nft', ...args], input !== undefined ? { input } : {});

  before(async () => {
    ns = await scratchNamespace('k');
  });
  after(async () => {
    await ns?.dispose();
  });

  it('accepts every golden ruleset with nft -c, and loads it', async () => {
    const goldens = (await readdir(FIXTURES)).filter((f) => f.endsWith('.nft.golden')).sort();
    assert.ok(goldens.length >= 3);
    for (const file of goldens) {
      const text = await readFile(new URL(file, FIXTURES), 'utf8');
      const checked = await nft(['-c', '-f', '-'], text);
      assert.equal(checked.code, 0, `${file}: ${checked.stderr}`);
      const loaded = await nft(['-f', '-'], text);
      assert.equal(loaded.code, 0, `${file}: ${loaded.stderr}`);
    }
  });

  it('takes every kind of table update in place on the loaded dmz-balancer ruleset', async () => {
    const parsed = parseConfig(await readFile(new URL('dmz-balancer.yaml', FIXTURES), 'utf8'));
    assert.ok(parsed.ok);
    const { policy } = compile(parsed.config);
    assert.ok(policy);
    assert.equal((await nft(['-f', '-'], renderNft(policy))).code, 0);
    const web = policy.tables.find((t) => t.name === 'web')!;
    const trusted = policy.tables.find((t) => t.name === 'trusted')!;
    const steps: [typeof web, string[], string[] | undefined][] = [
      [web, ['198.51.100.130', '198.51.100.132', '2001:db8:2::131', '2001:db8:2::131'], web.members],
      [web, [], ['198.51.100.130', '198.51.100.132', '2001:db8:2::131', '2001:db8:2::131']],
      [web, Array.from({ length: 60 }, (_, i) => `198.51.100.${130 + i}`), undefined],
      [trusted, ['203.0.113.0/25', '203.0.113.200', '2001:db8:ff::/48'], []],
      [trusted, ['203.0.113.200'], ['203.0.113.0/25', '203.0.113.200', '2001:db8:ff::/48']],
    ];
    for (const [table, next, previous] of steps) {
      const script = renderTableUpdate(table, next, previous);
      const result = await nft(['-f', '-'], script);
      assert.equal(result.code, 0, `${script}\n${result.stderr}`);
    }
    const listed = await nft(['list', 'set', 'inet', 'tandem', 'web-v4']);
    assert.match(listed.stdout, /198\.51\.100\.189/);
  });

  it('without a daemon, tandem firewall apply loads from the CLI and, unconfirmed, reverts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-fw-cli-'));
    try {
      const config = join(dir, 'fw.yaml');
      await writeFile(config, (await readFile(new URL('minimal.yaml', FIXTURES), 'utf8')) + `control: { socket: ${join(dir, 'none.sock')} }\n`);
      assert.equal((await nft(['-f', '-'], renderRemoval())).code, 0);
      const cli = (args: string[], input: string) => sh('ip', ['netns', 'exec', ns.name, process.execPath, BUNDLE, 'firewall', 'apply', '--config', config, ...args], { input });
      const plain = await cli([], '');
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stderr, /no daemon is running; loading the ruleset from here/);
      assert.match((await nft(['list', 'table', 'inet', 'tandem'])).stdout, /masquerade/);
      assert.equal((await nft(['-f', '-'], renderRemoval())).code, 0);

      const unconfirmed = await cli(['--confirm-within', '2'], '');
      assert.equal(unconfirmed.code, 1);
      assert.match(unconfirmed.stderr, /not confirmed: .*back to no Tandem table/);
      assert.notEqual((await nft(['list', 'table', 'inet', 'tandem'])).code, 0, 'reverted to no table');

      const confirmed = await cli(['--confirm-within', '5'], 'yes\n');
      assert.equal(confirmed.code, 0, confirmed.stderr);
      assert.match(confirmed.stdout, /firewall: confirmed/);
      assert.equal((await nft(['list', 'table', 'inet', 'tandem'])).code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('replaces only its own table: another table survives load and removal', async () => {
    assert.equal((await nft(['-f', '-'], 'table inet other {\n\tchain c {\n\t\ttype filter hook input priority 10; policy accept;\n\t}\n}\n')).code, 0);
    const golden = await readFile(new URL('ha-router.nft.golden', FIXTURES), 'utf8');
    assert.equal((await nft(['-f', '-'], golden)).code, 0);
    assert.equal((await nft(['-f', '-'], golden)).code, 0, 'loading twice replaces');
    assert.equal((await nft(['-f', '-'], renderRemoval())).code, 0);
    const tables = (await nft(['list', 'tables'])).stdout;
    assert.match(tables, /table inet other/);
    assert.doesNotMatch(tables, /table inet tandem/);
  });
});

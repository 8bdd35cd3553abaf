// The NftPort contract, one suite for the in-memory fake (unit tier) and the Linux adapter in a
// throwaway namespace (netns tier): scripts are all or nothing, check changes nothing, a
// rejected ruleset leaves the loaded one, element updates change the sets in place.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { compile, type Policy } from '../../../firmware/firewall/model.js';
import type { NftPort } from '../../../firmware/firewall/ports.js';
import { renderNft, renderRemoval, renderTableUpdate } from '../../../firmware/firewall/render-nft.js';

export function contractPolicy(): Policy {
  const parsed = parseConfig(
    JSON.stringify({
      node: { name: 'contract' },
      carp: [{ vhid: 1, interface: 'eth0', addresses: ['203.0.113.10/24'], password: 'x' }],
      firewall: {
        zones: { wan: { interfaces: ['eth0'] }, lan: { interfaces: ['eth1'], networks: ['198.51.100.0/24'] } },
        tables: { web: { members: ['198.51.100.21', '198.51.100.22'], slots: 8 }, banned: { members: ['203.0.113.66'] } },
        rules: [{ action: 'block', quick: true, from: { table: 'banned' } }],
        forwards: [{ on: 'wan', proto: 'tcp', to: { vip: 1, port: 80 }, rdrTo: { table: 'web', port: 8080 } }],
      },
    }),
  );
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
  const { policy } = compile(parsed.config);
  assert.ok(policy);
  return policy;
}

export interface ContractSubject {
  port: NftPort;
  dispose(): Promise<void>;
}

export function nftContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`NftPort contract: ${name}`, () => {
    let subject: ContractSubject;
    const policy = contractPolicy();
    const web = policy.tables.find((t) => t.name === 'web')!;
    const ruleset = renderNft(policy);
    // A file cut short, as a failed write or a bad edit leaves it.
    const broken = ruleset.slice(0, ruleset.indexOf('chain filter_in'));

    before(async () => {
      subject = await make();
    });
    after(async () => {
      await subject?.dispose();
    });

    it('lists no table before anything is loaded', async () => {
      assert.equal(await subject.port.listTable(), undefined);
    });

    it('check accepts a good ruleset and changes nothing', async () => {
      assert.deepEqual(await subject.port.check(ruleset), { ok: true });
      assert.equal(await subject.port.listTable(), undefined);
    });

    it('run loads it', async () => {
      assert.deepEqual(await subject.port.run(ruleset), { ok: true });
      const listed = await subject.port.listTable();
      assert.match(listed ?? '', /table inet tandem/);
      assert.match(listed ?? '', /198\.51\.100\.22/);
    });

    it('check and run refuse a broken ruleset, with nft\'s message, and the loaded one stays', async () => {
      const before = await subject.port.listTable();
      const checked = await subject.port.check(broken);
      assert.equal(checked.ok, false);
      assert.ok(!checked.ok && checked.error.length > 0);
      assert.equal((await subject.port.run(broken)).ok, false);
      assert.equal(await subject.port.listTable(), before);
    });

    it('updates elements in place, all or nothing', async () => {
      assert.deepEqual(await subject.port.run(renderTableUpdate(web, ['198.51.100.23'], ['198.51.100.21', '198.51.100.22'])), { ok: true });
      let listed = (await subject.port.listTable()) ?? '';
      assert.match(listed, /198\.51\.100\.23/);
      assert.doesNotMatch(listed, /198\.51\.100\.2[12]\b/);
      // The delete of a member that is not there fails the whole script: .24 is not added.
      const bad = 'add element inet tandem web-v4 { 198.51.100.24 }\ndelete element inet tandem web-v4 { 198.51.100.99 }\n';
      assert.equal((await subject.port.run(bad)).ok, false);
      listed = (await subject.port.listTable()) ?? '';
      assert.doesNotMatch(listed, /198\.51\.100\.24/);
    });

    it('refuses updates of a set that does not exist', async () => {
      assert.equal((await subject.port.run('flush set inet tandem nosuch-v4\n')).ok, false);
    });

    it('removes our table and nothing else', async () => {
      assert.deepEqual(await subject.port.run(renderRemoval()), { ok: true });
      assert.equal(await subject.port.listTable(), undefined);
      assert.deepEqual(await subject.port.run(renderRemoval()), { ok: true }, 'removing twice is fine');
    });
  });
}

// Tandem against Debian's ucarp on one bridged segment: real raw sockets, real adverts.
// Whoever has the lower advskew ends up MASTER, whichever side starts first, and neither side
// ever rejects the other's HMAC.

import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { encodeAdvert } from '../../firmware/carp/codec.js';
import { LinuxPacketPort } from '../../firmware/net/linux-packet.js';
import { eventually, netnsUnavailable, type Lab } from './lab.js';
import { TandemNode, UcarpNode, Workdir, addressesOf, labPerTest } from './peers.js';

const skip = netnsUnavailable();

describe('CARP interop with ucarp', { skip, timeout: 120_000 }, () => {
  const fixture = labPerTest(3);
  let lab: Lab;
  let work: Workdir;
  beforeEach(() => {
    lab = fixture.lab();
    work = fixture.work();
  });

  it('ucarp with the lower advskew takes over from a Tandem master and Tandem yields', async () => {
    const tandem = await TandemNode.start(lab, 1, work, [{ advskew: 100 }]);
    await tandem.waitFor('MASTER');
    await eventually('the VIP on the Tandem host', async () => ((await addressesOf(lab, 1)).includes('198.51.100.100') ? true : undefined));

    const ucarp = await UcarpNode.start(lab, 2, work, { advskew: 10, preempt: true });
    await tandem.waitFor('BACKUP', 42, 10_000);
    await eventually('ucarp to be MASTER', () => (ucarp.isMaster ? true : undefined), 5000);
    await eventually('the VIP to leave the Tandem host', async () =>
      (await addressesOf(lab, 1)).includes('198.51.100.100') ? undefined : true);
    assert.ok((await addressesOf(lab, 2)).includes('198.51.100.100'));

    // Tandem, now BACKUP, hears ucarp's adverts and accepts every one of them.
    await eventually('Tandem to hear ucarp', async () => ((await tandem.status()).carp[0]!.counters.received >= 2 ? true : undefined));
    const counters = (await tandem.status()).carp[0]!.counters;
    assert.equal(counters.badAuth, 0);
    assert.equal(ucarp.sawBadDigest, false, ucarp.output);
    assert.deepEqual(await tandem.hooks(), ['42 BACKUP eth0', '42 MASTER eth0', '42 BACKUP eth0']);

    ucarp.child.kill('SIGTERM');
    await tandem.terminate();
  });

  it('Tandem with the lower advskew (preempt on) takes over from a ucarp master and ucarp yields', async () => {
    const ucarp = await UcarpNode.start(lab, 2, work, { advskew: 100 });
    await eventually('ucarp to be MASTER', () => (ucarp.isMaster ? true : undefined), 8000);

    const tandem = await TandemNode.start(lab, 1, work, [{ advskew: 10, preempt: true }]);
    await tandem.waitFor('MASTER', 42, 5000);
    await eventually('ucarp to go back to BACKUP', () => (/Preferred master advertised/.test(ucarp.output) ? true : undefined), 5000);
    await eventually('the VIP to leave the ucarp host', async () =>
      (await addressesOf(lab, 2)).includes('198.51.100.100') ? undefined : true);
    assert.equal(ucarp.sawBadDigest, false, ucarp.output);
    assert.equal((await tandem.status()).carp[0]!.counters.badAuth, 0);

    // The reverse check: ucarp does reject an advert whose HMAC is wrong, so the clean logs
    // above are meaningful.
    const forger = new LinuxPacketPort({ netns: lab.host(3).netns });
    const channel = await forger.open('eth0', 4);
    try {
      const forged = encodeAdvert(
        { vhid: 42, advbase: 1, advskew: 0, demote: 0, counter: new Uint8Array(8) },
        { password: 'wrongsecret', addresses: ['198.51.100.100/24'] },
      );
      await channel.send('224.0.0.18', forged);
      await eventually('ucarp to reject the forged advert', () => (ucarp.sawBadDigest ? true : undefined), 4000);
    } finally {
      await channel.close();
    }
    ucarp.child.kill('SIGTERM');
    await tandem.terminate();
  });

  it('kill -9 of a ucarp master: the Tandem backup takes over within the CARP formula', async () => {
    const ucarp = await UcarpNode.start(lab, 2, work, { advskew: 0 });
    await eventually('ucarp to be MASTER', () => (ucarp.isMaster ? true : undefined), 8000);
    const tandem = await TandemNode.start(lab, 1, work, [{ advskew: 50 }]);
    await tandem.waitFor('BACKUP');
    await eventually('Tandem to hear ucarp', async () => ((await tandem.status()).carp[0]!.counters.received >= 2 ? true : undefined));

    const killedAt = Date.now();
    ucarp.child.kill('SIGKILL');
    const masterAt = await tandem.waitFor('MASTER', 42, 8000);
    const limit = 3 * 1000 + (50 * 1000) / 256 + 250;
    assert.ok(masterAt - killedAt <= limit, `took ${masterAt - killedAt} ms, limit ${limit.toFixed(0)} ms`);
    await tandem.terminate();
  });
});

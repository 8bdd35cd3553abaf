// Tandem against Tandem on a bridged segment with a client host: failover as a client sees
// it, forged adverts, a partition that heals, bow-out on SIGTERM, IPv6 and the virtual MAC.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeEach, describe, it } from 'node:test';
import { encodeAdvert, internetChecksum } from '../../firmware/carp/codec.js';
import { loadRawAddon } from '../../firmware/net/raw/addon.js';
import { eventually, netnsUnavailable, type Lab } from './lab.js';
import { TandemNode, Workdir, addressesOf, neighbourMac, labPerTest } from './peers.js';

const skip = netnsUnavailable();
const run = promisify(execFile);
const VIP = '198.51.100.100';

describe('CARP between Tandem nodes', { skip, timeout: 180_000 }, () => {
  const fixture = labPerTest(3);
  let lab: Lab;
  let work: Workdir;
  beforeEach(() => {
    lab = fixture.lab();
    work = fixture.work();
  });

  const hasVip = async (host: number, vip = VIP) => ((await addressesOf(lab, host)).includes(vip) ? true : undefined);

  it('kill -9 of the master: the backup owns the VIP and the client reaches it within the CARP formula', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0 }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100 }]);
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');
    await eventually('VIP on h1', () => hasVip(1));
    await lab.exec(3, 'ping', ['-c', '1', '-W', '1', VIP]);
    assert.equal(await neighbourMac(lab, 3, VIP), lab.host(1).mac);

    const killedAt = Date.now();
    a.kill9();
    // The killed daemon leaves its address behind (it still answers); the new master's
    // gratuitous ARP is what moves the client.
    await eventually('the client to reach the VIP at h2', async () => {
      await lab.exec(3, 'ping', ['-c', '1', '-W', '1', VIP]).catch(() => undefined);
      return (await neighbourMac(lab, 3, VIP)) === lab.host(2).mac ? Date.now() : undefined;
    }, 8000, 20);
    const masterAt = await b.waitFor('MASTER');
    const limit = 3 * 1000 + (100 * 1000) / 256 + 250;
    assert.ok(masterAt - killedAt <= limit, `b became MASTER ${masterAt - killedAt} ms after the kill (limit ${limit.toFixed(0)})`);
    assert.ok(await hasVip(2));
    await b.terminate();
  });

  it('a backup stopped for a second (SIGSTOP) hears the adverts queued meanwhile before its master-down timer may fire', async () => {
    // advbase 0: 3.9 ms adverts and a 234 ms master-down, so the stop lasts four master-downs.
    const a = await TandemNode.start(lab, 1, work, [{ advbase: 0, advskew: 1 }]);
    await a.waitFor('MASTER');
    const b = await TandemNode.start(lab, 2, work, [{ advbase: 0, advskew: 20 }]);
    await b.waitFor('BACKUP');
    const transitions = () => (b.output.match(/BACKUP -> MASTER/g) ?? []).length;
    for (let round = 0; round < 3; round++) {
      b.child.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      b.child.kill('SIGCONT');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(transitions(), 0, `round ${round}: the backup took over from a live master:\n${b.output}`);
    }
    const [statusA] = (await a.status()).carp;
    assert.equal(statusA?.state, 'MASTER');
    await Promise.all([a.terminate(), b.terminate()]);
  });

  it('forged adverts change no state and each increments its own counter', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 100 }]);
    await a.waitFor('MASTER');
    const addon = loadRawAddon();
    const received: number[] = [];
    const sockets = [255, 64].map((ttl) =>
      new addon.IpSocket({ family: 4, iface: 'eth0', ttl, tos: 0x10, netns: lab.host(3).netns }, () => received.push(ttl)),
    );
    try {
      const [ttl255, ttl64] = sockets as [InstanceType<typeof addon.IpSocket>, InstanceType<typeof addon.IpSocket>];
      const key = { password: 'labsecret', addresses: [`${VIP}/24`] };
      // Every forgery claims a better master (advskew 0) than the real one (100).
      const good = () => Buffer.from(encodeAdvert({ vhid: 42, advbase: 1, advskew: 0, demote: 0, counter: new Uint8Array(8) }, key));
      const wrongPassword = Buffer.from(
        encodeAdvert({ vhid: 42, advbase: 1, advskew: 0, demote: 0, counter: new Uint8Array(8) }, { ...key, password: 'not-it' }),
      );
      const badChecksum = good();
      badChecksum[6] = badChecksum[6]! ^ 0xff;
      const truncated = good().subarray(0, 20);
      const wrongVersion = good();
      wrongVersion[0] = 0x31;
      wrongVersion.writeUInt16BE(0, 6);
      wrongVersion.writeUInt16BE(internetChecksum(wrongVersion.subarray(0, 36)), 6);

      const before = (await a.status()).carp[0]!.counters;
      ttl255.send('224.0.0.18', wrongPassword);
      ttl64.send('224.0.0.18', good());
      ttl255.send('224.0.0.18', badChecksum);
      ttl255.send('224.0.0.18', truncated);
      ttl255.send('224.0.0.18', wrongVersion);
      await eventually('all five forgeries to be counted', async () => {
        const c = (await a.status()).carp[0]!.counters;
        return c.badAuth > before.badAuth && c.badTtl > before.badTtl && c.badChecksum > before.badChecksum &&
          c.short > before.short && c.badVersion > before.badVersion ? c : undefined;
      });
      const after = (await a.status()).carp[0]!;
      assert.deepEqual(
        [after.counters.badAuth - before.badAuth, after.counters.badTtl - before.badTtl, after.counters.badChecksum - before.badChecksum,
          after.counters.short - before.short, after.counters.badVersion - before.badVersion, after.counters.received - before.received],
        [1, 1, 1, 1, 1, 0],
      );
      assert.equal(after.state, 'MASTER', 'a forged better advert must not make the master yield');
      assert.ok(await hasVip(1));
    } finally {
      for (const socket of sockets) socket.close();
    }
    await a.terminate();
  });

  it('a partition that heals leaves exactly one MASTER, which re-announces; tshark decodes every advert', async () => {
    const capture = lab.spawn(3, 'tcpdump', ['-i', 'eth0', '-U', '--immediate-mode', '-w', work.file('heal.pcap'), 'ip proto 112 or arp']);
    await new Promise((r) => setTimeout(r, 500));
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0 }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100 }]);
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');

    // Partition without carrier loss: h2's bridge port leaves the bridge.
    await run('ip', ['-n', lab.bridgeNetns, 'link', 'set', lab.host(2).port, 'nomaster']);
    await b.waitFor('MASTER', 42, 6000);
    assert.equal(await a.state(), 'MASTER', 'both sides are MASTER while partitioned');

    await run('ip', ['-n', lab.bridgeNetns, 'link', 'set', lab.host(2).port, 'master', 'br0']);
    const healedAt = Date.now();
    await b.waitFor('BACKUP', 42, 3000);
    assert.ok(Date.now() - healedAt <= 3000, 'one MASTER within 3 x advbase of the heal');
    assert.equal(await a.state(), 'MASTER');
    await eventually('the VIP to leave h2', async () => ((await hasVip(2)) ? undefined : true));
    // The client follows the winner even if the loser announced last.
    await eventually('the client to point at h1', async () => {
      await lab.exec(3, 'ping', ['-c', '1', '-W', '1', VIP]).catch(() => undefined);
      return (await neighbourMac(lab, 3, VIP)) === lab.host(1).mac ? true : undefined;
    }, 4000);
    await new Promise((r) => setTimeout(r, 1200));
    capture.kill('SIGINT');
    await new Promise((r) => capture.once('exit', r));

    const { stdout } = await run('tshark', [
      '-r', work.file('heal.pcap'), '-d', 'ip.proto==112,carp', '-Y', 'ip.proto==112',
      '-T', 'fields', '-e', 'ip.src', '-e', 'ip.ttl', '-e', 'carp.checksum.status', '-e', 'carp.vhid', '-e', '_ws.col.Protocol',
    ]);
    const rows = stdout.trim().split('\n').map((line) => line.split('\t'));
    assert.ok(rows.length >= 5, `too few adverts captured: ${rows.length}`);
    // carp.checksum.status 1 is Wireshark's PROTO_CHECKSUM_E_GOOD.
    for (const [src, ttl, checksum, vhid, protocol] of rows) {
      assert.deepEqual([ttl, checksum, vhid, protocol], ['255', '1', '42', 'CARP'], `advert from ${src}`);
    }
    // Gratuitous ARPs from h1 after the heal: the winner re-announced.
    const arps = await run('tshark', [
      '-r', work.file('heal.pcap'), '-Y', `arp.src.proto_ipv4==${VIP} && arp.dst.proto_ipv4==${VIP} && eth.src==${lab.host(1).mac}`,
      '-T', 'fields', '-e', 'frame.time_epoch',
    ]);
    const after = arps.stdout.trim().split('\n').filter(Boolean).map(Number).filter((t) => t * 1000 >= healedAt - 50);
    assert.ok(after.length >= 1, 'h1 sent a gratuitous ARP for the VIP after the heal');
    await a.terminate();
    await b.terminate();
  });

  it('SIGTERM on the master bows out: the backup takes over at once and the VIP is released', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0 }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100 }]);
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');
    await eventually('VIP on h1', () => hasVip(1));
    const stoppedAt = Date.now();
    assert.equal(await a.terminate(), 0);
    const masterAt = await b.waitFor('MASTER', 42, 3000);
    assert.ok(masterAt - stoppedAt < 1000, `bow-out took ${masterAt - stoppedAt} ms; master-down alone would take 3.4 s`);
    assert.equal(await hasVip(1), undefined, 'the stopped node released the VIP');
    assert.deepEqual((await a.hooks()).slice(-1), ['42 INIT eth0']);
    await b.terminate();
  });

  it('tandem failover and maintenance move mastership; maintenance survives a restart', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0 }], 'fw-a');
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100 }], 'fw-b');
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');
    assert.deepEqual(await a.control({ cmd: 'failover' }), { bowedOut: 1 });
    await b.waitFor('MASTER', 42, 2000);
    await a.waitFor('BACKUP');

    // a is the better node: with preempt off it stays BACKUP; demote b to hand it back.
    await b.control({ cmd: 'demote', by: 1 });
    await a.waitFor('MASTER', 42, 2000);
    await b.control({ cmd: 'demote', reset: true });

    await a.control({ cmd: 'maintenance', on: true });
    await b.waitFor('MASTER', 42, 2000);
    const status = await a.status();
    assert.equal(status.maintenance, true);
    assert.equal(status.carp[0]!.advskew, 254);
    await a.terminate();
    const again = await TandemNode.start(lab, 1, work, [{ advskew: 0 }], 'fw-a');
    assert.equal((await again.status()).maintenance, true, 'maintenance persisted across the restart');
    await again.control({ cmd: 'maintenance', on: false });
    await again.terminate();
    await b.terminate();
  });

  it('IPv6: an IPv6 VIP fails over with adverts on ff02::12 and an unsolicited NA', async () => {
    const vip6 = '2001:db8::100';
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0, addresses: [`${vip6}/64`] }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100, addresses: [`${vip6}/64`] }]);
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');
    await eventually('b to hear a over IPv6', async () => ((await b.status()).carp[0]!.counters.received >= 2 ? true : undefined));
    await eventually('VIP6 on h1', () => hasVip(1, vip6));
    await lab.exec(3, 'ping', ['-6', '-c', '1', '-W', '1', vip6]);
    assert.equal(await neighbourMac(lab, 3, vip6), lab.host(1).mac);
    a.kill9();
    await b.waitFor('MASTER', 42, 5000);
    await eventually('the client to point at h2 for the IPv6 VIP', async () => {
      await lab.exec(3, 'ping', ['-6', '-c', '1', '-W', '1', vip6]).catch(() => undefined);
      return (await neighbourMac(lab, 3, vip6)) === lab.host(2).mac ? true : undefined;
    }, 4000);
    await b.terminate();
  });

  it('mac: virtual puts the VIP on a macvlan with 00:00:5e:00:01:2a, released on failover', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0, mac: 'virtual' }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100, mac: 'virtual' }]);
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');
    await eventually('the client to resolve the VIP to the virtual MAC', async () => {
      await lab.exec(3, 'ping', ['-c', '1', '-W', '1', VIP]).catch(() => undefined);
      return (await neighbourMac(lab, 3, VIP)) === '00:00:5e:00:01:2a' ? true : undefined;
    }, 4000);
    assert.equal(await a.terminate(), 0);
    await b.waitFor('MASTER', 42, 3000);
    const links = await lab.exec(1, 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /vh42/, 'the stopped node removed its macvlan');
    await eventually('the client to reach the VIP at h2 (same virtual MAC, new port)', async () => {
      const { stdout } = await lab.exec(3, 'ping', ['-c', '1', '-W', '1', VIP]).catch(() => ({ stdout: '' }));
      return /1 received/.test(stdout) ? true : undefined;
    }, 4000);
    await b.terminate();
  });
});

// The Linux NeighborAnnouncer against real neighbour tables in a namespace lab: a
// gratuitous ARP and an unsolicited NA with the virtual MAC must move a peer's entry for
// the VIP, and the kernel rules for entries that do not exist yet are pinned down
// (arp_accept; accept_untracked_na only on forwarding interfaces, RFC 9131).
// Tier "netns": run as root, `node --import tsx --test test/netns/announce.test.ts`.

import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LinuxAnnouncer } from '../../firmware/net/linux-announce.js';
import { eventually, Lab, netnsUnavailable, requireRoot } from './lab.js';

const VIRTUAL_MAC = '00:00:5e:00:01:2a'; // carp(4) virtual MAC for vhid 42
const OTHER_MAC = '02:aa:bb:cc:dd:ee';

interface NeighborEntry {
  dst: string;
  lladdr?: string;
  state?: string[];
  router?: null;
}

describe('neighbour announcements (LinuxAnnouncer)', () => {
  let lab: Lab | undefined;
  const announcer = (options: { router?: boolean } = {}) =>
    new LinuxAnnouncer({ netns: lab!.host(1).netns, ...options });

  /** The entry for `ip` on eth0 of `host`, or undefined. */
  const neighbor = async (host: number, ip: string): Promise<NeighborEntry | undefined> => {
    const { stdout } = await lab!.exec(host, 'ip', ['-j', 'neigh', 'show', ip, 'dev', 'eth0']);
    return (JSON.parse(stdout || '[]') as NeighborEntry[])[0];
  };
  const addNeighbor = (host: number, ip: string, mac: string, state: string) =>
    lab!.exec(host, 'ip', ['neigh', 'replace', ip, 'lladdr', mac, 'dev', 'eth0', 'nud', state]);
  const sysctl = (host: number, setting: string) => lab!.exec(host, 'sysctl', ['-qw', setting]);
  const waitForMac = (host: number, ip: string, mac: string) =>
    eventually(`h${host}: ${ip} -> ${mac}`, async () => {
      const entry = await neighbor(host, ip);
      return entry?.lladdr === mac ? entry : undefined;
    });

  before(async () => {
    if (netnsUnavailable()) return;
    lab = await Lab.create({ hosts: 3 });
    // h2 accepts gratuitous ARP for unknown addresses; h3 keeps the defaults.
    await sysctl(2, 'net.ipv4.conf.eth0.arp_accept=1');
  });
  after(async () => {
    await lab?.dispose();
  });

  test('gratuitous ARP with the virtual MAC creates the entry where arp_accept=1', async (t) => {
    if (!requireRoot(t)) return;
    await announcer().gratuitousArp('eth0', '198.51.100.100', VIRTUAL_MAC);
    const entry = await waitForMac(2, '198.51.100.100', VIRTUAL_MAC);
    assert.deepEqual(entry.state, ['STALE']);
  });

  test('gratuitous ARP without a MAC announces the interface MAC', async (t) => {
    if (!requireRoot(t)) return;
    await announcer().gratuitousArp('eth0', '198.51.100.101');
    await waitForMac(2, '198.51.100.101', lab!.host(1).mac);
  });

  test('gratuitous ARP moves an existing entry even with arp_accept=0 (failover case)', async (t) => {
    if (!requireRoot(t)) return;
    for (const state of ['stale', 'reachable']) {
      const vip = state === 'stale' ? '198.51.100.102' : '198.51.100.103';
      await addNeighbor(3, vip, OTHER_MAC, state);
      await announcer().gratuitousArp('eth0', vip, VIRTUAL_MAC);
      await waitForMac(3, vip, VIRTUAL_MAC);
    }
  });

  test('kernel rule: without arp_accept, a gratuitous ARP for an unknown address is ignored', async (t) => {
    if (!requireRoot(t)) return;
    await announcer().gratuitousArp('eth0', '198.51.100.104', VIRTUAL_MAC);
    // Frames are handled in order: once a later announcement has landed, the first was seen.
    await addNeighbor(3, '198.51.100.105', OTHER_MAC, 'stale');
    await announcer().gratuitousArp('eth0', '198.51.100.105', VIRTUAL_MAC);
    await waitForMac(3, '198.51.100.105', VIRTUAL_MAC);
    assert.equal(await neighbor(3, '198.51.100.104'), undefined);
  });

  test('unsolicited NA with Override moves an existing IPv6 entry', async (t) => {
    if (!requireRoot(t)) return;
    for (const state of ['stale', 'reachable']) {
      const vip = state === 'stale' ? '2001:db8::100' : '2001:db8::101';
      await addNeighbor(2, vip, OTHER_MAC, state);
      await announcer().unsolicitedNa('eth0', vip, VIRTUAL_MAC);
      const entry = await waitForMac(2, vip, VIRTUAL_MAC);
      assert.deepEqual(entry.state, ['STALE']);
      assert.equal(entry.router, undefined, 'no Router flag by default');
    }
  });

  test('kernel rule: an untracked NA is ignored by a host, even with accept_untracked_na=1', async (t) => {
    if (!requireRoot(t)) return;
    await sysctl(3, 'net.ipv6.conf.eth0.accept_untracked_na=1');
    await announcer().unsolicitedNa('eth0', '2001:db8::102', VIRTUAL_MAC);
    await addNeighbor(3, '2001:db8::103', OTHER_MAC, 'stale');
    await announcer().unsolicitedNa('eth0', '2001:db8::103', VIRTUAL_MAC);
    await waitForMac(3, '2001:db8::103', VIRTUAL_MAC);
    assert.equal(await neighbor(3, '2001:db8::102'), undefined);
  });

  test('kernel rule: a router (forwarding=1) with accept_untracked_na=1 learns from the NA', async (t) => {
    if (!requireRoot(t)) return;
    await sysctl(3, 'net.ipv6.conf.eth0.forwarding=1');
    await sysctl(3, 'net.ipv6.conf.eth0.accept_untracked_na=1');
    try {
      await announcer({ router: true }).unsolicitedNa('eth0', '2001:db8::104', VIRTUAL_MAC);
      const entry = await waitForMac(3, '2001:db8::104', VIRTUAL_MAC);
      assert.equal(entry.router, null, 'Router flag shows as "router" in ip neigh');
    } finally {
      await sysctl(3, 'net.ipv6.conf.eth0.forwarding=0');
    }
  });

  test('tshark decodes both: ARP announcement, NA with Override, TLLA and a good checksum', async (t) => {
    if (!requireRoot(t)) return;
    const dir = await mkdtemp(join(tmpdir(), 'tandem-announce-'));
    try {
      const pcap = join(dir, 'announce.pcap');
      const capture = lab!.spawn(2, 'tcpdump', [
        '-i', 'eth0', '--immediate-mode', '-U', '-n', '-w', pcap, 'arp or (icmp6 and ip6[40] == 136)',
      ]);
      await waitForOutput(capture, /listening on/);
      await announcer().gratuitousArp('eth0', '198.51.100.110', VIRTUAL_MAC);
      await announcer({ router: true }).unsolicitedNa('eth0', '2001:db8::110', VIRTUAL_MAC);
      await new Promise((resolve) => setTimeout(resolve, 300));
      capture.kill('SIGINT');
      await new Promise((resolve) => capture.once('exit', resolve));
      const arp = await tshark(pcap, 'arp', [
        'eth.dst', 'eth.src', 'arp.opcode', 'arp.src.hw_mac', 'arp.src.proto_ipv4', 'arp.dst.hw_mac',
        'arp.dst.proto_ipv4', 'arp.isannouncement',
      ]);
      assert.deepEqual(arp, [[
        'ff:ff:ff:ff:ff:ff', VIRTUAL_MAC, '1', VIRTUAL_MAC, '198.51.100.110', '00:00:00:00:00:00',
        '198.51.100.110', '1',
      ]]);
      const na = await tshark(pcap, 'icmpv6', [
        'eth.dst', 'eth.src', 'ipv6.src', 'ipv6.dst', 'ipv6.hlim', 'icmpv6.checksum.status',
        'icmpv6.nd.na.flag.r', 'icmpv6.nd.na.flag.s', 'icmpv6.nd.na.flag.o', 'icmpv6.nd.na.target_address',
        'icmpv6.opt.linkaddr',
      ]);
      assert.deepEqual(na, [[
        '33:33:00:00:00:01', VIRTUAL_MAC, '2001:db8::110', 'ff02::1', '255', '1', '1', '0', '1',
        '2001:db8::110', VIRTUAL_MAC,
      ]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('errors say what was announced where', async (t) => {
    if (!requireRoot(t)) return;
    await assert.rejects(announcer().gratuitousArp('nope0', '198.51.100.100', VIRTUAL_MAC), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ENODEV');
      assert.match(error.message, /^gratuitous ARP for 198\.51\.100\.100 on nope0: send frame on nope0: ENODEV/);
      return true;
    });
    await assert.rejects(announcer().unsolicitedNa('lo', '2001:db8::1'), /on lo: lo is not an Ethernet interface/);
    await assert.rejects(announcer().unsolicitedNa('eth0', '198.51.100.1'), /not an IPv6 address/);
    await lab!.linkDown(1, 'eth0');
    try {
      await assert.rejects(announcer().gratuitousArp('eth0', '198.51.100.100'), /ENETDOWN/);
    } finally {
      await lab!.linkUp(1, 'eth0');
    }
  });
});

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms: ${text}`)), timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** One row of the requested fields per frame matching `filter`. */
function tshark(pcap: string, filter: string, fields: string[]): Promise<string[][]> {
  const args = ['-r', pcap, '-n', '-Y', filter, '-T', 'fields', '-E', 'separator=,'];
  for (const field of fields) args.push('-e', field);
  return new Promise((resolve, reject) => {
    execFile('tshark', args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`tshark: ${stderr || error.message}`));
      resolve(stdout.trim().split('\n').filter(Boolean).map((line) => line.split(',')));
    });
  });
}

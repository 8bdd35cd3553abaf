// Wake-on-LAN (firmware/power/wol.ts): the magic packet as byte literals (AMD's Magic Packet
// format, SecureOn as ether-wake(8) appends it), the broadcast target choice as a table, and
// the driver over the fake UDP sender and a virtual clock.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate, s } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import {
  chooseTarget,
  createWol,
  directedBroadcast,
  encodeMagicPacket,
  FakeUdpSender,
  LinuxUdpSender,
  parseMac,
  parseSecureOn,
  wolSettings,
  type InterfaceAddress,
  type WolSettings,
} from '../../../firmware/power/wol.js';

const HOST = { name: 'web-1', address: '198.51.100.21', mac: '02:00:5e:10:00:21' };
const MAC_HEX = '02005e100021';

describe('encodeMagicPacket', () => {
  it('is 6 x ff then the MAC 16 times: 102 bytes', () => {
    const packet = encodeMagicPacket(parseMac(HOST.mac)!);
    assert.equal(packet.length, 102);
    assert.equal(packet.toString('hex'), 'ffffffffffff' + MAC_HEX.repeat(16));
  });

  it('appends a 6-byte SecureOn password: 108 bytes', () => {
    const packet = encodeMagicPacket(parseMac(HOST.mac)!, parseSecureOn('a1:b2:c3:d4:e5:f6'));
    assert.equal(packet.length, 108);
    assert.equal(packet.toString('hex'), 'ffffffffffff' + MAC_HEX.repeat(16) + 'a1b2c3d4e5f6');
  });

  it('appends a 4-byte password written as an IPv4 address: 106 bytes', () => {
    const packet = encodeMagicPacket(parseMac('AA-BB-CC-DD-EE-FF')!, parseSecureOn('192.0.2.7'));
    assert.equal(packet.toString('hex'), 'ffffffffffff' + 'aabbccddeeff'.repeat(16) + 'c0000207');
  });

  it('rejects a MAC or password of the wrong length', () => {
    assert.throws(() => encodeMagicPacket(Buffer.alloc(5)), /6 bytes/);
    assert.throws(() => encodeMagicPacket(Buffer.alloc(6), Buffer.alloc(5)), /4 or 6 bytes/);
  });

  it('parses MACs and passwords strictly', () => {
    assert.equal(parseMac('02:00:5e:10:00'), undefined);
    assert.equal(parseMac('02:00:5e:10:00:2g'), undefined);
    assert.equal(parseMac('0200.5e10.0021'), undefined);
    assert.equal(parseSecureOn('a1b2c3d4e5f6'), undefined);
    assert.equal(parseSecureOn('300.1.1.1'), undefined);
  });
});

describe('chooseTarget', () => {
  const ifaces: InterfaceAddress[] = [
    { name: 'eth0', address: '203.0.113.1', prefixLength: 24 },
    { name: 'eth1', address: '198.51.100.1', prefixLength: 24 },
    { name: 'eth1', address: '198.51.100.130', prefixLength: 25 },
    { name: 'eth2', address: '203.0.113.200', prefixLength: 30 },
  ];
  const rows: [string, Parameters<typeof chooseTarget>[0], string, object | string][] = [
    ['default: subnet broadcast of the interface holding the host', {}, '198.51.100.21', { bindAddress: '198.51.100.1', address: '198.51.100.255', port: 9 }],
    ['the second address on eth1 whose /25 holds the host', {}, '198.51.100.140', { bindAddress: '198.51.100.130', address: '198.51.100.255', port: 9 }],
    ['limited broadcast bound to that interface', { broadcast: 'limited', port: 7 }, '198.51.100.21', { bindAddress: '198.51.100.1', address: '255.255.255.255', port: 7 }],
    ['named interface, host outside its subnets', { interface: 'eth2' }, '198.51.100.21', { bindAddress: '203.0.113.200', address: '203.0.113.203', port: 9 }],
    ['explicit broadcast from the host\'s subnet', { broadcast: '198.51.100.127' }, '198.51.100.21', { bindAddress: '198.51.100.1', address: '198.51.100.127', port: 9 }],
    ['explicit broadcast to a routed subnet, no local one holds the host', { broadcast: '192.0.2.255' }, '192.0.2.9', { address: '192.0.2.255', port: 9 }],
    ['no interface holds the host', {}, '192.0.2.9', 'no local interface has a subnet holding 192.0.2.9; set wake.interface or wake.broadcast'],
    ['an IPv6 host address needs an interface', { broadcast: 'limited' }, '2001:db8::21', 'no local interface has a subnet holding 2001:db8::21; set wake.interface or wake.broadcast'],
    ['an interface without IPv4', { interface: 'wg0' }, '198.51.100.21', 'interface wg0 has no IPv4 address (or does not exist)'],
  ];
  for (const [name, settings, address, expected] of rows) {
    it(name, () => {
      const result = chooseTarget(settings, { ...HOST, address }, ifaces);
      if (typeof expected === 'string') assert.deepEqual(result, { ok: false, detail: expected });
      else assert.deepEqual(result, { ok: true, target: expected });
    });
  }

  it('computes directed broadcasts for odd prefixes', () => {
    assert.equal(directedBroadcast({ name: 'x', address: '198.51.100.77', prefixLength: 26 }), '198.51.100.127');
    assert.equal(directedBroadcast({ name: 'x', address: '203.0.113.9', prefixLength: 32 }), '203.0.113.9');
    assert.equal(directedBroadcast({ name: 'x', address: '10.1.2.3', prefixLength: 0 }), '255.255.255.255');
  });
});

describe('wolSettings', () => {
  const schema = s.object(wolSettings);
  it('defaults to the subnet broadcast, port 9, three copies', () => {
    assert.deepEqual(validate(schema, {}).value, { broadcast: 'subnet', port: 9, repeat: 3 });
  });
  it('names the bad key', () => {
    const { issues } = validate(schema, { password: 'secret', broadcast: 'everywhere', repeat: 0 });
    assert.deepEqual(
      issues.map((i) => i.path),
      ['broadcast', 'password', 'repeat'],
    );
    assert.match(issues.find((i) => i.path === 'password')!.message, /6 bytes like a1:b2:c3:d4:e5:f6/);
  });
});

function driver(settings: Partial<WolSettings> = {}) {
  const clock = new FakeClock();
  const udp = new FakeUdpSender();
  const interfaces = () => [{ name: 'eth1', address: '198.51.100.1', prefixLength: 24 }];
  const wol = createWol({ broadcast: 'subnet', port: 9, repeat: 3, ...settings }, { clock, processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/nonexistent', udp, interfaces });
  return { clock, udp, wol };
}

describe('createWol', () => {
  it('sends the packet repeat times, 100 ms apart on the injected clock', async () => {
    const { clock, udp, wol } = driver({ password: 'a1:b2:c3:d4:e5:f6' });
    const done = wol.wake!(HOST, new AbortController().signal);
    await clock.advance(0);
    assert.equal(udp.sent.length, 1);
    await clock.advance(99);
    assert.equal(udp.sent.length, 1);
    await clock.advance(1);
    assert.equal(udp.sent.length, 2);
    await clock.advance(100);
    const result = await done;
    assert.equal(udp.sent.length, 3);
    assert.deepEqual(result, { ok: true, detail: '3 x 108-byte magic packet for 02:00:5e:10:00:21 to 198.51.100.255:9 from 198.51.100.1' });
    for (const { packet, target } of udp.sent) {
      assert.equal(packet.toString('hex'), 'ffffffffffff' + MAC_HEX.repeat(16) + 'a1b2c3d4e5f6');
      assert.deepEqual(target, { bindAddress: '198.51.100.1', address: '198.51.100.255', port: 9 });
    }
  });

  it('stops between copies when aborted', async () => {
    const { clock, udp, wol } = driver();
    const abort = new AbortController();
    const done = wol.wake!(HOST, abort.signal);
    await clock.advance(0);
    abort.abort();
    const result = await done;
    assert.equal(udp.sent.length, 1);
    assert.deepEqual(result, { ok: false, failure: 'unreachable', detail: 'aborted after 1 of 3 magic packets to 198.51.100.255:9 from 198.51.100.1' });
  });

  it('maps socket errors to failures that name the target', async () => {
    for (const [code, failure] of [['ENETUNREACH', 'unreachable'], ['EACCES', 'refused'], ['EADDRNOTAVAIL', 'misconfigured']] as const) {
      const { udp, wol } = driver();
      udp.failWith = code;
      assert.deepEqual(await wol.wake!(HOST, new AbortController().signal), {
        ok: false,
        failure,
        detail: `magic packet to 198.51.100.255:9 from 198.51.100.1: ${code}`,
      });
    }
  });

  it('is misconfigured without a usable MAC or interface, and sends nothing', async () => {
    const { udp, wol } = driver();
    assert.deepEqual(await wol.wake!({ ...HOST, mac: 'none' }, new AbortController().signal), {
      ok: false,
      failure: 'misconfigured',
      detail: 'host web-1 has no valid MAC ("none")',
    });
    const other = await wol.wake!({ ...HOST, address: '203.0.113.5' }, new AbortController().signal);
    assert.equal(other.ok, false);
    assert.equal(udp.sent.length, 0);
  });

  it('cannot park or read', () => {
    const { wol } = driver();
    assert.equal(wol.method, 'wol');
    assert.equal(wol.park, undefined);
    assert.equal(wol.read, undefined);
  });
});

describe('LinuxUdpSender on loopback', () => {
  it('delivers the packet from the bound address, and the kernel\'s refusals map to failures', async () => {
    const { createSocket } = await import('node:dgram');
    const listener = createSocket('udp4');
    await new Promise<void>((resolve) => listener.bind({ address: '127.0.0.1', port: 0 }, resolve));
    const port = listener.address().port;
    const got = new Promise<{ hex: string; from: string }>((resolve) => listener.once('message', (msg, rinfo) => resolve({ hex: msg.toString('hex'), from: rinfo.address })));
    try {
      const packet = encodeMagicPacket(parseMac(HOST.mac)!);
      await new LinuxUdpSender().send(packet, { bindAddress: '127.0.0.1', address: '127.0.0.1', port });
      assert.deepEqual(await got, { hex: packet.toString('hex'), from: '127.0.0.1' });
      // An address this machine does not have (the interface lost it): EADDRNOTAVAIL.
      const wol = createWol(
        { broadcast: 'subnet', port, repeat: 1 },
        { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/x', interfaces: () => [{ name: 'eth9', address: '203.0.113.77', prefixLength: 24 }] },
      );
      const result = await wol.wake!({ ...HOST, address: '203.0.113.21' }, new AbortController().signal);
      assert.deepEqual(result, { ok: false, failure: 'misconfigured', detail: `magic packet to 203.0.113.255:${port} from 203.0.113.77: EADDRNOTAVAIL` });
    } finally {
      listener.close();
    }
  });
});

// Wake-on-LAN against a real listener (issue 10 "done when"): the driver with its Linux ports
// runs inside the router's lab namespace, a UDP listener on 0.0.0.0:9 in the host's namespace
// receives byte-exact magic packets, with and without SecureOn, to the subnet-directed and the
// limited broadcast. No broadcast leaves the lab's namespaces.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netnsUnavailable } from '../netns/lab.js';
import { createPowerLab, LineReader, PYTHON, type PowerLab } from './power-lab.js';

const SENDER = fileURLToPath(new URL('./power-wol-send.ts', import.meta.url));
const LISTENER = fileURLToPath(new URL('./power-wol-listen.py', import.meta.url));
const TSX = import.meta.resolve('tsx');

describe('wake-on-LAN into a lab namespace', { skip: netnsUnavailable() }, () => {
  let power: PowerLab;
  let port9: LineReader;
  let port7: LineReader;
  // h1 is the router (198.51.100.11), h2 the sleeping host (198.51.100.12), h3 a bystander.
  const target = () => power.lab.host('h2');

  before(async () => {
    power = await createPowerLab(3);
    port9 = new LineReader(power.lab.spawn('h2', PYTHON, ['-u', LISTENER, '9']));
    port7 = new LineReader(power.lab.spawn('h2', PYTHON, ['-u', LISTENER, '7']));
    assert.equal(await port9.next(), 'ready');
    assert.equal(await port7.next(), 'ready');
  });
  after(async () => {
    await power?.dispose();
  });

  async function wake(settings: object): Promise<unknown> {
    const host = { name: 'web-2', address: target().ipv4, mac: target().mac };
    const { stdout } = await power.lab.exec('h1', process.execPath, ['--import', TSX, SENDER, JSON.stringify({ settings, host })], 20_000);
    return JSON.parse(stdout);
  }

  async function received(reader: LineReader, count: number): Promise<{ src: string; dst: string; hex: string }[]> {
    const lines = [];
    for (let i = 0; i < count; i++) lines.push(JSON.parse(await reader.next()));
    return lines;
  }

  const macHex = () => target().mac.replaceAll(':', '');

  it('sends three 102-byte packets to the subnet broadcast by default', async () => {
    const result = await wake({});
    assert.deepEqual(result, { ok: true, detail: `3 x 102-byte magic packet for ${target().mac} to 198.51.100.255:9 from 198.51.100.11` });
    const packets = await received(port9, 3);
    for (const packet of packets) {
      assert.deepEqual(packet, { src: '198.51.100.11', dst: '198.51.100.255', hex: 'ff'.repeat(6) + macHex().repeat(16) });
    }
  });

  it('sends 108 bytes with a 6-byte SecureOn password to the limited broadcast from eth0, port 7', async () => {
    const result = await wake({ interface: 'eth0', broadcast: 'limited', port: 7, password: 'a1:b2:c3:d4:e5:f6', repeat: 2 });
    assert.deepEqual(result, { ok: true, detail: `2 x 108-byte magic packet for ${target().mac} to 255.255.255.255:7 from 198.51.100.11` });
    const packets = await received(port7, 2);
    for (const packet of packets) {
      assert.deepEqual(packet, { src: '198.51.100.11', dst: '255.255.255.255', hex: 'ff'.repeat(6) + macHex().repeat(16) + 'a1b2c3d4e5f6' });
    }
    assert.equal(port9.pending, 0, 'nothing arrived on port 9');
  });

  it('names the missing interface instead of sending', async () => {
    const result = await wake({ interface: 'eth9' });
    assert.deepEqual(result, { ok: false, failure: 'misconfigured', detail: 'interface eth9 has no IPv4 address (or does not exist)' });
  });
});

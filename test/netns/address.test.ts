// The Linux address port against a real kernel: rtnetlink add/remove, idempotent as the CARP
// service expects, IPv6 without DAD, and a clear error for a missing interface.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinuxAddressPort } from '../../firmware/net/linux-address.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { netnsUnavailable, type Lab } from './lab.js';
import { labPerTest } from './peers.js';

describe('LinuxAddressPort', { skip: netnsUnavailable() }, () => {
  const fixture = labPerTest(1);

  it('adds and removes IPv4 and IPv6 addresses idempotently, IPv6 without DAD', async () => {
    const lab: Lab = fixture.lab();
    const port = new LinuxAddressPort(new LinuxProcessRunner(), { netns: lab.host(1).netns });
    for (let i = 0; i < 2; i++) {
      await port.add('eth0', '198.51.100.100/24');
      await port.add('eth0', '2001:db8::100/64');
    }
    const listed = await port.list('eth0');
    assert.ok(listed.includes('198.51.100.100/24'), listed.join(' '));
    assert.ok(listed.includes('2001:db8::100/64'), listed.join(' '));
    const { stdout } = await lab.exec(1, 'ip', ['-6', 'addr', 'show', 'dev', 'eth0', 'to', '2001:db8::100']);
    assert.doesNotMatch(stdout, /tentative/);
    assert.match(stdout, /nodad/);
    for (let i = 0; i < 2; i++) {
      await port.remove('eth0', '198.51.100.100/24');
      await port.remove('eth0', '2001:db8::100/64');
    }
    const after = await port.list('eth0');
    assert.ok(!after.includes('198.51.100.100/24') && !after.includes('2001:db8::100/64'), after.join(' '));
    assert.ok(after.includes('198.51.100.11/24'), 'the host address stays');
  });

  it('names the interface and the errno when the kernel refuses', async () => {
    const lab: Lab = fixture.lab();
    const port = new LinuxAddressPort(new LinuxProcessRunner(), { netns: lab.host(1).netns });
    await assert.rejects(port.add('eth9', '198.51.100.100/24'), /ip addr add 198\.51\.100\.100\/24 dev eth9: ENODEV/);
  });
});

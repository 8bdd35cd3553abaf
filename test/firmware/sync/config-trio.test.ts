// Three nodes: the master's push lands on each peer on its own; one peer that lacks an
// interface refuses without holding back the other, and each outcome is kept per peer.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { ConfigSync } from '../../../firmware/sync/config-service.js';
import { FakeInterfaces } from '../../../firmware/sync/peer-interfaces.js';
import { nodeConfig, parsed } from './config-fixtures.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const running: ConfigSync[] = [];
after(async () => {
  for (const s of running) await s.stop();
});

describe('config sync with three nodes', () => {
  it('each peer gets its own outcome; one refusing does not hold back the other', async () => {
    const clock = new FakeClock();
    const names = ['fw-a', 'fw-b', 'fw-c'] as const;
    const ports = [await freePort(), await freePort(), await freePort()];
    const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const psk = 'one key for the trio, 16+ bytes';
    const interfaces = [['eth0', 'eth1', 'eth9'], ['eth0', 'eth1', 'eth9'], ['eth0', 'eth1']];
    const nodes = await Promise.all(
      names.map(async (name, i) => {
        const peers = names
          .map((peer, j) => ({ peer, j }))
          .filter(({ j }) => j !== i)
          .map(({ peer, j }) => `      - { name: ${peer}, address: ${addresses[j]}, port: ${ports[j]} }`)
          .join('\n');
        const text = nodeConfig(name) + `sync:\n  config:\n    vhid: 42\n    address: ${addresses[i]}\n    port: ${ports[i]}\n    psk: ${psk}\n    timeoutSeconds: 5\n    peers:\n${peers}\n`;
        const files = new MemoryFileStore();
        files.files.set('/cfg/t.yaml', text);
        const config = parsed(text);
        const applied: number[] = [];
        const node = {
          files,
          applied,
          sync: new ConfigSync(config, config.sync!.config!, {
            clock, files, interfaces: new FakeInterfaces(interfaces[i]!), log: silentLogger, configFile: '/cfg/t.yaml',
            carpState: () => (i === 0 ? 'MASTER' : 'BACKUP'),
            apply: async (next) => {
              applied.push(next.firewall!.rules.length);
              await node.sync.configChanged(next);
            },
          }),
        };
        await node.sync.start();
        running.push(node.sync);
        return node;
      }),
    );
    const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];
    const text = a.files.files.get('/cfg/t.yaml')!.replace('  rules:\n', '    dmz:\n      interfaces: [eth9]\n  rules:\n    - { action: pass, on: dmz, proto: tcp, to: { port: 80 } }\n');
    a.files.files.set('/cfg/t.yaml', text);
    await a.sync.configChanged(parsed(text));
    const peers = await a.sync.pushNow(false);
    assert.deepEqual(peers.map((p) => [p.name, p.outcome]), [['fw-b', 'applied'], ['fw-c', 'refused']]);
    assert.equal(peers[1]!.detail, 'firewall.zones.dmz.interfaces[0]: this node has no interface eth9');
    assert.deepEqual(b.applied, [2]);
    assert.deepEqual(c.applied, []);
    assert.equal(b.sync.status().hash, a.sync.status().hash);
    assert.notEqual(c.sync.status().hash, a.sync.status().hash);
  });
});

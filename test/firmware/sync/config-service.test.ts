// Two ConfigSync services talking real TLS over loopback, each with an in-memory file store,
// fake interfaces, a fake clock and a CARP state set by the test: pushes applied, refused,
// diverged, forced; a master that came back older; wrong certificates and keys counted.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createLogger, silentLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import type { TandemConfig } from '../../../firmware/config/schema.js';
import type { TandemEvent } from '../../../firmware/events.js';
import { ConfigSync } from '../../../firmware/sync/config-service.js';
import { extractShared, sharedHash } from '../../../firmware/sync/config-shared.js';
import { FakeInterfaces } from '../../../firmware/sync/peer-interfaces.js';
import { loadOrCreateIdentity } from '../../../firmware/sync/peer-identity.js';
import { nodeConfig, parsed } from './config-fixtures.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Side {
  name: 'fw-a' | 'fw-b';
  files: MemoryFileStore;
  interfaces: FakeInterfaces;
  state: string;
  applied: TandemConfig[];
  events: TandemEvent[];
  sync: ConfigSync;
  file: string;
}

const running: ConfigSync[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

function syncSection(self: { address: string; port: number }, peer: { name: string; address: string; port: number; fingerprint?: string }, psk?: string): string {
  return `sync:
  config:
    vhid: 42
    address: ${self.address}
    port: ${self.port}
    timeoutSeconds: 5
    peers:
      - { name: ${peer.name}, address: ${peer.address}, port: ${peer.port}${peer.fingerprint ? `, fingerprint: "${peer.fingerprint}"` : ''} }
${psk ? `    psk: ${psk}\n` : ''}`;
}

/** Two nodes; `pinWrong` makes B pin a certificate that is not A's; `psk` per side switches to TLS-PSK. */
async function pair(options: { bPendingUntil?: () => string | undefined; pinWrong?: boolean; masterPinsWrong?: boolean; psk?: [string, string]; bText?: (t: string) => string; bInterfaces?: string[] } = {}): Promise<{ a: Side; b: Side; clock: FakeClock }> {
  const clock = new FakeClock();
  const ports = { a: await freePort(), b: await freePort() };
  const files = { a: new MemoryFileStore(), b: new MemoryFileStore() };
  const ida = await loadOrCreateIdentity(files.a, '/tmp/fw-a', 'fw-a', new Date(clock.now()), ['127.0.0.1']);
  const idb = await loadOrCreateIdentity(files.b, '/tmp/fw-b', 'fw-b', new Date(clock.now()), ['127.0.0.2']);
  const stranger = await loadOrCreateIdentity(new MemoryFileStore(), '/tmp/x', 'x', new Date(clock.now()), []);
  const texts = {
    a: nodeConfig('fw-a') + syncSection({ address: '127.0.0.1', port: ports.a }, { name: 'fw-b', address: '127.0.0.2', port: ports.b, fingerprint: options.masterPinsWrong ? stranger.fingerprint : idb.fingerprint }, options.psk?.[0]),
    b: (options.bText ?? ((t) => t))(nodeConfig('fw-b', { advskew: 100 })) +
      syncSection({ address: '127.0.0.2', port: ports.b }, { name: 'fw-a', address: '127.0.0.1', port: ports.a, fingerprint: options.pinWrong ? stranger.fingerprint : ida.fingerprint }, options.psk?.[1]),
  };
  const make = async (name: 'fw-a' | 'fw-b', text: string, fileStore: MemoryFileStore, names: string[]): Promise<Side> => {
    const file = `/cfg/${name}.yaml`;
    fileStore.files.set(file, text);
    const config = parsed(text);
    const side = { name, files: fileStore, interfaces: new FakeInterfaces(names), state: name === 'fw-a' ? 'MASTER' : 'BACKUP', applied: [] as TandemConfig[], events: [] as TandemEvent[], file } as Side;
    side.sync = new ConfigSync(config, config.sync!.config!, {
      clock,
      files: fileStore,
      interfaces: side.interfaces,
      log: process.env.SYNC_DEBUG ? createLogger("debug") : silentLogger,
      configFile: file,
      carpState: () => side.state,
      emit: (event) => side.events.push(event),
      ...(name === 'fw-b' && options.bPendingUntil ? { localApplyPending: options.bPendingUntil } : {}),
      apply: async (next) => {
        side.applied.push(next);
        await side.sync.configChanged(next);
      },
    });
    await side.sync.start();
    running.push(side.sync);
    return side;
  };
  const a = await make('fw-a', texts.a, files.a, ['lo', 'eth0', 'eth1']);
  const b = await make('fw-b', texts.b, files.b, options.bInterfaces ?? ['lo', 'eth0', 'eth1']);
  return { a, b, clock };
}

/** Edits a node's file and tells its service, as SIGHUP would through Daemon.applyConfig. */
async function edit(side: Side, change: (text: string) => string): Promise<void> {
  const text = change(side.files.files.get(side.file)!);
  side.files.files.set(side.file, text);
  await side.sync.configChanged(parsed(text));
}

/** Whether the file, parsed as the daemon would, has a rule to this port. */
function hasPort(text: string, port: number): boolean {
  return parsed(text).firewall!.rules.some((r) => r.to?.port?.includes(port));
}

const addRule = (port: number) => (t: string) => t.replace('  rules:\n', `  rules:\n    - { action: pass, on: lan, proto: tcp, to: { port: ${port} } }\n`);

describe('config sync service', () => {
  it('identical shared configs are in sync at once; an edit on the master is applied on the backup', async () => {
    const { a, b } = await pair();
    assert.equal(a.sync.status().hash, b.sync.status().hash, 'same shared sections, different node/carp/zone interfaces');
    assert.equal((await a.sync.pushNow(false))[0]!.outcome, 'in-sync');
    await edit(a, addRule(80));
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'applied', peer!.detail);
    assert.equal(b.applied.length, 1);
    assert.equal(b.applied[0]!.firewall!.rules.length, 2);
    assert.equal(b.applied[0]!.carp[0]!.advskew, 100, "the backup's own advskew stays");
    assert.ok(hasPort(b.files.files.get(b.file)!, 80));
    assert.equal(b.sync.status().hash, a.sync.status().hash);
    assert.equal(b.sync.status().hash, sharedHash(extractShared(parsed(b.files.files.get(b.file)!))));
    assert.equal(b.sync.status().lastReceived?.outcome, 'applied');
    const record = JSON.parse(b.files.files.get('/tmp/fw-b/sync/record.json')!) as { hash: string; ancestors: string[] };
    assert.equal(record.hash, a.sync.status().hash);
  });

  it('a change naming an interface the backup lacks is refused with the reason, and its file stays', async () => {
    const { a, b } = await pair({ bInterfaces: ['lo', 'eth0', 'eth1'] });
    const before = b.files.files.get(b.file);
    await edit(a, (t) => t.replace('  rules:\n', '    dmz:\n      interfaces: [eth9]\n  rules:\n'));
    a.interfaces.names.push('eth9');
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'refused');
    assert.equal(peer!.detail, 'firewall.zones.dmz.interfaces[0]: this node has no interface eth9');
    assert.equal(b.files.files.get(b.file), before);
    assert.equal(b.applied.length, 0);
    assert.notEqual(b.sync.status().hash, a.sync.status().hash);
    assert.deepEqual(a.events.at(-1), { type: 'configSync', direction: 'sent', peer: 'fw-b', outcome: 'refused', detail: peer!.detail });
    assert.deepEqual(b.events.at(-1), { type: 'configSync', direction: 'received', peer: 'fw-a', outcome: 'refused', detail: peer!.detail });
  });

  it('a backup whose own config apply waits for its confirm refuses a push (the revert would undo it), then takes it', async () => {
    let pending: string | undefined = '2026-12-03T06:00:00.000Z';
    const { a, b } = await pair({ bPendingUntil: () => pending });
    const before = b.files.files.get(b.file);
    await edit(a, addRule(80));
    const [refused] = await a.sync.pushNow(false);
    assert.equal(refused!.outcome, 'refused');
    assert.match(refused!.detail!, /waits for its confirm until 2026-12-03T06:00:00\.000Z/);
    assert.equal(b.files.files.get(b.file), before);
    assert.equal(b.applied.length, 0);
    pending = undefined;
    const [taken] = await a.sync.pushNow(false);
    assert.equal(taken!.outcome, 'applied', taken!.detail);
    assert.ok(hasPort(b.files.files.get(b.file)!, 80));
  });

  it('two nodes edited apart are diverged, never overwritten; --force on the master overrides', async () => {
    const { a, b } = await pair();
    await edit(a, addRule(80));
    await edit(b, addRule(8080));
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'diverged');
    assert.ok(hasPort(b.files.files.get(b.file)!, 8080));
    assert.equal(b.applied.length, 0);
    const [forced] = await a.sync.pushNow(true);
    assert.equal(forced!.outcome, 'applied');
    assert.ok(!hasPort(b.files.files.get(b.file)!, 8080));
    assert.equal(b.sync.status().hash, a.sync.status().hash);
  });

  it('a backup that comes back with an older config is brought up to date', async () => {
    const { a, b } = await pair();
    await edit(a, addRule(80));
    await edit(a, addRule(81));
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'applied', 'two generations behind is still behind, not diverged');
    assert.equal(b.sync.status().generation, a.sync.status().generation);
  });

  it('a master that comes back with an older config takes the newer one from its peer', async () => {
    const { a, b } = await pair();
    // B was master meanwhile and got an edit A never saw.
    await edit(b, addRule(8080));
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'in-sync');
    assert.equal(a.applied.length, 1);
    assert.ok(hasPort(a.files.files.get(a.file)!, 8080));
    assert.equal(a.sync.status().hash, b.sync.status().hash);
  });

  it('a master edited while its push was out does not take the peer\'s config: that is diverged', async () => {
    const { a, b } = await pair();
    await edit(b, addRule(8080));
    // B reads its CARP state while it answers; that moment, the admin edits A.
    let editDuringPush: Promise<void> | undefined;
    const state = { armed: true };
    Object.defineProperty(b, 'state', {
      get() {
        if (state.armed) {
          state.armed = false;
          editDuringPush = edit(a, addRule(81));
        }
        return 'BACKUP';
      },
    });
    const [peer] = await a.sync.pushNow(false);
    await editDuringPush;
    assert.equal(peer!.outcome, 'diverged');
    assert.equal(a.applied.length, 0, "A's newer edit is not overwritten by B's");
    assert.ok(hasPort(a.files.files.get(a.file)!, 81));
  });

  it('a node that is itself MASTER refuses pushes (split brain is no time to overwrite)', async () => {
    const { a, b } = await pair();
    b.state = 'MASTER';
    await edit(a, addRule(80));
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'refused');
    assert.match(peer!.detail!, /MASTER of vhid 42 too/);
  });

  it('a backup is no master: sync push there is refused', async () => {
    const { b } = await pair();
    await assert.rejects(b.sync.pushNow(false), /not MASTER of vhid 42/);
  });

  it('a peer pinning another certificate refuses the master, counts it, and the master shows it', async () => {
    const { a, b } = await pair({ pinWrong: true });
    await edit(a, addRule(80));
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'auth-failed');
    assert.match(peer!.detail!, /refused us: certificate not accepted/);
    assert.equal(b.sync.status().refused.badCertificate, 1);
    assert.equal(b.applied.length, 0);
  });

  it('a master pinning another certificate for its peer never sends it the config', async () => {
    const { a, b } = await pair({ masterPinsWrong: true });
    await edit(a, addRule(80));
    const [peer] = await a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'auth-failed');
    assert.match(peer!.detail!, /fw-b presented certificate [0-9a-f]{64}, not the pinned [0-9a-f]{64}/);
    assert.equal(peer!.failures, 1);
    assert.equal(b.applied.length, 0);
    assert.equal(b.sync.status().lastReceived, undefined, 'no request reached the peer');
  });

  it('TLS-PSK: the same key syncs; a wrong key is refused and counted on both sides', async () => {
    const good = await pair({ psk: ['correct horse battery staple', 'correct horse battery staple'] });
    assert.equal(good.a.sync.status().auth, 'psk');
    await edit(good.a, addRule(80));
    assert.equal((await good.a.sync.pushNow(false))[0]!.outcome, 'applied');
    for (const s of running.splice(0)) await s.stop();

    const bad = await pair({ psk: ['correct horse battery staple', 'wrong horse battery staple!'] });
    await edit(bad.a, addRule(80));
    const [peer] = await bad.a.sync.pushNow(false);
    assert.equal(peer!.outcome, 'auth-failed');
    assert.equal(peer!.failures, 1);
    assert.equal(bad.b.sync.status().refused.badKey, 1);
    assert.equal(bad.b.applied.length, 0);
  });

  it('the master pushes by itself on its timer and keeps checking in-sync peers', async () => {
    const { a, b, clock } = await pair();
    await edit(a, addRule(80));
    await clock.advance(0);
    // The push runs on real sockets: wait for it, bounded.
    for (let i = 0; i < 250 && a.sync.status().peers[0]!.outcome !== 'applied'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(b.applied.length, 1);
    assert.equal(a.sync.status().peers[0]!.outcome, 'applied');
  });
});

describe('config sync listener', () => {
  it('retries a listen address that is taken (or not up yet) on its timer, until it binds', async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    const clock = new FakeClock();
    const files = new MemoryFileStore();
    const text = nodeConfig('fw-a') + syncSection({ address: '127.0.0.1', port }, { name: 'fw-b', address: '127.0.0.2', port: 1 });
    const config = parsed(text);
    const sync = new ConfigSync(config, config.sync!.config!, {
      clock, files, interfaces: new FakeInterfaces([]), log: silentLogger, configFile: '/cfg/a.yaml',
      carpState: () => 'BACKUP', apply: async () => undefined,
    });
    running.push(sync);
    await sync.start();
    assert.equal(sync.status().listening, false);
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    await clock.advance(5000);
    for (let i = 0; i < 100 && !sync.status().listening; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sync.status().listening, true);
  });
});

describe('config sync auth change on reload', () => {
  it('dropping the psk on reload switches to pinned certificates, making this node\'s certificate then', async () => {
    const clock = new FakeClock();
    const files = new MemoryFileStore();
    const port = await freePort();
    const section = (psk?: string) => syncSection({ address: '127.0.0.1', port }, { name: 'fw-b', address: '127.0.0.2', port: 1 }, psk);
    const first = parsed(nodeConfig('fw-a') + section('a pre-shared key, long enough'));
    const sync = new ConfigSync(first, first.sync!.config!, {
      clock, files, interfaces: new FakeInterfaces([]), log: silentLogger, configFile: '/cfg/a.yaml',
      carpState: () => 'BACKUP', apply: async () => undefined,
    });
    running.push(sync);
    await sync.start();
    assert.equal(sync.status().auth, 'psk');
    assert.equal(sync.status().fingerprint, undefined);
    assert.equal(files.files.has('/tmp/fw-a/sync/cert.pem'), false, 'no certificate while a psk is used');
    await sync.configChanged(parsed(nodeConfig('fw-a') + section()));
    const status = sync.status();
    assert.equal(status.auth, 'certificate');
    assert.match(status.fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(status.listening, true);
    assert.ok(files.files.get('/tmp/fw-a/sync/cert.pem')?.includes('BEGIN CERTIFICATE'));
  });
});

describe('config sync shutdown', () => {
  it('stop() does not wait out a peer that never answers', async () => {
    // A peer that accepts TCP and never speaks TLS: the push would wait timeoutSeconds (5 s).
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.2', resolve));
    const peerPort = (silent.address() as { port: number }).port;
    const clock = new FakeClock();
    const port = await freePort();
    const config = parsed(nodeConfig('fw-a') + syncSection({ address: '127.0.0.1', port }, { name: 'fw-b', address: '127.0.0.2', port: peerPort }, 'a pre-shared key, long enough'));
    const sync = new ConfigSync(config, config.sync!.config!, {
      clock, files: new MemoryFileStore(), interfaces: new FakeInterfaces([]), log: silentLogger, configFile: '/cfg/a.yaml',
      carpState: () => 'MASTER', apply: async () => undefined,
    });
    await sync.start();
    const push = sync.pushNow(false);
    await new Promise((r) => setTimeout(r, 100));
    await sync.stop();
    const [peer] = await push;
    silent.close();
    assert.equal(peer!.outcome, 'unreachable');
    assert.equal(peer!.detail, 'stopped', 'ended by stop(), not by the 5 s timeout');
  });
});

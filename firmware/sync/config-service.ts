// Config sync at run time (issue 13 items 2-3, pfSense's XMLRPC sync done with pinned TLS): the
// MASTER of sync.config.vhid pushes the shared sections to each peer, now and on every change,
// then re-checks; a peer takes a push only through buildCandidate and records its lineage.

import { join } from 'node:path';
import type { TandemConfig } from '../config/schema.js';
import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import { buildCandidate, parseLineage, parseSyncRequest, type FetchReply, type PushMessage, type PushReply, type PushReplyOutcome } from './config-apply.js';
import { adopt, decidePush, noteLocal, RecordStore, type Lineage, type SyncRecord } from './config-record.js';
import { normalizeFingerprint, type ConfigSyncConfig, type ConfigSyncPeer } from './config-schema.js';
import { extractShared, sharedHash, zoneHints, type SharedConfig, type ZoneHints } from './config-shared.js';
import { channelRequest, ChannelServer, type ChannelAuth, type ChannelOutcome, type Refusal } from './channel.js';
import type { InterfacePort } from './peer-interfaces.js';
import { loadOrCreateIdentity, type NodeIdentity } from './peer-identity.js';

/** A peer's state as the master sees it; the same strings are the status values. */
export type PeerOutcome = PushReplyOutcome | ChannelOutcome | 'pending';

export interface PeerStatus {
  name: string;
  address: string;
  outcome: PeerOutcome;
  detail?: string;
  hash?: string;
  generation?: number;
  at?: string;
  pushes: number;
  failures: number;
}

export interface ConfigSyncStatus {
  vhid: number;
  role: string;
  hash: string;
  generation: number;
  auth: 'certificate' | 'psk';
  fingerprint?: string;
  listen: string;
  listening: boolean;
  refused: Record<Refusal, number>;
  peers: PeerStatus[];
  lastReceived?: { from: string; outcome: PushReplyOutcome; issues?: string[]; at: string };
}

export interface ConfigSyncDeps {
  clock: Clock;
  files: FileStore;
  interfaces: InterfacePort;
  log: Logger;
  /** The file the daemon loads; a taken push is written here, atomically. */
  configFile?: string | undefined;
  carpState(vhid: number): string | undefined;
  /** Daemon.applyConfig: puts a checked config in force. */
  apply(config: TandemConfig): Promise<void>;
  /** The event bus: outcome changes go to telemetry and the web UI's live stream. */
  emit?(event: TandemEvent): void;
  /** When a local config apply waits for its confirm: until when (ISO time). A push taken then
   * would be undone by that apply's revert, which puts back the file from before it. */
  localApplyPending?(): string | undefined;
}

export class ConfigSync {
  private record: SyncRecord | undefined;
  /** The lineage of a push being applied: the config it brings is adopted, not a local edit. */
  private adopting: Lineage | undefined;
  private shared: SharedConfig = {};
  private identity: NodeIdentity | undefined;
  private server: ChannelServer | undefined;
  private timer: TimerHandle | undefined;
  private listenRetry: TimerHandle | undefined;
  private listenFailing = false;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly peers = new Map<string, PeerStatus>();
  private readonly refused: Record<Refusal, number> = { badKey: 0, unknownIdentity: 0, badCertificate: 0, badRequest: 0 };
  private lastReceived: ConfigSyncStatus['lastReceived'];
  private readonly store: RecordStore;
  private stopped = false;
  private readonly stopping = new AbortController();

  constructor(
    private config: TandemConfig,
    private sync: ConfigSyncConfig,
    private readonly deps: ConfigSyncDeps,
  ) {
    this.store = new RecordStore(deps.files, join(config.node.stateDir, 'sync', 'record.json'));
  }

  async start(): Promise<void> {
    this.record = await this.store.load();
    await this.noteConfig(this.config);
    await this.ensureIdentity();
    this.resetPeers();
    await this.listen();
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.timer?.cancel();
    this.timer = undefined;
    this.listenRetry?.cancel();
    this.listenRetry = undefined;
    await this.server?.close();
    this.server = undefined;
    await this.chain.catch(() => undefined);
  }

  /** The daemon put a new config in force (reload or a taken push): record it and push if master. */
  async configChanged(next: TandemConfig): Promise<void> {
    const nextSync = next.sync?.config;
    const authChanged = JSON.stringify(nextSync) !== JSON.stringify(this.sync);
    this.config = next;
    if (nextSync) this.sync = nextSync;
    await this.noteConfig(next);
    if (authChanged) {
      // A reload may drop the psk: certificate mode needs this node's certificate from then on.
      await this.ensureIdentity();
      this.resetPeers();
      await this.server?.close();
      await this.listen();
    }
    this.schedule(0);
  }

  /** A CARP transition: a new MASTER of the vhid pushes at once. */
  masterChanged(): void {
    if (this.isMaster) this.schedule(0);
  }

  /** `tandem sync push [--force]`: push now and wait for every peer's answer. */
  async pushNow(force: boolean): Promise<PeerStatus[]> {
    if (!this.isMaster) throw new Error(`this node is not MASTER of vhid ${this.sync.vhid} (it is ${this.role}); push from the master`);
    await this.serialize(() => this.pushAll(force));
    return this.peerList();
  }

  /** `tandem sync diff`: each peer's shared config against this node's, as canonical JSON. */
  async fetchPeers(): Promise<{ name: string; shared?: SharedConfig; lineage?: Lineage; error?: string }[]> {
    const auth = this.auth();
    return Promise.all(
      this.sync.peers.map(async (peer) => {
        const result = await channelRequest(target(peer), auth, { type: 'fetch' }, this.sync.timeoutSeconds * 1000, this.stopping.signal);
        if (!result.ok) return { name: peer.name, error: `${result.outcome}: ${result.detail}` };
        const reply = result.reply as Partial<FetchReply>;
        const lineage = parseLineage(reply.lineage);
        if (!lineage || typeof reply.shared !== 'object') return { name: peer.name, error: 'protocol-error: bad fetch reply' };
        return { name: peer.name, shared: reply.shared as SharedConfig, lineage };
      }),
    );
  }

  get localShared(): SharedConfig {
    return this.shared;
  }

  status(): ConfigSyncStatus {
    return {
      vhid: this.sync.vhid,
      role: this.role,
      hash: this.record?.hash ?? '',
      generation: this.record?.generation ?? 0,
      auth: this.sync.psk ? 'psk' : 'certificate',
      ...(this.identity ? { fingerprint: this.identity.fingerprint } : {}),
      listen: `${this.sync.address}:${this.sync.port}`,
      listening: this.server !== undefined,
      refused: { ...this.refused },
      peers: this.peerList(),
      ...(this.lastReceived ? { lastReceived: this.lastReceived } : {}),
    };
  }

  private get role(): string {
    return this.deps.carpState(this.sync.vhid) ?? 'INIT';
  }

  private get isMaster(): boolean {
    return this.role === 'MASTER';
  }

  private get lineage(): Lineage {
    const r = this.record!;
    return { hash: r.hash, generation: r.generation, ancestors: r.ancestors };
  }

  private peerList(): PeerStatus[] {
    return this.sync.peers.map((p) => ({ ...this.peers.get(p.name)! }));
  }

  private resetPeers(): void {
    for (const p of this.sync.peers) {
      const old = this.peers.get(p.name);
      this.peers.set(p.name, old && old.address === p.address ? old : { name: p.name, address: p.address, outcome: 'pending', pushes: 0, failures: 0 });
    }
    for (const name of [...this.peers.keys()]) if (!this.sync.peers.some((p) => p.name === name)) this.peers.delete(name);
  }

  private async noteConfig(config: TandemConfig): Promise<void> {
    this.shared = extractShared(config);
    const hash = sharedHash(this.shared);
    const next = this.adopting?.hash === hash && this.record ? adopt(this.record, this.adopting) : noteLocal(this.record, hash);
    if (next !== this.record) {
      this.record = next;
      await this.store.save(next);
    }
  }

  private async ensureIdentity(): Promise<void> {
    if (this.sync.psk || this.identity) return;
    this.identity = await loadOrCreateIdentity(this.deps.files, this.config.node.stateDir, this.config.node.name, new Date(this.deps.clock.now()), [this.sync.address]);
    if (this.identity.created) this.deps.log.info(`made this node's sync certificate; pin it on the peers: ${this.identity.fingerprint}`);
  }

  private auth(): ChannelAuth {
    if (this.sync.psk) return { kind: 'psk', key: Buffer.from(this.sync.psk, 'utf8'), identity: this.config.node.name, peers: this.sync.peers.map((p) => p.name) };
    const pinned = new Map<string, string>();
    for (const p of this.sync.peers) {
      const fp = p.fingerprint ? normalizeFingerprint(p.fingerprint) : undefined;
      if (fp) pinned.set(fp, p.name);
    }
    return { kind: 'certificate', certPem: this.identity!.certPem, keyPem: this.identity!.keyPem, pinned };
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    const server = new ChannelServer(this.sync.address, this.sync.port, this.auth(), (from, request) => this.answer(from, request), (reason, detail) => {
      this.refused[reason]++;
      this.deps.log.warn(`sync connection refused (${reason}): ${detail}`);
    });
    try {
      await server.listen();
      this.server = server;
      if (this.listenFailing) this.deps.log.info(`config sync listening on ${this.sync.address}:${this.sync.port}`);
      this.listenFailing = false;
    } catch (error) {
      this.server = undefined;
      if (!this.listenFailing) {
        this.deps.log.error(`config sync not listening on ${this.sync.address}:${this.sync.port}, retrying every ${this.sync.retrySeconds} s: ${(error as Error).message}`);
      }
      this.listenFailing = true;
      // The address may come up later (a link still down at boot): keep trying, logging once.
      this.listenRetry?.cancel();
      this.listenRetry = this.deps.clock.setTimer(this.sync.retrySeconds * 1000, () => {
        this.listenRetry = undefined;
        if (!this.server) void this.listen();
      });
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.deps.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      void this.serialize(async () => {
        if (this.isMaster) await this.pushAll(false);
      }).finally(() => {
        if (!this.isMaster || this.timer) return;
        const settled = this.peerList().every((p) => p.outcome === 'in-sync' || p.outcome === 'applied' || p.outcome === 'diverged' || p.outcome === 'refused');
        this.schedule((settled ? this.sync.checkSeconds : this.sync.retrySeconds) * 1000);
      });
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async pushAll(force: boolean): Promise<void> {
    await Promise.all(this.sync.peers.map((peer) => this.pushTo(peer, force)));
  }

  private async pushTo(peer: ConfigSyncPeer, force: boolean): Promise<void> {
    const message: PushMessage = { type: 'push', shared: this.shared, hints: zoneHints(this.config), lineage: this.lineage, force };
    const status = this.peers.get(peer.name)!;
    status.pushes++;
    const result = await channelRequest(target(peer), this.auth(), message, this.sync.timeoutSeconds * 1000, this.stopping.signal);
    const at = new Date(this.deps.clock.now()).toISOString();
    if (!result.ok) {
      status.failures++;
      this.setPeer(status, { outcome: result.outcome, detail: result.detail, at });
      return;
    }
    const reply = result.reply as Partial<PushReply> & { error?: string };
    const lineage = parseLineage(reply.lineage);
    if (!lineage || typeof reply.outcome !== 'string') {
      status.failures++;
      this.setPeer(status, { outcome: 'protocol-error', detail: reply.error ?? 'bad push reply', at });
      return;
    }
    const detail = reply.issues?.join('; ');
    this.setPeer(status, { outcome: reply.outcome, ...(detail ? { detail } : {}), hash: lineage.hash, generation: lineage.generation, at });
    if (reply.outcome === 'peer-ahead' && reply.shared && reply.hints) {
      // The peer compared against the lineage this push carried; this node may have been edited
      // since (a reload during the push). Take the peer's config only if it still descends from ours.
      if (decidePush(this.lineage, lineage, false) !== 'fast-forward') {
        this.setPeer(status, { outcome: 'diverged', detail: '(sync): both nodes changed the shared config since they last agreed; `tandem sync diff` shows how, `tandem sync push --force` overrides', hash: lineage.hash, generation: lineage.generation, at });
        return;
      }
      // This node came back with an older config: it takes the peer's, as a backup would.
      const taken = await this.take(reply.shared, reply.hints, lineage);
      this.deps.log.info(`peer ${peer.name} holds a newer shared config: ${taken.outcome}`, taken.issues ? { issues: taken.issues } : {});
      if (taken.outcome === 'applied') this.setPeer(status, { outcome: 'in-sync', hash: lineage.hash, generation: lineage.generation, at });
    }
  }

  private setPeer(status: PeerStatus, next: Omit<Partial<PeerStatus>, 'name' | 'address' | 'pushes' | 'failures'>): void {
    const before = `${status.outcome} ${status.detail ?? ''}`;
    delete status.detail;
    Object.assign(status, next);
    const after = `${status.outcome} ${status.detail ?? ''}`;
    if (before === after) return;
    const line = `config sync to ${status.name}: ${status.outcome}${status.detail ? `: ${status.detail}` : ''}`;
    this.deps.emit?.({ type: 'configSync', direction: 'sent', peer: status.name, outcome: status.outcome, ...(status.detail ? { detail: status.detail } : {}) });
    if (status.outcome === 'in-sync' || status.outcome === 'applied') this.deps.log.info(line);
    else this.deps.log.warn(line);
  }

  private async answer(from: string, request: unknown): Promise<PushReply | FetchReply | { error: string }> {
    const parsed = parseSyncRequest(request);
    if ('error' in parsed) {
      this.refused.badRequest++;
      return { error: parsed.error };
    }
    if (parsed.type === 'fetch') return { shared: this.shared, lineage: this.lineage };
    const reply = await this.serialize(() => this.receive(parsed));
    this.lastReceived = { from, outcome: reply.outcome, ...(reply.issues ? { issues: reply.issues } : {}), at: new Date(this.deps.clock.now()).toISOString() };
    if (reply.outcome !== 'in-sync') {
      this.deps.log.info(`config push from ${from}: ${reply.outcome}`, reply.issues ? { issues: reply.issues } : {});
      this.deps.emit?.({ type: 'configSync', direction: 'received', peer: from, outcome: reply.outcome, ...(reply.issues ? { detail: reply.issues.join('; ') } : {}) });
    }
    return reply;
  }

  private async receive(push: PushMessage): Promise<PushReply> {
    if (this.isMaster) {
      return { outcome: 'refused', lineage: this.lineage, issues: [`(sync): this node is MASTER of vhid ${this.sync.vhid} too; it takes pushes only as BACKUP`] };
    }
    const decision = decidePush(this.lineage, push.lineage, push.force);
    if (decision === 'in-sync') return { outcome: 'in-sync', lineage: this.lineage };
    if (decision === 'diverged') {
      return { outcome: 'diverged', lineage: this.lineage, issues: ['(sync): both nodes changed the shared config since they last agreed; `tandem sync diff` shows how, `tandem sync push --force` on the master overrides'] };
    }
    if (decision === 'peer-ahead') return { outcome: 'peer-ahead', lineage: this.lineage, shared: this.shared, hints: zoneHints(this.config) };
    return this.take(push.shared, push.hints, push.lineage);
  }

  /** Checks and applies another node's shared config: file first (atomic), then in force, then the record. */
  private async take(shared: SharedConfig, hints: ZoneHints, lineage: Lineage): Promise<PushReply> {
    const refuse = (issues: string[]): PushReply => ({ outcome: 'refused', lineage: this.lineage, issues });
    const file = this.deps.configFile;
    if (!file) return refuse(['(sync): this daemon runs without a config file to write']);
    const pendingUntil = this.deps.localApplyPending?.();
    if (pendingUntil) {
      return refuse([`(sync): a config applied on this node waits for its confirm until ${pendingUntil}; confirm it or let it revert, then push again`]);
    }
    const text = await this.deps.files.read(file).catch((error: Error) => {
      this.deps.log.error(`cannot read ${file}: ${error.message}`);
      return undefined;
    });
    if (text === undefined) return refuse([`(file): cannot read ${file}`]);
    const candidate = await buildCandidate(text, this.config, shared, hints, lineage.hash, this.deps.interfaces);
    if (!candidate.ok) return refuse(candidate.issues);
    await this.deps.files.writeAtomic(file, candidate.text);
    // applyConfig ends with configChanged, which records the adopted lineage once the config is
    // in force, so status shows the new hash only then. A crash before that finds the new file
    // and the old record: a local edit whose hash equals the master's, i.e. in sync.
    this.adopting = lineage;
    try {
      await this.deps.apply(candidate.config);
      if (this.record?.hash !== lineage.hash) await this.noteConfig(candidate.config);
    } finally {
      this.adopting = undefined;
    }
    return { outcome: 'applied', lineage: this.lineage };
  }
}

function target(peer: ConfigSyncPeer): { name: string; address: string; port: number; fingerprint?: string } {
  return { name: peer.name, address: peer.address, port: peer.port, ...(peer.fingerprint ? { fingerprint: peer.fingerprint } : {}) };
}

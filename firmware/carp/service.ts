// The CARP service: runs one pure state machine (machine.ts) per virtual host and carries out
// its effects through the ports — timers, raw adverts, addresses, announcements, hooks. One
// packet channel per interface and family is shared by that interface's vhosts. Demotion is
// node-wide as in carp(4), where every vhost sits in the `carp` interface group: a down parent
// or tracked link, the admin's `carpdemote` and maintenance mode all add to one counter.

import { randomBytes } from 'node:crypto';
import type { CarpConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import {
  virtualMac,
  type AddressPort,
  type Family,
  type LinkPort,
  type NeighborAnnouncer,
  type PacketChannel,
  type PacketPort,
  type ReceivedPacket,
  type TakeoverHandle,
  type TakeoverOutcome,
  type TakeoverPlan,
  type TakeoverStep,
  type AdvertCadence,
  type VirtualMacPort,
} from '../net/ports.js';
import { CARP_V4_GROUP, CARP_V6_GROUP, classifyPacket, encodeAdvert, type AuthKey, type Rejection } from './codec.js';
import type { HookRunner } from './hooks.js';
import {
  advertIntervalMs,
  transition,
  type CarpState,
  type Effect,
  type Event,
  type Settings,
  type StateName,
} from './machine.js';

export const MAINTENANCE_ADVSKEW = 254;
/** Large enough that a node in maintenance yields even to a peer with a failed link or two. */
export const MAINTENANCE_DEMOTE = 64;
const MAX_DEMOTE = 255;
const SEND_ERRORS_BEFORE_DEMOTE = 3;
/** Encoded adverts kept per vhost: only demotion, maintenance and the bow-out change one. */
const ADVERT_CACHE_SIZE = 8;
/**
 * How long a channel keeps a MASTER's adverts going after the event loop's last one (at least
 * three intervals): long enough for a GC pause or a busy loop, short enough that a daemon that
 * stopped running stops advertising and its backups take over.
 */
export const ADVERT_FILL_LEASE_MS = 1000;
/** Least time between two re-announcements caused by hearing a slower master. */
export const REANNOUNCE_SPACING_MS = 100;

export type CounterName = 'sent' | 'received' | Rejection;
export type Counters = Record<CounterName, number>;

export function emptyCounters(): Counters {
  return {
    sent: 0,
    received: 0,
    short: 0,
    badVersion: 0,
    badType: 0,
    badChecksum: 0,
    badAuth: 0,
    badTtl: 0,
    badVhid: 0,
    loop: 0,
  };
}

export interface VhostStatus {
  vhid: number;
  interface: string;
  state: StateName;
  advbase: number;
  advskew: number;
  demote: number;
  addresses: string[];
  since: string;
  counters: Counters;
}

export interface DemotionStatus {
  total: number;
  admin: number;
  maintenance: boolean;
  linksDown: string[];
  external: Record<string, number>;
}

export interface CarpPorts {
  clock: Clock;
  packets: PacketPort;
  addresses: AddressPort;
  announcer: NeighborAnnouncer;
  links: LinkPort;
  virtualMacs?: VirtualMacPort;
  hooks: HookRunner;
  log: Logger;
}

export type StateListener = (vhid: number, iface: string, from: StateName, to: StateName, reason: string) => void;

function familyOf(cidr: string): Family {
  return cidr.includes(':') ? 6 : 4;
}

function bare(cidr: string): string {
  return cidr.split('/')[0]!;
}

/** Key identifying a vhost: vhids are unique per interface, not per node. */
function vhostKey(iface: string, vhid: number): string {
  return `${iface}#${vhid}`;
}

class Vhost {
  state: CarpState;
  readonly counters = emptyCounters();
  /** OpenBSD's replay cookie: random once, sent in every advert; hearing it back means a loop. */
  readonly cookie = new Uint8Array(randomBytes(8));
  private advertTimer: TimerHandle | undefined;
  private trailingAnnounce: TimerHandle | undefined;
  private lastReannounceAt: number | undefined;
  private masterDownTimer: TimerHandle | undefined;
  /** The master-down when the channel runs it as a standing takeover (then also masterDownTimer). */
  private standing: { handle: TakeoverHandle; deadline: number; heardAfter: number } | undefined;
  /** What a takeover would do under the current settings, for the channel to carry out. */
  private plan: TakeoverPlan | undefined;
  /** Steps of this takeover the channel already carried out; the machine's effects skip them once. */
  private readonly doneByChannel = new Set<TakeoverStep>();
  private standingUnavailable = false;
  /** The channels keep this MASTER's adverts going (advertise); stopped on leaving MASTER. */
  private filling = false;
  private addressWork: Promise<void> = Promise.resolve();
  private readonly adverts = new Map<string, Uint8Array>();
  private macvlan: string | undefined;
  readonly key: AuthKey;
  private stopped = false;

  constructor(readonly config: CarpConfig, private readonly service: CarpService) {
    this.state = { name: 'INIT', since: service.ports.clock.monotonic() };
    this.key = { password: config.password, addresses: config.addresses };
  }

  get families(): Family[] {
    return [...new Set(this.config.addresses.map(familyOf))];
  }

  settings(): Settings {
    const maintenance = this.service.maintenance;
    return {
      advbase: this.config.advbase,
      advskew: maintenance ? MAINTENANCE_ADVSKEW : this.config.advskew,
      demote: this.service.demotion().total,
      preempt: this.config.preempt,
    };
  }

  dispatch(event: Event): void {
    if (this.stopped) return;
    if (event.type === 'settingsChanged') {
      this.adverts.clear();
      this.plan = undefined;
    }
    const { state, effects } = transition(this.state, event, this.settings());
    // Before any effect: a fill sent after a bow-out advert would pull the backup that just
    // took over back to BACKUP. New settings make a new advert, so the old one stops too.
    if (state.name !== 'MASTER' || event.type === 'settingsChanged') this.stopFills();
    this.state = state;
    // Timers count from the event: an advert that waited in the receive queue while the event
    // loop was busy has that much less of its master-down left, as in the kernel.
    const late = Math.max(0, this.service.ports.clock.monotonic() - event.at);
    for (const effect of effects) this.apply(effect, late);
    if (event.type === 'settingsChanged') this.replanStanding();
  }

  private apply(effect: Effect, late: number): void {
    const { clock, log } = this.service.ports;
    switch (effect.type) {
      case 'sendAdvert': {
        const advert = this.advert(effect.advbase, effect.advskew, effect.demote);
        const sentByChannel = this.doneByChannel.delete('advert') && advert === this.plan?.advert;
        this.sendAdvert(advert, advertIntervalMs(effect.advbase, effect.advskew), sentByChannel);
        return;
      }
      case 'armTimer':
        if (effect.timer === 'advert') this.armAdvertTimer(Math.max(0, effect.delayMs - late));
        else this.armMasterDownTimer(Math.max(0, effect.delayMs - late), late);
        return;
      case 'cancelTimer':
        this.cancel(effect.timer);
        return;
      case 'claimAddresses':
        if (!this.doneByChannel.delete('addresses')) this.queueAddressWork('claim', () => this.claim());
        return;
      case 'announceAddresses':
        if (effect.slowerMaster) this.requestReannounce();
        else if (this.config.mac === 'virtual') this.queueAddressWork('announce', () => this.announce());
        else if (!this.doneByChannel.delete('announce')) this.announceNow();
        return;
      case 'releaseAddresses':
        this.queueAddressWork('release', () => this.release());
        return;
      case 'stateChanged':
        log.info(`vhid ${this.config.vhid} on ${this.config.interface}: ${effect.from} -> ${effect.to}`, {
          reason: effect.reason,
        });
        this.service.stateChanged(this, effect.from, effect.to, effect.reason);
        return;
    }
  }

  private armAdvertTimer(delayMs: number): void {
    const { clock } = this.service.ports;
    this.cancel('advert');
    this.advertTimer = clock.setTimer(delayMs, () => {
      this.advertTimer = undefined;
      this.dispatch({ type: 'advertTimerFired', at: clock.monotonic() });
    });
  }

  /** `heardWithinMs`: how long ago the event that arms it happened (an advert's arrival). */
  private armMasterDownTimer(delayMs: number, heardWithinMs: number): void {
    const { clock } = this.service.ports;
    this.cancel('masterDown');
    if (this.armStanding(delayMs, heardWithinMs)) return;
    const handle = clock.setTimer(delayMs, () => {
      if (this.masterDownTimer !== handle) return;
      this.masterDownTimer = undefined;
      this.masterDownExpired(clock.monotonic());
    }, { precise: true });
    this.masterDownTimer = handle;
  }

  private masterDownExpired(at: number): void {
    // libuv runs timers before it polls, so after a stall adverts that arrived in time may
    // still be waiting in the socket; hear them first. One of them re-arms the master-down.
    this.service.catchUp(this.config.interface);
    if (this.masterDownTimer !== undefined) return;
    this.dispatch({ type: 'masterDownTimerFired', at });
  }

  /**
   * Hands the master-down to the channel when it can carry a takeover out itself: the addon's
   * receive thread acts on the deadline, where a timer on the event loop was 0.5-1.5 ms late
   * (scripts/bench/failover, "takeover"). What it carries out is what the machine says a
   * takeover does, asked now; the outcome then goes through the machine like a timer firing.
   */
  private armStanding(delayMs: number, heardWithinMs: number): boolean {
    const [family, ...others] = this.families;
    if (this.standingUnavailable || this.config.mac === 'virtual' || !family || others.length > 0) return false;
    const channel = this.service.channel(this.config.interface, family);
    if (!channel?.armTakeover) return false;
    const plan = this.takeoverPlan(family);
    if (!plan) return false;
    const { clock, log } = this.service.ports;
    const now = clock.monotonic();
    try {
      const handle: TakeoverHandle = channel.armTakeover(plan, delayMs, heardWithinMs, (outcome) =>
        this.takeoverDecided(handle, outcome),
      );
      this.masterDownTimer = handle;
      this.standing = { handle, deadline: now + delayMs, heardAfter: now - heardWithinMs };
      return true;
    } catch (error) {
      this.standingUnavailable = true;
      log.warn(
        `vhid ${this.config.vhid}: ${this.config.interface} cannot carry out takeovers ` +
          `(${(error as Error).message}); the master-down runs on a timer`,
      );
      return false;
    }
  }

  /** The machine's takeover under the current settings, when it is one a channel can carry out. */
  private takeoverPlan(family: Family): TakeoverPlan | undefined {
    if (this.plan) return this.plan;
    // The machine is pure: asking it what a takeover would do changes nothing.
    const { effects } = transition({ name: 'BACKUP', since: 0 }, { type: 'masterDownTimerFired', at: 0 }, this.settings());
    const advert = effects.find((effect) => effect.type === 'sendAdvert');
    const claims = effects.some((effect) => effect.type === 'claimAddresses');
    const announces = effects.some((effect) => effect.type === 'announceAddresses' && !effect.slowerMaster);
    if (advert?.type !== 'sendAdvert' || !claims || !announces) return undefined;
    this.plan = {
      vhid: this.config.vhid,
      destination: this.destination(family),
      advert: this.advert(advert.advbase, advert.advskew, advert.demote),
      addresses: [...this.config.addresses],
    };
    return this.plan;
  }

  /** New settings make a new plan; a standing takeover keeps its deadline and takes it. */
  private replanStanding(): void {
    const standing = this.standing;
    if (!standing || this.masterDownTimer !== standing.handle) return;
    // Too late: the channel acted on the deadline and its outcome, still current, is coming.
    if (!standing.handle.cancel()) return;
    const now = this.service.ports.clock.monotonic();
    this.armMasterDownTimer(Math.max(0, standing.deadline - now), now - standing.heardAfter);
  }

  private takeoverDecided(handle: TakeoverHandle, outcome: TakeoverOutcome): void {
    const { clock, log } = this.service.ports;
    const at = clock.monotonic() - outcome.ageMs;
    const current = this.masterDownTimer === handle;
    if (current) {
      this.masterDownTimer = undefined;
      this.standing = undefined;
    }
    if (!outcome.taken) {
      // What called it off did not re-arm the master-down, so it was no valid advert (a forged
      // one, say): the master is still gone.
      if (current && !this.stopped) this.masterDownExpired(at);
      return;
    }
    for (const failure of outcome.failures) {
      log.warn(`vhid ${this.config.vhid}: takeover ${failure.step} failed: ${failure.message}; retrying`);
    }
    if (!current || this.stopped || this.state.name !== 'BACKUP') {
      // The machine moved on (link down, shutdown) while the channel was acting: undo it.
      if (this.state.name !== 'MASTER') this.queueAddressWork('release', () => this.release());
      return;
    }
    const failed = new Set(outcome.failures.map((failure) => failure.step));
    for (const step of ['advert', 'addresses', 'announce'] as const) if (!failed.has(step)) this.doneByChannel.add(step);
    this.dispatch({ type: 'masterDownTimerFired', at });
    this.doneByChannel.clear();
  }

  private cancel(timer: 'advert' | 'masterDown'): void {
    if (timer === 'advert') {
      this.advertTimer?.cancel();
      this.advertTimer = undefined;
    } else {
      this.masterDownTimer?.cancel();
      this.masterDownTimer = undefined;
      this.standing = undefined;
    }
  }

  /**
   * The advert for these values, encoded once: the HMAC covers none of them, so a vhost sends
   * the same bytes until its settings change, and the first advert as MASTER costs no encoding.
   */
  private advert(advbase: number, advskew: number, demote: number): Uint8Array {
    const key = `${advbase}/${advskew}/${demote}`;
    let message = this.adverts.get(key);
    if (!message) {
      if (this.adverts.size >= ADVERT_CACHE_SIZE) this.adverts.clear();
      message = encodeAdvert({ vhid: this.config.vhid, advbase, advskew, demote, counter: this.cookie }, this.key);
      this.adverts.set(key, message);
    }
    return message;
  }

  /**
   * Runs the takeover's code once before it is needed: a BACKUP has never encoded an advert,
   * built an ARP frame, drained a channel or become MASTER, and compiling all that on first use
   * slowed the takeover by about a millisecond (scripts/bench/failover, advert->GARP).
   */
  prepareTakeover(): void {
    const iface = this.config.interface;
    // Encodes the first advert and asks the machine what a takeover does.
    this.takeoverPlan(this.families[0] ?? 4);
    for (const cidr of this.config.addresses) this.service.ports.announcer.prepare?.(iface, bare(cidr), this.mac);
    this.service.catchUp(iface);
  }

  private destination(family: Family): string {
    if (this.config.peer && familyOf(this.config.peer) === family) return this.config.peer;
    return family === 4 ? CARP_V4_GROUP : CARP_V6_GROUP;
  }

  /** `alreadySent`: the channel's takeover sent it; it is counted and its fills start. */
  private sendAdvert(message: Uint8Array, intervalMs: number, alreadySent = false): void {
    for (const family of this.families) {
      const channel = this.service.channel(this.config.interface, family);
      if (!channel) continue;
      const destination = this.destination(family);
      this.counters.sent++;
      if (this.state.name === 'MASTER' && channel.advertise) {
        try {
          this.counters.sent += channel.advertise(this.config.vhid, destination, message, this.cadence(intervalMs), alreadySent);
          this.filling = true;
          this.service.sendSucceeded(this);
        } catch (error) {
          this.service.sendFailed(this, error as Error);
        }
        continue;
      }
      if (alreadySent) {
        this.service.sendSucceeded(this);
        continue;
      }
      channel.send(destination, message).then(
        () => this.service.sendSucceeded(this),
        (error: Error) => this.service.sendFailed(this, error),
      );
    }
  }

  private queueAddressWork(what: string, work: () => Promise<void>): void {
    this.addressWork = this.addressWork.then(work).catch((error: Error) => {
      this.service.ports.log.error(`vhid ${this.config.vhid}: ${what} failed: ${error.message}`);
    });
  }

  idle(): Promise<void> {
    return this.addressWork;
  }

  private get mac(): string | undefined {
    return this.config.mac === 'virtual' ? virtualMac(this.config.vhid) : undefined;
  }

  private async claim(): Promise<void> {
    const { addresses, virtualMacs } = this.service.ports;
    let target = this.config.interface;
    if (this.config.mac === 'virtual' && virtualMacs) {
      this.macvlan = await virtualMacs.attach(this.config.interface, this.config.vhid, this.mac!);
      target = this.macvlan;
    }
    for (const cidr of this.config.addresses) await addresses.add(target, cidr);
  }

  /**
   * Re-announcements because a slower master was heard are spaced at least
   * REANNOUNCE_SPACING_MS apart. One asked for sooner is not dropped but sent when the spacing
   * allows, so the last reason to announce (a loser's final advert after a healed partition) is
   * always honoured, while a peer advertising every few milliseconds cannot turn into a flood
   * of gratuitous ARPs (the failover bench's soak saw exactly that).
   */
  private requestReannounce(): void {
    const { clock } = this.service.ports;
    if (this.trailingAnnounce) return;
    const wait = this.lastReannounceAt === undefined ? 0 : this.lastReannounceAt + REANNOUNCE_SPACING_MS - clock.monotonic();
    if (wait <= 0) {
      this.lastReannounceAt = clock.monotonic();
      this.queueAddressWork('announce', () => this.announce());
      return;
    }
    this.trailingAnnounce = clock.setTimer(wait, () => {
      this.trailingAnnounce = undefined;
      this.lastReannounceAt = clock.monotonic();
      this.queueAddressWork('announce', () => this.announce());
    });
  }

  /**
   * Announces without waiting for the address work: the gratuitous ARP leaves right after the
   * first advert and the address is added in the same tick, as UCarp sends its ARP while its up
   * script runs. A client frame arriving in between was lost either way: it went to the old
   * master.
   */
  private announceNow(): void {
    this.announce().catch((error: Error) => {
      this.service.ports.log.error(`vhid ${this.config.vhid}: announce failed: ${error.message}`);
    });
  }

  private async announce(): Promise<void> {
    // A vhost that yielded while this was queued must not announce: its gratuitous ARP would
    // pull clients away from the new master.
    if (this.state.name !== 'MASTER' || this.stopped) return;
    const { announcer } = this.service.ports;
    const iface = this.macvlan ?? this.config.interface;
    for (const cidr of this.config.addresses) {
      if (familyOf(cidr) === 4) await announcer.gratuitousArp(iface, bare(cidr), this.mac);
      else await announcer.unsolicitedNa(iface, bare(cidr), this.mac);
    }
  }

  private async release(): Promise<void> {
    const { addresses, virtualMacs } = this.service.ports;
    if (this.macvlan && virtualMacs) {
      for (const cidr of this.config.addresses) await addresses.remove(this.macvlan, cidr);
      await virtualMacs.detach(this.config.interface, this.config.vhid);
      this.macvlan = undefined;
      return;
    }
    for (const cidr of this.config.addresses) await addresses.remove(this.config.interface, cidr);
  }

  private cadence(intervalMs: number): AdvertCadence {
    return { intervalMs, leaseMs: Math.max(ADVERT_FILL_LEASE_MS, 3 * intervalMs) };
  }

  private stopFills(): void {
    if (!this.filling) return;
    this.filling = false;
    for (const family of this.families) {
      this.counters.sent += this.service.channel(this.config.interface, family)?.stopAdvertising?.(this.config.vhid) ?? 0;
    }
  }

  stop(): void {
    this.stopFills();
    this.cancel('advert');
    this.cancel('masterDown');
    this.trailingAnnounce?.cancel();
    this.trailingAnnounce = undefined;
    this.stopped = true;
  }

  status(now: (monotonic: number) => string): VhostStatus {
    const settings = this.settings();
    return {
      vhid: this.config.vhid,
      interface: this.config.interface,
      state: this.state.name,
      advbase: settings.advbase,
      advskew: settings.advskew,
      demote: settings.demote,
      addresses: [...this.config.addresses],
      since: now(this.state.since),
      counters: { ...this.counters },
    };
  }
}

interface ChannelEntry {
  channel: PacketChannel | undefined;
  opening: Promise<void>;
}

/** The node's CARP vhosts and the demotion they share. */
export class CarpService {
  private readonly vhosts = new Map<string, Vhost>();
  private readonly channels = new Map<string, ChannelEntry>();
  private readonly linkState = new Map<string, boolean>();
  /** Parent or tracked interfaces that did not exist when first looked up. */
  private readonly missingLinks = new Set<string>();
  private readonly unmatched = new Map<string, Partial<Record<Rejection, number>>>();
  private readonly listeners: StateListener[] = [];
  private unwatch: (() => void) | undefined;
  private adminDemote = 0;
  maintenance = false;
  private readonly externalDemotes = new Map<string, number>();
  private readonly sendErrors = new Map<string, number>();
  private configs: CarpConfig[];

  constructor(configs: CarpConfig[], readonly ports: CarpPorts) {
    this.configs = configs;
  }

  onStateChange(listener: StateListener): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.unwatch = this.ports.links.watch((iface, up) => this.linkChanged(iface, up));
    for (const config of this.configs) await this.addVhost(config);
  }

  /** Releases everything: a MASTER bows out first so a backup takes over at once. */
  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    const at = this.ports.clock.monotonic();
    for (const vhost of this.vhosts.values()) vhost.dispatch({ type: 'shutdownRequested', at });
    await Promise.all([...this.vhosts.values()].map((v) => v.idle()));
    for (const vhost of this.vhosts.values()) vhost.stop();
    await this.ports.hooks.idle();
    await Promise.all([...this.channels.values()].map(async (entry) => {
      await entry.opening;
      await entry.channel?.close();
    }));
    this.channels.clear();
  }

  /**
   * What a kill -9 leaves behind: timers and sockets gone, addresses still configured. Only the
   * simulation uses this, to show what a crashed node looks like to its peers.
   */
  async abandon(): Promise<void> {
    this.unwatch?.();
    this.unwatch = undefined;
    for (const vhost of this.vhosts.values()) vhost.stop();
    await Promise.all([...this.channels.values()].map(async (entry) => {
      await entry.opening;
      await entry.channel?.close();
    }));
    this.channels.clear();
  }

  /** Applies a new list of vhosts: unchanged ones keep running, others restart or go. */
  async reload(configs: CarpConfig[]): Promise<void> {
    const at = this.ports.clock.monotonic();
    const demoteBefore = this.demotion().total;
    const wanted = new Map(configs.map((c) => [vhostKey(c.interface, c.vhid), c]));
    for (const [key, vhost] of this.vhosts) {
      const next = wanted.get(key);
      if (next && sameIdentity(vhost.config, next)) continue;
      vhost.dispatch({ type: 'shutdownRequested', at });
      await vhost.idle();
      vhost.stop();
      this.vhosts.delete(key);
    }
    for (const config of configs) {
      const key = vhostKey(config.interface, config.vhid);
      const running = this.vhosts.get(key);
      if (!running) {
        await this.addVhost(config);
      } else if (JSON.stringify(running.config) !== JSON.stringify(config)) {
        const previous = running.settings();
        Object.assign(running.config, structuredClone(config));
        running.dispatch({ type: 'settingsChanged', at, previous });
        await this.learnLinks(running.config);
      }
    }
    this.configs = configs;
    this.recomputeTracking();
    await this.closeUnusedChannels();
    // Links now tracked or no longer tracked change the node's demote count.
    this.demotionChanged(demoteBefore);
  }

  private async addVhost(config: CarpConfig): Promise<void> {
    const vhost = new Vhost(structuredClone(config), this);
    this.vhosts.set(vhostKey(config.interface, config.vhid), vhost);
    await this.learnLinks(config);
    this.recomputeTracking();
    // A parent that does not exist yet (a USB NIC, a VLAN made later) leaves the vhost in INIT;
    // its sockets open when the link appears. Any other failure to open is fatal at start.
    if (this.missingLinks.has(config.interface)) return;
    for (const family of vhost.families) await this.ensureChannel(config.interface, family);
    await this.ports.addresses.prepare?.(config.interface);
    // Start from a clean slate: a VIP left behind by a crash would answer beside the master.
    for (const cidr of config.addresses) await this.ports.addresses.remove(config.interface, cidr).catch(() => undefined);
    vhost.prepareTakeover();
    if (this.linkState.get(config.interface)) {
      vhost.dispatch({ type: 'interfaceUp', at: this.ports.clock.monotonic() });
    }
  }

  private hasChannels(vhost: Vhost): boolean {
    return vhost.families.every((family) => this.channel(vhost.config.interface, family) !== undefined);
  }

  /** A parent link appeared after start: open its sockets, then let the vhost leave INIT. */
  private async openThenUp(vhost: Vhost): Promise<void> {
    const iface = vhost.config.interface;
    try {
      for (const family of vhost.families) await this.ensureChannel(iface, family);
    } catch (error) {
      this.ports.log.error(`vhid ${vhost.config.vhid}: cannot open CARP sockets on ${iface}: ${(error as Error).message}`);
      return;
    }
    if (this.linkState.get(iface) && this.vhosts.get(vhostKey(iface, vhost.config.vhid)) === vhost) {
      vhost.dispatch({ type: 'interfaceUp', at: this.ports.clock.monotonic() });
    }
  }

  /** Reads the state of the parent and tracked links that are not watched yet. */
  private async learnLinks(config: CarpConfig): Promise<void> {
    for (const iface of [config.interface, ...config.track.interfaces]) {
      if (!this.linkState.has(iface)) {
        const info = await this.ports.links.get(iface);
        this.linkState.set(iface, info?.up ?? false);
        if (!info) {
          this.missingLinks.add(iface);
          this.ports.log.warn(`interface ${iface} does not exist yet; vhid ${config.vhid} waits in INIT`);
        }
      }
    }
  }

  private async ensureChannel(iface: string, family: Family): Promise<void> {
    const key = `${iface}/${family}`;
    const existing = this.channels.get(key);
    if (existing) return existing.opening;
    const entry: ChannelEntry = { channel: undefined, opening: Promise.resolve() };
    entry.opening = this.ports.packets.open(iface, family).then(
      (channel) => {
        entry.channel = channel;
        channel.onPacket((packet) => this.received(iface, packet));
      },
      (error: Error) => {
        // Forget the failed attempt so that the next link-up tries again.
        this.channels.delete(key);
        throw error;
      },
    );
    this.channels.set(key, entry);
    return entry.opening;
  }

  /** Sockets whose interface and family no vhost uses any more would only count strangers. */
  private async closeUnusedChannels(): Promise<void> {
    const used = new Set([...this.vhosts.values()].flatMap((v) => v.families.map((f) => `${v.config.interface}/${f}`)));
    for (const [key, entry] of this.channels) {
      if (used.has(key)) continue;
      this.channels.delete(key);
      await entry.opening.catch(() => undefined);
      await entry.channel?.close();
    }
  }

  channel(iface: string, family: Family): PacketChannel | undefined {
    return this.channels.get(`${iface}/${family}`)?.channel;
  }

  private received(iface: string, packet: ReceivedPacket): void {
    const byVhid = (vhid: number) => this.vhosts.get(vhostKey(iface, vhid));
    const verdict = classifyPacket(packet, (vhid) => {
      const vhost = byVhid(vhid);
      return vhost ? { key: vhost.key, lastSentCounter: vhost.cookie } : undefined;
    });
    // Rejections are counted on the vhost the packet names, when it names one of ours.
    const named = packet.payload.length > 1 ? byVhid(packet.payload[1]!) : undefined;
    if (!verdict.ok) {
      if (named) named.counters[verdict.reason]++;
      else {
        const bucket = this.unmatched.get(iface) ?? {};
        bucket[verdict.reason] = (bucket[verdict.reason] ?? 0) + 1;
        this.unmatched.set(iface, bucket);
      }
      return;
    }
    const vhost = byVhid(verdict.advert.vhid);
    if (!vhost) return;
    vhost.counters.received++;
    const { advbase, advskew, demote } = verdict.advert;
    const at = this.ports.clock.monotonic() - (packet.ageMs ?? 0);
    vhost.dispatch({ type: 'advertReceived', at, advbase, advskew, demote, source: packet.source });
  }

  /** Delivers the packets that arrived on `iface` but are still waiting for the event loop. */
  catchUp(iface: string): void {
    this.channel(iface, 4)?.drain?.();
    this.channel(iface, 6)?.drain?.();
  }

  sendFailed(vhost: Vhost, error: Error): void {
    // carp(4) demotes by one after three consecutive send errors, and lifts it on the next success.
    const key = vhostKey(vhost.config.interface, vhost.config.vhid);
    const count = (this.sendErrors.get(key) ?? 0) + 1;
    this.sendErrors.set(key, count);
    this.ports.log.warn(`vhid ${vhost.config.vhid}: advert not sent: ${error.message}`);
    if (count === SEND_ERRORS_BEFORE_DEMOTE) this.setExternalDemote(`sendErrors:${key}`, 1);
  }

  sendSucceeded(vhost: Vhost): void {
    const key = vhostKey(vhost.config.interface, vhost.config.vhid);
    const count = this.sendErrors.get(key);
    if (count === undefined) return;
    this.sendErrors.delete(key);
    if (count >= SEND_ERRORS_BEFORE_DEMOTE) this.setExternalDemote(`sendErrors:${key}`, 0);
  }

  stateChanged(vhost: Vhost, from: StateName, to: StateName, reason: string): void {
    // The hook runs after the addresses and announcements this transition queued: spawning it
    // blocks the event loop for a few milliseconds, which the takeover should not pay.
    void this.ports.hooks.transition(vhost.config.vhid, to, vhost.config.interface, vhost.idle());
    for (const listener of this.listeners) listener(vhost.config.vhid, vhost.config.interface, from, to, reason);
  }

  private linkChanged(iface: string, up: boolean): void {
    // The link port reports every interface; only parents and tracked links count.
    if (!this.linkState.has(iface) || this.linkState.get(iface) === up) return;
    const before = this.demotion().total;
    this.linkState.set(iface, up);
    const at = this.ports.clock.monotonic();
    this.ports.log.info(`link ${iface} ${up ? 'up' : 'down'}`);
    if (up) this.missingLinks.delete(iface);
    for (const vhost of this.vhosts.values()) {
      if (vhost.config.interface !== iface) continue;
      if (up && !this.hasChannels(vhost)) void this.openThenUp(vhost);
      else vhost.dispatch({ type: up ? 'interfaceUp' : 'interfaceDown', at });
    }
    this.demotionChanged(before);
  }

  /** Forgets links that no running vhost uses as parent or tracks. */
  private recomputeTracking(): void {
    const used = new Set([...this.vhosts.values()].flatMap((v) => [v.config.interface, ...v.config.track.interfaces]));
    for (const key of this.linkState.keys()) if (!used.has(key)) this.linkState.delete(key);
  }

  demotion(): DemotionStatus {
    const linksDown = [...this.linkState.entries()].filter(([, up]) => !up).map(([name]) => name);
    const external = Object.fromEntries(this.externalDemotes);
    const externalSum = [...this.externalDemotes.values()].reduce((a, b) => a + b, 0);
    const total = Math.min(
      MAX_DEMOTE,
      Math.max(0, this.adminDemote + (this.maintenance ? MAINTENANCE_DEMOTE : 0) + linksDown.length + externalSum),
    );
    return { total, admin: this.adminDemote, maintenance: this.maintenance, linksDown, external };
  }

  /** `tandem demote --by N`: like `ifconfig -g carp carpdemote N`. */
  demoteBy(delta: number): void {
    const before = this.demotion().total;
    this.adminDemote = Math.min(MAX_DEMOTE, Math.max(0, this.adminDemote + delta));
    this.demotionChanged(before);
  }

  resetDemote(): void {
    const before = this.demotion().total;
    this.adminDemote = 0;
    this.demotionChanged(before);
  }

  /** Demotion owned by another capability, e.g. a balancer pool that is entirely down. */
  setExternalDemote(source: string, value: number): void {
    const before = this.demotion().total;
    if (value > 0) this.externalDemotes.set(source, value);
    else this.externalDemotes.delete(source);
    this.demotionChanged(before);
  }

  setMaintenance(on: boolean): void {
    if (this.maintenance === on) return;
    const previous = [...this.vhosts.values()].map((v) => [v, v.settings()] as const);
    this.maintenance = on;
    const at = this.ports.clock.monotonic();
    for (const [vhost, settings] of previous) vhost.dispatch({ type: 'settingsChanged', at, previous: settings });
  }

  private demotionChanged(before: number): void {
    const after = this.demotion().total;
    if (after === before) return;
    this.ports.log.info(`demote ${before} -> ${after}`);
    const at = this.ports.clock.monotonic();
    for (const vhost of this.vhosts.values()) {
      const previous = { ...vhost.settings(), demote: before };
      vhost.dispatch({ type: 'settingsChanged', at, previous });
    }
  }

  /** `tandem failover`: every MASTER bows out (advbase = advskew = 255). */
  bowOut(): number {
    const at = this.ports.clock.monotonic();
    let count = 0;
    for (const vhost of this.vhosts.values()) {
      if (vhost.state.name !== 'MASTER') continue;
      vhost.dispatch({ type: 'bowOutRequested', at });
      count++;
    }
    return count;
  }

  status(): VhostStatus[] {
    const { clock } = this.ports;
    const toIso = (monotonic: number) => new Date(clock.now() - (clock.monotonic() - monotonic)).toISOString();
    return [...this.vhosts.values()].map((v) => v.status(toIso));
  }

  unmatchedCounters(): Record<string, Partial<Record<Rejection, number>>> {
    return Object.fromEntries(this.unmatched);
  }

  /** Resolves once queued address changes have been carried out (tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.vhosts.values()].map((v) => v.idle()));
  }
}

function sameIdentity(a: CarpConfig, b: CarpConfig): boolean {
  return (
    a.password === b.password &&
    a.mac === b.mac &&
    a.peer === b.peer &&
    JSON.stringify(a.addresses) === JSON.stringify(b.addresses)
  );
}

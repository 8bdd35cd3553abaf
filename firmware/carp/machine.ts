// The CARP state machine of one virtual host, after OpenBSD carp(4) (ip_carp.c 1.342:
// carp_proto_input_c, carp_master_down, carp_setrun, carp_send_ad, carp_ioctl) and carp.md
// "Election (OpenBSD, current)". Pure: time arrives only as `at` on events, and every action
// (packets, timers, addresses) leaves as an effect for the service to perform, in order.

export type StateName = 'INIT' | 'BACKUP' | 'MASTER';

export interface Settings {
  /** Seconds, 0-254 (OpenBSD ifconfig). */
  advbase: number;
  /** 1/256 s, 0-254; 255 is reserved for bow-out. */
  advskew: number;
  /** The effective demote count we advertise and compare with, 0-255. */
  demote: number;
  /** net.inet.carp.preempt. */
  preempt: boolean;
}

export type CarpState =
  | { name: 'INIT'; since: number }
  | { name: 'BACKUP'; since: number }
  /** advertsSinceElected counts the adverts sent after the one sent on election. */
  | { name: 'MASTER'; since: number; advertsSinceElected: number };

export type Event =
  | { type: 'interfaceUp'; at: number }
  | { type: 'interfaceDown'; at: number }
  | { type: 'masterDownTimerFired'; at: number }
  | { type: 'advertTimerFired'; at: number }
  | { type: 'advertReceived'; at: number; advbase: number; advskew: number; demote: number; source: string }
  | { type: 'settingsChanged'; at: number; previous: Settings }
  | { type: 'bowOutRequested'; at: number }
  | { type: 'shutdownRequested'; at: number };

export type TimerName = 'advert' | 'masterDown';

/** Why the state changed; also the telemetry counter names. */
export type TransitionReason =
  | 'interfaceUp'
  | 'interfaceDown'
  /** Our master-down timer fired. */
  | 'masterDown'
  /** Preempt is on and the master advertises slower than us without a better demote. */
  | 'preempt'
  /** The master advertises a higher demote count than ours. */
  | 'masterDemoted'
  /** The master advertises slower than our master-down timeout, e.g. a 255/255 bow-out. */
  | 'masterTooSlow'
  /** As MASTER we heard a master at least as good as us. */
  | 'preferredMaster'
  | 'bowOut'
  | 'shutdown';

export type Effect =
  | { type: 'sendAdvert'; advbase: number; advskew: number; demote: number }
  /** Arms the timer, replacing it if it is already armed. */
  | { type: 'armTimer'; timer: TimerName; delayMs: number }
  | { type: 'cancelTimer'; timer: TimerName }
  | { type: 'claimAddresses' }
  /**
   * Gratuitous ARP / unsolicited NA for each virtual address; `slowerMaster` marks a repeat
   * because another master lost to us, which the service spaces out.
   */
  | { type: 'announceAddresses'; slowerMaster?: true }
  | { type: 'releaseAddresses' }
  /** `peer` is the source of the advert that caused the change, when one did. */
  | { type: 'stateChanged'; from: StateName; to: StateName; reason: TransitionReason; peer?: string };

export interface Transition {
  state: CarpState;
  effects: Effect[];
}

/** Advert values of an OpenBSD master that is going down (carp_send_ad with sc_bow_out). */
export const BOW_OUT_ADVBASE = 255;
export const BOW_OUT_ADVSKEW = 255;

/**
 * Sending interval advbase + advskew/256 s (carp_setrun, MASTER). OpenBSD turns 0/0 into
 * 1/256 s. The result is exact (a multiple of 1/256 s is a dyadic fraction of a millisecond),
 * so it may have a fractional part; the clock adapter decides how to round.
 */
export function advertIntervalMs(advbase: number, advskew: number): number {
  const ticks = advbase === 0 && advskew === 0 ? 1 : advbase * 256 + advskew;
  return ticksToMs(ticks);
}

/**
 * Master-down timeout 3·advbase + advskew/256 s with our own skew (carp_setrun, BACKUP).
 * With advbase 0 OpenBSD uses 3·advskew/256 s, and 3/256 s (~11.7 ms) when both are 0, which
 * is also our minimum: three of the fastest possible adverts.
 */
export function masterDownMs(advbase: number, advskew: number): number {
  if (advbase === 0) return ticksToMs(3 * Math.max(advskew, 1));
  return ticksToMs(3 * advbase * 256 + advskew);
}

export function initialState(at: number): CarpState {
  return { name: 'INIT', since: at };
}

export function transition(state: CarpState, event: Event, settings: Settings): Transition {
  switch (event.type) {
    case 'interfaceUp':
      // carp(4) carp_setrun: INIT goes to BACKUP as soon as the interface runs and arms the
      // master-down timer.
      if (state.name !== 'INIT') return unchanged(state);
      return {
        state: { name: 'BACKUP', since: event.at },
        effects: [armMasterDown(settings), changed('INIT', 'BACKUP', 'interfaceUp')],
      };

    case 'interfaceDown':
      // carp(4) carp_carpdev_state: a down parent link puts the vhost in INIT and stops its
      // timers; a MASTER gives up its addresses.
      return toInit(state, event.at, 'interfaceDown', []);

    case 'masterDownTimerFired':
      // carp(4) carp_master_down: a BACKUP that heard no master in time becomes MASTER; in
      // INIT or MASTER the event is stale and ignored.
      if (state.name !== 'BACKUP') return unchanged(state);
      return becomeMaster(event.at, settings, 'masterDown', []);

    case 'advertTimerFired':
      // carp(4) carp_send_ad: a MASTER advertises every interval and sends the delayed
      // gratuitous ARP with the second advert after the one sent on election (L3 switches).
      if (state.name !== 'MASTER') return unchanged(state);
      return masterAdvertises(state, settings, advertFrom(settings));

    case 'advertReceived':
      return advertReceived(state, event, settings);

    case 'settingsChanged':
      return settingsChanged(state, event.previous, settings);

    case 'bowOutRequested':
      // carp(4) bow-out (SIOCSIFFLAGS down, carp.md "Bow-out"): a MASTER sends one advert with
      // advbase = advskew = 255 so backups take over at once; here we stay as BACKUP.
      if (state.name !== 'MASTER') return unchanged(state);
      return {
        state: { name: 'BACKUP', since: event.at },
        effects: [
          { type: 'cancelTimer', timer: 'advert' },
          bowOutAdvert(settings),
          { type: 'releaseAddresses' },
          armMasterDown(settings),
          changed('MASTER', 'BACKUP', 'bowOut'),
        ],
      };

    case 'shutdownRequested':
      // carp(4) SIOCSIFFLAGS down: timers stop, a MASTER bows out with a 255/255 advert, and
      // the vhost goes to INIT.
      return toInit(state, event.at, 'shutdown', state.name === 'MASTER' ? [bowOutAdvert(settings)] : []);
  }
}

interface Peer {
  advbase: number;
  advskew: number;
  demote: number;
  source: string;
}

function advertReceived(state: CarpState, peer: Peer & { at: number }, settings: Settings): Transition {
  const ours = ticks(settings.advbase, settings.advskew);
  const theirs = ticks(peer.advbase, peer.advskew);
  switch (state.name) {
    case 'INIT':
      // carp(4) carp_proto_input_c: a vhost in INIT ignores adverts.
      return unchanged(state);

    case 'MASTER':
      // carp(4): "If we receive an advertisement from a master who's going to be more frequent
      // than us, and whose demote count is not higher than ours, go into BACKUP state. If his
      // demote count is lower, also go into BACKUP." A tie therefore makes us yield.
      // Like UCarp, we send one last advert as we yield: if a partition just healed, the winner
      // may not have heard us yet, and hearing a slower master is its cue to re-announce.
      if ((theirs <= ours && peer.demote <= settings.demote) || peer.demote < settings.demote) {
        return {
          state: { name: 'BACKUP', since: peer.at },
          effects: [
            { type: 'cancelTimer', timer: 'advert' },
            advertFrom(settings),
            { type: 'releaseAddresses' },
            armMasterDown(settings),
            changed('MASTER', 'BACKUP', 'preferredMaster', peer.source),
          ],
        };
      }
      // A second, slower master means a partition just healed (or a peer just booted into
      // MASTER): clients may have followed its announcements, so announce ours again. UCarp
      // does the same; the slower master yields on our next advert, so this stays brief.
      return { state, effects: [{ type: 'announceAddresses', slowerMaster: true }] };

    case 'BACKUP': {
      const reason = backupTakeover(settings, peer);
      if (reason) {
        // The master-down timer may still be pending; carp_master_down leaves it to fire as a
        // no-op in MASTER, we cancel it instead.
        const cancel: Effect = { type: 'cancelTimer', timer: 'masterDown' };
        return becomeMaster(peer.at, settings, reason, [cancel], peer.source);
      }
      // carp(4): "Otherwise, we reset the counter and wait for the next advertisement."
      return { state, effects: [armMasterDown(settings)] };
    }
  }
}

/** The three BACKUP takeover rules of carp_proto_input_c, in the kernel's order. */
function backupTakeover(settings: Settings, peer: Peer): TransitionReason | undefined {
  const ours = ticks(settings.advbase, settings.advskew);
  const theirs = ticks(peer.advbase, peer.advskew);
  // carp(4): "If we're pre-empting masters who advertise slower than us, and do not have a
  // better demote count, treat them as down."
  if (settings.preempt && theirs > ours && peer.demote >= settings.demote) return 'preempt';
  // carp(4): "Take over masters advertising with a higher demote count, regardless of
  // CARPCTL_PREEMPT."
  if (peer.demote > settings.demote) return 'masterDemoted';
  // carp(4): "If the master is going to advertise at such a low frequency that he's guaranteed
  // to time out, we'd might as well just treat him as timed out now." The kernel compares
  // 3·advbase + our advskew/256 (our master-down time) with their interval, and skips the rule
  // when our advbase is 0.
  const ourMasterDown = ticks(3 * settings.advbase, settings.advskew);
  if (settings.advbase !== 0 && ourMasterDown < theirs) return 'masterTooSlow';
  return undefined;
}

function settingsChanged(state: CarpState, previous: Settings, settings: Settings): Transition {
  const timingChanged = previous.advbase !== settings.advbase || previous.advskew !== settings.advskew;
  switch (state.name) {
    case 'INIT':
      // carp(4): a vhost in INIT has no timers to re-arm and sends nothing.
      return unchanged(state);

    case 'BACKUP':
      // carp(4) SIOCSVH → carp_setrun: the master-down timer is re-armed with the new timing.
      return timingChanged ? { state, effects: [armMasterDown(settings)] } : unchanged(state);

    case 'MASTER':
      // carp(4) carp_group_demote_adj / carp_ifgattr_ioctl: a MASTER whose demote count rises
      // advertises at once, so backups can take over; otherwise a new timing only re-arms the
      // advert timer (carp_setrun).
      if (settings.demote > previous.demote) return masterAdvertises(state, settings, advertFrom(settings));
      return timingChanged ? { state, effects: [armAdvert(settings)] } : unchanged(state);
  }
}

/**
 * carp_master_down: claim the addresses, advertise at once, announce the addresses, then keep
 * advertising. The announcement is repeated two adverts later (masterAdvertises).
 */
function becomeMaster(
  at: number,
  settings: Settings,
  reason: TransitionReason,
  before: Effect[],
  peer?: string,
): Transition {
  return {
    state: { name: 'MASTER', since: at, advertsSinceElected: 0 },
    effects: [
      ...before,
      { type: 'claimAddresses' },
      advertFrom(settings),
      { type: 'announceAddresses' },
      armAdvert(settings),
      changed('BACKUP', 'MASTER', reason, peer),
    ],
  };
}

/** carp_send_ad while MASTER: every advert re-arms the timer and counts down the delayed ARP. */
function masterAdvertises(
  state: Extract<CarpState, { name: 'MASTER' }>,
  settings: Settings,
  advert: Effect,
): Transition {
  const advertsSinceElected = state.advertsSinceElected + 1;
  return {
    state: { ...state, advertsSinceElected },
    effects: [
      advert,
      ...(advertsSinceElected === 2 ? [{ type: 'announceAddresses' } as const] : []),
      armAdvert(settings),
    ],
  };
}

function toInit(state: CarpState, at: number, reason: TransitionReason, first: Effect[]): Transition {
  if (state.name === 'INIT') return unchanged(state);
  const effects: Effect[] =
    state.name === 'MASTER'
      ? [{ type: 'cancelTimer', timer: 'advert' }, ...first, { type: 'releaseAddresses' }]
      : [{ type: 'cancelTimer', timer: 'masterDown' }, ...first];
  return { state: { name: 'INIT', since: at }, effects: [...effects, changed(state.name, 'INIT', reason)] };
}

function armMasterDown(settings: Settings): Effect {
  return { type: 'armTimer', timer: 'masterDown', delayMs: masterDownMs(settings.advbase, settings.advskew) };
}

function armAdvert(settings: Settings): Effect {
  return { type: 'armTimer', timer: 'advert', delayMs: advertIntervalMs(settings.advbase, settings.advskew) };
}

function advertFrom(settings: Settings): Effect {
  const { advbase, advskew, demote } = settings;
  return { type: 'sendAdvert', advbase, advskew, demote };
}

function bowOutAdvert(settings: Settings): Effect {
  return { type: 'sendAdvert', advbase: BOW_OUT_ADVBASE, advskew: BOW_OUT_ADVSKEW, demote: settings.demote };
}

function changed(from: StateName, to: StateName, reason: TransitionReason, peer?: string): Effect {
  return peer === undefined
    ? { type: 'stateChanged', from, to, reason }
    : { type: 'stateChanged', from, to, reason, peer };
}

function unchanged(state: CarpState): Transition {
  return { state, effects: [] };
}

/** An interval in 1/256 s, the unit carp(4) compares in (advbase·256 + advskew). */
function ticks(advbase: number, advskew: number): number {
  return advbase * 256 + advskew;
}

function ticksToMs(ticks: number): number {
  return (ticks * 1000) / 256;
}

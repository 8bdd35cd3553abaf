// Wiring only: builds each capability from the config and the ports, answers control
// requests, reloads (a new config is checked first; a rejected one leaves the running one in
// force) and shuts down in order.

import { join } from 'node:path';
import type { LocatedIssue, ParseResult } from './config/load.js';
import type { TandemConfig } from './config/schema.js';
import type { ControlReply, ControlRequest } from './control/protocol.js';
import { HookRunner } from './carp/hooks.js';
import { CarpService, type DemotionStatus, type VhostStatus } from './carp/service.js';
import type { Rejection } from './carp/codec.js';
import type { Logger } from './log.js';
import type { Clock } from './os/clock.js';
import type { FileStore } from './os/files.js';
import type { ProcessRunner } from './os/process.js';
import type { AddressPort, LinkPort, NeighborAnnouncer, PacketPort, VirtualMacPort } from './net/ports.js';
import { VERSION } from './version.js';
import type { TableUpdater } from './firewall/tables.js';
import type { HealthCheckPort } from './balancer/check.js';
import { NetworkChecks } from './balancer/checks.js';
import { NetRelays, type RelayPort } from './balancer/relay.js';
import { Balancer, type PoolStatus } from './balancer/service.js';
import { ProcConntrack, type ConntrackPort } from './balancer/conntrack.js';
import { handleFirewallRequest, loadFirewall } from './firewall/control.js';
import { LinuxNftPort } from './firewall/linux.js';
import type { NftPort } from './firewall/ports.js';
import { ConfirmLedger, Firewall } from './firewall/service.js';
import { EventBus, type StampedEvent, type TandemEvent } from './events.js';
import type { MqttPort } from './telemetry/mqtt.js';
import type { TelemetryService, TelemetryStatus } from './telemetry/service.js';
import { MetricsCollector, nodeProcess } from './telemetry/metrics.js';
import { ProcSysSource, type SystemSource } from './telemetry/proc.js';
import { ProcessInventory, type InventorySource } from './telemetry/inventory.js';
import type { PowerService } from './power/service.js';
import type { PowerStatus } from './power/status.js';
import type { DriverFactory } from './power/targets.js';
import { createPowerService, handlePowerRequest } from './power/wire.js';
import type { ConntrackService, ConntrackStatus } from './sync/conntrack-service.js';
import type { DaemonLauncher } from './sync/conntrack-launcher.js';
import { conntrackChanged, createConntrackSync, SyncedHookRunner } from './sync/conntrack-wire.js';
import type { ConfigSync, ConfigSyncStatus } from './sync/config-service.js';
import { configSyncRestart } from './sync/config-schema.js';
import type { InterfacePort } from './sync/peer-interfaces.js';
import { ConfigApply, LEDGER_FILE as CONFIG_APPLY_LEDGER, type ConfigApplyStatus } from './api/config-apply.js';
import type { ApiService, ApiStatus } from './api/service.js';
import type { ApiBackend } from './api/types.js';
import type { BoardService, BoardStatus } from './board/service.js';
import type { BoardDriverFactory } from './board/ports.js';
import type { BoardInputs } from './board/patterns.js';
import type { UpgradeService, UpgradeStatus } from './upgrade/service.js';
import type { BlockDevices, Rebooter } from './upgrade/ports.js';

export interface Ports {
  clock: Clock;
  files: FileStore;
  processes: ProcessRunner;
  packets: PacketPort;
  addresses: AddressPort;
  announcer: NeighborAnnouncer;
  links: LinkPort;
  virtualMacs?: VirtualMacPort;
  log: Logger;
  /** Firewall tables the balancer's redirect pools keep up to date. */
  tables?: TableUpdater;
  /** Health checks; default the real network checks. */
  healthChecks?: HealthCheckPort;
  /** Relays; default the real TCP/HTTP relay. */
  relays?: RelayPort;
  /** nft(8) for the firewall; default the real one through `processes`. */
  nft?: NftPort;
  /** MQTT for telemetry; default mqtt.js, loaded only when `telemetry.mqtt` is configured. */
  mqtt?: MqttPort;
  /** /proc and /sys for the metrics; default the real ones. */
  system?: SystemSource;
  /** The systeminformation inventory; default a worker thread. */
  inventory?: InventorySource;
  /** Connection tracking, for redirect pools' demand; default /proc/net/nf_conntrack. */
  conntrack?: ConntrackPort;
  /** Power drivers; default the method registry (the demo passes simulated hosts). */
  powerDrivers?: DriverFactory;
  /** Starts conntrackd for `sync.conntrack`; default the real one. */
  conntrackd?: DaemonLauncher;
  /** The config file, read and written through `files`: with it the API can apply a config with rollback. */
  configFile?: string;
  /** The web UI's files for the API; default `ui/` beside the bundle (tests under tsx pass `dist/ui`). */
  uiDir?: string;
  /** This box's network interfaces, which a pushed config is checked against; default `ip -j link`. */
  interfaces?: InterfacePort;
  /** Board LEDs, button and watchdog drivers for `board`; default the real ones (LED class, input events, onoff, /dev/watchdog). */
  board?: BoardDriverFactory;
  /** A/B upgrades: where init wrote boot.json, the slots' block devices, the reboot; default the real ones. */
  upgrade?: { bootInfoPath?: string; devices?: BlockDevices; rebooter?: Rebooter };
}

export interface Status {
  node: string;
  version: string;
  uptimeSeconds: number;
  maintenance: boolean;
  demotion: DemotionStatus;
  carp: VhostStatus[];
  unmatched: Record<string, Partial<Record<Rejection, number>>>;
  pools: PoolStatus[];
  /** This process's memory now: what the soak watches for leaks, and admins on a 1 GB board. */
  memory: { rssBytes: number; heapUsedBytes: number };
  telemetry?: TelemetryStatus;
  power?: PowerStatus;
  sync?: { conntrack?: ConntrackStatus; config?: ConfigSyncStatus };
  /** A config applied through the API: pending until confirmed, and the last automatic revert. */
  configApply?: ConfigApplyStatus;
  /** The web UI and HTTP API when `api` is configured: where it listens, what it refused and why, the certificate's fingerprint. */
  api?: ApiStatus;
  /** Board LEDs, button and watchdog when `board` drives any: what each LED shows, presses, feeds. */
  board?: BoardStatus;
  /** A/B upgrades: the booted and committed slots, a trial and what its commit waits for, the last outcome. */
  upgrade?: UpgradeStatus;
}

interface PersistentState {
  maintenance: boolean;
  /** Hosts drained at run time (`tandem balancer drain`). */
  drained: { pool: string; host: string }[];
}

export type ConfigSource = () => Promise<ParseResult>;

export class Daemon {
  private readonly startedAt: number;
  private readonly hooks: HookRunner;
  readonly carp: CarpService;
  readonly balancer: Balancer;
  readonly firewall: Firewall;
  /** What happened, for telemetry, the web UI's live stream and the power manager. */
  readonly events: EventBus;
  private earlyEvents: StampedEvent[] | undefined = [];
  /** The MQTT publisher when `telemetry.mqtt` is configured; the power manager reports through it. */
  telemetry: TelemetryService | undefined;
  /** CPU, memory, interfaces and status counters for the `metrics` topic and /metrics. */
  readonly metrics: MetricsCollector;
  private prometheus: { listen: string; stop(): Promise<void> } | undefined;
  /** Parks and wakes pool hosts when `power` is configured. */
  power: PowerService | undefined;
  /** Supervises conntrackd when `sync.conntrack` is configured. */
  conntrack: ConntrackService | undefined;
  /** Pushes (as MASTER of sync.config.vhid) or takes the shared config when `sync.config` is set. */
  configSync: ConfigSync | undefined;
  /** Config apply with rollback (the web UI's), when the config file is known. */
  readonly configApply: ConfigApply | undefined;
  /** The web UI and HTTP API when `api` is configured. */
  api: ApiService | undefined;
  /** LEDs, button and watchdog when `board` is configured. */
  board: BoardService | undefined;
  /** A/B upgrades: commit or rollback of this boot, and `tandem upgrade`. */
  upgrade: UpgradeService | undefined;
  private running = false;

  constructor(
    private config: TandemConfig,
    private readonly ports: Ports,
    private readonly readConfig?: ConfigSource,
  ) {
    this.startedAt = ports.clock.monotonic();
    const log = ports.log;
    this.events = new EventBus(() => ports.clock.now(), log.child({ part: 'events' }));
    // Telemetry starts after CARP (and loads lazily); what the bus raises until then is kept for it.
    this.events.on((event) => {
      if (this.earlyEvents && this.earlyEvents.length < 256) this.earlyEvents.push(event);
    });
    // conntrackd's primary-backup steps ride the hook queue: after each transition's address
    // work, before its hook script, one transition at a time, never on CARP's timing path.
    this.hooks = new SyncedHookRunner(config.hooks, ports.processes, log.child({ part: 'hooks' }), () => this.conntrack);
    this.carp = new CarpService(config.carp, {
      clock: ports.clock,
      packets: ports.packets,
      addresses: ports.addresses,
      announcer: ports.announcer,
      links: ports.links,
      virtualMacs: ports.virtualMacs,
      hooks: this.hooks,
      log: log.child({ part: 'carp' }),
    });
    this.firewall = new Firewall({
      nft: ports.nft ?? new LinuxNftPort(ports.processes),
      clock: ports.clock,
      log: log.child({ part: 'firewall' }),
      ledger: new ConfirmLedger(ports.files, join(config.node.stateDir, 'firewall.json')),
      onRevert: (detail) => this.events.emit({ type: 'firewallApply', outcome: 'reverted', detail }),
    });
    this.metrics = new MetricsCollector({
      clock: ports.clock,
      system: ports.system ?? new ProcSysSource(),
      process: nodeProcess,
      status: () => this.status(),
      inventory: ports.inventory ?? new ProcessInventory(ports.clock),
    });
    this.balancer = new Balancer(config.balancer, {
      clock: ports.clock,
      checks: ports.healthChecks ?? new NetworkChecks(ports.clock, ports.processes),
      relays: ports.relays ?? new NetRelays(ports.clock),
      tables: ports.tables ?? this.firewall,
      demote: (source, value) => this.carp.setExternalDemote(source, value),
      conntrack: ports.conntrack ?? new ProcConntrack(),
      log: log.child({ part: 'balancer' }),
    });
    // A relay listening on a VIP can bind once this node holds the address: after the
    // transition's queued address work (queued within the same dispatch) is done.
    this.carp.onStateChange(() => queueMicrotask(() => void this.carp.idle().then(() => this.balancer.addressesChanged())));
    this.carp.onStateChange((vhid, iface, from, to, reason) =>
      this.events.emit({ type: 'carpTransition', vhid, interface: iface, from, to, reason }),
    );
    // A new MASTER of power.vhid rebuilds the picture before it parks or wakes anything.
    this.carp.onStateChange(() => this.power?.masterChanged());
    this.carp.onStateChange(() => this.configSync?.masterChanged());
    // The LEDs follow whatever happened (transitions, maintenance, firewall loads) at once.
    this.events.on(() => this.board?.refresh());
    if (ports.configFile) {
      this.configApply = new ConfigApply({
        files: ports.files,
        clock: ports.clock,
        log: log.child({ part: 'config' }),
        path: ports.configFile,
        ledgerPath: join(config.node.stateDir, CONFIG_APPLY_LEDGER),
        apply: (next) => this.applyConfig(next),
        emit: (event) => this.events.emit(event),
      });
    }
    this.balancer.onEvent((event) => {
      if (event.type === 'hostChanged') {
        this.power?.hostHealthChanged(event.pool, event.host, event.to);
        this.events.emit({ type: 'hostHealth', pool: event.pool, host: event.host, from: event.from, to: event.to, ...(event.result ? { outcome: event.result.outcome } : {}) });
      } else {
        this.events.emit({ type: 'poolHealth', pool: event.pool, from: event.from, to: event.to });
      }
    });
  }

  get name(): string {
    return this.config.node.name;
  }

  get isRunning(): boolean {
    return this.running;
  }

  private get statePath(): string {
    return join(this.config.node.stateDir, 'state.json');
  }

  async start(): Promise<void> {
    const persisted = await this.readState();
    // Maintenance survives a restart: the node comes back already yielding.
    if (persisted.maintenance) this.carp.setMaintenance(true);
    await loadFirewall(this.firewall, this.config, this.ports.log.child({ part: 'firewall' }), 'start');
    this.startConntrack(this.config);
    await this.carp.start();
    // Right after CARP: the watchdog is fed and the LEDs show INIT while the rest starts.
    await this.startBoard(this.config);
    this.balancer.start();
    await this.startPower(this.config);
    // After CARP: telemetry reports CARP's state, and its broker must never delay CARP's start.
    await this.startTelemetry(this.config);
    this.earlyEvents = undefined;
    await this.startPrometheus(this.config);
    await this.startConfigSync(this.config);
    for (const { pool, host } of persisted.drained) {
      await this.balancer.setDrained(host, true, pool).catch((error: Error) => this.ports.log.warn(`not draining ${pool}/${host} again: ${error.message}`));
    }
    this.running = true;
    // Last: a window left open by a restart is resumed, or reverted through applyConfig.
    await this.configApply?.start();
    // After CARP and the rest: the API only reads and drives them, and its start never delays CARP's.
    await this.startApi(this.config);
    // Last: a trial boot's health includes everything above, the API listening among it.
    await this.startUpgrade(this.config);
    this.ports.log.info('tandem started', { node: this.name, version: VERSION, vhosts: this.config.carp.length });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.configApply?.stop();
    this.upgrade?.stop();
    // Before CARP: no request can drive a daemon that is going away.
    await this.stopApi();
    // Bow out first: the peer takes the VIPs at once, before slower teardown (checks in
    // flight, relays finishing) can hold up the failover.
    await this.carp.stop();
    // Right after the bow-out, not before it: CARP never waits on a broker, and the final INIT
    // states still reach it ahead of the retained {"online": false}.
    await this.stopTelemetry();
    await this.stopPrometheus();
    await this.stopPower();
    await this.stopConntrack();
    await this.stopConfigSync();
    await this.balancer.stop();
    await this.firewall.stop();
    // Last: the watchdog is disarmed only once everything else stopped (a hang before still resets).
    await this.stopBoard();
    this.ports.log.info('tandem stopped', { node: this.name });
  }

  /** Simulated kill -9: stops without bowing out or releasing addresses. */
  async crash(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.configApply?.stop();
    this.upgrade?.stop();
    // A killed process's sockets close with it.
    await this.stopApi();
    this.telemetry?.abandon();
    this.telemetry = undefined;
    await this.stopPrometheus();
    await this.stopPower();
    this.conntrack?.abandon();
    this.conntrack = undefined;
    await this.stopConfigSync();
    await this.balancer.abandon();
    await this.carp.abandon();
    await this.board?.abandon();
    this.board = undefined;
  }

  /** SIGHUP: re-reads the config; an invalid one is refused and the running one stays. */
  async reload(): Promise<{ ok: true } | { ok: false; issues: LocatedIssue[] }> {
    if (!this.readConfig) return { ok: false, issues: [{ path: '(reload)', message: 'this daemon has no config file to re-read' }] };
    const result = await this.readConfig();
    if (!result.ok) {
      this.ports.log.error('reload refused: the new config is invalid; the running config stays in force', {
        issues: result.issues.map((i) => `${i.line ? `line ${i.line}: ` : ''}${i.path}: ${i.message}`),
      });
      this.events.emit({ type: 'configReload', ok: false, issues: result.issues.map((i) => `${i.path}: ${i.message}`) });
      return { ok: false, issues: result.issues };
    }
    await this.applyConfig(result.config);
    this.ports.log.info('config reloaded', { vhosts: result.config.carp.length });
    this.events.emit({ type: 'configReload', ok: true });
    return { ok: true };
  }

  async applyConfig(next: TandemConfig): Promise<void> {
    this.hooks.configure(next.hooks);
    await this.carp.reload(next.carp);
    await this.balancer.reload(next.balancer);
    await loadFirewall(this.firewall, next, this.ports.log.child({ part: 'firewall' }));
    if (this.running && JSON.stringify(next.telemetry) !== JSON.stringify(this.config.telemetry)) {
      await this.stopTelemetry();
      await this.startTelemetry(next);
    }
    if (this.running && JSON.stringify(next.power) !== JSON.stringify(this.config.power)) {
      if (this.power && next.power) await this.power.reload(next.power);
      else {
        await this.stopPower();
        await this.startPower(next);
      }
    }
    if (this.running && conntrackChanged(this.config, next)) {
      await this.stopConntrack();
      this.startConntrack(next);
    }
    if (this.running && this.prometheus?.listen !== next.telemetry?.prometheus?.listen) {
      await this.stopPrometheus();
      await this.startPrometheus(next);
    }
    if (this.running && JSON.stringify(next.api) !== JSON.stringify(this.config.api)) {
      // Users and timeouts change in place (sessions of kept users stay); listeners restart only if needed.
      if (this.api && next.api) await this.api.reload(next.api);
      else {
        await this.stopApi();
        await this.startApi(next);
      }
    }
    this.upgrade?.reload(next.upgrade);
    if (this.running && JSON.stringify(next.board) !== JSON.stringify(this.config.board)) {
      await this.stopBoard();
      await this.startBoard(next);
    }
    const restartSync = configSyncRestart(this.config, next);
    this.config = next;
    // Last, with the new config in force: the record notes the new shared hash and a master pushes it.
    if (this.running && restartSync) {
      await this.stopConfigSync();
      await this.startConfigSync(next);
    } else await this.configSync?.configChanged(next);
  }

  status(): Status {
    return {
      node: this.name,
      version: VERSION,
      uptimeSeconds: Math.round((this.ports.clock.monotonic() - this.startedAt) / 100) / 10,
      maintenance: this.carp.maintenance,
      demotion: this.carp.demotion(),
      carp: this.carp.status(),
      unmatched: this.carp.unmatchedCounters(),
      pools: this.balancer.status(),
      memory: processMemory(),
      ...(this.telemetry ? { telemetry: this.telemetry.status() } : {}),
      ...(this.power ? { power: this.power.status() } : {}),
      ...(this.conntrack || this.configSync
        ? { sync: { ...(this.conntrack ? { conntrack: this.conntrack.status() } : {}), ...(this.configSync ? { config: this.configSync.status() } : {}) } }
        : {}),
      ...(this.configApply ? { configApply: this.configApply.status() } : {}),
      ...(this.api ? { api: this.api.status() } : {}),
      ...(this.board ? { board: this.board.status() } : {}),
      // Only on an image (or a broken boot.json): a developer machine's status keeps its shape.
      ...(this.upgrade?.onImage ? { upgrade: this.upgrade.status() } : {}),
    };
  }

  private async startUpgrade(config: TandemConfig): Promise<void> {
    const { UpgradeService } = await import('./upgrade/service.js');
    const { LinuxBlockDevices, LinuxRebooter } = await import('./upgrade/ports.js');
    const own = this.ports.upgrade ?? {};
    const upgrade = new UpgradeService(config.upgrade, {
      clock: this.ports.clock,
      files: this.ports.files,
      devices: own.devices ?? new LinuxBlockDevices(),
      rebooter: own.rebooter ?? new LinuxRebooter(this.ports.processes),
      log: this.ports.log.child({ part: 'upgrade' }),
      stateDir: config.node.stateDir,
      emit: (event) => this.events.emit(event),
      health: () => this.upgradeHealth(),
      // Bow out, not stop: should the reboot fail, this node still runs (as a backup).
      beforeReboot: async () => {
        if (this.carp.bowOut() > 0) await new Promise<void>((resolve) => this.ports.clock.setTimer(200, resolve));
      },
      ...(own.bootInfoPath ? { bootInfoPath: own.bootInfoPath } : {}),
    });
    // Reachable once started: a status asked meanwhile would see a rollback not yet recorded.
    await upgrade.start();
    this.upgrade = upgrade;
  }

  /** What keeps a trial boot from committing (issue 15 contract 6); empty when healthy. */
  upgradeHealth(): string[] {
    const waiting = this.carp.status().filter((v) => v.state === 'INIT').map((v) => `vhid ${v.vhid} on ${v.interface} is in INIT`);
    if (this.config.firewall && this.firewall.phase === 'unmanaged') waiting.push('the firewall is not loaded');
    if (this.config.api && (this.api?.status().listening.length ?? 0) === 0) waiting.push('the API is not listening');
    return waiting;
  }

  /** `board`: LEDs, button and watchdog, loaded only when configured; a failure is logged and the daemon runs on. */
  private async startBoard(config: TandemConfig): Promise<void> {
    if (!config.board) return;
    const log = this.ports.log.child({ part: 'board' });
    try {
      const { createBoardService } = await import('./board/wire.js');
      this.board = await createBoardService(config.board, {
        clock: this.ports.clock,
        log,
        drivers: this.ports.board,
        inputs: () => this.boardInputs(),
        // The long press takes the CLI's path (persisted, evented), and says who asked.
        maintenance: {
          get: () => this.carp.maintenance,
          set: async (on, by) => {
            await this.setMaintenance(on);
            this.events.emit({ type: 'commandExecuted', action: `maintenance ${on ? 'on' : 'off'}`, by });
          },
        },
      });
    } catch (error) {
      this.board = undefined;
      log.error(`board not started: ${(error as Error).message}`);
    }
  }

  private async stopBoard(): Promise<void> {
    const board = this.board;
    this.board = undefined;
    await board?.stop();
  }

  /** What the board's LEDs show: each vhid's state, maintenance, and the faults issue 15 names. */
  boardInputs(): BoardInputs {
    const config = this.config;
    return {
      carp: this.carp.status().map((v) => v.state),
      maintenance: this.carp.maintenance,
      firewallFailed: config.firewall !== undefined && this.firewall.status().phase === 'unmanaged',
      degraded: (config.api !== undefined && !this.api) || (config.telemetry?.mqtt !== undefined && !this.telemetry),
    };
  }

  /** `api`: the web UI and HTTP API, loaded only when configured; a failure is logged and the daemon runs on. */
  private async startApi(config: TandemConfig): Promise<void> {
    if (!config.api) return;
    const log = this.ports.log.child({ part: 'api' });
    try {
      const { ApiService } = await import('./api/service.js');
      const backend: ApiBackend = {
        status: () => this.status(),
        handle: (request) => this.handle(request),
        events: this.events,
        config: this.configApply ?? {
          read: async () => {
            throw new Error('this daemon was started without a config file');
          },
        },
        ...(this.configApply ? { configApply: this.configApply } : {}),
        firewallPolicy: () => this.firewall.policy,
        clock: this.ports.clock,
        metrics: async () => (await import('./telemetry/prometheus.js')).renderPrometheus(await this.metrics.snapshot()),
        upgradeInstall: async (source, options) =>
          this.upgrade ? this.upgrade.install(source, options) : { ok: false, step: 'state', reason: 'the upgrade service has not started' },
      };
      const api = new ApiService(config.api, {
        clock: this.ports.clock,
        files: this.ports.files,
        log,
        backend,
        nodeName: config.node.name,
        stateDir: config.node.stateDir,
        ...(this.ports.uiDir ? { uiDir: this.ports.uiDir } : {}),
      });
      this.api = api;
      await api.start();
    } catch (error) {
      this.api = undefined;
      log.error(`api not started: ${(error as Error).message}`);
    }
  }

  private async stopApi(): Promise<void> {
    const api = this.api;
    this.api = undefined;
    await api?.stop();
  }

  private async startConfigSync(config: TandemConfig): Promise<void> {
    if (!config.sync?.config) return;
    const log = this.ports.log.child({ part: 'sync' });
    // Loaded only when configured: node:tls and the certificate code stay out of other daemons.
    const { createConfigSync } = await import('./sync/config-wire.js');
    this.configSync = createConfigSync(config, {
      clock: this.ports.clock,
      files: this.ports.files,
      processes: this.ports.processes,
      log,
      configFile: this.ports.configFile,
      interfaces: this.ports.interfaces,
      carpState: (vhid) => this.carp.status().find((v) => v.vhid === vhid)?.state,
      apply: (next) => this.applyConfig(next),
      emit: (event) => this.events.emit(event),
      localApplyPending: () => {
        const apply = this.configApply?.status();
        return apply?.phase === 'pending' ? (apply.revertsAt ?? 'its deadline') : undefined;
      },
    });
    try {
      await this.configSync?.start();
    } catch (error) {
      log.error(`config sync not started: ${(error as Error).message}`);
      this.configSync = undefined;
    }
  }

  private async stopConfigSync(): Promise<void> {
    const sync = this.configSync;
    this.configSync = undefined;
    await sync?.stop();
  }

  /** Not awaited: CARP starts at once; the first transition's steps wait for conntrackd. */
  private startConntrack(config: TandemConfig): void {
    const log = this.ports.log.child({ part: 'conntrackd' });
    this.conntrack = createConntrackSync(config, {
      clock: this.ports.clock,
      processes: this.ports.processes,
      ...(this.ports.conntrackd ? { launcher: this.ports.conntrackd } : {}),
      log,
      carpState: (vhid, iface) => this.carp.status().find((v) => v.vhid === vhid && v.interface === iface)?.state,
    });
    void this.conntrack?.start().catch((error: Error) => log.error(`conntrackd not started: ${error.message}`));
  }

  private async stopConntrack(): Promise<void> {
    const conntrack = this.conntrack;
    this.conntrack = undefined;
    await conntrack?.stop();
  }

  private async startPower(config: TandemConfig): Promise<void> {
    if (!config.power) return;
    this.power = createPowerService(config.power, {
      clock: this.ports.clock,
      files: this.ports.files,
      processes: this.ports.processes,
      log: this.ports.log.child({ part: 'power' }),
      stateDir: config.node.stateDir,
      balancer: this.balancer,
      emit: (event) => this.events.emit(event),
      carpState: (vhid) => this.carp.status().find((v) => v.vhid === vhid)?.state,
      ...(this.ports.powerDrivers ? { drivers: this.ports.powerDrivers } : {}),
    });
    await this.power.start();
  }

  private async stopPower(): Promise<void> {
    const power = this.power;
    this.power = undefined;
    await power?.stop();
  }

  private async startTelemetry(config: TandemConfig): Promise<void> {
    const telemetry = config.telemetry;
    if (!telemetry?.mqtt) return;
    const log = this.ports.log.child({ part: 'telemetry' });
    try {
      // Loaded only when configured: a node without telemetry does not pay for mqtt.js.
      const { TelemetryService } = await import('./telemetry/service.js');
      const mqtt = this.ports.mqtt ?? new (await import('./telemetry/mqtt-linux.js')).LinuxMqttPort(this.ports.clock);
      const source = {
        node: config.node.name,
        version: VERSION,
        stateDir: config.node.stateDir,
        carp: () => this.carp.status(),
        pools: () => this.balancer.status(),
        events: this.events,
        // Remote commands (telemetry.commands) go through the same entry point as the CLI's.
        commands: { handle: (request: ControlRequest) => this.handle(request), emit: (event: TandemEvent) => this.events.emit(event) },
      };
      const collectMetrics = () => this.metrics.collect();
      this.telemetry = new TelemetryService({ ...telemetry, mqtt: telemetry.mqtt }, source, { clock: this.ports.clock, files: this.ports.files, mqtt, log, collectMetrics });
      await this.telemetry.start(this.earlyEvents ?? []);
      // Once per daemon: the inventory rides in the metrics; its worker exits when done.
      if (!this.metrics.inventory) {
        void this.metrics.refreshInventory().then((outcome) => {
          if (outcome && !outcome.ok) log.warn(`inventory not gathered (${outcome.reason}): ${outcome.detail}`);
        });
      }
    } catch (error) {
      this.telemetry = undefined;
      log.error(`telemetry not started: ${(error as Error).message}`);
    }
  }

  /** telemetry.prometheus.listen: /metrics on its own listener; a failed bind is logged and the daemon runs on. */
  private async startPrometheus(config: TandemConfig): Promise<void> {
    const listen = config.telemetry?.prometheus?.listen;
    if (!listen) return;
    const log = this.ports.log.child({ part: 'prometheus' });
    try {
      // Loaded only when configured: node:http stays out of a daemon that does not serve it.
      const { MetricsListener } = await import('./telemetry/metrics-http.js');
      const listener = new MetricsListener(listen, () => this.metrics.snapshot(), log);
      await listener.start();
      this.prometheus = { listen, stop: () => listener.stop() };
    } catch (error) {
      log.error(`prometheus metrics not served on ${listen}: ${(error as Error).message}`);
    }
  }

  private async stopPrometheus(): Promise<void> {
    const prometheus = this.prometheus;
    this.prometheus = undefined;
    await prometheus?.stop();
  }

  private async stopTelemetry(): Promise<void> {
    const telemetry = this.telemetry;
    this.telemetry = undefined;
    await telemetry?.stop();
  }

  async setMaintenance(on: boolean): Promise<void> {
    // Persist first: if power fails right after, the node must still come back in maintenance.
    await this.writeState({ maintenance: on, drained: this.balancer.drained() });
    this.carp.setMaintenance(on);
    this.ports.log.info(`maintenance ${on ? 'on' : 'off'}`);
    this.events.emit({ type: 'maintenance', on });
  }

  /** Drains or undrains a host at run time; persisted first, like maintenance. */
  async setDrained(host: string, on: boolean, pool?: string): Promise<ControlReply> {
    let changed: string[];
    try {
      changed = await this.balancer.setDrained(host, on, pool);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
    await this.writeState({ maintenance: this.carp.maintenance, drained: this.balancer.drained() });
    return { ok: true, result: { hosts: changed, drained: on } };
  }

  async handle(request: ControlRequest): Promise<ControlReply> {
    switch (request.cmd) {
      case 'status':
        return { ok: true, result: this.status() };
      case 'demote':
        if ('reset' in request) this.carp.resetDemote();
        else this.carp.demoteBy(request.by);
        return { ok: true, result: this.carp.demotion() };
      case 'maintenance':
        await this.setMaintenance(request.on);
        return { ok: true, result: { maintenance: request.on } };
      case 'failover':
        return { ok: true, result: { bowedOut: this.carp.bowOut() } };
      case 'drain':
        return this.setDrained(request.host, request.on, request.pool);
      case 'reload': {
        const outcome = await this.reload();
        return outcome.ok
          ? { ok: true, result: { reloaded: true } }
          : { ok: false, error: outcome.issues.map((i) => `${i.path}: ${i.message}`).join('\n') };
      }
      case 'firewall-apply':
      case 'firewall-confirm':
      case 'firewall-status':
        return handleFirewallRequest(this.firewall, request, this.config, this.readConfig, this.ports.log.child({ part: 'firewall' }));
      case 'power-status':
      case 'power-wake':
      case 'power-park':
      case 'power-pin':
        return handlePowerRequest(this.power, request);
      case 'sync-status':
      case 'sync-diff':
      case 'sync-push':
        return (await import('./sync/config-wire.js')).handleSyncRequest(this.configSync, request);
      case 'upgrade-status':
      case 'upgrade-commit':
      case 'upgrade-reboot':
      case 'upgrade-install':
        return (await import('./upgrade/control.js')).handleUpgradeRequest(this.upgrade, request);
    }
  }

  private async readState(): Promise<PersistentState> {
    const text = await this.ports.files.read(this.statePath).catch(() => undefined);
    if (!text) return { maintenance: false, drained: [] };
    try {
      const parsed = JSON.parse(text) as Partial<PersistentState>;
      const drained = Array.isArray(parsed.drained)
        ? parsed.drained.filter((d): d is { pool: string; host: string } => typeof d?.pool === 'string' && typeof d?.host === 'string')
        : [];
      return { maintenance: parsed.maintenance === true, drained };
    } catch {
      this.ports.log.warn(`ignoring unreadable state file ${this.statePath}`);
      return { maintenance: false, drained: [] };
    }
  }

  private async writeState(state: PersistentState): Promise<void> {
    await this.ports.files.writeAtomic(this.statePath, JSON.stringify(state) + '\n');
  }
}

function processMemory(): { rssBytes: number; heapUsedBytes: number } {
  const { rss, heapUsed } = process.memoryUsage();
  return { rssBytes: rss, heapUsedBytes: heapUsed };
}

// In-memory stand-ins for the balancer's ports: a firewall table store (TableUpdater) that
// records each write, checks whose results a test or the demo scripts per address, and relays
// that open no socket but pick and account through the pool as the real one does.

import type { TableUpdater } from '../firewall/tables.js';
import type { CheckResult, CheckSpec, CheckTarget, HealthCheck, HealthCheckPort } from './check.js';
import type { Relay, RelayPool, RelayPort, RelayStats, RelayTarget } from './relay.js';
import type { RelayConfig } from './schema.js';

export class MemoryTableUpdater implements TableUpdater {
  readonly tables = new Map<string, string[]>();
  readonly writes: { table: string; members: string[] }[] = [];
  /** The next write fails with this error (then it is cleared). */
  failNext: Error | undefined;

  async setMembers(table: string, members: readonly string[]): Promise<void> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.tables.set(table, [...members]);
    this.writes.push({ table, members: [...members] });
  }

  members(table: string): string[] | undefined {
    return this.tables.get(table);
  }
}

type Answer = CheckResult | 'hang';

/** Checks answer by address: `ok` unless told otherwise; 'hang' never settles (the engine's backstop). */
export class ScriptedChecks implements HealthCheckPort {
  private readonly answers = new Map<string, Answer>();
  readonly specs: CheckSpec[] = [];
  readonly runs: { address: string; port: number | undefined }[] = [];

  create(spec: CheckSpec): HealthCheck {
    this.specs.push(spec);
    return {
      run: (target: CheckTarget) => {
        this.runs.push({ address: target.address, port: target.port });
        const answer = this.answers.get(target.address) ?? { outcome: 'ok', rttMs: 0.5 };
        if (answer === 'hang') return new Promise<CheckResult>(() => undefined);
        return Promise.resolve(answer);
      },
    };
  }

  set(address: string, answer: Answer): void {
    this.answers.set(address, answer);
  }

  fail(address: string, outcome: CheckResult['outcome'] = 'connect-refused', detail = 'ECONNREFUSED'): void {
    this.answers.set(address, { outcome, detail });
  }

  pass(address: string): void {
    this.answers.delete(address);
  }
}

export class FakeRelay implements Relay {
  listening = false;
  stopped: 'drain' | 'cut' | undefined;
  listenAttempts = 0;
  private clientCount = 0;
  private readonly counters = { accepted: 0, rejected: 0, noHost: 0, connectFailures: 0, requests: 0 };

  constructor(
    readonly name: string,
    public config: RelayConfig,
    readonly pool: RelayPool,
    /** Whether the listen address is configured on this node. */
    private readonly addressUp: () => boolean,
  ) {}

  start(): void {
    this.retryListen();
  }

  retryListen(): void {
    if (this.stopped || this.listening) return;
    this.listenAttempts++;
    this.listening = this.addressUp();
  }

  configure(config: RelayConfig): void {
    this.config = { ...config, listen: this.config.listen, mode: this.config.mode };
  }

  async stop(how: 'drain' | 'cut'): Promise<void> {
    this.stopped = how;
    this.listening = false;
  }

  /** A client connects: returns the host it is relayed to and a function that closes it, or undefined (reset). */
  connect(source = '198.51.100.50'): { target: RelayTarget; close: () => void } | undefined {
    if (!this.listening) return undefined;
    if (this.clientCount >= this.config.maxConnections) {
      this.counters.rejected++;
      return undefined;
    }
    const target = this.pool.pick(source, new Set());
    if (!target) {
      this.counters.noHost++;
      return undefined;
    }
    this.counters.accepted++;
    this.clientCount++;
    this.pool.opened(target);
    let open = true;
    return {
      target,
      close: () => {
        if (!open) return;
        open = false;
        this.clientCount--;
        this.pool.closed(target);
      },
    };
  }

  stats(): RelayStats {
    return {
      listen: this.config.listen,
      mode: this.config.mode,
      algorithm: this.config.algorithm,
      listening: this.listening,
      clients: this.clientCount,
      ...this.counters,
    };
  }
}

export class FakeRelays implements RelayPort {
  readonly opened: FakeRelay[] = [];
  constructor(private readonly addressUp: (listen: string) => boolean = () => true) {}

  open(pool: string, config: RelayConfig, target: RelayPool): FakeRelay {
    const relay = new FakeRelay(pool, config, target, () => this.addressUp(config.listen));
    this.opened.push(relay);
    return relay;
  }

  /** The newest relay of `pool`. */
  relay(pool: string): FakeRelay | undefined {
    return this.opened.filter((r) => r.name === pool).pop();
  }
}

/**
 * Backends for the simulated cluster: each is up or stopped, and each router either reaches
 * them or has lost its way to them (a cut backend LAN). Checks answer from that, so the demo
 * shows hosts failing, pools going down and CARP demotion without any network.
 */
export class SimBackends {
  private readonly stopped = new Set<string>();
  private readonly cutOff = new Set<string>();

  stop(address: string): void {
    this.stopped.add(address);
  }

  start(address: string): void {
    this.stopped.delete(address);
  }

  isRunning(address: string): boolean {
    return !this.stopped.has(address);
  }

  /** Whether `node` reaches the backends at all. */
  setReachable(node: string, reachable: boolean): void {
    if (reachable) this.cutOff.delete(node);
    else this.cutOff.add(node);
  }

  reachable(node: string): boolean {
    return !this.cutOff.has(node);
  }

  checksFor(node: string): HealthCheckPort {
    return {
      create: (spec: CheckSpec): HealthCheck => ({
        run: async (target: CheckTarget): Promise<CheckResult> => {
          if (this.cutOff.has(node)) return { outcome: 'connect-timeout', detail: `no answer within ${spec.timeoutMs} ms (connect)` };
          if (this.stopped.has(target.address)) return { outcome: 'connect-refused', detail: 'ECONNREFUSED' };
          return { outcome: 'ok', rttMs: 0.3 };
        },
      }),
    };
  }
}

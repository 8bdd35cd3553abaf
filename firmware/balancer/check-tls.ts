// TLS handshake check (relayd check_tls.c): healthy when the handshake completes and, with
// `verify`, the chain and name check out; a refused chain is tls-verify-fail, a failed
// handshake tls-handshake-fail. The round-trip time is connect plus handshake.

import type { Clock } from '../os/clock.js';
import type { CheckResult, CheckTarget, HealthCheck, TlsSpec } from './check.js';
import { CaCache, CheckRun, openStream } from './check-net.js';

export class TlsCheck implements HealthCheck {
  private readonly cas = new CaCache();
  constructor(private readonly clock: Clock, private readonly timeoutMs: number, private readonly tls: TlsSpec) {}

  async run(target: CheckTarget): Promise<CheckResult> {
    const run = new CheckRun(this.clock, this.timeoutMs);
    if (target.port === undefined) {
      run.finish({ outcome: 'connect-fail', detail: 'no port to check' });
      return run.result;
    }
    const socket = await openStream(run, { address: target.address, port: target.port, tls: this.tls }, this.cas);
    if (socket) run.finish({ outcome: 'ok', rttMs: run.elapsed() });
    return run.result;
  }
}

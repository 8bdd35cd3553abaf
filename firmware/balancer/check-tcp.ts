// TCP connect check (relayd check_tcp.c without send/expect): healthy when the three-way
// handshake completes within the timeout; the round-trip time is the connect time.

import type { Clock } from '../os/clock.js';
import type { CheckResult, CheckTarget, HealthCheck } from './check.js';
import { CaCache, CheckRun, openStream } from './check-net.js';

export class TcpCheck implements HealthCheck {
  private readonly cas = new CaCache();
  constructor(private readonly clock: Clock, private readonly timeoutMs: number) {}

  async run(target: CheckTarget): Promise<CheckResult> {
    const run = new CheckRun(this.clock, this.timeoutMs);
    if (target.port === undefined) {
      run.finish({ outcome: 'connect-fail', detail: 'no port to check' });
      return run.result;
    }
    const socket = await openStream(run, { address: target.address, port: target.port }, this.cas);
    if (socket) run.finish({ outcome: 'ok', rttMs: run.elapsed() });
    return run.result;
  }
}

// Send/expect check (relayd `check send ... expect ...`): connect (optionally over TLS), send
// the configured bytes, and read until the reply matches the `expect` regular expression. A
// reply that ends without matching is expect-fail; no reply in time is read-timeout.

import type { Clock } from '../os/clock.js';
import type { CheckResult, CheckTarget, HealthCheck, TlsSpec } from './check.js';
import { CaCache, CheckRun, openStream } from './check-net.js';

/** Enough for any banner or status line; a reply is not read further than this. */
const MAX_REPLY = 64 * 1024;

export interface SendExpectSpec {
  timeoutMs: number;
  send: string;
  expect?: string;
  tls?: TlsSpec;
}

export class SendExpectCheck implements HealthCheck {
  private readonly cas = new CaCache();
  private readonly expect: RegExp | undefined;

  constructor(private readonly clock: Clock, private readonly spec: SendExpectSpec) {
    this.expect = spec.expect !== undefined ? new RegExp(spec.expect) : undefined;
  }

  async run(target: CheckTarget): Promise<CheckResult> {
    const run = new CheckRun(this.clock, this.spec.timeoutMs);
    if (target.port === undefined) {
      run.finish({ outcome: 'connect-fail', detail: 'no port to check' });
      return run.result;
    }
    const socket = await openStream(run, { address: target.address, port: target.port, tls: this.spec.tls }, this.cas);
    if (!socket) return run.result;
    const expect = this.expect;
    let reply = '';
    socket.removeAllListeners('error');
    socket.on('error', (error) => run.fail(error));
    if (expect) {
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        reply = (reply + chunk).slice(0, MAX_REPLY);
        if (expect.test(reply)) run.finish({ outcome: 'ok', rttMs: run.elapsed() });
      });
      socket.on('end', () => run.finish({ outcome: 'expect-fail', detail: `closed after ${describe(reply)}` }));
    }
    const sent = () => {
      if (run.finished) return;
      run.phase = 'read';
      if (!expect) run.finish({ outcome: 'ok', rttMs: run.elapsed() });
    };
    if (this.spec.send.length > 0) socket.write(this.spec.send, 'latin1', (error) => (error ? run.fail(error) : sent()));
    else sent();
    const result = await run.result;
    if (result.outcome === 'read-timeout' && reply.length > 0) {
      return { outcome: 'expect-fail', detail: `no match within ${this.spec.timeoutMs} ms in ${describe(reply)}` };
    }
    return result;
  }
}

/** The first bytes of a reply, printable, for the status line. */
function describe(reply: string): string {
  if (reply.length === 0) return 'no reply';
  const shown = JSON.stringify(reply.slice(0, 60));
  return `${reply.length} byte(s): ${shown}${reply.length > 60 ? '...' : ''}`;
}

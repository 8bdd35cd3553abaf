// HTTP and HTTPS checks (relayd check_http.c: `check http path code N`, `check http path
// digest D`), plus an optional regular expression over the body. One request per check on a
// fresh connection (Connection: close); the verdicts, in order: status code, digest, match.

import { createHash } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import type { Clock } from '../os/clock.js';
import type { CheckResult, CheckSpec, CheckTarget, HealthCheck } from './check.js';
import { CaCache, CheckRun, openStream } from './check-net.js';

/** A body longer than this cannot match a digest; it is not read further. */
export const MAX_BODY = 1024 * 1024;

export type HttpSpec = Extract<CheckSpec, { type: 'http' | 'https' }>;

export class HttpCheck implements HealthCheck {
  private readonly cas = new CaCache();
  private readonly match: RegExp | undefined;

  constructor(private readonly clock: Clock, private readonly spec: HttpSpec) {
    this.match = spec.match !== undefined ? new RegExp(spec.match) : undefined;
  }

  async run(target: CheckTarget): Promise<CheckResult> {
    const spec = this.spec;
    const run = new CheckRun(this.clock, spec.timeoutMs);
    if (target.port === undefined) {
      run.finish({ outcome: 'connect-fail', detail: 'no port to check' });
      return run.result;
    }
    const socket = await openStream(run, { address: target.address, port: target.port, tls: spec.tls }, this.cas);
    if (!socket) return run.result;
    socket.removeAllListeners('error');
    run.phase = 'read';
    // RFC 9110 section 7.2: the port goes into Host unless it is the scheme's default.
    const bare = target.address.includes(':') ? `[${target.address}]` : target.address;
    const host = spec.host ?? (target.port === (spec.type === 'https' ? 443 : 80) ? bare : `${bare}:${target.port}`);
    const req = request({
      createConnection: () => socket,
      method: spec.method,
      path: spec.path,
      headers: { Host: host, 'User-Agent': 'tandem-check', Accept: '*/*', Connection: 'close' },
    });
    req.on('error', (error) => run.fail(error));
    req.on('response', (res) => this.judge(run, res));
    req.end();
    return run.result;
  }

  private judge(run: CheckRun, res: IncomingMessage): void {
    const spec = this.spec;
    const rttMs = run.elapsed();
    if (res.statusCode !== spec.status) {
      run.finish({ outcome: 'http-code-fail', rttMs, detail: `status ${res.statusCode}, want ${spec.status}` });
      return;
    }
    const needBody = spec.digest !== undefined || this.match !== undefined;
    if (!needBody || spec.method === 'HEAD') {
      run.finish({ outcome: 'ok', rttMs });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        run.finish({ outcome: spec.digest ? 'http-digest-fail' : 'http-match-fail', rttMs, detail: `body over ${MAX_BODY} bytes` });
        return;
      }
      chunks.push(chunk);
    });
    res.on('error', (error) => run.fail(error));
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      if (spec.digest) {
        const got = createHash(spec.digest.algorithm).update(body).digest('hex');
        if (got !== spec.digest.hex) {
          run.finish({ outcome: 'http-digest-fail', rttMs, detail: `${spec.digest.algorithm} ${got}` });
          return;
        }
      }
      if (this.match && !this.match.test(body.toString('utf8'))) {
        run.finish({ outcome: 'http-match-fail', rttMs, detail: `body (${body.length} bytes) does not match /${spec.match}/` });
        return;
      }
      run.finish({ outcome: 'ok', rttMs });
    });
  }
}

// Script check (relayd check_script.c): runs `script ADDRESS [PORT]` with a timeout, through
// the process port. Exit 0 is healthy, as for keepalived's MISC_CHECK and HAProxy's
// external-check; relayd reads it the other way round (non-zero healthy), and the docs say so.

import type { Clock } from '../os/clock.js';
import type { ProcessRunner } from '../os/process.js';
import type { CheckResult, CheckTarget, HealthCheck } from './check.js';

export class ScriptCheck implements HealthCheck {
  constructor(
    private readonly clock: Clock,
    private readonly processes: ProcessRunner,
    private readonly script: string,
    private readonly timeoutMs: number,
  ) {}

  async run(target: CheckTarget): Promise<CheckResult> {
    const started = this.clock.monotonic();
    const args = target.port !== undefined ? [target.address, String(target.port)] : [target.address];
    const result = await this.processes.run(this.script, args, { timeoutMs: this.timeoutMs });
    const rttMs = Math.round((this.clock.monotonic() - started) * 1000) / 1000;
    if (result.timedOut) return { outcome: 'script-timeout', detail: `killed after ${this.timeoutMs} ms` };
    if (result.code === 0) return { outcome: 'ok', rttMs };
    const said = firstLine(result.stderr) ?? firstLine(result.stdout);
    if (result.code === null && result.signal === null) return { outcome: 'script-error', detail: said ?? 'could not run' };
    const how = result.code !== null ? `exit ${result.code}` : `killed by ${result.signal}`;
    return { outcome: 'script-fail', rttMs, detail: said ? `${how}: ${said}` : how };
  }
}

function firstLine(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.trim().length > 0);
  return line === undefined ? undefined : line.trim().slice(0, 200);
}

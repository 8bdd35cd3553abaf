// ICMP echo check (relayd check_icmp.c), by running ping(8) from iputils through the process
// port: one echo, `-W` seconds to wait. Why not the raw-socket addon: its IpSocket is bound to
// one interface (SO_BINDTODEVICE), so every routed backend would need its egress interface
// looked up and followed across route changes, and a raw ICMP socket hands every ICMP packet
// of that interface to the event loop. ping picks the route itself, runs unprivileged through
// ICMP datagram sockets where net.ipv4.ping_group_range allows, and one short process per host
// per interval costs little at check intervals of seconds.

import type { Clock } from '../os/clock.js';
import type { ProcessRunner } from '../os/process.js';
import type { CheckResult, CheckTarget, HealthCheck } from './check.js';

/** Extra time for ping to start and exit before the process port kills it. */
const SPAWN_SLACK_MS = 1000;

export class IcmpCheck implements HealthCheck {
  constructor(
    private readonly clock: Clock,
    private readonly processes: ProcessRunner,
    private readonly timeoutMs: number,
    private readonly command = 'ping',
  ) {}

  async run(target: CheckTarget): Promise<CheckResult> {
    const family = target.address.includes(':') ? '-6' : '-4';
    const wait = (Math.max(1, this.timeoutMs) / 1000).toFixed(3);
    const result = await this.processes.run(this.command, [family, '-n', '-q', '-c', '1', '-W', wait, target.address], {
      timeoutMs: this.timeoutMs + SPAWN_SLACK_MS,
      env: { ...process.env, LC_ALL: 'C' },
    });
    return icmpResult(result.code, result.stdout, result.stderr, result.timedOut, this.timeoutMs);
  }
}

/** What ping's exit code and summary mean (iputils: 0 a reply, 1 no reply, 2 an error). */
export function icmpResult(code: number | null, stdout: string, stderr: string, timedOut: boolean, timeoutMs: number): CheckResult {
  if (code === 0) {
    // -q prints "rtt min/avg/max/mdev = 0.041/0.041/0.041/0.000 ms".
    const rtt = /= ([\d.]+)\//.exec(stdout);
    return rtt ? { outcome: 'ok', rttMs: Number(rtt[1]) } : { outcome: 'ok' };
  }
  if (timedOut) return { outcome: 'icmp-timeout', detail: `no echo reply within ${timeoutMs} ms` };
  const text = `${stdout}\n${stderr}`;
  if (code === 1) {
    if (/\+\d+ errors?/.test(text) || /unreachable/i.test(text)) return { outcome: 'icmp-unreachable', detail: 'destination unreachable' };
    return { outcome: 'icmp-timeout', detail: `no echo reply within ${timeoutMs} ms` };
  }
  const line = text.split('\n').map((l) => l.trim()).find((l) => l.length > 0);
  return { outcome: 'icmp-error', detail: line ?? `ping exit ${code}` };
}

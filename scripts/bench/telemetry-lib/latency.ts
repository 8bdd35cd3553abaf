// Transition → subscriber latency for the telemetry bench: forced failovers of one pair, timed
// by a mosquitto_sub (-F %U: receipt time in ns) next to the broker.

import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually, type Lab } from '../../../test/netns/lab.js';
import type { TelemetryNode } from '../../../test/services/telemetry-lab.js';
import type { Latency } from './report.js';

/** Lines `%U topic payload` from mosquitto_sub in a lab host, with the receipt time in ms. */
class TimedSubscriber {
  readonly messages: { at: number; topic: string; payload: Record<string, unknown> }[] = [];
  private buffer = '';
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      const lines = this.buffer.split('\n');
      this.buffer = lines.pop()!;
      for (const line of lines) {
        const m = /^(\d+)\.(\d{9}) (\S+) (.*)$/.exec(line);
        if (!m) continue;
        try {
          this.messages.push({ at: Number(m[1]) * 1000 + Number(m[2]) / 1e6, topic: m[3]!, payload: JSON.parse(m[4]!) as Record<string, unknown> });
        } catch {
          // not JSON: not ours
        }
      }
    });
  }
}

/** Forced failovers (the master demoted); each transition's time to the subscriber. */
export async function measureLatency(lab: Lab, brokerLabHost: number, a: TelemetryNode, b: TelemetryNode, masterDown: number, failovers: number): Promise<Latency> {
  const brokerHost = lab.host(brokerLabHost).ipv4;
  const sub = new TimedSubscriber(
    lab.spawn(brokerLabHost, 'mosquitto_sub', ['-h', brokerHost, '-q', '1', '-F', '%U %t %p', '-t', 'tandem/+/carp/+/state', '-t', 'tandem/+/events']),
  );
  const latency: Latency = { failovers: 0, state: [], events: [] };
  try {
    await sleep(500);
    const from = Date.now();
    let master = a;
    let backup = b;
    for (let i = 0; i < failovers; i++) {
      // Demote, not `failover`: carp(4) takes over from a master with a higher demote count
      // regardless of preempt, and the demoted node stays BACKUP. A bowed-out node at the
      // faster advskew would retake the VIP on its own master-down when the load delays the
      // new master's first advert.
      await master.control({ cmd: 'demote', by: 50 });
      await eventually('the backup to take over', async () => ((await backup.status()).carp[0]?.state === 'MASTER' ? true : undefined), masterDown * 4 + 5000, 20);
      await eventually('the old master to be BACKUP', async () => ((await master.status()).carp[0]?.state === 'BACKUP' ? true : undefined), masterDown * 4 + 5000, 20);
      await master.control({ cmd: 'demote', reset: true });
      latency.failovers++;
      [master, backup] = [backup, master];
      await sleep(300);
    }
    // Let the last messages arrive.
    await sleep(1000);
    for (const m of sub.messages) {
      if (m.topic.endsWith('/state') && typeof m.payload['since'] === 'string') {
        const since = Date.parse(m.payload['since']);
        if (since >= from) latency.state.push(m.at - since);
      } else if (m.topic.endsWith('/events') && m.payload['type'] === 'carpTransition' && typeof m.payload['time'] === 'string') {
        const time = Date.parse(m.payload['time']);
        if (time >= from) latency.events.push(m.at - time);
      }
    }
    return latency;
  } finally {
    if (sub.child.exitCode === null) sub.child.kill('SIGTERM');
  }
}


// scripts/bench/sync, config part (issue 13): the time for a config push, from the master's
// reload (file edited, SIGHUP) to the backup having applied it (firewall loaded, reply back at
// the master), median of N, with two real daemons (the built bundle) in throwaway namespaces.
// The end is the master's own timestamp of the peer's "applied" reply, so polling adds nothing.
//
// It reports and does not assert: exit 0 when it ran, 1 on an error, 2 on bad arguments.

import { writeFile } from 'node:fs/promises';
import { BenchCommandLine } from './command-line.js';
import { Lab, eventually } from '../../test/netns/lab.js';
import { Workdir } from '../../test/netns/peers.js';
import { startPinnedPair } from '../../test/netns/sync-config-lab.js';

const USAGE = `usage: scripts/bench/sync config [--pushes N] [--json FILE]

  --pushes N   config pushes measured (default 20)
  --json FILE  also write the measurements as JSON`;

const commandLine = new BenchCommandLine('sync config', USAGE);

async function main(): Promise<void> {
  const values = commandLine.parse({ pushes: { type: 'string' }, json: { type: 'string' } });
  if (!values) return;
  const pushes = commandLine.integer('pushes', values.pushes, 20, 1, 1000);
  if (process.getuid?.() !== 0) commandLine.fail('needs root (network namespaces)', 1);

  const lab = await Lab.create({ hosts: 2 });
  const work = await Workdir.create();
  try {
    const { master, backup } = await startPinnedPair(lab, work);
    await eventually('the pair in sync', async () => ((await master.sync()).peers[0]!.outcome === 'in-sync' ? true : undefined), 15_000);
    const times: number[] = [];
    for (let i = 0; i < pushes; i++) {
      const before = (await master.sync()).hash;
      const started = Date.now();
      await master.edit((c) => c.firewall.rules.push({ action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: 20_000 + i } }));
      const hash = await eventually('the master to reload', async () => {
        const h = (await master.sync()).hash;
        return h !== before ? h : undefined;
      }, 10_000, 5);
      const peer = await eventually('the backup to apply the push', async () => {
        const p = (await master.sync()).peers[0]!;
        return p.outcome === 'applied' && p.hash === hash && p.at ? p : undefined;
      }, 15_000, 5);
      times.push(Date.parse(peer.at!) - started);
      if ((await backup.sync()).hash !== hash) throw new Error(`push ${i}: the backup does not hold ${hash.slice(0, 12)}`);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!;
    console.log(`config push (master SIGHUP -> backup applied, firewall loaded, reply at the master): median ${median} ms, p90 ${p90} ms, min ${sorted[0]} ms, max ${sorted[sorted.length - 1]} ms over ${pushes} pushes`);
    if (values.json) await writeFile(values.json, JSON.stringify({ pushes, medianMs: median, p90Ms: p90, timesMs: times }, null, 2) + '\n');
  } finally {
    await lab.dispose();
    await work.dispose();
  }
}

main().catch((error: Error) => {
  console.error(`sync config: ${error.stack ?? error.message}`);
  process.exit(1);
});

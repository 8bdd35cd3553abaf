// scripts/bench/soak: a bounded hour (by default) of churn on a Tandem pair in namespaces, with
// RSS, heap and descriptors printed over time, transitions lost, RSS growth after warm-up
// (target at most 5 %) and RSS against bare Node measured in the same run (budget 1.5x).
// See soak-lib/churn.ts for what the churn is.

import { parseArgs } from 'node:util';
import { formatSoak, runSoak } from './soak-lib/churn.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3600' },
    'sample-seconds': { type: 'string', default: '30' },
    'warmup-seconds': { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write('usage: scripts/bench/soak [--seconds 3600] [--sample-seconds 30] [--warmup-seconds S] [--json]\n');
  process.exit(0);
}
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 30 || seconds > 4 * 3600) throw new Error('--seconds must be 30..14400');
const result = await runSoak({
  seconds,
  sampleSeconds: Number(values['sample-seconds']),
  warmupSeconds: values['warmup-seconds'] !== undefined ? Number(values['warmup-seconds']) : Math.min(300, seconds / 5),
  failoverEverySeconds: 4,
  flapEverySeconds: 5,
  reloadEverySeconds: 30,
  clientsPerSecond: 20,
  progress: (line) => process.stderr.write(line + '\n'),
});
process.stdout.write((values.json ? JSON.stringify(result, null, 2) : formatSoak(result)) + '\n');
const worst = Math.max(...result.nodes.map((n) => n.growthPct));
process.stdout.write(`RSS growth after warm-up: ${worst.toFixed(1)}% (target <= 5%); transitions lost: ${result.transitionsLost} (target 0)\n`);

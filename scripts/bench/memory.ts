// scripts/bench/memory: what each part of the daemon costs in RSS, step by step against bare Node
// in the same run (issue 14 item 6: at most 1.5x). See memory-lib/steps.ts for the steps.

import { BenchCommandLine } from './command-line.js';
import { formatMemory, runMemory, STEPS, type Step } from './memory-lib/steps.js';

const usage = `usage: scripts/bench/memory [options]
  --steps LIST        comma-separated, of ${STEPS.join(',')} (default all; each adds to the previous config)
  --settle S          seconds after start before RSS is sampled (default 10)
  --load S            wrk seconds for the steps with the relay (default 12)
  --repeat N          runs of every step, steps interleaved; the median is shown (default 1)
  --node-flag F       an extra node flag for the daemon (repeatable), e.g. --node-flag=--v8-pool-size=1
  --env K=V           extra environment for the daemon (repeatable), e.g. --env MALLOC_ARENA_MAX=2
  --idle              no wrk load on the relay steps: what the daemon holds at rest
  --node PATH         the node for the daemon and bare Node alike, e.g. scripts/node18 (the
                      appliance's Node 18); default this process's
  --no-shebang        start the daemon as plain \`node bundle\`, without the shebang's flags and env (A/B)
  --json              the results as JSON`;
const cli = new BenchCommandLine('memory', usage);
const values = cli.parse({
  steps: { type: 'string' },
  settle: { type: 'string' },
  load: { type: 'string' },
  repeat: { type: 'string' },
  'node-flag': { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  idle: { type: 'boolean' },
  node: { type: 'string' },
  'no-shebang': { type: 'boolean' },
});
if (values) {
  const steps = (values.steps ? String(values.steps).split(',') : [...STEPS]) as Step[];
  for (const s of steps) if (!STEPS.includes(s)) cli.fail(`--steps: unknown step ${JSON.stringify(s)}`);
  const env: Record<string, string> = {};
  for (const pair of (values.env as unknown as string[] | undefined) ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) cli.fail(`--env wants K=V, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const results = await runMemory({
    steps,
    settleSeconds: cli.integer('settle', values.settle, 10, 2, 120),
    loadSeconds: cli.integer('load', values.load, 12, 2, 120),
    repeat: cli.integer('repeat', values.repeat, 1, 1, 10),
    nodeFlags: (values['node-flag'] as unknown as string[] | undefined) ?? [],
    env,
    shebang: !values['no-shebang'],
    idle: Boolean(values.idle),
    node: values.node ? String(values.node) : process.execPath,
    progress: (line) => process.stderr.write(line + '\n'),
  });
  console.log(values.json ? JSON.stringify(results, null, 2) : formatMemory(results, Boolean(values.idle)));
}

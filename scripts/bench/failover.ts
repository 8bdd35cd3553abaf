// scripts/bench/failover: the outage a client sees when the master fails, for Tandem, ucarp and
// keepalived (VRRPv3) side by side, in throwaway lab namespaces (test/netns/lab.ts).
//
// h1 = master, h2 = backup, h3 = a client sending an ICMP echo to the VIP every 5 ms on a fixed
// schedule (failover-lib/ping.ts says why not iputils ping). The failure: h1's cable is cut (its bridge
// port goes down) and its daemon SIGKILLed right after. The outage is the longest gap between
// consecutive echo replies. A capture on h3 (nanosecond timestamps) splits
// each outage into: the formula's share (master-down minus the time since the last advert),
// timer lateness, advert → gratuitous ARP, and ARP → first reply. Then a soak runs the shortest
// Tandem setting with every core busy and counts false failovers.
//
// It reports and does not assert: exit 0 when it ran, 1 on an error, 2 on bad arguments.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { Lab, netnsUnavailable } from '../../test/netns/lab.js';
import { BUNDLE } from '../../test/netns/peers.js';
import { measureTakeoverCosts, type TakeoverCosts } from './failover-lib/costs.js';
import { CONFIGS, SOAK_DEFAULT, parseConfig, type BenchConfig } from './failover-lib/configs.js';
import { runSoak, type SoakResult } from './failover-lib/soak.js';
import { report } from './failover-lib/report.js';
import { delta, ms, table } from './failover-lib/stats.js';
import { BenchCommandLine } from './command-line.js';
import { runTrial, type TrialResult } from './failover-lib/trial.js';

const USAGE = `usage: scripts/bench/failover [--trials N] [--soak-seconds N] [--only ID,ID...] [--soak-config ID] [--json FILE] [--list]

  --trials N         failovers per configuration (default 3)
  --soak-seconds N   soak length with every core loaded (default 60; 0 skips it; the issue's
                     target is 600)
  --only IDS         run only these configurations (see --list; also tandem-A/M/B for advbase
                     A, master advskew M, backup advskew B, and keepalived-SECONDS; a Tandem id
                     takes +nohooks (no transition hooks) or +rt (both daemons at node.realtimePriority 10));
                     "none" skips the failover trials
  --soak-config ID   the Tandem setting the soak runs (default ${SOAK_DEFAULT}; +rt, +nohooks too)
  --json FILE        also write every measurement as JSON
  --list             list the configurations and exit`;

interface Options {
  trials: number;
  soakSeconds: number;
  configs: BenchConfig[];
  soakConfig: BenchConfig;
  json?: string;
}

const commandLine = new BenchCommandLine('failover', USAGE);
const fail = (message: string): never => commandLine.fail(message);

function parseOptions(): Options | undefined {
  const values = commandLine.parse({
    trials: { type: 'string' },
    'soak-seconds': { type: 'string' },
    only: { type: 'string' },
    'soak-config': { type: 'string' },
    json: { type: 'string' },
    list: { type: 'boolean' },
  });
  if (!values) return undefined;
  if (values.list) {
    console.log(
      table(
        [['id', 'setting', 'advert interval', 'master-down', 'formula'],
          ...CONFIGS.map((c) => [c.id, c.label, ms(c.intervalMs), ms(c.masterDownMs), c.formula])],
      ),
    );
    return undefined;
  }
  const integer = commandLine.integer.bind(commandLine);
  const trials = integer('trials', values.trials, 3, 1, 100);
  const soakSeconds = integer('soak-seconds', values['soak-seconds'], 60, 0, 24 * 3600);
  let configs = [...CONFIGS];
  if (values.only !== undefined) {
    configs = values.only === 'none' ? [] : values.only.split(',').map((id) => parseConfig(id.trim()) ?? fail(`unknown configuration ${id}`));
  }
  const soakConfig = parseConfig(values['soak-config'] ?? SOAK_DEFAULT) ?? fail(`unknown soak configuration ${values['soak-config']}`);
  if (soakConfig.impl !== 'tandem') fail('the soak runs a Tandem setting');
  return { trials, soakSeconds, configs, soakConfig, json: values.json };
}

function preflight(): void {
  const reason = netnsUnavailable();
  if (reason) throw new Error(reason);
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`node scripts/build.mjs\` first`);
  for (const tool of ['ping', 'tcpdump', 'ucarp', 'keepalived']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is not installed`);
    }
  }
}

function version(cmd: string, args: string[], pattern: RegExp): string {
  const result = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  return pattern.exec(`${result.stdout ?? ''}${result.stderr ?? ''}`)?.[0] ?? '?';
}

function trialLine(config: BenchConfig, r: TrialResult): string {
  const head = `  ${config.id} #${r.trial}:${r.invalid ? ' DISCARDED' : ''}`;
  if (r.error && r.outageMs === undefined) return `${head} ERROR ${r.error}`;
  const w = r.wire;
  const parts = [`outage ${ms(r.outageMs)}`];
  if (w) {
    parts.push(`(pinger ${ms(r.clientGapMs)})`);
    parts.push(`| since last advert ${ms(w.phaseMs)} → formula ${ms(w.expectedMs)}, excess ${delta(w.excessMs)}`);
    const split = [
      w.timerLateMs !== undefined ? `timer ${delta(w.timerLateMs)}` : `detect ${delta(w.detectLateMs)}`,
      w.logToAdvertMs !== undefined ? `→advert ${delta(w.logToAdvertMs)}` : undefined,
      `advert→GARP ${delta(w.advertToGarpMs)}`,
      `GARP→reply ${delta(w.garpToReplyMs)}`,
    ].filter(Boolean);
    parts.push(`= ${split.join(', ')}`);
  }
  if (r.invalid) parts.push(`[${r.invalid}]`);
  if (r.error) parts.push(`[${r.error}]`);
  return `${head} ${parts.join(' ')}`;
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (!options) return 0;
  preflight();
  const print = (line = '') => console.log(line);
  const started = Date.now();
  const others = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  print('Tandem failover bench: the outage a client sees (ICMP echo every 5 ms, longest gap between replies)');
  print('when the master fails: its link is cut and its daemon SIGKILLed at once.');
  print(
    `node ${process.version}, kernel ${release()}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ` +
      `${others} network namespaces before this run`,
  );
  print(
    `ucarp ${version('ucarp', ['--help'], /\d+\.\d+\.\d+/)}, keepalived ${version('keepalived', ['--version'], /v[\d.]+/)}, ` +
      `${version('ping', ['-V'], /iputils \S+/)}; ${options.trials} trial(s) per setting; soak ${options.soakSeconds} s`,
  );
  print();

  const results = new Map<string, TrialResult[]>();
  for (const config of options.configs) {
    print(`${config.label}: advert interval ${ms(config.intervalMs)}, master-down ${ms(config.masterDownMs)} (${config.formula})`);
    const list: TrialResult[] = [];
    // A trial the client could not observe cleanly is discarded and run again, at most twice over.
    let discarded = 0;
    for (let trial = 1; trial <= options.trials; trial++) {
      const limitMs = 60_000 + config.masterDownMs * 4;
      let result: TrialResult;
      const running = runTrial(config, trial);
      try {
        result = await withTimeout(running, limitMs, `trial took longer than ${Math.round(limitMs / 1000)} s`);
      } catch (error) {
        result = { config: config.id, trial, error: (error as Error).message };
        // Every wait inside a trial is bounded: let it clean up before the next one starts.
        await Promise.race([running.catch(() => undefined), new Promise((r) => setTimeout(r, 30_000))]);
      }
      list.push(result);
      print(trialLine(config, result));
      if (result.invalid && discarded < 2) {
        discarded++;
        trial--;
      }
    }
    results.set(config.id, list);
  }

  let costs: TakeoverCosts | undefined;
  if (options.configs.some((c) => c.impl === 'tandem')) {
    const lab = await Lab.create({ hosts: 1 });
    try {
      costs = await measureTakeoverCosts(lab, 1);
    } catch (error) {
      print(`takeover cost probe failed: ${(error as Error).message}`);
    } finally {
      await lab.dispose();
    }
  }

  let soak: SoakResult | undefined;
  if (options.soakSeconds > 0) {
    const c = options.soakConfig;
    print();
    print(`Soak: ${c.label} for ${options.soakSeconds} s, every core busy (${cpus().length} busy-loop processes)`);
    const limitMs = options.soakSeconds * 1000 + 180_000;
    soak = await withTimeout(runSoak(c, options.soakSeconds, print), limitMs, 'soak overran its time limit').catch(
      (error: Error) => ({ config: c.id, seconds: options.soakSeconds, loadWorkers: 0, falseFailovers: 0, backupAdverts: 0, error: error.message }),
    );
    if (soak.error) print(`  soak: ERROR ${soak.error}`);
  }

  print();
  print(report({ configs: options.configs, soakConfig: options.soakConfig, results, soak, costs }));
  const othersNow = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
  print(
    `(${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ` +
      `${othersNow} other network namespaces now — other labs on this machine share its ${cpus().length} cores)`,
  );
  if (options.json) {
    await writeFile(options.json, JSON.stringify({ configs: options.configs, results: Object.fromEntries(results), soak }, null, 2));
  }
  return 0;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// process.exit, not exitCode: whatever a timed-out soak left running must not keep the bench
// alive; a lab still open is torn down by its exit handler (test/netns/lab.ts).
main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`failover: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);

// A master/backup pair of one implementation in lab hosts 1 and 2, brought to steady state:
// the master established, the backup BACKUP and having heard at least three adverts.

import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { eventually, type Lab } from '../../../test/netns/lab.js';
import { TandemNode, UcarpNode, Workdir } from '../../../test/netns/peers.js';
import type { BenchConfig } from './configs.js';
import { KeepalivedNode } from './keepalived.js';
import { BareTandem } from './tandem.js';

export interface Pair {
  /** SIGKILL the master daemon (the bench cuts its link first). */
  killMaster(): Promise<void>;
  /** Resolves with true once the backup says it is MASTER (false after timeoutMs). */
  backupIsMaster(timeoutMs: number): Promise<boolean>;
  /** Wall-clock ms at which the backup logged its takeover, when its log says so. */
  takeoverLogged(): number | undefined;
  /** Count of the backup's transitions to MASTER so far. */
  backupMasterTransitions(): Promise<number>;
  /** Tandem only: each daemon's vhost state and advert counters. */
  counters?(): Promise<{ master: VhostCounters; backup: VhostCounters }>;
  /** The daemons' own output so far (logs). */
  logs(): { master: string; backup: string };
  /** Ends whatever still runs (the lab ends the rest). */
  stop(): Promise<void>;
  readonly master: unknown;
  readonly backup: unknown;
}

const STEADY_ADVERTS = 3;

export interface VhostCounters {
  state: string;
  sent: number;
  received: number;
  demote: number;
}

async function vhostCounters(node: { status(): Promise<import('../../../firmware/daemon.js').Status> }): Promise<VhostCounters> {
  const v = (await node.status()).carp[0]!;
  return { state: v.state, sent: v.counters.sent, received: v.counters.received, demote: v.demote };
}

export async function startPair(config: BenchConfig, lab: Lab, work: Workdir): Promise<Pair> {
  switch (config.impl) {
    case 'tandem':
      return startTandem(config, lab, work);
    case 'ucarp':
      return startUcarp(config, lab, work);
    case 'keepalived':
      return startKeepalived(config, lab, work);
  }
}

function masterWaitMs(config: BenchConfig): number {
  return config.masterDownMs * 2 + 8000;
}

async function startTandem(config: BenchConfig, lab: Lab, work: Workdir): Promise<Pair> {
  const pair = config.hooks === false ? await startBareTandem(config, lab, work) : await startHookedTandem(config, lab, work);
  // The hooked daemons get the product's own knobs (node.realtimePriority: SCHED_RR for every
  // thread, node.lockMemory); the bare ones, which have no config node section, get chrt.
  if (config.realtime && config.hooks === false) {
    // Every thread of both daemons; the programs they spawn (ip, hooks) inherit it.
    for (const node of [pair.master, pair.backup] as { child: { pid?: number } }[]) {
      if (node.child.pid) await promisify(execFile)('chrt', ['-a', '-f', '-p', '10', String(node.child.pid)]);
    }
  }
  return pair;
}

interface SettlingNode {
  status(): Promise<{ carp: { counters: { received: number } }[] }>;
  state(): Promise<string | undefined>;
}

/** Steady state: the backup has heard STEADY_ADVERTS adverts and the roles are as planned. */
async function settled(config: BenchConfig, master: SettlingNode, backup: SettlingNode): Promise<void> {
  await eventually(
    `the backup to hear ${STEADY_ADVERTS} adverts`,
    async () => ((await backup.status()).carp[0]!.counters.received >= STEADY_ADVERTS ? true : undefined),
    config.intervalMs * (STEADY_ADVERTS + 2) + 5000,
    Math.min(50, config.intervalMs),
  );
  if ((await master.state()) !== 'MASTER' || (await backup.state()) !== 'BACKUP') {
    throw new Error('the pair did not settle as MASTER/BACKUP');
  }
}

async function startHookedTandem(config: BenchConfig, lab: Lab, work: Workdir): Promise<Pair> {
  const advbase = config.advbase!;
  const settings = config.realtime ? { realtimePriority: 10, lockMemory: true } : {};
  const master = await TandemNode.start(lab, 1, work, [{ advbase, advskew: config.masterSkew! }], 'fw-h1', process.execPath, settings);
  await master.waitFor('MASTER', 42, masterWaitMs(config));
  const backup = await TandemNode.start(lab, 2, work, [{ advbase, advskew: config.backupSkew! }], 'fw-h2', process.execPath, settings);
  await backup.waitFor('BACKUP', 42, 8000);
  await settled(config, master, backup);
  return {
    master,
    backup,
    logs: () => ({ master: master.output, backup: backup.output }),
    counters: async () => ({ master: await vhostCounters(master), backup: await vhostCounters(backup) }),
    async killMaster() {
      master.kill9();
      await master.exited;
    },
    async backupIsMaster(timeoutMs) {
      return backup.waitFor('MASTER', 42, timeoutMs).then(() => true, () => false);
    },
    takeoverLogged() {
      return tandemTakeover(backup.output);
    },
    async backupMasterTransitions() {
      return (await backup.hooks()).filter((line) => / MASTER /.test(line)).length;
    },
    async stop() {
      await Promise.race([backup.terminate(), sleep(3000)]);
    },
  };
}

async function startBareTandem(config: BenchConfig, lab: Lab, work: Workdir): Promise<Pair> {
  const advbase = config.advbase!;
  const master = await BareTandem.start(lab, 1, work, advbase, config.masterSkew!);
  await master.waitFor('MASTER', masterWaitMs(config));
  const backup = await BareTandem.start(lab, 2, work, advbase, config.backupSkew!);
  await backup.waitFor('BACKUP', 8000);
  await settled(config, master, backup);
  return {
    master,
    backup,
    logs: () => ({ master: master.output, backup: backup.output }),
    counters: async () => ({ master: await vhostCounters(master), backup: await vhostCounters(backup) }),
    killMaster: () => master.kill9(),
    async backupIsMaster(timeoutMs) {
      return backup.waitFor('MASTER', timeoutMs).then(() => true, () => false);
    },
    takeoverLogged: () => tandemTakeover(backup.output),
    backupMasterTransitions: async () => backup.masterTransitions(),
    async stop() {
      await Promise.race([backup.terminate(), sleep(3000)]);
    },
  };
}

/** The wall-clock time of the last "BACKUP -> MASTER" line in a Tandem node's JSON log. */
export function tandemTakeover(output: string): number | undefined {
  let at: number | undefined;
  for (const line of output.split('\n')) {
    if (!line.includes('-> MASTER')) continue;
    try {
      const entry = JSON.parse(line) as { time?: string; msg?: string };
      if (entry.time && /BACKUP -> MASTER/.test(entry.msg ?? '')) at = Date.parse(entry.time);
    } catch {
      // not a log line
    }
  }
  return at;
}

async function startUcarp(config: BenchConfig, lab: Lab, work: Workdir): Promise<Pair> {
  const advbase = config.advbase!;
  const master = await UcarpNode.start(lab, 1, work, { advbase, advskew: config.masterSkew! });
  await eventually('ucarp on h1 to be MASTER', () => {
    if (master.child.exitCode !== null) throw new Error(`ucarp exited: ${master.output}`);
    return master.isMaster ? true : undefined;
  }, masterWaitMs(config) + 2000);
  const backup = await UcarpNode.start(lab, 2, work, { advbase, advskew: config.backupSkew! });
  await eventually('ucarp on h2 to be BACKUP', () => (/Switching to state: BACKUP/.test(backup.output) ? true : undefined), 5000);
  // ucarp reports no counters: give it the time of STEADY_ADVERTS adverts, and a little more,
  // since it reads through libpcap with a 1 s buffer timeout.
  await sleep(config.intervalMs * STEADY_ADVERTS + 1200);
  if (!master.isMaster || backup.isMaster) throw new Error('the ucarp pair did not settle as MASTER/BACKUP');
  return {
    master,
    backup,
    logs: () => ({ master: master.output, backup: backup.output }),
    async killMaster() {
      const exited = new Promise((resolve) => master.child.once('exit', resolve));
      if (master.child.exitCode === null && master.child.signalCode === null) master.child.kill('SIGKILL');
      await exited;
    },
    async backupIsMaster(timeoutMs) {
      return eventually('ucarp on h2 to be MASTER', () => (backup.isMaster ? true : undefined), timeoutMs, 10).then(
        () => true,
        () => false,
      );
    },
    takeoverLogged() {
      // "2026-11-22T04:10:33.732711: [WARNING] Switching to state: MASTER" (local time, µs).
      const m = [...backup.output.matchAll(/^(\S+): \[\w+\] Switching to state: MASTER/gm)].pop();
      return m ? new Date(m[1]!).getTime() : undefined;
    },
    async backupMasterTransitions() {
      return [...backup.output.matchAll(/Switching to state: MASTER/g)].length;
    },
    async stop() {
      if (backup.child.exitCode === null) backup.child.kill('SIGTERM');
    },
  };
}

async function startKeepalived(config: BenchConfig, lab: Lab, work: Workdir): Promise<Pair> {
  const advertInt = config.advertInt!;
  const master = await KeepalivedNode.start(lab, 1, work, { priority: config.masterPriority!, advertInt });
  let backup: KeepalivedNode | undefined;
  try {
    await eventually('keepalived on h1 to be MASTER', () => (master.state === 'MASTER' ? true : undefined), masterWaitMs(config));
    backup = await KeepalivedNode.start(lab, 2, work, { priority: config.backupPriority!, advertInt });
    await eventually('keepalived on h2 to be BACKUP', () => (backup!.state === 'BACKUP' ? true : undefined), 5000);
    await sleep(config.intervalMs * STEADY_ADVERTS + 200);
    if (master.state !== 'MASTER' || backup.state !== 'BACKUP') throw new Error('the keepalived pair did not settle');
  } catch (error) {
    await Promise.all([master.stop(), backup?.stop()]);
    throw error;
  }
  const b = backup;
  return {
    master,
    backup: b,
    logs: () => ({ master: master.output, backup: b.output }),
    async killMaster() {
      await master.kill9();
      await master.exited;
    },
    async backupIsMaster(timeoutMs) {
      return eventually('keepalived on h2 to be MASTER', () => (b.state === 'MASTER' ? true : undefined), timeoutMs, 10).then(
        () => true,
        () => false,
      );
    },
    takeoverLogged() {
      return undefined; // keepalived's console log has whole seconds only
    },
    async backupMasterTransitions() {
      return [...b.output.matchAll(/Entering MASTER STATE/g)].length;
    },
    async stop() {
      await Promise.all([master.stop(500), b.stop()]);
    },
  };
}

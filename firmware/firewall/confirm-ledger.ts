// What "apply with confirm" must remember across a crash: the last confirmed ruleset (as the
// config it was compiled from, so a restart can load it again), a pending apply's wall-clock
// deadline, and a policy that was reverted unconfirmed, so a restart that reads the same config
// does not bring it back for good. Written atomically, and only when one of these changes
// (apply, confirm, revert): never periodically, since the card is read-mostly.

import { createHash } from 'node:crypto';
import type { FileStore } from '../os/files.js';
import type { FirewallSource, Policy } from './model.js';
import { renderNft } from './render-nft.js';

/** The ruleset a revert goes back to. */
export type ConfirmedRuleset =
  | { kind: 'policy'; source: FirewallSource; hash: string; at: string }
  /** Our table as the kernel held it before this daemon loaded anything. */
  | { kind: 'snapshot'; text: string }
  /** There was no table of ours. */
  | { kind: 'none' };

export interface ConfirmRecord {
  confirmed?: ConfirmedRuleset;
  /** Loaded, awaiting confirmation until `deadline` (wall-clock ms: a restart has no monotonic clock). */
  pending?: { hash: string; deadline: number; appliedAt: string };
  /** Reverted because nobody confirmed it; the config may still describe it. */
  unconfirmed?: { hash: string; revertedAt: string; why: string };
}

/** Identity of a policy: its nftables rendering with the config's own table members. */
export function policyHash(policy: Policy): string {
  return createHash('sha256').update(renderNft(policy)).digest('hex').slice(0, 16);
}

/** Only what the firewall compiler reads, so the record holds no secrets (CARP passwords). */
export function firewallSource(source: FirewallSource): FirewallSource {
  return {
    node: { name: source.node.name },
    carp: source.carp.map((c) => ({ vhid: c.vhid, interface: c.interface, addresses: [...c.addresses] })),
    firewall: source.firewall,
    ...(source.balancer ? { balancer: { pools: source.balancer.pools.map((p) => (p.redirect ? { redirect: { table: p.redirect.table } } : {})) } } : {}),
  };
}

export class ConfirmLedger {
  constructor(
    private readonly files: FileStore,
    readonly path: string,
  ) {}

  /** The record on disk; an unreadable one counts as empty (and says so through `problem`). */
  async read(): Promise<{ record: ConfirmRecord; problem?: string }> {
    let text: string | undefined;
    try {
      text = await this.files.read(this.path);
    } catch (error) {
      return { record: {}, problem: `cannot read ${this.path}: ${(error as Error).message}` };
    }
    if (text === undefined) return { record: {} };
    try {
      const parsed = JSON.parse(text) as ConfirmRecord;
      return { record: typeof parsed === 'object' && parsed !== null ? parsed : {} };
    } catch {
      return { record: {}, problem: `${this.path} is not JSON; ignoring it` };
    }
  }

  write(record: ConfirmRecord): Promise<void> {
    return this.files.writeAtomic(this.path, JSON.stringify(record) + '\n');
  }
}

// Kernel redirect (relayd's pfe.c/pfe_filter.c): the pool keeps one firewall table equal to
// its serving hosts. A change only marks the table dirty; it is written once per check round,
// in place, through the firewall's TableUpdater — never by reloading the ruleset. A failed
// write stays dirty and is tried again next round.

import type { TableUpdater } from '../firewall/tables.js';
import type { Logger } from '../log.js';

export interface FeedStatus {
  table: string;
  /** What the table holds as far as we know (the last successful write). */
  members: string[];
  writes: number;
  dirty: boolean;
  lastError?: string;
}

export class TableFeed {
  private written: string[] | undefined;
  private wanted: string[] | undefined;
  private writing: Promise<void> | undefined;
  private writes = 0;
  private lastError: string | undefined;

  constructor(
    readonly table: string,
    private readonly tables: TableUpdater | undefined,
    private readonly log: Logger,
  ) {}

  /** Sets what the table should hold and writes it if that differs from what it holds. */
  sync(members: readonly string[]): Promise<void> {
    this.wanted = [...members];
    this.writing ??= this.flush().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async flush(): Promise<void> {
    while (this.wanted && !same(this.wanted, this.written)) {
      const next = this.wanted;
      if (!this.tables) {
        if (this.lastError === undefined) this.log.error(`table ${this.table}: this node has no firewall table updater; redirect cannot follow host health`);
        this.lastError = 'no firewall table updater';
        return;
      }
      try {
        await this.tables.setMembers(this.table, next);
        this.written = next;
        this.writes++;
        this.lastError = undefined;
        this.log.info(`table ${this.table}: ${next.length === 0 ? 'empty' : unique(next).join(' ')}`);
      } catch (error) {
        const message = (error as Error).message;
        if (message !== this.lastError) this.log.error(`table ${this.table}: update failed, retrying next round: ${message}`);
        this.lastError = message;
        return;
      }
    }
  }

  /** Resolves when no write is in flight. */
  idle(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  status(): FeedStatus {
    return {
      table: this.table,
      members: this.written ?? [],
      writes: this.writes,
      dirty: this.wanted !== undefined && !same(this.wanted, this.written),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }
}

function same(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

function unique(members: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const m of members) counts.set(m, (counts.get(m) ?? 0) + 1);
  return [...counts].map(([m, n]) => (n > 1 ? `${m}*${n}` : m));
}

// Named address tables (pf's `table <name>`, an nftables named set or map) that other
// capabilities change at run time — the balancer's healthy hosts, the power manager's awake
// hosts — in place, without reloading the ruleset.

export interface TableUpdater {
  /**
   * Makes `members` (IP addresses; repeat one to give it more weight where the table feeds a
   * round-robin redirect) the whole content of `table`, atomically.
   */
  setMembers(table: string, members: readonly string[]): Promise<void>;
}

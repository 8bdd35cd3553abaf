// The firewall's one port to the kernel: nft(8), fed scripts on stdin. A script runs as one
// netlink transaction, so it takes effect whole or not at all; `check` asks the kernel whether
// it would (nft -c) and changes nothing.

export type NftOutcome = { ok: true } | { ok: false; error: string };

export interface NftPort {
  /** `nft -c -f -`: would the kernel take this script? Changes nothing. */
  check(script: string): Promise<NftOutcome>;
  /** `nft -f -`: runs the script as one transaction. */
  run(script: string): Promise<NftOutcome>;
  /** `nft list table inet tandem`, or undefined when there is no such table. */
  listTable(): Promise<string | undefined>;
}

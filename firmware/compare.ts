// String order for sorts that only need to be deterministic. `localeCompare` would do, but it
// loads ICU's collation tables into the daemon the first time it runs: +2.5 MiB of RSS
// (scripts/bench/memory, the power step), for an order no admin sees.

/** Orders by UTF-16 code units, as `<` does: locale-independent and stable across nodes. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Every field of a status object as a definition list (lib/flatten.ts), for details whose shape
// grows with the daemon (relay counters, the power ledger, pair sync): new fields show unchanged.

import { flatten, labelOf } from '../lib/flatten.js';

export function Fields({ value }: { value: unknown }) {
  return (
    <dl class="facts-list">
      {flatten(value).map((row) => [<dt key={`t${row.path}`}>{labelOf(row.path)}</dt>, <dd key={`d${row.path}`}>{row.text}</dd>])}
    </dl>
  );
}

// Pair sync (issue 13): connection-state sync through conntrackd and config sync between peers,
// each as every field the daemon reports (lib/flatten.ts), so fields added later show unchanged.

import { Badge, Empty } from '../components/common.js';
import { Fields } from '../components/fields.js';
import { status } from '../store.js';

export function SyncPage() {
  const s = status.value;
  const sync = s?.sync;
  return (
    <>
      <h1 tabIndex={-1}>Sync</h1>
      {s && !sync?.conntrack && !sync?.config && <Empty>Pair sync is not configured (the <code>sync</code> section).</Empty>}
      {sync?.conntrack && (
        <section aria-labelledby="sync-ct">
          <h2 id="sync-ct">
            Connection state (conntrackd) <Badge state={sync.conntrack.running ? 'up' : 'down'} label={sync.conntrack.running ? 'running' : 'not running'} />
          </h2>
          <Fields value={sync.conntrack} />
        </section>
      )}
      {sync?.config && (
        <section aria-labelledby="sync-config">
          <h2 id="sync-config">
            Config <Badge state={sync.config.role} />
          </h2>
          <Fields value={sync.config} />
        </section>
      )}
    </>
  );
}

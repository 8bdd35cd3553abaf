// The balancer: each pool's health and demand, and each host's state, last check (outcome, when,
// round-trip time), connections, with drain/undrain (`POST /api/pools/drain`, as
// `tandem balancer drain`: no new connections, existing ones finish).

import { post } from '../api.js';
import { Action, Badge, Empty, TableBox } from '../components/common.js';
import { Sparkline } from '../components/sparkline.js';
import { Fields } from '../components/fields.js';
import { formatMs, since } from '../lib/format.js';
import { demand, now, status } from '../store.js';

export function BalancerPage() {
  const s = status.value;
  const t = now.value;
  if (!s) return <h1 tabIndex={-1}>Balancer</h1>;
  return (
    <>
      <h1 tabIndex={-1}>Balancer</h1>
      {s.pools.length === 0 && <Empty>No pools configured (the <code>balancer</code> section).</Empty>}
      {s.pools.map((p) => (
        <section key={p.name} aria-labelledby={`pool-${p.name}`}>
          <h2 id={`pool-${p.name}`}>
            Pool {p.name} <Badge state={p.state} />
          </h2>
          <p class="facts">
            <span>
              {p.check.type} check every {p.check.intervalSeconds} s (timeout {p.check.timeoutSeconds} s, down after {p.check.downAfter}, up after {p.check.upAfter})
            </span>
            <span>changed {since(p.since, t)}</span>
            {p.demote > 0 && <span class="warn-text">demotes CARP by {p.demote}</span>}
            {p.demand.measured && (
              <span>
                {p.demand.connections} connections, {p.demand.requestsPerSecond.toFixed(1)} req/s
              </span>
            )}
          </p>
          {(p.relay || p.redirect) && (
            <details class="small">
              <summary>{p.relay ? 'Relay' : 'Redirect'} details</summary>
              <Fields value={p.relay ? { relay: p.relay, ...(p.redirect ? { redirect: p.redirect } : {}) } : { redirect: p.redirect }} />
            </details>
          )}
          {(demand.value[p.name]?.length ?? 0) > 1 && <Sparkline samples={demand.value[p.name]!} label={`demand of pool ${p.name}`} unit="conn" />}
          <TableBox label={`hosts of pool ${p.name}`}>
            <table>
              <caption class="sr-only">Hosts of pool {p.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Host</th>
                  <th scope="col">State</th>
                  <th scope="col">Last check</th>
                  <th scope="col">RTT</th>
                  <th scope="col">Conns</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {p.hosts.map((h) => (
                  <tr key={h.id} data-host={h.id}>
                    <th scope="row">
                      {h.id}
                      <div class="muted small">
                        {h.address}
                        {h.port !== undefined && `:${h.port}`} · w{h.weight}
                      </div>
                    </th>
                    <td>
                      <Badge state={h.state} />
                      {h.drained && <span class="muted small"> drained</span>}
                    </td>
                    <td>
                      {h.lastOutcome ?? '—'}
                      <div class="muted small">{since(h.lastCheck, t)}</div>
                      {h.lastError && h.lastError.outcome !== h.lastOutcome && (
                        <div class="muted small" title={h.lastError.detail}>
                          last error {h.lastError.outcome} {since(h.lastError.at, t)}
                        </div>
                      )}
                    </td>
                    <td>{formatMs(h.rttMs)}</td>
                    <td>{h.connections}</td>
                    <td>
                      {h.drained ? (
                        <Action run={async () => (await post('/api/pools/drain', { host: h.id, pool: p.name, on: false }), `${h.id} back in service`)} label={`Undrain ${h.id}`}>
                          Undrain
                        </Action>
                      ) : (
                        <Action run={async () => (await post('/api/pools/drain', { host: h.id, pool: p.name, on: true }), `${h.id} drained`)} label={`Drain ${h.id}`}>
                          Drain
                        </Action>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableBox>
        </section>
      ))}
    </>
  );
}

// The dashboard: every VHID with its state and since when, who is MASTER, pool health, parked
// hosts and the energy saved, and the newest events; all from the live stream, no reloads.

import { Fragment } from 'preact';
import { Badge, Empty, TableBox } from '../components/common.js';
import { Sparkline } from '../components/sparkline.js';
import { describeEvent } from '../lib/events.js';
import { clockTime, formatBytes, formatDuration, formatKWh, formatPercent, since } from '../lib/format.js';
import { demand, demo, energySaved, events, now, status } from '../store.js';
import { DemoPanel } from './demo.js';

/** Who holds a VHID: this node when MASTER; in the demo, the peer that says it is. */
function masterOf(vhid: number, selfState: string, self: string): string {
  if (selfState === 'MASTER') return `${self} (this node)`;
  const peers = demo.value?.nodes.filter((n) => !n.self && n.running && n.carp.some((c) => c.vhid === vhid && c.state === 'MASTER')).map((n) => n.name) ?? [];
  if (peers.length > 0) return peers.join(', ');
  return selfState === 'BACKUP' ? 'a peer' : 'none known';
}

export function Dashboard() {
  const s = status.value;
  const t = now.value;
  if (!s) return <h1 tabIndex={-1}>Dashboard</h1>;
  const parked = s.power?.hosts.filter((h) => h.state === 'parked') ?? [];
  return (
    <>
      <h1 tabIndex={-1}>
        Dashboard <span class="muted">· {s.node}</span>
      </h1>
      <p class="facts">
        <span>Version {s.version}</span>
        <span>Up {formatDuration(s.uptimeSeconds)}</span>
        <span>
          Demotion <strong>{s.demotion.total}</strong>
        </span>
        <span title={`heap ${formatBytes(s.memory.heapUsedBytes)}`}>Memory {formatBytes(s.memory.rssBytes)}</span>
        {s.maintenance && <Badge state="maintenance" label="Maintenance on" />}
      </p>
      {s.api?.note && <p class="warn-text">{s.api.note}</p>}
      {demo.value && <DemoPanel />}
      <section aria-labelledby="dash-vhids">
        <h2 id="dash-vhids">Virtual hosts</h2>
        {s.carp.length === 0 ? (
          <Empty>No CARP groups configured.</Empty>
        ) : (
          <TableBox label="virtual hosts">
            <table class="vhids">
              <caption class="sr-only">Each VHID: this node's state, who is MASTER and since when</caption>
              <thead>
                <tr>
                  <th scope="col">VHID</th>
                  <th scope="col" class="wide-only">
                    Addresses
                  </th>
                  <th scope="col">State</th>
                  <th scope="col">MASTER</th>
                  <th scope="col">Since</th>
                </tr>
              </thead>
              <tbody>
                {s.carp.map((v) => (
                  <tr key={v.vhid} data-vhid={v.vhid}>
                    <th scope="row">
                      {v.vhid} <span class="muted">{v.interface}</span>
                      <div class="muted small narrow-only">{v.addresses.join(', ')}</div>
                    </th>
                    {/* Kept as a cell on phones too (hidden there): the columns stay put for scripts that count them. */}
                    <td class="wide-only">{v.addresses.join(', ')}</td>
                    <td class="state">
                      <Badge state={v.state} />
                    </td>
                    <td class="master">{masterOf(v.vhid, v.state, s.node)}</td>
                    <td title={v.since}>{since(v.since, t)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableBox>
        )}
      </section>
      <div class="grid">
        <section aria-labelledby="dash-pools">
          <h2 id="dash-pools">Pools</h2>
          {s.pools.length === 0 ? (
            <Empty>No balancer pools configured.</Empty>
          ) : (
            <ul class="cards">
              {s.pools.map((p) => {
                const up = p.hosts.filter((h) => h.state === 'up').length;
                return (
                  <li key={p.name}>
                    <h3>
                      {p.name} <Badge state={p.state} />
                    </h3>
                    <p>
                      {up} of {p.hosts.length} hosts up
                      {p.demand.measured && ` · ${p.demand.connections} connections`}
                    </p>
                    {(demand.value[p.name]?.length ?? 0) > 1 && <Sparkline samples={demand.value[p.name]!} label={`demand of pool ${p.name}`} unit="conn" width={200} height={32} />}
                  </li>
                );
              })}
            </ul>
          )}
        </section>
        <section aria-labelledby="dash-power">
          <h2 id="dash-power">Power</h2>
          {!s.power ? (
            <Empty>Power management is not configured.</Empty>
          ) : (
            <>
              <p>
                <strong>{parked.length}</strong> host{parked.length === 1 ? '' : 's'} parked{parked.length > 0 && `: ${parked.map((h) => h.name).join(', ')}`}
              </p>
              <p>
                Energy saved <strong>{formatKWh(s.power.energy.savedKWh)}</strong> ({formatPercent(s.power.energy.savedFraction)} of always-on) over{' '}
                {formatDuration(s.power.energy.hours * 3600)}
              </p>
              {energySaved.value.length > 1 && <Sparkline samples={energySaved.value} label="energy saved" unit="kWh" width={200} height={32} format={(v) => v.toFixed(3)} />}
            </>
          )}
        </section>
      </div>
      {s.api && (
        <details class="small">
          <summary>This console</summary>
          <dl class="facts-list">
            <dt>Serving</dt>
            <dd>{s.api.listening.map((l) => l.url).join(', ') || 'nothing'}</dd>
            {s.api.refused.map((r) => (
              <Fragment key={r.listen}>
                <dt>Refused {r.listen}</dt>
                <dd>{r.reason}</dd>
              </Fragment>
            ))}
            {s.api.tls && (
              <>
                <dt>Certificate</dt>
                <dd>
                  {s.api.tls.source === 'selfSigned' ? 'self-signed' : 'configured'}, SHA-256 <code class="fingerprint">{s.api.tls.fingerprint}</code>, valid to {s.api.tls.validTo.slice(0, 10)}
                </dd>
              </>
            )}
            <dt>Users / sessions</dt>
            <dd>
              {s.api.users} / {s.api.sessions}
            </dd>
          </dl>
        </details>
      )}
      <section aria-labelledby="dash-events">
        <h2 id="dash-events">
          Recent events <a href="#/events" class="small">all</a>
        </h2>
        {events.value.length === 0 ? (
          <Empty>Nothing has happened yet.</Empty>
        ) : (
          <ol class="events">
            {events.value.slice(0, 8).map((e) => {
              const line = describeEvent(e);
              return (
                <li key={`${e.time}${line.text}`} class={line.tone}>
                  <time dateTime={e.time}>{clockTime(e.time, t)}</time> {line.text}
                </li>
              );
            })}
          </ol>
        )}
      </section>
    </>
  );
}

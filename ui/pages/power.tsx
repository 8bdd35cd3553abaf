// Power: the manager's role, each pool's demand (with its trend), each host's state, pin,
// wake/park and the energy it saved, and the planner's recent decisions with their reasons.

import { post } from '../api.js';
import { Action, Badge, Empty, TableBox } from '../components/common.js';
import { Sparkline } from '../components/sparkline.js';
import { Fields } from '../components/fields.js';
import { clockTime, formatDuration, formatKWh, formatPercent, since } from '../lib/format.js';
import { demand, energySaved, now, status } from '../store.js';

export function PowerPage() {
  const s = status.value;
  const t = now.value;
  const p = s?.power;
  if (!s) return <h1 tabIndex={-1}>Power</h1>;
  if (!p)
    return (
      <>
        <h1 tabIndex={-1}>Power</h1>
        <Empty>Power management is not configured (the <code>power</code> section).</Empty>
      </>
    );
  return (
    <>
      <h1 tabIndex={-1}>Power</h1>
      <p class="facts">
        <span>
          Role <Badge state={p.role} />
        </span>
        <span>{p.acting ? 'acting on hosts' : 'watching only'}</span>
        {p.vhid !== undefined && <span>follows VHID {p.vhid}</span>}
        <span>round every {p.intervalSeconds} s{p.lastRound && `, last ${since(p.lastRound, t)}`}</span>
      </p>
      <section aria-labelledby="power-demand">
        <h2 id="power-demand">Demand</h2>
        <ul class="cards">
          {p.pools.map((pool) => (
            <li key={pool.name}>
              <h3>{pool.name}</h3>
              <p>
                {pool.demand === null ? 'not measured yet' : `${pool.demand} ${pool.unit}`}
                {pool.committedCapacity !== undefined && ` · capacity ${pool.committedCapacity}`}
              </p>
              <Sparkline samples={demand.value[pool.name] ?? []} label={`demand of pool ${pool.name}`} unit={pool.unit} />
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="power-hosts">
        <h2 id="power-hosts">Hosts</h2>
        <TableBox label="power hosts">
          <table>
            <caption class="sr-only">Power state of each pool host</caption>
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">State</th>
                <th scope="col">Saved</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {p.hosts.map((h) => (
                <tr key={h.name} data-host={h.name}>
                  <th scope="row">
                    {h.name}
                    <div class="muted small">
                      {h.pool} · {h.address}
                    </div>
                  </th>
                  <td>
                    <Badge state={h.state} />
                    {h.pinned && <span class="small"> pinned</span>}
                    <div class="muted small">
                      {since(h.since, t)}
                      {h.how && ` · ${h.how}`} · {h.cyclesToday} cycles today
                    </div>
                    {h.lastError && <div class="bad-text small">{h.lastError.detail}</div>}
                    {h.problems?.map((pr) => (
                      <div key={pr} class="warn-text small">
                        {pr}
                      </div>
                    ))}
                  </td>
                  <td>{formatKWh(h.energy.savedKWh)}</td>
                  <td class="buttons">
                    <Action run={async () => (await post('/api/power/wake', { host: h.name }), `waking ${h.name}`)} label={`Wake ${h.name}`} disabled={h.state === 'awake' || h.state === 'waking'}>
                      Wake
                    </Action>
                    <Action
                      run={async () => (await post('/api/power/park', { host: h.name }), `parking ${h.name}`)}
                      label={`Park ${h.name}`}
                      disabled={h.state === 'parked' || h.state === 'parking' || h.pinned}
                      title={h.pinned ? 'pinned awake' : `park by ${h.park.method}`}
                    >
                      Park
                    </Action>
                    <Action
                      run={async () => (await post('/api/power/pin', { host: h.name, on: !h.runtimePin }), `${h.name} ${h.runtimePin ? 'unpinned' : 'pinned awake'}`)}
                      label={`Pin ${h.name} awake`}
                      pressed={h.runtimePin === true}
                    >
                      Pin
                    </Action>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      </section>
      <section aria-labelledby="power-energy">
        <h2 id="power-energy">Energy</h2>
        <p>
          Drawn {formatKWh(p.energy.kWh)} of {formatKWh(p.energy.alwaysOnKWh)} always-on over {formatDuration(p.energy.hours * 3600)}: saved{' '}
          <strong>{formatKWh(p.energy.savedKWh)}</strong> ({formatPercent(p.energy.savedFraction)}).
        </p>
        <Sparkline samples={energySaved.value} label="energy saved since start" unit="kWh" format={(v) => v.toFixed(3)} />
      </section>
      <details class="small">
        <summary>Ledger (parked hosts, kept across restarts)</summary>
        <Fields value={p.ledger} />
      </details>
      <section aria-labelledby="power-decisions">
        <h2 id="power-decisions">Decisions</h2>
        {p.decisions.length === 0 ? (
          <Empty>No wake or park decided yet.</Empty>
        ) : (
          <ol class="events">
            {p.decisions
              .slice()
              .reverse()
              .slice(0, 20)
              .map((d) => (
                <li key={`${d.at}${d.host}`}>
                  <time dateTime={d.at}>{clockTime(d.at, t)}</time> {d.action} {d.host} ({d.pool}): {d.cause} — {d.reason}
                </li>
              ))}
          </ol>
        )}
      </section>
    </>
  );
}

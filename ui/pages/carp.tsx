// CARP: each VHID with its timers and every counter per drop reason (carp(4)'s stats), this
// node's demotion with its sources and controls, the persistent maintenance switch, and
// failover behind a confirmation (it moves traffic).

import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { Action, Badge, Empty, TableBox } from '../components/common.js';
import { ConfirmDialog } from '../components/dialog.js';
import { CARP_COUNTERS, dropTotal, since } from '../lib/format.js';
import { adverts, now, say, status } from '../store.js';
import { Sparkline } from '../components/sparkline.js';
import { messageOf } from '../api.js';

export function Carp() {
  const s = status.value;
  const [by, setBy] = useState('1');
  const [confirming, setConfirming] = useState(false);
  if (!s) return <h1 tabIndex={-1}>CARP</h1>;
  const t = now.value;
  const masterOf = s.carp.filter((v) => v.state === 'MASTER').map((v) => v.vhid);
  const d = s.demotion;
  const byValid = /^-?\d+$/.test(by.trim()) && Math.abs(Number(by)) <= 255;
  return (
    <>
      <h1 tabIndex={-1}>CARP</h1>
      <section aria-labelledby="carp-vhids">
        <h2 id="carp-vhids">Virtual hosts</h2>
        {s.carp.length === 0 ? (
          <Empty>No CARP groups configured.</Empty>
        ) : (
          <TableBox label="CARP counters">
            <table class="counters">
              <caption>Advertisements and drops per reason, per VHID</caption>
              <thead>
                <tr>
                  <th scope="col">Counter</th>
                  {s.carp.map((v) => (
                    <th scope="col" key={v.vhid}>
                      VHID {v.vhid}
                      <div>
                        <Badge state={v.state} />
                      </div>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                <tr>
                  <th scope="row">Since</th>
                  {s.carp.map((v) => (
                    <td key={v.vhid} title={v.since}>
                      {since(v.since, t)}
                    </td>
                  ))}
                </tr>
                <tr>
                  <th scope="row">advbase / advskew / demote</th>
                  {s.carp.map((v) => (
                    <td key={v.vhid}>
                      {v.advbase} s / {v.advskew} / {v.demote}
                    </td>
                  ))}
                </tr>
                {CARP_COUNTERS.map((c) => (
                  <tr key={c.key}>
                    <th scope="row" title={c.means}>
                      {c.label}
                      <span class="sr-only">: {c.means}</span>
                    </th>
                    {s.carp.map((v) => {
                      const n = (v.counters as unknown as Record<string, number>)[c.key] ?? 0;
                      return (
                        <td key={v.vhid} class={n > 0 && c.key !== 'sent' && c.key !== 'received' ? 'warn-text' : undefined}>
                          {n}
                        </td>
                      );
                    })}
                  </tr>
                ))}
                <tr>
                  <th scope="row">All drops</th>
                  {s.carp.map((v) => (
                    <td key={v.vhid}>
                      <strong>{dropTotal(v.counters as unknown as Record<string, number>)}</strong>
                    </td>
                  ))}
                </tr>
              </tbody>
            </table>
          </TableBox>
        )}
        <h3 class="spaced">Advertisements per second</h3>
        <p class="muted small">Sent while MASTER, received while BACKUP: a dip is a gap in the adverts (a peer or a link in trouble).</p>
        <ul class="cards">
          {s.carp.map((v) => (
            <li key={v.vhid}>
              <Sparkline samples={adverts.value[v.vhid] ?? []} label={`adverts per second of VHID ${v.vhid}`} unit="/s" width={200} height={32} />
              <span class="small">VHID {v.vhid}</span>
            </li>
          ))}
        </ul>
        {Object.keys(s.unmatched).length > 0 && (
          <p class="muted small">
            Dropped before any VHID matched:{' '}
            {Object.entries(s.unmatched)
              .map(([iface, counts]) => `${iface}: ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')}`)
              .join('; ')}
          </p>
        )}
      </section>

      <section aria-labelledby="carp-demotion">
        <h2 id="carp-demotion">Demotion</h2>
        <dl class="facts-list">
          <dt>Total</dt>
          <dd>
            <strong>{d.total}</strong>
          </dd>
          <dt>Set by admin</dt>
          <dd>{d.admin}</dd>
          <dt>Maintenance</dt>
          <dd>{d.maintenance ? 'yes' : 'no'}</dd>
          <dt>Links down</dt>
          <dd>{d.linksDown.length ? d.linksDown.join(', ') : 'none'}</dd>
          {Object.entries(d.external).map(([source, n]) => (
            <Fragment key={source}>
              <dt>{source}</dt>
              <dd>{n}</dd>
            </Fragment>
          ))}
        </dl>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (!byValid) return;
            post('/api/demote', { by: Number(by) }).then(
              () => say(`demotion changed by ${by}`, 'good'),
              (err) => say(messageOf(err), 'bad'),
            );
          }}
        >
          <label for="demote-by">Demote by</label>
          <input id="demote-by" type="number" min={-255} max={255} step={1} value={by} onInput={(e) => setBy(e.currentTarget.value)} aria-invalid={!byValid} aria-describedby="demote-help" />
          <button type="submit" disabled={!byValid}>
            Demote
          </button>
          <Action run={async () => (await post('/api/demote', { reset: true }), 'admin demotion reset')}>Reset</Action>
          <p id="demote-help" class="muted small">
            Adds to this node's demotion (negative lowers it), like <code>tandem demote --by N</code>; peers with less demotion take over where preempt is on.
          </p>
        </form>
      </section>

      <section aria-labelledby="carp-maint">
        <h2 id="carp-maint">Maintenance</h2>
        <p>
          Maintenance is <strong>{s.maintenance ? 'on' : 'off'}</strong>: {s.maintenance ? 'this node advertises with advskew 254 and demotes itself, and stays so across restarts.' : 'this node takes part normally.'}
        </p>
        <Action run={async () => (await post('/api/maintenance', { on: !s.maintenance }), `maintenance ${s.maintenance ? 'off' : 'on'}`)} pressed={s.maintenance}>
          {s.maintenance ? 'Leave maintenance' : 'Enter maintenance'}
        </Action>
      </section>

      <section aria-labelledby="carp-failover">
        <h2 id="carp-failover">Failover</h2>
        <p>{masterOf.length ? `This node is MASTER of VHID ${masterOf.join(', ')}.` : 'This node is MASTER of no VHID: nothing to hand over.'}</p>
        <button type="button" class="danger" disabled={masterOf.length === 0} onClick={() => setConfirming(true)}>
          Fail over…
        </button>
        <ConfirmDialog
          open={confirming}
          title="Fail over to a peer?"
          confirmLabel="Fail over now"
          danger
          onClose={() => setConfirming(false)}
          onConfirm={() =>
            void post('/api/failover').then(
              () => say('failover sent: a peer takes over', 'good'),
              (err) => say(messageOf(err), 'bad'),
            )
          }
        >
          <p>
            {s.node} bows out of VHID {masterOf.join(', ')} now (an advertisement with advbase and advskew 255); a BACKUP peer becomes MASTER. Connections through the virtual
            addresses move with it.
          </p>
        </ConfirmDialog>
      </section>
    </>
  );
}

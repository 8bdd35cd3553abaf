// The demo's control panel (only when `GET /api/demo` answers, i.e. under `tandem demo`): each
// simulated router with its VHID states and the operator's verbs — crash, stop, start, cut, plug,
// isolate (a partition) and heal — as firmware/api/routes-demo.ts defines them.

import { post } from '../api.js';
import { Action, Badge } from '../components/common.js';
import type { DemoView } from '../../firmware/api/routes-demo.js';
import { demo } from '../store.js';

async function verb(name: string, body?: unknown): Promise<string> {
  demo.value = await post<DemoView>(`/api/demo/${name}`, body);
  return `demo: ${name}${body && typeof body === 'object' && 'node' in body ? ` ${(body as { node: string }).node}` : ''} done`;
}

export function DemoPanel() {
  const view = demo.value;
  if (!view) return null;
  const names = view.nodes.map((n) => n.name);
  return (
    <section class="demo" aria-labelledby="demo-title">
      <h2 id="demo-title">Simulated cluster</h2>
      <p class="muted small">
        {view.partition ? `Partitioned: ${view.partition.map((g) => g.join(' + ')).join(' | ')}` : 'The segment is whole.'}{' '}
        <Action run={() => verb('heal')} disabled={!view.partition}>
          Heal
        </Action>
      </p>
      <ul class="cards">
        {view.nodes.map((n) => (
          <li key={n.name} data-node={n.name}>
            <h3>
              {n.url && !n.self ? <a href={n.url}>{n.name}</a> : n.name} {n.self && <span class="muted small">(this console)</span>}
            </h3>
            <p>
              {n.running ? <Badge state="up" label="running" /> : <Badge state="down" label="stopped" />} {!n.linkUp && <Badge state="down" label="link cut" />}
              {n.carp.map((c) => (
                <span key={c.vhid} class="vh">
                  {' '}
                  {c.vhid}: <Badge state={c.state} />
                </span>
              ))}
            </p>
            <div class="buttons">
              {n.running ? (
                <>
                  <Action run={() => verb('crash', { node: n.name })} kind="danger" label={`Crash ${n.name}`} title="kill -9: peers notice only when its adverts stop">
                    Crash
                  </Action>
                  <Action run={() => verb('stop', { node: n.name })} label={`Stop ${n.name}`} title="a clean stop: it bows out first, peers take over at once">
                    Stop
                  </Action>
                </>
              ) : (
                <Action run={() => verb('start', { node: n.name })} label={`Start ${n.name}`}>
                  Start
                </Action>
              )}
              {n.linkUp ? (
                <Action run={() => verb('cut', { node: n.name })} label={`Cut ${n.name}'s link`}>
                  Cut
                </Action>
              ) : (
                <Action run={() => verb('plug', { node: n.name })} label={`Plug ${n.name}'s link`}>
                  Plug
                </Action>
              )}
              <Action run={() => verb('partition', { groups: [[n.name], names.filter((m) => m !== n.name).concat('client')] })} label={`Isolate ${n.name}`}>
                Isolate
              </Action>
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

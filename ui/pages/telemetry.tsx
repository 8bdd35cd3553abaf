// Telemetry: the MQTT connection (state, broker, protocol, last error), the event queue that
// holds what the broker has not acknowledged, and what was published.

import { Fragment } from 'preact';
import { Badge, Empty } from '../components/common.js';
import { clockTime, mqttVersion, since } from '../lib/format.js';
import { now, status } from '../store.js';

export function TelemetryPage() {
  const s = status.value;
  const t = now.value;
  const tm = s?.telemetry;
  return (
    <>
      <h1 tabIndex={-1}>Telemetry</h1>
      {s && !tm && <Empty>Telemetry is not configured (the <code>telemetry</code> section).</Empty>}
      {tm && (
        <>
          <section aria-labelledby="tm-conn">
            <h2 id="tm-conn">Connection</h2>
            <dl class="facts-list">
              <dt>State</dt>
              <dd>
                <Badge state={tm.connection.state} /> {since(tm.connection.since, t)}
              </dd>
              <dt>Broker</dt>
              <dd>
                <code>{tm.connection.url}</code>
              </dd>
              <dt>MQTT version</dt>
              <dd>{mqttVersion(tm.connection.protocolVersion)}</dd>
              {tm.connection.lastError && (
                <>
                  <dt>Last error</dt>
                  <dd class="bad-text">{tm.connection.lastError}</dd>
                </>
              )}
            </dl>
          </section>
          <section aria-labelledby="tm-queue">
            <h2 id="tm-queue">Queue</h2>
            <dl class="facts-list">
              <dt>Pending</dt>
              <dd>
                {tm.queue.pending} of {tm.queue.maxEvents}
              </dd>
              <dt>Dropped (queue full)</dt>
              <dd class={tm.queue.dropped > 0 ? 'warn-text' : undefined}>{tm.queue.dropped}</dd>
              <dt>Last sequence number</dt>
              <dd>{tm.queue.lastSeq}</dd>
              <dt>Last written</dt>
              <dd>{tm.queue.lastFlush ? clockTime(tm.queue.lastFlush, t) : '—'}</dd>
            </dl>
          </section>
          <section aria-labelledby="tm-pub">
            <h2 id="tm-pub">Published</h2>
            <dl class="facts-list">
              <dt>Events</dt>
              <dd>{tm.published.events}</dd>
              <dt>States</dt>
              <dd>{tm.published.states}</dd>
              <dt>Metrics</dt>
              <dd>{tm.published.metrics}</dd>
              {tm.commands &&
                Object.entries(tm.commands).map(([outcome, n]) => (
                  <Fragment key={outcome}>
                    <dt>Commands {outcome}</dt>
                    <dd>{n}</dd>
                  </Fragment>
                ))}
            </dl>
          </section>
        </>
      )}
    </>
  );
}

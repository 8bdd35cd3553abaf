// The event log: the last 200 events (what the API kept since start, then live), newest first,
// filterable by type.

import { useState } from 'preact/hooks';
import { Empty, TableBox } from '../components/common.js';
import { describeEvent } from '../lib/events.js';
import { clockTime } from '../lib/format.js';
import { events, now } from '../store.js';

export function EventLog() {
  const [type, setType] = useState('');
  const list = events.value;
  const t = now.value;
  const types = [...new Set(list.map((e) => e.type))].sort();
  const shown = type ? list.filter((e) => e.type === type) : list;
  return (
    <>
      <h1 tabIndex={-1}>Events</h1>
      <p class="inline">
        <label for="event-type">Show</label>
        <select id="event-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
          <option value="">all types ({list.length})</option>
          {types.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </p>
      {shown.length === 0 ? (
        <Empty>No events yet.</Empty>
      ) : (
        <TableBox label="events">
          <table class="log">
            <caption class="sr-only">Events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col" class="wide-only">
                  Type
                </th>
                <th scope="col">What happened</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e, i) => {
                const line = describeEvent(e);
                return (
                  <tr key={`${e.time}-${i}`} class={line.tone}>
                    <td>
                      <time dateTime={e.time}>{clockTime(e.time, t)}</time>
                    </td>
                    <td class="wide-only">{e.type}</td>
                    <td>{line.text}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableBox>
      )}
    </>
  );
}

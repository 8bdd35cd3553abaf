// The apply awaiting confirmation, on every page (an admin who walks off to another page must
// still see the clock running): the countdown and Confirm while pending; once the daemon says it
// reverted (its own event), that it did, by itself. The model is lib/apply.ts.

import { post } from '../api.js';
import { secondsLeft } from '../lib/apply.js';
import { clockTime } from '../lib/format.js';
import { apply, applyInput, now } from '../store.js';
import { Action } from './common.js';

async function confirm(): Promise<string> {
  const a = apply.value;
  const firewall = a.phase === 'pending' && a.target === 'firewall';
  await post(firewall ? '/api/firewall/confirm' : '/api/config/confirm');
  applyInput({ kind: 'event', event: { type: firewall ? 'firewallApply' : 'configApply', outcome: 'confirmed', time: new Date().toISOString() } });
  return 'confirmed: it stays in force';
}

export function ApplyBanner() {
  const a = apply.value;
  const t = now.value;
  if (a.phase === 'idle') return null;
  const what = a.target === 'config' ? 'The config' : 'The firewall policy';
  return (
    <div class={`banner ${a.phase}`} role="status" aria-live="polite" data-apply={a.phase}>
      {a.phase === 'pending' && (
        <>
          <p>
            <strong>{what} is applied, not yet confirmed.</strong> It reverts by itself in <strong class="countdown">{secondsLeft(a.revertsAt, t)} s</strong> unless you confirm that
            you can still reach this console.
          </p>
          <Action run={confirm} kind="primary">
            Confirm
          </Action>
        </>
      )}
      {a.phase === 'reverted' && (
        <p>
          <strong>Not confirmed: the daemon reverted {what.toLowerCase()} to the previous one by itself</strong> at {clockTime(a.at, t)}
          {a.detail ? ` (${a.detail})` : ''}.
        </p>
      )}
      {a.phase === 'confirmed' && <p>{what} is confirmed and stays in force.</p>}
      {a.phase === 'applied' && <p>{what} is applied.</p>}
      {a.phase !== 'pending' && (
        <button type="button" class="link" onClick={() => applyInput({ kind: 'dismissed' })}>
          Dismiss
        </button>
      )}
    </div>
  );
}

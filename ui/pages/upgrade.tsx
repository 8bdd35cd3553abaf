// Upgrade (issue 15 item 4): what each slot holds, whether this boot is committed, on trial or
// rolled back (with the reason), and an upload of a `.upgrade.tar` that the daemon streams into
// the other slot; the progress bar follows the live stream's `upgrade` events, and the reboot
// into the new slot is asked for only after a confirmation.

import { useEffect, useState } from 'preact/hooks';
import type { UpgradeStatus } from '../../firmware/upgrade/service.js';
import { get, messageOf, post, session } from '../api.js';
import { Action, Badge, Empty } from '../components/common.js';
import { ConfirmDialog } from '../components/dialog.js';
import { events, say, status } from '../store.js';

interface ProgressEvent {
  type: 'upgrade';
  phase: string;
  slot: string;
  bytes?: number;
  total?: number;
  detail?: string;
  time: string;
}

const MiB = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);

/** The newest upgrade progress since `since` (an ISO time), from the live stream's events. */
function latestProgress(since: string): ProgressEvent | undefined {
  return events.value.find((e) => e.type === 'upgrade' && (e as ProgressEvent).phase === 'progress' && e.time >= since) as ProgressEvent | undefined;
}

async function upload(file: File): Promise<{ slot: string; version: string }> {
  // The raw file is the body: the daemon streams it into the slot as it arrives.
  const response = await fetch('/api/upgrade', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': session.value?.csrfToken ?? '', accept: 'application/json' },
    body: file,
  });
  const json = (await response.json().catch(() => ({}))) as { error?: string; slot?: string; version?: string };
  if (!response.ok) throw new Error(json.error ?? `HTTP ${response.status}`);
  return { slot: json.slot ?? '?', version: json.version ?? '?' };
}

function StateBadge({ s }: { s: UpgradeStatus }) {
  if (s.state === 'committed') return <Badge state="up" label="committed" />;
  if (s.state === 'trial') return <Badge state="warn" label="on trial" />;
  if (s.state === 'rolled-back') return <Badge state="down" label="rolled back" />;
  return <Badge state="idle" label="not an image" />;
}

export function UpgradePage() {
  const live = status.value?.upgrade;
  const [fetched, setFetched] = useState<UpgradeStatus | undefined>(undefined);
  const [file, setFile] = useState<File | undefined>(undefined);
  const [phase, setPhase] = useState<{ kind: 'idle' } | { kind: 'uploading'; since: string } | { kind: 'written'; slot: string; version: string } | { kind: 'failed'; error: string }>({ kind: 'idle' });
  const [confirm, setConfirm] = useState(false);
  useEffect(() => {
    // A developer machine's status has no `upgrade`; the route still says why.
    if (!live) void get<UpgradeStatus>('/api/upgrade').then(setFetched, () => undefined);
  }, [live === undefined]);
  const s = live ?? fetched;
  const progress = phase.kind === 'uploading' ? latestProgress(phase.since) : undefined;
  const percent = progress?.total ? Math.floor(((progress.bytes ?? 0) / progress.total) * 100) : 0;

  return (
    <>
      <h1 tabIndex={-1}>Upgrade</h1>
      {!s && <p>Loading…</p>}
      {s?.state === 'not-an-image' && <Empty>{s.problem ?? 'This system was not booted from a Tandem image: there is no slot to upgrade.'}</Empty>}
      {s && s.state !== 'not-an-image' && (
        <>
          <section aria-labelledby="upgrade-slots">
            <h2 id="upgrade-slots">
              Slots <StateBadge s={s} />
            </h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Slot</th>
                  <th scope="col">Version</th>
                  <th scope="col">Role</th>
                </tr>
              </thead>
              <tbody>
                {(['A', 'B'] as const).map((slot) => (
                  <tr key={slot}>
                    <th scope="row">{slot}</th>
                    <td>{s.slots[slot] ?? 'unknown'}</td>
                    <td>
                      {[slot === s.booted ? 'running' : '', slot === s.committed ? 'committed' : '', s.trial?.slot === slot ? (s.trial.booted ? 'on trial' : 'boots once next') : ''].filter(Boolean).join(', ') || '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {s.commit && (
              <p>
                On trial: commits after {s.commit.afterSeconds} s of health (healthy for {s.commit.healthyForSeconds} s
                {s.commit.waiting.length > 0 ? `; waiting for: ${s.commit.waiting.join(', ')}` : ''}).{' '}
                <Action kind="primary" run={async () => (await post<UpgradeStatus>('/api/upgrade/commit'), `slot ${s.booted} committed`)}>
                  Commit now
                </Action>
              </p>
            )}
            {s.last && (
              <p class={s.last.result === 'rolled-back' || s.last.result === 'failed' ? 'issue' : undefined}>
                Last: {s.last.result} {s.last.version}
                {s.last.slot ? ` (slot ${s.last.slot})` : ''} at {s.last.at}
                {s.last.step ? `, at step ${s.last.step}` : ''}
                {s.last.reason ? `: ${s.last.reason}` : ''}
              </p>
            )}
          </section>
          <section aria-labelledby="upgrade-upload">
            <h2 id="upgrade-upload">Install an upgrade</h2>
            <p>
              A <code>tandem-{'<arch>'}.upgrade.tar</code> is written into the other slot, read back and checked
              {' '}(and its signature, where <code>upgrade.publicKey</code> is set); this slot stays what boots until the new one has come up healthy.
            </p>
            <label>
              Bundle{' '}
              <input type="file" accept=".tar" disabled={phase.kind === 'uploading'} onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0])} />
            </label>{' '}
            <button
              type="button"
              class="primary"
              disabled={!file || phase.kind === 'uploading' || s.state === 'trial'}
              title={s.state === 'trial' ? 'commit this slot first' : undefined}
              onClick={async () => {
                if (!file) return;
                setPhase({ kind: 'uploading', since: new Date(Date.now() - 5000).toISOString() });
                try {
                  const written = await upload(file);
                  setPhase({ kind: 'written', ...written });
                  say(`slot ${written.slot} holds ${written.version}, verified`, 'good');
                  setConfirm(true);
                } catch (error) {
                  setPhase({ kind: 'failed', error: messageOf(error) });
                  say(messageOf(error), 'bad');
                }
              }}
            >
              Upload and write
            </button>
            {phase.kind === 'uploading' && (
              <p>
                <progress max={100} value={percent} aria-label="upgrade progress">
                  {percent}%
                </progress>{' '}
                {progress
                  ? `${progress.detail === 'verify' ? 'reading back' : 'writing'} slot ${progress.slot}: ${MiB(progress.bytes ?? 0)} of ${MiB(progress.total ?? 0)} MiB (${percent}%)`
                  : 'sending…'}
              </p>
            )}
            {phase.kind === 'failed' && <p class="issue" role="alert">{phase.error}</p>}
            {phase.kind === 'written' && (
              <p>
                Slot {phase.slot} holds {phase.version}, verified. It boots once on the next boot.{' '}
                <button type="button" class="danger" onClick={() => setConfirm(true)}>
                  Reboot into slot {phase.slot}…
                </button>
              </p>
            )}
          </section>
          <ConfirmDialog
            open={confirm && phase.kind === 'written'}
            title={phase.kind === 'written' ? `Reboot into slot ${phase.slot}?` : 'Reboot?'}
            confirmLabel="Reboot now"
            danger
            onClose={() => setConfirm(false)}
            onConfirm={async () => {
              setConfirm(false);
              try {
                await post('/api/upgrade/reboot');
                say('rebooting into the new slot: this page reconnects when the node is back', 'idle');
              } catch (error) {
                say(messageOf(error), 'bad');
              }
            }}
          >
            <p>
              This node reboots now{status.value?.carp.some((v) => v.state === 'MASTER') ? ' and is MASTER of at least one VHID: its peer takes over during the reboot' : ''}. The new slot is committed once Tandem is healthy there; if it is not, the next boot returns to slot {s.booted}.
            </p>
          </ConfirmDialog>
        </>
      )}
    </>
  );
}

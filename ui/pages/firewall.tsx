// Firewall: the policy in force rendered to pf.conf and nftables side by side, the policy editor
// (the config's `firewall` section, or the whole config) checked as you type with each issue next
// to its line, and apply with a confirm window that the daemon reverts by itself when nobody
// confirms (components/apply-banner.tsx counts down and says when it did, on every page).

import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, messageOf, post } from '../api.js';
import { Action, Badge } from '../components/common.js';
import { since } from '../lib/format.js';
import { issuesOf, placeIssues, sectionOf, withinSection, type Issue } from '../lib/issues.js';
import type { FirewallStatus } from '../../firmware/firewall/service.js';
import { apply, applyInput, events, now } from '../store.js';

interface FirewallView {
  status: FirewallStatus;
  source: 'running' | 'config' | 'none';
  pf: string | null;
  nft: string | null;
  error?: string;
}

interface CheckReply {
  ok: boolean;
  issues: Issue[];
  pf?: string;
  nft?: string;
  configText?: string;
}

type Mode = 'section' | 'config';
const CONFIRM_CHOICES = [30, 60, 120, 300];
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function Rendered({ view }: { view: FirewallView | undefined }) {
  return (
    <section aria-labelledby="fw-rendered">
      <h2 id="fw-rendered">Rendered rules</h2>
      <p class="muted small">
        {view?.source === 'running' ? 'The policy in force on this node.' : view?.source === 'config' ? 'The config file’s policy (not loaded by this daemon).' : 'No firewall policy.'}
      </p>
      <div class="side-by-side">
        <figure>
          <figcaption>pf.conf</figcaption>
          <pre tabIndex={0} aria-label="pf.conf">{view?.pf ?? '—'}</pre>
        </figure>
        <figure>
          <figcaption>nftables</figcaption>
          <pre tabIndex={0} aria-label="nftables ruleset">{view?.nft ?? '—'}</pre>
        </figure>
      </div>
    </section>
  );
}

export function FirewallPage() {
  const [view, setView] = useState<FirewallView | undefined>();
  const [loadError, setLoadError] = useState<string | undefined>();
  const [mode, setMode] = useState<Mode>('section');
  const [text, setText] = useState<string | undefined>();
  const [check, setCheck] = useState<CheckReply | undefined>();
  const [checking, setChecking] = useState(false);
  const [confirmWithin, setConfirmWithin] = useState(60);
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const checkSeq = useRef(0);
  const t = now.value;

  const reload = () => get<FirewallView>('/api/firewall').then(setView, (e) => setLoadError(messageOf(e)));

  /** Loads the editor from the config file: the section when it is a block of its own, else the whole file. */
  const loadText = (want: Mode) =>
    get<{ text: string }>('/api/config').then(
      (c) => {
        const section = want === 'section' ? sectionOf(c.text, 'firewall') : undefined;
        setCheck(undefined);
        setMode(section !== undefined ? 'section' : 'config');
        setText(section ?? c.text);
      },
      (e) => setLoadError(messageOf(e)),
    );

  useEffect(() => {
    void reload();
    void loadText('section');
  }, []);

  // A firewall or config change anywhere (this page, the CLI, a revert) re-reads the rendered rules.
  const latest = events.value[0];
  useEffect(() => {
    if (latest && (latest.type === 'firewallApply' || latest.type === 'configApply' || latest.type === 'configReload')) void reload();
  }, [latest]);

  const runCheck = async (candidate: string, which: Mode): Promise<CheckReply | undefined> => {
    const seq = ++checkSeq.current;
    setChecking(true);
    try {
      const reply = await post<CheckReply>(which === 'section' ? '/api/firewall/check' : '/api/config/check', { text: candidate });
      if (seq === checkSeq.current) setCheck(reply);
      return reply;
    } catch (error) {
      const issues = error instanceof ApiError ? issuesOf(error.body) : [{ path: '', message: messageOf(error) }];
      const reply = { ok: false, issues };
      if (seq === checkSeq.current) setCheck(reply);
      return reply;
    } finally {
      if (seq === checkSeq.current) setChecking(false);
    }
  };

  // Inline validation: check a moment after typing stops.
  useEffect(() => {
    if (text === undefined) return;
    const timer = setTimeout(() => void runCheck(text, mode), 600);
    return () => clearTimeout(timer);
  }, [text, mode]);

  const applyNow = async (): Promise<string> => {
    if (text === undefined) throw new Error('nothing to apply');
    const checked = await runCheck(text, mode);
    if (!checked?.ok) throw new Error('the policy has issues; nothing applied');
    const whole = mode === 'section' ? checked.configText : text;
    if (!whole) throw new Error('the check did not return the config to apply');
    const reply = await post<{ phase: string; revertsAt?: string }>('/api/config/apply', { text: whole, confirmWithinSeconds: confirmWithin });
    applyInput({ kind: 'started', target: 'config', revertsAt: reply.revertsAt, at: new Date().toISOString() });
    void reload();
    return reply.revertsAt ? `applied; confirm within ${confirmWithin} s or it reverts` : 'applied';
  };

  const placed = placeIssues(
    (check?.issues ?? []).map((i) => (mode === 'section' ? { ...i, path: withinSection(i.path, 'firewall') } : i)),
    text ?? '',
  );
  const lines = (text ?? '').split('\n');
  const goTo = (line: number) => {
    const el = area.current;
    if (!el) return;
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  };
  const s = view?.status;
  // A firewall apply from the CLI that awaits confirmation shows here too.
  useEffect(() => {
    if (s?.phase === 'pending' && s.revertsAt && apply.value.phase !== 'pending') applyInput({ kind: 'started', target: 'firewall', revertsAt: s.revertsAt, at: '' });
  }, [s?.revertsAt]);

  return (
    <>
      <h1 tabIndex={-1}>Firewall</h1>
      {loadError && (
        <p class="error" role="alert">
          {loadError}
        </p>
      )}
      {s && (
        <p class="facts">
          <span>
            <Badge state={s.phase} />
          </span>
          {s.appliedAt && <span>applied {since(s.appliedAt, t)}</span>}
          {s.rules !== undefined && (
            <span>
              {plural(s.rules, 'rule')}, {plural(s.forwards ?? 0, 'forward')}, {s.nat ?? 0} NAT
            </span>
          )}
          {s.lastRevert && <span class="warn-text">last revert: {s.lastRevert}</span>}
          {s.unconfirmed && <span class="warn-text">{s.unconfirmed}</span>}
          {s.lastError && <span class="bad-text">{s.lastError}</span>}
        </p>
      )}
      <Rendered view={view} />
      <section aria-labelledby="fw-editor">
        <h2 id="fw-editor">Policy</h2>
        {text === undefined ? (
          <p>Loading the config…</p>
        ) : (
          <form
            class="editor"
            onSubmit={(e) => {
              e.preventDefault();
            }}
          >
            <p class="buttons">
              <button type="button" onClick={() => void loadText(mode === 'section' ? 'config' : 'section')}>
                {mode === 'section' ? 'Edit the whole config' : 'Edit the firewall section only'}
              </button>
              <button type="button" onClick={() => void loadText(mode)}>
                Discard changes
              </button>
            </p>
            <label for="fw-text">{mode === 'section' ? <>The <code>firewall</code> section (YAML)</> : 'The whole config (YAML)'}</label>
            <div class="editor-box">
              {/* Line numbers beside the text, a line with an issue marked: where to look at a glance (the list below says what). */}
              <div class="gutter" ref={gutter} aria-hidden="true">
                {lines.map((_, i) => {
                  const here = placed.byLine.get(i + 1);
                  return (
                    <span key={i} class={here ? 'bad' : undefined} title={here?.map((issue) => issue.message).join('\n')}>
                      {i + 1}
                    </span>
                  );
                })}
              </div>
              <textarea
                id="fw-text"
                ref={area}
                spellcheck={false}
                autocapitalize="off"
                wrap="off"
                rows={Math.min(24, Math.max(8, lines.length + 1))}
                value={text}
                onInput={(e) => setText(e.currentTarget.value)}
                onScroll={(e) => {
                  if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
                }}
                aria-invalid={check ? !check.ok : undefined}
                aria-describedby="fw-issues"
              />
            </div>
            <div id="fw-issues" class="issues" aria-live="polite">
              {checking && !check && <p class="muted">Checking…</p>}
              {check?.ok && <p class="good-text">No issues.</p>}
              {check && !check.ok && (
                <>
                  <p class="bad-text">
                    {check.issues.length} issue{check.issues.length === 1 ? '' : 's'}: nothing can be applied until {check.issues.length === 1 ? 'it is' : 'they are'} fixed.
                  </p>
                  <ul>
                    {placed.unplaced.map((i, n) => (
                      <li key={`u${n}`} class="issue">
                        <code>{i.path || '(config)'}</code>: {i.message}
                      </li>
                    ))}
                    {[...placed.byLine.entries()]
                      .sort(([a], [b]) => a - b)
                      .map(([line, list]) => (
                        <li key={line} class="issue" data-line={line}>
                          <button type="button" class="link" onClick={() => goTo(line)} aria-label={`Go to line ${line}`}>
                            Line {line}
                          </button>
                          <pre class="excerpt">{lines[line - 1]}</pre>
                          {list.map((i, n) => (
                            <p key={n}>
                              <code>{i.path}</code>: {i.message}
                            </p>
                          ))}
                        </li>
                      ))}
                  </ul>
                </>
              )}
            </div>
            {check?.ok && mode === 'section' && check.pf !== undefined && (
              <details>
                <summary>Preview this text rendered</summary>
                <Rendered view={{ status: { phase: 'unmanaged' }, source: 'none', pf: check.pf ?? null, nft: check.nft ?? null }} />
              </details>
            )}
            <div class="inline">
              <label for="fw-confirm">Revert unless confirmed within</label>
              <select id="fw-confirm" value={String(confirmWithin)} onChange={(e) => setConfirmWithin(Number(e.currentTarget.value))}>
                {CONFIRM_CHOICES.map((n) => (
                  <option key={n} value={String(n)}>
                    {n} s
                  </option>
                ))}
              </select>
              <Action run={applyNow} kind="primary" disabled={checking || !check?.ok || apply.value.phase === 'pending'}>
                Apply
              </Action>
            </div>
          </form>
        )}
      </section>
    </>
  );
}

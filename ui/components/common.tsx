// Small shared pieces: a state badge that always carries its word (color is never the only
// signal), a button that runs an API action and reports the outcome to the live region, and a
// table wrapper that scrolls by itself on a phone instead of the page.

import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { tone } from '../lib/format.js';
import { say } from '../store.js';

export function Badge({ state, label }: { state: string; label?: string }) {
  return <span class={`badge ${tone(state)}`}>{label ?? state}</span>;
}

export interface ActionProps {
  /** Runs the request; its resolved string (if any) is what the live region says. */
  run(): Promise<string | void>;
  children: ComponentChildren;
  /** The accessible name when the visible text is short ("Drain" of which host?). */
  label?: string;
  kind?: 'primary' | 'danger' | 'plain';
  disabled?: boolean;
  title?: string;
  pressed?: boolean;
}

export function Action({ run, children, label, kind = 'plain', disabled, title, pressed }: ActionProps) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class={kind === 'plain' ? undefined : kind}
      aria-label={label}
      aria-pressed={pressed}
      title={title}
      disabled={disabled || busy}
      aria-busy={busy}
      onClick={async () => {
        setBusy(true);
        try {
          const text = await run();
          if (text) say(text, 'good');
        } catch (error) {
          say(messageOf(error), 'bad');
        } finally {
          setBusy(false);
        }
      }}
    >
      {children}
    </button>
  );
}

/** Focusable so a keyboard can scroll a table wider than a phone; named for what it holds. */
export function TableBox({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-box" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

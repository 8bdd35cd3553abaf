// A modal confirmation: the native <dialog> opened with showModal() (the page behind it inert),
// Tab kept inside it, Escape or Cancel closes it, and focus goes back to the button that opened
// it. Used for failover and anything else that cannot be undone with one click.

import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export interface ConfirmProps {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  /** `danger` styles the confirm button red (with its label saying what it does). */
  danger?: boolean;
  onConfirm(): void;
  onClose(): void;
}

let ids = 0;

export function ConfirmDialog(props: ConfirmProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  const id = useRef(`dialog-${++ids}`);

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) {
      opener.current = document.activeElement;
      dialog.showModal();
      // The safe choice first: Enter on an opened dialog cancels rather than confirms.
      dialog.querySelector<HTMLButtonElement>('button[data-cancel]')?.focus();
    } else if (!props.open && dialog.open) {
      dialog.close();
    }
  }, [props.open]);

  const restore = () => {
    const el = opener.current as HTMLElement | null;
    if (el && typeof el.focus === 'function') el.focus();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'Tab') return;
    const focusable = [...(ref.current?.querySelectorAll<HTMLElement>('button, [href], input, select, textarea') ?? [])].filter((el) => !el.hasAttribute('disabled'));
    if (focusable.length === 0) return;
    const first = focusable[0]!;
    const last = focusable[focusable.length - 1]!;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={`${id.current}-title`}
      aria-describedby={`${id.current}-body`}
      onKeyDown={onKeyDown}
      onCancel={(e) => {
        // Escape: close through our state so the parent knows.
        e.preventDefault();
        props.onClose();
        restore();
      }}
    >
      <h2 id={`${id.current}-title`}>{props.title}</h2>
      <div id={`${id.current}-body`}>{props.children}</div>
      <div class="actions">
        <button
          type="button"
          data-cancel
          onClick={() => {
            props.onClose();
            restore();
          }}
        >
          Cancel
        </button>
        <button
          type="button"
          class={props.danger ? 'danger' : 'primary'}
          onClick={() => {
            props.onConfirm();
            props.onClose();
            restore();
          }}
        >
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

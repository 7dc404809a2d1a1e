import type { ReactNode } from 'react';
import type { DesktopApiError } from '../../../preload/contract';

export type Tone = 'ok' | 'warn' | 'error' | 'neutral';

/** A small coloured label; the colour is decoration, the text carries the meaning. */
export function Badge({ tone, children }: { tone: Tone; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

/** A failed call, announced to screen readers. */
export function ErrorMessage({
  error,
  onDismiss,
}: {
  error: DesktopApiError | null;
  onDismiss?: () => void;
}) {
  if (!error) return null;
  return (
    <div className="message message-error" role="alert">
      <p>{error.message}</p>
      {onDismiss && (
        <button type="button" className="link-button" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

/** Shown while something loads; announced politely. */
export function Loading({ label }: { label: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function Button({
  children,
  pending = false,
  pendingLabel,
  variant = 'secondary',
  type = 'button',
  onClick,
  disabled = false,
  describedBy,
  label,
}: {
  children: ReactNode;
  pending?: boolean;
  pendingLabel?: string;
  variant?: 'primary' | 'secondary' | 'danger' | 'quiet';
  type?: 'button' | 'submit';
  onClick?: () => void;
  disabled?: boolean;
  describedBy?: string;
  /** An accessible name when the visible text alone is ambiguous (e.g. several "Remove"). */
  label?: string;
}) {
  return (
    <button
      type={type}
      className={`button button-${variant}`}
      onClick={onClick}
      disabled={disabled || pending}
      aria-busy={pending}
      aria-describedby={describedBy}
      aria-label={label}
    >
      {pending && <span className="spinner" aria-hidden="true" />}
      {pending && pendingLabel ? pendingLabel : children}
    </button>
  );
}

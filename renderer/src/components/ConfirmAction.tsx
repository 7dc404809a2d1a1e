import { Button } from './Status';

/**
 * A destructive action that asks once more: "Revoke" becomes "Revoke now" and "Cancel". The row
 * holds `confirming`, so it can hide its other actions meanwhile.
 */
export function ConfirmAction({
  verb,
  pendingLabel,
  label,
  groupLabel,
  confirming,
  onConfirming,
  pending,
  onConfirm,
}: {
  /** "Revoke", "Remove". */
  verb: string;
  pendingLabel: string;
  /** The first button's accessible name (which row it acts on). */
  label: string;
  /** The confirmation group's accessible name. */
  groupLabel: string;
  confirming: boolean;
  onConfirming: (confirming: boolean) => void;
  pending: boolean;
  onConfirm: () => void;
}) {
  if (!confirming) {
    return (
      <Button variant="quiet" label={label} onClick={() => onConfirming(true)}>
        {verb}
      </Button>
    );
  }
  return (
    <div className="confirm" role="group" aria-label={groupLabel}>
      <Button variant="danger" pending={pending} pendingLabel={pendingLabel} onClick={onConfirm}>
        {verb} now
      </Button>
      <Button variant="quiet" onClick={() => onConfirming(false)} disabled={pending}>
        Cancel
      </Button>
    </div>
  );
}

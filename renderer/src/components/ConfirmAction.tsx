import type { ConfirmedAction } from '../hooks';
import { Button } from './Status';

/**
 * A destructive action that asks once more: "Revoke" becomes "Revoke now" and "Cancel". The
 * state lives in `useConfirmedAction`, so the row can hide its other actions meanwhile.
 */
export function ConfirmAction({
  verb,
  pendingLabel,
  label,
  groupLabel,
  action,
}: {
  /** "Revoke", "Remove". */
  verb: string;
  pendingLabel: string;
  /** The first button's accessible name (which row it acts on). */
  label: string;
  /** The confirmation group's accessible name. */
  groupLabel: string;
  action: ConfirmedAction;
}) {
  if (!action.confirming) {
    return (
      <Button variant="quiet" label={label} onClick={() => action.setConfirming(true)}>
        {verb}
      </Button>
    );
  }
  return (
    <div className="confirm" role="group" aria-label={groupLabel}>
      <Button
        variant="danger"
        pending={action.pending}
        pendingLabel={pendingLabel}
        onClick={() => void action.confirm()}
      >
        {verb} now
      </Button>
      <Button variant="quiet" onClick={() => action.setConfirming(false)} disabled={action.pending}>
        Cancel
      </Button>
    </div>
  );
}

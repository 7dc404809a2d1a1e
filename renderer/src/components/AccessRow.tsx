import { Fragment, useState, type ReactNode } from 'react';
import type { AccessLimits, LimitsChange, ProviderInfo } from '../../../preload/contract';
import { useConfirmedAction } from '../hooks';
import { ConfirmAction } from './ConfirmAction';
import { LimitsEditor, LimitsSummary } from './Limits';
import { Button, ErrorMessage } from './Status';

/**
 * One table row of something that reaches the account — a key or an OAuth grant — given its
 * leading cells: then its limits, its "Limits" and "Revoke" actions, and the limits editor in a
 * row of its own below while open. Every action resolves with the list after (`T`).
 */
export function AccessRow<T>({
  testId,
  label,
  shortName,
  subject,
  columns,
  canChange = true,
  limits,
  providers,
  revoke: revokeCall,
  saveLimits,
  onChanged,
  children,
}: {
  testId: string;
  /** Who the buttons act on, in their accessible names: `key laptop (mcp_ab12)`, `Cursor`. */
  label: string;
  /** The name the revoke confirmation names. */
  shortName: string;
  /** What is limited, in the editor: "key", "editor". */
  subject: string;
  /** The table's column count (the editor's row spans them all). */
  columns: number;
  /** False for a revoked key: its limits are shown, nothing is offered. */
  canChange?: boolean;
  limits: AccessLimits;
  providers: ProviderInfo[];
  revoke: () => Promise<T>;
  saveLimits: (change: LimitsChange) => Promise<T>;
  onChanged: (list: T) => void;
  /** The leading cells (a `th` for the name, then `td`s). */
  children: ReactNode;
}) {
  const revoke = useConfirmedAction(revokeCall, onChanged);
  const [editing, setEditing] = useState(false);

  return (
    <Fragment>
      <tr data-testid={testId}>
        {children}
        <td data-testid="limits">
          <LimitsSummary limits={limits} providers={providers} />
        </td>
        <td className="cell-actions">
          {canChange && !editing && !revoke.confirming && (
            <Button
              variant="quiet"
              label={`Edit limits of ${label}`}
              onClick={() => setEditing(true)}
            >
              Limits
            </Button>
          )}
          {canChange && (
            <ConfirmAction
              verb="Revoke"
              pendingLabel="Revoking…"
              label={`Revoke ${label}`}
              groupLabel={`Confirm revoking ${shortName}`}
              action={revoke}
            />
          )}
          <ErrorMessage error={revoke.error} onDismiss={revoke.reset} />
        </td>
      </tr>
      {editing && (
        <tr className="limits-editor-row">
          <td colSpan={columns}>
            <LimitsEditor
              limits={limits}
              subject={subject}
              providers={providers}
              save={saveLimits}
              onSaved={(next) => {
                setEditing(false);
                onChanged(next);
              }}
              onCancel={() => setEditing(false)}
            />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

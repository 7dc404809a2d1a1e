import type { GrantInfo } from '../../../preload/contract';
import { getApi } from '../api';
import { ConfirmAction } from '../components/ConfirmAction';
import { ErrorMessage, Loading } from '../components/Status';
import { Time } from '../components/Time';
import { useConfirmedAction, type Loaded } from '../hooks';

const scopeWords = (scopes: string[]): string =>
  scopes.includes('pm:write') ? 'Read and write' : 'Read only';

/** The editors the user let in with OAuth, beside the keys: who, what, when, and revoke. */
export function GrantsSection({ grants }: { grants: Loaded<GrantInfo[]> }) {
  return (
    <section className="card" aria-labelledby="grants-title" aria-busy={grants.loading}>
      <h2 id="grants-title">Editors signed in with OAuth</h2>
      <p className="muted small">
        Editors you allowed in your browser, connected with nothing but the server&apos;s address.
        Revoking one signs it out at its next request.
      </p>
      <ErrorMessage error={grants.error} />
      {grants.loading && !grants.data && <Loading label="Loading editors…" />}
      {grants.data && grants.data.length === 0 && (
        <p className="muted">No editor has signed in with OAuth.</p>
      )}
      {grants.data && grants.data.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Editors signed in with OAuth</caption>
            <thead>
              <tr>
                <th scope="col">Editor</th>
                <th scope="col">Access</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {grants.data.map((grant) => (
                <GrantRow key={grant.id} grant={grant} onGrants={grants.setData} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function GrantRow({
  grant,
  onGrants,
}: {
  grant: GrantInfo;
  onGrants: (grants: GrantInfo[]) => void;
}) {
  const revoke = useConfirmedAction(() => getApi().revokeGrant(grant.id), onGrants);

  return (
    <tr data-testid={`grant-${grant.clientName}`}>
      <th scope="row">{grant.clientName}</th>
      <td>
        {scopeWords(grant.scopes)}
        <span className="muted small block mono">{grant.scopes.join(' ')}</span>
      </td>
      <td>
        <Time iso={grant.createdAt} />
      </td>
      <td data-testid="grant-last-used">
        <Time iso={grant.lastUsedAt} />
      </td>
      <td className="cell-actions">
        <ConfirmAction
          verb="Revoke"
          pendingLabel="Revoking…"
          label={`Revoke ${grant.clientName}`}
          groupLabel={`Confirm revoking ${grant.clientName}`}
          action={revoke}
        />
        <ErrorMessage error={revoke.error} onDismiss={revoke.reset} />
      </td>
    </tr>
  );
}

import type { GrantInfo, ProviderInfo } from '../../../preload/contract';
import { getApi } from '../api';
import { AccessRow } from '../components/AccessRow';
import { ListTable } from '../components/ListTable';
import { ErrorMessage, Loading } from '../components/Status';
import { Time } from '../components/Time';
import type { Loaded } from '../hooks';

const scopeWords = (scopes: string[]): string =>
  scopes.includes('pm:write') ? 'Read and write' : 'Read only';

/** The editors the user let in with OAuth, beside the keys: who, what, when, limits, revoke. */
export function GrantsSection({
  grants,
  providers,
}: {
  grants: Loaded<GrantInfo[]>;
  providers: ProviderInfo[];
}) {
  return (
    <section className="card" aria-labelledby="grants-title" aria-busy={grants.loading}>
      <h2 id="grants-title">Editors signed in with OAuth</h2>
      <p className="muted small">
        Editors you allowed in your browser, connected with nothing but the server&apos;s address.
        Limit one to some tools and projects as you would a key; revoking one signs it out at its
        next request.
      </p>
      <ErrorMessage error={grants.error} />
      {grants.loading && !grants.data && <Loading label="Loading editors…" />}
      {grants.data && grants.data.length === 0 && (
        <p className="muted">No editor has signed in with OAuth.</p>
      )}
      {grants.data && grants.data.length > 0 && (
        <ListTable
          caption="Editors signed in with OAuth"
          columns={['Editor', 'Access', 'Created', 'Last used', 'Limits']}
        >
          {grants.data.map((grant) => (
            <GrantRow
              key={grant.id}
              grant={grant}
              providers={providers}
              onGrants={grants.setData}
            />
          ))}
        </ListTable>
      )}
    </section>
  );
}

function GrantRow({
  grant,
  providers,
  onGrants,
}: {
  grant: GrantInfo;
  providers: ProviderInfo[];
  onGrants: (grants: GrantInfo[]) => void;
}) {
  return (
    <AccessRow
      testId={`grant-${grant.clientName}`}
      label={grant.clientName}
      shortName={grant.clientName}
      subject="editor"
      columns={6}
      limits={grant}
      providers={providers}
      revoke={() => getApi().revokeGrant(grant.id)}
      saveLimits={(change) => getApi().setGrantLimits(grant.id, change)}
      onChanged={onGrants}
    >
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
    </AccessRow>
  );
}

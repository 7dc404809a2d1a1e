import type {
  AppState,
  ClientId,
  ClientListing,
  ClientStatus,
  KeyHealth,
  ProviderInfo,
} from '../../../preload/contract';
import { getApi } from '../api';
import { Badge, Button, ErrorMessage, type Tone } from '../components/Status';
import { Time } from '../components/Time';
import { maskedKey } from '../format';
import { useAction } from '../hooks';
import { providerTypeLabels } from '../labels';

export type Screen = 'dashboard' | 'keys' | 'providers' | 'settings';

const keyHealthText: Record<KeyHealth, [Tone, string]> = {
  ok: ['ok', 'Working'],
  rejected: ['error', 'Rejected by the server'],
  expiring: ['warn', 'Expires soon'],
  unknown: ['neutral', 'Not checked yet'],
};

export function Dashboard({
  state,
  onState,
  onNavigate,
}: {
  state: AppState;
  onState: (state: AppState) => void;
  onNavigate: (screen: Screen) => void;
}) {
  const refresh = useAction(() => getApi().getState());
  const { key, proxy } = state;
  const [healthTone, healthText] = keyHealthText[state.keyHealth];

  return (
    <>
      <div className="screen-header">
        <h1 tabIndex={-1}>Overview</h1>
        <Button
          variant="quiet"
          pending={refresh.pending}
          pendingLabel="Refreshing…"
          onClick={() => void refresh.run().then((next) => next && onState(next))}
        >
          Refresh
        </Button>
      </div>
      <ErrorMessage error={refresh.error} onDismiss={refresh.reset} />

      <div className="grid">
        <section className="card" aria-labelledby="account-title">
          <h2 id="account-title">Account</h2>
          <dl className="facts">
            <dt>Server</dt>
            <dd>
              <span className="mono block">{state.serverUrl ?? '—'}</span>
              {state.serverReachable ? (
                <Badge tone="ok">Reachable</Badge>
              ) : (
                <Badge tone="error">Unreachable</Badge>
              )}
            </dd>
            <dt>User</dt>
            <dd>
              {state.user?.name ? `${state.user.name} · ` : ''}
              <span data-testid="user-email">{state.user?.email ?? '—'}</span>
            </dd>
          </dl>
        </section>

        <section className="card" aria-labelledby="key-title">
          <h2 id="key-title">This computer&apos;s key</h2>
          {key ? (
            <dl className="facts">
              <dt>Key</dt>
              <dd>
                <span className="mono" data-testid="key-prefix">
                  {maskedKey(key.keyPrefix)}
                </span>{' '}
                <Badge tone={healthTone}>{healthText}</Badge>
              </dd>
              <dt>Created</dt>
              <dd>
                <Time iso={key.createdAt} />
              </dd>
              <dt>Last used</dt>
              <dd data-testid="key-last-used">
                <Time iso={key.lastUsedAt} />
              </dd>
              <dt>Expires</dt>
              <dd>
                <Time iso={key.expiresAt} empty="Does not expire" />
              </dd>
            </dl>
          ) : (
            <p className="muted">No key on this computer.</p>
          )}
          <div className="actions">
            <Button variant="quiet" onClick={() => onNavigate('keys')}>
              Manage keys
            </Button>
          </div>
        </section>

        <section className="card" aria-labelledby="proxy-title">
          <h2 id="proxy-title">Local connection</h2>
          <p className="muted small">
            Editors talk to this app on your computer; it adds your key before passing requests on.
          </p>
          <dl className="facts">
            <dt>Status</dt>
            <dd data-testid="proxy-status">
              {proxy.running ? (
                <Badge tone="ok">Running</Badge>
              ) : (
                <Badge tone="error">Stopped</Badge>
              )}
            </dd>
            <dt>Address</dt>
            <dd className="mono">127.0.0.1:{proxy.port}</dd>
            <dt>Requests</dt>
            <dd>{proxy.requests}</dd>
            <dt>Last request</dt>
            <dd>
              <Time iso={proxy.lastRequestAt} />
            </dd>
            {proxy.lastUpstreamError && (
              <>
                <dt>Last problem</dt>
                <dd className="text-error">{proxy.lastUpstreamError}</dd>
              </>
            )}
          </dl>
        </section>
      </div>

      <section className="card" aria-labelledby="clients-title">
        <h2 id="clients-title">Editors</h2>
        <p className="muted small">Installed editors first.</p>
        <ul className="rows" aria-label="Editors">
          {state.clients.map((client) => (
            <ClientRow
              key={`${client.client}:${client.path}`}
              client={client}
              state={state}
              onState={onState}
            />
          ))}
        </ul>
      </section>

      <section className="card" aria-labelledby="providers-title">
        <div className="card-header">
          <h2 id="providers-title">Project tools</h2>
          <Button variant="quiet" onClick={() => onNavigate('providers')}>
            Manage
          </Button>
        </div>
        {state.providers.length === 0 ? (
          <p className="muted">
            No Jira or OpenProject connection yet.{' '}
            <button type="button" className="link-button" onClick={() => onNavigate('providers')}>
              Add one
            </button>{' '}
            so your editor can see your projects.
          </p>
        ) : (
          <ul className="rows" aria-label="Project tools">
            {state.providers.map((provider) => (
              <li className="row" key={provider.id}>
                <div className="row-main">
                  <span className="row-title">{provider.name}</span>
                  <span className="muted small">
                    {providerTypeLabels[provider.providerType]} · {provider.baseUrl}
                  </span>
                  {provider.lastCheckOk === false && provider.lastCheckMessage && (
                    <span className="small text-error">{provider.lastCheckMessage}</span>
                  )}
                </div>
                <ProviderBadge provider={provider} />
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

export function ProviderBadge({ provider }: { provider: ProviderInfo }) {
  if (!provider.isActive) return <Badge tone="neutral">Paused</Badge>;
  if (provider.lastCheckOk === true) return <Badge tone="ok">Working</Badge>;
  if (provider.lastCheckOk === false) return <Badge tone="error">Failing</Badge>;
  return <Badge tone="neutral">Not checked yet</Badge>;
}

const clientStateText: Record<ClientStatus['state'], [Tone, string]> = {
  current: ['ok', 'Configured'],
  changed: ['warn', 'Changed outside the app'],
  missing: ['neutral', 'Not configured'],
  unparseable: ['error', 'File cannot be read'],
};

function ClientRow({
  client,
  state,
  onState,
}: {
  client: ClientListing;
  state: AppState;
  onState: (state: AppState) => void;
}) {
  const configure = useAction((id: ClientId) => getApi().configureClient(id));
  const unconfigure = useAction((id: ClientId) => getApi().unconfigureClient(id));
  const [tone, text] = clientStateText[client.state];
  const apply = (status: ClientStatus | undefined) => {
    if (!status) return;
    onState({
      ...state,
      clients: state.clients.map((entry) =>
        entry.client === status.client && entry.path === status.path
          ? { ...entry, ...status }
          : entry,
      ),
    });
  };
  const detailId = `client-${client.client}-detail`;

  return (
    <li className="row" data-testid={`client-${client.client}`}>
      <div className="row-main">
        <span className="row-title">
          {client.label}{' '}
          {!client.installed && (
            <span className="muted small" data-testid="not-installed">
              · not installed
            </span>
          )}
        </span>
        <span className="muted small mono" id={detailId}>
          {client.path}
        </span>
        {client.detail && (
          // The path is on the line above; say "This file" rather than repeat it.
          <span className="small">{client.detail.replace(client.path, 'This file')}</span>
        )}
        {client.installLink && client.state !== 'current' && (
          <details className="install-link small">
            <summary>Install link for {client.label}</summary>
            <span className="muted">
              Open it to add PM MCP from {client.label} itself; it holds no secret, so{' '}
              {client.label} asks for the local token.
            </span>
            <input
              readOnly
              aria-label={`Install link for ${client.label}`}
              value={client.installLink}
              onFocus={(event) => event.currentTarget.select()}
            />
          </details>
        )}
        <ErrorMessage error={configure.error ?? unconfigure.error} />
      </div>
      <Badge tone={tone}>{text}</Badge>
      <div className="row-actions">
        {client.state === 'current' ? (
          <Button
            variant="quiet"
            pending={unconfigure.pending}
            pendingLabel="Removing…"
            label={`Remove PM MCP from ${client.label}`}
            onClick={() => void unconfigure.run(client.client).then(apply)}
          >
            Remove
          </Button>
        ) : client.state === 'unparseable' ? null : (
          <Button
            variant={client.state === 'changed' ? 'primary' : 'secondary'}
            pending={configure.pending}
            pendingLabel={client.state === 'changed' ? 'Repairing…' : 'Configuring…'}
            label={`${client.state === 'changed' ? 'Repair' : 'Configure'} ${client.label}`}
            describedBy={detailId}
            onClick={() => void configure.run(client.client).then(apply)}
          >
            {client.state === 'changed' ? 'Repair' : 'Configure'}
          </Button>
        )}
      </div>
    </li>
  );
}

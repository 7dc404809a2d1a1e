import { useId, useState, type SyntheticEvent } from 'react';
import {
  providerTypes,
  type AddProviderInput,
  type ProviderInfo,
  type ProviderTestResult,
  type ProviderType,
} from '../../../preload/contract';
import { getApi } from '../api';
import { ConfirmAction } from '../components/ConfirmAction';
import { Button, ErrorMessage, Loading } from '../components/Status';
import { Time } from '../components/Time';
import { providerTypeLabels } from '../labels';
import { useAction, useConfirmedAction, useLoad } from '../hooks';
import { ProviderBadge } from './Dashboard';

interface ProviderForm {
  urlLabel: string;
  urlPlaceholder: string;
  needsEmail: boolean;
  tokenLabel: string;
  tokenHelp: string;
  tokenLink: { href: string; text: string } | null;
}

const forms: Record<ProviderType, ProviderForm> = {
  jira: {
    urlLabel: 'Site URL',
    urlPlaceholder: 'https://your-team.atlassian.net',
    needsEmail: true,
    tokenLabel: 'API token',
    tokenHelp: 'Create one in your Atlassian account under Security → API tokens.',
    tokenLink: {
      href: 'https://id.atlassian.com/manage-profile/security/api-tokens',
      text: 'Create an Atlassian API token',
    },
  },
  jira_server: {
    urlLabel: 'Server URL',
    urlPlaceholder: 'https://jira.example.com',
    needsEmail: false,
    tokenLabel: 'Personal access token',
    tokenHelp: 'In Jira: your profile → Personal Access Tokens → Create token.',
    tokenLink: null,
  },
  openproject: {
    urlLabel: 'Server URL',
    urlPlaceholder: 'https://openproject.example.com',
    needsEmail: false,
    tokenLabel: 'API key',
    tokenHelp: 'In OpenProject: My account → Access tokens → API → Generate.',
    tokenLink: null,
  },
};

export function Providers({ onChanged }: { onChanged: () => void }) {
  const providers = useLoad(() => getApi().listProviders());

  return (
    <>
      <div className="screen-header">
        <h1 tabIndex={-1}>Project tools</h1>
        <Button variant="quiet" onClick={providers.reload} pending={providers.loading}>
          Refresh
        </Button>
      </div>
      <p className="muted">
        Your own Jira and OpenProject accounts. Your editor acts with these credentials, and only
        for you; they are stored encrypted on the server, never on this computer.
      </p>

      <section className="card" aria-labelledby="connections-title" aria-busy={providers.loading}>
        <h2 id="connections-title">Connections</h2>
        <ErrorMessage error={providers.error} />
        {providers.loading && !providers.data && <Loading label="Loading connections…" />}
        {providers.data?.length === 0 && <p className="muted">No connections yet.</p>}
        {providers.data && providers.data.length > 0 && (
          <ul className="rows" aria-label="Connections">
            {providers.data.map((provider) => (
              <ProviderRow
                key={provider.id}
                provider={provider}
                onProviders={(next) => {
                  providers.setData(next);
                  onChanged();
                }}
                onTested={() => {
                  providers.reload();
                  onChanged();
                }}
              />
            ))}
          </ul>
        )}
      </section>

      <AddProvider
        onAdded={() => {
          providers.reload();
          onChanged();
        }}
      />
    </>
  );
}

function ProviderRow({
  provider,
  onProviders,
  onTested,
}: {
  provider: ProviderInfo;
  onProviders: (providers: ProviderInfo[]) => void;
  onTested: () => void;
}) {
  const test = useAction((id: string) => getApi().testProvider(id));
  const remove = useConfirmedAction(() => getApi().removeProvider(provider.id), onProviders);
  const [result, setResult] = useState<ProviderTestResult | null>(null);

  const onTest = async () => {
    const outcome = await test.run(provider.id);
    if (outcome) {
      setResult(outcome);
      onTested();
    }
  };
  const failure = provider.lastCheckOk === false ? provider.lastCheckMessage : null;

  return (
    <li className="row" data-testid={`provider-${provider.name}`}>
      <div className="row-main">
        <span className="row-title">{provider.name}</span>
        <span className="muted small">
          {providerTypeLabels[provider.providerType]} ·{' '}
          <span className="mono">{provider.baseUrl}</span>
        </span>
        <span className="muted small">
          Last checked <Time iso={provider.lastCheckedAt} empty="never" />
        </span>
        {failure && !result && <span className="small text-error">{failure}</span>}
        <div role="status" aria-live="polite" className="small">
          {result && (
            <span className={result.ok ? 'text-ok' : 'text-error'}>
              {result.ok ? 'Works' : 'Failed'}: {result.message}
              {result.account && !result.message.includes(result.account)
                ? ` (${result.account})`
                : ''}
            </span>
          )}
        </div>
        <ErrorMessage error={test.error ?? remove.error} />
      </div>
      <ProviderBadge provider={provider} />
      <div className="row-actions">
        <Button
          variant="quiet"
          pending={test.pending}
          pendingLabel="Testing…"
          label={`Test ${provider.name}`}
          onClick={() => void onTest()}
        >
          Test
        </Button>
        <ConfirmAction
          verb="Remove"
          pendingLabel="Removing…"
          label={`Remove ${provider.name}`}
          groupLabel={`Confirm removing ${provider.name}`}
          action={remove}
        />
      </div>
    </li>
  );
}

function AddProvider({ onAdded }: { onAdded: (provider: ProviderInfo) => void }) {
  const [providerType, setProviderType] = useState<ProviderType>('jira');
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [email, setEmail] = useState('');
  const [apiToken, setApiToken] = useState('');
  const [added, setAdded] = useState<ProviderInfo | null>(null);
  const add = useAction((input: AddProviderInput) => getApi().addProvider(input));
  const form = forms[providerType];
  const ids = {
    type: useId(),
    name: useId(),
    url: useId(),
    email: useId(),
    token: useId(),
    help: useId(),
  };

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    setAdded(null);
    const provider = await add.run({
      providerType,
      name: name.trim() || providerTypeLabels[providerType],
      baseUrl: baseUrl.trim(),
      ...(form.needsEmail ? { email: email.trim() } : {}),
      apiToken,
    });
    if (provider) {
      setAdded(provider);
      setName('');
      setBaseUrl('');
      setEmail('');
      setApiToken('');
      onAdded(provider);
    }
  };

  return (
    <section className="card" aria-labelledby="add-provider-title">
      <h2 id="add-provider-title">Add a connection</h2>
      <form onSubmit={(event) => void submit(event)} className="form-grid">
        <div className="field">
          <label htmlFor={ids.type}>Type</label>
          <select
            id={ids.type}
            value={providerType}
            onChange={(event) => {
              setProviderType(event.target.value as ProviderType);
              add.reset();
            }}
          >
            {providerTypes.map((type) => (
              <option key={type} value={type}>
                {providerTypeLabels[type]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            type="text"
            placeholder={`Work ${providerTypeLabels[providerType]}`}
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div className="field field-wide">
          <label htmlFor={ids.url}>{form.urlLabel}</label>
          <input
            id={ids.url}
            type="url"
            required
            spellCheck={false}
            placeholder={form.urlPlaceholder}
            value={baseUrl}
            onChange={(event) => setBaseUrl(event.target.value)}
          />
        </div>
        {form.needsEmail && (
          <div className="field field-wide">
            <label htmlFor={ids.email}>Atlassian account email</label>
            <input
              id={ids.email}
              type="email"
              required
              spellCheck={false}
              autoComplete="off"
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
          </div>
        )}
        <div className="field field-wide">
          <label htmlFor={ids.token}>{form.tokenLabel}</label>
          <input
            id={ids.token}
            type="password"
            required
            autoComplete="off"
            spellCheck={false}
            aria-describedby={ids.help}
            value={apiToken}
            onChange={(event) => setApiToken(event.target.value)}
          />
          <span className="small muted" id={ids.help}>
            {form.tokenHelp}{' '}
            {form.tokenLink && (
              <a href={form.tokenLink.href} target="_blank" rel="noreferrer">
                {form.tokenLink.text}
              </a>
            )}
          </span>
        </div>
        <div className="field-wide">
          <ErrorMessage error={add.error} onDismiss={add.reset} />
          <p role="status" aria-live="polite" className="small text-ok">
            {added && `Connected ${added.name}. The credentials were checked with the provider.`}
          </p>
          <Button
            type="submit"
            variant="primary"
            pending={add.pending}
            pendingLabel="Checking and adding…"
          >
            Check and add
          </Button>
        </div>
      </form>
    </section>
  );
}

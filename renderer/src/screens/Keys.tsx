import { Fragment, useId, useRef, useState, type ReactElement } from 'react';
import {
  pmToolNames,
  type KeyInfo,
  type LimitsChange,
  type ProviderInfo,
  type RotatedKey,
} from '../../../preload/contract';
import { getApi } from '../api';
import { ConfirmAction } from '../components/ConfirmAction';
import { Badge, Button, ErrorMessage, Loading } from '../components/Status';
import { Time } from '../components/Time';
import { maskedKey } from '../format';
import { useAction, useConfirmedAction, useLoad } from '../hooks';
import { GrantsSection } from './Grants';

function keyStatus(key: KeyInfo): ReactElement {
  if (key.revokedAt || !key.isActive) return <Badge tone="neutral">Revoked</Badge>;
  if (key.expiresAt && new Date(key.expiresAt).getTime() <= Date.now()) {
    return <Badge tone="neutral">Expired</Badge>;
  }
  return <Badge tone="ok">Active</Badge>;
}

export function Keys({ onChanged }: { onChanged: () => void }) {
  const keys = useLoad(() => getApi().listKeys());
  const providers = useLoad(() => getApi().listProviders());
  const grants = useLoad(() => getApi().listGrants());
  const rotate = useAction(() => getApi().rotateKey());
  const [rotated, setRotated] = useState<RotatedKey | null>(null);

  const onRotate = async () => {
    const result = await rotate.run();
    if (result) {
      setRotated(result);
      keys.reload();
      onChanged();
    }
  };

  return (
    <>
      <div className="screen-header">
        <h1 tabIndex={-1}>Keys</h1>
        <Button
          variant="quiet"
          onClick={() => {
            keys.reload();
            grants.reload();
          }}
          pending={keys.loading || grants.loading}
        >
          Refresh
        </Button>
      </div>
      <p className="muted">
        Every key and editor that can reach your account. Revoke any you do not recognise; a revoked
        key stops working on its next request.
      </p>

      <section className="card" aria-labelledby="rotate-title">
        <h2 id="rotate-title">Rotate this computer&apos;s key</h2>
        <p className="muted small">
          Replaces the key with a new one and revokes the old one. Editors set up by this app keep
          working without changes.
        </p>
        <ErrorMessage error={rotate.error} onDismiss={rotate.reset} />
        {rotated ? (
          <NewKeyPanel rotated={rotated} onDone={() => setRotated(null)} />
        ) : (
          <div className="actions">
            <Button
              pending={rotate.pending}
              pendingLabel="Rotating…"
              onClick={() => void onRotate()}
            >
              Rotate key
            </Button>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="keys-title" aria-busy={keys.loading}>
        <h2 id="keys-title">Your keys</h2>
        <ErrorMessage error={keys.error} />
        {keys.loading && !keys.data && <Loading label="Loading keys…" />}
        {keys.data && keys.data.length === 0 && <p className="muted">No keys yet.</p>}
        {keys.data && keys.data.length > 0 && (
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Your MCP keys</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Key</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Limits</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((key) => (
                  <KeyRow
                    key={key.id}
                    keyInfo={key}
                    providers={providers.data ?? []}
                    onKeys={(next) => {
                      keys.setData(next);
                      onChanged();
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <GrantsSection grants={grants} />
    </>
  );
}

/** What a key may touch beyond its scope, in words; connection ids shown by their names. */
function LimitsSummary({ keyInfo, providers }: { keyInfo: KeyInfo; providers: ProviderInfo[] }) {
  if (!keyInfo.allowedTools && !keyInfo.allowedProjects) {
    return <span className="muted">None</span>;
  }
  const nameOf = (entry: string) => {
    const [connectionId = '', project] = entry.split(':');
    const name = providers.find((p) => p.id === connectionId)?.name ?? connectionId;
    return project ? `${name}: ${project}` : `${name} (all projects)`;
  };
  return (
    <span className="small">
      {keyInfo.allowedTools && (
        <span className="block" data-testid="limit-tools">
          Tools: {keyInfo.allowedTools.join(', ')}
        </span>
      )}
      {keyInfo.allowedProjects && (
        <span className="block" data-testid="limit-projects">
          Projects: {keyInfo.allowedProjects.map(nameOf).join(', ')}
        </span>
      )}
    </span>
  );
}

function KeyRow({
  keyInfo,
  providers,
  onKeys,
}: {
  keyInfo: KeyInfo;
  providers: ProviderInfo[];
  onKeys: (keys: KeyInfo[]) => void;
}) {
  const revoke = useConfirmedAction(() => getApi().revokeKey(keyInfo.id), onKeys);
  const [editing, setEditing] = useState(false);
  const active = keyInfo.isActive && !keyInfo.revokedAt;

  return (
    <Fragment>
      <tr data-testid={`key-${keyInfo.keyPrefix}`}>
        <th scope="row">
          {keyInfo.name}
          {keyInfo.isThisMachine && (
            <>
              {' '}
              <Badge tone="neutral">This computer</Badge>
            </>
          )}
          <span className="muted small block">
            {keyInfo.scope === 'read' ? 'Read only' : 'Read and write'}
          </span>
        </th>
        <td className="mono">{maskedKey(keyInfo.keyPrefix)}</td>
        <td>{keyStatus(keyInfo)}</td>
        <td>
          <Time iso={keyInfo.createdAt} />
        </td>
        <td data-testid="last-used">
          <Time iso={keyInfo.lastUsedAt} />
        </td>
        <td>
          <Time iso={keyInfo.expiresAt} empty="No expiry" />
        </td>
        <td data-testid="limits">
          <LimitsSummary keyInfo={keyInfo} providers={providers} />
        </td>
        <td className="cell-actions">
          {active && !editing && !revoke.confirming && (
            <Button
              variant="quiet"
              label={`Edit limits of key ${keyInfo.name} (${keyInfo.keyPrefix})`}
              onClick={() => setEditing(true)}
            >
              Limits
            </Button>
          )}
          {active && (
            <ConfirmAction
              verb="Revoke"
              pendingLabel="Revoking…"
              label={`Revoke key ${keyInfo.name} (${keyInfo.keyPrefix})`}
              groupLabel={`Confirm revoking ${keyInfo.name}`}
              action={revoke}
            />
          )}
          <ErrorMessage error={revoke.error} onDismiss={revoke.reset} />
        </td>
      </tr>
      {editing && (
        <tr className="limits-editor-row">
          <td colSpan={8}>
            <LimitsEditor
              keyInfo={keyInfo}
              providers={providers}
              onSaved={(next) => {
                setEditing(false);
                onKeys(next);
              }}
              onCancel={() => setEditing(false)}
            />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/**
 * Edits a key's limits: tick the tools (none ticked: every tool) and the connections, and name
 * single projects as "<connection>:<project key>". The server checks names and ownership.
 */
function LimitsEditor({
  keyInfo,
  providers,
  onSaved,
  onCancel,
}: {
  keyInfo: KeyInfo;
  providers: ProviderInfo[];
  onSaved: (keys: KeyInfo[]) => void;
  onCancel: () => void;
}) {
  const save = useAction((limits: LimitsChange) => getApi().setKeyLimits(keyInfo.id, limits));
  const id = useId();
  const [tools, setTools] = useState<Set<string>>(new Set(keyInfo.allowedTools ?? []));
  const projects = keyInfo.allowedProjects ?? [];
  const [connections, setConnections] = useState<Set<string>>(
    new Set(projects.filter((entry) => !entry.includes(':'))),
  );
  const [single, setSingle] = useState(projects.filter((entry) => entry.includes(':')).join(', '));

  const toggle = (set: Set<string>, value: string, update: (next: Set<string>) => void) => {
    const next = new Set(set);
    if (next.has(value)) next.delete(value);
    else next.add(value);
    update(next);
  };

  const onSave = async () => {
    const entries = [
      ...connections,
      ...single
        .split(',')
        .map((entry) => entry.trim())
        .filter((entry) => entry !== ''),
    ];
    const next = await save.run({
      allowedTools: tools.size > 0 ? pmToolNames.filter((tool) => tools.has(tool)) : null,
      allowedProjects: entries.length > 0 ? entries : null,
    });
    if (next) onSaved(next);
  };

  return (
    <div className="limits-editor" data-testid="limits-editor">
      <fieldset>
        <legend>Tools this key may use</legend>
        <p className="small muted">None ticked: every tool its scope allows.</p>
        <div className="checkbox-grid">
          {pmToolNames.map((tool) => (
            <label key={tool} className="checkbox">
              <input
                type="checkbox"
                checked={tools.has(tool)}
                onChange={() => toggle(tools, tool, setTools)}
              />
              <span className="mono">{tool}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset>
        <legend>Connections and projects it may touch</legend>
        <p className="small muted">Nothing chosen: every connection and project.</p>
        <div className="checkbox-grid">
          {providers.map((provider) => (
            <label key={provider.id} className="checkbox">
              <input
                type="checkbox"
                checked={connections.has(provider.id)}
                onChange={() => toggle(connections, provider.id, setConnections)}
              />
              <span>{provider.name} (all projects)</span>
            </label>
          ))}
        </div>
        <label htmlFor={`${id}-projects`}>Single projects</label>
        <p className="small muted" id={`${id}-projects-help`}>
          Comma-separated &quot;connection id:project key&quot;, as list_projects shows project ids
          {providers.length > 0 &&
            ` (${providers.map((provider) => `${provider.name}: ${provider.id}`).join('; ')})`}
          .
        </p>
        <input
          id={`${id}-projects`}
          className="mono"
          value={single}
          aria-describedby={`${id}-projects-help`}
          onChange={(event) => setSingle(event.target.value)}
          spellCheck={false}
        />
      </fieldset>
      <ErrorMessage error={save.error} onDismiss={save.reset} />
      <div className="actions">
        <Button
          variant="primary"
          pending={save.pending}
          pendingLabel="Saving…"
          onClick={() => void onSave()}
        >
          Save limits
        </Button>
        <Button variant="quiet" onClick={onCancel} disabled={save.pending}>
          Cancel
        </Button>
      </div>
    </div>
  );
}

/** The new key, shown once, with a copy button. It is not kept anywhere in the window. */
function NewKeyPanel({ rotated, onDone }: { rotated: RotatedKey; onDone: () => void }) {
  const inputRef = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'copied' | 'failed' | null>(null);
  const id = useId();

  const copy = async () => {
    const input = inputRef.current;
    if (!input) return;
    input.focus();
    input.select();
    let ok = false;
    try {
      await navigator.clipboard.writeText(rotated.apiKey);
      ok = true;
    } catch {
      // The clipboard permission may be denied (the app denies every permission request);
      // copying the selection is a user-initiated edit command and needs no permission.
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the permission-free fallback
      ok = document.execCommand('copy');
    }
    setCopied(ok ? 'copied' : 'failed');
  };

  return (
    <div className="new-key">
      <label htmlFor={id}>Your new key</label>
      <p className="small muted">
        Shown only this once. This app already uses it; copy it only if you configured an editor
        with the key directly.
      </p>
      <div className="copy-row">
        <input
          id={id}
          ref={inputRef}
          className="mono"
          readOnly
          value={rotated.apiKey}
          spellCheck={false}
          onFocus={(event) => event.target.select()}
          data-testid="new-key"
        />
        <Button variant="primary" onClick={() => void copy()}>
          Copy
        </Button>
      </div>
      <p className="small" role="status" aria-live="polite">
        {copied === 'copied' && 'Copied to the clipboard.'}
        {copied === 'failed' && 'Could not copy; select the key and press Ctrl+C (⌘C on a Mac).'}
      </p>
      <div className="actions">
        <Button variant="quiet" onClick={onDone}>
          Done, hide the key
        </Button>
      </div>
    </div>
  );
}

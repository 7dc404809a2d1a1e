import { useId, useRef, useState, type ReactElement } from 'react';
import type { KeyInfo, ProviderInfo, RotatedKey } from '../../../preload/contract';
import { getApi } from '../api';
import { AccessRow } from '../components/AccessRow';
import { ListTable } from '../components/ListTable';
import { Badge, Button, ErrorMessage, Loading } from '../components/Status';
import { Time } from '../components/Time';
import { maskedKey } from '../format';
import { useAction, useLoad } from '../hooks';
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
          <ListTable
            caption="Your MCP keys"
            columns={['Name', 'Key', 'Status', 'Created', 'Last used', 'Expires', 'Limits']}
          >
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
          </ListTable>
        )}
      </section>

      <GrantsSection grants={grants} providers={providers.data ?? []} />
    </>
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
  return (
    <AccessRow
      testId={`key-${keyInfo.keyPrefix}`}
      label={`key ${keyInfo.name} (${keyInfo.keyPrefix})`}
      shortName={keyInfo.name}
      subject="key"
      columns={8}
      canChange={keyInfo.isActive && !keyInfo.revokedAt}
      limits={keyInfo}
      providers={providers}
      revoke={() => getApi().revokeKey(keyInfo.id)}
      saveLimits={(change) => getApi().setKeyLimits(keyInfo.id, change)}
      onChanged={onKeys}
    >
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
    </AccessRow>
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

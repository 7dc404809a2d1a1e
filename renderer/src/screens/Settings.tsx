import { useId, useState, type SyntheticEvent } from 'react';
import type { AppState, Settings as SettingsValues } from '../../../preload/contract';
import { getApi } from '../api';
import { Button, ErrorMessage, Loading } from '../components/Status';
import { useAction, useLoad } from '../hooks';

export function Settings({ onSignedOut }: { onSignedOut: (state: AppState) => void }) {
  const settings = useLoad(() => getApi().getSettings());
  const signOut = useAction(() => getApi().signOut());

  return (
    <>
      <div className="screen-header">
        <h1 tabIndex={-1}>Settings</h1>
      </div>
      <section className="card" aria-labelledby="server-title">
        <h2 id="server-title">Server</h2>
        <dl className="facts">
          <dt>Address</dt>
          <dd className="mono">{settings.data?.serverUrl ?? '—'}</dd>
        </dl>
        <p className="muted small">
          To use another server, sign out and sign in there. Signing out revokes this
          computer&apos;s key and removes it from the keychain.
        </p>
        <ErrorMessage error={signOut.error} onDismiss={signOut.reset} />
        <div className="actions">
          <Button
            variant="danger"
            pending={signOut.pending}
            pendingLabel="Signing out…"
            onClick={() => void signOut.run().then((state) => state && onSignedOut(state))}
          >
            Sign out
          </Button>
        </div>
      </section>
      <ErrorMessage error={settings.error} />
      {settings.loading && !settings.data && <Loading label="Loading settings…" />}
      {settings.data && <SettingsForm initial={settings.data} onSaved={settings.setData} />}
    </>
  );
}

function SettingsForm({
  initial,
  onSaved,
}: {
  initial: SettingsValues;
  onSaved: (settings: SettingsValues) => void;
}) {
  const [port, setPort] = useState(String(initial.proxyPort));
  const [startAtLogin, setStartAtLogin] = useState(initial.startAtLogin);
  const [autoConfigureCursor, setAutoConfigureCursor] = useState(initial.autoConfigureCursor);
  const [saved, setSaved] = useState(false);
  const save = useAction((patch: Partial<SettingsValues>) => getApi().updateSettings(patch));
  const ids = { port: useId(), portHelp: useId() };
  const portNumber = Number(port);
  const portValid = Number.isInteger(portNumber) && portNumber >= 1024 && portNumber <= 65_535;

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    setSaved(false);
    if (!portValid) return;
    const next = await save.run({ proxyPort: portNumber, startAtLogin, autoConfigureCursor });
    if (next) {
      setSaved(true);
      onSaved(next);
    }
  };

  return (
    <section className="card" aria-labelledby="app-settings-title">
      <h2 id="app-settings-title">This computer</h2>
      <form onSubmit={(event) => void submit(event)}>
        <div className="field field-narrow">
          <label htmlFor={ids.port}>Local connection port</label>
          <input
            id={ids.port}
            type="number"
            inputMode="numeric"
            min={1024}
            max={65_535}
            required
            value={port}
            aria-invalid={!portValid}
            aria-describedby={ids.portHelp}
            onChange={(event) => {
              setPort(event.target.value);
              setSaved(false);
            }}
          />
          <span className="small muted" id={ids.portHelp}>
            {portValid
              ? 'Editors configured by this app connect to 127.0.0.1 on this port. After a change, repair them on the overview.'
              : 'Choose a port between 1024 and 65535.'}
          </span>
        </div>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={startAtLogin}
            onChange={(event) => {
              setStartAtLogin(event.target.checked);
              setSaved(false);
            }}
          />
          Start PM MCP when I log in
        </label>
        <label className="checkbox">
          <input
            type="checkbox"
            checked={autoConfigureCursor}
            onChange={(event) => {
              setAutoConfigureCursor(event.target.checked);
              setSaved(false);
            }}
          />
          Set up Cursor by itself after I sign in (when Cursor is installed)
        </label>
        <ErrorMessage error={save.error} onDismiss={save.reset} />
        <p role="status" aria-live="polite" className="small text-ok">
          {saved && 'Saved.'}
        </p>
        <Button
          type="submit"
          variant="primary"
          pending={save.pending}
          pendingLabel="Saving…"
          disabled={!portValid}
        >
          Save
        </Button>
      </form>
    </section>
  );
}

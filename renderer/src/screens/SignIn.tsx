import { useId, useState, type SyntheticEvent } from 'react';
import type { AppState, BrowserSignInInput, SignInInput } from '../../../preload/contract';
import { getApi } from '../api';
import { Button, ErrorMessage } from '../components/Status';
import { useAction } from '../hooks';

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A plain http:// URL to another machine: the session and key would travel unencrypted. */
function isInsecureUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && !loopbackHosts.has(url.hostname);
  } catch {
    return false;
  }
}

export function SignIn({
  initialServerUrl,
  onSignedIn,
}: {
  initialServerUrl: string | null;
  onSignedIn: (state: AppState) => void;
}) {
  const [serverUrl, setServerUrl] = useState(initialServerUrl ?? 'http://127.0.0.1:8080');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [createAccount, setCreateAccount] = useState(false);
  const [name, setName] = useState('');
  const [confirmedInsecure, setConfirmedInsecure] = useState(false);
  const signIn = useAction((input: SignInInput) => getApi().signIn(input));
  const browserSignIn = useAction((input: BrowserSignInInput) => getApi().signInWithBrowser(input));
  const ids = { server: useId(), email: useId(), password: useId(), name: useId(), hint: useId() };

  const insecure = isInsecureUrl(serverUrl);
  const refusedAsInsecure = [signIn.error, browserSignIn.error].some(
    (error) => error?.code === 'insecure_server_url',
  );
  const needsConfirmation = insecure || (refusedAsInsecure && !confirmedInsecure);
  const passwordsOff = signIn.error?.code === 'password_login_disabled';

  const signInWithBrowser = async () => {
    signIn.reset();
    const state = await browserSignIn.run({
      serverUrl: serverUrl.trim(),
      ...(confirmedInsecure ? { allowInsecure: true } : {}),
    });
    if (state) onSignedIn(state);
  };

  const submit = async (event: SyntheticEvent) => {
    event.preventDefault();
    browserSignIn.reset();
    const input: SignInInput = {
      serverUrl: serverUrl.trim(),
      email: email.trim(),
      password,
      ...(createAccount
        ? { createAccount: true, ...(name.trim() ? { name: name.trim() } : {}) }
        : {}),
      ...(confirmedInsecure ? { allowInsecure: true } : {}),
    };
    const state = await signIn.run(input);
    if (state) {
      setPassword('');
      onSignedIn(state);
    }
  };

  return (
    <main className="signin" aria-labelledby="signin-title">
      <div className="signin-card">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>PM MCP</span>
        </div>
        <h1 id="signin-title">{createAccount ? 'Create your account' : 'Sign in'}</h1>
        <p className="muted">
          Connect this computer to your team&apos;s PM MCP server. Your key is kept in the system
          keychain, never in a file.
        </p>
        <div className="field">
          <label htmlFor={ids.server}>Server URL</label>
          <input
            id={ids.server}
            type="url"
            required
            autoComplete="url"
            spellCheck={false}
            value={serverUrl}
            aria-describedby={insecure ? ids.hint : undefined}
            onChange={(event) => {
              setServerUrl(event.target.value);
              setConfirmedInsecure(false);
            }}
          />
        </div>

        {needsConfirmation && (
          <div className="message message-warn" id={ids.hint}>
            <p>
              <strong>This address is not encrypted.</strong> Your password and key would travel in
              plain text to {hostOf(serverUrl)}. Use an <code>https://</code> address unless this is
              a network you trust.
            </p>
            <label className="checkbox">
              <input
                type="checkbox"
                checked={confirmedInsecure}
                onChange={(event) => setConfirmedInsecure(event.target.checked)}
              />
              I understand; connect over plain http anyway
            </label>
          </div>
        )}

        <section className="signin-browser" aria-label="Sign in with your browser">
          <Button
            variant="primary"
            pending={browserSignIn.pending}
            pendingLabel="Waiting for your browser…"
            disabled={(insecure && !confirmedInsecure) || signIn.pending}
            onClick={() => void signInWithBrowser()}
          >
            Sign in with your browser
          </Button>
          {browserSignIn.pending ? (
            <p className="small" role="status" aria-live="polite">
              Finish signing in in the browser tab that opened.{' '}
              <button
                type="button"
                className="link-button"
                onClick={() => void getApi().cancelBrowserSignIn()}
              >
                Cancel
              </button>
            </p>
          ) : (
            <p className="muted small">
              Opens the server&apos;s sign-in page in your browser: your password or your
              organisation&apos;s single sign-on.
            </p>
          )}
          <ErrorMessage
            error={refusedAsInsecure && confirmedInsecure ? null : browserSignIn.error}
          />
        </section>

        <p className="signin-divider">
          <span>or with your email and password</span>
        </p>

        {passwordsOff && (
          <div className="message message-warn" role="alert">
            <p>
              <strong>This server has turned passwords off.</strong> Sign in with your browser
              above.
            </p>
          </div>
        )}
        <form onSubmit={(event) => void submit(event)} noValidate={false}>
          {createAccount && (
            <div className="field">
              <label htmlFor={ids.name}>
                Name <span className="muted">(optional)</span>
              </label>
              <input
                id={ids.name}
                type="text"
                autoComplete="name"
                value={name}
                onChange={(event) => setName(event.target.value)}
              />
            </div>
          )}
          <div className="field">
            <label htmlFor={ids.email}>Email</label>
            <input
              id={ids.email}
              type="email"
              required
              autoComplete="username"
              spellCheck={false}
              value={email}
              onChange={(event) => setEmail(event.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.password}>Password</label>
            <input
              id={ids.password}
              type="password"
              required
              autoComplete={createAccount ? 'new-password' : 'current-password'}
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
          </div>
          <label className="checkbox">
            <input
              type="checkbox"
              checked={createAccount}
              onChange={(event) => {
                setCreateAccount(event.target.checked);
                signIn.reset();
              }}
            />
            Create a new account on this server
          </label>

          <ErrorMessage
            error={(refusedAsInsecure && confirmedInsecure) || passwordsOff ? null : signIn.error}
          />
          <Button
            type="submit"
            variant="secondary"
            pending={signIn.pending}
            pendingLabel={createAccount ? 'Creating account…' : 'Signing in…'}
            disabled={(insecure && !confirmedInsecure) || browserSignIn.pending}
          >
            {createAccount ? 'Create account and sign in' : 'Sign in'}
          </Button>
        </form>
      </div>
    </main>
  );
}

function hostOf(value: string): string {
  try {
    return new URL(value).host;
  } catch {
    return 'the server';
  }
}

import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppState, DesktopApiError } from '../../preload/contract';
import { getApi, toApiError } from './api';
import { AutoConfigureBanner } from './components/AutoConfigureBanner';
import { KeyBanner } from './components/KeyBanner';
import { Button, ErrorMessage, Loading } from './components/Status';
import { Dashboard, type Screen } from './screens/Dashboard';
import { Keys } from './screens/Keys';
import { Providers } from './screens/Providers';
import { Settings } from './screens/Settings';
import { SignIn } from './screens/SignIn';

const screens: { id: Screen; label: string }[] = [
  { id: 'dashboard', label: 'Overview' },
  { id: 'keys', label: 'Keys' },
  { id: 'providers', label: 'Project tools' },
  { id: 'settings', label: 'Settings' },
];

const levelText: Record<AppState['level'], string> = {
  connected: 'Connected',
  attention: 'Needs attention',
  error: 'Not working',
  'signed-out': 'Signed out',
};

export function App() {
  const [state, setState] = useState<AppState | null>(null);
  const [loadError, setLoadError] = useState<DesktopApiError | null>(null);
  const [screen, setScreen] = useState<Screen>('dashboard');
  const mainRef = useRef<HTMLElement>(null);
  const focusHeading = useRef(false);

  const refresh = useCallback(() => {
    getApi()
      .getState()
      .then(
        (next) => {
          setState(next);
          setLoadError(null);
        },
        (error: unknown) => setLoadError(toApiError(error)),
      );
  }, []);

  useEffect(() => {
    let unsubscribe: () => void;
    try {
      unsubscribe = getApi().onStateChanged(setState);
    } catch (error) {
      queueMicrotask(() => setLoadError(toApiError(error)));
      return undefined;
    }
    refresh();
    // The key may be revoked elsewhere: look again whenever the window comes back into view.
    const onFocus = () => refresh();
    window.addEventListener('focus', onFocus);
    // …and now and then while it is on screen (request counts, last used, provider checks).
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') refresh();
    }, 30_000);
    return () => {
      unsubscribe();
      window.removeEventListener('focus', onFocus);
      window.clearInterval(timer);
    };
  }, [refresh]);

  useEffect(() => {
    if (!focusHeading.current) return;
    focusHeading.current = false;
    mainRef.current?.querySelector('h1')?.focus();
  }, [screen]);

  const navigate = (next: Screen) => {
    focusHeading.current = true;
    setScreen(next);
  };

  if (!state) {
    return (
      <main className="boot">
        {loadError ? (
          <>
            <ErrorMessage error={loadError} />
            <Button onClick={refresh}>Try again</Button>
          </>
        ) : (
          <Loading label="Starting PM MCP…" />
        )}
      </main>
    );
  }

  if (!state.user) {
    return (
      <SignIn
        initialServerUrl={state.serverUrl}
        onSignedIn={(next) => {
          setState(next);
          setScreen('dashboard');
        }}
      />
    );
  }

  return (
    <div className="app">
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>PM MCP</span>
        </div>
        <p
          className={`status status-${state.level}`}
          role="status"
          aria-live="polite"
          data-testid="status"
        >
          <span className="status-dot" aria-hidden="true" />
          <span className="visually-hidden">{levelText[state.level]}: </span>
          {state.summary}
        </p>
      </header>
      <nav className="tabs" aria-label="Sections">
        {screens.map((entry) => (
          <button
            key={entry.id}
            type="button"
            className="tab"
            aria-current={screen === entry.id ? 'page' : undefined}
            onClick={() => navigate(entry.id)}
          >
            {entry.label}
          </button>
        ))}
      </nav>
      <KeyBanner state={state} onState={setState} />
      <AutoConfigureBanner state={state} onState={setState} />
      <main className="content" ref={mainRef}>
        {screen === 'dashboard' && (
          <Dashboard state={state} onState={setState} onNavigate={navigate} />
        )}
        {screen === 'keys' && <Keys onChanged={refresh} />}
        {screen === 'providers' && <Providers onChanged={refresh} />}
        {screen === 'settings' && <Settings onSignedOut={setState} />}
      </main>
    </div>
  );
}

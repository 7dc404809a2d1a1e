/**
 * A recording stand-in for the desktop core, for the shell's wiring tests (which service does a
 * tray item or an IPC call reach). The core's behaviour has its own tests in tests/desktop.
 */
import type {
  AppState,
  ClientId,
  ClientStatus,
  DesktopMethod,
  Settings,
} from '../../preload/contract.js';
import type { ShellCore } from '../../main/electron/shell.js';

export function makeState(overrides: Partial<AppState> = {}): AppState {
  return {
    serverUrl: 'http://127.0.0.1:8080',
    serverReachable: true,
    user: { id: 'user-1', email: 'ada@example.com', name: 'Ada' },
    key: null,
    keyHealth: 'ok',
    proxy: { running: true, port: 8765, requests: 0, lastRequestAt: null, lastUpstreamError: null },
    clients: [],
    autoConfigured: null,
    providers: [],
    summary: 'Connected',
    level: 'connected',
    ...overrides,
  };
}

export interface CoreStandIn extends ShellCore {
  calls: { method: DesktopMethod | 'start' | 'stop'; args: unknown[] }[];
  emit(state: AppState): void;
  settings: Settings;
  /** Makes the next call of `method` reject with this error. */
  failNext(method: DesktopMethod, error: unknown): void;
}

export function createCoreStandIn(initial: AppState = makeState()): CoreStandIn {
  const listeners = new Set<(state: AppState) => void>();
  const failures = new Map<string, unknown>();
  let state = initial;
  const calls: CoreStandIn['calls'] = [];

  const record = async <T>(method: DesktopMethod, args: unknown[], value: () => T): Promise<T> => {
    calls.push({ method, args });
    await Promise.resolve();
    if (failures.has(method)) {
      const error = failures.get(method);
      failures.delete(method);
      throw error;
    }
    return value();
  };
  const client = (id: ClientId): ClientStatus => ({
    client: id,
    label: id,
    path: `/home/ada/.${id}/mcp.json`,
    state: 'current',
    detail: null,
  });

  const core: CoreStandIn = {
    calls,
    settings: {
      serverUrl: initial.serverUrl,
      proxyPort: 8765,
      startAtLogin: false,
      autoConfigureCursor: true,
    },
    emit(next) {
      state = next;
      for (const listener of listeners) listener(next);
    },
    failNext(method, error) {
      failures.set(method, error);
    },
    start: () => {
      calls.push({ method: 'start', args: [] });
      return Promise.resolve(state);
    },
    stop: () => {
      calls.push({ method: 'stop', args: [] });
      return Promise.resolve();
    },
    onStateChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getState: () => record('getState', [], () => state),
    signIn: (input) => record('signIn', [input], () => state),
    signInWithBrowser: (input) => record('signInWithBrowser', [input], () => state),
    cancelBrowserSignIn: () => record('cancelBrowserSignIn', [], () => undefined),
    signOut: () => record('signOut', [], () => state),
    listKeys: () => record('listKeys', [], () => []),
    revokeKey: (id) => record('revokeKey', [id], () => []),
    setKeyLimits: (id, limits) => record('setKeyLimits', [id, limits], () => []),
    listGrants: () => record('listGrants', [], () => []),
    revokeGrant: (id) => record('revokeGrant', [id], () => []),
    setGrantLimits: (id, limits) => record('setGrantLimits', [id, limits], () => []),
    rotateKey: () =>
      record('rotateKey', [], () => {
        throw new Error('not used');
      }),
    replaceRejectedKey: () => record('replaceRejectedKey', [], () => state),
    configureClient: (id) => record('configureClient', [id], () => client(id)),
    unconfigureClient: (id) =>
      record('unconfigureClient', [id], () => ({ ...client(id), state: 'missing' as const })),
    undoAutoConfigure: () => record('undoAutoConfigure', [], () => state),
    keepAutoConfigure: () => record('keepAutoConfigure', [], () => state),
    listProviders: () => record('listProviders', [], () => []),
    addProvider: (input) =>
      record('addProvider', [input], () => {
        throw new Error('not used');
      }),
    testProvider: (id) => record('testProvider', [id], () => ({ ok: true, message: 'OK' })),
    removeProvider: (id) => record('removeProvider', [id], () => []),
    getSettings: () => record('getSettings', [], () => ({ ...core.settings })),
    updateSettings: (patch) =>
      record('updateSettings', [patch], () => {
        core.settings = { ...core.settings, ...patch };
        return { ...core.settings };
      }),
  };
  return core;
}

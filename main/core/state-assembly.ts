import type {
  AppState,
  AutoConfiguredClient,
  ClientListing,
  ClientStatus,
  KeyHealth,
  KeyInfo,
} from '../../preload/contract.js';
import type { AccountService } from '../account/account-service.js';
import { keyRotationDue } from '../account/key-rotation.js';
import { isDesktopError } from '../errors.js';
import type { SettingsFile } from '../state/settings.js';
import { buildAppState, toKeyInfo, toProviderInfo } from './app-state.js';
import type { ClientConfiguration } from './client-configuration.js';
import { isSignedIn, noteKeychain, type CoreMemory, type CoreSettings } from './core-memory.js';
import type { ProxySupervisor } from './proxy-supervisor.js';

/**
 * The state the tray, the window and `pm-mcp status` show: computed from what is known
 * (`current`), or after asking the server (`refresh`, shared between callers), and pushed to
 * the listeners (`emit`).
 */
export interface StateAssembly {
  current(): Promise<AppState>;
  refresh(): Promise<AppState>;
  /** Tells every listener (the state given, or the current one) and returns it. */
  emit(state?: AppState): Promise<AppState>;
  onChanged(listener: (state: AppState) => void): () => void;
}

export function createStateAssembly(options: {
  memory: CoreMemory;
  settings: CoreSettings;
  account: AccountService;
  clients: ClientConfiguration;
  proxy: ProxySupervisor;
  /** What the app configured by itself, pending keep or undo. */
  autoConfigured: () => Promise<AutoConfiguredClient | null>;
  now: () => Date;
}): StateAssembly {
  const { memory, settings, account, clients, proxy, now, autoConfigured } = options;
  const listeners = new Set<(state: AppState) => void>();
  let refreshing: Promise<AppState> | undefined;
  let queuedRefresh: Promise<AppState> | undefined;

  function machineKeyInfo(s: SettingsFile): KeyInfo | null {
    const known = s.machineKey;
    if (known === null) return null;
    const listed = memory.keys.find((key) => key.id === known.id);
    if (listed) return toKeyInfo(listed, known.id);
    return {
      id: known.id,
      name: known.name,
      keyPrefix: known.prefix,
      scope: known.scope,
      isActive: !memory.keyRejected,
      createdAt: known.createdAt,
      lastUsedAt: null,
      expiresAt: known.expiresAt,
      revokedAt: null,
      isThisMachine: true,
      // Not listed yet: the next listing says; this machine's key is minted without limits.
      allowedTools: null,
      allowedProjects: null,
    };
  }

  function keyHealth(s: SettingsFile, checked: boolean): KeyHealth {
    if (!isSignedIn(s)) return 'unknown';
    if (memory.keyRejected) return 'rejected';
    if (s.machineKey && keyRotationDue(s.machineKey, now())) return 'expiring';
    return checked && memory.serverReachable ? 'ok' : 'unknown';
  }

  async function current(): Promise<AppState> {
    const s = await settings.cached();
    let all: ClientListing[] = [];
    let configured: ClientStatus[] = [];
    const statuses = await noteKeychain(memory, () => clients.statuses(s));
    if (statuses) ({ all, configured } = statuses);
    const signedIn = isSignedIn(s);
    return buildAppState({
      serverUrl: s.serverUrl,
      serverReachable: signedIn ? memory.serverReachable : false,
      user:
        signedIn && s.account
          ? { id: s.account.userId, email: s.account.email, name: s.account.name }
          : null,
      key: signedIn ? machineKeyInfo(s) : null,
      keyHealth: keyHealth(s, memory.lastCheckOk),
      proxy: await proxy.status(s),
      proxyProblem: proxy.wanted && signedIn ? proxy.problem : null,
      keychainProblem: memory.keychainProblem,
      clients: all,
      autoConfigured: signedIn ? await autoConfigured() : null,
      configuredClients: configured,
      providers: signedIn ? memory.providers.map(toProviderInfo) : [],
      signedOutNote: memory.signedOutNote,
    });
  }

  /** Asks the server about the key, the keys and the providers, then computes the state. */
  async function refreshFromServer(): Promise<AppState> {
    const s = await settings.load();
    if (isSignedIn(s)) {
      const [health, check, keyList, providerList] = await Promise.allSettled([
        account.serverReachable(),
        account.checkMachineKey(),
        account.listKeys(),
        account.listProviders(),
      ]);
      memory.serverReachable = health.status === 'fulfilled' ? health.value : false;
      memory.lastCheckOk = false;
      if (check.status === 'fulfilled') {
        memory.keyRejected = check.value !== 'ok';
        memory.lastCheckOk = check.value === 'ok';
      } else if (isDesktopError(check.reason) && check.reason.code === 'keychain_unavailable') {
        memory.keychainProblem = check.reason.message;
      }
      if (keyList.status === 'fulfilled') memory.keys = keyList.value;
      if (providerList.status === 'fulfilled') memory.providers = providerList.value;
    }
    return current();
  }

  /**
   * Refreshes are shared, but never one that started before the caller asked: it may have
   * asked the server before a change the caller knows about (a key revoked elsewhere). Such
   * callers wait for one more refresh after it, shared among them.
   */
  function refresh(): Promise<AppState> {
    if (refreshing) {
      queuedRefresh ??= refreshing
        .catch(() => undefined)
        .then(() => {
          queuedRefresh = undefined;
          return refresh();
        });
      return queuedRefresh;
    }
    const started = refreshFromServer().finally(() => {
      refreshing = undefined;
    });
    refreshing = started;
    return started;
  }

  async function emit(state?: AppState): Promise<AppState> {
    const value = state ?? (await current());
    for (const listener of listeners) {
      try {
        listener(value);
      } catch {
        // A listener's failure is its own; the others still hear about the change.
      }
    }
    return value;
  }

  return {
    current,
    refresh,
    emit,
    onChanged(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

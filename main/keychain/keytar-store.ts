import { DesktopError, isDesktopError } from '../errors.js';
import {
  createHelperKeytar,
  forkKeytarHelper,
  type HelperKeytar,
  type SpawnKeytarHelper,
} from './keytar-process.js';
import { keychainService, type SecretStore } from './secret-store.js';

/** The part of keytar this store uses (keytar is archived; keep the surface small). */
export interface KeytarApi {
  getPassword(service: string, account: string): Promise<string | null>;
  setPassword(service: string, account: string, password: string): Promise<void>;
  deletePassword(service: string, account: string): Promise<boolean>;
}

export interface KeytarSecretStoreOptions {
  /** Defaults to `pm-mcp`. */
  service?: string;
  /** Each keychain call fails after this long (a hung D-Bus must not hang the app). */
  timeoutMs?: number;
  /** Loads keytar; replaced in tests. Defaults to `import('keytar')`. */
  loadKeytar?: () => Promise<KeytarApi>;
  platform?: NodeJS.Platform;
  /**
   * Starts a process that runs keytar on its own (keytar-process.ts), used on Linux once the
   * in-process connection may be stale. Defaults to `child_process.fork` under Node with the
   * real keytar; Electron passes its `utilityProcess` (forking the app's own binary is not Node);
   * `null` keeps every call in this process.
   */
  spawnHelper?: SpawnKeytarHelper | null;
  /** How long an idle helper process is kept. Default 30 s. */
  helperIdleMs?: number;
}

const defaultTimeoutMs = 15_000;

async function importKeytar(): Promise<KeytarApi> {
  const imported = (await import('keytar')) as KeytarApi & { default?: KeytarApi };
  return imported.default ?? imported;
}

/**
 * The OS keychain through keytar (macOS Keychain, Windows Credential Manager, the Secret Service
 * on Linux). Every failure to reach the keychain becomes `keychain_unavailable` with a message
 * saying what is missing; there is no fallback of any kind.
 */
export function createKeytarSecretStore(options: KeytarSecretStoreOptions = {}): SecretStore {
  const service = options.service ?? keychainService;
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const platform = options.platform ?? process.platform;
  const load = options.loadKeytar ?? importKeytar;
  const spawnHelper =
    options.spawnHelper === undefined
      ? defaultHelperSpawner(platform, options.loadKeytar !== undefined)
      : options.spawnHelper;
  let keytar: Promise<KeytarApi> | undefined;
  // libsecret's connection is one per process, shared by every store using the real keytar.
  const inProcess = options.loadKeytar ? { worked: false, stale: false } : realKeytarInProcess;
  let helper: HelperKeytar | undefined;

  const loadOnce = (): Promise<KeytarApi> => {
    keytar ??= load().catch((error: unknown) => {
      keytar = undefined;
      throw new DesktopError(
        'keychain_unavailable',
        `No OS keychain is available: the keychain library (keytar) could not be loaded (${errorText(error)})` +
          (platform === 'linux' ? '; it needs libsecret-1-0 installed' : ''),
        { cause: error },
      );
    });
    return keytar;
  };

  const unavailable = (error: unknown): DesktopError =>
    isDesktopError(error)
      ? error
      : new DesktopError('keychain_unavailable', explainKeychainFailure(error, platform), {
          cause: error,
        });

  /**
   * In a helper process: a helper whose call fails is dropped, so the next call reaches the
   * Secret Service afresh. One that had answered before may hold the connection of a service
   * that restarted since: its failed call is tried once more in a new helper at once.
   */
  const inHelper = async <T>(
    api: HelperKeytar,
    operation: string,
    run: (api: KeytarApi) => Promise<T>,
  ): Promise<T> => {
    const mayBeStale = api.hasAnswered();
    try {
      return await withTimeout(run(api), timeoutMs, operation);
    } catch (error) {
      api.restart();
      if (mayBeStale && mayMeanStaleConnection(error)) return inHelper(api, operation, run);
      throw unavailable(error);
    }
  };

  const call = async <T>(operation: string, run: (api: KeytarApi) => Promise<T>): Promise<T> => {
    if (spawnHelper && inProcess.stale) {
      helper ??= createHelperKeytar(spawnHelper, { idleMs: options.helperIdleMs ?? 30_000 });
      return inHelper(helper, operation, run);
    }
    const api = await withTimeout(loadOnce(), timeoutMs, operation);
    try {
      const value = await withTimeout(run(api), timeoutMs, operation);
      inProcess.worked = true;
      return value;
    } catch (error) {
      // Before any success libsecret caches nothing: the error is the keychain's real state.
      // A timeout may leave this process's connection hung: later calls go to a helper.
      const stale = inProcess.worked && mayMeanStaleConnection(error);
      if (!spawnHelper || !(stale || isTimeout(error))) throw unavailable(error);
      inProcess.stale = true;
      if (!stale) throw unavailable(error);
      return call(operation, run);
    }
  };

  return {
    get: (name) => call('read', async (api) => (await api.getPassword(service, name)) ?? undefined),
    set: (name, value) => call('write', (api) => api.setPassword(service, name, value)),
    delete: (name) =>
      call('delete', async (api) => {
        await api.deletePassword(service, name);
      }),
  };
}

/**
 * The real keytar's connection in this process: whether it ever got through (libsecret then holds
 * a connection it never drops) and whether it may be stale since (every call then goes to a
 * helper process).
 */
const realKeytarInProcess = { worked: false, stale: false };

/** Isolation is for the real keytar on Linux under Node (Electron passes its own spawner). */
function defaultHelperSpawner(
  platform: NodeJS.Platform,
  customKeytar: boolean,
): SpawnKeytarHelper | null {
  if (platform !== 'linux' || customKeytar || 'electron' in process.versions) return null;
  return forkKeytarHelper;
}

class KeychainTimeoutError extends DesktopError {}

function isTimeout(error: unknown): boolean {
  return error instanceof KeychainTimeoutError;
}

/**
 * Whether a failure may come from a connection to a Secret Service that is gone (and so be
 * cured by a fresh process). Not a timeout (it took its time already) and not a locked keychain
 * or a dismissed unlock prompt (trying again would prompt the user again).
 */
function mayMeanStaleConnection(error: unknown): boolean {
  return !isTimeout(error) && !/locked|prompt|dismissed|cancel/i.test(errorText(error));
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, operation: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new KeychainTimeoutError(
          'keychain_unavailable',
          `The OS keychain did not answer a ${operation} within ${Math.round(timeoutMs / 1000)} s ` +
            '(is the Secret Service or D-Bus hung?); nothing was stored',
        ),
      );
    }, timeoutMs);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns libsecret/D-Bus/OS errors into a sentence that says what is missing. */
export function explainKeychainFailure(error: unknown, platform: NodeJS.Platform): string {
  const text = errorText(error);
  if (platform === 'linux') {
    if (
      /autolaunch D-Bus|Could not connect|DBUS_SESSION_BUS_ADDRESS|Connection refused/i.test(text)
    ) {
      return (
        'No OS keychain is available: there is no D-Bus session to reach a Secret Service ' +
        `(${text}). Start a Secret Service such as gnome-keyring inside a D-Bus session, ` +
        "e.g. dbus-run-session -- sh -c 'gnome-keyring-daemon --unlock --components=secrets; pm-mcp …'"
      );
    }
    if (
      /org\.freedesktop\.secrets|ServiceUnknown|not provided by any \.service files/i.test(text)
    ) {
      return (
        'No OS keychain is available: no Secret Service is running on the D-Bus session ' +
        `(${text}). Start gnome-keyring (or another Secret Service such as KeePassXC)`
      );
    }
    if (/locked|prompt|dismissed|cancel/i.test(text)) {
      return (
        `The OS keychain is locked (${text}). Unlock its default collection ` +
        '(log in to the desktop session, or run gnome-keyring-daemon --unlock) and try again'
      );
    }
    if (/no such (object|collection)|collection/i.test(text)) {
      return (
        `The OS keychain has no default collection to store secrets in (${text}). ` +
        'Create one (e.g. open Seahorse / "Passwords and Keys") or restart gnome-keyring'
      );
    }
  }
  return `The OS keychain could not be used (${text}); nothing was stored`;
}
